"""Any LSL stream as a session source."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

import numpy as np
import numpy.typing as npt
import pylsl

from wearsdk._contracts import Source, SourceContext
from wearsdk._errors import ConfigError
from wearsdk._events import Annotation, Gap
from wearsdk._types import SampleBlock
from wearsdk.io._wire import annotation_from_marker
from wearsdk.io.lsl import (
    AdaptivePoll,
    ChunkPuller,
    LslClockMap,
    Route,
    StreamQuery,
    channels_of,
    resolve_streams,
    route_channels,
)

__all__ = ["LslInlet"]

logger = logging.getLogger("wearsdk.io.sources.lsl")


class LslInlet(Source):
    """Reads one LSL stream into a session: numeric streams as sample blocks, markers as
    annotations.

    Resolution runs in a worker thread. Samples are pulled with ``pull_chunk(timeout=0.0)`` into
    a buffer allocated once, on an adaptive schedule (:class:`~wearsdk.io.lsl.AdaptivePoll`:
    at most ``max_latency_s`` between pulls, at once when a pull filled the buffer), so the
    event loop never waits on liblsl. Remote timestamps are mapped onto the session clock with
    LSL's ``time_correction()``, measured when the stream opens and every
    ``clock_correction_s`` seconds after (as LabRecorder does), through
    :class:`~wearsdk.io.lsl.LslClockMap`.

    Channels are routed by their metadata (:func:`~wearsdk.io.lsl.route_channels`): an ``ECG``
    stream (or ``ECG``-typed channels of a mixed stream) goes to ``physio/<source>/ecg`` in
    ``uV``, ``EDA``/``GSR`` to ``eda`` in ``uS``, ``RR``/``IBI`` to ``rr`` in seconds, ``PPG``
    to ``bvp``, so the session's pipeline processes them like a device's. A cleaned stream
    published by wearsdk (``desc/wearsdk/derived_from``, e.g. ``ecg_clean`` of type ``ECG``)
    keeps its stream name, so it is never taken for raw input. A string stream (e.g.
    type ``Markers``) gives one :class:`~wearsdk.Annotation` per sample on
    ``analyzer/<modality>/<analyzer id>``: a plain marker becomes a label (``modality="marker"``);
    a JSON object in the analyzer contract (:class:`~wearsdk.io.MarkerAnnotation`: arousal,
    valence, confidence, emotions, span) becomes that annotation, so an analyzer can publish
    over LSL and be fused. Invalid JSON annotations are counted in ``malformed`` and dropped.

    Stream loss: the inlet is opened without LSL's silent recovery; when liblsl reports the
    stream lost (or a regular stream stays silent for ``stale_after_s``) the source reports
    ``disconnected``, re-resolves the same query until the stream is back, and publishes a
    :class:`~wearsdk.Gap` (``reason="stream_lost"``) from the last sample before the loss to
    the first one after it, on every routed stream.

    Args:
        query: which stream (a :class:`~wearsdk.io.lsl.StreamQuery` or its text form,
            ``"type=ECG"``, ``"name=H10,type=ECG"``).
        stream: force the wearsdk stream name (for a single-route stream).
        source_id: explicit source id (default: a pseudonym of the query).
        resolve_timeout_s: seconds per resolution attempt.
        max_latency_s: longest wait between pulls (latency added by polling).
        clock_correction_s: interval between ``time_correction()`` measurements.
        stale_after_s: a regular stream silent this long is treated as lost (0: never).
        max_buffer_s: seconds of data liblsl buffers while the session is busy.

    Raises:
        ConfigError: invalid settings or an empty query.
    """  # noqa: D205

    def __init__(
        self,
        query: StreamQuery | str,
        *,
        stream: str | None = None,
        source_id: str | None = None,
        resolve_timeout_s: float = 2.0,
        max_latency_s: float = 0.05,
        clock_correction_s: float = 5.0,
        stale_after_s: float = 5.0,
        max_buffer_s: int = 360,
    ) -> None:
        self.query = query if isinstance(query, StreamQuery) else StreamQuery.parse(query)
        self.query.xpath()  # validates
        if not (resolve_timeout_s > 0 and max_latency_s > 0 and clock_correction_s > 0):
            raise ConfigError("LslInlet timeouts and intervals must be > 0")
        self.forced_stream = stream
        self._source_id = source_id
        self.resolve_timeout_s = resolve_timeout_s
        self.max_latency_s = max_latency_s
        self.clock_correction_s = clock_correction_s
        self.stale_after_s = stale_after_s
        self.max_buffer_s = max_buffer_s
        self.clock_map = LslClockMap()
        """The remote-to-local clock map of the current connection."""
        self.samples = 0
        """Samples received so far."""
        self.losses = 0
        """How many times the stream was lost."""
        self.malformed = 0
        """Marker samples dropped because their JSON annotation was invalid."""
        self.routes: list[Route] = []
        """How the stream's channels are routed (known once connected)."""
        self.poll: AdaptivePoll | None = None
        """The polling schedule of the current connection."""
        self._last_t: float | None = None

    @property
    def identity(self) -> str:
        """The query (stays in-process)."""
        return f"lsl:{self.query.xpath()}"

    @property
    def kind(self) -> str:
        """Pseudonym prefix: ``lsl``."""
        return "lsl"

    @property
    def source_id(self) -> str | None:
        """The explicit source id, if one was given."""
        return self._source_id

    async def _find(self, ctx: SourceContext) -> pylsl.StreamInfo:
        attempt = 0
        while True:
            infos = await resolve_streams(self.query, timeout_s=self.resolve_timeout_s)
            if infos:
                return infos[0]
            attempt += 1
            ctx.status("reconnecting" if self.losses else "searching", attempt=attempt)

    async def _correct(self, inlet: pylsl.StreamInlet) -> None:
        try:
            offset = await asyncio.to_thread(inlet.time_correction, 2.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            logger.debug("time_correction failed: %s", exc)
            return
        self.clock_map.update(pylsl.local_clock(), float(offset))

    async def run(self, ctx: SourceContext) -> None:
        """Resolve, read, and re-resolve after a loss, until cancelled."""
        self._last_t = None
        ctx.status("searching", detail=f"resolving LSL stream {self.query.xpath()}")
        while True:
            info = await self._find(ctx)
            inlet = pylsl.StreamInlet(info, max_buflen=self.max_buffer_s, recover=False)
            try:
                full = await asyncio.to_thread(inlet.info, self.resolve_timeout_s * 2)
                await asyncio.to_thread(inlet.open_stream, self.resolve_timeout_s * 2)
                self.clock_map = LslClockMap()
                await self._correct(inlet)
                if not self.clock_map.ready:  # no clock mapping, no timestamps: try again
                    raise pylsl.util.TimeoutError("the first time_correction() timed out")
                rate = float(full.nominal_srate())
                routes = route_channels(full.type(), channels_of(full))
                # a wearsdk cleaned stream (ecg_clean...) keeps its name: not raw input
                derived = full.desc().child("wearsdk").child_value("stream")
                if full.desc().child("wearsdk").child_value("derived_from") and derived:
                    routes = [Route(derived, r.indices, r.labels, r.unit, r.scale) for r in routes]
                if self.forced_stream is not None and len(routes) == 1:
                    r = routes[0]
                    routes = [Route(self.forced_stream, r.indices, r.labels, r.unit, r.scale)]
                self.routes = routes
                ctx.status(
                    "connected",
                    detail=f"LSL {full.type()} stream, {full.channel_count()} ch "
                    f"@ {rate:g} Hz -> {', '.join(r.stream for r in routes)}",
                )
                await self._pump(ctx, inlet, rate)
            except (pylsl.util.LostError, pylsl.util.TimeoutError) as exc:
                logger.info("%s: LSL stream lost (%s)", ctx.source_id, exc)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(inlet.close_stream)
                del inlet
            self.losses += 1
            ctx.status("disconnected", detail="LSL stream lost; resolving it again")

    async def _pump(
        self,
        ctx: SourceContext,
        inlet: pylsl.StreamInlet,
        rate: float,
    ) -> None:
        """Pull until the stream is lost (``pylsl.LostError``) or cancelled."""
        capacity = max(1024, math.ceil(rate * self.max_latency_s * 4))
        puller = ChunkPuller(inlet, capacity)
        poll = self.poll = AdaptivePoll(capacity, max_s=self.max_latency_s)
        correction: asyncio.Task[None] | None = None
        next_correction = pylsl.local_clock() + self.clock_correction_s
        last_data = pylsl.local_clock()
        gap_pending = self._last_t is not None
        # session time = local LSL time + this (0 for a live SessionClock)
        shift = ctx.clock.now() - pylsl.local_clock()
        try:
            while True:
                now = pylsl.local_clock()
                if now >= next_correction and (correction is None or correction.done()):
                    correction = asyncio.create_task(self._correct(inlet))
                    next_correction = now + self.clock_correction_s
                t_remote, values = puller.pull()
                n = int(t_remote.size)
                if n:
                    last_data = now
                    t = self.clock_map.map(t_remote) + shift
                    if gap_pending and self._last_t is not None:
                        self._gaps(ctx, self._last_t, float(t[0]), rate)
                        gap_pending = False
                    self._publish(ctx, t, values, rate)
                    self._last_t = float(t[-1])
                    self.samples += n
                elif self.stale_after_s > 0 and rate > 0 and now - last_data > self.stale_after_s:
                    raise pylsl.util.LostError(f"no sample for {self.stale_after_s} s")
                delay = poll.next_delay(n)
                await asyncio.sleep(delay)
        finally:
            if correction is not None:
                correction.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await correction

    def _gaps(self, ctx: SourceContext, start: float, end: float, rate: float) -> None:
        missing = max(0, round((end - start) * rate) - 1) if rate > 0 else None
        for route in self.routes:
            ctx.publish_event(
                route.stream,
                Gap(
                    t=end,
                    source=ctx.source_id,
                    stream=route.stream,
                    start=start,
                    end=end,
                    n_missing=missing,
                    reason="stream_lost",
                ),
            )

    def _publish(
        self,
        ctx: SourceContext,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.generic] | list[list[str]],
        rate: float,
    ) -> None:
        if isinstance(values, list):
            for at, sample in zip(t.tolist(), values, strict=True):
                try:
                    text = sample[0] if sample else ""
                    note = annotation_from_marker(
                        text, at, modality="marker", analyzer_id=ctx.source_id
                    )
                    if len(sample) > 1:  # validated: bounded like the marker's own extras
                        note = Annotation.model_validate(
                            {**note.model_dump(), "extras": {**note.extras, "values": sample[1:]}}
                        )
                except ValueError:  # InboundPayloadError, pydantic's ValidationError
                    self.malformed += 1
                    continue
                ctx.bus.publish_nowait(f"analyzer/{note.modality}/{note.analyzer_id}", note)
            return
        for route in self.routes:
            cols = values[:, route.indices].astype(np.float64)
            if route.scale != 1.0:
                cols *= route.scale
            ctx.publish_block(
                SampleBlock(
                    source=ctx.source_id,
                    stream=route.stream,
                    unit=route.unit,
                    t=t,
                    values=cols,
                    channels=route.labels,
                    nominal_rate_hz=rate if rate > 0 else None,
                )
            )
