"""``wearsdk demo``: virtual devices through the whole pipeline."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from wearsdk._live import LiveView
from wearsdk.cli._args import (
    add_live_argument,
    add_mqtt_arguments,
    add_overwrite_argument,
    add_report_arguments,
    export_sinks,
    report_plan,
)
from wearsdk.cli._numbers import non_negative_int, positive_float
from wearsdk.cli._output import EventLog, Summary, check_outputs, finish_report, notice
from wearsdk.cli._undelivered import report_sinks


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
    demo = sub.add_parser(
        "demo",
        help="run virtual devices through the whole pipeline (no hardware needed)",
        description=(
            "Start a virtual heart-rate strap on an in-process virtual Bluetooth LE link, connect "
            "to it over real GATT, and stream heart rate, RR intervals, features and arousal "
            "estimates while the simulated wearer goes through calm, stress and recovery."
        ),
    )
    demo.add_argument(
        "--duration",
        type=positive_float,
        default=180.0,
        metavar="S",
        help="session seconds to simulate, >= 15 (default 180)",
    )
    demo.add_argument(
        "--speed",
        type=positive_float,
        default=1.0,
        metavar="X",
        help="run X times faster than real time (default 1)",
    )
    demo.add_argument("--seed", type=non_negative_int, default=0, help="simulator seed (default 0)")
    demo.add_argument(
        "--eda",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the virtual EDA band too (default: when --duration is at least 90 s)",
    )
    demo.add_argument(
        "--strap",
        choices=("heart-rate", "polar-h10"),
        default="heart-rate",
        help="virtual strap: a standard Heart Rate Service strap, or a Polar H10 with ECG/ACC",
    )
    demo.add_argument(
        "--out", type=Path, metavar="DIR", help="also write every event to DIR/events.jsonl"
    )
    demo.add_argument(
        "--jsonl", action="store_true", help="print every bus event as one JSON object per line"
    )
    add_report_arguments(demo, default_on=True)
    add_overwrite_argument(demo)
    add_live_argument(demo)
    add_mqtt_arguments(demo, consent=False)
    demo.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk demo``."""
    # imported here: the demo needs the [bumble] extra, the rest of the CLI does not
    from wearsdk._clock import SessionClock
    from wearsdk._demo import DemoConfig
    from wearsdk._jsonl import message_to_dict
    from wearsdk._run import run_session
    from wearsdk.bus import Message

    config = DemoConfig(
        duration_s=args.duration,
        speed=args.speed,
        seed=args.seed,
        strap=args.strap,
        eda_band=args.eda,
    ).session_config(sinks=export_sinks(args))
    log_dir, report_png = report_plan(args, kind="demo", default_on=True)
    check_outputs(log_dir, report_png, overwrite=args.overwrite)
    event_log = EventLog(log_dir, overwrite=args.overwrite)
    view = LiveView(
        Summary(sys.stdout), title="wearsdk demo", total_s=args.duration, live=args.live
    )

    def emit(message: Message, clock: SessionClock) -> None:
        line = message_to_dict(message, clock)
        if args.jsonl or event_log.path is not None:
            text = json.dumps(line, separators=(",", ":"), allow_nan=False)
            if args.jsonl:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()  # a reader sees each event as it happens
            event_log.write(text)
        if not args.jsonl:
            view(line)

    interrupted = False
    try:
        with view if not args.jsonl else contextlib.nullcontext():
            result = asyncio.run(run_session(config, emit, notice=notice))
            view.state.dropped = result.dropped
    except KeyboardInterrupt:  # the session stopped cleanly: its report is still due
        interrupted = True
    finally:
        event_log.close()
    sink_failed = False
    if not interrupted:
        sink_failed = report_sinks(result.sinks, result.mqtt)
    if not args.jsonl and not interrupted:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result.messages.items()))
        print(f"demo finished: {counts}; dropped {result.dropped}")
    finish_report(
        event_log,
        report_png,
        out=sys.stderr if args.jsonl else sys.stdout,
        overwrite=args.overwrite,
    )
    sys.stdout.flush()
    return 130 if interrupted else (1 if sink_failed else 0)
