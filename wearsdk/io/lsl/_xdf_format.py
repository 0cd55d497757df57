"""XDF files: the chunk tags, value formats and events stream their modules share.

The writer (``_xdf_writer``), the recorder (``_xdf_recorder``) and the reader
(``_xdf_reader``) share them.

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

import logging
import struct

from wearsdk._errors import WearError
from wearsdk.io.lsl._spec import ChannelSpec, StreamSpec

__all__ = ["EVENTS_STREAM", "XdfFormatError"]  # and the constants the other modules share

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
