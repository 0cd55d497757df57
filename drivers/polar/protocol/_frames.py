"""PMD data frames: their layouts, the decoder of device input and the encoders of the twin."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk import ConfigError, ProtocolError
from wearsdk.drivers.polar.protocol._control import (
    _COMPRESSED_BIT,
    _FRAME_TYPE_MASK,
    _HEADER_LEN,
    _INT64_MAX,
    _MEASUREMENT_TYPE_MASK,
    PmdMeasurementType,
    _type_byte,
)


@dataclass(frozen=True, slots=True)
class PmdFrameLayout:
    """How the samples of one (measurement type, frame type, compression) are laid out.

    Attributes:
        channels: values per sample.
        value_bytes: bytes per value (raw), or per reference value (compressed).
        resolution_bits: significant bits of each value; a compressed frame's reference is
            sign-extended from it.
        unit: unit of the decoded values once the factor and ``scale`` are applied.
        scale: multiplies the decoded integers besides the factor (1000 for ACC compressed
            type 0, sent in G units, so that every ACC frame decodes to mG).
        sample_bytes: bytes per raw sample (``channels * value_bytes`` plus any status byte).
    """

    channels: int
    value_bytes: int
    resolution_bits: int
    unit: str
    scale: float = 1.0
    sample_bytes: int = 0


_MT = PmdMeasurementType

# raw frames: ECG 1-3 have their own bit layouts and a status byte (see decode_pmd_frame)
_RAW_LAYOUTS: dict[tuple[int, int], PmdFrameLayout] = {
    (_MT.ECG, 0): PmdFrameLayout(1, 3, 24, "uV", sample_bytes=3),
    (_MT.ECG, 1): PmdFrameLayout(1, 2, 14, "uV", sample_bytes=3),
    (_MT.ECG, 2): PmdFrameLayout(1, 3, 18, "uV", sample_bytes=3),
    (_MT.ECG, 3): PmdFrameLayout(2, 3, 24, "uV", sample_bytes=7),
    (_MT.ACC, 0): PmdFrameLayout(3, 1, 8, "mG", sample_bytes=3),
    (_MT.ACC, 1): PmdFrameLayout(3, 2, 16, "mG", sample_bytes=6),
    (_MT.ACC, 2): PmdFrameLayout(3, 3, 24, "mG", sample_bytes=9),
    (_MT.PPG, 0): PmdFrameLayout(4, 3, 24, "", sample_bytes=12),
}
# delta-compressed frames: reference resolution fixed per frame type, as in Polar's parsers
_DELTA_LAYOUTS: dict[tuple[int, int], PmdFrameLayout] = {
    (_MT.ACC, 0): PmdFrameLayout(3, 2, 16, "mG", scale=1000.0),
    (_MT.ACC, 1): PmdFrameLayout(3, 2, 16, "mG"),
    (_MT.PPG, 0): PmdFrameLayout(4, 3, 24, ""),
    (_MT.GYRO, 0): PmdFrameLayout(3, 2, 16, "deg/s"),
    (_MT.MAGNETOMETER, 0): PmdFrameLayout(3, 2, 16, "G"),
}


def frame_layout(measurement_type: int, frame_type: int, compressed: bool) -> PmdFrameLayout:
    """The layout of a supported frame kind.

    Supported: ECG raw 0-3; ACC raw 0-2 and compressed 0-1; PPG raw and compressed 0;
    gyroscope and magnetometer compressed 0.

    Args:
        measurement_type: a :class:`PmdMeasurementType` value.
        frame_type: the frame type (without the compression bit).
        compressed: whether the frame is delta-compressed.

    Raises:
        KeyError: the combination is not supported.
    """
    table = _DELTA_LAYOUTS if compressed else _RAW_LAYOUTS
    return table[(measurement_type, frame_type)]


@dataclass(frozen=True, slots=True, eq=False)
class PmdFrame:
    """A decoded PMD data frame.

    Attributes:
        measurement_type: the measurement type.
        frame_type: the frame type, without the compression bit.
        compressed: whether the frame was delta-compressed.
        timestamp_ns: sensor time of the last sample, ns since 2000-01-01 (sensor clock).
        timestamps_ns: sensor time of each sample (int64 ns since 2000-01-01), shape ``(n,)``.
        values: samples, float64, shape ``(n, channels)``, factor and scale applied.
        unit: unit of ``values`` (``uV``, ``mG``, ``deg/s``, ``G``, or ``""`` for counts).
        status: ECG frame types 1-3 only, per-sample status byte (uint8): type 1: bit 0
            oversampling, bits 1-2 skin contact, bits 3-4 contact impedance; type 2: bits 2-4
            ECG data tag, bits 5-7 pace data tag (bits 0-1 belong to the value and are
            cleared); type 3: the status byte. ``None`` for other frames.
        sample_interval_ns: the spacing used for ``timestamps_ns``.
    """

    measurement_type: PmdMeasurementType
    frame_type: int
    compressed: bool
    timestamp_ns: int
    timestamps_ns: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    unit: str
    status: npt.NDArray[np.uint8] | None
    sample_interval_ns: float

    def __len__(self) -> int:
        return int(self.values.shape[0])


def _le_signed(columns: npt.NDArray[np.uint8], bits: int) -> npt.NDArray[np.int64]:
    """Little-endian integers from ``(..., nbytes)`` bytes, sign-extended from ``bits``."""
    value = np.zeros(columns.shape[:-1], dtype=np.int64)
    for i in range(columns.shape[-1]):
        value |= columns[..., i].astype(np.int64) << (8 * i)
    value &= (1 << bits) - 1
    sign = np.int64(1 << (bits - 1))
    return (value ^ sign) - sign


def _decode_raw(
    content: npt.NDArray[np.uint8], layout: PmdFrameLayout, key: tuple[int, int], raw: bytes
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8] | None]:
    size = layout.sample_bytes
    if content.size == 0 or content.size % size:
        raise ProtocolError(
            f"PMD frame body of {content.size} bytes is not a whole number of {size}-byte samples",
            raw,
        )
    rows = content.reshape(-1, size)
    status: npt.NDArray[np.uint8] | None = None
    if key == (_MT.ECG, 1):
        ints = (rows[:, 0].astype(np.int64) | (rows[:, 1].astype(np.int64) & 0x3F) << 8)[:, None]
        status = rows[:, 2].copy()
    elif key == (_MT.ECG, 2):
        ints = (
            rows[:, 0].astype(np.int64)
            | rows[:, 1].astype(np.int64) << 8
            | (rows[:, 2].astype(np.int64) & 0x03) << 16
        )[:, None]
        status = rows[:, 2] & np.uint8(0xFC)
    elif key == (_MT.ECG, 3):
        ints = _le_signed(rows[:, :6].reshape(-1, 2, 3), 24)
        status = rows[:, 6].copy()
    else:
        ints = _le_signed(
            rows.reshape(-1, layout.channels, layout.value_bytes), layout.resolution_bits
        )
    return ints, status


_WEIGHTS = [np.left_shift(np.int64(1), np.arange(w, dtype=np.int64)) for w in range(33)]


def _decode_delta(
    content: npt.NDArray[np.uint8], layout: PmdFrameLayout, raw: bytes
) -> npt.NDArray[np.int64]:
    channels = layout.channels
    ref_len = channels * layout.value_bytes
    total = content.size
    if total < ref_len:
        raise ProtocolError(f"compressed PMD frame shorter than its {ref_len}-byte reference", raw)
    reference = _le_signed(content[:ref_len].reshape(channels, -1), layout.resolution_bits)
    blocks: list[npt.NDArray[np.int64]] = []
    offset = ref_len
    while offset < total:
        if offset + 2 > total:
            raise ProtocolError("compressed PMD frame ends inside a delta block header", raw)
        width = int(content[offset])
        count = int(content[offset + 1])
        offset += 2
        if not 1 <= width <= 32:
            raise ProtocolError(f"delta bit width {width} outside 1-32", raw)
        nbits = width * count * channels
        nbytes = (nbits + 7) // 8
        if offset + nbytes > total:
            raise ProtocolError(
                f"delta block of {count} x {width}-bit samples cut short "
                f"({total - offset} of {nbytes} bytes)",
                raw,
            )
        if count:
            bits = np.unpackbits(content[offset : offset + nbytes], count=nbits, bitorder="little")
            unsigned = bits.reshape(-1, width).astype(np.int64) @ _WEIGHTS[width]
            sign = np.int64(1 << (width - 1))
            blocks.append(((unsigned ^ sign) - sign).reshape(count, channels))
        offset += nbytes
    samples = np.empty((1 + sum(b.shape[0] for b in blocks), channels), dtype=np.int64)
    samples[0] = reference
    if blocks:
        np.cumsum(np.concatenate(blocks), axis=0, out=samples[1:])
        samples[1:] += reference
        # accumulate in 32-bit two's complement, as Polar's SDK (Kotlin Int) does
        samples[1:] = ((samples[1:] + 2**31) & 0xFFFFFFFF) - 2**31
    return samples


def _sample_times(
    timestamp_ns: int,
    n: int,
    sample_rate_hz: float | None,
    previous_timestamp_ns: int | None,
    max_rate_error: float | None,
    raw: bytes,
) -> tuple[npt.NDArray[np.int64], float]:
    nominal = None
    if sample_rate_hz is not None:
        if not math.isfinite(sample_rate_hz) or sample_rate_hz <= 0:
            raise ConfigError(f"sample_rate_hz must be a positive number, got {sample_rate_hz!r}")
        nominal = 1e9 / sample_rate_hz
    step: float | None = None
    if previous_timestamp_ns is not None and previous_timestamp_ns < timestamp_ns:
        step = (timestamp_ns - previous_timestamp_ns) / n
        if (
            nominal is not None
            and max_rate_error is not None
            and abs(step - nominal) > max_rate_error * nominal
        ):
            step = None  # frames were lost in between (or the clock jumped): use the rate
    if step is None:
        if nominal is not None:
            step = nominal
        elif n == 1:
            step = 0.0
        elif previous_timestamp_ns is not None:
            raise ProtocolError(
                f"PMD timestamp {timestamp_ns} does not follow the previous frame's "
                f"{previous_timestamp_ns}, and no sample rate was given",
                raw,
            )
        else:
            raise ConfigError("decoding needs sample_rate_hz or previous_timestamp_ns")
    offsets = np.rint(np.arange(n - 1, -1, -1, dtype=np.float64) * step).astype(np.int64)
    times = np.int64(timestamp_ns) - offsets
    if n and times[0] < 0:
        raise ProtocolError(f"PMD timestamp {timestamp_ns} ns is too small for {n} samples", raw)
    return times, step


def decode_pmd_frame(
    data: bytes | bytearray | memoryview,
    *,
    sample_rate_hz: float | None = None,
    previous_timestamp_ns: int | None = None,
    factor: float = 1.0,
    max_rate_error: float | None = 0.5,
) -> PmdFrame:
    """Decode one PMD data frame.

    Per-sample timestamps follow Polar's ``PmdTimeStampUtils``: with ``n`` samples and the
    frame's (last-sample) timestamp ``ts``, sample ``i`` is at ``ts - (n - 1 - i) * step``
    (rounded to the ns), where ``step`` is ``(ts - previous_timestamp_ns) / n`` when the
    previous frame of the same measurement and frame type is known, else
    ``1 / sample_rate_hz``. Unlike Polar's SDK, the rate is also used when the previous
    timestamp is not older than ``ts``, or when the step it gives is more than
    ``max_rate_error`` (relative) away from ``1 / sample_rate_hz``: the frames in between
    were lost, and spreading this frame over the gap would misplace every sample.

    Args:
        data: the notification payload.
        sample_rate_hz: the stream's nominal rate (required for a first frame of more than
            one sample, or whenever ``previous_timestamp_ns`` cannot be used).
        previous_timestamp_ns: the timestamp of the previous frame of the same measurement
            type and frame type, or ``None`` for the first frame.
        factor: the factor setting of the stream (from the start response), applied to the
            values.
        max_rate_error: see above; ``None`` trusts the previous timestamp whatever the step.

    Returns:
        The frame, with ``values`` of shape ``(n, channels)``.

    Raises:
        ProtocolError: the frame is shorter than its header, of an unsupported measurement or
            frame type, truncated or padded, has an invalid delta block, a timestamp beyond
            2^63 - 1 ns or too small for its samples.
        ConfigError: ``sample_rate_hz`` is not positive, or neither it nor a usable previous
            timestamp is given for a frame of several samples.
    """
    raw = bytes(data)
    if len(raw) < _HEADER_LEN + 1:
        raise ProtocolError(f"PMD data frame too short ({len(raw)} bytes)", raw)
    type_id = raw[0] & _MEASUREMENT_TYPE_MASK
    timestamp_ns = int.from_bytes(raw[1:9], "little")
    compressed = bool(raw[9] & _COMPRESSED_BIT)
    frame_type = raw[9] & _FRAME_TYPE_MASK
    key = (type_id, frame_type)
    layout = (_DELTA_LAYOUTS if compressed else _RAW_LAYOUTS).get(key)
    if layout is None:
        kind = "compressed" if compressed else "raw"
        raise ProtocolError(
            f"unsupported PMD frame: measurement type {type_id}, {kind} frame type {frame_type}",
            raw,
        )
    if timestamp_ns > _INT64_MAX:
        raise ProtocolError(f"PMD timestamp {timestamp_ns} ns is beyond year 2292", raw)
    content = np.frombuffer(raw, dtype=np.uint8, offset=_HEADER_LEN)
    status: npt.NDArray[np.uint8] | None = None
    if compressed:
        ints = _decode_delta(content, layout, raw)
    else:
        ints, status = _decode_raw(content, layout, key, raw)
    times, step = _sample_times(
        timestamp_ns,
        ints.shape[0],
        sample_rate_hz,
        previous_timestamp_ns,
        max_rate_error,
        raw,
    )
    values = ints.astype(np.float64)
    gain = factor * layout.scale
    if gain != 1.0:
        values *= gain
    return PmdFrame(
        measurement_type=PmdMeasurementType(type_id),
        frame_type=frame_type,
        compressed=compressed,
        timestamp_ns=timestamp_ns,
        timestamps_ns=times,
        values=values,
        unit=layout.unit,
        status=status,
        sample_interval_ns=step,
    )


# -- encoders (virtual twin, tests) ----------------------------------------------------------


def _header(measurement_type: int, frame_type: int, compressed: bool, timestamp_ns: int) -> bytes:
    if not 0 <= timestamp_ns <= 0xFFFF_FFFF_FFFF_FFFF:
        raise ConfigError(f"timestamp out of uint64 range: {timestamp_ns}")
    if not 0 <= frame_type <= _FRAME_TYPE_MASK:
        raise ConfigError(f"frame type out of range: {frame_type}")
    return (
        bytes((_type_byte(measurement_type),))
        + timestamp_ns.to_bytes(8, "little")
        + bytes((frame_type | (_COMPRESSED_BIT if compressed else 0),))
    )


def _as_int_matrix(values: npt.ArrayLike, channels: int, what: str) -> npt.NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim == 1 and channels == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != channels:
        raise ConfigError(f"{what} must have shape (n, {channels}), got {array.shape}")
    if (
        array.size
        and not np.issubdtype(array.dtype, np.integer)
        and (not np.all(np.isfinite(array)) or not np.all(array == np.round(array)))
    ):
        raise ConfigError(f"{what} must be integers")
    return array.astype(np.int64)


def _check_range(values: npt.NDArray[np.int64], low: int, high: int, what: str) -> None:
    if values.size and (values.min() < low or values.max() > high):
        raise ConfigError(f"{what} outside {low}..{high}")


def _le_bytes(values: npt.NDArray[np.int64], nbytes: int) -> npt.NDArray[np.uint8]:
    """``(..., )`` integers to ``(..., nbytes)`` little-endian two's-complement bytes."""
    shifts = np.arange(nbytes, dtype=np.int64) * 8
    return ((values[..., None] >> shifts) & 0xFF).astype(np.uint8)


