"""``wearsdk replay``: a recording through the pipeline, at its original times."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

from wearsdk._errors import ConfigError
from wearsdk._live import LiveView
from wearsdk.cli._args import (
    add_live_argument,
    add_mqtt_arguments,
    add_overwrite_argument,
    add_report_arguments,
    check_consent,
    export_sinks,
    option,
    report_plan,
)
from wearsdk.cli._numbers import positive_float, replay_speed
from wearsdk.cli._output import EventLog, Summary, check_outputs, finish_report, notice
from wearsdk.cli._replay_notes import (
    pipeline_settings,
    report_what_was_not_used,
    say_why_there_are_no_estimates,
)
from wearsdk.cli._undelivered import report_sinks


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
    replay = sub.add_parser(
        "replay",
        help="replay a recording through the pipeline, at its original times",
        description=(
            "Replay a recording (an XDF file: a wearsdk recording or LabRecorder's; or an "
            "Empatica E4 export folder: EDA, BVP, IBI, HR, TEMP, ACC, tags) through a session: "
            "its streams go on the bus stamped with their original times (t_unix), and the "
            "features and estimates come out as in a live session. --lsl and --mqtt publish "
            "the replay as if it were live (with --consent). Ends at the end of the recording."
        ),
    )
    replay.add_argument(
        "path", type=Path, metavar="PATH", help="the recording (an .xdf file, or an E4 folder)"
    )
    replay.add_argument(
        "--source",
        choices=("e4", "xdf"),
        help="recording format: e4 (Empatica E4) or xdf (default: xdf for *.xdf files)",
    )
    replay.add_argument(
        "--speed",
        type=replay_speed,
        default=1.0,
        metavar="X|max",
        help="X times real time (default 1), or 'max' for as fast as possible",
    )
    replay.add_argument(
        "--duration",
        type=positive_float,
        metavar="S",
        help="replay only the first S seconds of the recording",
    )
    replay.add_argument(
        "--pipeline",
        action="append",
        type=option,
        default=[],
        metavar="KEY=VALUE",
        help="a pipeline setting (window_s, hop_s, baseline_s, min_coverage, stale_s, "
        "publish_clean, stress_min_dwell_s: the [pipeline] keys of a session file), "
        "repeatable; by default an XDF recording made by wearsdk is replayed with the "
        "settings it was recorded with",
    )
    replay.add_argument("--jsonl", action="store_true", help="print every bus event as JSON")
    replay.add_argument(
        "--topics",
        action="append",
        metavar="FILTER",
        help="with --jsonl, print only events whose topic matches FILTER (MQTT-style wildcards, "
        "e.g. 'affect/#'; repeatable); --out still logs every event",
    )
    replay.add_argument(
        "--out", type=Path, metavar="DIR", help="also write every event to DIR/events.jsonl"
    )
    replay.add_argument(
        "--lsl",
        action="store_true",
        help="re-stream the replay as LSL outlets (what --export allows), stamped on the LSL "
        "clock of now; needs --consent and --speed 1",
    )
    add_mqtt_arguments(replay, consent=True)
    add_report_arguments(replay, default_on=False)
    add_overwrite_argument(replay)
    add_live_argument(replay)
    replay.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk replay PATH``."""
    from wearsdk._config import session_config
    from wearsdk._jsonl import encode_line, message_to_dict, message_to_json
    from wearsdk._run import RunResult, run_session
    from wearsdk.bus import topic_matches
    from wearsdk.session import Session

    if args.lsl and args.speed != 1.0:
        raise ConfigError(
            "--lsl re-streams in real time (LSL consumers expect timestamps on the LSL "
            "clock of now): use --speed 1"
        )
    if args.mqtt and args.speed is None:
        raise ConfigError(
            "--mqtt needs a set pace (--speed X): as fast as possible would outrun the "
            "broker link and drop messages"
        )
    if args.topics and not args.jsonl:
        raise ConfigError("--topics chooses what --jsonl prints: give --jsonl too")
    if not args.path.exists():
        if args.source == "e4":
            raise ConfigError(f"not an E4 session folder: {str(args.path)!r} does not exist")
        raise ConfigError(f"no recording at {str(args.path)!r}: give an .xdf file or an E4 folder")
    check_consent(args)
    out = sys.stderr if args.jsonl else sys.stdout
    pipeline = pipeline_settings(args, out)
    config = session_config(
        {
            "session": {
                "name": "replay",
                "consent": args.consent,
                "withdraw_file": args.withdraw_file,
            },
            "pipeline": pipeline,
            "devices": [],
            "sources": [
                {
                    "kind": _replay_format(args),
                    "path": args.path,
                    "speed": args.speed or 0.0,
                    "duration_s": args.duration,
                }
            ],
            "sinks": export_sinks(args),
        },
        what="replay",
    )
    log_dir, report_png = report_plan(args, kind="replay", default_on=False)
    check_outputs(log_dir, report_png, overwrite=args.overwrite)
    event_log = EventLog(log_dir, overwrite=args.overwrite)
    plain = Summary(sys.stdout)

    def plain_no_gaps(line: dict[str, Any]) -> None:
        if line["type"] != "gap":  # an E4 rejects many beats: counted, not listed
            plain(line)

    # JSON lines need no view (nor Rich, ~0.1 s to import)
    view = (
        None
        if args.jsonl
        else LiveView(plain_no_gaps, title=f"wearsdk replay {args.path.name}", live=args.live)
    )

    topics: list[str] = args.topics or []
    logging_all = event_log.path is not None

    def emit(message: Any, clock: Any) -> None:
        shown = not topics or any(topic_matches(f, message.topic) for f in topics)
        if not (shown or logging_all):
            return  # neither printed nor logged: not even turned into a line
        if args.jsonl:
            text = message_to_json(message, clock)  # encoded once, without a dict of lists
            event_log.write(text)
            if shown:
                sys.stdout.write(text + "\n")
        else:
            line = message_to_dict(message, clock)
            event_log.write(encode_line(line))
            assert view is not None
            view(line)

    replayed: list[Any] = []

    def started(session: Session) -> None:
        (source,) = session.sources.values()
        replayed.append(source)
        if view is not None:
            view.state.total_s = getattr(source, "span_s", None)

    result = RunResult()
    sink_failed = False

    async def replay() -> None:
        nonlocal result, sink_failed
        # the runner ends at the end of the recording, once the sinks have drained
        # only what is printed or logged is routed to the output (the bus filters the topics)
        routed = topics if topics and not logging_all else ["#"]
        result = await run_session(config, emit, on_start=started, notice=notice, topics=routed)
        sink_failed = report_sinks(result.sinks, result.mqtt)

    interrupted = False
    try:
        with view if view is not None else contextlib.nullcontext():
            asyncio.run(replay())
    except KeyboardInterrupt:  # the session stopped cleanly: its report is still due
        interrupted = True
    finally:
        event_log.close()
    if not args.jsonl and not interrupted:
        done = ", ".join(f"{v} {k}" for k, v in sorted(result.messages.items()))
        print(f"replay finished: {done}")
    for source in replayed:
        report_what_was_not_used(source, out=out)
        if not interrupted:
            say_why_there_are_no_estimates(source, config.pipeline.window_s, out=out)
    if (st := result.mqtt) is not None:
        print(
            f"mqtt: {st.sent} sent, {st.refused_by_policy} kept in the process (export "
            f"{args.export}), {st.dropped_overflow} dropped",
            file=sys.stderr if args.jsonl else sys.stdout,
        )
    finish_report(
        event_log,
        report_png,
        out=sys.stderr if args.jsonl else sys.stdout,
        overwrite=args.overwrite,
    )
    sys.stdout.flush()
    return 130 if interrupted else (1 if sink_failed else 0)


def _replay_format(args: argparse.Namespace) -> str:
    if args.source is not None:
        return str(args.source)
    if args.path.suffix.lower() == ".xdf":
        return "xdf"
    if args.path.is_dir():
        return "e4"
    raise ConfigError(f"cannot tell the format of {str(args.path)!r}: give --source e4|xdf")
