"""The ``wearsdk`` command line.

Exit codes: 0 success; 1 a wearsdk error (device not found, protocol, configuration);
2 usage error (argparse); 3 ``wearsdk doctor`` found a problem; 130 interrupted; 141 the
reader of the output went away (a closed pipe).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import inspect
import json
import logging
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from wearsdk._errors import ConfigError, WearError
from wearsdk._faces import (
    EventLog,
    add_face_commands,
    add_live_argument,
    add_report_arguments,
    finish_report,
    report_plan,
)
from wearsdk._live import LiveView, window_heart_rate
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
        epilog=(
            "exit codes: 0 success, 1 a wearsdk error (device not found, protocol, "
            "configuration), 2 usage error, 3 `wearsdk doctor` found a problem, 130 "
            "interrupted, 141 the output's reader went away"
        ),
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
    add_live_argument(demo)
    _add_mqtt_arguments(demo, consent=False)
    demo.set_defaults(func=_cmd_demo)

    transport_help = (
        "BLE transport: 'bleak' (the OS Bluetooth stack, default) or 'bumble:<spec>' "
        "(e.g. bumble:usb:0, bumble:tcp-client:127.0.0.1:19001)"
    )
    scan = sub.add_parser(
        "scan", help="list nearby BLE devices", description="Scan for BLE devices."
    )
    scan.add_argument("--transport", default="bleak", metavar="T", help=transport_help)
    scan.add_argument("--timeout", type=_positive_float, default=5.0, metavar="S", help="seconds")
    scan.add_argument("--jsonl", action="store_true", help="one JSON object per device")
    scan.set_defaults(func=_cmd_scan)

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
        help=f"driver name (installed: {', '.join(sorted(_entry_points('wearsdk.drivers')))})",
    )
    stream.add_argument("--transport", default="bleak", metavar="T", help=transport_help)
    _add_option_argument(
        stream,
        "a driver option (repeatable; VALUE as in TOML, else a string), e.g. "
        "--driver gatt-profile --option profile=board.toml, --option acc_rate_hz=50",
    )
    stream.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help="stop after S seconds (default: never)",
    )
    stream.add_argument("--jsonl", action="store_true", help="print every bus event as JSON")
    _add_mqtt_arguments(stream, consent=True)
    add_live_argument(stream)
    stream.set_defaults(func=_cmd_stream)
    _add_lsl_commands(sub, stream)

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schemas of the wire format (MQTT payloads, inbound annotations)",
        description="Print the versioned JSON Schemas of what wearsdk sends and accepts.",
    )
    schema.set_defaults(func=_cmd_schema)

    twin = sub.add_parser(
        "twin",
        help="serve a virtual device on a bumble transport (for tests and demos across processes)",
        description=(
            "Serve a virtual twin over a bumble transport, e.g. one side of "
            "'python -m bumble.apps.controllers tcp-server:127.0.0.1:P1 tcp-server:127.0.0.1:P2'."
        ),
    )
    twin.add_argument(
        "kind", help=f"twin kind ({', '.join(sorted(_entry_points('wearsdk.twins')))})"
    )
    twin.add_argument("--transport", required=True, metavar="SPEC", help="bumble transport spec")
    twin.add_argument("--name", default=None, help="advertised name")
    twin.add_argument("--duration", type=_positive_float, default=600.0, metavar="S")
    twin.add_argument("--speed", type=_positive_float, default=1.0, metavar="X")
    twin.add_argument("--seed", type=int, default=0)
    _add_option_argument(
        twin, "a twin option (repeatable), e.g. --option profile=board.toml for gatt-profile"
    )
    twin.set_defaults(func=_cmd_twin)

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
        type=_replay_speed,
        default=1.0,
        metavar="X|max",
        help="X times real time (default 1), or 'max' for as fast as possible",
    )
    replay.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help="replay only the first S seconds of the recording",
    )
    replay.add_argument("--jsonl", action="store_true", help="print every bus event as JSON")
    replay.add_argument(
        "--out", type=Path, metavar="DIR", help="also write every event to DIR/events.jsonl"
    )
    replay.add_argument(
        "--lsl",
        action="store_true",
        help="re-stream the replay as LSL outlets (what --export allows), stamped on the LSL "
        "clock of now; needs --consent and --speed 1",
    )
    _add_mqtt_arguments(replay, consent=True)
    add_report_arguments(replay, default_on=False)
    add_live_argument(replay)
    replay.set_defaults(func=_cmd_replay)
    add_face_commands(sub)
    return parser


def _add_option_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--option KEY=VALUE`` (repeatable): keyword arguments for a driver or a twin."""
    parser.add_argument(
        "--option", type=_option, action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def _option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``: the value read as a TOML value (``50``, ``true``, ``[3]``), else a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _construct(cls: Any, what: str, *args: Any, options: dict[str, Any], **kwargs: Any) -> Any:
    """``cls(*args, **kwargs, **options)``; an option it does not take is a ConfigError."""
    try:
        return cls(*args, **kwargs, **options)
    except TypeError as exc:
        params = list(inspect.signature(cls).parameters)[len(args) :]
        taken = sorted(p for p in params if p not in kwargs)
        raise ConfigError(f"{what}: {exc}; options it takes: {', '.join(taken)}") from None


def _replay_speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    return _positive_float(text)


def _add_mqtt_arguments(parser: argparse.ArgumentParser, *, consent: bool) -> None:
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        help="export to an MQTT broker: mqtt://[user:password@]host:port or mqtts://...",
    )
    parser.add_argument(
        "--export",
        choices=("estimates", "features", "raw"),
        default="estimates",
        help="what may leave the process (default: estimates)",
    )
    parser.add_argument("--mqtt-ca", metavar="FILE", help="CA certificate for mqtts://")
    if consent:
        parser.add_argument(
            "--consent",
            metavar="FILE",
            help="the wearer's consent record (JSON); required to export (see docs/privacy.md)",
        )


