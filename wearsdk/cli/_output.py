"""What the session commands show and keep: the summary lines, the event log, the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from wearsdk._errors import WearError
from wearsdk._files import check_output, open_private
from wearsdk._live import face_summary, window_heart_rate


class Summary:
    """The human-readable live summary of ``wearsdk demo``."""

    def __init__(self, out: TextIO, *, verbose_hr: bool = False) -> None:
        self.out = out
        self.verbose_hr = verbose_hr
        self.phase = "?"
        self.hr: float | None = None
        self.hr_events = False  # a strap reports heart rate itself; else the window's value
        self.t0: float | None = None
        self.revisions = 0
        """Revised estimates seen (not printed: a line per window, in time order)."""

    def __call__(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if self.t0 is None and isinstance(line.get("t"), float):
            self.t0 = float(line["t"])
        if kind == "annotation" and line.get("modality") == "marker":
            self.phase = str(line.get("label"))
            print(f"--- phase: {self.phase}", file=self.out, flush=True)
        elif kind == "annotation" and line.get("modality") == "face":
            print(f"face {face_summary(line)}", file=self.out, flush=True)
        elif kind == "device_status":
            extra = f" battery {line['battery_pct']}%" if line.get("battery_pct") else ""
            if line.get("detail") and line["state"] not in ("connecting", "reconnecting"):
                extra += f": {line['detail']}"  # why an attempt failed: logged once instead
            print(f"[{line['source']}] {line['state']}{extra}", file=self.out, flush=True)
        elif kind == "clock_status":
            offset = line.get("offset_s")
            jitter = line.get("jitter_s")
            bound = line.get("error_bound_s")
            print(
                f"[{line['source']}] clock {line['clock']}: drift {line['drift_ppm']:+.1f} ppm, "
                f"jitter {1000 * jitter if jitter is not None else float('nan'):.1f} ms, "
                f"offset {offset if offset is not None else float('nan'):.4f} s, "
                f"resets {line['resets']}, {'converged' if line['converged'] else 'learning'}"
                + (f", error bound {1000 * bound:.1f} ms" if bound is not None else ""),
                file=self.out,
                flush=True,
            )
        elif kind == "features" and not self.hr_events:
            self.hr = window_heart_rate(line.get("values") or {})
        elif kind == "heart_rate":
            self.hr_events = True
            hr = line.get("hr_bpm")
            self.hr = float(hr) if isinstance(hr, int | float) else None
            if self.verbose_hr:
                rr = " ".join(f"{1000 * r:.0f}" for r in line.get("rr_s") or ())
                contact = {True: "yes", False: "NO", None: "n/a"}[line.get("contact")]
                print(
                    f"HR {self.hr:5.1f} bpm  RR [{rr}] ms  contact {contact}",
                    file=self.out,
                    flush=True,
                )
        elif kind == "gap":
            print(
                f"[{line['source']}] gap in {line['stream']}: "
                f"{float(line['end']) - float(line['start']):.2f} s ({line['reason']})",
                file=self.out,
                flush=True,
            )
        elif kind == "estimate" and line.get("topic") != "affect/physio":  # fused ones only
            if line.get("revised"):
                self._revised()
                return
            arousal = float(line["arousal"])
            conf = float(line["confidence"])
            bar = "#" * round(arousal * 20)
            hr = f"{self.hr:5.1f}" if self.hr is not None else "  -  "
            flags = [f for f in line.get("flags") or () if f != "stress_level_held"]
            level = line.get("stress_level") or "-"
            if "stress_level_held" in (line.get("flags") or ()):
                level = f"{level} (held)"  # too uncertain to move it: the level from before
            valence = line.get("valence")
            val = f"valence {float(valence):+4.2f} " if valence is not None else ""
            print(
                f"t={float(line['t']) - (self.t0 or 0.0):7.1f}s  {self.phase:<9} HR {hr} bpm  "
                f"arousal {arousal:4.2f} [{bar:<20}] conf {conf:4.2f} {val}stress {level:<6} "
                f"{','.join(flags)}",
                file=self.out,
                flush=True,
            )

    def _revised(self) -> None:
        """A late camera/voice annotation revised an earlier window: said once, not reprinted
        (a reprint's ``t`` would step back in time)."""  # noqa: D205, D209
        self.revisions += 1
        if self.revisions == 1:
            print(
                "(a late camera/voice annotation revised an earlier window: revised estimates "
                "are in --jsonl, the event log and the report, not in these lines)",
                file=self.out,
                flush=True,
            )


class EventLog:
    """The session's event log: ``DIR/events.jsonl``, one JSON line per bus message.

    Created readable by its owner only (``0600``): it holds personal data.

    Args:
        folder: the folder (created); ``None`` writes nothing.
        overwrite: replace an existing log (else it is an error).
    """

    def __init__(self, folder: Path | None, *, overwrite: bool = False) -> None:
        self.path = None if folder is None else folder / "events.jsonl"
        self._file: TextIO | None = None
        if self.path is not None:
            self._file = open_private(self.path, overwrite=overwrite)

    def write(self, text: str) -> None:
        """Append one JSON line (without its newline)."""
        if self._file is not None:
            self._file.write(text + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def write_report(
    log_path: Path,
    png: Path,
    *,
    title: str | None = None,
    source: Path | None = None,
    overwrite: bool = False,
) -> Any:
    """Read ``log_path``, draw ``png`` and the HTML next to it; return the ReportResult.

    ``source`` names what the report says it was drawn from, when not the log itself (a
    recording whose temporary event log is deleted afterwards).
    """
    from wearsdk._report import render_report
    from wearsdk._sessionlog import load_session_log

    log = load_session_log(log_path)
    if source is not None:
        log.path = source
    return render_report(
        log, png, html_path=png.with_suffix(".html"), title=title, overwrite=overwrite
    )


def finish_report(
    log: EventLog,
    png: Path | None,
    *,
    out: TextIO = sys.stdout,
    keep_log: bool = True,
    source: Path | None = None,
    overwrite: bool = False,
) -> None:
    """Draw the report of a finished session, or say why not (never fails the session).

    Args:
        log: the session's event log.
        png: where to draw the report (``None``: no report).
        out: where to say where it went.
        keep_log: whether the log stays after the report (else it is not mentioned).
        source: what the report names as its origin instead of the log (a recording).
        overwrite: replace existing report files.
    """
    if png is None or log.path is None:
        return
    try:
        result = write_report(log.path, png, source=source, overwrite=overwrite)
    except (WearError, OSError) as exc:  # matplotlib missing: the session itself went fine
        print(f"wearsdk: no report: {exc}", file=sys.stderr)
        return
    events = f"; events: {log.path}" if keep_log else ""
    print(f"report: {result.png} (and {result.html.name}){events}", file=out)
    print_summary(result.summary, out)


def check_outputs(log_dir: Path | None, png: Path | None, *, overwrite: bool) -> None:
    """Check the event log and report files of a session before it starts.

    Raises:
        ConfigError: one exists (without ``overwrite``) or cannot be created.
    """
    if log_dir is not None:
        check_output(log_dir / "events.jsonl", overwrite=overwrite, what="the event log")
    if png is not None:
        check_output(png, overwrite=overwrite, what="the report")
        check_output(png.with_suffix(".html"), overwrite=overwrite, what="the report")


def print_summary(summary: dict[str, dict[str, float | None]], out: TextIO) -> None:
    """The report's numbers per phase, one line each."""
    for phase, row in summary.items():
        values = "  ".join(f"{k} {_num(v)}" for k, v in row.items())
        print(f"  {phase:<10} {values}", file=out)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"


def notice(text: str) -> None:
    """Tell the person at the terminal, on stderr, as ``wearsdk: <text>``."""
    print(f"wearsdk: {text}", file=sys.stderr, flush=True)
