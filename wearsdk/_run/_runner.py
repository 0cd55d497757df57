"""The one session runner of ``demo``, ``stream``, ``record``, ``replay`` and ``run``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wearsdk._clock import ScaledClock, SessionClock
from wearsdk._config import (
    FaceAnalyzerEntry,
    JsonlSink,
    LslAnalyzer,
    LslSink,
    LslSource,
    SessionConfig,
)
from wearsdk._errors import ConfigError
from wearsdk._privacy import ConsentGate
from wearsdk._run._guards import (
    _check_outputs,
    _consent,
    _consent_conditions,
    _quiet_cancelled_hci_commands,
    _run_live,
    _until_streaming,
)
from wearsdk._run._parts import (
    _analyzer_factories,
    _driver,
    _EndsWithFile,
    _entry,
    _load_analyzer_libraries,
    _lsl_outlets,
    _mqtt,
    _pipeline,
    _replay,
)
from wearsdk.bus import Message, OverflowPolicy
from wearsdk.session import (
    JsonLinesSink,
    MessageSink,
    Session,
    SinkReport,
)

if TYPE_CHECKING:  # the simulation, Bluetooth and MQTT are imported when a session uses them
    from wearsdk._scenario import HeldScript
    from wearsdk.io.mqtt import MqttStatistics
    from wearsdk.sim import ArousalScript

__all__ = ["RunResult", "run_session"]


@dataclass(slots=True)
class RunResult:
    """What a configured session did.

    Attributes:
        messages: bus messages seen, by type.
        dropped: messages the output subscriber dropped.
        sources: source ids of the configured devices, then of the LSL analyzer streams.
        sinks: how the session's sinks ended (output, jsonl files, MQTT, LSL, XDF).
        start: the session time the analyzers' ``start_s`` counts from (the session's start).
        script_start: with virtual devices, the session time at which the script started:
            once every device had sent its first data.
        mqtt: the MQTT bridge's counters, with one.
        files_ended: the session ended because its only inputs, video files, ended.
    """

    messages: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    sources: list[str] = field(default_factory=list)
    sinks: list[SinkReport] = field(default_factory=list)
    start: float | None = None
    script_start: float | None = None
    mqtt: MqttStatistics | None = None
    files_ended: bool = False


async def run_session(
    config: SessionConfig,
    emit: Callable[[Message, SessionClock], None] | None = None,
    *,
    on_start: Callable[[Session], None] | None = None,
    notice: Callable[[str], None] | None = None,
    topics: Sequence[str] = ("#",),
) -> RunResult:
    """Run a session: the one runner of ``demo``, ``stream``, ``record``, ``replay``, ``run``.

    The devices (virtual twins on an in-process link with ``transport = "virtual"``), the
    other sources (LSL streams, a replay) and the analyzers feed one
    :class:`~wearsdk.session.Session`; the terminal output (``emit``), the JSON-lines files,
    MQTT, LSL outlets and the XDF recording are its sinks. It ends after
    ``session.duration_s``, at the end of a replay, or when cancelled; with virtual devices,
    the simulation's script (``session.duration_s`` long) starts when every device has sent
    its first data, and the session ends ``settle_s`` after the script. Leaving the session
    flushes the processing and drains the sinks.

    Args:
        config: the validated session.
        emit: called with every bus message (the terminal view), inside the session: an
            error it raises (the reader went away) ends the session with that error.
        on_start: called with the running session once its sources are added.
        notice: told, once, what a person should know while the session goes on (the
            consent expired or was withdrawn: export and recording stopped).
        topics: the topic filters ``emit`` is called for (default all; the bus routes only
            these to it).

    Returns:
        Counts of what went over the bus, and how each sink ended.

    Raises:
        ConfigError: a device option the driver does not take, an unknown twin, an analyzer
            file that cannot be read as its format (read before anything connects).
        ConsentError: an export or a recording without a consent record (real devices),
            or with one that does not allow it.
        MqttAuthError: the broker refused the credentials (at once, the session ended).
        MqttTlsError: the broker's certificate did not verify (at once, the session ended).
        DeviceNotFoundError: a device did not connect within ``connect_timeout_s`` (a virtual
            one: sent no data within it).
    """
    virtual = config.session.transport == "virtual"
    consent = _consent(config)
    _check_outputs(config)
    analyzers = _analyzer_factories(config)  # files are read before anything connects
    if config.analyzers:
        await asyncio.to_thread(_load_analyzer_libraries, config)
    replay = config.replays[0] if config.replays else None
    clock: SessionClock
    if replay is not None:
        replay_source, clock = _replay(replay)
    else:
        clock = ScaledClock(config.session.speed) if virtual else SessionClock()
    session = Session(clock=clock, pipeline=_pipeline(config.pipeline), consent=consent)
    # consent is a live condition: one gate for every sink that exports or records, closed
    # at the expiry instant or by a withdrawal (SIGUSR1, the withdrawal file)
    gate = None if consent is None else ConsentGate(consent)
    if config.session.record is not None:
        from wearsdk.io.lsl import XdfRecorder  # the lsl extra, only when recording

        config.session.record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings = None if session.pipeline is None else session.pipeline.settings()
        recorder = XdfRecorder(
            session.bus,
            clock,
            config.session.record,
            consent=gate,
            pipeline=settings,
            overwrite=config.session.overwrite,
        )
        # a recording that fails (a full disk) is reported and stopped; the session goes on
        session.add_sink(recorder, name="xdf")
    result = RunResult()
    # a replay waits for its output instead of losing messages
    policy: OverflowPolicy = "block" if replay is not None else "drop_oldest"
    output = MessageSink(
        None if emit is None else lambda message, ctx: emit(message, ctx.clock),
        topic_filter=tuple(topics),
        policy=policy,
    )
    session.add_sink(output, name="output", required=emit is not None)
    for i, sink in enumerate(config.sinks):
        if isinstance(sink, JsonlSink):
            session.add_sink(
                JsonLinesSink(sink.path, overwrite=config.session.overwrite),
                name=f"jsonl-{i}" if i else "jsonl",
            )
        elif isinstance(sink, LslSink):
            # the session's gate: consent closing mid-session stops LSL as it stops MQTT and XDF
            outlets = _lsl_outlets(sink, session, gate, replay is not None)
            session.add_sink(outlets, name="lsl")
    bridge = _mqtt(config, session, gate)
    if bridge is not None:
        # the bridge retries what retrying can mend (a broker restart, a lost link) and raises
        # only what it cannot (credentials refused, a certificate that does not verify): that
        # ends the session at once, not silently at its end
        session.add_sink(bridge, name="mqtt", required=True)

    sim = config.simulation
    link_ending: Callable[[], None] | None = None
    async with contextlib.AsyncExitStack() as stack:
        transport: Any = None
        twins = []
        script: ArousalScript | None = None
        # each twin's simulators hold the script in its first phase until the devices stream
        held: list[HeldScript] = []
        if virtual:
            from wearsdk._scenario import HeldScript
            from wearsdk.io.ble import VirtualLink  # bumble: only for virtual devices
            from wearsdk.sim import ArousalScript, HeartSimulator

            script = ArousalScript.calm_stress_recovery(config.session.duration_s or 60.0)

            link_ending = stack.enter_context(_quiet_cancelled_hci_commands())
            link = await stack.enter_async_context(VirtualLink())
            for i, entry in enumerate(config.devices):
                name = entry.name or f"wearsdk twin {i}"
                if entry.name is None:
                    raise ConfigError(f"devices[{i}]: virtual devices are found by name")
                peripheral = await link.add_peripheral(name=name)
                twin_cls = _entry("wearsdk.twins", entry.driver)
                held.append(HeldScript(script))
                heart = HeartSimulator(held[-1], seed=config.session.seed + i)
                extra = dict(entry.twin_options)
                if "profile" in entry.options:
                    extra.setdefault("profile", entry.options["profile"])
                twins.append(twin_cls(peripheral, heart, clock, name=name, **extra))
            transport = await stack.enter_async_context(link.central())
            # the twins advertise before the session starts: a session that ends at once (a
            # sink's fatal error) must not cancel them in the middle of an HCI command, which
            # bumble does not survive cleanly
            for twin in twins:
                await stack.enter_async_context(twin)
        elif config.devices:  # LSL inputs and replays alone need no Bluetooth transport
            from wearsdk.io.ble import parse_transport

            transport = await stack.enter_async_context(parse_transport(config.session.transport))
        await stack.enter_async_context(session)
        if link_ending is not None:  # runs first when the session is left
            stack.callback(link_ending)
        statuses = session.bus.subscribe("device/+/status", maxsize=256, policy="drop_oldest")
        stack.callback(statuses.close)
        devices: dict[str, str] = {}
        await asyncio.sleep(0)  # the sinks take their first step (subscribe) before we publish
        for i, entry in enumerate(config.devices):
            source_id = session.add(_driver(entry, transport, i))
            result.sources.append(source_id)
            devices[source_id] = f"{entry.driver} device {entry.name or entry.address!r}"
        # the virtual script starts at the devices' first data (subscribed before they run)
        twin_sources = dict(devices) if virtual else {}
        first_data = (
            session.bus.subscribe([f"physio/{s}/#" for s in twin_sources], maxsize=8)
            if twin_sources
            else None
        )
        if first_data is not None:
            stack.callback(first_data.close)
        for src in config.sources:
            if isinstance(src, LslSource):
                from wearsdk.io.sources import LslInlet  # the lsl extra, only when asked for

                source_id = session.add(LslInlet(src.query))
                result.sources.append(source_id)
                devices[source_id] = f"LSL stream {src.query!r}"
        if replay is not None:
            result.sources.append(session.add(replay_source))
        for lsl in (a for a in config.analyzers if isinstance(a, LslAnalyzer)):
            from wearsdk.io.sources import LslInlet  # the lsl extra, only when asked for

            result.sources.append(session.add(LslInlet(lsl.query, source_id=lsl.source_id)))
        t0 = result.start = clock.now()
        # a session whose only inputs are video files ends with them, as a replay does
        files: list[_EndsWithFile] = []
        files_only = bool(config.analyzers) and all(
            isinstance(a, FaceAnalyzerEntry) and a.video is not None for a in config.analyzers
        )
        files_only &= not (config.devices or config.sources or virtual or replay is not None)
        for make in analyzers:
            analyzer = make(clock, t0)
            if files_only:
                analyzer = _EndsWithFile(analyzer)
                files.append(analyzer)
            session.add(analyzer)
        if on_start is not None:
            on_start(session)
        if gate is not None:
            _consent_conditions(stack, gate, config.session.withdraw_file, notice)

        async def play() -> None:
            if replay is not None:
                # the session finishes by itself at the end of the recording: its last windows
                # are published, then the sinks drain as the block is left
                await session.wait_sources()
            elif virtual:
                from wearsdk._scenario import play_script, simulated_analyzers

                assert script is not None
                if first_data is not None:
                    # a device that takes long to connect (a slow machine, a slow radio) must
                    # not miss the calm phase: the script starts when every device streams
                    timeout = config.session.connect_timeout_s
                    await _until_streaming(first_data, twin_sources, timeout)
                    first_data.close()
                start = result.script_start = clock.now()
                for twin, twin_script in zip(twins, held, strict=True):
                    twin_script.start(start - twin.started_at)
                if sim.analyzers:
                    for analyzer in simulated_analyzers(script, start, config.session.seed):
                        session.add(analyzer)
                if sim.markers or sim.contact_loss:
                    await play_script(
                        session,
                        script,
                        start,
                        twins[0],
                        markers=sim.markers,
                        contact_loss=sim.contact_loss,
                    )
                else:
                    await session.sleep(script.duration_s)
                await session.sleep(sim.settle_s)
            elif files_only:
                ended = asyncio.ensure_future(asyncio.gather(*(f.ended.wait() for f in files)))
                waits: set[asyncio.Future[Any]] = {ended}
                if config.session.duration_s is not None:
                    waits.add(asyncio.ensure_future(session.sleep(config.session.duration_s)))
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    result.files_ended = ended.done()
                finally:
                    for wait in waits:
                        wait.cancel()
                    await asyncio.gather(*waits, return_exceptions=True)
            else:
                await _run_live(session, statuses, devices, config.session)

        await play()
    # leaving the session stopped the sources, flushed the pipeline and drained the sinks
    result.messages = dict(output.counts)
    result.dropped = output.dropped
    result.sinks = session.sink_reports
    result.mqtt = None if bridge is None else bridge.stats
    return result
