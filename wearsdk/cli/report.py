"""``wearsdk report``: the report of a session from its event log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wearsdk.cli._args import add_overwrite_argument
from wearsdk.cli._output import check_outputs, print_summary, write_report


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
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
    add_overwrite_argument(report)
    report.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk report``."""
    log_path: Path = args.log
    base = log_path if log_path.is_dir() else log_path.parent
    png = args.output or base / "report.png"
    check_outputs(None, png, overwrite=args.overwrite)
    result = write_report(log_path, png, title=args.title, overwrite=args.overwrite)
    print(f"report: {result.png} and {result.html}")
    print_summary(result.summary, sys.stdout)
    return 0
