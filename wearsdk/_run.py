"""Run a session described by a :class:`~wearsdk._config.SessionConfig` (``wearsdk run``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.metadata
import inspect
import signal
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wearsdk._clock import ScaledClock, SessionClock
from wearsdk._config import (
    DeviceEntry,
    FaceAnalyzerEntry,
    FileAnalyzer,
    JsonlSink,
    LslAnalyzer,
    LslSink,
    LslSource,
    MqttAnalyzers,
    MqttSink,
    PipelineSection,
    ReplaySource,
    SessionConfig,
    SessionSection,
    VoiceAnalyzerEntry,
)
from wearsdk._errors import ConfigError, DeviceNotFoundError, WearError
from wearsdk._events import DeviceStatus
from wearsdk._files import check_output
from wearsdk._privacy import Consent, ConsentGate, ExportPolicy, Pseudonymizer, require_consent
from wearsdk._scenario import play_script, simulated_analyzers
from wearsdk.affect import load_arousal_params
from wearsdk.analyzers import (
    Analyzer,
    AnalyzerContext,
    AnnotationReplay,
    FaceAnalyzer,
    FileAnnotations,
    VoiceAnalyzer,
    read_openface_csv,
    read_pyfeat_csv,
    read_table,
)
from wearsdk.bus import Message, OverflowPolicy, Subscription
from wearsdk.io.ble import parse_transport
from wearsdk.io.mqtt import MqttBridge, MqttStatistics, resolve_mqtt_config
from wearsdk.session import (
    JsonLinesSink,
    MessageSink,
    PipelineConfig,
    Session,
    Sink,
    SinkContext,
    SinkReport,
    Source,
)
from wearsdk.sim import ArousalScript, HeartSimulator

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
        script_start: with virtual devices, the session time at which the script started.
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


class _EndsWithFile:
    """An analyzer of a file (a video), with an event set when it has analysed all of it."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.analyzer_id = analyzer.analyzer_id
        self.modality = analyzer.modality
        self.ended = asyncio.Event()

    async def run(self, ctx: AnalyzerContext) -> None:
        await self.analyzer.run(ctx)
        self.ended.set()  # not on an error or a cancellation: the session ends otherwise


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


def _consent(config: SessionConfig) -> Consent | None:
    """The wearer's consent when data leaves the process or is recorded, checked for each use.

    The record of an exporting sink, else the session's; with virtual devices and none given,
    the simulated wearer's (allowing the widest export asked for). ``None`` when nothing is
    exported or recorded.

    Raises:
        ConsentError: no record, or one that does not allow an export or the recording.
    """
    exports = [s for s in config.sinks if isinstance(s, MqttSink | LslSink)]
    record = config.session.record is not None
    if not exports and not record:
        return None
    path = next((s.consent for s in exports if s.consent is not None), config.session.consent)
    consent: Consent | None = None
    if path is not None:
        consent = Consent.load(path)
    elif config.session.transport == "virtual":
        widest = max((ExportPolicy(s.export) for s in exports), key=lambda p: p.rank, default=None)
        consent = Consent.simulated_participant(export=widest or ExportPolicy.ESTIMATES)
    for sink in exports:
        require_consent(consent, export=ExportPolicy(sink.export))
    return require_consent(consent, record=record)


def _check_outputs(config: SessionConfig) -> None:
    """The files the session writes, checked before anything connects.

    Raises:
        ConfigError: one exists (without ``overwrite``) or cannot be created.
    """
    overwrite = config.session.overwrite
    if config.session.record is not None:
        check_output(config.session.record, overwrite=overwrite, what="the recording")
    for i, sink in enumerate(config.sinks):
        if isinstance(sink, JsonlSink):
            check_output(sink.path, overwrite=overwrite, what=f"sinks[{i}] (jsonl)")
    if config.session.report is not None:
        for path in (config.session.report, config.session.report.with_suffix(".html")):
            check_output(path, overwrite=overwrite, what="the report")


