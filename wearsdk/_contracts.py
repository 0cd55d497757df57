"""The contracts between a session and its parts: sources, analyzers and sinks.

A :class:`Source` feeds the session's bus (a device driver, an LSL inlet, a file replay); an
:class:`Analyzer` publishes annotations (camera, voice); a :class:`Sink` carries what the bus
carries out of the session (MQTT, LSL outlets, an XDF recording, JSON lines). The session runs
all of them in its task group and stops them in one order: sources and analyzers stop, the
processing stage flushes its last windows, sinks drain with a deadline.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from wearsdk._clock import ClockQuality, SessionClock
from wearsdk._errors import StreamClosedError
from wearsdk._events import Annotation, ClockStatus, DeviceState, DeviceStatus, Event
from wearsdk._privacy import Consent, Pseudonymizer
from wearsdk._types import SampleBlock
from wearsdk.bus import Bus, BusItem, OverflowPolicy, Subscription

__all__ = [
    "Analyzer",
    "AnalyzerContext",
    "Sink",
    "SinkContext",
    "SinkReport",
    "Source",
    "SourceContext",
    "SourceStream",
    "annotation_topic",
]


class SourceContext:
    """What a running source gets from its session: the clock, the bus and its identity.

    Topics used: ``physio/<source_id>/<stream>`` for sample blocks and per-stream events,
    ``device/<source_id>/status`` for :class:`~wearsdk.DeviceStatus`.

    Args:
        bus: the session's bus.
        clock: the session clock.
        source_id: the pseudonymous id of this source.
    """

    def __init__(self, bus: Bus, clock: SessionClock, source_id: str) -> None:
        self.bus = bus
        self.clock = clock
        self.source_id = source_id
        self._last_state: DeviceState | None = None

    def publish_block(self, block: SampleBlock) -> None:
        """Publish a sample block on ``physio/<source_id>/<block.stream>`` without waiting."""
        self.bus.publish_nowait(f"physio/{self.source_id}/{block.stream}", block)

    def publish_event(self, stream: str, event: Event) -> None:
        """Publish an event on ``physio/<source_id>/<stream>`` without waiting."""
        self.bus.publish_nowait(f"physio/{self.source_id}/{stream}", event)

    def status(
        self,
        state: DeviceState,
        *,
        detail: str | None = None,
        battery_pct: int | None = None,
        attempt: int | None = None,
    ) -> None:
        """Publish a :class:`~wearsdk.DeviceStatus` on ``device/<source_id>/status``."""
        self._last_state = state
        self.bus.publish_nowait(
            f"device/{self.source_id}/status",
            DeviceStatus(
                t=self.clock.now(),
                source=self.source_id,
                state=state,
                detail=detail,
                battery_pct=battery_pct,
                attempt=attempt,
            ),
        )

    def clock_status(self, clock: str, quality: ClockQuality) -> None:
        """Publish a :class:`~wearsdk.ClockStatus` on ``device/<source_id>/clock``."""
        self.bus.publish_nowait(
            f"device/{self.source_id}/clock",
            ClockStatus(
                t=self.clock.now(),
                source=self.source_id,
                clock=clock,
                offset_s=quality.offset_s,
                drift_ppm=quality.drift_ppm,
                jitter_s=quality.jitter_s,
                resets=quality.resets,
                observations=quality.observations,
                converged=quality.converged,
                error_bound_s=quality.error_bound_s,
                drift_sd_ppm=quality.drift_sd_ppm,
            ),
        )

    @property
    def last_state(self) -> DeviceState | None:
        """The last state this source reported."""
        return self._last_state


class SourceStream:
    """Async iterator over the payloads one source publishes on one stream.

    Yields :class:`~wearsdk.SampleBlock` and event payloads published on
    ``physio/<source_id>/<stream>`` (or on the topic given). Ends when the source's bus closes.
    Use it as an async context manager to unsubscribe early.
    """

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        """The underlying bus subscription (for ``stats``)."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> BusItem:
        try:
            return (await self.subscription.receive()).payload
        except StreamClosedError:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.subscription.close()


