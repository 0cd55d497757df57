"""The parts of a configured session, built from its :class:`~wearsdk._config.SessionConfig`:
drivers, analyzers, the MQTT bridge, the pipeline, a replay and LSL outlets."""  # noqa: D205, D209

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import inspect
import wave
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from wearsdk._clock import SessionClock
from wearsdk._config import (
    DeviceEntry,
    FaceAnalyzerEntry,
    FileAnalyzer,
    LslSink,
    MqttAnalyzers,
    MqttSink,
    PipelineSection,
    ReplaySource,
    SessionConfig,
    VoiceAnalyzerEntry,
)
from wearsdk._errors import ConfigError, WearError
from wearsdk._privacy import ConsentGate, ExportPolicy, Pseudonymizer
from wearsdk.affect import load_arousal_params
from wearsdk.session import (
    PipelineConfig,
    Session,
    Sink,
    Source,
)

if TYPE_CHECKING:  # the analyzers and MQTT are imported when a session has them
    from wearsdk.analyzers import Analyzer, AnalyzerContext, FileAnnotations
    from wearsdk.io.mqtt import MqttBridge
    from wearsdk.signals import EdaOptions


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


def _read_annotations(entry: FileAnalyzer, index: int) -> FileAnnotations:
    from wearsdk.analyzers import read_openface_csv, read_pyfeat_csv, read_table

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
    if not config.analyzers:
        return out
    from wearsdk.analyzers import AnnotationReplay, FaceAnalyzer, VoiceAnalyzer

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
    from wearsdk.io.mqtt import MqttBridge, resolve_mqtt_config

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
        stale_s=section.stale_s,
        publish_clean=section.publish_clean,
        stress_levels=levels,
        eda_options=cast("EdaOptions", section.eda_options()) or None,
    )


def _replay(entry: ReplaySource) -> tuple[Source, SessionClock]:
    """The replay source and the clock it runs on (the recording's times).

    The source is the ``wearsdk.sources`` entry point named by the format (``xdf``, ``e4``);
    session time runs with the replay (at full speed it stands at the data published last,
    so status events are on the recording's time line too) and maps onto its unix times.
    """
    try:
        cls = _entry("wearsdk.sources", entry.kind)
    except ConfigError:  # metadata of an older install (a stale egg-info): the built-in ones
        from wearsdk.io import sources

        cls = getattr(sources, {"xdf": "XdfReplay", "e4": "E4Replay"}[entry.kind])
    replay = cls(entry.path, speed=entry.speed or None, duration_s=entry.duration_s)
    return replay, replay.clock()


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
