"""The Session: owns the bus, the clock, the sources, the processing and the sinks, in one
TaskGroup, and stops them in one order."""  # noqa: D205, D209

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import warnings
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from wearsdk._clock import SessionClock
from wearsdk._contracts import Analyzer, AnalyzerContext, Sink, SinkContext, SinkReport
from wearsdk._errors import ConfigError, StreamClosedError
from wearsdk._events import Command
from wearsdk._files import API_OVERWRITE_HINT
from wearsdk._privacy import Consent, ExportPolicy, Pseudonymizer, require_consent
from wearsdk.affect import FusionConfig, LateFusion
from wearsdk.bus import Bus, OverflowPolicy, Subscription
from wearsdk.session._estimates import EstimateStream
from wearsdk.session._fusion import (
    ESTIMATE_TOPIC,
    FUSION_TOPICS,
    PHYSIO_ESTIMATE_TOPIC,
    run_fusion,
)
from wearsdk.session._pipeline import PIPELINE_TOPICS, PipelineConfig, run_pipeline
from wearsdk.session._sinks import _SinkEntry, drain_sinks, session_recorder
from wearsdk.session._source import Source, SourceContext

__all__ = ["EstimateStream", "Session"]

logger = logging.getLogger("wearsdk.session")


class Session:
    """A wearsdk session: sources, analyzers, processing and sinks on one clock and one bus.

    ::

        async with Session() as session:
            session.add(HeartRateStrap(transport, name="Polar H10 1234"))
            async for estimate in session.estimates():
                print(estimate.arousal, estimate.confidence)

    Everything the session starts runs in one :class:`asyncio.TaskGroup`. Leaving the block
    normally stops it in one order: the sources and analyzers are cancelled, the processing
    and fusion stages receive what is queued and publish their last windows, the bus closes
    (every subscriber's iteration ends once its queue is received), then each sink drains
    within ``drain_timeout_s`` and says what it could not deliver
    (:attr:`sink_reports`). No step waits a fixed time. When every source added has ended by
    itself (a finite replay), the session stops its analyzers and flushes its processing, so
    :meth:`estimates` ends after the replay's last estimate (the bus stays open until the
    block is left). Leaving by an error or by
    cancellation cancels everything at once. A source that fails for good raises its error out
    of the ``async with`` block (unwrapped when it is the only one); a sink that fails is
    stopped and reported, and the rest of the session goes on.

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
            (:class:`~wearsdk.io.lsl.XdfRecorder`, added as a required sink named ``xdf``:
            crash-safe, flushed at least every second; needs the ``lsl`` extra and a consent
            record that allows recording).
        drain_timeout_s: how long the sinks may take, together, to deliver what is left when
            the session ends (the processing stage gets as long to publish its last windows).
        overwrite: replace an existing file at ``record``; else an existing file is a
            :class:`~wearsdk.ConfigError` here, before anything connects, and is left as it is.

    Raises:
        ConsentError: ``record`` without a consent record that allows recording.
        ConfigError: ``record`` exists and ``overwrite`` is false, or a bad setting.
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
        drain_timeout_s: float = 10.0,
        overwrite: bool = False,
    ) -> None:
        if record is not None:
            require_consent(consent, record=True)
            if not overwrite and Path(record).is_file():
                raise ConfigError(f"{record} exists: {API_OVERWRITE_HINT}")
        if not drain_timeout_s > 0:
            raise ConfigError(f"drain_timeout_s must be > 0, got {drain_timeout_s!r}")
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
        self.drain_timeout_s = drain_timeout_s
        self._analyzers: dict[str, Analyzer] = {}
        self._pending_analyzers: list[Analyzer] = []
        self.record_path: Path | None = None if record is None else Path(record)
        self.overwrite = overwrite
        """Whether an existing file at ``record`` is replaced."""
        """The XDF file the session records to, if any."""
        self._pending: list[tuple[Source, str]] = []
        self._sources: dict[str, Source] = {}
        self._sinks: dict[str, _SinkEntry] = {}
        self._producers: list[asyncio.Task[None]] = []  # sources and analyzers
        self._source_tasks: list[asyncio.Task[None]] = []
        self._stages: list[tuple[Subscription, asyncio.Task[None]]] = []  # pipeline, fusion
        self._late_errors: list[Exception] = []  # sources that failed while stopping
        self._finishing: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()  # the outputs are complete: nothing more will come
        self._stopping = False
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

    @property
    def sinks(self) -> dict[str, Sink]:
        """The added sinks by name."""
        return {name: entry.sink for name, entry in self._sinks.items()}

    @property
    def sink_reports(self) -> list[SinkReport]:
        """How each sink did: failures (stopped, the session went on) and undelivered counts.

        Complete once the session has been left.
        """
        return [entry.report() for entry in self._sinks.values()]

    def add(self, part: Source | Analyzer) -> str:
        """Add a source or an in-process analyzer; it starts now if the session runs, else
        when the session is entered.

        A source publishes under ``physio/<source_id>/...``. An analyzer's ``run(ctx)`` gets an
        :class:`~wearsdk.analyzers.AnalyzerContext` on this session's bus and clock; what it
        publishes is fused with the physiological estimates. (Sinks have their own options:
        :meth:`add_sink`.)

        Args:
            part: a :class:`~wearsdk.session.Source` or an
                :class:`~wearsdk.analyzers.Analyzer`.

        Returns:
            The source id (``physio/<source_id>/...``), or the analyzer's id.

        Raises:
            ConfigError: a source or analyzer with the same id was already added, or ``part``
                is neither.
            StreamClosedError: the session is closed.
        """  # noqa: D205
        if isinstance(part, Source):
            return self._add_source(part)
        if not isinstance(getattr(part, "analyzer_id", None), str) or not hasattr(part, "run"):
            raise ConfigError(f"{type(part).__name__} is neither a Source nor an Analyzer")
        self._add_analyzer(part)
        return part.analyzer_id

    def add_analyzer(self, analyzer: Analyzer) -> None:
        """Deprecated: :meth:`add` takes analyzers too.

        Raises:
            ConfigError: an analyzer with the same id was already added.
            StreamClosedError: the session is closed.
        """
        warnings.warn(
            "Session.add_analyzer(a) is deprecated: use Session.add(a)",
            DeprecationWarning,
            stacklevel=2,
        )
        self._add_analyzer(analyzer)

    def _add_source(self, source: Source) -> str:
        """Add a source (see :meth:`add`)."""
        self._check_open()
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

    def _add_analyzer(self, analyzer: Analyzer) -> None:
        """Add an analyzer (see :meth:`add`)."""
        self._check_open()
        if analyzer.analyzer_id in self._analyzers:
            raise ConfigError(f"an analyzer with id {analyzer.analyzer_id!r} is already added")
        self._analyzers[analyzer.analyzer_id] = analyzer
        if self._tg is not None:
            self._start_analyzer(analyzer)
        else:
            self._pending_analyzers.append(analyzer)

    def add_sink(self, sink: Sink, *, name: str | None = None, required: bool = False) -> str:
        """Add a sink (:class:`~wearsdk.session.Sink`); it starts now if the session runs,
        else first thing when the session is entered (before the sources).

        Args:
            sink: the sink.
            name: the name it is reported under (default: its class name, numbered when
                taken).
            required: a failure of this sink ends the session with its error (the terminal
                output of a command whose reader went away); by default a failing sink is
                stopped and reported, and the session goes on.

        Returns:
            The name it was added under.

        Raises:
            ConfigError: a sink with the same name was already added.
            StreamClosedError: the session is closed.
        """  # noqa: D205
        self._check_open()
        if name is None:
            base = type(sink).__name__
            name, n = base, 1
            while name in self._sinks:
                n += 1
                name = f"{base}-{n}"
        elif name in self._sinks:
            raise ConfigError(f"a sink named {name!r} is already in this session")
        entry = _SinkEntry(sink, name, required)
        self._sinks[name] = entry
        if self._tg is not None:
            self._start_sink(entry)
        return name

    def _check_open(self) -> None:
        if self._closed or self._stopping or self.bus.closed or self._finishing is not None:
            raise StreamClosedError("session is closed")

    def _start_analyzer(self, analyzer: Analyzer) -> None:
        assert self._tg is not None
        ctx = AnalyzerContext(self.bus, self.clock, analyzer.analyzer_id, analyzer.modality)
        self._producers.append(
            self._create_task(analyzer.run(ctx), name=f"wearsdk[{analyzer.analyzer_id}].analyzer")
        )

    def _create_task(self, run: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """A guarded task in the session's group; a group that is shutting down (a fatal error
        is stopping the session) refuses it with StreamClosedError, the coroutines closed."""  # noqa: D205, D209
        assert self._tg is not None
        guarded = self._guard(run)
        try:
            task = self._tg.create_task(guarded, name=name)
        except RuntimeError:
            guarded.close()
            run.close()
            raise StreamClosedError("session is closing") from None
        # a task cancelled before its first step (the session refused at start) never awaits
        # ``run``: close it, or Python warns that the source's run was never awaited
        task.add_done_callback(lambda _: run.close())
        return task

    def _start(self, source: Source, source_id: str) -> None:
        assert self._tg is not None
        ctx = SourceContext(self.bus, self.clock, source_id)
        source.attach(ctx)
        task = self._create_task(source.run(ctx), name=f"wearsdk[{source_id}].source")
        self._producers.append(task)
        self._source_tasks.append(task)
        task.add_done_callback(self._source_done)

    def _start_sink(self, entry: _SinkEntry) -> None:
        assert self._tg is not None
        ctx = SinkContext(self.bus, self.clock, self.consent, entry.name)
        entry.task = self._tg.create_task(
            self._run_sink(entry, ctx), name=f"wearsdk[{entry.name}].sink"
        )

    async def _guard(self, run: Coroutine[Any, Any, None]) -> None:
        """Run a source or analyzer; an error while the session stops is kept for later."""
        try:
            await run
        except Exception as exc:
            if not self._stopping:
                raise
            self._late_errors.append(exc)

    async def _run_sink(self, entry: _SinkEntry, ctx: SinkContext) -> None:
        try:
            await entry.sink.run(ctx)
        except Exception as exc:
            if entry.required:
                raise
            entry.error = exc
            logger.error("sink %s failed and was stopped: %s", entry.name, exc)

    def _source_done(self, task: asyncio.Task[None]) -> None:
        """When every source has ended by itself (finite replays), finish the outputs."""
        if self._stopping or self._tg is None or self._finishing is not None:
            return
        if task.cancelled() or task.exception() is not None:
            return
        if all(t.done() and not t.cancelled() for t in self._source_tasks):
            self._finishing = self._tg.create_task(
                self._finish_outputs(), name="wearsdk[session].finish"
            )

    async def _finish_outputs(self) -> None:
        """Stop the analyzers and flush the stages; :meth:`estimates` streams then end.

        The bus stays open until the session is left (subscribers may still read what is
        queued); the sinks drain then.
        """
        await self._stop_producers()
        await self._flush_stages(self.drain_timeout_s)
        self._finished.set()

    async def _stop_producers(self) -> None:
        for task in self._producers:
            task.cancel()
        if self._producers:
            await asyncio.wait(self._producers)

    async def _flush_stages(self, timeout_s: float) -> None:
        """The processing stages receive what is queued and publish their last windows."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        for sub, task in self._stages:
            sub.close()
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
            if not done:
                logger.warning("%s did not finish within %.1f s", task.get_name(), timeout_s)
                task.cancel()

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
        return EstimateStream(
            self.bus.subscribe("affect/estimate", maxsize=maxsize, policy=policy), self._finished
        )

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

    async def wait_sources(self) -> None:
        """Wait until every source added so far has ended (finite replays end by themselves)."""
        tasks = list(self._source_tasks)
        if tasks:
            await asyncio.wait(tasks)
        if self._finishing is not None:
            await asyncio.wait({self._finishing})

    async def __aenter__(self) -> Self:
        if self._closed or self._tg is not None:
            raise StreamClosedError("a Session can be entered once")
        self.bus.bind_loop()
        if self.consent is None:
            logger.info("no consent record: this session stays in-process only")
        if self.record_path is not None:
            self.add_sink(session_recorder(self, self.record_path), name="xdf", required=True)
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        for entry in self._sinks.values():  # first: they see everything the sources publish
            self._start_sink(entry)
        if self.pipeline is not None:
            topic = ESTIMATE_TOPIC if self.fusion is None else PHYSIO_ESTIMATE_TOPIC
            sub = self.bus.subscribe(PIPELINE_TOPICS, maxsize=8192, policy="block")
            task = tg.create_task(
                run_pipeline(self.bus, self.pipeline, estimate_topic=topic, subscription=sub),
                name="wearsdk[session].pipeline",
            )
            self._stages.append((sub, task))
        if self.fusion is not None:
            sub = self.bus.subscribe(FUSION_TOPICS, maxsize=8192, policy="block")
            task = tg.create_task(
                run_fusion(self.bus, self.fusion.config, self.fusion, subscription=sub),
                name="wearsdk[session].fusion",
            )
            self._stages.append((sub, task))
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
        tg = self._tg
        assert tg is not None
        self._closed = True
        if exc_type is None:
            try:
                await self._stop_in_order()
            except asyncio.CancelledError:
                exc_type, exc, tb = asyncio.CancelledError, None, None  # fast path below
        self._stopping = True
        self._tg = None
        for task in (*self._producers, *(t for _, t in self._stages)):
            task.cancel()
        for entry in self._sinks.values():
            if entry.task is not None:
                entry.task.cancel()
        if self._finishing is not None:
            self._finishing.cancel()
        try:
            await tg.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            errors = [e for e in group.exceptions if not isinstance(e, asyncio.CancelledError)]
            if len(errors) == 1 and isinstance(errors[0], Exception):
                raise errors[0] from group
            raise
        finally:
            self._producers.clear()
            self._source_tasks.clear()
            self.bus.close()
        if self._late_errors and exc_type is None:
            if len(self._late_errors) == 1:
                raise self._late_errors[0]
            raise ExceptionGroup("sources failed while the session stopped", self._late_errors)

    async def _stop_in_order(self) -> None:
        """Sources and analyzers stop, the stages flush, the bus closes, the sinks drain."""
        if self._finishing is not None:
            await asyncio.wait({self._finishing})
        self._stopping = True
        await self._stop_producers()
        await self._flush_stages(self.drain_timeout_s)
        self._finished.set()
        self.bus.close()
        await drain_sinks(self._sinks.values(), self.drain_timeout_s)
