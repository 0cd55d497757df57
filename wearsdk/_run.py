"""Run a session described by a :class:`~wearsdk._config.SessionConfig` (``wearsdk run``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import inspect
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wearsdk._clock import ScaledClock, SessionClock
from wearsdk._config import (
    DeviceEntry,
    FileAnalyzer,
    JsonlSink,
    LslAnalyzer,
    MqttAnalyzers,
    MqttSink,
    SessionConfig,
    VoiceAnalyzerEntry,
)
from wearsdk._errors import ConfigError, WearError
from wearsdk._privacy import Consent, ExportPolicy, Pseudonymizer, require_consent
from wearsdk.analyzers import (
    Analyzer,
    AnnotationReplay,
    FileAnnotations,
    VoiceAnalyzer,
    read_openface_csv,
    read_pyfeat_csv,
    read_table,
)
from wearsdk.bus import Message
from wearsdk.io.ble import VirtualLink, parse_transport
from wearsdk.io.mqtt import MqttBridge, MqttConfig
from wearsdk.session import JsonLinesSink, MessageSink, PipelineConfig, Session, SinkReport
from wearsdk.sim import ArousalScript, HeartSimulator

__all__ = ["RunResult", "run_session"]


@dataclass(slots=True)
class RunResult:
    """What a configured session did.

    Attributes:
        messages: bus messages seen, by type.
        dropped: messages the output subscriber dropped.
        sources: source ids of the configured devices, then of the LSL analyzer streams.
        sinks: how the session's sinks ended (output, jsonl files, MQTT).
    """

    messages: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    sources: list[str] = field(default_factory=list)
    sinks: list[SinkReport] = field(default_factory=list)


def _entry(group: str, name: str) -> Any:
    for ep in importlib.metadata.entry_points(group=group):
        if ep.name == name:
            return ep.load()
    raise ConfigError(f"no {group} entry point named {name!r}")


def _driver(entry: DeviceEntry, transport: Any, index: int) -> Any:
    cls = _entry("wearsdk.drivers", entry.driver)
    ident = {"name": entry.name} if entry.name is not None else {"address": entry.address}
    try:
        return cls(transport, **ident, **entry.options)
    except TypeError as exc:
        accepted = sorted(
            p
            for p in inspect.signature(cls).parameters
            if p not in ("self", "transport", "name", "address")
        )
        raise ConfigError(
            f"devices[{index}] ({entry.driver}): {exc}; options it takes: {', '.join(accepted)}"
        ) from None


def _consent(config: SessionConfig, sink: MqttSink | None) -> Consent:
    """The wearer's consent: the sink's record, else the session's, else the simulated one."""
    path = sink.consent if sink is not None and sink.consent is not None else None
    path = path or config.session.consent
    if path is not None:
        return Consent.load(path)
    if config.session.transport == "virtual":
        export = ExportPolicy(sink.export) if sink is not None else ExportPolicy.ESTIMATES
        return Consent.simulated_participant(export=export)
    require_consent(None)  # raises ConsentError with the explanation
    raise AssertionError("unreachable")


def _read_annotations(entry: FileAnalyzer, index: int) -> FileAnnotations:
    try:
        if entry.format == "openface":
            return read_openface_csv(
                entry.path, analyzer_id=entry.resolved_id, window_s=entry.window_s
            )
        if entry.format == "py-feat":
            return read_pyfeat_csv(
                entry.path, analyzer_id=entry.resolved_id, window_s=entry.window_s, fps=entry.fps
            )
        return read_table(entry.path, entry.mapping())
    except (WearError, OSError) as exc:
        raise ConfigError(f"analyzers[{index}] ({entry.format}): {exc}") from None


def _check_wav(entry: VoiceAnalyzerEntry, index: int) -> None:
    try:
        with wave.open(str(entry.path), "rb") as w:
            if w.getcomptype() != "NONE":
                raise wave.Error(f"compression {w.getcomptype()!r}")
    except (wave.Error, EOFError, OSError) as exc:
        raise ConfigError(
            f"analyzers[{index}]: {entry.path} is not a PCM WAV file ({exc})"
        ) from None


def _analyzer_factories(config: SessionConfig) -> list[Callable[[SessionClock, float], Analyzer]]:
    """Analyzers of the session file, read and checked now, built when the session starts."""
    out: list[Callable[[SessionClock, float], Analyzer]] = []

    def start(entry: FileAnalyzer | VoiceAnalyzerEntry, clock: SessionClock, t0: float) -> float:
        if entry.start_unix is not None:
            return clock.from_unix(entry.start_unix)
        return t0 + entry.start_s

    for i, entry in enumerate(config.analyzers):
        if isinstance(entry, FileAnalyzer):
            found = _read_annotations(entry, i)

            def replay(
                clock: SessionClock, t0: float, e: FileAnalyzer = entry, a: FileAnnotations = found
            ) -> Analyzer:
                return AnnotationReplay(a, analyzer_id=e.resolved_id, start=start(e, clock, t0))

            out.append(replay)
        elif isinstance(entry, VoiceAnalyzerEntry):
            _check_wav(entry, i)

            def voice(clock: SessionClock, t0: float, e: VoiceAnalyzerEntry = entry) -> Analyzer:
                return VoiceAnalyzer(
                    e.path,
                    analyzer_id=e.analyzer_id,
                    segment_s=e.segment_s,
                    start=start(e, clock, t0),
                )

            out.append(voice)
    return out