def _consent_and_mqtt(args: argparse.Namespace, *, record: bool = False) -> tuple[Any, Any]:
    """The wearer's consent record when data leaves the process (``--mqtt``, ``--lsl``) or is
    recorded, checked against ``--export``; and the MQTT settings with ``--mqtt``.

    Raises:
        ConsentError: no ``--consent``, or one that does not allow the operation.
    """  # noqa: D205
    from wearsdk._privacy import Consent, ExportPolicy, require_consent

    exports = bool(args.mqtt or args.lsl)
    if not (exports or record):
        return None, None
    loaded = Consent.load(args.consent) if args.consent is not None else None
    policy = ExportPolicy(args.export) if exports else None
    consent = require_consent(loaded, export=policy, record=record)  # raises with the reason
    return consent, _mqtt_config(args, consent.participant) if args.mqtt else None


def _mqtt_config(args: argparse.Namespace, participant: str | None) -> Any:
    """The MQTT settings from the command line; the session id is a keyed pseudonym."""
    from wearsdk._privacy import ExportPolicy, Pseudonymizer
    from wearsdk.io.mqtt import MqttConfig

    if not args.mqtt:
        return None
    session = "demo" if participant is None else Pseudonymizer().pseudonym(participant, prefix="s")
    return MqttConfig(
        url=args.mqtt, session=session, policy=ExportPolicy(args.export), ca_file=args.mqtt_ca
    )


def _cmd_schema(args: argparse.Namespace) -> int:
    from wearsdk.io import wire_json_schema

    print(json.dumps(wire_json_schema(), indent=2))
    return 0


def _entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def _load(group: str, name: str) -> Any:
    eps = _entry_points(group)
    if name not in eps:
        raise ConfigError(f"unknown {group.split('.')[-1][:-1]} {name!r}; installed: {sorted(eps)}")
    return eps[name].load()


