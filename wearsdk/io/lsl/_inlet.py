"""LSL inlet building blocks: queries, resolution off the event loop, clock mapping, pulling.

The :class:`~wearsdk.io.sources.LslInlet` source assembles these; they are usable alone.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import re
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pylsl
from pylsl.util import handle_error

from wearsdk._errors import ConfigError
from wearsdk.io.lsl._spec import ChannelSpec

__all__ = [
    "AdaptivePoll",
    "ChunkPuller",
    "LslClockMap",
    "StreamQuery",
    "channels_of",
    "push_chunk",
    "resolve_streams",
]

_FIELD = re.compile(r"^\s*(name|type|source_id|hostname)\s*=\s*(.*?)\s*$")
_INFO_ELEMENTS = frozenset(
    [
        "name",
        "type",
        "channel_count",
        "nominal_srate",
        "channel_format",
        "source_id",
        "version",
        "created_at",
        "uid",
        "session_id",
        "hostname",
        "v4address",
        "v4data_port",
        "v4service_port",
        "v6address",
        "v6data_port",
        "v6service_port",
    ]
)
"""The elements of an LSL stream info an XPath predicate can compare (``channel_count=2``)."""
_UNKNOWN_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*[^'\"()]*$")
_NUMPY = {
    pylsl.cf_float32: np.float32,
    pylsl.cf_double64: np.float64,
    pylsl.cf_int8: np.int8,
    pylsl.cf_int16: np.int16,
    pylsl.cf_int32: np.int32,
    pylsl.cf_int64: np.int64,
}


@dataclass(frozen=True, slots=True)
class StreamQuery:
    """Which LSL stream(s) to read: by name, type, source id, host, or an XPath predicate.

    Attributes:
        name: the stream name.
        type: the content type (``ECG``, ``EDA``, ``Markers``...).
        source_id: the source id (unique per device; what LSL uses to recover a stream).
        hostname: the host the stream comes from.
        predicate: an XPath 1.0 predicate over the stream info (``"starts-with(name,'H10')"``),
            combined with the fields above by ``and``.
    """

    name: str | None = None
    type: str | None = None
    source_id: str | None = None
    hostname: str | None = None
    predicate: str | None = None

    @classmethod
    def parse(cls, text: str) -> StreamQuery:
        """Parse ``"type=ECG"``, ``"name=Polar H10,type=ECG"`` or an XPath predicate.

        Text that is not a comma-separated list of ``field=value`` is taken as a predicate.

        Raises:
            ConfigError: an empty query, or ``key=value`` with a key that is not one of the
                fields (``foo=bar`` would search forever for a stream nobody can publish).
        """
        if not text.strip():
            raise ConfigError("an empty LSL stream query")
        fields: dict[str, str] = {}
        for part in text.split(","):
            unknown = _UNKNOWN_FIELD.match(part)
            if unknown is not None and unknown.group(1) not in _INFO_ELEMENTS:
                raise ConfigError(
                    f"LSL stream query {text!r}: unknown field {unknown.group(1)!r}; use name, "
                    "type, source_id or hostname (e.g. 'type=ECG'), or an XPath predicate "
                    "(e.g. \"starts-with(name,'H10')\")"
                )
            match = _FIELD.match(part)
            if match is None or "'" in match.group(2):
                return cls(predicate=text.strip())
            fields[match.group(1)] = match.group(2)
        return cls(**fields)

    def xpath(self) -> str:
        """The XPath predicate liblsl resolves with."""
        parts = [
            f"{key}='{value}'"
            for key, value in (
                ("name", self.name),
                ("type", self.type),
                ("source_id", self.source_id),
                ("hostname", self.hostname),
            )
            if value is not None
        ]
        if self.predicate:
            parts.append(f"({self.predicate})")
        if not parts:
            raise ConfigError("an LSL stream query needs a name, type, source_id or predicate")
        return " and ".join(parts)

    def __str__(self) -> str:
        return self.xpath()


async def resolve_streams(query: StreamQuery, *, timeout_s: float) -> list[pylsl.StreamInfo]:
    """Resolve the streams matching ``query`` in a worker thread (never blocks the loop).

    Returns:
        The matching streams (possibly none after ``timeout_s``).
    """
    predicate = query.xpath()
    infos: list[pylsl.StreamInfo] = await asyncio.to_thread(
        pylsl.resolve_bypred, predicate, 1, timeout_s
    )
    return infos


def channels_of(info: pylsl.StreamInfo) -> list[ChannelSpec]:
    """Channel labels, units and types from an inlet's full info (``desc/channels``)."""
    n = info.channel_count()
    found: list[ChannelSpec] = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(found) < n:
        found.append(
            ChannelSpec(ch.child_value("label"), ch.child_value("unit"), ch.child_value("type"))
        )
        ch = ch.next_sibling("channel")
    if len(found) != n:
        return [ChannelSpec("") for _ in range(n)]
    return found


