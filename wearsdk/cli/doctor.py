"""``wearsdk doctor``: what this machine can do, and what to fix."""

from __future__ import annotations

import argparse
import json
import signal
from types import FrameType
from typing import Any

from wearsdk.cli._numbers import positive_float

DOCTOR_FAILED = 3
"""Exit code of ``wearsdk doctor`` when a check failed."""


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
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
        "--timeout",
        type=positive_float,
        default=3.0,
        metavar="S",
        help="broker timeout (default 3)",
    )
    doctor.add_argument("--jsonl", action="store_true", help="one JSON object per check")
    doctor.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk doctor``.

    Raises:
        KeyboardInterrupt: Ctrl-C while the checks ran, also when a library the check loads
            caught it (then a check would have failed for it, and the command exited 3).
    """
    interrupted = False

    def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        from wearsdk._doctor import format_checks, run_checks

        checks = run_checks(args.mqtt, timeout_s=args.timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
    if args.jsonl:
        for c in checks:
            print(json.dumps(c.to_dict(), separators=(",", ":")))
    else:
        print(format_checks(checks))
    return DOCTOR_FAILED if any(c.status == "fail" for c in checks) else 0
