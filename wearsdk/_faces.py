"""Commands and hooks of the command line that live outside ``cli.py``: ``doctor``,
``report``, the session event log and the end-of-session report of ``demo`` and ``replay``.
"""  # noqa: D205

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from wearsdk._config import sessions_home
from wearsdk._errors import ConfigError

__all__ = [
    "EventLog",
    "add_face_commands",
    "add_live_argument",
    "add_report_arguments",
    "finish_report",
    "report_plan",
]

DOCTOR_FAILED = 3
"""Exit code of ``wearsdk doctor`` when a check failed."""


def add_face_commands(sub: Any) -> None:
    """Add ``doctor`` and ``report`` to the ``wearsdk`` subcommands."""
    doctor = sub.add_parser(
        "doctor",
        help="check this machine: Bluetooth, bumble, LSL, MQTT broker, plots, data folder",
        description=(
            "Check what this machine can do and say what to fix. Exit code 0: nothing failed "
            "(warnings name optional parts that are missing); 3: a check failed."
        ),
    )
    doctor.add_argument(
        "--mqtt",
        metavar="HOST:PORT|URL",
        help="also check that this MQTT broker accepts a connection",
    )
    doctor.add_argument(
        "--timeout", type=float, default=3.0, metavar="S", help="broker timeout (default 3)"
    )
    doctor.add_argument("--jsonl", action="store_true", help="one JSON object per check")
    doctor.set_defaults(func=cmd_doctor)

    report = sub.add_parser(
        "report",
        help="draw a session report (PNG + HTML) from an event log",
        description=(
            "Draw the report of a session from its event log (the JSON lines of --jsonl, or "
            "DIR/events.jsonl written by --out DIR): aligned panels of heart rate, EDA "
            "tonic/phasic with SCRs, features, arousal with confidence and stress levels, "
            "annotations, and shaded gaps. Needs the plot extra (matplotlib)."
        ),
    )
    report.add_argument("log", type=Path, metavar="FILE.jsonl|DIR", help="the event log")
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PNG",
        help="figure path (default: next to the log, report.png); the HTML goes next to it",
    )
    report.add_argument("--title", default=None, help="figure title")
    report.set_defaults(func=cmd_report)

    run = sub.add_parser(
        "run",
        help="run a session described by a TOML file (several devices, sinks, options)",
        description=(
            "Run the session a TOML file describes: [session] (transport bleak | bumble:<spec> "
            "| virtual, duration_s, report), [pipeline] (window_s, hop_s, baseline_s), "
            "[[devices]] (driver, name or address, options) and [[sinks]] (kind = jsonl with a "
            "path, kind = mqtt with url, export, consent). See docs/quickstart.md."
        ),
    )
    run.add_argument("--config", type=Path, required=True, metavar="FILE.toml")
    run.add_argument("--jsonl", action="store_true", help="print every bus event as JSON")
    add_live_argument(run)
    run.set_defaults(func=cmd_run)


def cmd_doctor(args: argparse.Namespace) -> int:
    """``wearsdk doctor``."""
    from wearsdk._doctor import format_checks, run_checks

    checks = run_checks(args.mqtt, timeout_s=args.timeout)
    if args.jsonl:
        for c in checks:
            print(json.dumps(c.to_dict()))
    else:
        print(format_checks(checks))
    return DOCTOR_FAILED if any(c.status == "fail" for c in checks) else 0


def cmd_report(args: argparse.Namespace) -> int:
    """``wearsdk report``."""
    log_path: Path = args.log
    base = log_path if log_path.is_dir() else log_path.parent
    png = args.output or base / "report.png"
    result = write_report(log_path, png, title=args.title)
    print(f"report: {result.png} and {result.html}")
    _print_summary(result.summary, sys.stdout)
    return 0


def _print_summary(summary: dict[str, dict[str, float | None]], out: TextIO) -> None:
    """The report's numbers per phase, one line each."""
    for phase, row in summary.items():
        values = "  ".join(f"{k} {_num(v)}" for k, v in row.items())
        print(f"  {phase:<10} {values}", file=out)


