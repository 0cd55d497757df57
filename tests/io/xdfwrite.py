"""A small XDF writer written from the specification, independent of wearsdk's own writer.

It writes what other tools write and wearsdk's recorder never does: streams one after the
other, chunks of any size, timestamps left out (deduced from the nominal rate), clock offsets
with drift, no footers, and deliberately malformed headers and chunks.
Specification: https://github.com/sccn/xdf/wiki/Specifications
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

BOUNDARY = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")
FORMATS = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4"}


def varlen(n: int) -> bytes:
    if n < 256:
        return bytes([1, n])
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def chunk(tag: int, content: bytes) -> bytes:
    return varlen(len(content) + 2) + struct.pack("<H", tag) + content


@dataclass
class Stream:
    """A stream to write: header fields and all of its samples."""

    sid: int
    name: str
    type: str
    rate: float
    t: npt.NDArray[np.float64]
    x: npt.NDArray[np.float64] | list[str]
    fmt: str = "float32"
    channels: list[tuple[str, str, str]] = field(default_factory=list)  # label, unit, type
    header_fields: dict[str, str] = field(default_factory=dict)  # override any header field
    offsets: list[tuple[float, float]] = field(default_factory=list)  # (time, offset)

    @property
    def count(self) -> int:
        if isinstance(self.x, list):
            return 1
        return 1 if self.x.ndim == 1 else int(self.x.shape[1])

    def header(self) -> bytes:
        fields = {
            "name": self.name,
            "type": self.type,
            "channel_count": str(self.count),
            "nominal_srate": repr(self.rate),
            "channel_format": self.fmt,
            "source_id": f"other-tool-{self.sid}",
        }
        fields.update(self.header_fields)
        chans = "".join(
            f"<channel><label>{label}</label><unit>{unit}</unit><type>{kind}</type></channel>"
            for label, unit, kind in self.channels
        )
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
        return (
            f'<?xml version="1.0"?><info>{xml}<desc><channels>{chans}</channels></desc></info>'
        ).encode()

    def samples(self, lo: int, hi: int, *, stamps: str = "all") -> bytes:
        """A Samples chunk of samples [lo, hi); ``stamps="first"``: only the first has one."""
        parts = [struct.pack("<I", self.sid), varlen(hi - lo)]
        for i in range(lo, hi):
            if stamps == "all" or i == lo:
                parts.append(b"\x08" + struct.pack("<d", self.t[i]))
            else:
                parts.append(b"\x00")
            if isinstance(self.x, list):
                raw = self.x[i].encode()
                parts.append(varlen(len(raw)) + raw)
            else:
                row = np.atleast_1d(np.asarray(self.x[i], dtype=FORMATS[self.fmt]))
                parts.append(row.tobytes())
        return chunk(3, b"".join(parts))


def write(
    path: Path,
    streams: list[Stream],
    *,
    layout: str = "interleaved",
    chunk_s: float | list[float] = 1.0,
    stamps: str = "all",
    header: str = "<info><version>1.0</version></info>",
) -> Path:
    """Write ``streams`` as an XDF file.

    ``layout``: ``interleaved`` (chunks of all streams in time order, as LabRecorder does) or
    ``sequential`` (every chunk of one stream, then the next stream). ``chunk_s``: seconds per
    chunk, or a cycle of chunk lengths.
    """
    out = bytearray(b"XDF:")
    out += chunk(1, f'<?xml version="1.0"?>{header}'.encode())
    for s in streams:
        out += chunk(2, struct.pack("<I", s.sid) + s.header())
    lengths = chunk_s if isinstance(chunk_s, list) else [chunk_s]
    pieces: list[tuple[float, int, bytes]] = []  # (time, stream, bytes)
    for s in streams:
        t0 = float(s.t[0]) if s.t.size else 0.0
        edges = [t0]
        k = 0
        while edges[-1] <= float(s.t[-1]):
            edges.append(edges[-1] + lengths[k % len(lengths)])
            k += 1
        cut = np.searchsorted(s.t, edges[1:], side="left")
        lo = 0
        for hi in [*cut.tolist(), s.t.size]:
            if hi > lo:
                pieces.append((float(s.t[lo]), s.sid, s.samples(lo, hi, stamps=stamps)))
                lo = hi
        for at, value in s.offsets:
            pieces.append((at, s.sid, chunk(4, struct.pack("<Idd", s.sid, at, value))))
    if layout == "interleaved":
        pieces.sort(key=lambda p: (p[0], p[1]))
    elif layout == "sequential":
        pieces.sort(key=lambda p: p[1])  # stable: each stream's own order
    else:
        raise ValueError(layout)
    for i, (_, _, data) in enumerate(pieces):
        out += data
        if i % 50 == 49:
            out += chunk(5, BOUNDARY)
    path.write_bytes(bytes(out))
    return path