def encode_pmd_frame(
    measurement_type: int,
    frame_type: int,
    timestamp_ns: int,
    values: npt.ArrayLike,
    *,
    status: npt.ArrayLike | None = None,
) -> bytes:
    """Encode a raw (uncompressed) PMD data frame: the inverse of :func:`decode_pmd_frame`.

    Args:
        measurement_type: a :class:`PmdMeasurementType` value.
        frame_type: a raw frame type supported by :func:`frame_layout`.
        timestamp_ns: sensor time of the last sample, ns since 2000-01-01.
        values: integer samples, shape ``(n, channels)`` (or ``(n,)`` for one channel), in
            the frame's units before any factor.
        status: ECG frame types 1-3: the per-sample status bytes (default 0); for type 2 only
            bits 2-7 are used (bits 0-1 carry the value).

    Raises:
        ConfigError: an unsupported frame kind, a value that does not fit its field, or a
            timestamp out of range.
    """
    key = (measurement_type, frame_type)
    layout = _RAW_LAYOUTS.get(key)
    if layout is None:
        raise ConfigError(f"no raw PMD layout for measurement {measurement_type} type {frame_type}")
    ints = _as_int_matrix(values, layout.channels, "values")
    n = ints.shape[0]
    flags = np.zeros(n, dtype=np.int64)
    if status is not None:
        flags = np.asarray(status, dtype=np.int64).reshape(-1)
        if flags.shape != (n,):
            raise ConfigError(f"status must have one byte per sample ({n}), got {flags.shape}")
        _check_range(flags, 0, 0xFF, "status")
    bits = layout.resolution_bits
    if key == (_MT.ECG, 1):
        _check_range(ints, 0, (1 << bits) - 1, "ECG type 1 values")
        body = np.concatenate([_le_bytes(ints[:, 0], 2), flags[:, None].astype(np.uint8)], axis=1)
    elif key == (_MT.ECG, 2):
        _check_range(ints, 0, (1 << bits) - 1, "ECG type 2 values")
        body = _le_bytes(ints[:, 0], 3)
        body[:, 2] = (body[:, 2] & 0x03) | (flags & 0xFC).astype(np.uint8)
    else:
        _check_range(ints, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, "values")
        body = _le_bytes(ints, layout.value_bytes).reshape(n, -1)
        if key == (_MT.ECG, 3):
            body = np.concatenate([body, flags[:, None].astype(np.uint8)], axis=1)
    return _header(measurement_type, frame_type, False, timestamp_ns) + body.tobytes()


