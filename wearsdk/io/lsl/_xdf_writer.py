"""The crash-safe XDF writer (see :mod:`wearsdk.io.lsl._xdf_format` for the layout)."""

from __future__ import annotations

import os
import struct
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk._files import API_OVERWRITE_HINT
from wearsdk.io.lsl._spec import StreamSpec
from wearsdk.io.lsl._xdf_format import (
    _BOUNDARY,
    _BOUNDARY_UUID,
    _CLOCK_OFFSET,
    _FILE_HEADER,
    _MAGIC,
    _NUMERIC,
    _SAMPLES,
    _STREAM_FOOTER,
    _STREAM_HEADER,
    _chunk,
    _varlen,
)

__all__ = ["XdfWriter"]


class XdfWriter:
    """Encodes XDF chunks into memory and writes them to a file at chunk boundaries.

    Not thread-safe: encode from one thread; :meth:`take` hands the pending bytes over, and
    :meth:`write_bytes` (safe to run in a worker thread) appends them with one ``write``.

    Args:
        path: the file to create, owner-only (``0600``).
        header: extra ``info`` fields of the FileHeader.
        overwrite: replace an existing file; else an existing file is an error and is left as
            it is (a recording is never replaced by accident). A FIFO or a device is written
            to as it is.

    Raises:
        ConfigError: the file exists and ``overwrite`` is false.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        header: dict[str, str] | None = None,
        overwrite: bool = False,
    ):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():  # a FIFO or a device: a stream
            self._fd = os.open(self.path, os.O_WRONLY)
        else:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
            try:
                self._fd = os.open(self.path, flags, 0o600)
            except FileExistsError:
                raise ConfigError(f"{self.path} exists: {API_OVERWRITE_HINT}") from None
            os.fchmod(self._fd, 0o600)  # a file replaced (--overwrite) keeps no wider mode
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