class Source(ABC):
    """Something that feeds a :class:`~wearsdk.Session`: a device driver, an inlet, a replay.

    Subclasses implement :meth:`run`, which publishes through the context until it is cancelled
    (or the source ends by itself, e.g. a finite replay), and :attr:`identity`.

    A source also works on its own, without a session: ``async with`` runs it on a private bus
    and session clock and returns once it reports ``connected``; :meth:`stream` then iterates
    what it publishes::

        async with HeartRateStrap(transport, name="Polar H10 1234") as strap:
            async with strap.stream("rr") as rr:
                async for block in rr:
                    ...
    """

    _ctx: SourceContext | None = None
    _standalone: tuple[asyncio.Task[None], Bus] | None = None

    @property
    @abstractmethod
    def identity(self) -> str:
        """A stable identifying string (address, serial). Stays in-process: the session only
        publishes its keyed pseudonym."""  # noqa: D205, D209

    @property
    def kind(self) -> str:
        """A short lowercase label used as the pseudonym prefix (``hr``, ``ecg``, ``eda``)."""
        return "dev"

    @property
    def source_id(self) -> str | None:
        """An explicit source id chosen by the user, or ``None`` to use a pseudonym."""
        return None

    @abstractmethod
    async def run(self, ctx: SourceContext) -> None:
        """Acquire and publish until cancelled; release every resource on the way out."""

    def attach(self, ctx: SourceContext) -> None:
        """Remember the context this source runs in, so that :meth:`stream` can find its bus.

        Called by the session (and by standalone entry) before :meth:`run`.
        """
        self._ctx = ctx

    @property
    def context(self) -> SourceContext | None:
        """The context the source runs in, once it runs."""
        return self._ctx

    def stream(
        self, stream: str, *, maxsize: int = 1024, policy: OverflowPolicy = "drop_oldest"
    ) -> SourceStream:
        """Iterate what this source publishes on ``stream`` (``hr``, ``rr``, ``ecg``...).

        Works while the source runs, in a session or on its own.

        Raises:
            StreamClosedError: the source is not running.
        """
        if self._ctx is None:
            raise StreamClosedError("the source is not running: add it to a session or enter it")
        topic = f"physio/{self._ctx.source_id}/{stream}"
        return SourceStream(self._ctx.bus.subscribe(topic, maxsize=maxsize, policy=policy))

    def status_stream(self, *, maxsize: int = 256) -> SourceStream:
        """Iterate this source's :class:`~wearsdk.DeviceStatus` events."""
        if self._ctx is None:
            raise StreamClosedError("the source is not running: add it to a session or enter it")
        return SourceStream(
            self._ctx.bus.subscribe(f"device/{self._ctx.source_id}/status", maxsize=maxsize)
        )

    async def __aenter__(self) -> Self:
        if self._standalone is not None or self._ctx is not None:
            raise StreamClosedError("this source is already running")
        bus = Bus()
        bus.bind_loop()
        source_id = self.source_id or Pseudonymizer().pseudonym(self.identity, prefix=self.kind)
        ctx = SourceContext(bus, SessionClock(), source_id)
        self._ctx = ctx
        status = bus.subscribe(f"device/{source_id}/status", maxsize=64)
        task = asyncio.create_task(self.run(ctx), name=f"wearsdk[{source_id}].source")
        self._standalone = (task, bus)
        try:
            while True:
                getter = asyncio.ensure_future(status.receive())
                done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    getter.cancel()
                    task.result()  # raises the source's error
                    raise StreamClosedError("the source ended before it connected")
                payload = getter.result().payload
                if isinstance(payload, DeviceStatus) and payload.state == "connected":
                    break
        except BaseException:
            await self._stop_standalone()
            raise
        finally:
            status.close()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        error = await self._stop_standalone()
        if error is not None and exc is None:
            raise error

    async def _stop_standalone(self) -> BaseException | None:
        """Stop the private run; return the error it ended with, if any (not cancellation)."""
        standalone, self._standalone = self._standalone, None
        self._ctx = None
        if standalone is None:
            return None
        task, bus = standalone
        task.cancel()
        error: BaseException | None = None
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as e:
            error = e
        finally:
            bus.close()
        return error


def annotation_topic(annotation: Annotation) -> str:
    """The bus topic of an annotation: ``analyzer/<modality>/<analyzer_id>``."""
    return f"analyzer/{annotation.modality}/{annotation.analyzer_id}"