def _looks_like_address(text: str) -> bool:
    return bool(
        re.fullmatch(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", text)
        or re.fullmatch(r"[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}", text)
    )


def _cmd_scan(args: argparse.Namespace) -> int:
    from wearsdk.io.ble import parse_transport

    async def scan() -> list[dict[str, Any]]:
        async with parse_transport(args.transport) as transport:
            found = await transport.scan(timeout_s=args.timeout)
        return [
            {
                "address": device.address,
                "name": adv.local_name or device.name,
                "rssi": adv.rssi,
                "services": sorted(adv.service_uuids),
            }
            for device, adv in found
        ]

    devices = asyncio.run(scan())
    for d in devices:
        if args.jsonl:
            print(json.dumps(d))
        else:
            services = ", ".join(_service_label(u) for u in d["services"]) or "-"
            name = d["name"] or "(no name)"
            print(f"{d['address']:<20} {d['rssi']!s:>5} dBm  {name:<28} {services}")
    if not args.jsonl:
        print(f"{len(devices)} device(s) found")
    return 0


_KNOWN_SERVICES = {
    "0000180d-0000-1000-8000-00805f9b34fb": "Heart Rate",
    "0000180f-0000-1000-8000-00805f9b34fb": "Battery",
    "fb005c80-02e7-f387-1cad-8acd2d8df0c8": "Polar PMD",
    "c566488a-0882-4e1b-a6d0-0b717e652234": "BITalino",
}


def _service_label(uuid: str) -> str:
    return _KNOWN_SERVICES.get(uuid.lower(), uuid)


def _cmd_stream(args: argparse.Namespace) -> int:
    from wearsdk._jsonl import message_to_dict
    from wearsdk.io.ble import parse_transport
    from wearsdk.session import MessageSink, PipelineConfig, Session

    if args.device is None and not args.lsl_in:
        raise ConfigError("give --device ADDRESS|NAME or --lsl-in QUERY")
    driver_cls = _load("wearsdk.drivers", args.driver) if args.device else None
    key = "address" if args.device and _looks_like_address(args.device) else "name"

    consent, mqtt = _consent_and_mqtt(args, record=bool(args.record))

    async def stream() -> None:
        # LSL inputs alone need no Bluetooth transport
        link: Any = parse_transport(args.transport) if args.device else contextlib.nullcontext()
        session = Session(
            consent=consent,
            record=args.record,
            pipeline=PipelineConfig(publish_clean=args.clean),
        )

        def emit(message: Any, ctx: Any) -> None:
            line = message_to_dict(message, ctx.clock)
            if event_log.path is not None:
                event_log.write(json.dumps(line, separators=(",", ":"), allow_nan=False))
            if args.jsonl:
                print(json.dumps(line, separators=(",", ":")), flush=True)
            else:
                summary(line)

        # the terminal output is a sink of the session: a reader that goes away ends it
        session.add_sink(MessageSink(emit), name="output", required=True)
        if mqtt is not None:
            from wearsdk.io.mqtt import MqttBridge

            session.add_sink(
                MqttBridge(session.bus, session.clock, mqtt, consent=consent), name="mqtt"
            )
        if args.lsl:
            from wearsdk._privacy import ExportPolicy
            from wearsdk.io.lsl import LslOutlets

            outlets = LslOutlets(session.bus, consent=consent, policy=ExportPolicy(args.export))
            session.add_sink(outlets, name="lsl")
        async with link as transport, session:
            if driver_cls is not None:
                session.add(
                    _construct(
                        driver_cls,
                        f"driver {args.driver}",
                        transport,
                        options=dict(args.option),
                        **{key: args.device},
                    )
                )
            for query in args.lsl_in:
                from wearsdk.drivers.lsl import LslInlet

                session.add(LslInlet(query))
            if args.duration is not None:
                await session.sleep(args.duration)
            else:
                await asyncio.Event().wait()  # until interrupted
        _report_sinks(session.sink_reports)

    summary = LiveView(
        _Summary(sys.stdout, verbose_hr=True),
        title=f"wearsdk stream ({args.driver if args.device else 'lsl'})",
        total_s=args.duration,
        live=args.live,
    )
    # the report is drawn from the session's event log, kept only until it is drawn
    png: Path | None = args.report or None
    with tempfile.TemporaryDirectory(prefix="wearsdk-") as tmp:
        event_log = EventLog(Path(tmp) if png is not None else None)
        try:
            with summary if not args.jsonl else contextlib.nullcontext():
                asyncio.run(stream())
        finally:
            event_log.close()
        out = sys.stderr if args.jsonl else sys.stdout
        finish_report(event_log, png, out=out, keep_log=False, source=args.record)
    return 0


def _cmd_twin(args: argparse.Namespace) -> int:
    from wearsdk._clock import ScaledClock
    from wearsdk.io.ble import open_peripheral
    from wearsdk.sim import ArousalScript, HeartSimulator

    twin_cls = _load("wearsdk.twins", args.kind)
    name = args.name or f"wearsdk {args.kind} twin"

    async def serve() -> None:
        clock = ScaledClock(args.speed)
        heart = HeartSimulator(ArousalScript.calm_stress_recovery(args.duration), seed=args.seed)
        async with (
            open_peripheral(args.transport, name=name) as device,
            _construct(
                twin_cls,
                f"twin {args.kind}",
                device,
                heart,
                clock,
                options=dict(args.option),
                name=name,
            ),  # fmt: skip
        ):
            print(f"serving {args.kind} twin {name!r} on {args.transport}", flush=True)
            await asyncio.sleep(clock.real_delay_s(args.duration))

    asyncio.run(serve())
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from wearsdk._clock import ScaledClock
    from wearsdk._jsonl import message_to_dict
    from wearsdk._privacy import ExportPolicy
    from wearsdk.drivers.e4 import E4Replay, load_e4_session
    from wearsdk.session import MessageSink, Session

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
    consent, mqtt = _consent_and_mqtt(args)
    source: Any
    if _replay_format(args) == "xdf":
        from wearsdk.drivers.lsl import XdfReplay

        source = XdfReplay(args.path, speed=args.speed, duration_s=args.duration)
        clock = source.clock()
    else:
        source = E4Replay(load_e4_session(args.path), speed=args.speed, duration_s=args.duration)
        # session time runs with the replay and maps back onto the recording's unix times
        clock = ScaledClock(args.speed or 1.0, unix_at_start=source.start_unix)
    counts: dict[str, int] = {}
    mqtt_stats: list[Any] = []
    log_dir, report_png = report_plan(args, kind="replay", default_on=False)
    event_log = EventLog(log_dir)
    plain = _Summary(sys.stdout)

    def plain_no_gaps(line: dict[str, Any]) -> None:
        if line["type"] != "gap":  # an E4 rejects many beats: counted, not listed
            plain(line)

    view = LiveView(
        plain_no_gaps,
        title=f"wearsdk replay {args.path.name}",
        total_s=source.span_s,
        live=args.live,
    )

    def emit(message: Any, ctx: Any) -> None:
        payload = message.payload
        kind = getattr(payload, "type", "samples")
        counts[kind] = counts.get(kind, 0) + 1
        line = message_to_dict(message, ctx.clock)
        event_log.write(json.dumps(line, separators=(",", ":"), allow_nan=False))
        if args.jsonl:
            print(json.dumps(line, separators=(",", ":")))
        else:
            view(line)

    async def replay() -> None:
        session = Session(clock=clock, consent=consent)
        # block: the replay waits for this output instead of losing messages
        session.add_sink(MessageSink(emit, policy="block"), name="output", required=True)
        if args.lsl:
            import pylsl

            from wearsdk.io.lsl import LslOutlets

            outlets = LslOutlets(
                session.bus,
                consent=consent,
                policy=ExportPolicy(args.export),
                time_offset_s=pylsl.local_clock() - clock.now(),
            )
            session.add_sink(outlets, name="lsl")
        bridge = None
        if mqtt is not None:
            from wearsdk.io.mqtt import MqttBridge

            bridge = MqttBridge(session.bus, session.clock, mqtt, consent=consent)
            session.add_sink(bridge, name="mqtt")
        async with session:
            session.add(source)
            # the session finishes by itself at the end of the recording: its last windows
            # are published, then the sinks drain as the block is left
            await session.wait_sources()
        if bridge is not None:
            mqtt_stats.append(bridge.stats)
        _report_sinks(session.sink_reports)

    try:
        with view if not args.jsonl else contextlib.nullcontext():
            asyncio.run(replay())
    finally:
        event_log.close()
    if not args.jsonl:
        done = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        print(f"replay finished: {done}")
    for st in mqtt_stats:
        print(
            f"mqtt: {st.sent} sent, {st.refused_by_policy} kept in the process (export "
            f"{args.export}), {st.dropped_overflow} dropped",
            file=sys.stderr if args.jsonl else sys.stdout,
        )
    finish_report(event_log, report_png, out=sys.stderr if args.jsonl else sys.stdout)
    sys.stdout.flush()
    return 0


def _report_sinks(reports: Sequence[Any]) -> None:
    """Say on stderr which sinks failed or could not deliver everything."""
    for report in reports:
        if not report.ok:
            print(f"wearsdk: {report.describe()}", file=sys.stderr)


def _replay_format(args: argparse.Namespace) -> str:
    if args.source is not None:
        return str(args.source)
    if args.path.suffix.lower() == ".xdf":
        return "xdf"
    if args.path.is_dir():
        return "e4"
    raise ConfigError(f"cannot tell the format of {str(args.path)!r}: give --source e4|xdf")


def _add_lsl_commands(sub: Any, stream: argparse.ArgumentParser) -> None:
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
    record = sub.add_parser(
        "record",
        parents=[stream],
        add_help=False,
        help="record a session (devices, LSL inputs, estimates) to an XDF file",
        description="Like 'stream', recording every stream and event to FILE.xdf "
        "(crash-safe: flushed at least every second). Needs --consent.",
    )
    record.add_argument("--out", type=Path, required=True, metavar="FILE.xdf", help="the file")
    record.set_defaults(func=_cmd_record)


def _cmd_record(args: argparse.Namespace) -> int:
    args.record = args.out
    if args.report is None:  # a recording ends with its picture, next to the file
        args.report = args.out.with_suffix(".report.png")
    return _cmd_stream(args)


class _Summary:
    """The human-readable live summary of ``wearsdk demo``."""

    def __init__(self, out: TextIO, *, verbose_hr: bool = False) -> None:
        self.out = out
        self.verbose_hr = verbose_hr
        self.phase = "?"
        self.hr: float | None = None
        self.hr_events = False  # a strap reports heart rate itself; else the window's value
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
        elif kind == "clock_status":
            offset = line.get("offset_s")
            jitter = line.get("jitter_s")
            print(
                f"[{line['source']}] clock {line['clock']}: drift {line['drift_ppm']:+.1f} ppm, "
                f"jitter {1000 * jitter if jitter is not None else float('nan'):.1f} ms, "
                f"offset {offset if offset is not None else float('nan'):.4f} s, "
                f"resets {line['resets']}, {'converged' if line['converged'] else 'learning'}",
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
            arousal = float(line["arousal"])
            conf = float(line["confidence"])
            bar = "#" * round(arousal * 20)
            hr = f"{self.hr:5.1f}" if self.hr is not None else "  -  "
            flags = ",".join(line.get("flags") or ())
            level = line.get("stress_level") or "-"
            valence = line.get("valence")
            val = f"valence {float(valence):+4.2f} " if valence is not None else ""
            if line.get("revised"):
                flags = f"revised {flags}"
            print(
                f"t={float(line['t']) - (self.t0 or 0.0):7.1f}s  {self.phase:<9} HR {hr} bpm  "
                f"arousal {arousal:4.2f} [{bar:<20}] conf {conf:4.2f} {val}stress {level:<6} "
                f"{flags}",
                file=self.out,
                flush=True,
            )


def _cmd_demo(args: argparse.Namespace) -> int:
    # imported here: the demo needs the [bumble] extra, the rest of the CLI does not
    from wearsdk._clock import SessionClock
    from wearsdk._demo import DemoConfig, run_demo
    from wearsdk._jsonl import message_to_dict
    from wearsdk.bus import Message

    config = DemoConfig(
        duration_s=args.duration,
        speed=args.speed,
        seed=args.seed,
        strap=args.strap,
        eda_band=args.eda,
    )
    log_dir, report_png = report_plan(args, kind="demo", default_on=True)
    event_log = EventLog(log_dir)
    view = LiveView(
        _Summary(sys.stdout), title="wearsdk demo", total_s=args.duration, live=args.live
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

    try:
        with view if not args.jsonl else contextlib.nullcontext():
            result = asyncio.run(run_demo(config, emit, mqtt=_mqtt_config(args, None)))
            view.state.dropped = result.dropped
    finally:
        event_log.close()
    if not args.jsonl:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result.messages.items()))
        print(f"demo finished: {counts}; dropped {result.dropped}")
    finish_report(event_log, report_png, out=sys.stderr if args.jsonl else sys.stdout)
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
    except BrokenPipeError:
        return _reader_went_away()
    except WearError as exc:
        print(f"wearsdk: error: {exc}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        # errors of background tasks (a sink, a device) arrive grouped: report the first
        first = _first_leaf(group)
        if isinstance(first, BrokenPipeError):
            return _reader_went_away()
        if isinstance(first, WearError):
            print(f"wearsdk: error: {first}", file=sys.stderr)
            return 1
        raise
    return code


def _reader_went_away() -> int:
    """The reader of our output closed it (``wearsdk ... --jsonl | head``): stop quietly, as
    Unix tools do, with the shell's code for SIGPIPE."""  # noqa: D205, D209
    # what is left in Python's stdout buffer would raise again at exit: send it nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE (13)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
