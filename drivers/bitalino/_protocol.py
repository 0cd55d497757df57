r"""BITalino (r)evolution wire format: commands, frames, CRC-4, and the EDA transfer functions.

Checked against PLUX's own public sources: the BITalino Python API (``BITalinoWorld/
revolution-python-api``, ``bitalino.py``: ``start``, ``read``), the Android API
(``BITalinoWorld/revolution-android-api``: ``BITalinoFrameDecoder``, ``BITalinoCRC``,
``ble/BLECommunication``, ``ble/PluxGattAttributes``) and the MCU firmware
(``BITalinoWorld/firmware-bitalino-revolution``: ``live.c`` packs a frame, ``uart.c``
``sendFrameCRC`` computes its CRC and sends its tail).

**Commands** (one byte each, written to the commands characteristic over BLE):
sampling rate ``(code << 6) | 0x03`` with code 0, 1, 2, 3 for 1, 10, 100, 1000 Hz; start
``0x01 | (mask << 2)`` where bit ``i`` of ``mask`` acquires analog input A(i+1); stop ``0x00``;
version ``0x07`` (answers ``BITalino_v5.1\n``, on the frames characteristic over BLE).

**Frames**, one per sample, ``ceil((12 + 10 n) / 8)`` bytes for n <= 4 acquired channels and
``ceil((52 + 6 (n - 4)) / 8)`` beyond (3, 4, 6, 7, 8, 8 bytes). Counted from the *end* of a
frame of length L (``d[L-1]`` is the last byte):

============ ===========================================================================
``d[L-1]``   sequence number (high nibble, 0-15, restarts at 0 on start) | CRC-4 (low nibble)
``d[L-2]``   bit 7 I1, bit 6 I2, bit 5 O1, bit 4 O2 (digital I/O), bits 3-0 = A-slot 1 bits 9-6
slot 1       ``((d[L-2] & 0x0F) << 6) | (d[L-3] >> 2)``            (10 bits)
slot 2       ``((d[L-3] & 0x03) << 8) | d[L-4]``                    (10 bits)
slot 3       ``(d[L-5] << 2) | (d[L-6] >> 6)``                      (10 bits)
slot 4       ``((d[L-6] & 0x3F) << 4) | (d[L-7] >> 4)``             (10 bits)
slot 5       ``((d[L-7] & 0x0F) << 2) | (d[L-8] >> 6)``             (6 bits: the ADC's top 6)
slot 6       ``d[L-8] & 0x3F``                                      (6 bits: the ADC's top 6)
============ ===========================================================================

Slots hold the acquired channels in ascending input order (A1 before A3...), so the k-th
acquired channel is 10-bit for k <= 4 and 6-bit beyond.

**CRC-4**: polynomial x^4 + x + 1, initial value 0, no reflection, computed MSB first over the
whole frame with its CRC nibble set to zero (the sequence nibble is included). PLUX computes it
nibble by nibble with the table ``0 3 6 5 12 15 10 9 11 8 13 14 7 4 1 2``.

Over BLE (BT121 firmware) the frames are a plain byte stream cut into notifications at any
boundary: :class:`FrameReassembler` rebuilds, checks and resynchronises it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wearsdk import ConfigError
from wearsdk.drivers.bitalino._eda import (
    EdaSensor,
    eda_adc_code,
    eda_usiemens,
)

__all__ = [
    "BITALINO_COMMANDS_UUID",
    "BITALINO_FRAMES_UUID",
    "BITALINO_SERVICE_UUID",
    "SAMPLING_RATES_HZ",
    "STOP_COMMAND",
    "VERSION_COMMAND",
    "BitalinoFrames",
    "EdaSensor",
    "FrameReassembler",
    "channel_bits",
    "crc4",
    "decode_frames",
    "eda_adc_code",
    "eda_usiemens",
    "encode_frame",
    "frame_length",
    "sampling_rate_command",
    "start_command",
]

BITALINO_SERVICE_UUID = "c566488a-0882-4e1b-a6d0-0b717e652234"
"""BITalino (r)evolution BLE data service (BT121 firmware; PLUX ``PluxGattAttributes.DataS``)."""
BITALINO_COMMANDS_UUID = "4051eb11-bf0a-4c74-8730-a48f4193fcea"
"""Commands characteristic (write)."""
BITALINO_FRAMES_UUID = "40fdba6b-672e-47c4-808a-e529adff3633"
"""Frames characteristic (notify): the acquisition byte stream."""

SAMPLING_RATES_HZ: tuple[int, ...] = (1, 10, 100, 1000)
"""Sampling rates a BITalino supports, in the order of their command codes."""
STOP_COMMAND = 0x00
"""Stop the acquisition."""
VERSION_COMMAND = 0x07
"""Ask for the version string (idle only)."""


_CRC4_TABLE = (0, 3, 6, 5, 12, 15, 10, 9, 11, 8, 13, 14, 7, 4, 1, 2)
_MAX_CHANNELS = 6
_SEQ_MODULO = 16


def sampling_rate_command(rate_hz: int) -> int:
    """The command byte that sets the sampling rate (idle only).

    Raises:
        ConfigError: ``rate_hz`` is not 1, 10, 100 or 1000.
    """
    if rate_hz not in SAMPLING_RATES_HZ:
        raise ConfigError(
            f"BITalino sampling rate must be one of {SAMPLING_RATES_HZ}, not {rate_hz}"
        )
    return (SAMPLING_RATES_HZ.index(rate_hz) << 6) | 0x03


def _check_channels(channels: Sequence[int]) -> tuple[int, ...]:
    chans = tuple(sorted(set(channels)))
    if not chans or any(not isinstance(c, int) or not 1 <= c <= _MAX_CHANNELS for c in chans):
        raise ConfigError(f"BITalino analog channels must be 1 to 6 (A1-A6), got {channels!r}")
    return chans


def start_command(channels: Sequence[int]) -> int:
    """The command byte that starts live acquisition of analog inputs ``channels``.

    Args:
        channels: analog inputs to acquire, 1-6 for A1-A6 (order and duplicates ignored).

    Raises:
        ConfigError: no channel, or one outside 1-6.
    """
    mask = 0
    for c in _check_channels(channels):
        mask |= 1 << (c - 1)
    return 0x01 | (mask << 2)


def frame_length(n_channels: int) -> int:
    """Bytes per frame when ``n_channels`` analog inputs are acquired (1-6).

    Raises:
        ConfigError: ``n_channels`` outside 1-6.
    """
    if not 1 <= n_channels <= _MAX_CHANNELS:
        raise ConfigError(f"a BITalino acquires 1 to 6 analog channels, not {n_channels}")
    if n_channels <= 4:
        return math.ceil((12 + 10 * n_channels) / 8)
    return math.ceil((52 + 6 * (n_channels - 4)) / 8)


def channel_bits(slot: int) -> int:
    """Resolution of the ``slot``-th acquired channel (0-based): 10 bits for 0-3, 6 beyond."""
    return 10 if slot < 4 else 6


def crc4(frame: bytes | bytearray | memoryview) -> int:
    """CRC-4 of a frame: the value its last byte's low nibble must hold.

    The frame's own CRC nibble is ignored (treated as zero), so this works on a frame as
    received and on one being built.
    """
    data = bytes(frame)
    if not data:
        return 0
    crc = 0
    table = _CRC4_TABLE
    for b in data[:-1]:
        crc = table[crc] ^ (b >> 4)
        crc = table[crc] ^ (b & 0x0F)
    crc = table[crc] ^ (data[-1] >> 4)
    return table[crc]


def encode_frame(
    seq: int,
    analog: Sequence[int],
    digital: Sequence[int] = (0, 0, 0, 0),
) -> bytes:
    """Build one frame as the firmware sends it (used by the virtual twin and tests).

    Args:
        seq: sequence number; only its low 4 bits are sent.
        analog: one ADC code per acquired channel, in slot order: 0-1023 for the first four,
            0-63 for slots 5 and 6 (the firmware sends the top 6 bits of the 10-bit ADC).
        digital: I1, I2, O1, O2, each 0 or 1.

    Raises:
        ConfigError: no or more than six channels, a code out of range, or not four digital
            values.
    """
    n = len(analog)
    length = frame_length(n)
    for slot, code in enumerate(analog):
        if not 0 <= int(code) < (1 << channel_bits(slot)):
            raise ConfigError(f"slot {slot + 1} code {code} does not fit {channel_bits(slot)} bits")
    if len(digital) != 4:
        raise ConfigError("digital must hold I1, I2, O1, O2")
    a = [int(x) for x in analog] + [0] * (_MAX_CHANNELS - n)
    f = bytearray(8)
    f[6] = (
        (int(bool(digital[0])) << 7)
        | (int(bool(digital[1])) << 6)
        | (int(bool(digital[2])) << 5)
        | (int(bool(digital[3])) << 4)
    )

    def or_word(i: int, value: int) -> None:  # little-endian 16-bit word at f[i], f[i + 1]
        f[i] |= value & 0xFF
        f[i + 1] |= (value >> 8) & 0xFF

    or_word(5, a[0] << 2)
    or_word(4, a[1])
    or_word(2, a[2] << 6)
    or_word(1, a[3] << 4)
    or_word(0, a[4] << 6)
    f[0] |= a[5]
    f[7] = (seq & 0x0F) << 4
    frame = f[8 - length :]
    frame[-1] |= crc4(frame)
    return bytes(frame)


def _decode_one(frame: bytes, n: int) -> tuple[int, tuple[int, int, int, int], list[int]]:
    j = len(frame) - 1
    d = frame
    digital = ((d[j - 1] >> 7) & 1, (d[j - 1] >> 6) & 1, (d[j - 1] >> 5) & 1, (d[j - 1] >> 4) & 1)
    a = [((d[j - 1] & 0x0F) << 6) | (d[j - 2] >> 2)]
    if n > 1:
        a.append(((d[j - 2] & 0x03) << 8) | d[j - 3])
    if n > 2:
        a.append((d[j - 4] << 2) | (d[j - 5] >> 6))
    if n > 3:
        a.append(((d[j - 5] & 0x3F) << 4) | (d[j - 6] >> 4))
    if n > 4:
        a.append(((d[j - 6] & 0x0F) << 2) | (d[j - 7] >> 6))
    if n > 5:
        a.append(d[j - 7] & 0x3F)
    return d[j] >> 4, digital, a


@dataclass(frozen=True, slots=True)
class BitalinoFrames:
    """Frames decoded from a byte stream, with what was dropped on the way.

    Attributes:
        seq: sequence number of each frame (0-15), shape ``(n,)``.
        analog: ADC codes, shape ``(n, channels)``, in slot order.
        digital: I1, I2, O1, O2 of each frame, shape ``(n, 4)``.
        crc_errors: frames dropped because their CRC did not match (while in step).
        skipped_bytes: bytes discarded while looking for frame boundaries again.
        resyncs: how many times the stream fell out of step and was searched again.
        pending: bytes kept for the next call (an incomplete frame, or lookahead).
    """

    seq: npt.NDArray[np.int64]
    analog: npt.NDArray[np.int64]
    digital: npt.NDArray[np.int64]
    crc_errors: int = 0
    skipped_bytes: int = 0
    resyncs: int = 0
    pending: int = field(default=0)

    def __len__(self) -> int:
        return int(self.seq.shape[0])


class FrameReassembler:
    """Rebuilds BITalino frames from a byte stream cut at arbitrary points (BLE notifications).

    It starts *searching*: two consecutive frames with valid CRCs and consecutive sequence
    numbers mark the frame boundary (a wrong lock needs a 1-in-4096 coincidence). Then it is
    *in step* and reads frame after frame. A frame whose CRC fails is dropped and counted in
    :attr:`crc_errors` when one of the next four frame positions holds a frame that is
    confirmed (its sequence number follows the last good one, allowing up to four frames
    never sent, or the frame after it checks too and follows it): bytes were
    corrupted but none were lost. Otherwise the stream lost bytes: it counts a resync and
    searches again, one byte at a time (:attr:`skipped_bytes`). It never raises on bad input;
    the buffer it keeps is bounded by a few frames.

    Args:
        n_channels: analog channels acquired (1-6): fixes the frame length.

    Raises:
        ConfigError: ``n_channels`` outside 1-6.
    """

    MAX_CORRUPT_RUN = 4
    """Consecutive corrupted frames tolerated without losing step."""

    def __init__(self, n_channels: int) -> None:
        self.n_channels = n_channels
        self.frame_length = frame_length(n_channels)
        self.crc_errors = 0
        """Frames dropped for a bad CRC while in step."""
        self.skipped_bytes = 0
        """Bytes discarded while searching for the frame boundary."""
        self.resyncs = 0
        """Times the stream fell out of step."""
        self.frames = 0
        """Frames decoded."""
        self.reset()

    def reset(self) -> None:
        """Forget buffered bytes and search for the boundary again (after a reconnect)."""
        self._buf = bytearray()
        self._locked = False
        self._last_seq: int | None = None

    @property
    def pending(self) -> int:
        """Bytes buffered for the next call."""
        return len(self._buf)

    @property
    def in_step(self) -> bool:
        """Whether the frame boundary is known."""
        return self._locked

    def _ok(self, offset: int) -> bool:
        frame = self._buf[offset : offset + self.frame_length]
        return (frame[-1] & 0x0F) == crc4(frame)

    def _seq(self, offset: int) -> int:
        return int(self._buf[offset + self.frame_length - 1] >> 4)

    def feed(self, data: bytes | bytearray | memoryview, *, final: bool = False) -> BitalinoFrames:
        """Add bytes; return every frame completed and checked by them.

        Args:
            data: the next bytes of the stream (one notification, or a whole recording).
            final: no more bytes follow: decide on frames still waiting for lookahead (a last
                bad frame is dropped and counted instead of waiting).
        """
        crc_before, skipped_before, resyncs_before = (
            self.crc_errors,
            self.skipped_bytes,
            self.resyncs,
        )
        self._buf += bytes(data)
        seqs: list[int] = []
        analogs: list[list[int]] = []
        digitals: list[tuple[int, int, int, int]] = []
        length = self.frame_length
        pos = 0
        while True:
            avail = len(self._buf) - pos
            if not self._locked:
                if avail < 2 * length:
                    break
                if (
                    self._ok(pos)
                    and self._ok(pos + length)
                    and self._seq(pos + length) == (self._seq(pos) + 1) % _SEQ_MODULO
                ):
                    self._locked = True
                    continue
                pos += 1
                self.skipped_bytes += 1
                continue
            if avail < length:
                break
            if self._ok(pos):
                frame = bytes(self._buf[pos : pos + length])
                seq, digital, analog = _decode_one(frame, self.n_channels)
                seqs.append(seq)
                analogs.append(analog)
                digitals.append(digital)
                self._last_seq = seq
                pos += length
                continue
            skip = self._corrupt_run(pos, final=final)
            if skip is None:
                break  # wait for more bytes
            if skip:
                self.crc_errors += skip
                pos += skip * length
                if self._last_seq is not None:
                    self._last_seq = (self._last_seq + skip) % _SEQ_MODULO
            else:
                self.resyncs += 1
                self._locked = False
                self._last_seq = None
                pos += 1
                self.skipped_bytes += 1
        del self._buf[:pos]
        if final and not self._locked and self._buf:
            # too few bytes left to ever confirm a boundary
            self.skipped_bytes += len(self._buf)
            self._buf.clear()
        self.frames += len(seqs)
        n = len(seqs)
        return BitalinoFrames(
            seq=np.asarray(seqs, dtype=np.int64),
            analog=np.asarray(analogs, dtype=np.int64).reshape(n, self.n_channels),
            digital=np.asarray(digitals, dtype=np.int64).reshape(n, 4),
            crc_errors=self.crc_errors - crc_before,
            skipped_bytes=self.skipped_bytes - skipped_before,
            resyncs=self.resyncs - resyncs_before,
            pending=len(self._buf),
        )

    def _corrupt_run(self, pos: int, *, final: bool) -> int | None:
        """After a bad frame at ``pos``: how many corrupted frames to drop (0: out of step).

        ``None`` when more bytes are needed to decide.
        """
        length = self.frame_length
        avail = len(self._buf) - pos
        for j in range(1, self.MAX_CORRUPT_RUN + 1):
            if avail < (j + 1) * length:
                # the frames before position j are all bad; at the end of the data, drop them
                return j if final else None
            if not self._ok(pos + j * length):
                continue
            seq = self._seq(pos + j * length)
            if (
                self._last_seq is not None
                and 1 <= (seq - self._last_seq - j) % _SEQ_MODULO <= self.MAX_CORRUPT_RUN
            ):
                return j  # follows the last good frame (allowing a few frames never sent)
            if avail < (j + 2) * length:
                return j if final else None
            if (
                self._ok(pos + (j + 1) * length)
                and self._seq(pos + (j + 1) * length) == (seq + 1) % _SEQ_MODULO
            ):
                return j
        return 0


def decode_frames(data: bytes | bytearray | memoryview, n_channels: int) -> BitalinoFrames:
    """Decode a recorded BITalino byte stream (a serial/Bluetooth capture, a BLE log).

    The stream may start in the middle of a frame and contain corrupted or missing bytes:
    frames are found by their CRC and sequence numbers (see :class:`FrameReassembler`), bad
    ones are dropped and counted in the result. Never raises on bad bytes.

    Args:
        data: the raw bytes, in order.
        n_channels: how many analog channels were acquired (1-6).

    Returns:
        The frames (sequence numbers, ADC codes in slot order, digital I/O) and the counts of
        what was dropped. ``pending`` is the size of an incomplete last frame.

    Raises:
        ConfigError: ``n_channels`` outside 1-6.

    Example:
        >>> frames = decode_frames(encode_frame(0, [512]) + encode_frame(1, [600]), 1)
        >>> frames.seq.tolist(), frames.analog[:, 0].tolist()
        ([0, 1], [512, 600])
    """
    return FrameReassembler(n_channels).feed(data, final=True)
