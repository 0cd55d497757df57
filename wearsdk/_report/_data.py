"""What the report shows, taken from the log: gaps, phases, stress levels, summaries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wearsdk._errors import ConfigError
from wearsdk._sessionlog import FloatArray, SessionLog, StreamData
from wearsdk.affect import StressLevelConfig, StressLevelTracker

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