async def _until_connected(
    statuses: Subscription, devices: dict[str, str], timeout_s: float
) -> None:
    """Return once every device has connected; raise when one has not within ``timeout_s``.

    Args:
        statuses: a subscription to ``device/+/status``.
        devices: what each source id is, for the message (``heart-rate 'Strap'``).
        timeout_s: real seconds.

    Raises:
        DeviceNotFoundError: a device never connected; the message names it and the last
            reason an attempt failed.
    """
    waiting = dict(devices)
    reasons: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout_s):
            while waiting:
                message = await statuses.receive()
                status = message.payload
                if not isinstance(status, DeviceStatus) or status.source not in waiting:
                    continue
                if status.state == "connected":
                    del waiting[status.source]
                elif status.detail and status.state in ("reconnecting", "failed"):
                    reasons[status.source] = status.detail  # why the last attempt failed
    except TimeoutError:
        source, what = next(iter(waiting.items()))
        if what.startswith("LSL"):
            hint = "no stream matches it; is its outlet running, on this network?"
        else:
            hint = "no answer; check that it is on and in range, and the driver"
        reason = reasons.get(source, hint)
        raise DeviceNotFoundError(
            what, f"{what} not connected within {timeout_s:g} s; last attempt: {reason}"
        ) from None


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

    def start(
        entry: FileAnalyzer | VoiceAnalyzerEntry | FaceAnalyzerEntry, clock: SessionClock, t0: float
    ) -> float:
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
        elif isinstance(entry, FaceAnalyzerEntry):
            for p in (entry.video, entry.model):
                if p is not None and not p.is_file():
                    raise ConfigError(f"analyzers[{i}]: {p}: no such file")

            def face(clock: SessionClock, t0: float, e: FaceAnalyzerEntry = entry) -> Analyzer:
                return FaceAnalyzer(
                    camera=e.camera,
                    video=e.video,
                    model_path=e.model,
                    analyzer_id=e.analyzer_id,
                    max_faces=e.max_faces,
                    span_s=e.span_s,
                    paced=e.paced,
                    start=start(e, clock, t0) if e.video is not None else None,
                )

            out.append(face)
    return out


def _load_analyzer_libraries(config: SessionConfig) -> None:
    """Import what the analyzers need once per process, before the session starts (blocking).

    openSMILE takes seconds to import and to build its extractor (cached for the process),
    MediaPipe seconds to import: done while the analyzers' clock runs, a paced analysis that
    starts ``start_s`` into the session would start late, or not before a short session ends.
    """
    if any(isinstance(a, VoiceAnalyzerEntry) for a in config.analyzers):
        from wearsdk.signals import opensmile_available

        opensmile_available()  # builds and caches the eGeMAPS extractor when installed
    if any(isinstance(a, FaceAnalyzerEntry) for a in config.analyzers):
        # the missing extra is said before anything else (a model download, a device)
        try:
            import cv2  # noqa: F401
            import mediapipe  # noqa: F401
        except ImportError:
            raise ConfigError(
                "the face analyzer needs the face extra: pip install 'wearsdk[face]'"
            ) from None


def _mqtt(
    config: SessionConfig, session: Session, consent: ConsentGate | None
) -> MqttBridge | None:
    """One bridge for the MQTT sink (export) and the remote analyzers (inbound)."""
    sink = next((s for s in config.sinks if isinstance(s, MqttSink)), None)
    remote = next((a for a in config.analyzers if isinstance(a, MqttAnalyzers)), None)
    if sink is None and remote is None:
        return None
    if sink is not None and sink.session is not None:
        session_id = sink.session
    elif remote is not None:
        session_id = remote.session or config.session.name
    else:
        record = consent.consent if consent is not None else None
        participant = record.participant if record is not None else "unknown"
        session_id = Pseudonymizer().pseudonym(participant, prefix="s")
    url = sink.url if sink is not None else remote.url if remote is not None else None
    assert url is not None  # the file's validation guarantees one
    ca_file = (sink.ca_file if sink is not None else None) or (remote.ca_file if remote else None)
    credentials: dict[str, Any] = {}
    if sink is not None:
        credentials = {"username": sink.username, "password": sink.password}
    mqtt = resolve_mqtt_config(
        url,
        session_id,
        password_file=sink.password_file if sink is not None else None,
        **credentials,
        policy=ExportPolicy(sink.export) if sink is not None else ExportPolicy.ESTIMATES,
        ca_file=None if ca_file is None else str(ca_file),
        qos={
            "estimate": sink.qos_estimate if sink is not None else 1,
            "status": 1,
            "features": 1,
            "annotation": 1,
            "samples": 0,
        },
        subscribe_inbound=remote is not None or (sink is not None and sink.inbound),
        clock_responder=remote is not None or (sink is not None and sink.inbound),
    )
    if sink is None:  # remote analyzers only: a bridge that receives and exports nothing
        return MqttBridge(session.bus, session.clock, mqtt, consent=None, topics=())
    return MqttBridge(session.bus, session.clock, mqtt, consent=consent)


def _pipeline(section: PipelineSection) -> PipelineConfig:
    levels = None
    if section.stress_min_dwell_s is not None:
        shipped = load_arousal_params().stress_levels
        levels = dataclasses.replace(shipped, min_dwell_s=section.stress_min_dwell_s)
    return PipelineConfig(
        window_s=section.window_s,
        hop_s=section.hop_s,
        baseline_s=section.baseline_s,
        min_coverage=section.min_coverage,
        publish_clean=section.publish_clean,
        stress_levels=levels,
    )


