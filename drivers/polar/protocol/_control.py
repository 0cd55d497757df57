"""PMD control point: the service's UUIDs and codes, requests, settings, responses, features."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from wearsdk import ConfigError, ProtocolError

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
"""Polar Measurement Data service."""
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
"""PMD control point (read: features; write: requests; indicate: responses)."""
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
"""PMD data (notify: measurement frames)."""
PMD_FEATURES_CODE = 0x0F
"""First byte of the features read from the control point."""
PMD_RESPONSE_CODE = 0xF0
"""First byte of every control point response."""
PMD_MIN_MTU = 232
"""ATT MTU an H10 requires before it streams: a 73-sample ECG frame is 229 bytes (+3 ATT)."""
PMD_EPOCH_UNIX_S = 946_684_800
"""2000-01-01T00:00:00Z, the origin of PMD timestamps, in unix seconds."""
POLAR_POWER_LOSS_EPOCH_NS = 599_616_000_000_000_000
"""2019-01-01T00:00:00 in ns since 2000: where an H10's clock restarts after losing power."""

_HEADER_LEN = 10
_COMPRESSED_BIT = 0x80
_FRAME_TYPE_MASK = 0x7F
_MEASUREMENT_TYPE_MASK = 0x3F
_INT64_MAX = 2**63 - 1


class PmdMeasurementType(IntEnum):
    """PMD measurement types (``PmdMeasurementType.kt``)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14
    OFFLINE_TEMP = 15


class PmdOpCode(IntEnum):
    """Control point request op codes, client to sensor (``PmdControlPointCommand.kt``)."""

    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5
    GET_SDK_MODE_STATUS = 6
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 7
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 8
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 9


class PmdStatus(IntEnum):
    """Control point response statuses (``PmdControlPointResponse.kt``)."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14

    @property
    def description(self) -> str:
        """Human-readable meaning, e.g. ``"invalid MTU"``."""
        return _STATUS_DESCRIPTIONS[self]


_STATUS_DESCRIPTIONS = {
    PmdStatus.SUCCESS: "success",
    PmdStatus.INVALID_OP_CODE: "invalid op code",
    PmdStatus.INVALID_MEASUREMENT_TYPE: "invalid measurement type",
    PmdStatus.NOT_SUPPORTED: "not supported",
    PmdStatus.INVALID_LENGTH: "invalid length",
    PmdStatus.INVALID_PARAMETER: "invalid parameter",
    PmdStatus.ALREADY_IN_STATE: "already in state",
    PmdStatus.INVALID_RESOLUTION: "invalid resolution",
    PmdStatus.INVALID_SAMPLE_RATE: "invalid sample rate",
    PmdStatus.INVALID_RANGE: "invalid range",
    PmdStatus.INVALID_MTU: "invalid MTU",
    PmdStatus.INVALID_NUMBER_OF_CHANNELS: "invalid number of channels",
    PmdStatus.INVALID_STATE: "invalid state",
    PmdStatus.DEVICE_IN_CHARGER: "device in charger",
    PmdStatus.DISK_FULL: "disk full",
}


