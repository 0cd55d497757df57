"""The ``wearsdk`` command line.

Exit codes: 0 success; 1 a wearsdk error (device not found, protocol, configuration);
2 usage error (argparse); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from wearsdk._errors import WearError
from wearsdk._version import __version__

__all__ = ["main"]

logger = logging.getLogger("wearsdk.cli")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="wearsdk",
        description="Wearable physiology for affective computing: stream, process, estimate.",
    )
    parser.add_argument("--version", action="version", version=f"wearsdk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

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
        type=_positive_float,
        default=180.0,
        metavar="S",
        help="session seconds to simulate, >= 15 (default 180)",
    )
    demo.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="run X times faster than real time (default 1)",
    )
    demo.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    demo.add_argument(
        "--out", type=Path, metavar="DIR", help="also write every event to DIR/events.jsonl"
    )
    demo.add_argument(
        "--jsonl", action="store_true", help="print every bus event as one JSON object per line"
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


class _Summary:
    """The human-readable live summary of ``wearsdk demo``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.phase = "?"
        self.hr: float | None = None
        self.t0: float | None = None

    def __call__(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if self.t0 is None and isinstance(line.get("t"), float):
            self.t0 = float(line["t"])
        if kind == "annotation" and line.get("modality") == "marker":
            self.phase = str(line.get("label"))
            print(f"--- phase: {self.phase}", file=self.out, flush=True)
        elif kind == "device_status":
            extra = f" battery {line['battery_pct']}%" if line.get("battery_pct") else ""
            print(f"[{line['source']}] {line['state']}{extra}", file=self.out, flush=True)
        elif kind == "heart_rate":
            hr = line.get("hr_bpm")
            self.hr = float(hr) if isinstance(hr, int | float) else None
        elif kind == "estimate":
            arousal = float(line["arousal"])
            conf = float(line["confidence"])
            bar = "#" * round(arousal * 20)
            hr = f"{self.hr:5.1f}" if self.hr is not None else "  -  "
            flags = ",".join(line.get("flags") or ())
            print(
                f"t={float(line['t']) - (self.t0 or 0.0):7.1f}s  {self.phase:<9} HR {hr} bpm  "
                f"arousal {arousal:4.2f} [{bar:<20}] conf {conf:4.2f} {flags}",
                file=self.out,
                flush=True,
            )


def _cmd_demo(args: argparse.Namespace) -> int:
    # imported here: the demo needs the [bumble] extra, the rest of the CLI does not
    from wearsdk._clock import SessionClock
    from wearsdk._demo import DemoConfig, run_demo
    from wearsdk._jsonl import message_to_dict
    from wearsdk.bus import Message

    config = DemoConfig(duration_s=args.duration, speed=args.speed, seed=args.seed)
    out_file: TextIO | None = None
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        out_file = (args.out / "events.jsonl").open("w", encoding="utf-8")
    summary = _Summary(sys.stdout)

    def emit(message: Message, clock: SessionClock) -> None:
        line = message_to_dict(message, clock)
        if args.jsonl or out_file is not None:
            text = json.dumps(line, separators=(",", ":"), allow_nan=False)
            if args.jsonl:
                sys.stdout.write(text + "\n")
            if out_file is not None:
                out_file.write(text + "\n")
        if not args.jsonl:
            summary(line)

    try:
        result = asyncio.run(run_demo(config, emit))
    finally:
        if out_file is not None:
            out_file.close()
    if not args.jsonl:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result.messages.items()))
        print(f"demo finished: {counts}; dropped {result.dropped}")
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wearsdk`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except WearError as exc:
        print(f"wearsdk: error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
