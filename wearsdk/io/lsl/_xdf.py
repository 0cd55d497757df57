"""XDF files: a crash-safe writer, a recorder for the session bus, and a reader.

Written exactly per the XDF 1.0 specification (https://github.com/sccn/xdf/wiki/Specifications):
the magic ``XDF:``, then chunks of ``[NumLengthBytes][Length][Tag][Content]``, with the tags
FileHeader (1), StreamHeader (2), Samples (3), ClockOffset (4), Boundary (5) and StreamFooter
(6). Every sample carries its own timestamp (TimestampBytes = 8), so irregular and jittered
streams are stored exactly.

Crash safety: chunks are encoded into memory and written to the file with one ``write`` per
flush (at least every ``flush_s``), always at a chunk boundary, so a process killed at any
moment leaves a file whose every complete chunk is readable (``pyxdf.load_xdf`` loads it; the
stream footers are missing, as in any interrupted LabRecorder file).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
import os
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from wearsdk._clock import SessionClock
from wearsdk._contracts import SinkContext
from wearsdk._errors import ConfigError, StreamClosedError, WearError
from wearsdk._events import Annotation
from wearsdk._jsonl import message_to_dict
from wearsdk._privacy import Consent, ConsentGate
from wearsdk._types import SampleBlock
from wearsdk._version import __version__
from wearsdk.bus import Bus, Message
from wearsdk.io.lsl._spec import ChannelSpec, StreamSpec, marker_spec, rows_of, spec_for

__all__ = [
    "EVENTS_STREAM",
    "XdfChunk",
    "XdfFormatError",
    "XdfRecorder",
    "XdfRecording",
    "XdfStream",
    "XdfWriter",
    "read_xdf",
]

logger = logging.getLogger("wearsdk.io.xdf")

_MAGIC = b"XDF:"
_FILE_HEADER, _STREAM_HEADER, _SAMPLES, _CLOCK_OFFSET, _BOUNDARY, _STREAM_FOOTER = range(1, 7)
_BOUNDARY_UUID = bytes(
    [0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4]
)
_NUMERIC = {
    "float32": "<f4",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
}

EVENTS_STREAM = StreamSpec(
    key="#events",
    name="wearsdk-events",
    type="Markers",
    channels=(ChannelSpec("event", "json", "Event"),),
    channel_format="string",
    source_id="wearsdk:events",
    source="session",
    stream="events",
    topic="#",
)
"""The string stream that records every bus event (one JSON object per sample, with topic)."""


class XdfFormatError(WearError):
    """An XDF file is malformed (bad magic, a chunk or a header that makes no sense).

    Attributes:
        path: the file (empty when the error is not about a file).
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path: str = path


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


