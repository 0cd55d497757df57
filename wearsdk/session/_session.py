"""The Session: owns the bus, the clock, the sources and the processing, in one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

from wearsdk._clock import SessionClock
from wearsdk._errors import ConfigError, StreamClosedError
from wearsdk._events import Command, Estimate
from wearsdk._privacy import Consent, ExportPolicy, Pseudonymizer, require_consent
from wearsdk.affect import FusionConfig, LateFusion
from wearsdk.analyzers import Analyzer, AnalyzerContext
from wearsdk.bus import Bus, OverflowPolicy
from wearsdk.session._fusion import ESTIMATE_TOPIC, PHYSIO_ESTIMATE_TOPIC, run_fusion
from wearsdk.session._pipeline import PipelineConfig, run_pipeline
from wearsdk.session._source import Source, SourceContext, SourceStream

__all__ = ["EstimateStream", "Session"]

logger = logging.getLogger("wearsdk.session")


class EstimateStream(SourceStream):
    """Async iterator over the session's :class:`~wearsdk.Estimate` events.

    Ends when the session closes. Usable directly (``async for est in session.estimates()``) or
    as an async context manager that unsubscribes on exit.
    """

    async def __anext__(self) -> Estimate:
        while True:
            payload = await super().__anext__()
            if isinstance(payload, Estimate):
                return payload


class Session:
    """A wearsdk session: devices, processing and sinks sharing one clock and one bus.

    ::

        async with Session() as session:
            session.add(HeartRateStrap(transport, name="Polar H10 1234"))
            async for estimate in session.estimates():
                print(estimate.arousal, estimate.confidence)

    Everything the session starts runs in one :class:`asyncio.TaskGroup`: leaving the block
    (normally, by an error or by cancellation) cancels and awaits every source and stage, then
    closes the bus so every subscriber's iteration ends. A source that fails for good raises its
    error out of the ``async with`` block (unwrapped when it is the only one).

    Args:
        clock: the session clock (default: LSL clock, else monotonic).
        bus: the event bus (default: a new :class:`~wearsdk.bus.Bus`).
        pipeline: processing settings, or ``None`` to run no processing stage.
        pseudonymizer: maps device identities to the source ids that leave the process.
        consent: the wearer's consent record. Without one the session runs in-process only:
            sinks that record or export refuse to start (:class:`~wearsdk.ConsentError`), and
            the session logs that it is in-process only when it starts.
        fusion: late-fusion settings, or ``None`` to publish the physiological estimates
            unfused. With fusion (the default) the processing stage publishes on
            ``affect/physio`` and the fusion stage publishes on ``affect/estimate``; with no
            analyzer annotations the two are identical.
        record: record every stream and event of the session to this XDF file
            (:class:`~wearsdk.io.lsl.XdfRecorder`: crash-safe, flushed at least every second;
            needs the ``lsl`` extra and a consent record that allows recording).

    Raises:
        ConsentError: ``record`` without a consent record that allows recording.
    """

    def __init__(
        self,
        *,
        clock: SessionClock | None = None,
        bus: Bus | None = None,
        pipeline: PipelineConfig | None = PipelineConfig(),  # noqa: B008 (frozen, immutable)
        pseudonymizer: Pseudonymizer | None = None,
        consent: Consent | None = None,
        fusion: FusionConfig | None = FusionConfig(),  # noqa: B008 (frozen)
        record: str | os.PathLike[str] | None = None,
    ) -> None:
        if record is not None:
            require_consent(consent, record=True)
        self.clock: SessionClock = clock or SessionClock()
        """The session clock."""
        self.bus: Bus = bus or Bus()
        """The session's event bus."""
        self.pipeline = pipeline
        self.pseudonymizer = pseudonymizer or Pseudonymizer()
        self.consent: Consent | None = consent
        """The wearer's consent record, if any."""
        self.fusion: LateFusion | None = LateFusion(fusion) if fusion is not None else None
        """The fusion state (statistics in ``fusion.stats``), or ``None``."""
        self._analyzers: dict[str, Analyzer] = {}
        self._pending_analyzers: list[Analyzer] = []
        self.record_path: Path | None = None if record is None else Path(record)
        """The XDF file the session records to, if any."""
        self._pending: list[tuple[Source, str]] = []
        self._sources: dict[str, Source] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._tg: asyncio.TaskGroup | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether the session has been entered and not yet left."""
        return self._tg is not None

    @property
    def sources(self) -> dict[str, Source]:
        """The added sources by source id."""
        return dict(self._sources)

    def add(self, source: Source) -> str:
        """Add a source; it starts now if the session runs, else when it is entered.

        Returns:
            The source id under which it publishes (``physio/<source_id>/...``).

        Raises:
            ConfigError: a source with the same id was already added.
            StreamClosedError: the session is closed.
        """
        if self._closed:
            raise StreamClosedError("session is closed")
        source_id = source.source_id or self.pseudonymizer.pseudonym(
            source.identity, prefix=source.kind
        )
        if source_id in self._sources:
            raise ConfigError(f"a source with id {source_id!r} is already in this session")
        self._sources[source_id] = source
        if self._tg is not None:
            self._start(source, source_id)
        else:
            self._pending.append((source, source_id))
        return source_id

    def add_analyzer(self, analyzer: Analyzer) -> None:
        """Add an in-process analyzer; it starts now if the session runs, else when entered.

        Its ``run(ctx)`` gets an :class:`~wearsdk.analyzers.AnalyzerContext` on this session's
        bus and clock; what it publishes is fused with the physiological estimates.

        Raises:
            ConfigError: an analyzer with the same id was already added.
            StreamClosedError: the session is closed.
        """
        if self._closed:
            raise StreamClosedError("session is closed")
        if analyzer.analyzer_id in self._analyzers:
            raise ConfigError(f"an analyzer with id {analyzer.analyzer_id!r} is already added")
        self._analyzers[analyzer.analyzer_id] = analyzer
        if self._tg is not None:
            self._start_analyzer(analyzer)
        else:
            self._pending_analyzers.append(analyzer)

    def _start_analyzer(self, analyzer: Analyzer) -> None:
        assert self._tg is not None
        ctx = AnalyzerContext(self.bus, self.clock, analyzer.analyzer_id, analyzer.modality)
        self._tasks.append(
            self._tg.create_task(
                analyzer.run(ctx), name=f"wearsdk[{analyzer.analyzer_id}].analyzer"
            )
        )

    def _start(self, source: Source, source_id: str) -> None:
        assert self._tg is not None
        ctx = SourceContext(self.bus, self.clock, source_id)
        source.attach(ctx)
        task = self._tg.create_task(source.run(ctx), name=f"wearsdk[{source_id}].source")
        self._tasks.append(task)

    def require_consent(
        self, *, export: ExportPolicy | None = None, record: bool = False
    ) -> Consent:
        """The consent record, if it allows exporting at ``export`` / recording.

        Raises:
            ConsentError: no record, an expired one, or one that does not allow it.
        """
        return require_consent(self.consent, export=export, record=record)

    def estimates(
        self, *, maxsize: int = 1024, policy: OverflowPolicy = "drop_oldest"
    ) -> EstimateStream:
        """Iterate the :class:`~wearsdk.Estimate` events published on ``affect/estimate``."""
        return EstimateStream(self.bus.subscribe("affect/estimate", maxsize=maxsize, policy=policy))

    @contextlib.asynccontextmanager
    async def calibrate(self) -> AsyncIterator[None]:
        """Recalibrate the wearer's personal baseline while the block runs.

        ``async with session.calibrate(): await session.sleep(120)`` (the wearer at rest):
        publishes the ``calibrate_start`` and ``calibrate_stop`` commands on
        ``control/<command>`` (the same commands an MQTT client can send). The pipeline forgets
        the baseline and rebuilds it, with equal weights, from the windows it emits in between;
        windows are emitted a little after they end, so the first one or two may start before
        the block.
        """
        await self.bus.publish(
            "control/calibrate_start", Command(t=self.clock.now(), name="calibrate_start")
        )
        try:
            yield
        finally:
            if not self.bus.closed:
                self.bus.publish_nowait(
                    "control/calibrate_stop", Command(t=self.clock.now(), name="calibrate_stop")
                )

    async def sleep(self, session_seconds: float) -> None:
        """Sleep for ``session_seconds`` of session time (shorter in real time on a fast clock)."""
        await asyncio.sleep(self.clock.real_delay_s(session_seconds))

    async def __aenter__(self) -> Self:
        if self._closed or self._tg is not None:
            raise StreamClosedError("a Session can be entered once")
        self.bus.bind_loop()
        if self.consent is None:
            logger.info("no consent record: this session stays in-process only")
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        if self.record_path is not None:
            from wearsdk.io.lsl import XdfRecorder  # the lsl extra, only when recording

            recorder = XdfRecorder(self.bus, self.clock, self.record_path, consent=self.consent)
            self._tasks.append(tg.create_task(recorder.run(), name="wearsdk[session].recorder"))
        if self.pipeline is not None:
            topic = ESTIMATE_TOPIC if self.fusion is None else PHYSIO_ESTIMATE_TOPIC
            self._tasks.append(
                tg.create_task(
                    run_pipeline(self.bus, self.pipeline, estimate_topic=topic),
                    name="wearsdk[session].pipeline",
                )
            )
        if self.fusion is not None:
            self._tasks.append(
                tg.create_task(
                    run_fusion(self.bus, self.fusion.config, self.fusion),
                    name="wearsdk[session].fusion",
                )
            )
        pending, self._pending = self._pending, []
        for source, source_id in pending:
            self._start(source, source_id)
        analyzers, self._pending_analyzers = self._pending_analyzers, []
        for analyzer in analyzers:
            self._start_analyzer(analyzer)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        self._closed = True
        assert tg is not None
        for task in self._tasks:
            task.cancel()
        try:
            await tg.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            errors = [e for e in group.exceptions if not isinstance(e, asyncio.CancelledError)]
            if len(errors) == 1 and isinstance(errors[0], Exception):
                raise errors[0] from group
            raise
        finally:
            self._tasks.clear()
            self.bus.close()