class PmdSettingType(IntEnum):
    """Setting types of the start request and the settings response (``PmdSetting.kt``)."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


# value format of each setting type: struct code (little-endian)
_SETTING_FORMATS: dict[PmdSettingType, str] = {
    PmdSettingType.SAMPLE_RATE: "<H",
    PmdSettingType.RESOLUTION: "<H",
    PmdSettingType.RANGE: "<H",
    PmdSettingType.RANGE_MILLIUNIT: "<i",
    PmdSettingType.CHANNELS: "<B",
    PmdSettingType.FACTOR: "<f",
}

SettingValue = int | float
"""A setting value: an integer, or a float for :attr:`PmdSettingType.FACTOR`."""

# -- control point -------------------------------------------------------------------------


def _type_byte(measurement_type: int) -> int:
    if not 0 <= measurement_type <= _MEASUREMENT_TYPE_MASK:
        raise ConfigError(f"measurement type out of range: {measurement_type}")
    return int(measurement_type)


def pmd_settings_request(measurement_type: int) -> bytes:
    """Build a "get measurement settings" request (``01 <type>``).

    Args:
        measurement_type: a :class:`PmdMeasurementType` value.

    Raises:
        ConfigError: the type does not fit in 6 bits.
    """
    return bytes((PmdOpCode.GET_MEASUREMENT_SETTINGS, _type_byte(measurement_type)))


def pmd_start_request(
    measurement_type: int, settings: Mapping[int, SettingValue] | None = None
) -> bytes:
    """Build a "start measurement" request (``02 <type> <setting TLVs>``).

    Each setting is sent with a count of 1, in the mapping's order, so
    ``pmd_start_request(PmdMeasurementType.ECG, {PmdSettingType.SAMPLE_RATE: 130,
    PmdSettingType.RESOLUTION: 14})`` is ``02 00 00 01 82 00 01 01 0E 00``.

    Args:
        measurement_type: a :class:`PmdMeasurementType` value.
        settings: setting type (:class:`PmdSettingType`) to value; the factor is chosen by the
            sensor and cannot be requested.

    Raises:
        ConfigError: an unknown setting type, the factor, or a value that does not fit.
    """
    body = bytearray((PmdOpCode.REQUEST_MEASUREMENT_START, _type_byte(measurement_type)))
    for setting, value in (settings or {}).items():
        if setting == PmdSettingType.FACTOR:
            raise ConfigError("the factor setting is chosen by the sensor, not requested")
        body += encode_settings({setting: (value,)})
    return bytes(body)


def pmd_stop_request(measurement_type: int) -> bytes:
    """Build a "stop measurement" request (``03 <type>``).

    Args:
        measurement_type: a :class:`PmdMeasurementType` value.

    Raises:
        ConfigError: the type does not fit in 6 bits.
    """
    return bytes((PmdOpCode.STOP_MEASUREMENT, _type_byte(measurement_type)))


def encode_settings(settings: Mapping[int, Sequence[SettingValue]]) -> bytes:
    """Encode settings as TLVs (``<type> <count> <values>``), e.g. for a settings response.

    Args:
        settings: setting type to the values to list (available or selected).

    Raises:
        ConfigError: an unknown setting type, more than 255 values, or a value that does not
            fit its field.
    """
    out = bytearray()
    for setting, values in settings.items():
        try:
            kind = PmdSettingType(setting)
        except ValueError as exc:
            raise ConfigError(f"unknown PMD setting type {setting!r}") from exc
        if len(values) > 0xFF:
            raise ConfigError(f"too many values for {kind.name}: {len(values)}")
        out += bytes((kind, len(values)))
        fmt = _SETTING_FORMATS[kind]
        for value in values:
            if kind != PmdSettingType.FACTOR and (
                isinstance(value, bool) or not isinstance(value, int | np.integer)
            ):
                raise ConfigError(f"{kind.name} must be an integer, got {value!r}")
            try:
                out += struct.pack(fmt, value)
            except struct.error as exc:
                raise ConfigError(f"{kind.name} value {value!r} does not fit") from exc
    return bytes(out)


def parse_settings(
    data: bytes | bytearray | memoryview,
) -> dict[PmdSettingType, tuple[SettingValue, ...]]:
    """Decode setting TLVs (the parameters of a settings or start response).

    Args:
        data: the TLVs.

    Returns:
        Setting type to its values, in the order sent (the factor as a float).

    Raises:
        ProtocolError: an unknown setting type, or a TLV cut short.
    """
    raw = bytes(data)
    out: dict[PmdSettingType, tuple[SettingValue, ...]] = {}
    offset = 0
    while offset < len(raw):
        if offset + 2 > len(raw):
            raise ProtocolError("PMD setting TLV cut after its type", raw)
        try:
            kind = PmdSettingType(raw[offset])
        except ValueError:
            raise ProtocolError(f"unknown PMD setting type {raw[offset]}", raw) from None
        count = raw[offset + 1]
        offset += 2
        fmt = _SETTING_FORMATS[kind]
        size = struct.calcsize(fmt)
        if offset + count * size > len(raw):
            raise ProtocolError(f"PMD setting {kind.name} announces {count} values", raw)
        values = tuple(struct.unpack_from(fmt, raw, offset + i * size)[0] for i in range(count))
        out[kind] = out.get(kind, ()) + values
        offset += count * size
    return out


@dataclass(frozen=True, slots=True)
class PmdResponse:
    """A decoded control point response.

    Attributes:
        op_code: the op code of the request answered (a :class:`PmdOpCode` value).
        measurement_type: the measurement type byte of the request, as echoed.
        status: the status.
        more: more response packets follow (see :func:`merge_control_point_responses`).
        params: the parameter bytes.
        settings: the parameters decoded as setting TLVs, for a successful, complete
            settings or start response with parameters; else ``None``.
    """

    op_code: int
    measurement_type: int
    status: PmdStatus
    more: bool
    params: bytes
    settings: dict[PmdSettingType, tuple[SettingValue, ...]] | None

    @property
    def ok(self) -> bool:
        """Whether the status is :attr:`PmdStatus.SUCCESS`."""
        return self.status == PmdStatus.SUCCESS


_SETTINGS_OPS = (PmdOpCode.GET_MEASUREMENT_SETTINGS, PmdOpCode.REQUEST_MEASUREMENT_START)


def _response(
    op_code: int,
    measurement_type: int,
    status: PmdStatus,
    partial: bool,
    params: bytes,
    raw: bytes,
    more: bool,
) -> PmdResponse:
    settings = None
    if status == PmdStatus.SUCCESS and not partial and params and op_code in _SETTINGS_OPS:
        try:
            settings = parse_settings(params)
        except ProtocolError as exc:
            raise ProtocolError(f"PMD response parameters: {exc}", raw) from None
    return PmdResponse(op_code, measurement_type, status, more, params, settings)


def parse_control_point_response(
    data: bytes | bytearray | memoryview, *, continuation: bool = False
) -> PmdResponse:
    """Decode a control point response (``F0 <op code> <type> <status> [<more> <params>]``).

    As in Polar's SDK, ``more`` and parameters are only read from successful responses. A
    response too long for one packet comes in several, each with this header and all but the
    last with ``more`` set: parse the ones after the first with ``continuation=True`` (their
    parameters are fragments) and join them with :func:`merge_control_point_responses`.

    Args:
        data: the indication payload.
        continuation: the packet continues a response whose previous packet had ``more``
            set: its parameters are not decoded as settings.

    Returns:
        The response, with its settings decoded for a settings or start response.

    Raises:
        ProtocolError: not a response (first byte not ``0xF0``; e.g. the sensor's ``01``
            "measurement stopped" message), shorter than 4 bytes, an unknown status, or
            parameters that are not valid setting TLVs.
    """
    raw = bytes(data)
    if len(raw) < 4:
        raise ProtocolError(f"PMD control point response too short ({len(raw)} bytes)", raw)
    if raw[0] != PMD_RESPONSE_CODE:
        raise ProtocolError(f"not a PMD control point response (code 0x{raw[0]:02X})", raw)
    try:
        status = PmdStatus(raw[3])
    except ValueError:
        raise ProtocolError(f"unknown PMD status {raw[3]}", raw) from None
    more = False
    params = b""
    if status == PmdStatus.SUCCESS:
        more = len(raw) > 4 and raw[4] != 0
        params = raw[5:]
    return _response(raw[1], raw[2], status, more or continuation, params, raw, more)


def merge_control_point_responses(parts: Sequence[PmdResponse]) -> PmdResponse:
    """Join a response sent in several packets (all but the last with ``more`` set).

    Args:
        parts: the packets' responses, in order.

    Returns:
        One response with the parameters concatenated and the settings decoded.

    Raises:
        ProtocolError: no parts, parts of different requests, a ``more`` flag out of place,
            or joined parameters that are not valid setting TLVs.
    """
    if not parts:
        raise ProtocolError("no PMD response packets to merge")
    first = parts[0]
    params = b"".join(p.params for p in parts)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if (part.op_code, part.measurement_type) != (first.op_code, first.measurement_type):
            raise ProtocolError("PMD response packets answer different requests", params)
        if not part.ok or part.more == last:
            raise ProtocolError("PMD response packets: status or more flag out of place", params)
    return _response(
        first.op_code, first.measurement_type, first.status, False, params, params, False
    )


def encode_control_point_response(
    op_code: int,
    measurement_type: int,
    status: PmdStatus | int,
    params: bytes = b"",
    *,
    more: bool = False,
) -> bytes:
    """Encode a control point response (used by the virtual twin).

    Args:
        op_code: the request's op code.
        measurement_type: the request's measurement type byte.
        status: the status.
        params: parameters (settings TLVs...).
        more: more response packets follow.

    Raises:
        ConfigError: a byte field out of range.
    """
    fields = (op_code, measurement_type, int(status))
    if any(not 0 <= f <= 0xFF for f in fields):
        raise ConfigError(f"control point response field out of range: {fields}")
    return bytes((PMD_RESPONSE_CODE, *fields, 1 if more else 0)) + bytes(params)


def parse_features(data: bytes | bytearray | memoryview) -> frozenset[PmdMeasurementType]:
    """Decode the features read from the control point (``0F`` then a bitmask).

    Bit *k* of the little-endian bitmask (byte 1 bit 0 = ECG, bit 2 = ACC...; byte 2 bit 1
    = SDK mode...) announces measurement type *k*; bits of unknown types are ignored.

    Args:
        data: the value read.

    Returns:
        The supported measurement types.

    Raises:
        ProtocolError: empty, no bitmask, or not starting with ``0x0F``.
    """
    raw = bytes(data)
    if len(raw) < 2 or raw[0] != PMD_FEATURES_CODE:
        raise ProtocolError("not a PMD features value (expected 0x0F and a bitmask)", raw)
    mask = int.from_bytes(raw[1:], "little")
    return frozenset(t for t in PmdMeasurementType if mask >> t.value & 1)


def encode_features(types: Sequence[int] | frozenset[int] | set[int]) -> bytes:
    """Encode a features value (``0F`` and a 2-byte bitmask) announcing ``types``.

    Args:
        types: the supported measurement types (0-15).

    Raises:
        ConfigError: a type out of 0-15.
    """
    mask = 0
    for t in types:
        if not 0 <= t <= 15:
            raise ConfigError(f"measurement type out of the features bitmask: {t}")
        mask |= 1 << t
    return bytes((PMD_FEATURES_CODE,)) + mask.to_bytes(2, "little")


# -- data frames ---------------------------------------------------------------------------