class XdfWriter:
    """Encodes XDF chunks into memory and writes them to a file at chunk boundaries.

    Not thread-safe: encode from one thread; :meth:`take` hands the pending bytes over, and
    :meth:`write_bytes` (safe to run in a worker thread) appends them with one ``write``.

    Args:
        path: the file to create (an existing file is replaced).
        header: extra ``info`` fields of the FileHeader.
    """

    def __init__(self, path: str | os.PathLike[str], *, header: dict[str, str] | None = None):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._pending = bytearray(_MAGIC)
        self._next_id = 1
        self._counts: dict[int, int] = {}
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._offsets: dict[int, list[tuple[float, float]]] = {}
        self._formats: dict[int, str] = {}
        self._lock = threading.Lock()  # one write at a time (worker thread vs close)
        self.bytes_written = 0
        """Bytes written to the file so far."""
        fields = {"version": "1.0", "datetime": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        fields.update(header or {})
        xml = "".join(f"<{k}>{_esc(v)}</{k}>" for k, v in fields.items())
        self._pending += _chunk(_FILE_HEADER, f'<?xml version="1.0"?><info>{xml}</info>'.encode())

    @property
    def pending_bytes(self) -> int:
        """Bytes encoded but not yet written."""
        return len(self._pending)

    def add_stream(self, spec: StreamSpec, *, created_at: float) -> int:
        """Write a StreamHeader; return the new stream id."""
        sid = self._next_id
        self._next_id += 1
        xml = spec.header_xml(created_at=created_at, uid=str(uuid.uuid4()), hostname="")
        self._pending += _chunk(_STREAM_HEADER, struct.pack("<I", sid) + xml.encode())
        self._counts[sid] = 0
        self._offsets[sid] = []
        self._formats[sid] = spec.channel_format
        return sid

    def _note(self, sid: int, t: npt.NDArray[np.float64]) -> None:
        if sid not in self._counts:
            raise ConfigError(f"XDF stream {sid} has no header")
        if t.size:
            self._first.setdefault(sid, float(t[0]))
            self._last[sid] = float(t[-1])
            self._counts[sid] += int(t.size)

    def samples(self, sid: int, t: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Write one Samples chunk of a numeric stream (every sample with its timestamp)."""
        ts = np.asarray(t, dtype=np.float64).reshape(-1)
        fmt = _NUMERIC[self._formats[sid]]
        vals = np.asarray(values, dtype=fmt)
        if vals.ndim == 1:
            vals = vals[:, None]
        n, nch = vals.shape
        if n != ts.size:
            raise ConfigError(f"{ts.size} timestamps for {n} samples")
        if n == 0:
            return
        self._note(sid, ts)
        rec = np.empty(n, dtype=np.dtype([("b", "u1"), ("t", "<f8"), ("v", fmt, (nch,))]))
        rec["b"] = 8
        rec["t"] = ts
        rec["v"] = vals
        body = struct.pack("<I", sid) + _varlen(n) + rec.tobytes()
        self._pending += _chunk(_SAMPLES, body)

    def strings(self, sid: int, t: npt.ArrayLike, values: list[str]) -> None:
        """Write one Samples chunk of a single-channel string stream."""
        ts = np.asarray(t, dtype=np.float64).reshape(-1)
        if len(values) != ts.size:
            raise ConfigError(f"{ts.size} timestamps for {len(values)} samples")
        if not values:
            return
        self._note(sid, ts)
        parts = [struct.pack("<I", sid), _varlen(len(values))]
        for stamp, text in zip(ts.tolist(), values, strict=True):
            raw = text.encode()
            parts.append(struct.pack("<Bd", 8, stamp) + _varlen(len(raw)) + raw)
        self._pending += _chunk(_SAMPLES, b"".join(parts))

    def clock_offset(self, sid: int, collection_time: float, offset: float) -> None:
        """Write a ClockOffset chunk (``offset`` is added to the stream's times to map them)."""
        self._offsets[sid].append((collection_time, offset))
        self._pending += _chunk(_CLOCK_OFFSET, struct.pack("<Idd", sid, collection_time, offset))

    def boundary(self) -> None:
        """Write a Boundary chunk (lets readers resynchronise in a damaged file)."""
        self._pending += _chunk(_BOUNDARY, _BOUNDARY_UUID)

    def footers(self) -> None:
        """Write every stream's StreamFooter (first/last timestamp, count, clock offsets)."""
        for sid, count in self._counts.items():
            offsets = "".join(
                f"<offset><time>{t!r}</time><value>{v!r}</value></offset>"
                for t, v in self._offsets[sid]
            )
            xml = (
                '<?xml version="1.0"?><info>'
                f"<first_timestamp>{self._first.get(sid, 0.0)!r}</first_timestamp>"
                f"<last_timestamp>{self._last.get(sid, 0.0)!r}</last_timestamp>"
                f"<sample_count>{count}</sample_count>"
                f"<clock_offsets>{offsets}</clock_offsets></info>"
            )
            self._pending += _chunk(_STREAM_FOOTER, struct.pack("<I", sid) + xml.encode())

    @property
    def stream_ids(self) -> list[int]:
        """Ids of the streams written so far."""
        return list(self._counts)

    def take(self) -> bytes:
        """Hand over the encoded chunks (complete chunks only) and start a new buffer."""
        data, self._pending = bytes(self._pending), bytearray()
        return data

    def write_bytes(self, data: bytes) -> None:
        """Append ``data`` to the file (blocking; one ``write`` call for the common case)."""
        with self._lock:
            if self._fd < 0:
                raise ConfigError(f"{self.path} is closed")
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self.bytes_written += len(data)

    def flush(self) -> None:
        """Write everything pending (blocking)."""
        self.write_bytes(self.take())

    def close(self) -> None:
        """Write the pending chunks and close the file (footers are the caller's choice)."""
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.footers()
        self.close()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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

    Raises:
        ConsentError: no consent record, or one that does not allow recording.
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
    ) -> None:
        self.gate = consent if isinstance(consent, ConsentGate) else ConsentGate(consent)
        """The consent as a live condition (expiry, withdrawal)."""
        self.gate.check(record=True)
        if not 0 < flush_s <= 1.0:
            raise ConfigError("flush_s must be in (0, 1] seconds")
        self.bus = bus
        self.clock = clock
        self.path = Path(path)
        self.flush_s = flush_s
        self.clock_offset_s = clock_offset_s
        self.messages = 0
        """Messages recorded so far."""
        self.stop_reason: str | None = None
        """``expired`` or ``withdrawn`` once the consent closed and recording stopped."""
        self.refused_by_consent = 0
        """Messages not recorded because the consent had closed (dropped)."""
        self._ids: dict[str, int] = {}
        self._last_offset: dict[int, float] = {}
        self._writer: XdfWriter | None = None
        self._sub = bus.subscribe("#", maxsize=65536, policy="block")
        self._done = asyncio.Event()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        # the write in the worker thread, with its bytes (written here if it never started)
        self._inflight: tuple[concurrent.futures.Future[None], bytes] | None = None

    def _stream(self, spec: StreamSpec) -> int:
        assert self._writer is not None
        sid = self._ids.get(spec.key)
        if sid is None:
            sid = self._writer.add_stream(spec, created_at=self.clock.now())
            self._ids[spec.key] = sid
        return sid

    def _record(self, message: Message) -> None:
        assert self._writer is not None
        payload = message.payload
        spec = spec_for(message.topic, payload)
        if spec is not None:
            rows = rows_of(payload)
            assert rows is not None
            self._writer.samples(self._stream(spec), rows[0], rows[1])
        elif isinstance(payload, Annotation) and (marks := marker_spec(message.topic, payload)):
            self._writer.strings(self._stream(marks), [payload.start], [payload.label or ""])
        if not isinstance(payload, SampleBlock):
            sid = self._stream(EVENTS_STREAM)
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
        self._writer = XdfWriter(self.path, header=header)
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


# the largest channel count a stream header may declare (liblsl has no limit; 2^16 is far
# beyond any device, and bounds what one malformed header can make a reader allocate)
_MAX_CHANNELS = 65536
_STRING_MIN_BYTES = 2  # a string value is at least its length's width byte and one length byte


@dataclass
class XdfStream:
    """One stream of an XDF file, as :func:`read_xdf` found it.

    The header's ``channel_count``, ``nominal_srate`` and ``channel_format`` are checked when
    the stream is created (a malformed header raises :class:`XdfFormatError`).

    Attributes:
        stream_id: the id in the file.
        info: the StreamHeader ``info`` element.
        footer: the StreamFooter ``info`` element, when the file has one.
        clock_offsets: (collection time, offset) pairs of the ClockOffset chunks.
    """

    stream_id: int
    info: ET.Element
    footer: ET.Element | None = None
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)
    _count: int = field(init=False, repr=False, default=1)
    _srate: float = field(init=False, repr=False, default=0.0)
    _format: str = field(init=False, repr=False, default="float32")

    def __post_init__(self) -> None:
        fmt = self.text("channel_format", "float32").strip() or "float32"
        if fmt != "string" and fmt not in _NUMERIC:
            raise XdfFormatError(f"stream {self.stream_id}: unknown channel_format {fmt!r}")
        count_text = self.text("channel_count", "1").strip()
        try:
            count = int(count_text)
        except ValueError:
            raise XdfFormatError(
                f"stream {self.stream_id}: channel_count {count_text!r} is not a whole number"
            ) from None
        if not 1 <= count <= _MAX_CHANNELS:
            raise XdfFormatError(
                f"stream {self.stream_id}: channel_count {count} is not in 1..{_MAX_CHANNELS}"
            )
        rate_text = self.text("nominal_srate", "0").strip() or "0"
        try:
            rate = float(rate_text)
        except ValueError:
            raise XdfFormatError(
                f"stream {self.stream_id}: nominal_srate {rate_text!r} is not a number"
            ) from None
        if not (math.isfinite(rate) and rate >= 0):
            raise XdfFormatError(
                f"stream {self.stream_id}: nominal_srate {rate_text!r} is not a rate >= 0"
            )
        self._format, self._count, self._srate = fmt, count, rate

    def text(self, path: str, default: str = "") -> str:
        """The text of ``path`` in the header (``name``, ``desc/wearsdk/topic``...)."""
        found = self.info.findtext(path)
        return default if found is None else found

    @property
    def name(self) -> str:
        """Stream name."""
        return self.text("name")

    @property
    def type(self) -> str:
        """Content type."""
        return self.text("type")

    @property
    def channel_format(self) -> str:
        """Channel format (``double64``, ``string``...)."""
        return self._format

    @property
    def channel_count(self) -> int:
        """Channel count."""
        return self._count

    @property
    def nominal_srate(self) -> float:
        """Nominal rate (0: irregular)."""
        return self._srate

    @property
    def channels(self) -> list[ChannelSpec]:
        """Channel metadata from ``desc/channels`` (empty labels when the file has none)."""
        found = [
            ChannelSpec(
                c.findtext("label") or "", c.findtext("unit") or "", c.findtext("type") or ""
            )
            for c in self.info.findall("desc/channels/channel")
        ]
        if len(found) != self.channel_count:
            return [ChannelSpec("") for _ in range(self.channel_count)]
        return found

    def clock_fit(self) -> tuple[float, float]:
        """The clock correction ``(a, b)``: a stream time ``t`` maps to ``t + a + b * t``.

        Fitted as pyxdf does (``load_xdf(synchronize_clocks=True)`` for a recording without
        clock resets): a robust (Huber) straight line through the ClockOffset chunks' (time,
        offset) pairs; one pair gives a constant offset, none (or all zero) no correction.
        Pairs with a non-finite time or offset are left out.
        """
        pairs = [(c, v) for c, v in self.clock_offsets if math.isfinite(c) and math.isfinite(v)]
        if not pairs or not any(v for _, v in pairs):
            return 0.0, 0.0
        if len(pairs) == 1:
            return pairs[0][1], 0.0
        return _clock_line(np.array(pairs))

    def to_local(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map timestamps of this stream onto the recorder's clock (:meth:`clock_fit`)."""
        a, b = self.clock_fit()
        if (a == 0.0 and b == 0.0) or t.size == 0:
            return t
        mapped: npt.NDArray[np.float64] = t + (a + b * t)
        return mapped


_WINSOR = 0.0001  # pyxdf's winsor_threshold: offsets are fitted in units of 0.1 ms


def _clock_line(pairs: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The robust fit of offset = a + b * time that pyxdf makes (Huber loss by ADMM).

    The same arithmetic as ``pyxdf.pyxdf._clock_sync`` and ``_robust_fit`` (BSD-2-Clause,
    Christian Kothe & the Intheon pyxdf team), so both give the same timestamps.
    """
    a_mat = np.column_stack([np.ones(len(pairs)), pairs[:, 0] / _WINSOR])
    y = pairs[:, 1] / _WINSOR
    shift = float(np.min(a_mat[:, 1]))
    a_mat[:, 1] -= shift
    aty = a_mat.T @ y
    try:
        lower = np.linalg.cholesky(a_mat.T @ a_mat)
    except np.linalg.LinAlgError:  # every offset measured at the same time: their median
        return float(np.median(pairs[:, 1])), 0.0
    upper = lower.T
    z = np.zeros_like(y)
    u = z
    x = z
    for _ in range(1000):
        x = np.linalg.solve(upper, np.linalg.solve(lower, aty + a_mat.T @ (z - u)))
        d = a_mat @ x - y + u
        d_inv = np.zeros_like(d)
        np.divide(1, d, out=d_inv, where=d != 0)
        tmp = np.maximum(0, 1 - 2 * np.abs(d_inv))
        z = 0.5 * d + 0.5 * tmp * d
        u = d - z
    x[0] -= x[1] * shift
    return float(x[0] * _WINSOR), float(x[1])


@dataclass
class XdfChunk:
    """One Samples chunk: the samples of one stream in file order.

    Attributes:
        stream_id: the stream.
        t: timestamps (the recorder's clock, before clock offsets).
        values: an ``(n, channels)`` array, or a list of per-sample string lists.
    """

    stream_id: int
    t: npt.NDArray[np.float64]
    values: npt.NDArray[Any] | list[list[str]]


@dataclass
class XdfRecording:
    """The content of an XDF file in file order (what :func:`read_xdf` returns).

    Attributes:
        header: the FileHeader ``info`` element.
        streams: streams by id.
        chunks: every Samples chunk, in file order.
        truncated: the file ends inside a chunk (a recording that was interrupted).
        path: the file it was read from (empty when built in memory).
    """

    header: ET.Element
    streams: dict[int, XdfStream]
    chunks: list[XdfChunk]
    truncated: bool = False
    path: str = ""


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise EOFError
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def timestamp(self, last_t: float, srate: float) -> float:
        """A sample's timestamp: explicit (8 bytes) or deduced from the previous one."""
        if self.take(1)[0] == 8:
            return float(struct.unpack("<d", self.take(8))[0])
        return last_t + (1.0 / srate if srate > 0 else 0.0)

    def varlen(self) -> int:
        width = self.take(1)[0]
        if width not in (1, 4, 8):
            raise XdfFormatError(f"invalid variable-length integer width {width}")
        return int.from_bytes(self.take(width), "little")


def _samples(
    body: _Reader, stream: XdfStream, last_t: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any] | list[list[str]]]:
    n = body.varlen()
    nch = stream.channel_count
    fmt = stream.channel_format
    srate = stream.nominal_srate
    # every sample takes at least its timestamp flag and its values: a count that the chunk
    # cannot hold is refused before anything is allocated for it
    least = 1 + nch * (np.dtype(_NUMERIC[fmt]).itemsize if fmt in _NUMERIC else _STRING_MIN_BYTES)
    if n * least > body.left:
        raise XdfFormatError(
            f"a Samples chunk of stream {stream.stream_id} claims {n} samples in {body.left} bytes"
        )
    if fmt in _NUMERIC:
        dt = np.dtype(_NUMERIC[fmt])
        rec = np.dtype([("b", "u1"), ("t", "<f8"), ("v", dt, (nch,))])
        if body.left == n * rec.itemsize:
            arr = np.frombuffer(body.take(n * rec.itemsize), dtype=rec)
            if bool((arr["b"] == 8).all()):
                return arr["t"].astype(np.float64), arr["v"].copy()
            body.pos -= n * rec.itemsize
        t = np.empty(n)
        v = np.empty((n, nch), dtype=dt)
        for i in range(n):
            t[i] = last_t = body.timestamp(last_t, srate)
            v[i] = np.frombuffer(body.take(nch * dt.itemsize), dtype=dt)
        return t, v
    t = np.empty(n)
    strings: list[list[str]] = []
    for i in range(n):
        t[i] = last_t = body.timestamp(last_t, srate)
        strings.append([bytes(body.take(body.varlen())).decode("utf-8", "replace")
                        for _ in range(nch)])  # fmt: skip
    return t, strings


def _xml(raw: memoryview, what: str) -> ET.Element:
    try:
        return ET.fromstring(bytes(raw))
    except ET.ParseError as exc:
        raise XdfFormatError(f"the XML of a {what} is malformed: {exc}") from None


def read_xdf(path: str | os.PathLike[str]) -> XdfRecording:
    """Read an XDF file chunk by chunk, in file order.

    Every stream header is checked (channel count, rate and format), and every Samples
    chunk's sample count against the bytes it has, before anything is allocated for it. A file
    that ends inside a chunk (a recording killed mid-write) is read up to its last complete
    chunk, with a warning in the log (:attr:`XdfRecording.truncated` is set).

    Timestamps are returned as written; :meth:`XdfStream.to_local` applies the clock offsets.
    (pyxdf reads the same files; this reader decodes a chunk with one array operation where
    pyxdf loops over samples: about 10x less CPU for an hour of ECG, ACC and EDA, which a
    replay at 1,000x real time needs; ``benchmarks/replay_speed.py`` measures both.)

    Raises:
        XdfFormatError: not an XDF file, or a chunk or header that contradicts the
            specification (the message and :attr:`XdfFormatError.path` name the file).
        OSError: the file cannot be read.
    """
    name = os.fspath(path)
    data = Path(path).read_bytes()
    if data[:4] != _MAGIC:
        raise XdfFormatError(f"{name!r} is not an XDF file (it does not start with XDF:)", name)
    reader = _Reader(data)
    reader.pos = 4
    header = ET.Element("info")
    streams: dict[int, XdfStream] = {}
    chunks: list[XdfChunk] = []
    last_t: dict[int, float] = {}
    truncated = False
    while reader.left:
        at = reader.pos
        try:
            length = reader.varlen()
            body = _Reader(reader.take(length))
        except EOFError:
            truncated = True
            break
        except XdfFormatError as exc:
            raise XdfFormatError(f"{name!r}: malformed chunk at byte {at}: {exc}", name) from None
        try:
            tag = int.from_bytes(body.take(2), "little")
            if tag == _FILE_HEADER:
                header = _xml(body.take(body.left), "file header")
            elif tag in (_STREAM_HEADER, _SAMPLES, _CLOCK_OFFSET, _STREAM_FOOTER):
                sid = int.from_bytes(body.take(4), "little")
                if tag == _STREAM_HEADER:
                    streams[sid] = XdfStream(sid, _xml(body.take(body.left), "stream header"))
                elif sid not in streams:
                    raise XdfFormatError(f"chunk of stream {sid} before its header")
                elif tag == _SAMPLES:
                    t, values = _samples(body, streams[sid], last_t.get(sid, 0.0))
                    if t.size:
                        last_t[sid] = float(t[-1])
                    chunks.append(XdfChunk(sid, t, values))
                elif tag == _CLOCK_OFFSET:
                    collected, offset = struct.unpack("<dd", body.take(16))
                    streams[sid].clock_offsets.append((collected, offset))
                else:
                    streams[sid].footer = _xml(body.take(body.left), "stream footer")
        except (EOFError, XdfFormatError) as exc:
            why = str(exc) or "the chunk ends before its content does"
            raise XdfFormatError(f"{name!r}: malformed chunk at byte {at}: {why}", name) from None
    if truncated:
        logger.warning(
            "%s ends inside a chunk (an interrupted recording?): read up to byte %d of %d",
            name,
            reader.pos,
            len(data),
        )
    return XdfRecording(
        header=header, streams=streams, chunks=chunks, truncated=truncated, path=name
    )
