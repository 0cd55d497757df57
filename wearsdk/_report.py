"""The session report: one figure (PNG) and a self-contained HTML page from an event log.

Panels share one time axis (minutes from the start of the log), top to bottom: heart rate
(from RR intervals, and the device's own heart rate), skin conductance (cleaned signal and
tonic level), the phasic component with its skin conductance responses, key window
features, arousal with a confidence band over stress-level bands, valence when estimated,
and analyzer annotations. Phase markers label the top and shade lightly across every panel;
gaps, disconnections and skin-contact loss are hatched across every panel. When the log
holds raw ECG, an 8-second snippet (from the most aroused confident window) sits below on its
own time axis.

EDA tonic/phasic and SCRs are recomputed from the logged raw EDA with
:func:`wearsdk.signals.eda_offline` (the same maths the live pipeline runs). Stress levels
come from the estimates; when no estimate carries one, they are derived with
:class:`wearsdk.affect.StressLevelTracker` (default thresholds, a minimum dwell fitted to the
session's length: :func:`derived_dwell_s`) and labelled so.

Needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from wearsdk._errors import ConfigError
from wearsdk._files import open_private
from wearsdk._sessionlog import FloatArray, SessionLog, StreamData
from wearsdk.affect import StressLevelConfig, StressLevelTracker
from wearsdk.signals import eda_offline

__all__ = ["ReportResult", "derived_dwell_s", "render_report"]

_LEVEL_COLOURS = {"low": "#2ca25f", "medium": "#f0a30a", "high": "#d7301f"}
_PHASE_COLOURS = ("#e8eef7", "#fbeee6", "#eaf5ea", "#f3eaf7", "#f7f3e3")
_GAP_COLOUR = "#7f7f7f"


@dataclass(slots=True)
class ReportResult:
    """What a report drew, for the command line and tests.

    Attributes:
        png: the figure.
        html: the HTML page, when written.
        panels: titles of the panels drawn, top to bottom.
        gaps: intervals shaded as missing data, ``(start, end)`` in session seconds.
        stress_levels_derived: ``True`` when stress levels were derived from arousal here.
        stress_levels: the stress-level spans drawn, ``(start, end, level)``.
        summary: key numbers per phase (phase label to name to value).
        series: the labelled series drawn in each panel (panel title to legend labels).
    """

    png: Path
    html: Path | None
    panels: list[str] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    stress_levels_derived: bool = False
    stress_levels: list[tuple[float, float, str]] = field(default_factory=list)
    summary: dict[str, dict[str, float | None]] = field(default_factory=dict)
    series: dict[str, list[str]] = field(default_factory=dict)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("session reports need matplotlib: pip install 'wearsdk[plot]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_GAP_PANELS = {"rr": ("heart",), "ecg": ("heart",), "hr": ("heart",), "eda": ("eda", "phasic")}
"""Panels a gap of a stream is shaded in (disconnections and contact loss shade every panel)."""


def _missing_intervals(log: SessionLog) -> list[tuple[float, float, str, str]]:
    """Gaps, disconnections and contact loss as ``(start, end, kind, stream)``.

    ``kind`` is ``gap`` (``stream`` says which), ``disconnected`` or ``no skin contact``
    (``stream`` is ``""``: the whole device).
    """
    out: list[tuple[float, float, str, str]] = []
    for g in log.of("gap"):
        out.append((float(g["start"]), float(g["end"]), "gap", str(g.get("stream", ""))))
    down: dict[str, float] = {}
    for s in log.of("device_status"):
        src, state, t = str(s["source"]), str(s["state"]), float(s["t"])
        if state in ("disconnected", "reconnecting", "failed") and src not in down:
            down[src] = t
        elif state == "connected" and src in down:
            out.append((down.pop(src), t, "disconnected", ""))
    for start in down.values():
        out.append((start, log.t_end, "disconnected", ""))
    lost: float | None = None
    last_t = log.t_start
    for h in log.of("heart_rate"):
        t = float(h["t"])
        if h.get("contact") is False and lost is None:
            lost = t
        elif h.get("contact") is not False and lost is not None:
            out.append((lost, t, "no skin contact", ""))
            lost = None
        last_t = t
    if lost is not None:
        out.append((lost, last_t, "no skin contact", ""))
    return sorted(x for x in out if x[1] > x[0])


def derived_dwell_s(duration_s: float) -> float:
    """Minimum dwell of derived stress levels: a twelfth of the session, 5 to 60 s (the live
    default of 60 s would hide every change of a short session)."""  # noqa: D205, D209
    return float(round(min(60.0, max(5.0, duration_s / 12.0))))


def _stress_levels(
    estimates: list[dict[str, Any]], dwell_s: float
) -> tuple[list[tuple[float, str]], bool]:
    """``(t, level)`` changes, and whether they were derived here."""
    given = [(float(e["t"]), e["stress_level"]) for e in estimates if e.get("stress_level")]
    if given:
        return given, False
    tracker = StressLevelTracker(StressLevelConfig(min_dwell_s=dwell_s))
    out = []
    for e in estimates:
        level = tracker.update(float(e["t"]), float(e["arousal"]), float(e["confidence"]))
        if level is not None:
            out.append((float(e["t"]), str(level)))
    return out, True


def _level_spans(levels: list[tuple[float, str]], end: float) -> list[tuple[float, float, str]]:
    spans: list[tuple[float, float, str]] = []
    if not levels:  # a short session: no level yet
        return spans
    for (t, level), nxt in zip(levels, [*levels[1:], (end, "")], strict=True):
        if spans and spans[-1][2] == level:
            spans[-1] = (spans[-1][0], nxt[0], level)
        else:
            spans.append((t, nxt[0], level))
    return spans


def _phases(log: SessionLog) -> list[tuple[float, float, str]]:
    return [
        (float(a["start"]), float(a["end"]), str(a.get("label") or a.get("analyzer_id")))
        for a in log.of("annotation")
        if a.get("modality") == "marker"
    ]


def _broken(t: FloatArray, y: FloatArray, max_gap_s: float) -> tuple[FloatArray, FloatArray]:
    """Insert NaN where consecutive samples are more than ``max_gap_s`` apart, so a line
    stops at a gap instead of bridging it."""  # noqa: D205, D209
    if t.size < 2:
        return t, y
    cut = np.flatnonzero(np.diff(t) > max_gap_s) + 1
    return np.insert(t, cut, np.nan), np.insert(np.asarray(y, dtype=np.float64), cut, np.nan)


def _mark_end(ax: Any, stream: StreamData, log: SessionLog, m: Any, label: str) -> None:
    """Say so where a stream stops well before the session does (no data is not a gap)."""
    if log.t_end - stream.t[-1] > max(30.0, 0.05 * log.duration_s):
        ax.axvline(float(m(stream.t[-1])), color=_GAP_COLOUR, lw=0.8, ls=":")
        ax.text(
            float(m(stream.t[-1])),
            0.5,
            f"  {label} stream ends",
            transform=ax.get_xaxis_transform(),
            fontsize=8,
            color="#555555",
            va="center",
        )


def _feature_values(features: list[dict[str, Any]], key: str, scale: float = 1.0) -> FloatArray:
    """One window feature over the windows, times ``scale``; NaN where it is undefined."""
    return np.array(
        [
            float(v) * scale if isinstance(v := f["values"].get(key), int | float) else np.nan
            for f in features
        ],
        dtype=np.float64,
    )


def _rate_hz(s: StreamData) -> float:
    if s.nominal_rate_hz:
        return float(s.nominal_rate_hz)
    dt = np.diff(s.t)
    return float(1.0 / np.median(dt)) if dt.size else 1.0


def _phase_summary(
    log: SessionLog, phases: list[tuple[float, float, str]]
) -> dict[str, dict[str, float | None]]:
    """Mean window features and arousal of the windows lying inside each phase.

    Markers without duration (a button press, an E4 tag) split the session instead: the
    spans run from one marker to the next ("start-tag 1", "tag 1-tag 2", ..., "tag 7-end").
    """
    spans = phases or [(log.t_start, log.t_end, "session")]
    if phases and all(end - start < 1.0 for start, end, _ in phases):
        cuts = sorted((start, label) for start, _, label in phases)
        bounds = [(log.t_start, "start"), *cuts, (log.t_end, "end")]
        spans = [
            (a, b, f"{la}-{lb}") for (a, la), (b, lb) in itertools.pairwise(bounds) if b - a >= 1.0
        ]
    out: dict[str, dict[str, float | None]] = {}
    keys = {
        "HR (bpm)": ("hr_mean_bpm", 1.0),
        "RMSSD (ms)": ("rmssd_s", 1000.0),
        "SCL (µS)": ("scl_mean_usiemens", 1.0),
        "SCR / min": ("scr_rate_per_min", 1.0),
    }
    if any(isinstance(f["values"].get("ppg_rate_bpm"), int | float) for f in log.of("features")):
        keys["pulse (bpm)"] = ("ppg_rate_bpm", 1.0)
    for start, end, label in spans:
        inside = [
            f
            for f in log.of("features")
            if float(f["window_start"]) >= start - 1e-6 and float(f["window_end"]) <= end + 1e-6
        ]
        row: dict[str, float | None] = {}
        for name, (key, scale) in keys.items():
            vals = [f["values"].get(key) for f in inside]
            nums = [float(v) * scale for v in vals if isinstance(v, int | float)]
            row[name] = float(np.mean(nums)) if nums else None
        est = [
            e
            for e in log.estimates()
            if float(e["window_start"]) >= start - 1e-6 and float(e["window_end"]) <= end + 1e-6
        ]
        row["arousal"] = float(np.mean([e["arousal"] for e in est])) if est else None
        row["confidence"] = float(np.mean([e["confidence"] for e in est])) if est else None
        out[label] = row
    return out


def _snippet_centre(estimates: list[dict[str, Any]], ecg: StreamData) -> float:
    """Centre of the ECG snippet: the end of the most aroused confident window, else the
    middle of the recording, kept 4 s inside the ECG."""  # noqa: D205, D209
    confident = [e for e in estimates if float(e["confidence"]) >= 0.5]
    centre = (
        float(max(confident, key=lambda e: float(e["arousal"]))["t"])
        if confident
        else float(ecg.t[ecg.t.size // 2])
    )
    return float(np.clip(centre, ecg.t[0] + 4.0, ecg.t[-1] - 4.0))


def _fmt(v: float | None, digits: int = 1) -> str:
    return "&ndash;" if v is None else f"{v:.{digits}f}"


def _html_page(log: SessionLog, result: ReportResult, png: bytes, title: str | None) -> str:
    """One HTML file with the figure embedded, the per-phase numbers and the log's facts."""
    esc = html.escape
    image = base64.b64encode(png).decode("ascii")
    names = list(next(iter(result.summary.values()), {}).keys())
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = "".join(
        f"<tr><th>{esc(phase)}</th>"
        + "".join(
            f"<td>{_fmt(v, 2 if k in ('arousal', 'confidence') else 1)}</td>"
            for k, v in row.items()
        )
        + "</tr>"
        for phase, row in result.summary.items()
    )
    counts = (
        ", ".join(f"{len(v)} {k}" for k, v in sorted(log.events.items()))
        + f", {len(log.streams)} sample stream(s)"
    )
    gaps = (
        "".join(
            f"<li>{(s - log.t_start) / 60:.2f}&ndash;{(e - log.t_start) / 60:.2f} min "
            f"({e - s:.1f} s)</li>"
            for s, e in result.gaps
        )
        or "<li>none</li>"
    )
    models = sorted({str(e.get("model")) for e in log.estimates() if e.get("model")})
    provisional = any(e.get("provisional") for e in log.estimates())
    note = (
        "<p class=warn>The arousal estimates come from a provisional model that is not "
        "validated on real recordings: do not base decisions about a person on them.</p>"
        if provisional
        else ""
    )
    derived = (
        "<p>No estimate carried a stress level: the levels shown were derived from arousal "
        "with the default thresholds (medium 0.5, high 0.75, hysteresis 0.1, confidence at "
        f"least 0.3) and a {derived_dwell_s(log.duration_s):g} s minimum dwell.</p>"
        if result.stress_levels_derived
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(title or "wearsdk session report")}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1450px; color: #222; }}
img {{ width: 100%; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }}
.warn {{ color: #a50f15; }}
</style></head><body>
<h1>{esc(title or "wearsdk session report")}</h1>
<p>{log.duration_s / 60:.1f} minutes; sources {esc(", ".join(log.sources) or "none")};
model {esc(", ".join(models) or "none")}.</p>
{note}
<img alt="session report: aligned panels of heart rate, EDA, features, arousal and annotations"
 src="data:image/png;base64,{image}">
<h2>Per phase (windows lying inside each phase)</h2>
<table><tr><th>phase</th>{head}</tr>{body}</table>
{derived}
<h2>Missing data</h2><ul>{gaps}</ul>
<h2>Log</h2><p>{esc(counts)}; {log.skipped} unreadable line(s) skipped.
Read from {esc(str(log.path or "memory"))}.</p>
</body></html>
"""


def render_report(
    log: SessionLog,
    png: Path | str,
    *,
    html_path: Path | str | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> ReportResult:
    """Draw the session report.

    The files hold personal data: they are created readable by their owner only (``0600``).

    Args:
        log: the session's events (:func:`wearsdk._sessionlog.load_session_log`).
        png: where to write the figure.
        html_path: where to write the self-contained HTML page (figure embedded); ``None``
            writes none.
        title: the figure's title (default: "wearsdk session" and its start time).
        overwrite: replace existing files (else an existing file is an error).

    Returns:
        What was drawn.

    Raises:
        ConfigError: matplotlib is not installed, or a file exists (without ``overwrite``).
    """
    plt = _pyplot()
    png = Path(png)
    t0 = log.t_start

    def m(t: FloatArray | float) -> Any:  # session seconds -> minutes from the start
        return (np.asarray(t, dtype=np.float64) - t0) / 60.0

    rr = log.stream("rr")
    ecg = log.stream("ecg")
    eda = log.stream("eda")
    hr_events = log.of("heart_rate")
    features = log.of("features")
    estimates = log.estimates()
    others = [a for a in log.of("annotation") if a.get("modality") != "marker"]
    phases = _phases(log)
    missing = _missing_intervals(log)
    eda_out = None
    if eda is not None and eda.t.size > 10:
        eda_out = eda_offline(eda.values[:, 0], sampling_rate_hz=_rate_hz(eda), t=eda.t)

    # which panels, with relative heights
    rows: list[tuple[str, float]] = []
    feature_t = np.array([float(f["t"]) for f in features], dtype=np.float64)
    pulse = _feature_values(features, "ppg_rate_bpm")
    has_pulse = np.isfinite(pulse)
    pulse_t, pulse = feature_t[has_pulse], pulse[has_pulse]
    if rr is not None or hr_events or log.stream("hr") is not None or pulse.size:
        rows.append(("heart", 1.3))
    if eda_out is not None:
        rows += [("eda", 1.1), ("phasic", 0.8)]
    if features:
        rows.append(("features", 0.9))
    if estimates:
        rows.append(("arousal", 1.3))
        if any(e.get("valence") is not None for e in estimates):
            rows.append(("valence", 0.9))
    if others:
        rows.append(("analyzers", 0.4 + 0.25 * len({a["analyzer_id"] for a in others})))
    if not rows:
        rows.append(("events", 0.8))
    snippet = ecg is not None and ecg.t.size > 130
    heights = [h for _, h in rows] + ([0.25, 1.0] if snippet else [])
    fig = plt.figure(figsize=(13, 1.2 + 1.55 * sum(heights)), dpi=110)
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.12)
    axes: dict[str, Any] = {}
    twins: dict[str, list[Any]] = {}  # panel -> its twin axes (a right-hand scale)
    first = None
    for i, (name, _) in enumerate(rows):
        ax = fig.add_subplot(grid[i], sharex=first)
        first = first or ax
        axes[name] = ax
    result = ReportResult(png=png, html=None)
    x_end = float(m(log.t_end))

    for name, ax in axes.items():
        ax.grid(True, axis="both", color="#dddddd", linewidth=0.6)
        ax.set_xlim(0.0, max(x_end, 1e-3))
        for k, (start, end, _) in enumerate(phases):
            ax.axvspan(m(start), m(end), color=_PHASE_COLOURS[k % 5], zorder=0, lw=0)
        for start, end, kind, stream in missing:
            if kind != "gap":
                ax.axvspan(
                    m(start), m(end), facecolor="none", edgecolor=_GAP_COLOUR, hatch="///", lw=0
                )
            elif name in _GAP_PANELS.get(stream, ()):
                ax.axvspan(m(start), m(end), color=_GAP_COLOUR, alpha=0.3, lw=0, zorder=1)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        ax.tick_params(labelbottom=False)
    list(axes.values())[-1].tick_params(labelbottom=True)
    list(axes.values())[-1].set_xlabel("minutes from the start of the session")
    result.gaps = [(s, e) for s, e, _, _ in missing]

    # phase labels on top of the first panel
    top = next(iter(axes.values()))
    for start, end, label in phases:
        top.annotate(
            label,
            xy=((m(start) + m(end)) / 2, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color="#333333",
        )

    def ylabel(ax: Any, text: str) -> None:
        ax.set_ylabel(text, fontsize=9)
        ax.yaxis.set_label_coords(-0.045, 0.5)

    if "heart" in axes:
        ax = axes["heart"]
        if rr is not None:
            rr_s = rr.values[:, 0]
            ok = np.isfinite(rr_s) & (rr_s > 0.25) & (rr_s < 2.5)
            ax.plot(
                *_broken(m(rr.t[ok]), 60.0 / rr_s[ok], 5.0 / 60.0),
                color="#c0392b",
                lw=0.9,
                label="beat-to-beat (60/RR)",
            )
        hr_stream = log.stream("hr")
        if not hr_events and hr_stream is not None:
            ax.plot(
                *_broken(m(hr_stream.t), hr_stream.values[:, 0], 5.0 / 60.0),
                color="#333333",
                lw=1.2,
                alpha=0.8,
                label="device HR",
            )
        if hr_events:
            ax.plot(
                *_broken(
                    m(np.array([float(h["t"]) for h in hr_events])),
                    np.array([float(h["hr_bpm"]) for h in hr_events]),
                    5.0 / 60.0,
                ),
                color="#333333",
                lw=1.4,
                alpha=0.8,
                label="device HR",
            )
        if pulse.size:  # the pulse wave's beats (BVP/PPG), one value per window
            ax.plot(
                *_broken(m(pulse_t), pulse, 5.0 / 60.0),
                color="#2b8cbe",
                lw=1.4,
                label="pulse rate (BVP, window)",
            )
        ylabel(ax, "heart rate\n(bpm)")
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    if eda_out is not None and eda is not None:
        ax = axes["eda"]
        ax.plot(
            *_broken(m(eda_out.t), eda_out.clean, 2.0 / 60.0),
            color="#6baed6",
            lw=0.8,
            label="skin conductance",
        )
        ax.plot(m(eda_out.t), eda_out.tonic, color="#08519c", lw=1.8, label="tonic level (SCL)")
        ylabel(ax, "EDA\n(µS)")
        _mark_end(ax, eda, log, m, "EDA")
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
        ax = axes["phasic"]
        ax.plot(m(eda_out.t), eda_out.phasic, color="#3182bd", lw=0.8, label="phasic")
        scrs = eda_out.scrs
        if len(scrs):
            peak_y = np.interp(scrs.peak_s, eda_out.t, eda_out.phasic)
            ax.scatter(
                m(scrs.peak_s),
                peak_y,
                marker="v",
                s=18 + 120 * np.clip(scrs.amplitude_usiemens, 0, 1),
                color="#e6550d",
                zorder=3,
                label=f"SCR peaks ({len(scrs)})",
            )
        ylabel(ax, "phasic\n(µS)")
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    if "features" in axes:
        ax = axes["features"]
        tf = m(feature_t)

        rmssd = _feature_values(features, "rmssd_s", 1000.0)
        handles = []
        if np.isfinite(rmssd).any():
            handles += ax.plot(tf, rmssd, color="#756bb1", lw=1.6, label="RMSSD (ms, left)")
        pulse_rmssd = _feature_values(features, "ppg_rmssd_ms")
        if np.isfinite(pulse_rmssd).any():
            handles += ax.plot(
                tf, pulse_rmssd, color="#756bb1", lw=1.2, ls="--", label="pulse RMSSD (ms, left)"
            )
        scr_rate = _feature_values(features, "scr_rate_per_min")
        if np.isfinite(scr_rate).any():
            right = ax.twinx()
            twins["features"] = [right]
            handles += right.plot(tf, scr_rate, color="#e6550d", lw=1.4, label="SCR / min (right)")
            right.set_ylim(bottom=0)
            right.spines["top"].set_visible(False)
            right.tick_params(labelsize=8)
        ylabel(ax, "window\nfeatures")
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, ncol=2)
    if "arousal" in axes:
        ax = axes["arousal"]
        te = np.array([float(e["t"]) for e in estimates])
        a = np.array([float(e["arousal"]) for e in estimates])
        c = np.array([float(e["confidence"]) for e in estimates])
        levels, derived = _stress_levels(estimates, derived_dwell_s(log.duration_s))
        result.stress_levels_derived = derived
        result.stress_levels = _level_spans(levels, float(te[-1]))
        for start, end, level in result.stress_levels:
            ax.fill_between(
                [m(start), m(end)],
                -0.12,
                -0.02,
                color=_LEVEL_COLOURS[level],
                lw=0,
                transform=ax.transData,
            )
        half = (1.0 - c) / 2.0
        ax.fill_between(
            m(te),
            np.clip(a - half, 0, 1),
            np.clip(a + half, 0, 1),
            color="#fd8d3c",
            alpha=0.25,
            lw=0,
            label="± (1 - confidence) / 2",
        )
        ax.plot(m(te), a, color="#d94801", lw=1.8, label="arousal")
        ax.plot(m(te), c, color="#555555", lw=0.9, ls="--", label="confidence")
        ax.set_ylim(-0.14, 1.05)
        ax.set_yticks([0, 0.5, 1.0])
        from matplotlib.patches import Patch

        level_handles = [
            Patch(color=col, label=f"stress level {lvl}") for lvl, col in _LEVEL_COLOURS.items()
        ]
        lines, _ = ax.get_legend_handles_labels()
        ax.legend(
            handles=[*lines, *level_handles],
            loc="upper left",
            fontsize=8,
            frameon=False,
            ncol=6,
        )
        ylabel(ax, "arousal\n(0-1)")
        if derived:
            ax.text(
                0.005,
                0.12,
                "stress levels derived from arousal "
                f"({derived_dwell_s(log.duration_s):g} s minimum dwell)",
                transform=ax.transAxes,
                ha="left",
                va="bottom",
                fontsize=8,
                color="#555555",
            )
        provisional = any(e.get("provisional") for e in estimates)
        if provisional:
            ax.text(
                0.995,
                0.12,
                f"provisional model ({estimates[-1].get('model', '')}): not validated",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
                color="#a50f15",
            )
    if "valence" in axes:
        ax = axes["valence"]
        tv = np.array([float(e["t"]) for e in estimates if e.get("valence") is not None])
        v = np.array([float(e["valence"]) for e in estimates if e.get("valence") is not None])
        vc = np.array(
            [
                float(e.get("valence_confidence", 0))
                for e in estimates
                if e.get("valence") is not None
            ]
        )
        ax.fill_between(
            m(tv),
            np.clip(v - (1 - vc), -1, 1),
            np.clip(v + (1 - vc), -1, 1),
            color="#74c476",
            alpha=0.25,
            lw=0,
            label="± (1 - confidence)",
        )
        ax.plot(m(tv), v, color="#238b45", lw=1.6, label="valence")
        ax.axhline(0, color="#999999", lw=0.6)
        ax.set_ylim(-1.05, 1.05)
        ylabel(ax, "valence\n(-1..1)")
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    if "analyzers" in axes:
        ax = axes["analyzers"]
        ids = sorted({str(a["analyzer_id"]) for a in others})
        for row, aid in enumerate(ids):
            for ann in (x for x in others if x["analyzer_id"] == aid):
                start, end = m(float(ann["start"])), m(float(ann["end"]))
                ax.barh(
                    row,
                    max(end - start, x_end / 400),
                    left=start,
                    height=0.6,
                    color="#9e9ac8",
                    edgecolor="#54278f",
                    lw=0.5,
                )
                emotions: dict[str, float] = ann.get("emotions") or {}
                text = ann.get("label") or (
                    max(emotions, key=lambda k: emotions[k]) if emotions else ""
                )
                if text:
                    ax.text(start, row, f" {text}", va="center", fontsize=7)
        # analyzer ids written above their bars: tick labels would collide with the panel label
        for row, aid in enumerate(ids):
            trans = ax.get_yaxis_transform()
            ax.text(0.003, row + 0.32, aid, transform=trans, fontsize=7, va="bottom")
        ax.set_yticks([])
        ax.set_ylim(-0.5, len(ids) - 0.2)
        ylabel(ax, "analyzers")
    if "events" in axes:
        ax = axes["events"]
        ax.text(
            0.5,
            0.5,
            "no heart, EDA or estimate data in this log",
            ha="center",
            transform=ax.transAxes,
        )

    if missing:
        from matplotlib.patches import Patch

        device_kinds = sorted({k for _, _, k, _ in missing if k != "gap"})
        extra = []
        if any(k == "gap" for _, _, k, _ in missing):
            extra.append(Patch(color=_GAP_COLOUR, alpha=0.3, label="stream gap"))
        if device_kinds:
            extra.append(
                Patch(
                    facecolor="none",
                    edgecolor=_GAP_COLOUR,
                    hatch="///",
                    label=" / ".join(device_kinds),
                )
            )
        top.legend(
            handles=[*top.get_legend_handles_labels()[0], *extra],
            loc="upper left",
            fontsize=8,
            frameon=False,
            ncol=3,
        )

    if snippet and ecg is not None:
        ax = fig.add_subplot(grid[len(rows) + 1])
        rate = _rate_hz(ecg)
        centre = _snippet_centre(estimates, ecg)
        sel = (ecg.t >= centre - 4.0) & (ecg.t < centre + 4.0)
        ax.plot(ecg.t[sel] - ecg.t[sel][0], ecg.values[sel, 0] / 1000.0, color="#222222", lw=0.8)
        ax.set_xlabel(
            f"seconds (raw ECG, {rate:.0f} Hz, from minute {float(m(centre - 4)):.1f}; "
            "marked ▼ in the heart-rate panel)"
        )
        ylabel(ax, "ECG\n(mV)")
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        ax.grid(True, color="#eeeeee", lw=0.6)
        if "heart" in axes:
            axes["heart"].annotate(
                "▼ ECG",
                xy=(float(m(centre)), 1.0),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#222222",
            )

    start_text = ""
    if log.unix_offset_s is not None:
        when = datetime.fromtimestamp(log.t_start + log.unix_offset_s, tz=UTC)
        start_text = when.strftime(" · %Y-%m-%d %H:%M UTC")
    sources = ", ".join(log.sources) or "no sources"
    fig.suptitle(
        (title or "wearsdk session") + start_text + f" · {log.duration_s / 60:.1f} min · {sources}",
        x=0.06,
        ha="left",
        fontsize=12,
        fontweight="bold",
    )
    fig.subplots_adjust(
        left=0.08, right=0.96, top=1 - 0.85 / fig.get_figheight(), bottom=0.5 / fig.get_figheight()
    )
    result.series = {
        name: [
            str(h.get_label())
            for a in (ax, *twins.get(name, ()))
            for h in (*a.get_lines(), *a.collections)
            if not str(h.get_label()).startswith("_")
        ]
        for name, ax in axes.items()
    }
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    with open_private(png, "wb", overwrite=overwrite) as f:
        f.write(buffer.getvalue())
    result.panels = [name for name, _ in rows] + (["ecg-snippet"] if snippet else [])
    result.summary = _phase_summary(log, phases)
    if html_path is not None:
        result.html = Path(html_path)
        with open_private(result.html, overwrite=overwrite) as page:
            page.write(_html_page(log, result, buffer.getvalue(), title))
    return result
