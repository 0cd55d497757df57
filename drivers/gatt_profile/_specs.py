"""The parts of a GATT profile: what to write, the payload's layout, a counter, conversions."""

from __future__ import annotations

import math
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wearsdk import ConfigError

TransferFunction = Literal["linear", "grove_gsr", "bitalino_eda_revolution", "bitalino_eda_legacy"]
"""Named transfer functions from raw readings to physical values (see :class:`ConversionSpec`)."""

_BASE_UUID = "-0000-1000-8000-00805f9b34fb"
_SAMPLE_CODES = frozenset("bBhHiIlLqQefd")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_FORMAT_TOKEN = re.compile(r"([0-9]*)([bBhHiIlLqQefd])")
_MAX_FIELDS = 64  # values (channels) per sample
_MAX_FORMAT_CHARS = 256
_MAX_PROFILE_BYTES = 1 << 20  # a profile file is a few hundred bytes
_REVOLUTION_GAIN = 0.132  # BITalino (r)evolution EDA: V per µS


def _normalize_uuid(value: str) -> str:
    text = value.strip().lower().removeprefix("0x")
    if re.fullmatch(r"[0-9a-f]{4}", text):
        return f"0000{text}{_BASE_UUID}"
    if re.fullmatch(r"[0-9a-f]{8}", text):
        return f"{text}{_BASE_UUID}"
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"not a Bluetooth UUID: {value!r}") from None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WriteSpec(_Model):
    r"""One write to the control characteristic: exactly one of ``hex`` or ``text``.

    Attributes:
        hex: the bytes as hexadecimal (``"01ff"``; spaces allowed).
        text: the bytes as UTF-8 text (``"start\n"``).
    """

    hex: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.hex is None) == (self.text is None):
            raise ValueError("a write gives exactly one of 'hex' or 'text'")
        if self.hex is not None:
            bytes.fromhex(self.hex)  # raises ValueError on bad hex
        return self

    @property
    def data(self) -> bytes:
        """The bytes to write."""
        if self.hex is not None:
            return bytes.fromhex(self.hex)
        return (self.text or "").encode("utf-8")


class CounterSpec(_Model):
    """A counter at the start of every notification, used to detect lost notifications.

    Attributes:
        format: unsigned integer ``struct`` code: ``B`` (8-bit), ``H`` (16-bit), ``I`` (32-bit).
        unit: what it counts: ``samples`` (index of the notification's first sample) or
            ``notifications``. It wraps around at 2^bits.
    """

    format: Literal["B", "H", "I"]
    unit: Literal["samples", "notifications"] = "samples"

    @property
    def modulo(self) -> int:
        """Where the counter wraps."""
        return 1 << (8 * struct.calcsize(self.format))


def _check_size(text: str, origin: str) -> None:
    if len(text) > _MAX_PROFILE_BYTES:
        raise ConfigError(f"GATT profile {origin} is larger than {_MAX_PROFILE_BYTES} bytes")