def _replay(entry: ReplaySource) -> tuple[Source, SessionClock]:
    """The replay source and the clock it runs on (the recording's times)."""
    speed = entry.speed or None
    if entry.kind == "xdf":
        from wearsdk.drivers.lsl import XdfReplay  # the lsl extra, only for XDF files

        xdf = XdfReplay(entry.path, speed=speed, duration_s=entry.duration_s)
        return xdf, xdf.clock()
    from wearsdk.drivers.e4 import E4Replay, load_e4_session

    e4 = E4Replay(load_e4_session(entry.path), speed=speed, duration_s=entry.duration_s)
    # session time runs with the replay (at full speed: stands at the data published last, so
    # status events are on the recording's time line too) and maps onto its unix times
    return e4, e4.clock()


def _lsl_outlets(
    sink: LslSink, session: Session, consent: ConsentGate | None, replay: bool
) -> Sink:
    import pylsl

    from wearsdk.io.lsl import LslOutlets  # the lsl extra, only when asked for

    # a replay runs on the recording's times: re-stamped onto the LSL clock of now
    offset = pylsl.local_clock() - session.clock.now() if replay else 0.0
    return LslOutlets(
        session.bus, consent=consent, policy=ExportPolicy(sink.export), time_offset_s=offset
    )


async def _run_live(
    session: Session,
    statuses: Subscription,
    devices: dict[str, str],
    section: SessionSection,
) -> None:
    """Run a live session for its duration (or until interrupted), watching that every
    device connects within ``connect_timeout_s``.

    Raises:
        DeviceNotFoundError: a device did not connect in time, or the session ended before
            it did.
    """  # noqa: D205
    until: Any = (
        asyncio.Event().wait() if section.duration_s is None else session.sleep(section.duration_s)
    )
    if not devices or not section.connect_timeout_s:
        await until
        return
    watch = asyncio.ensure_future(_until_connected(statuses, devices, section.connect_timeout_s))
    main = asyncio.ensure_future(until)
    try:
        await asyncio.wait({watch, main}, return_when=asyncio.FIRST_COMPLETED)
        if watch.done():
            watch.result()  # raises when a device did not connect in time
            await main
        elif main.done():
            main.result()
            raise DeviceNotFoundError(
                next(iter(devices.values())),
                f"the session ended before every device connected ({', '.join(devices.values())})",
            )
    finally:
        for task in (watch, main):
            task.cancel()
        await asyncio.gather(watch, main, return_exceptions=True)


class _UntilDrained:
    """A sink that runs until cancelled (the MQTT bridge), ended once it has drained (instead
    of holding the session's end until the drain deadline)."""  # noqa: D205, D209

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._task: asyncio.Task[Any] | None = None
        self._ended = False

    async def run(self, ctx: SinkContext) -> None:
        # in this task: the sink subscribes before any source runs, as the session promises
        self._task = asyncio.current_task()
        try:
            await self.sink.run(ctx)
        except asyncio.CancelledError:
            if not self._ended:
                raise
            assert self._task is not None
            self._task.uncancel()  # ended by drain(): a normal end

    async def drain(self, timeout_s: float) -> int:
        try:
            return await self.sink.drain(timeout_s)
        finally:
            # a sink that runs until cancelled (the MQTT bridge) ends once it has drained
            if self._task is not None and not self._task.done():
                self._ended = True
                self._task.cancel()


def _consent_conditions(
    stack: contextlib.AsyncExitStack,
    gate: ConsentGate,
    withdraw_file: Path | None,
    notice: Callable[[str], None] | None,
) -> None:
    """Watch the gate while the session runs: its expiry, ``SIGUSR1`` and the withdrawal
    file withdraw; ``notice`` is told once when it closes."""  # noqa: D205, D209
    if notice is not None:
        gate.on_close(
            lambda reason: notice(
                f"consent {reason}: export and recording stopped; the session goes on"
            )
        )
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(gate.wait_closed(), name="wearsdk[consent].expiry")]
    if withdraw_file is not None:
        tasks.append(asyncio.create_task(gate.watch(withdraw_file), name="wearsdk[consent].file"))
    try:
        loop.add_signal_handler(signal.SIGUSR1, gate.withdraw, "SIGUSR1")
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
        pass
    else:
        stack.callback(loop.remove_signal_handler, signal.SIGUSR1)

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    stack.push_async_callback(stop)