class LslClockMap:
    """Maps a remote LSL clock onto the local one from periodic ``time_correction()`` values.

    LSL's ``time_correction()`` returns the offset to add to a remote timestamp to get local
    ``local_clock()`` time, measured by liblsl from several round trips. LabRecorder records one
    every 5 s and fits them afterwards; online, this keeps the last ``window`` measurements and
    fits a line (offset against local time), so drift between measurements is followed. A
    stream's mapped timestamps never go backwards across calls.

    Args:
        window: measurements kept for the fit.
    """

    def __init__(self, *, window: int = 12) -> None:
        self._times: deque[float] = deque(maxlen=window)
        self._offsets: deque[float] = deque(maxlen=window)
        self._slope = 0.0
        self._intercept = 0.0
        self._floor = -math.inf
        self.measurements = 0
        """How many corrections were measured."""

    @property
    def ready(self) -> bool:
        """Whether a correction was measured."""
        return self.measurements > 0

    @property
    def offset_s(self) -> float:
        """The latest measured offset (remote to local), NaN before the first."""
        return self._offsets[-1] if self._offsets else math.nan

    @property
    def drift_ppm(self) -> float:
        """Drift of the remote clock against the local one, in ppm (0 until 3 measurements)."""
        return self._slope * 1e6

    def update(self, local_t: float, offset_s: float) -> None:
        """Add a measurement: ``offset_s`` measured at local time ``local_t``."""
        if not (math.isfinite(local_t) and math.isfinite(offset_s)):
            return
        self._times.append(local_t)
        self._offsets.append(offset_s)
        self.measurements += 1
        t = np.asarray(self._times)
        o = np.asarray(self._offsets)
        if t.size >= 3 and t[-1] - t[0] > 0:
            slope, intercept = np.polyfit(t - t[0], o, 1)
            self._slope = float(slope)
            self._intercept = float(intercept - slope * t[0])
        else:
            self._slope = 0.0
            self._intercept = float(np.median(o))

    def map(self, remote_t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Remote timestamps to local time (non-decreasing across calls).

        Raises:
            ConfigError: before the first :meth:`update`.
        """
        if not self.ready:
            raise ConfigError("LslClockMap.map() needs a time correction first")
        out = remote_t + self._intercept + self._slope * remote_t
        if out.size and out[0] <= self._floor:
            out = np.maximum(out, self._floor + 1e-9 * np.arange(1, out.size + 1))
        if out.size:
            self._floor = float(out[-1])
        return out


class ChunkPuller:
    """Pulls what an inlet has, without waiting, into buffers allocated once.

    Numeric streams land in a preallocated ``(capacity, channels)`` array (liblsl writes into
    it directly); string streams come back as lists. :meth:`pull` raises ``pylsl.LostError``
    when the stream is lost (the inlet is opened without LSL's silent recovery, so that the
    source can report the gap and re-resolve).

    Args:
        inlet: an open inlet.
        capacity: samples per pull.
    """

    def __init__(self, inlet: pylsl.StreamInlet, capacity: int) -> None:
        self.inlet = inlet
        self.capacity = max(1, int(capacity))
        fmt = inlet.channel_format
        self.channels = int(inlet.channel_count)
        dtype = _NUMPY.get(fmt)
        self.is_string = dtype is None
        self._buffer: npt.NDArray[np.generic] | None = (
            None if dtype is None else np.empty((self.capacity, self.channels), dtype=dtype)
        )
        self.pulls = 0
        """Pull calls so far."""

    def pull(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.generic] | list[list[str]]]:
        """Everything available now, up to ``capacity`` samples: (timestamps, values).

        Numeric values are a view of the internal buffer, valid until the next pull.
        """
        self.pulls += 1
        if self._buffer is None:
            samples, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=self.capacity)
            return np.asarray(stamps, dtype=np.float64), samples
        _, stamps = self.inlet.pull_chunk(
            timeout=0.0, max_samples=self.capacity, dest_obj=self._buffer
        )
        t = np.asarray(stamps, dtype=np.float64)
        return t, self._buffer[: t.size]


class AdaptivePoll:
    """How long to wait before the next non-blocking pull.

    A pull that fills the buffer is followed at once; one that returns more than half of it
    halves the wait (down to ``min_s``); one that returns little lets it grow by a quarter
    (up to ``max_s``, the latency bound). A 500 Hz stream read with ``max_s = 0.05`` costs
    about 20 wake-ups per second instead of the 1000 of a 1 ms polling loop.

    Args:
        capacity: samples per pull.
        min_s: shortest wait.
        max_s: longest wait (the added latency bound).
    """

    def __init__(self, capacity: int, *, min_s: float = 0.001, max_s: float = 0.05) -> None:
        if not 0 < min_s <= max_s:
            raise ConfigError("AdaptivePoll needs 0 < min_s <= max_s")
        self.capacity = capacity
        self.min_s = min_s
        self.max_s = max_s
        self.delay_s = max_s

    def next_delay(self, pulled: int) -> float:
        """The wait before the next pull, after one that returned ``pulled`` samples."""
        if pulled >= self.capacity:
            return 0.0
        if pulled * 2 > self.capacity:
            self.delay_s = max(self.min_s, self.delay_s / 2)
        elif pulled * 8 < self.capacity:
            self.delay_s = min(self.max_s, self.delay_s * 1.25)
        return self.delay_s


def push_chunk(
    outlet: pylsl.StreamOutlet, values: npt.NDArray[np.generic], t: npt.NDArray[np.float64]
) -> None:
    """Push a numeric chunk with one explicit timestamp per sample (no per-sample Python work).

    ``values`` must be C-contiguous in the outlet's dtype, shape ``(n, channels)``.
    """
    n = int(t.size)
    if n == 0:
        return
    stamps = np.ascontiguousarray(t, dtype=np.float64)
    data = np.ascontiguousarray(values, dtype=outlet.np_dtype)
    handle_error(
        outlet.do_push_chunk_n(
            outlet.obj,
            ctypes.c_void_p(data.ctypes.data),
            ctypes.c_ulong(data.size),
            stamps.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            ctypes.c_int(1),
        )
    )
