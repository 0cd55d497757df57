"""``wearsdk stream`` and ``wearsdk record``: live devices and LSL inputs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from wearsdk._errors import ConfigError
from wearsdk._live import LiveView
from wearsdk.cli._args import (
    TRANSPORT_HELP,
    add_live_argument,
    add_mqtt_arguments,
    add_option_argument,
    add_overwrite_argument,
    check_consent,
    check_options,
    entry_points,
    export_sinks,
    load,
    looks_like_address,
)
from wearsdk.cli._face_args import (
    _add_face_arguments,
    _face_analyzers,
    without_native_face_notices,
)
from wearsdk.cli._numbers import non_negative_float, positive_float
from wearsdk.cli._output import EventLog, Summary, check_outputs, finish_report, notice
from wearsdk.cli._undelivered import report_sinks


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
    stream = sub.add_parser(
        "stream",
        help="connect to a device and stream its data",
        description="Connect to a device and print its events (and estimates) until stopped.",
    )
    stream.add_argument(
        "--device", metavar="ADDRESS|NAME", help="which device (required unless --lsl-in)"
    )
    stream.add_argument(
        "--driver",
        default="heart-rate",
        help=f"driver name (installed: {', '.join(sorted(entry_points('wearsdk.drivers')))})",
    )
    stream.add_argument("--transport", default="bleak", metavar="T", help=TRANSPORT_HELP)
    add_option_argument(
        stream,
        "a driver option (repeatable; VALUE as in TOML, else a string), e.g. "
        "--driver gatt-profile --option profile=board.toml, --option acc_rate_hz=50",
    )
    stream.add_argument(
        "--duration",
        type=positive_float,
        metavar="S",
        help="stop after S seconds (default: never)",
    )
    stream.add_argument(
        "--connect-timeout",
        type=non_negative_float,
        default=30.0,
        metavar="S",
        help="end with an error (exit 1) naming the reason when the device or an --lsl-in "
        "stream is not connected within S seconds (default 30; 0: keep trying until stopped)",
    )
    stream.add_argument("--jsonl", action="store_true", help="print every bus event as JSON")
    _add_face_arguments(stream)
    add_mqtt_arguments(stream, consent=True)
    add_live_argument(stream)
    stream.set_defaults(func=cmd)
    _add_lsl_arguments(sub, stream)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk stream``."""
    from wearsdk._config import session_config
    from wearsdk._jsonl import message_to_dict
    from wearsdk._run import run_session

    face = _face_analyzers(args)
    if args.device is None and not args.lsl_in and not face:
        raise ConfigError("give --device ADDRESS|NAME, --lsl-in QUERY, --camera or --video")
    devices = []
    if args.device is not None:
        key = "address" if looks_like_address(args.device) else "name"
        driver_cls = load("wearsdk.drivers", args.driver)
        options = dict(args.option)
        check_options(
            driver_cls, f"driver {args.driver}", None, options=options, **{key: args.device}
        )
        devices.append({"driver": args.driver, key: args.device, "options": options})
    check_consent(args, record=bool(args.record))
    config = session_config(
        {
            "session": {
                "name": "stream",
                "transport": args.transport,
                "duration_s": args.duration,
                "record": args.record,
                "consent": args.consent,
                "overwrite": args.overwrite,
                "connect_timeout_s": args.connect_timeout,
                "withdraw_file": args.withdraw_file,
            },
            "pipeline": {"baseline_s": 180.0, "publish_clean": args.clean},
            "devices": devices,
            "sources": [{"kind": "lsl", "query": query} for query in args.lsl_in],
            "sinks": export_sinks(args),
            "analyzers": face,
        },
        what="stream",
    )

    def emit(message: Any, clock: Any) -> None:
        line = message_to_dict(message, clock)
        if event_log.path is not None:
            event_log.write(json.dumps(line, separators=(",", ":"), allow_nan=False))
        if args.jsonl:
            print(json.dumps(line, separators=(",", ":")), flush=True)
        else:
            summary(line)

    sink_failed = False
    files_ended: dict[str, int] | None = None

    async def stream() -> None:
        nonlocal sink_failed, files_ended
        result = await run_session(config, emit, notice=notice)
        sink_failed = report_sinks(result.sinks, result.mqtt)
        if result.files_ended:  # --video alone: the session ended with the video
            files_ended = result.messages

    summary = LiveView(
        Summary(sys.stdout, verbose_hr=True),
        title=f"wearsdk stream ({args.driver if args.device else 'lsl'})",
        total_s=args.duration,
        live=args.live,
    )
    # the report is drawn from the session's event log, kept only until it is drawn
    png: Path | None = args.report or None
    check_outputs(None, png, overwrite=args.overwrite)
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="wearsdk-") as tmp:
        event_log = EventLog(Path(tmp) if png is not None else None)
        try:
            with (
                summary if not args.jsonl else contextlib.nullcontext(),
                without_native_face_notices(bool(face) and not args.verbose),
            ):
                asyncio.run(stream())
        except KeyboardInterrupt:  # the session stopped cleanly: the report is still due
            interrupted = True
        finally:
            event_log.close()
        out = sys.stderr if args.jsonl else sys.stdout
        if files_ended is not None and not interrupted:
            done = ", ".join(f"{v} {k}" for k, v in sorted(files_ended.items()))
            print(f"video finished: {done or 'nothing analysed'}", file=out)
        finish_report(
            event_log,
            png,
            out=out,
            keep_log=False,
            source=args.record,
            overwrite=args.overwrite,
        )
    return 130 if interrupted else (1 if sink_failed else 0)


def _add_lsl_arguments(sub: Any, stream: argparse.ArgumentParser) -> None:
    """``stream --lsl/--lsl-in/--record`` and ``record --out FILE.xdf`` (stream's options)."""
    stream.add_argument(
        "--lsl",
        action="store_true",
        help="publish LSL outlets (what --export allows: affect, features, raw streams); "
        "needs --consent",
    )
    stream.add_argument(
        "--lsl-in",
        action="append",
        default=[],
        metavar="QUERY",
        help="read an LSL stream, e.g. 'type=ECG' or 'name=H10,type=ECG' (repeatable)",
    )
    stream.add_argument(
        "--record", type=Path, metavar="FILE.xdf", help="record the session to XDF (--consent)"
    )
    stream.add_argument(
        "--clean",
        action="store_true",
        help="also publish the pipeline's cleaned signals (ecg_clean, eda_clean: tonic and "
        "phasic), as LSL outlets with --lsl --export raw and recorded with --record",
    )
    stream.add_argument(
        "--report",
        type=Path,
        metavar="PNG",
        default=None,
        help="draw the session report here at the end, HTML next to it (record: default "
        "FILE.report.png next to the recording; stream: none)",
    )
    stream.add_argument(
        "--no-report", dest="report", action="store_const", const=False, help="no report"
    )
    add_overwrite_argument(stream)
    record = sub.add_parser(
        "record",
        parents=[stream],
        add_help=False,
        help="record a session (devices, LSL inputs, estimates) to an XDF file",
        description="Like 'stream', recording every stream and event to FILE.xdf "
        "(crash-safe: flushed at least every second). Needs --consent.",
    )
    record.add_argument("--out", type=Path, required=True, metavar="FILE.xdf", help="the file")
    record.set_defaults(func=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    """``wearsdk record --out FILE.xdf``: ``stream`` with ``--record``."""
    args.record = args.out
    if args.report is None:  # a recording ends with its picture, next to the file
        args.report = args.out.with_suffix(".report.png")
    return cmd(args)
