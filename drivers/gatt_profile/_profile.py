r"""Declarative GATT sensor profiles: a device described as data, loaded from TOML or JSON.

A profile says where the samples are (service and characteristic UUIDs), how to start and stop
the stream (optional writes), how one notification is laid out (an optional counter, then a
fixed ``struct`` format per sample) and how raw numbers become physical units (scale and offset
or a named transfer function), plus the stream's name, unit, channels and nominal rate.
:class:`~wearsdk.drivers.gatt_profile.GattProfileDevice` runs any profile.

Example (TOML)::

    name = "my-gsr"
    service_uuid = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    data_uuid = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
    control_uuid = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
    start_writes = [{ text = "start\n" }]
    stop_writes = [{ hex = "73746f700a" }]
    nominal_rate_hz = 10.0

    [payload]
    counter = { format = "H", unit = "samples" }
    sample_format = "H"
    samples_per_notification = 5

    [conversion]
    transfer = "grove_gsr"
    adc_bits = 12

Profiles shipped with the package (``profiles/*.toml``) load by name: :func:`load_profile`.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import re
import struct
import tomllib
import uuid
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wearsdk import ConfigError, ProtocolError

__all__ = [
    "ConversionSpec",
    "CounterSpec",
    "DecodedNotification",
    "GattProfile",
    "PayloadSpec",
    "TransferFunction",
    "WriteSpec",
    "builtin_profiles",
    "load_profile",
]

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


class GattProfile(_Model):
    """A declarative description of a BLE sensor that streams samples in notifications.

    Attributes:
        name: profile name (lowercase letters, digits, ``-`` and ``_``).
        description: free text.
        kind: pseudonym prefix of sources using it (``gsr``, ``eda``...).
        advertised_name: the name the device advertises, if fixed (a default for discovery
            and for the virtual twin).
        service_uuid: the service holding the characteristics (16- or 128-bit).
        data_uuid: the characteristic that notifies the samples.
        control_uuid: the characteristic the start/stop writes go to.
        start_writes: written in order after subscribing, to start streaming.
        stop_writes: written in order before disconnecting.
        write_with_response: use write requests (else write commands).
        stream: stream name published (``physio/<source>/<stream>``).
        unit: unit of the converted values (``uS`` for skin conductance).
        channels: channel names, one per value of a sample.
        nominal_rate_hz: the sensor's sampling rate.
        payload: the notification layout.
        conversion: raw readings to ``unit``.
    """

    name: str
    description: str = ""
    kind: str = "gatt"
    advertised_name: str | None = None
    service_uuid: str
    data_uuid: str
    control_uuid: str | None = None
    start_writes: tuple[WriteSpec, ...] = ()
    stop_writes: tuple[WriteSpec, ...] = ()
    write_with_response: bool = True
    stream: str = "eda"
    unit: str = "uS"
    channels: tuple[str, ...] = ("eda",)
    nominal_rate_hz: float = Field(gt=0, le=100_000)
    payload: PayloadSpec
    conversion: ConversionSpec = ConversionSpec()

    @field_validator("service_uuid", "data_uuid", "control_uuid")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return None if value is None else _normalize_uuid(value)

    @field_validator("name", "kind", "stream")
    @classmethod
    def _lower_name(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits, '-' and '_'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.channels) != self.payload.n_fields:
            raise ValueError(
                f"{len(self.channels)} channel names for a sample format with "
                f"{self.payload.n_fields} values ({self.payload.sample_format!r})"
            )
        if any(not _NAME_RE.fullmatch(c) for c in self.channels) or len(set(self.channels)) != len(
            self.channels
        ):
            raise ValueError(f"channel names must be unique lowercase names: {self.channels!r}")
        if (self.start_writes or self.stop_writes) and self.control_uuid is None:
            raise ValueError("start/stop writes need a control_uuid")
        if self.data_uuid == self.control_uuid:
            raise ValueError("data_uuid and control_uuid must differ")
        return self

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str = "profile") -> GattProfile:
        """Validate a profile from plain data.

        Raises:
            ConfigError: the data does not describe a valid profile (the message lists every
                problem with its location).
        """
        try:
            return cls.model_validate(data)
        except RecursionError:
            raise ConfigError(f"GATT profile {origin} is nested too deeply") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid GATT profile {origin}: {problems}") from exc

    @classmethod
    def from_toml(cls, text: str, *, origin: str = "profile") -> GattProfile:
        """Parse and validate a TOML profile.

        Raises:
            ConfigError: not TOML, or not a valid profile.
        """
        _check_size(text, origin)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"GATT profile {origin} is not valid TOML: {exc}") from exc
        except RecursionError:
            raise ConfigError(f"GATT profile {origin} is nested too deeply") from None
        return cls.from_dict(data, origin=origin)

    @classmethod
    def from_json(cls, text: str, *, origin: str = "profile") -> GattProfile:
        """Parse and validate a JSON profile.

        Raises:
            ConfigError: not a JSON object, or not a valid profile.
        """
        _check_size(text, origin)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"GATT profile {origin} is not valid JSON: {exc}") from exc
        except RecursionError:
            raise ConfigError(f"GATT profile {origin} is nested too deeply") from None
        if not isinstance(data, dict):
            raise ConfigError(f"GATT profile {origin} must be a JSON object")
        return cls.from_dict(data, origin=origin)

    @classmethod
    def from_file(cls, path: str | Path) -> GattProfile:
        """Load a ``.toml`` or ``.json`` profile file.

        Raises:
            ConfigError: unreadable file, unknown extension or invalid profile.
        """
        p = Path(path)
        try:
            with p.open(encoding="utf-8") as f:
                text = f.read(_MAX_PROFILE_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read GATT profile {p}: {exc}") from exc
        if p.suffix.lower() == ".toml":
            return cls.from_toml(text, origin=str(p))
        if p.suffix.lower() == ".json":
            return cls.from_json(text, origin=str(p))
        raise ConfigError(f"GATT profile {p}: use a .toml or .json file")

    # -- payloads -----------------------------------------------------------------------

    def decode(self, payload: bytes | bytearray | memoryview) -> DecodedNotification:
        """Split one notification into its counter and raw readings.

        Raises:
            ProtocolError: the payload does not hold a whole number of samples (at least one),
                or not the exact number the profile fixes.
        """
        raw = bytes(payload)
        spec = self.payload
        header = spec.header_size
        body = len(raw) - header
        size = spec.sample_size
        if body < size or body % size:
            raise ProtocolError(
                f"{len(raw)}-byte notification: expected a {header}-byte header and whole "
                f"{size}-byte samples",
                raw,
            )
        n = body // size
        if spec.samples_per_notification is not None and n != spec.samples_per_notification:
            raise ProtocolError(
                f"{n} samples in a notification, the profile fixes {spec.samples_per_notification}",
                raw,
            )
        counter: int | None = None
        if spec.counter is not None:
            (counter,) = struct.unpack_from(spec.prefix + spec.counter.format, raw, 0)
        values = struct.unpack_from(f"{spec.prefix}{n * spec.sample_format}", raw, header)
        array = np.asarray(values, dtype=np.float64).reshape(n, spec.n_fields)
        return DecodedNotification(counter=counter, raw=array)

    def convert(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Raw readings to :attr:`unit` (see :class:`ConversionSpec`)."""
        return self.conversion.convert(raw)

    def encode(self, raw: npt.ArrayLike, *, counter: int | None = None) -> bytes:
        """Build one notification from raw readings ``(samples, channels)`` (virtual twins).

        Raises:
            ConfigError: wrong shape, or a counter missing or given against the profile.
        """
        spec = self.payload
        values = np.asarray(raw)
        if values.ndim != 2 or values.shape[1] != spec.n_fields or values.shape[0] < 1:
            raise ConfigError(f"raw readings must have shape (n >= 1, {spec.n_fields})")
        head = b""
        if spec.counter is not None:
            if counter is None:
                raise ConfigError("this profile's notifications start with a counter")
            head = struct.pack(spec.prefix + spec.counter.format, counter % spec.counter.modulo)
        elif counter is not None:
            raise ConfigError("this profile has no counter")
        fmt = f"{spec.prefix}{values.shape[0] * spec.sample_format}"
        integer = not any(c in "efd" for c in spec.sample_format)
        flat = [int(v) if integer else float(v) for v in values.ravel()]
        try:
            return head + struct.pack(fmt, *flat)
        except struct.error as exc:
            raise ConfigError(f"raw readings do not fit {spec.sample_format!r}: {exc}") from exc


def _profiles_dir() -> Traversable:
    return importlib.resources.files("wearsdk.drivers.gatt_profile").joinpath("profiles")


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with wearsdk (``nus-grove-gsr``...)."""
    return sorted(
        entry.name.removesuffix(".toml").replace("_", "-")
        for entry in _profiles_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def load_profile(source: str | Path | GattProfile) -> GattProfile:
    """A profile from a shipped name (``"nus-grove-gsr"``), a ``.toml``/``.json`` path, or as is.

    Raises:
        ConfigError: an unknown name, an unreadable file or an invalid profile.
    """
    if isinstance(source, GattProfile):
        return source
    text = str(source)
    path = Path(text)
    if isinstance(source, Path) or path.suffix.lower() in (".toml", ".json") or "/" in text:
        return GattProfile.from_file(path)
    stem = text.strip().lower().replace("-", "_")
    entry = _profiles_dir().joinpath(f"{stem}.toml")
    if not _NAME_RE.fullmatch(stem) or not entry.is_file():
        raise ConfigError(f"unknown GATT profile {text!r}; shipped: {builtin_profiles()}")
    return GattProfile.from_toml(entry.read_text(encoding="utf-8"), origin=text)
