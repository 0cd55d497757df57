"""The report's self-contained HTML page (the figure embedded)."""

from __future__ import annotations

import base64
import html

from wearsdk._report._data import ReportResult, _fmt, derived_dwell_s
from wearsdk._sessionlog import SessionLog


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