def _min_width(deltas: npt.NDArray[np.int64]) -> int:
    if not deltas.size:
        return 1
    low, high = int(deltas.min()), int(deltas.max())
    return max(1, (-low - 1).bit_length() + 1 if low < 0 else 1, high.bit_length() + 1)


def encode_delta_frame(
    reference: npt.ArrayLike,
    deltas: npt.ArrayLike,
    bit_width: int | Sequence[int] | None = None,
    *,
    timestamp_ns: int,
    measurement_type: int = PmdMeasurementType.ACC,
    frame_type: int = 1,
    block_samples: int = 255,
) -> bytes:
    """Encode a delta-compressed PMD data frame: the inverse of :func:`decode_pmd_frame`.

    The frame holds ``1 + len(deltas)`` samples: ``reference`` then the running sums. The
    deltas are cut into blocks of ``block_samples`` rows (at most 255: the count is a byte).

    Args:
        reference: the first sample, one integer per channel.
        deltas: integer differences between consecutive samples, shape ``(n, channels)``.
        bit_width: the delta width, 1-32 bits, for every block; or one width per block; or
            ``None`` for the smallest width that holds each block.
        timestamp_ns: sensor time of the last sample, ns since 2000-01-01.
        measurement_type: a :class:`PmdMeasurementType` value.
        frame_type: a compressed frame type supported by :func:`frame_layout`.
        block_samples: samples per block, 1-255.

    Raises:
        ConfigError: an unsupported frame kind, a reference or delta that does not fit, a
            width out of 1-32, or a width list whose length is not the number of blocks.
    """
    key = (measurement_type, frame_type)
    layout = _DELTA_LAYOUTS.get(key)
    if layout is None:
        raise ConfigError(
            f"no compressed PMD layout for measurement {measurement_type} type {frame_type}"
        )
    if not 1 <= block_samples <= 0xFF:
        raise ConfigError(f"block_samples must be within 1..255, got {block_samples}")
    channels = layout.channels
    ref = _as_int_matrix(np.reshape(np.asarray(reference), (1, -1)), channels, "reference")[0]
    bits = layout.resolution_bits
    _check_range(ref, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, "reference")
    diffs = _as_int_matrix(np.reshape(np.asarray(deltas), (-1, channels)), channels, "deltas")
    starts = range(0, diffs.shape[0], block_samples)
    if bit_width is None or isinstance(bit_width, int):
        widths: list[int | None] = [bit_width] * len(starts)
    else:
        widths = list(bit_width)
        if len(widths) != len(starts):
            raise ConfigError(f"{len(widths)} bit widths for {len(starts)} delta blocks")
    out = bytearray(_header(measurement_type, frame_type, True, timestamp_ns))
    out += _le_bytes(ref, layout.value_bytes).tobytes()
    for start, width in zip(starts, widths, strict=True):
        block = diffs[start : start + block_samples]
        w = _min_width(block) if width is None else int(width)
        if not 1 <= w <= 32:
            raise ConfigError(f"delta bit width must be within 1..32, got {w}")
        _check_range(block, -(1 << (w - 1)), (1 << (w - 1)) - 1, f"{w}-bit deltas")
        unsigned = block.reshape(-1) & ((1 << w) - 1)
        bitplanes = ((unsigned[:, None] >> np.arange(w, dtype=np.int64)) & 1).astype(np.uint8)
        out += bytes((w, block.shape[0]))
        out += np.packbits(bitplanes.reshape(-1), bitorder="little").tobytes()
    return bytes(out)
