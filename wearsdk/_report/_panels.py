"""The report's panels: one function per panel, each drawing on its axes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wearsdk._report._data import (
    _GAP_COLOUR,
    _GAP_PANELS,
    _LEVEL_COLOURS,
    _PHASE_COLOURS,
    ReportResult,
    _broken,
    _feature_values,
    _level_spans,
    _mark_end,
    _rate_hz,
    _snippet_centre,
    _stress_levels,
    derived_dwell_s,
)
from wearsdk._sessionlog import FloatArray, SessionLog, StreamData


@dataclass(slots=True)
class _Frame:
    """What the panels draw from: the log, its windows and annotations, the time axis."""

    log: SessionLog
    features: list[dict[str, Any]]
    feature_t: FloatArray
    estimates: list[dict[str, Any]]
    others: list[dict[str, Any]]
    x_end: float

    def m(self, t: FloatArray | float) -> Any:
        """Session seconds -> minutes from the start of the log."""
        return (np.asarray(t, dtype=np.float64) - self.log.t_start) / 60.0


def _ylabel(ax: Any, text: str) -> None:
    ax.set_ylabel(text, fontsize=9)
    ax.yaxis.set_label_coords(-0.045, 0.5)


def frame_axes(
    axes: dict[str, Any],
    f: _Frame,
    phases: list[tuple[float, float, str]],
    missing: list[tuple[float, float, str, str]],
) -> None:
    """Grid, phases shaded, gaps and disconnections marked on every panel; phase labels on
    top of the first; the time axis labelled on the last."""  # noqa: D205, D209
    m = f.m
    for name, ax in axes.items():
        ax.grid(True, axis="both", color="#dddddd", linewidth=0.6)
        ax.set_xlim(0.0, max(f.x_end, 1e-3))
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


def heart(
    ax: Any,
    f: _Frame,
    rr: StreamData | None,
    hr_events: list[dict[str, Any]],
    pulse_t: FloatArray,
    pulse: FloatArray,
) -> None:
    """Heart rate: beat to beat (60/RR), the device's own, the pulse rate of BVP windows."""
    m = f.m
    if rr is not None:
        rr_s = rr.values[:, 0]
        ok = np.isfinite(rr_s) & (rr_s > 0.25) & (rr_s < 2.5)
        ax.plot(
            *_broken(m(rr.t[ok]), 60.0 / rr_s[ok], 5.0 / 60.0),
            color="#c0392b",
            lw=0.9,
            label="beat-to-beat (60/RR)",
        )
    hr_stream = f.log.stream("hr")
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
    _ylabel(ax, "heart rate\n(bpm)")
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)


def eda(ax: Any, phasic_ax: Any, f: _Frame, stream: StreamData, eda_out: Any) -> None:
    """Skin conductance with its tonic level; below it, the phasic part with its SCRs."""
    m = f.m
    ax.plot(
        *_broken(m(eda_out.t), eda_out.clean, 2.0 / 60.0),
        color="#6baed6",
        lw=0.8,
        label="skin conductance",
    )
    ax.plot(m(eda_out.t), eda_out.tonic, color="#08519c", lw=1.8, label="tonic level (SCL)")
    _ylabel(ax, "EDA\n(µS)")
    _mark_end(ax, stream, f.log, m, "EDA")
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    ax = phasic_ax
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
    _ylabel(ax, "phasic\n(µS)")
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)


def features(ax: Any, f: _Frame) -> list[Any]:
    """Key window features (RMSSD, pulse RMSSD; SCR rate on a right-hand scale).

    Returns:
        The panel's twin axes (the right-hand scale), if any.
    """
    tf = f.m(f.feature_t)
    twins = []
    rmssd = _feature_values(f.features, "rmssd_s", 1000.0)
    handles = []
    if np.isfinite(rmssd).any():
        handles += ax.plot(tf, rmssd, color="#756bb1", lw=1.6, label="RMSSD (ms, left)")
    pulse_rmssd = _feature_values(f.features, "ppg_rmssd_ms")
    if np.isfinite(pulse_rmssd).any():
        handles += ax.plot(
            tf, pulse_rmssd, color="#756bb1", lw=1.2, ls="--", label="pulse RMSSD (ms, left)"
        )
    scr_rate = _feature_values(f.features, "scr_rate_per_min")
    if np.isfinite(scr_rate).any():
        right = ax.twinx()
        twins.append(right)
        handles += right.plot(tf, scr_rate, color="#e6550d", lw=1.4, label="SCR / min (right)")
        right.set_ylim(bottom=0)
        right.spines["top"].set_visible(False)
        right.tick_params(labelsize=8)
    _ylabel(ax, "window\nfeatures")
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, ncol=2)
    return twins


def arousal(ax: Any, f: _Frame, result: ReportResult) -> None:
    """Arousal with its confidence band over the stress-level bands (``result`` gets them)."""
    from matplotlib.patches import Patch

    m, log, estimates = f.m, f.log, f.estimates
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
    _ylabel(ax, "arousal\n(0-1)")
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


def valence(ax: Any, f: _Frame) -> None:
    """Valence with a band of ± (1 - its confidence)."""
    m, estimates = f.m, f.estimates
    tv = np.array([float(e["t"]) for e in estimates if e.get("valence") is not None])
    v = np.array([float(e["valence"]) for e in estimates if e.get("valence") is not None])
    vc = np.array(
        [float(e.get("valence_confidence", 0)) for e in estimates if e.get("valence") is not None]
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
    _ylabel(ax, "valence\n(-1..1)")
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)


def analyzers(ax: Any, f: _Frame) -> None:
    """One row of bars per analyzer, each annotation labelled (label or strongest emotion)."""
    m, others = f.m, f.others
    ids = sorted({str(a["analyzer_id"]) for a in others})
    for row, aid in enumerate(ids):
        for ann in (x for x in others if x["analyzer_id"] == aid):
            start, end = m(float(ann["start"])), m(float(ann["end"]))
            ax.barh(
                row,
                max(end - start, f.x_end / 400),
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
    _ylabel(ax, "analyzers")


def events(ax: Any) -> None:
    """The panel of a log with nothing to draw."""
    ax.text(
        0.5,
        0.5,
        "no heart, EDA or estimate data in this log",
        ha="center",
        transform=ax.transAxes,
    )


def missing_legend(top: Any, missing: list[tuple[float, float, str, str]]) -> None:
    """The legend of gaps and device events, added to the first panel's."""
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


def ecg_snippet(ax: Any, heart_ax: Any | None, f: _Frame, ecg: StreamData) -> None:
    """8 s of raw ECG around the most aroused confident window, marked in the heart panel."""
    m = f.m
    rate = _rate_hz(ecg)
    centre = _snippet_centre(f.estimates, ecg)
    sel = (ecg.t >= centre - 4.0) & (ecg.t < centre + 4.0)
    ax.plot(ecg.t[sel] - ecg.t[sel][0], ecg.values[sel, 0] / 1000.0, color="#222222", lw=0.8)
    ax.set_xlabel(
        f"seconds (raw ECG, {rate:.0f} Hz, from minute {float(m(centre - 4)):.1f}; "
        "marked ▼ in the heart-rate panel)"
    )
    _ylabel(ax, "ECG\n(mV)")
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.grid(True, color="#eeeeee", lw=0.6)
    if heart_ax is not None:
        heart_ax.annotate(
            "▼ ECG",
            xy=(float(m(centre)), 1.0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize=8,
            color="#222222",
        )
