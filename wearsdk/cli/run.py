"""``wearsdk run --config FILE``: the session a TOML file describes."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from wearsdk._errors import WearError
from wearsdk.cli._args import add_live_argument, add_overwrite_argument
from wearsdk.cli._face_args import without_native_face_notices
from wearsdk.cli._output import Summary, notice, write_report
from wearsdk.cli._undelivered import report_sinks


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
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
    add_overwrite_argument(run)
    add_live_argument(run)
    run.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk run --config FILE``."""
    import asyncio

    from wearsdk._config import JsonlSink
    from wearsdk._config_files import load_session_config
    from wearsdk._jsonl import message_to_dict
    from wearsdk._live import LiveView
    from wearsdk._run import run_session

    config = load_session_config(args.config)
    if args.overwrite:
        section = config.session.model_copy(update={"overwrite": True})
        config = config.model_copy(update={"session": section})
    view = LiveView(
        Summary(sys.stdout, verbose_hr=False),
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

    interrupted = False
    sink_failed = False
    out = sys.stderr if args.jsonl else sys.stdout
    face = any(getattr(a, "kind", None) == "face" for a in config.analyzers)
    with (
        view if not args.jsonl else contextlib.nullcontext(),
        without_native_face_notices(face and not args.verbose),
    ):
        try:
            result = asyncio.run(run_session(config, emit, notice=notice))
        except KeyboardInterrupt:  # the session stopped cleanly: its report is still due
            interrupted = True
        else:
            view.state.dropped = result.dropped
    if not interrupted:
        sink_failed = report_sinks(result.sinks, result.mqtt)
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result.messages.items()))
        print(f"{config.session.name} finished: {counts}; dropped {result.dropped}", file=out)
    log = next((s.path for s in config.sinks if isinstance(s, JsonlSink)), None)
    if config.session.report is not None and log is not None:
        try:
            drawn = write_report(
                log,
                config.session.report,
                title=config.session.name,
                overwrite=config.session.overwrite,
            )
        except (WearError, OSError) as exc:
            print(f"wearsdk: no report: {exc}", file=sys.stderr)
        else:
            print(f"report: {drawn.png} (and {drawn.html.name})", file=out)
    return 130 if interrupted else (1 if sink_failed else 0)