def cmd_run(args: argparse.Namespace) -> int:
    """``wearsdk run --config FILE``."""
    import asyncio

    from wearsdk._config import JsonlSink, load_session_config
    from wearsdk._jsonl import message_to_dict
    from wearsdk._live import LiveView
    from wearsdk._run import run_session
    from wearsdk.cli import _Summary

    config = load_session_config(args.config)
    view = LiveView(
        _Summary(sys.stdout, verbose_hr=False),
        title=f"wearsdk {config.session.name}",
        total_s=config.session.duration_s,
        live=args.live,
    )

    def emit(message: Any, clock: Any) -> None:
        line = message_to_dict(message, clock)
        if args.jsonl:
            print(json.dumps(line, separators=(",", ":"), allow_nan=False))
        else:
            view(line)

    with view if not args.jsonl else _nothing():
        result = asyncio.run(run_session(config, emit))
        view.state.dropped = result.dropped
    out = sys.stderr if args.jsonl else sys.stdout
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result.messages.items()))
    print(f"{config.session.name} finished: {counts}; dropped {result.dropped}", file=out)
    log = next((s.path for s in config.sinks if isinstance(s, JsonlSink)), None)
    if config.session.report is not None and log is not None:
        try:
            drawn = write_report(log, config.session.report, title=config.session.name)
        except ConfigError as exc:
            print(f"no report: {exc}", file=sys.stderr)
        else:
            print(f"report: {drawn.png} (and {drawn.html.name})", file=out)
    return 0


def _nothing() -> Any:
    import contextlib

    return contextlib.nullcontext()


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"


def write_report(
    log_path: Path, png: Path, *, title: str | None = None, source: Path | None = None
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
    return render_report(log, png, html_path=png.with_suffix(".html"), title=title)


def add_report_arguments(parser: argparse.ArgumentParser, *, default_on: bool) -> None:
    """``--out DIR``-style log and ``--report PNG`` / ``--no-report`` for a session command."""
    when = (
        "default: DIR/report.png with --out DIR, else a new folder under $WEARSDK_HOME/sessions "
        "(human view only)"
        if default_on
        else "default: DIR/report.png with --out DIR, else none"
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PNG",
        default=None,
        help=f"draw the session report here at the end, HTML next to it ({when})",
    )
    parser.add_argument(
        "--no-report", dest="report", action="store_const", const=False, help="no report"
    )


def add_live_argument(parser: argparse.ArgumentParser) -> None:
    """``--live/--no-live``: the Rich live view (default: when stdout is a terminal)."""
    parser.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live terminal view (default: on a terminal; plain lines otherwise)",
    )


def report_plan(
    args: argparse.Namespace, *, kind: str, default_on: bool
) -> tuple[Path | None, Path | None]:
    """Where the event log and the report go: ``(log_dir, png)``; either may be ``None``.

    A report needs a log: when one is due and ``--out`` is not given, the log goes to a new
    folder ``$WEARSDK_HOME/sessions/<kind>-<UTC time>``.
    """
    out: Path | None = args.out
    report: Path | bool | None = args.report
    if report is False:
        return out, None
    if report is None:
        if out is not None:
            return out, out / "report.png"
        if not default_on or getattr(args, "jsonl", False):
            return None, None
        stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
        out = sessions_home() / f"{kind}-{stamp}"
        return out, out / "report.png"
    assert isinstance(report, Path)
    if out is None:
        out = report.parent
    return out, report


class EventLog:
    """The session's event log: ``DIR/events.jsonl``, one JSON line per bus message.

    Args:
        folder: the folder (created); ``None`` writes nothing.
    """

    def __init__(self, folder: Path | None) -> None:
        self.path = None if folder is None else folder / "events.jsonl"
        self._file: TextIO | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")

    def write(self, text: str) -> None:
        """Append one JSON line (without its newline)."""
        if self._file is not None:
            self._file.write(text + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def finish_report(
    log: EventLog,
    png: Path | None,
    *,
    out: TextIO = sys.stdout,
    keep_log: bool = True,
    source: Path | None = None,
) -> None:
    """Draw the report of a finished session, or say why not (never fails the session).

    Args:
        log: the session's event log.
        png: where to draw the report (``None``: no report).
        out: where to say where it went.
        keep_log: whether the log stays after the report (else it is not mentioned).
        source: what the report names as its origin instead of the log (a recording).
    """
    if png is None or log.path is None:
        return
    try:
        result = write_report(log.path, png, source=source)
    except ConfigError as exc:  # matplotlib missing: the session itself went fine
        print(f"no report: {exc}", file=sys.stderr)
        return
    events = f"; events: {log.path}" if keep_log else ""
    print(f"report: {result.png} (and {result.html.name}){events}", file=out)
    _print_summary(result.summary, out)
