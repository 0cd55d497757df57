"""The report's figure and page: which panels, in which order, and the files."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from wearsdk._files import open_private
from wearsdk._report import _panels as panel
from wearsdk._report._data import (
    ReportResult,
    _feature_values,
    _missing_intervals,
    _phase_summary,
    _phases,
    _pyplot,
    _rate_hz,
)
from wearsdk._report._html import _html_page
from wearsdk._sessionlog import SessionLog
from wearsdk.signals import eda_offline


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

    rr = log.stream("rr")
    ecg = log.stream("ecg")
    eda = log.stream("eda")
    hr_events = log.of("heart_rate")
    features = log.of("features")
    estimates = log.estimates()
    phases = _phases(log)
    missing = _missing_intervals(log)
    eda_out = None
    if eda is not None and eda.t.size > 10:
        eda_out = eda_offline(eda.values[:, 0], sampling_rate_hz=_rate_hz(eda), t=eda.t)
    f = panel._Frame(
        log=log,
        features=features,
        feature_t=np.array([float(w["t"]) for w in features], dtype=np.float64),
        estimates=estimates,
        others=[a for a in log.of("annotation") if a.get("modality") != "marker"],
        x_end=0.0,
    )
    f.x_end = float(f.m(log.t_end))

    # which panels, with relative heights
    rows: list[tuple[str, float]] = []
    pulse = _feature_values(features, "ppg_rate_bpm")
    has_pulse = np.isfinite(pulse)
    pulse_t, pulse = f.feature_t[has_pulse], pulse[has_pulse]
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
    if f.others:
        rows.append(("analyzers", 0.4 + 0.25 * len({a["analyzer_id"] for a in f.others})))
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
    panel.frame_axes(axes, f, phases, missing)
    result.gaps = [(s, e) for s, e, _, _ in missing]

    if "heart" in axes:
        panel.heart(axes["heart"], f, rr, hr_events, pulse_t, pulse)
    if eda_out is not None and eda is not None:
        panel.eda(axes["eda"], axes["phasic"], f, eda, eda_out)
    if "features" in axes:
        twins["features"] = panel.features(axes["features"], f)
    if "arousal" in axes:
        panel.arousal(axes["arousal"], f, result)
    if "valence" in axes:
        panel.valence(axes["valence"], f)
    if "analyzers" in axes:
        panel.analyzers(axes["analyzers"], f)
    if "events" in axes:
        panel.events(axes["events"])
    if missing:
        panel.missing_legend(next(iter(axes.values())), missing)
    if snippet and ecg is not None:
        panel.ecg_snippet(fig.add_subplot(grid[len(rows) + 1]), axes.get("heart"), f, ecg)

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
    with open_private(png, "wb", overwrite=overwrite) as out:
        out.write(buffer.getvalue())
    result.panels = [name for name, _ in rows] + (["ecg-snippet"] if snippet else [])
    result.summary = _phase_summary(log, phases)
    if html_path is not None:
        result.html = Path(html_path)
        with open_private(result.html, overwrite=overwrite) as page:
            page.write(_html_page(log, result, buffer.getvalue(), title))
    return result
