import itertools
import struct

import pytest
from bumble.profiles.heart_rate_service import HeartRateService
from hypothesis import given, settings
from hypothesis import strategies as st

from wearsdk import ProtocolError
from wearsdk.drivers.heart_rate.protocol import (
    encode_heart_rate_measurement,
    parse_heart_rate_measurement,
)


def build(flags: int, hr: int, energy: int | None, rr_raw: list[int]) -> bytes:
    body = struct.pack("<H", hr) if flags & 1 else bytes((hr,))
    if energy is not None:
        body += struct.pack("<H", energy)
    body += b"".join(struct.pack("<H", r) for r in rr_raw)
    return bytes((flags,)) + body


@pytest.mark.parametrize(
    ("uint16", "contact_bits", "energy", "n_rr"),
    list(itertools.product([False, True], [0b00, 0b01, 0b10, 0b11], [None, 1234], [0, 1, 3, 9])),
)
def test_every_flag_combination(
    uint16: bool, contact_bits: int, energy: int | None, n_rr: int
) -> None:
    hr = 301 if uint16 else 72
    rr_raw = [700 + 13 * i for i in range(n_rr)]
    flags = (1 if uint16 else 0) | (contact_bits << 1) | (0x08 if energy is not None else 0)
    flags |= 0x10 if n_rr else 0
    m = parse_heart_rate_measurement(build(flags, hr, energy, rr_raw))
    assert m.hr_bpm == hr
    assert m.energy_kj == energy
    supported, detected = bool(contact_bits & 0b10), bool(contact_bits & 0b01)
    assert m.contact == (detected if supported else None)
    assert m.rr_raw == tuple(rr_raw)
    assert m.rr_s == tuple(r / 1024 for r in rr_raw)  # exact, not rounded


def test_uint16_hr_below_256_and_reserved_bits() -> None:
    m = parse_heart_rate_measurement(bytes((0x01 | 0xE0, 60, 0)))
    assert m.hr_bpm == 60
    assert m.flags & 0xE0 == 0xE0


def test_rr_flag_with_no_values_is_empty() -> None:
    assert parse_heart_rate_measurement(bytes((0x10, 70))).rr_s == ()


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00",
        b"\x01\x48",  # uint16 HR with one byte
        b"\x08\x48\x01",  # energy flagged, one byte of it
        b"\x10\x48\x00\x03\x01",  # odd RR bytes
        b"\x00\x48\x99",  # trailing byte not announced
    ],
)
def test_malformed_payloads_raise_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_heart_rate_measurement(payload)
    assert info.value.raw == payload


@pytest.mark.parametrize(
    ("hr", "contact", "energy", "rr"),
    [(60, None, None, ()), (72, True, 55, (0.8, 0.7998046875)), (300, False, None, (1.0,))],
)
def test_agrees_with_bumbles_own_profile_codec(
    hr: int, contact: bool | None, energy: int | None, rr: tuple[float, ...]
) -> None:
    ours = encode_heart_rate_measurement(hr, rr_s=rr, energy_kj=energy, contact=contact)
    theirs = bytes(
        HeartRateService.HeartRateMeasurement(
            heart_rate=hr,
            sensor_contact_detected=contact,
            energy_expended=energy,
            rr_intervals=list(rr) if rr else None,
        )
    )
    assert ours == theirs
    m = parse_heart_rate_measurement(theirs)
    quantised = tuple(round(r * 1024) / 1024 for r in rr)
    assert (m.hr_bpm, m.contact, m.energy_kj, m.rr_s) == (hr, contact, energy, quantised)


def test_encoder_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="hr_bpm"):
        encode_heart_rate_measurement(70000)
    with pytest.raises(ValueError, match="RR"):
        encode_heart_rate_measurement(60, rr_s=(70.0,))


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_only_protocol_error_escapes(data: bytes) -> None:
    try:
        m = parse_heart_rate_measurement(data)
    except ProtocolError:
        return
    # whatever parses re-encodes to the same bytes (reserved flag bits aside)
    again = encode_heart_rate_measurement(
        m.hr_bpm,
        rr_s=m.rr_s,
        energy_kj=m.energy_kj,
        contact=m.contact,
        force_uint16=bool(m.flags & 1),
        rr_flag_when_empty=bool(m.flags & 0x10),
    )
    # reserved bits 5-7 are not re-encoded, nor "detected" without "supported"
    kept = 0x1F if data[0] & 0x04 else 0x19
    assert again == bytes((data[0] & kept,)) + data[1:]