def _mqtt(config: SessionConfig, session: Session, consent: Consent | None) -> MqttBridge | None:
    """One bridge for the MQTT sink (export) and the remote analyzers (inbound)."""
    sink = next((s for s in config.sinks if isinstance(s, MqttSink)), None)
    remote = next((a for a in config.analyzers if isinstance(a, MqttAnalyzers)), None)
    if sink is None and remote is None:
        return None
    if remote is not None:
        session_id = remote.session or config.session.name
    else:
        participant = consent.participant if consent is not None else "unknown"
        session_id = Pseudonymizer().pseudonym(participant, prefix="s")
    url = sink.url if sink is not None else remote.url if remote is not None else None
    assert url is not None  # the file's validation guarantees one
    ca_file = (sink.ca_file if sink is not None else None) or (remote.ca_file if remote else None)
    mqtt = MqttConfig(
        url=url,
        session=session_id,
        policy=ExportPolicy(sink.export) if sink is not None else ExportPolicy.ESTIMATES,
        ca_file=None if ca_file is None else str(ca_file),
        qos={
            "estimate": sink.qos_estimate if sink is not None else 1,
            "status": 1,
            "features": 1,
            "annotation": 1,
            "samples": 0,
        },
        subscribe_inbound=remote is not None,
        clock_responder=remote is not None,
    )
    if sink is None:  # remote analyzers only: a bridge that receives and exports nothing
        return MqttBridge(session.bus, session.clock, mqtt, consent=None, topics=())
    return MqttBridge(session.bus, session.clock, mqtt, consent=consent)


async def run_session(
    config: SessionConfig,
    emit: Callable[[Message, SessionClock], None] | None = None,
) -> RunResult:
    """Run the configured session until its duration ends (or until cancelled).

    Args:
        config: the validated session file.
        emit: called with every bus message (the terminal view); sinks are handled here.

    Returns:
        Counts of what went over the bus.

    Raises:
        ConfigError: a device option the driver does not take, an unknown twin, an analyzer
            file that cannot be read as its format (read before anything connects).
        ConsentError: an MQTT sink or a recording without a consent record (real devices),
            or with one that does not allow it.
    """
    virtual = config.session.transport == "virtual"
    clock: SessionClock = ScaledClock(config.session.speed) if virtual else SessionClock()
    mqtt_sink = next((s for s in config.sinks if isinstance(s, MqttSink)), None)
    needs_consent = mqtt_sink is not None or config.session.record is not None
    consent = _consent(config, mqtt_sink) if needs_consent else None
    analyzers = _analyzer_factories(config)  # files are read before anything connects
    session = Session(
        clock=clock,
        pipeline=PipelineConfig(**config.pipeline.model_dump()),
        consent=consent,
        record=config.session.record,
    )
    if config.session.record is not None:
        config.session.record.parent.mkdir(parents=True, exist_ok=True)
    result = RunResult()
    output = MessageSink(None if emit is None else lambda message, ctx: emit(message, ctx.clock))
    session.add_sink(output, name="output", required=emit is not None)
    for i, sink in enumerate(config.sinks):
        if isinstance(sink, JsonlSink):
            session.add_sink(JsonLinesSink(sink.path), name=f"jsonl-{i}" if i else "jsonl")
    bridge = _mqtt(config, session, consent)
    if bridge is not None:
        session.add_sink(bridge, name="mqtt")

    async with contextlib.AsyncExitStack() as stack:
        if virtual:
            link = await stack.enter_async_context(VirtualLink())
            script = ArousalScript.calm_stress_recovery(config.session.duration_s or 60.0)
            twins = []
            for i, entry in enumerate(config.devices):
                name = entry.name or f"wearsdk twin {i}"
                if entry.name is None:
                    raise ConfigError(f"devices[{i}]: virtual devices are found by name")
                peripheral = await link.add_peripheral(name=name)
                twin_cls = _entry("wearsdk.twins", entry.driver)
                heart = HeartSimulator(script, seed=config.session.seed + i)
                extra = dict(entry.twin_options)
                if "profile" in entry.options:
                    extra.setdefault("profile", entry.options["profile"])
                twins.append(twin_cls(peripheral, heart, clock, name=name, **extra))
            transport = await stack.enter_async_context(link.central())
        else:
            transport = await stack.enter_async_context(parse_transport(config.session.transport))
        await stack.enter_async_context(session)
        for i, entry in enumerate(config.devices):
            result.sources.append(session.add(_driver(entry, transport, i)))
        for lsl in (a for a in config.analyzers if isinstance(a, LslAnalyzer)):
            from wearsdk.drivers.lsl import LslInlet  # the lsl extra, only when asked for

            result.sources.append(session.add(LslInlet(lsl.query, source_id=lsl.source_id)))
        t0 = clock.now()
        for make in analyzers:
            session.add_analyzer(make(clock, t0))
        if virtual:
            for twin in twins:
                await stack.enter_async_context(twin)
        if config.session.duration_s is None:
            await asyncio.Event().wait()  # until interrupted
        else:
            await session.sleep(config.session.duration_s)
    # leaving the session stopped the devices, flushed the pipeline and drained the sinks
    result.messages = dict(output.counts)
    result.dropped = output.dropped
    result.sinks = session.sink_reports
    return result
