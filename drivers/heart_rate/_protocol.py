"""Heart Rate Service (0x180D) wire format: Heart Rate Measurement (0x2A37), strictly.

Layout of a Heart Rate Measurement notification (Bluetooth SIG, Heart Rate Service 1.0):

====== ======================================================================
byte 0 flags: bit 0 HR is uint16 (else uint8); bit 1 sensor contact detected;
       bit 2 sensor contact supported; bit 3 Energy Expended present;
       bit 4 RR intervals present; bits 5-7 reserved
then   HR (uint8 or uint16 LE, bpm)
then   Energy Expended (uint16 LE, kJ) if bit 3
then   RR intervals (uint16 LE each, units of 1/1024 s), as many as remain, if bit 4
====== ======================================================================
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wearsdk import ProtocolError

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "BODY_SENSOR_LOCATIONS",
    "BODY_SENSOR_LOCATION_UUID",
    "HEART_RATE_CONTROL_POINT_UUID",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "HeartRateMeasurement",
    "encode_heart_rate_measurement",
    "parse_heart_rate_measurement",
]


def _uuid16(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


HEART_RATE_SERVICE_UUID = _uuid16(0x180D)
"""Heart Rate Service."""
HEART_RATE_MEASUREMENT_UUID = _uuid16(0x2A37)
"""Heart Rate Measurement characteristic (notify)."""
BODY_SENSOR_LOCATION_UUID = _uuid16(0x2A38)
"""Body Sensor Location characteristic (read)."""
HEART_RATE_CONTROL_POINT_UUID = _uuid16(0x2A39)
"""Heart Rate Control Point characteristic (write; 0x01 resets Energy Expended)."""
BATTERY_SERVICE_UUID = _uuid16(0x180F)
"""Battery Service."""
BATTERY_LEVEL_UUID = _uuid16(0x2A19)
"""Battery Level characteristic (read, notify; percent)."""

BODY_SENSOR_LOCATIONS = {
    0: "other",
    1: "chest",
    2: "wrist",
    3: "finger",
    4: "hand",
    5: "ear_lobe",
    6: "foot",
}
"""Body Sensor Location values."""

_HR_UINT16 = 0x01
_CONTACT_DETECTED = 0x02
_CONTACT_SUPPORTED = 0x04
_ENERGY = 0x08
_RR = 0x10


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """A decoded Heart Rate Measurement.

    Attributes:
        hr_bpm: heart rate in beats per minute.
        rr_s: RR intervals in seconds (raw / 1024, not rounded), oldest first.
        energy_kj: cumulative energy expended in kJ, or ``None`` when absent.
        contact: skin contact detected; ``None`` when the sensor does not support detection.
        rr_raw: the RR intervals as sent, in units of 1/1024 s.
        flags: the flags byte as sent.
    """

    hr_bpm: int
    rr_s: tuple[float, ...]
    energy_kj: int | None
    contact: bool | None
    rr_raw: tuple[int, ...]
    flags: int


def parse_heart_rate_measurement(data: bytes | bytearray | memoryview) -> HeartRateMeasurement:
    """Decode one Heart Rate Measurement notification, following its flags strictly.

    Args:
        data: the notification payload.

    Returns:
        The decoded measurement.

    Raises:
        ProtocolError: the payload is empty, shorter than its flags announce, has an odd
            number of RR bytes, or carries bytes its flags do not account for.
    """
    raw = bytes(data)
    n = len(raw)
    if n < 2:
        raise ProtocolError(f"heart rate measurement too short ({n} bytes)", raw)
    flags = raw[0]
    offset = 1
    if flags & _HR_UINT16:
        if n < 3:
            raise ProtocolError("uint16 heart rate flagged but only one HR byte", raw)
        hr = raw[1] | (raw[2] << 8)
        offset = 3
    else:
        hr = raw[1]
        offset = 2
    contact = bool(flags & _CONTACT_DETECTED) if flags & _CONTACT_SUPPORTED else None
    energy: int | None = None
    if flags & _ENERGY:
        if n < offset + 2:
            raise ProtocolError("energy expended flagged but missing", raw)
        energy = raw[offset] | (raw[offset + 1] << 8)
        offset += 2
    rr_raw: tuple[int, ...] = ()
    rest = n - offset
    if flags & _RR:
        if rest % 2:
            raise ProtocolError(f"odd number of RR bytes ({rest})", raw)
        rr_raw = struct.unpack_from(f"<{rest // 2}H", raw, offset)
    elif rest:
        raise ProtocolError(f"{rest} trailing bytes not announced by the flags", raw)
    return HeartRateMeasurement(
        hr_bpm=hr,
        rr_s=tuple(v / 1024.0 for v in rr_raw),
        energy_kj=energy,
        contact=contact,
        rr_raw=rr_raw,
        flags=flags,
    )


def encode_heart_rate_measurement(
    hr_bpm: int,
    *,
    rr_s: tuple[float, ...] | list[float] = (),
    energy_kj: int | None = None,
    contact: bool | None = None,
    force_uint16: bool = False,
    rr_flag_when_empty: bool = False,
) -> bytes:
    """Encode a Heart Rate Measurement the way a strap sends it (used by the virtual twins).

    Args:
        hr_bpm: heart rate, 0-65535; values above 255 use the uint16 format.
        rr_s: RR intervals in seconds; each is rounded to 1/1024 s.
        energy_kj: cumulative energy expended, 0-65535, or ``None`` to omit it.
        contact: ``None`` (contact detection unsupported), ``True`` or ``False``.
        force_uint16: use the uint16 HR format even below 256.
        rr_flag_when_empty: set the RR flag even with no RR values.

    Raises:
        ValueError: a value does not fit its field.
    """
    if not 0 <= hr_bpm <= 0xFFFF:
        raise ValueError(f"hr_bpm out of range: {hr_bpm}")
    flags = 0
    if hr_bpm > 0xFF or force_uint16:
        flags |= _HR_UINT16
        body = struct.pack("<H", hr_bpm)
    else:
        body = bytes((hr_bpm,))
    if contact is not None:
        flags |= _CONTACT_SUPPORTED | (_CONTACT_DETECTED if contact else 0)
    if energy_kj is not None:
        if not 0 <= energy_kj <= 0xFFFF:
            raise ValueError(f"energy_kj out of range: {energy_kj}")
        flags |= _ENERGY
        body += struct.pack("<H", energy_kj)
    rr_units = [round(r * 1024.0) for r in rr_s]
    if any(not 0 <= u <= 0xFFFF for u in rr_units):
        raise ValueError("RR interval out of range (0 to 64 s)")
    if rr_units or rr_flag_when_empty:
        flags |= _RR
        body += struct.pack(f"<{len(rr_units)}H", *rr_units)
    return bytes((flags,)) + body