@contextlib.contextmanager
def _quiet_cancelled_hci_commands() -> Iterator[None]:
    """Drop bumble's ``InvalidStateError`` for an HCI command whose waiter was cancelled.

    When a session ends early (a sink's fatal error, Ctrl-C) while a virtual twin or its
    central waits for an HCI command, the controller's answer arrives after the wait was
    cancelled and bumble (0.0.236) sets the result of the cancelled future: asyncio would log
    a traceback for an answer nobody waits for. Every other loop error is passed on.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.InvalidStateError) and (
            "Host.on_packet" in repr(context.get("handle"))
        ):
            return
        if previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


async def run_session(
    config: SessionConfig,
    emit: Callable[[Message, SessionClock], None] | None = None,
    *,
    on_start: Callable[[Session], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> RunResult:
    """Run a session: the one runner of ``demo``, ``stream``, ``record``, ``replay``, ``run``.

    The devices (virtual twins on an in-process link with ``transport = "virtual"``), the
    other sources (LSL streams, a replay) and the analyzers feed one
    :class:`~wearsdk.session.Session`; the terminal output (``emit``), the JSON-lines files,
    MQTT, LSL outlets and the XDF recording are its sinks. It ends after
    ``session.duration_s`` (plus the simulation's script and ``settle_s``), at the end of a
    replay, or when cancelled; leaving the session flushes the processing and drains the
    sinks.

    Args:
        config: the validated session.
        emit: called with every bus message (the terminal view), inside the session: an
            error it raises (the reader went away) ends the session with that error.
        on_start: called with the running session once its sources are added.
        notice: told, once, what a person should know while the session goes on (the
            consent expired or was withdrawn: export and recording stopped).

    Returns:
        Counts of what went over the bus, and how each sink ended.

    Raises:
        ConfigError: a device option the driver does not take, an unknown twin, an analyzer
            file that cannot be read as its format (read before anything connects).
        ConsentError: an export or a recording without a consent record (real devices),
            or with one that does not allow it.
        MqttAuthError: the broker refused the credentials (at once, the session ended).
        MqttTlsError: the broker's certificate did not verify (at once, the session ended).
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

        config.session.record.parent.mkdir(parents=True, exist_ok=True)
        recorder = XdfRecorder(session.bus, clock, config.session.record, consent=gate)
        # a recording that fails (a full disk) is reported and stopped; the session goes on
        session.add_sink(recorder, name="xdf")
    result = RunResult()
    # a replay waits for its output instead of losing messages
    policy: OverflowPolicy = "block" if replay is not None else "drop_oldest"
    output = MessageSink(
        None if emit is None else lambda message, ctx: emit(message, ctx.clock), policy=policy
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
        session.add_sink(_UntilDrained(bridge), name="mqtt", required=True)

    sim = config.simulation
    async with contextlib.AsyncExitStack() as stack:
        transport: Any = None
        twins = []
        script = ArousalScript.calm_stress_recovery(config.session.duration_s or 60.0)
        if virtual:
            from wearsdk.io.ble import VirtualLink  # bumble: only for virtual devices

            stack.enter_context(_quiet_cancelled_hci_commands())
            link = await stack.enter_async_context(VirtualLink())
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
            # the twins advertise before the session starts: a session that ends at once (a
            # sink's fatal error) must not cancel them in the middle of an HCI command, which
            # bumble does not survive cleanly
            for twin in twins:
                await stack.enter_async_context(twin)
        elif config.devices:  # LSL inputs and replays alone need no Bluetooth transport
            transport = await stack.enter_async_context(parse_transport(config.session.transport))
        await stack.enter_async_context(session)
        statuses = session.bus.subscribe("device/+/status", maxsize=256, policy="drop_oldest")
        stack.callback(statuses.close)
        devices: dict[str, str] = {}
        await asyncio.sleep(0)  # the sinks take their first step (subscribe) before we publish
        for i, entry in enumerate(config.devices):
            source_id = session.add(_driver(entry, transport, i))
            result.sources.append(source_id)
            devices[source_id] = f"{entry.driver} device {entry.name or entry.address!r}"
        for src in config.sources:
            if isinstance(src, LslSource):
                from wearsdk.drivers.lsl import LslInlet  # the lsl extra, only when asked for

                source_id = session.add(LslInlet(src.query))
                result.sources.append(source_id)
                devices[source_id] = f"LSL stream {src.query!r}"
        if replay is not None:
            result.sources.append(session.add(replay_source))
        for lsl in (a for a in config.analyzers if isinstance(a, LslAnalyzer)):
            from wearsdk.drivers.lsl import LslInlet  # the lsl extra, only when asked for

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
            session.add_analyzer(analyzer)
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
                start = result.script_start = clock.now()
                if sim.analyzers:
                    for analyzer in simulated_analyzers(script, start, config.session.seed):
                        session.add_analyzer(analyzer)
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