class AnalyzerContext:
    """What a running analyzer gets from its session: the bus, the clock, a publish helper.

    Args:
        bus: the session's bus.
        clock: the session clock.
        analyzer_id: the analyzer's id (default for :meth:`publish`).
        modality: the analyzer's modality (default for :meth:`publish`).
    """

    def __init__(self, bus: Bus, clock: SessionClock, analyzer_id: str, modality: str) -> None:
        self.bus = bus
        self.clock = clock
        self.analyzer_id = analyzer_id
        self.modality = modality
        self.published = 0
        """Annotations published through this context."""

    def now(self) -> float:
        """The current session time."""
        return self.clock.now()

    async def sleep(self, session_seconds: float) -> None:
        """Sleep for ``session_seconds`` of session time (shorter on a fast clock)."""
        await asyncio.sleep(max(0.0, self.clock.real_delay_s(session_seconds)))

    def publish(
        self,
        start: float,
        end: float,
        *,
        arousal: float | None = None,
        valence: float | None = None,
        confidence: float = 1.0,
        emotions: dict[str, float] | None = None,
        label: str | None = None,
        extras: dict[str, Any] | None = None,
    ) -> Annotation:
        """Build an :class:`~wearsdk.Annotation` of this analyzer and publish it.

        Args:
            start: session time where the judged span starts.
            end: session time where it ends (also the annotation's ``t``).
            arousal: arousal in [0, 1].
            valence: valence in [-1, 1].
            confidence: the analyzer's confidence in [0, 1].
            emotions: categorical emotion probabilities.
            label: a free text label.
            extras: free-form JSON-serialisable extras.

        Returns:
            The published annotation.

        Raises:
            pydantic.ValidationError: a value out of its documented range.
        """
        annotation = Annotation(
            t=end,
            modality=self.modality,
            analyzer_id=self.analyzer_id,
            start=start,
            end=end,
            arousal=arousal,
            valence=valence,
            confidence=confidence,
            emotions=emotions or {},
            label=label,
            extras=extras or {},
        )
        self.publish_annotation(annotation)
        return annotation

    def publish_annotation(self, annotation: Annotation) -> None:
        """Publish a ready annotation on ``analyzer/<modality>/<analyzer_id>`` without waiting."""
        self.bus.publish_nowait(annotation_topic(annotation), annotation)
        self.published += 1


@runtime_checkable
class Analyzer(Protocol):
    """An in-process analyzer (camera, voice, text...): add it with ``session.add``.

    The session runs ``await analyzer.run(ctx)`` in its task group; the analyzer publishes
    :class:`~wearsdk.Annotation` events through ``ctx.publish`` (times on ``ctx.clock``) until
    it returns or is cancelled when the session ends. Blocking work (a model's inference)
    belongs in ``asyncio.to_thread``, never on the event loop.
    """

    analyzer_id: str
    """Which analyzer this is (used in topics and in fused estimates' ``sources``)."""
    modality: str
    """``face``, ``voice``, ``text`` or another modality name."""

    async def run(self, ctx: AnalyzerContext) -> None:
        """Analyse and publish until done or cancelled."""
        ...


class SinkContext:
    """What a running sink gets from its session: the bus, the clock, the consent record.

    Args:
        bus: the session's bus.
        clock: the session clock.
        consent: the wearer's consent record, if any (sinks that export or record check it).
        name: the name the session reports the sink under.
    """

    def __init__(self, bus: Bus, clock: SessionClock, consent: Consent | None, name: str) -> None:
        self.bus = bus
        self.clock = clock
        self.consent = consent
        self.name = name


@runtime_checkable
class Sink(Protocol):
    """Something that carries what the session's bus carries out of it.

    The MQTT bridge (:class:`~wearsdk.io.mqtt.MqttBridge`), the LSL outlets
    (:class:`~wearsdk.io.lsl.LslOutlets`), the XDF recorder
    (:class:`~wearsdk.io.lsl.XdfRecorder`) and the JSON-lines writer
    (:class:`~wearsdk.session.JsonLinesSink`) are sinks; add one with ``session.add_sink``.

    The session runs ``await sink.run(ctx)`` in its task group, started before any source so
    that a sink subscribing in its first step sees everything. When the session ends it stops
    the sources, lets the processing stage publish its last windows, closes the bus (every
    subscription ends once its queue is received) and calls ``await sink.drain(timeout_s)``:
    the sink delivers what it took from the bus and returns how many messages it could not
    deliver within ``timeout_s`` (0: everything left). Then ``run`` is cancelled if it has not
    returned. A sink whose ``run`` fails is stopped and reported in
    :attr:`~wearsdk.session.Session.sink_reports`; the sources, the processing and the other
    sinks go on (unless it was added with ``required=True``).
    """

    async def run(self, ctx: SinkContext) -> None:
        """Deliver what the bus carries until the bus closes or the task is cancelled."""
        ...

    async def drain(self, timeout_s: float) -> int:
        """After the bus closed: deliver what is left; return how many messages were not."""
        ...


@dataclass(frozen=True, slots=True)
class SinkReport:
    """How a sink of a session ended.

    Attributes:
        name: the name it was added under.
        undelivered: messages it took from the bus but could not deliver by the deadline.
        error: why it failed, if it did (it was stopped; the session went on).
    """

    name: str
    undelivered: int = 0
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether it delivered everything and did not fail."""
        return self.error is None and self.undelivered == 0

    def describe(self) -> str:
        """One line for a person: what went wrong, or that nothing did."""
        if self.error is not None:
            return f"{self.name} failed: {self.error or type(self.error).__name__}"
        if self.undelivered:
            return f"{self.name}: {self.undelivered} messages were not delivered"
        return f"{self.name}: everything delivered"
