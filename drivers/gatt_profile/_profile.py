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
import struct
import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import Field, ValidationError, field_validator, model_validator

from wearsdk import ConfigError, ProtocolError
from wearsdk.drivers.gatt_profile._specs import (
    _MAX_PROFILE_BYTES,
    _NAME_RE,
    ConversionSpec,
    CounterSpec,
    DecodedNotification,
    PayloadSpec,
    TransferFunction,
    WriteSpec,
    _check_size,
    _Model,
    _normalize_uuid,
)

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
