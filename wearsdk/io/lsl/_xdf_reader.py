"""The XDF reader: chunk by chunk, in file order, every header and count checked."""

from __future__ import annotations

import json
import math
import os
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk.io.lsl._spec import ChannelSpec
from wearsdk.io.lsl._xdf_format import (
    _CLOCK_OFFSET,
    _FILE_HEADER,
    _MAGIC,
    _NUMERIC,
    _SAMPLES,
    _STREAM_FOOTER,
    _STREAM_HEADER,
    XdfFormatError,
    logger,
)

__all__ = ["XdfChunk", "XdfRecording", "XdfStream", "read_xdf", "recorded_pipeline"]

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


def _least(stream: XdfStream) -> int:
    """The fewest bytes one sample of ``stream`` takes: its timestamp flag and its values."""
    fmt = stream.channel_format
    width = np.dtype(_NUMERIC[fmt]).itemsize if fmt in _NUMERIC else _STRING_MIN_BYTES
    return 1 + stream.channel_count * width


def _count(body: _Reader, stream: XdfStream, least: int) -> int:
    """A Samples chunk's sample count, refused when the chunk cannot hold that many (every
    sample takes at least ``least`` bytes): before anything is allocated for it.
    """  # noqa: D205
    n = body.varlen()
    if n * least > body.left:
        raise XdfFormatError(
            f"a Samples chunk of stream {stream.stream_id} claims {n} samples in {body.left} bytes"
        )
    return n


def _record(stream: XdfStream) -> np.dtype[Any]:
    """One numeric sample with its timestamp: flag byte 8, the time, the values (packed)."""
    dt = np.dtype(_NUMERIC[stream.channel_format])
    return np.dtype([("b", "u1"), ("t", "<f8"), ("v", dt, (stream.channel_count,))])


def _samples(
    body: _Reader, n: int, stream: XdfStream, last_t: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any] | list[list[str]]]:
    """Decode the ``n`` samples that follow a Samples chunk's count, one by one."""
    nch = stream.channel_count
    srate = stream.nominal_srate
    if stream.channel_format in _NUMERIC:
        dt = np.dtype(_NUMERIC[stream.channel_format])
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


_PENDING = XdfChunk(-1, np.empty(0), [])  # a chunk's place until :class:`_Packed` decodes it


class _Packed:
    """The numeric Samples chunks of one stream whose bytes are exactly their samples, each
    with a timestamp (as writers usually write them), decoded together: one array operation
    for all of a stream's chunks instead of several per chunk (an hour of LabRecorder chunks
    is ~10,000 of them).
    """  # noqa: D205

    def __init__(self) -> None:
        self.parts: dict[int, list[tuple[int, int, memoryview]]] = {}

    def add(self, sid: int, index: int, n: int, raw: memoryview) -> None:
        """Keep chunk ``index`` of stream ``sid`` (``n`` samples, ``raw`` their bytes)."""
        self.parts.setdefault(sid, []).append((index, n, raw))

    def decode(
        self, sid: int, stream: XdfStream, chunks: list[XdfChunk], last_t: dict[int, float]
    ) -> None:
        """Decode the kept chunks of ``sid`` into ``chunks`` (and its last timestamp)."""
        parts = self.parts.pop(sid, None)
        if not parts:
            return
        arr = np.frombuffer(b"".join(raw for _, _, raw in parts), dtype=_record(stream))
        if bool((arr["b"] == 8).all()):
            t, v = arr["t"].astype(np.float64), arr["v"].copy()
            at = 0
            for index, n, _ in parts:
                chunks[index] = XdfChunk(sid, t[at : at + n], v[at : at + n])
                at += n
            if t.size:
                last_t[sid] = float(t[-1])
            return
        # some timestamps are left out (deduced from the previous one): sample by sample
        for index, n, raw in parts:
            ts, values = _samples(_Reader(raw), n, stream, last_t.get(sid, 0.0))
            if ts.size:
                last_t[sid] = float(ts[-1])
            chunks[index] = XdfChunk(sid, ts, values)


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
    (pyxdf reads the same files; this reader decodes the timestamped chunks of a stream with
    one array operation where pyxdf loops over samples: about 20x less CPU for an hour of
    ECG, ACC and EDA, which a replay at 2,000x real time needs;
    ``benchmarks/replay_speed.py`` measures both.)

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
    packed = _Packed()
    # per stream: the fewest bytes of a sample, the bytes of a timestamped one (-1: strings)
    sizes: dict[int, tuple[int, int]] = {}
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
                    if sid in streams:  # a header again: its chunks so far are the old one's
                        packed.decode(sid, streams[sid], chunks, last_t)
                    stream = streams[sid] = XdfStream(
                        sid, _xml(body.take(body.left), "stream header")
                    )
                    numeric = stream.channel_format in _NUMERIC
                    sizes[sid] = (_least(stream), _record(stream).itemsize if numeric else -1)
                elif sid not in streams:
                    raise XdfFormatError(f"chunk of stream {sid} before its header")
                elif tag == _SAMPLES:
                    stream = streams[sid]
                    least, packed_size = sizes[sid]
                    n = _count(body, stream, least)
                    if packed_size > 0 and body.left == n * packed_size:  # all timestamped
                        packed.add(sid, len(chunks), n, body.take(body.left))
                        chunks.append(_PENDING)
                        continue
                    packed.decode(sid, stream, chunks, last_t)  # the timestamps before it
                    t, values = _samples(body, n, stream, last_t.get(sid, 0.0))
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
    for sid, stream in streams.items():
        packed.decode(sid, stream, chunks, last_t)
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


def recorded_pipeline(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The pipeline settings a wearsdk recording keeps in its file header, if any.

    Only the FileHeader (the file's first chunk) is read. :class:`XdfRecorder` writes them
    (``wearsdk_pipeline``, JSON); other writers' files, and recordings made before, have none.

    Raises:
        XdfFormatError: not an XDF file, or a header that is not valid (naming the file).
        OSError: the file cannot be read.
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read(4 + 9)
        if data[:4] != _MAGIC:
            raise XdfFormatError(f"{name!r} is not an XDF file (it does not start with XDF:)", name)
        reader = _Reader(data)
        reader.pos = 4
        try:
            length = reader.varlen()
        except (EOFError, XdfFormatError):
            raise XdfFormatError(f"{name!r}: its first chunk is malformed", name) from None
        if length > 1 << 20:  # a file header is a few hundred bytes
            raise XdfFormatError(f"{name!r}: a file header of {length} bytes", name)
        f.seek(reader.pos)
        body = _Reader(f.read(length))
    if body.left < max(length, 2):
        raise XdfFormatError(f"{name!r} ends inside its file header", name)
    if int.from_bytes(body.take(2), "little") != _FILE_HEADER:
        return None
    try:
        text = _xml(body.take(body.left), "file header").findtext("wearsdk_pipeline")
    except XdfFormatError as exc:
        raise XdfFormatError(f"{name!r}: {exc}", name) from None
    if not text:
        return None
    try:
        settings = json.loads(text)
    except ValueError:
        raise XdfFormatError(
            f"{name!r}: the pipeline settings in its header are not JSON", name
        ) from None
    if not isinstance(settings, dict):
        raise XdfFormatError(f"{name!r}: the pipeline settings in its header are not a table", name)
    return settings