class PayloadSpec(_Model):
    """Layout of one notification: ``[counter] sample sample ...``.

    Attributes:
        byte_order: ``little`` or ``big`` endian for the counter and the samples.
        counter: the optional counter that starts each notification.
        sample_format: ``struct`` codes of one sample, one per channel, without byte-order
            prefix (``"H"``, ``"hhh"``, ``"3h"``); integer or float codes only.
        samples_per_notification: exact samples per notification, or ``None`` for any whole
            number of samples (at least one).
    """

    byte_order: Literal["little", "big"] = "little"
    counter: CounterSpec | None = None
    sample_format: str
    samples_per_notification: int | None = Field(default=None, ge=1, le=4096)

    @field_validator("sample_format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        shown = value if len(value) <= 40 else f"{value[:40]}..."
        tokens = _FORMAT_TOKEN.findall(value) if len(value) <= _MAX_FORMAT_CHARS else []
        if not tokens or "".join(n + c for n, c in tokens) != value:
            raise ValueError(
                f"sample_format must use struct codes {''.join(sorted(_SAMPLE_CODES))} "
                f"with optional repeat counts (no byte-order prefix), got {shown!r}"
            )
        # counts are checked before struct sees them: "999999999H" would allocate gigabytes
        counts = [int(n) if n else 1 for n, _ in tokens]
        if min(counts) < 1 or sum(counts) > _MAX_FIELDS:
            raise ValueError(
                f"sample_format {shown!r} must describe 1 to {_MAX_FIELDS} values per sample"
            )
        return value

    @property
    def prefix(self) -> str:
        """The ``struct`` byte-order prefix."""
        return "<" if self.byte_order == "little" else ">"

    @property
    def sample_size(self) -> int:
        """Bytes per sample."""
        return struct.calcsize(self.prefix + self.sample_format)

    @property
    def n_fields(self) -> int:
        """Values per sample (channels)."""
        return len(struct.unpack(self.prefix + self.sample_format, bytes(self.sample_size)))

    @property
    def header_size(self) -> int:
        """Bytes before the first sample."""
        return 0 if self.counter is None else struct.calcsize(self.counter.format)


class ConversionSpec(_Model):
    """From raw readings to physical values: ``value = transfer(raw) * scale + offset``.

    Transfer functions:

    - ``linear``: ``transfer(x) = x``.
    - ``grove_gsr``: skin conductance in µS from a Seeed Grove GSR module read by an
      ``adc_bits`` ADC. Seeed's formula (wiki "Grove - GSR Sensor") is
      ``R = ((2^n + 2 x) * 10000) / (calibration - x)`` ohms, with ``calibration`` the reading
      with open electrodes after trimming it to mid-scale (512 at 10 bits, 2048 at 12);
      conductance ``1e6 / R = 100 (calibration - x) / (2^n + 2 x)`` µS. Readings at or above the
      calibration (no skin contact) give NaN.
    - ``bitalino_eda_revolution``: ``(x / 2^n) * vcc_v / 0.132`` µS (BITalino (r)evolution EDA).
    - ``bitalino_eda_legacy``: ``1 / (1 - x / 2^n)`` µS (the older BITalino EDA sensor).

    Attributes:
        transfer: the transfer function.
        scale: multiplies the transfer's output.
        offset: added after scaling.
        adc_bits: ADC resolution, required by every transfer except ``linear``.
        calibration: ``grove_gsr`` only: the open-electrode reading (default ``2^(n-1)``).
        vcc_v: ``bitalino_eda_revolution`` only: the operating voltage.
    """

    transfer: TransferFunction = "linear"
    scale: float = 1.0
    offset: float = 0.0
    adc_bits: int | None = Field(default=None, ge=1, le=24)
    calibration: float | None = None
    vcc_v: float = Field(default=3.3, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.transfer != "linear" and self.adc_bits is None:
            raise ValueError(f"transfer {self.transfer!r} needs adc_bits")
        if not (math.isfinite(self.scale) and self.scale != 0 and math.isfinite(self.offset)):
            raise ValueError("scale must be finite and non-zero, offset finite")
        if self.calibration is not None and self.transfer != "grove_gsr":
            raise ValueError("calibration applies to the grove_gsr transfer only")
        if (
            self.calibration is not None
            and self.adc_bits is not None
            and not 0 < self.calibration <= (1 << self.adc_bits)
        ):
            raise ValueError("calibration must be within the ADC range")
        return self

    @property
    def _full(self) -> float:
        return float(1 << (self.adc_bits or 0))

    @property
    def _cal(self) -> float:
        return self.calibration if self.calibration is not None else self._full / 2.0

    def convert(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Apply the conversion to raw readings (any shape)."""
        x = np.asarray(raw, dtype=np.float64)
        if self.transfer == "linear":
            y = x
        elif self.transfer == "grove_gsr":
            with np.errstate(divide="ignore", invalid="ignore"):
                y = 100.0 * (self._cal - x) / (self._full + 2.0 * x)
            y = np.where((x < self._cal) & (x >= 0), y, np.nan)
        elif self.transfer == "bitalino_eda_revolution":
            y = x / self._full * self.vcc_v / _REVOLUTION_GAIN
        else:
            with np.errstate(divide="ignore"):
                y = 1.0 / (1.0 - x / self._full)
        return y * self.scale + self.offset

    def inverse(self, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The raw reading (unrounded) that converts to ``value`` (used by virtual twins)."""
        y = (np.asarray(value, dtype=np.float64) - self.offset) / self.scale
        if self.transfer == "linear":
            return y
        if self.transfer == "grove_gsr":
            return (100.0 * self._cal - y * self._full) / (2.0 * y + 100.0)
        if self.transfer == "bitalino_eda_revolution":
            return y * _REVOLUTION_GAIN / self.vcc_v * self._full
        return self._full * (1.0 - 1.0 / y)


@dataclass(frozen=True, slots=True)
class DecodedNotification:
    """The content of one notification.

    Attributes:
        counter: the counter value, or ``None`` when the profile has no counter.
        raw: raw readings, shape ``(samples, channels)``.
    """

    counter: int | None
    raw: npt.NDArray[np.float64]
