"""The XDF recorder: every bus message of a session into an XDF file, as a sink."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from wearsdk._clock import SessionClock
from wearsdk._contracts import SinkContext
from wearsdk._errors import ConfigError, StreamClosedError
from wearsdk._events import Annotation
from wearsdk._files import API_OVERWRITE_HINT
from wearsdk._jsonl import message_to_dict
from wearsdk._privacy import Consent, ConsentGate
from wearsdk._types import SampleBlock
from wearsdk._version import __version__
from wearsdk.bus import Bus, Message
from wearsdk.io.lsl._spec import StreamSpec, marker_spec, rows_of, spec_for
from wearsdk.io.lsl._xdf_format import (
    EVENTS_STREAM,
    logger,
)
from wearsdk.io.lsl._xdf_writer import XdfWriter

__all__ = ["XdfRecorder"]


class XdfRecorder:
    """Records every stream and event of a session's bus to an XDF file.

    Numeric streams (sample blocks, heart rate, ``features``, ``affect``) get one XDF stream
    each, with the header of :mod:`wearsdk.io.lsl` (the same metadata as the LSL outlets);
    marker annotations (experiment markers from an LSL marker stream, E4 tags) one string
    stream per marker source, ``<source>-markers`` (type ``Markers``, one label per sample,
    see :func:`~wearsdk.io.lsl.marker_spec`); every other message, and every event including
    heart rate, features and estimates, goes to the ``wearsdk-events`` string stream as one
    JSON object per sample (with its topic), so a replay can publish exactly what the session
    saw. Timestamps are session times, already on the recorder's clock: the ClockOffset chunks
    (every ``clock_offset_s``) are 0.

    Subscribes with the ``block`` policy (a replay at full speed waits for the disk instead of
    losing data); writes happen in a worker thread, at least every ``flush_s`` seconds, and so
    does the end of the file when the session closes: a slow or stalled disk never blocks the
    event loop.

    Args:
        bus: the session bus.
        clock: the session clock.
        path: the ``.xdf`` file to write.
        consent: the wearer's consent record, or the session's
            :class:`~wearsdk.ConsentGate` (so that expiry and withdrawal reach every sink);
            it must allow recording. Consent is a live condition: nothing is recorded at or
            after the expiry instant or a withdrawal, and the recorder then completes the
            file (a readable XDF of what was recorded before) and ends; the session goes on.
        flush_s: longest time between writes to the file (<= 1 s).
        clock_offset_s: interval between ClockOffset chunks per stream.
        pipeline: the session's pipeline settings
            (:meth:`~wearsdk.session.PipelineConfig.settings`), written to the file header as
            ``wearsdk_pipeline`` (JSON) for replays.
        overwrite: replace an existing file at ``path``; else an existing file is an error
            raised here, before anything is recorded, and the file is left as it is.

    Raises:
        ConsentError: no consent record, or one that does not allow recording.
        ConfigError: ``path`` exists and ``overwrite`` is false.
    """

    def __init__(
        self,
        bus: Bus,
        clock: SessionClock,
        path: str | os.PathLike[str],
        *,
        consent: Consent | ConsentGate | None,
        flush_s: float = 0.5,
        clock_offset_s: float = 5.0,
        pipeline: Mapping[str, float | bool | list[float]] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.gate = consent if isinstance(consent, ConsentGate) else ConsentGate(consent)
        """The consent as a live condition (expiry, withdrawal)."""
        self.gate.check(record=True)
        if not overwrite and Path(path).is_file():
            raise ConfigError(f"{path} exists: {API_OVERWRITE_HINT}")
        self.overwrite = overwrite
        """Whether an existing file at :attr:`path` is replaced."""
        if not 0 < flush_s <= 1.0:
            raise ConfigError("flush_s must be in (0, 1] seconds")
        self.bus = bus
        self.clock = clock
        self.path = Path(path)
        self.flush_s = flush_s
        self.clock_offset_s = clock_offset_s
        self.pipeline = dict(pipeline) if pipeline is not None else None
        """The pipeline settings of the session, kept in the file header (``wearsdk_pipeline``)."""
        self.messages = 0
        """Messages recorded so far."""
        self.stop_reason: str | None = None
        """``expired`` or ``withdrawn`` once the consent closed and recording stopped."""
        self.refused_by_consent = 0
        """Messages not recorded because the consent had closed (dropped)."""
        self._streams: dict[str, tuple[int, StreamSpec]] = {}  # id, the spec it was made with
        self._last_offset: dict[int, float] = {}
        self._writer: XdfWriter | None = None
        self._sub = bus.subscribe("#", maxsize=65536, policy="block")
        self._done = asyncio.Event()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        # the write in the worker thread, with its bytes (written here if it never started)
        self._inflight: tuple[concurrent.futures.Future[None], bytes] | None = None

    def _stream(self, spec: StreamSpec) -> tuple[int, StreamSpec]:
        assert self._writer is not None
        known = self._streams.get(spec.key)
        if known is None:  # a features stream keeps the channels it was created with
            known = self._streams[spec.key] = (
                self._writer.add_stream(spec, created_at=self.clock.now()),
                spec,
            )
        return known

    def _record(self, message: Message) -> None:
        assert self._writer is not None
        payload = message.payload
        spec = spec_for(message.topic, payload)
        if spec is not None:
            sid, created = self._stream(spec)
            rows = rows_of(payload, created)
            assert rows is not None
            self._writer.samples(sid, rows[0], rows[1])
        elif isinstance(payload, Annotation) and (marks := marker_spec(message.topic, payload)):
            self._writer.strings(self._stream(marks)[0], [payload.start], [payload.label or ""])
        if not isinstance(payload, SampleBlock):
            sid = self._stream(EVENTS_STREAM)[0]
            line = json.dumps(
                message_to_dict(message, self.clock), separators=(",", ":"), allow_nan=False
            )
            self._writer.strings(sid, [payload.t], [line])
        self.messages += 1

    def _offsets(self, now: float) -> None:
        assert self._writer is not None
        for sid in self._writer.stream_ids:
            if now - self._last_offset.get(sid, -np.inf) >= self.clock_offset_s:
                self._writer.clock_offset(sid, now, 0.0)
                self._last_offset[sid] = now

    async def run(self, ctx: SinkContext | None = None) -> None:
        """Record until cancelled or the bus closes; then record what is queued, write the
        footers and close.

        Args:
            ctx: the session's sink context when the session runs the recorder as a sink;
                unused.
        """  # noqa: D205
        header = {
            "wearsdk_version": __version__,
            "unix_offset_s": repr(self.clock.unix_offset_s),
        }
        if self.pipeline is not None:  # so a replay can use the same settings
            header["wearsdk_pipeline"] = json.dumps(self.pipeline, sort_keys=True)
        self._writer = XdfWriter(self.path, header=header, overwrite=self.overwrite)
        writer = self._writer
        pool = self._pool = concurrent.futures.ThreadPoolExecutor(1, "wearsdk-xdf")
        loop = asyncio.get_running_loop()
        last_flush = loop.time()
        last_boundary = loop.time()
        closed = asyncio.ensure_future(self.gate.wait_closed())
        try:
            while True:
                message = self._sub.receive_nowait()  # StreamClosedError: the session is over
                if message is None:
                    timeout = max(0.0, self.flush_s - (loop.time() - last_flush))
                    receive = asyncio.ensure_future(self._sub.receive())
                    try:
                        await asyncio.wait({receive, closed}, timeout=timeout)
                    finally:
                        if not receive.done():  # a message that came meanwhile stays queued
                            receive.cancel()
                            with contextlib.suppress(asyncio.CancelledError, StreamClosedError):
                                await receive
                    if receive.done() and not receive.cancelled():
                        message = receive.result()
                if message is not None:
                    if not self.gate.allows(record=True):  # the expiry instant
                        self.refused_by_consent += 1
                        self._stop(self.gate.closed_reason() or "closed")
                        break
                    self._record(message)
                if closed.done():
                    self._stop(closed.result())
                    break
                if loop.time() - last_flush >= self.flush_s:
                    self._offsets(self.clock.now())
                    if loop.time() - last_boundary >= 10.0:
                        writer.boundary()
                        last_boundary = loop.time()
                    data = writer.take()
                    last_flush = loop.time()
                    if data:
                        job = pool.submit(writer.write_bytes, data)
                        self._inflight = (job, data)
                        try:
                            await asyncio.wrap_future(job)  # OSError: a full disk, raised once
                        finally:
                            if job.done():  # else cancelled during the write: _finish waits
                                self._inflight = None
        except StreamClosedError:
            pass  # the bus closed: the session is over
        finally:
            closed.cancel()
            self._record_queued()
            # the write under way and the file's end may wait for a slow disk: off the loop
            # (shielded: a second cancellation leaves the thread to complete the file)
            try:
                await asyncio.shield(asyncio.to_thread(self._finish))
            finally:
                self._done.set()

    async def drain(self, timeout_s: float) -> int:
        """After the bus closed: wait until the file is complete; return messages not recorded.

        Args:
            timeout_s: the longest wait (a stalled disk may keep the end of the file waiting;
                the worker thread still completes it).
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._done.wait()
        return self._sub.stats.queued

    def _stop(self, reason: str) -> None:
        """Consent closed: record nothing more (what is queued is dropped and counted)."""
        self.stop_reason = reason
        with contextlib.suppress(StreamClosedError):
            while self._sub.receive_nowait() is not None:
                self.refused_by_consent += 1
        self._sub.close()
        logger.info(
            "consent %s: recording to %s stopped after %d messages (%d not recorded)",
            reason,
            self.path,
            self.messages,
            self.refused_by_consent,
        )

    def _record_queued(self) -> None:
        """Encode what is still queued on the bus (no file access: safe beside a write)."""
        if self._writer is None:
            return
        if self.stop_reason is None:
            with contextlib.suppress(StreamClosedError):
                while (message := self._sub.receive_nowait()) is not None:
                    if not self.gate.allows(record=True):
                        self._stop(self.gate.closed_reason() or "closed")
                        break
                    self._record(message)
        self._sub.close()
        self._offsets(self.clock.now())

    def _finish(self) -> None:
        """Complete the file: the write under way, then the rest, the footers (blocking)."""
        writer = self._writer
        if writer is None:
            return
        if self._inflight is not None:  # cancelled during a write: keep the bytes, in order
            job, data = self._inflight
            self._inflight = None
            if job.cancel():  # it never started
                writer.write_bytes(data)
            elif (error := job.exception()) is not None:  # waits for the write to end
                logger.error("XDF write to %s failed: %s", self.path, error)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        writer.footers()
        writer.close()
        self._writer = None
        logger.info("recorded %d messages to %s", self.messages, self.path)
