"""Polar Measurement Data: requests, responses, features and the data frame decoder.

Hand-built byte sequences are checked against values worked out by hand (bit by bit for the
delta blocks); the encoders are checked by round trips, and the decoder by fuzzing.
"""

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wearsdk import ConfigError, ProtocolError
from wearsdk.drivers.polar.protocol import (
    PMD_MIN_MTU,
    POLAR_POWER_LOSS_EPOCH_NS,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettingType,
    PmdStatus,
    decode_pmd_frame,
    encode_control_point_response,
    encode_delta_frame,
    encode_features,
    encode_pmd_frame,
    encode_settings,
    frame_layout,
    merge_control_point_responses,
    parse_control_point_response,
    parse_features,
    parse_settings,
    pmd_settings_request,
    pmd_start_request,
    pmd_stop_request,
)

ECG, PPG, ACC = PmdMeasurementType.ECG, PmdMeasurementType.PPG, PmdMeasurementType.ACC
SR, RES, RANGE = PmdSettingType.SAMPLE_RATE, PmdSettingType.RESOLUTION, PmdSettingType.RANGE
TS = 2_000_000_000  # 00 94 35 77 00 00 00 00


def header(measurement: int, frame_type: int, ts: int = TS) -> bytes:
    return bytes((measurement,)) + ts.to_bytes(8, "little") + bytes((frame_type,))


def wrap32(a: np.ndarray) -> np.ndarray:
    return ((a + 2**31) % 2**32) - 2**31


# -- requests --------------------------------------------------------------------------------


def test_requests_are_byte_exact() -> None:
    assert pmd_start_request(ECG, {SR: 130, RES: 14}) == bytes.fromhex("02000001820001010E00")
    assert pmd_start_request(ACC, {SR: 200, RES: 16, RANGE: 8}) == bytes.fromhex(
        "02020001C8000101100002010800"
    )
    assert pmd_settings_request(ACC) == b"\x01\x02"
    assert pmd_stop_request(ECG) == b"\x03\x00"
    assert pmd_start_request(ECG) == b"\x02\x00"


@pytest.mark.parametrize(
    "settings_",
    [
        {PmdSettingType.FACTOR: 1.0},  # chosen by the sensor
        {SR: 70000},  # uint16
        {SR: -1},
        {PmdSettingType.CHANNELS: 256},  # uint8
        {SR: 1.5},  # not an integer
        {42: 1},  # unknown type
    ],
)
def test_start_request_rejects_bad_settings(settings_: dict[int, float]) -> None:
    with pytest.raises(ConfigError):
        pmd_start_request(ECG, settings_)


def test_requests_reject_type_out_of_range() -> None:
    with pytest.raises(ConfigError):
        pmd_stop_request(64)


# -- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(PmdStatus))
def test_every_status_is_named(status: PmdStatus) -> None:
    r = parse_control_point_response(bytes((0xF0, 2, 0, status, 0)))
    assert r.status is status
    assert r.ok == (status == PmdStatus.SUCCESS)
    assert r.op_code == PmdOpCode.REQUEST_MEASUREMENT_START
    assert r.measurement_type == ECG
    assert not r.more
    assert r.params == b""
    assert status.description
    assert status.description == status.description.strip()
    assert encode_control_point_response(2, 0, status) == bytes((0xF0, 2, 0, status, 0))


def test_status_names_follow_the_specification() -> None:
    assert [s.description for s in PmdStatus][:14] == [
        "success",
        "invalid op code",
        "invalid measurement type",
        "not supported",
        "invalid length",
        "invalid parameter",
        "already in state",
        "invalid resolution",
        "invalid sample rate",
        "invalid range",
        "invalid MTU",
        "invalid number of channels",
        "invalid state",
        "device in charger",
    ]
    assert PmdStatus(10).name == "INVALID_MTU"


def test_settings_responses_decode() -> None:
    ecg = parse_control_point_response(bytes.fromhex("F0010000000001820001010E00"))
    assert ecg.ok
    assert ecg.settings == {SR: (130,), RES: (14,)}
    acc = parse_control_point_response(
        bytes.fromhex("F0010200000004190032006400C800010110000203020004000800")
    )
    assert acc.settings == {SR: (25, 50, 100, 200), RES: (16,), RANGE: (2, 4, 8)}
    # Polar's own example: 52 Hz, 16 bits, four gyro ranges, 3 channels
    gyro = parse_settings(
        bytes.fromhex("00013400010110000204F500F401E803D00704 0103".replace(" ", ""))
    )
    assert gyro == {
        SR: (52,),
        RES: (16,),
        RANGE: (245, 500, 1000, 2000),
        PmdSettingType.CHANNELS: (3,),
    }
    # range in milliunits is signed 32-bit
    assert parse_settings(bytes.fromhex("0302FFFFFFFFFF000000")) == {
        PmdSettingType.RANGE_MILLIUNIT: (-1, 0xFF)
    }


def test_start_response_carries_the_factor() -> None:
    params = b"\x05\x01" + struct.pack("<f", 2.44e-4)
    r = parse_control_point_response(bytes.fromhex("F002020000") + params)
    assert r.settings is not None
    assert r.settings[PmdSettingType.FACTOR][0] == pytest.approx(2.44e-4)


def test_error_response_has_no_more_and_no_params() -> None:
    # Polar's example: settings of the magnetometer refused with "invalid resolution"
    r = parse_control_point_response(bytes.fromhex("F001060700FFFF"))
    assert (r.op_code, r.measurement_type, r.status) == (1, 6, PmdStatus.INVALID_RESOLUTION)
    assert not r.more
    assert r.params == b""
    assert r.settings is None
    # a status without the "more" byte is still a response
    assert parse_control_point_response(b"\xf0\x03\x00\x06").status is PmdStatus.ALREADY_IN_STATE


def test_responses_in_several_packets_merge() -> None:
    payload = encode_settings({SR: (25, 50, 100, 200), RES: (16,), RANGE: (2, 4, 8)})
    first = parse_control_point_response(
        encode_control_point_response(1, 2, 0, payload[:7], more=True)
    )
    assert first.more
    assert first.settings is None
    last = parse_control_point_response(
        encode_control_point_response(1, 2, 0, payload[7:]), continuation=True
    )
    assert not last.more
    assert last.settings is None
    merged = merge_control_point_responses([first, last])
    assert merged.settings == {SR: (25, 50, 100, 200), RES: (16,), RANGE: (2, 4, 8)}
    with pytest.raises(ProtocolError):
        merge_control_point_responses([last, first])
    with pytest.raises(ProtocolError):
        merge_control_point_responses([])


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xf0\x01\x00",  # no status
        b"\x01\x00",  # the sensor's "measurement stopped" message, not a response
        b"\xf0\x01\x00\x0f\x00",  # unknown status
        b"\xf0\x01\x00\x00\x00\x00\x02\x82\x00",  # TLV announces 2 values, has 1
        b"\xf0\x01\x00\x00\x00\x09\x01\x00",  # unknown setting type
        b"\xf0\x01\x00\x00\x00\x00",  # TLV cut after its type
    ],
)
def test_malformed_responses_raise_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_control_point_response(payload)


# -- features --------------------------------------------------------------------------------


def test_features() -> None:
    assert parse_features(b"\x0f\x05\x00") == {ECG, ACC}  # an H10
    assert parse_features(b"\x0f\x05") == {ECG, ACC}
    everything = parse_features(b"\x0f\xff\xff")
    assert everything == set(PmdMeasurementType)
    assert parse_features(b"\x0f\x10\x00") == frozenset()  # bit 4: no such type
    assert parse_features(b"\x0f\x26\x02") == {
        PPG,
        ACC,
        PmdMeasurementType.GYRO,
        PmdMeasurementType.SDK_MODE,
    }
    assert encode_features([ECG, ACC]) == b"\x0f\x05\x00"
    assert parse_features(encode_features(list(PmdMeasurementType))) == set(PmdMeasurementType)


@pytest.mark.parametrize("payload", [b"", b"\x0f", b"\x0e\x05\x00"])
def test_malformed_features(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_features(payload)


# -- raw frames, by hand ----------------------------------------------------------------------


def test_ecg_type0_by_hand() -> None:
    # 02 80 FF = 0xFF8002 = -32766 (int24); 02 80 00 = 0x008002 = 32770
    f = decode_pmd_frame(header(0, 0) + bytes.fromhex("0280FF028000"), sample_rate_hz=130)
    assert f.measurement_type is ECG
    assert f.frame_type == 0
    assert not f.compressed
    assert f.timestamp_ns == TS
    assert f.unit == "uV"
    assert f.status is None
    assert f.values.tolist() == [[-32766.0], [32770.0]]
    assert f.values.dtype == np.float64
    assert f.timestamps_ns.dtype == np.int64
    assert len(f) == 2


def test_ecg_type1_by_hand() -> None:
    # 14-bit value in byte 0 and the low 6 bits of byte 1; status in byte 2
    # 02 80 FF: 0x02 | (0x80 & 0x3F) << 8 = 2, status FF; 80 02 00: 0x80 | 0x02 << 8 = 640
    f = decode_pmd_frame(header(0, 1) + bytes.fromhex("0280FF800200"), sample_rate_hz=130)
    assert f.values[:, 0].tolist() == [2, 640]
    assert f.status is not None
    assert f.status.tolist() == [0xFF, 0x00]


def test_ecg_type2_by_hand() -> None:
    # 18-bit value: bytes 0-1 and bits 0-1 of byte 2; tags in bits 2-7 of byte 2
    # 80 80 FC: 0x8080 | (0xFC & 3) << 16 = 32896, tags FC; FF FF 03: 0x3FFFF = 262143
    f = decode_pmd_frame(header(0, 2) + bytes.fromhex("8080FCFFFF03"), sample_rate_hz=130)
    assert f.values[:, 0].tolist() == [32896, 262143]
    assert f.status is not None
    assert f.status.tolist() == [0xFC, 0x00]


def test_ecg_type3_by_hand() -> None:
    # int24 data0, int24 data1, status: 00 12 03 = 201216, 11 10 04 = 266257;
    # 02 80 F0 = 0xF08002 = -1015806
    body = bytes.fromhex("001203111004000280F0111004FF")
    f = decode_pmd_frame(header(0, 3) + body, sample_rate_hz=130)
    assert f.values.tolist() == [[201216, 266257], [-1015806, 266257]]
    assert f.status is not None
    assert f.status.tolist() == [0, 0xFF]


@pytest.mark.parametrize(
    ("frame_type", "body", "expected"),
    [
        (0, "807FFF", [[-128, 127, -1]]),
        (1, "F7FFFFFFE703F8FFFEFFE503", [[-9, -1, 999], [-8, -2, 997]]),
        (2, "FFFF7F000080010000", [[8388607, -8388608, 1]]),
    ],
)
def test_acc_raw_by_hand(frame_type: int, body: str, expected: list[list[int]]) -> None:
    f = decode_pmd_frame(header(2, frame_type) + bytes.fromhex(body), sample_rate_hz=200)
    assert f.measurement_type is ACC
    assert f.unit == "mG"
    assert f.values.tolist() == expected


# -- compressed frames, by hand -----------------------------------------------------------------


def test_compressed_acc_6_bit_by_hand() -> None:
    # reference F1 FF, 14 00, F0 03 = (-15, 20, 1008); block: width 6, 1 sample, bits LSB first
    # 7B = 0111 1011 -> x = 111011b = -5; y = bits 6-7 of 7B (1, 0) + low 4 of 0F (1111)
    # = 111101b = -3; z = high 4 of 0F + low 2 of 08 = 0
    body = bytes.fromhex("F1FF1400F00306017B0F08")
    f = decode_pmd_frame(header(2, 0x81) + body, sample_rate_hz=52)
    assert f.compressed
    assert f.frame_type == 1
    assert f.values.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]


def test_compressed_acc_10_bit_by_hand() -> None:
    # reference 71 07, F0 6A, 9E 8D = (1905, 27376, -29282), type 0 (G units: x 1000 -> mG)
    # BE 5C BE BA, LSB first: x = bits 0-9 = 0b0010111110 = 190, y = 0b1110010111 = -105,
    # z = 0b1110101011 = -85
    body = bytes.fromhex("7107F06A9E8D0A01BE5CBEBA")
    f = decode_pmd_frame(header(2, 0x80) + body, sample_rate_hz=52)
    assert (f.values / 1000).tolist() == [[1905, 27376, -29282], [2095, 27271, -29367]]


def test_compressed_1_bit_deltas_by_hand() -> None:
    # width 1, 2 samples: bits x1 y1 z1 x2 y2 z2 = 1 0 1 0 0 1 -> 0b00100101 = 0x25;
    # a 1-bit delta sign-extends: 1 is -1, 0 is 0
    body = bytes.fromhex("000000000000010225")
    f = decode_pmd_frame(header(2, 0x81) + body, sample_rate_hz=52)
    assert f.values.tolist() == [[0, 0, 0], [-1, 0, -1], [-1, 0, -2]]


def test_compressed_two_blocks_of_odd_widths_by_hand() -> None:
    # reference (100, -100, 0)
    # block 1: width 3, 1 sample (3, -4, -1) = 011 100 111 -> bits 1 1 0 0 0 1 1 1 | 1
    #          -> E3 01
    # block 2: width 4, 1 sample (7, -8, 0) = 0111 1000 0000 -> bits 1 1 1 0 0 0 0 1 | 0 0 0 0
    #          -> 87 00
    body = bytes.fromhex("64009CFF00000301E30104018700")
    f = decode_pmd_frame(header(2, 0x81) + body, sample_rate_hz=52)
    assert f.values.tolist() == [[100, -100, 0], [103, -104, -1], [110, -112, -1]]
    again = encode_delta_frame(
        [100, -100, 0], [[3, -4, -1], [7, -8, 0]], [3, 4], timestamp_ns=TS, block_samples=1
    )
    assert again == header(2, 0x81) + body


# -- round trips --------------------------------------------------------------------------------

RAW_KINDS = [(ECG, 0), (ECG, 1), (ECG, 2), (ECG, 3), (ACC, 0), (ACC, 1), (ACC, 2), (PPG, 0)]


@pytest.mark.parametrize(("measurement", "frame_type"), RAW_KINDS)
def test_raw_round_trip(measurement: PmdMeasurementType, frame_type: int) -> None:
    layout = frame_layout(measurement, frame_type, False)
    rng = np.random.default_rng(frame_type)
    bits = layout.resolution_bits
    signed = not (measurement == ECG and frame_type in (1, 2))
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = rng.integers(low, high + 1, size=(50, layout.channels))
    values[0], values[1] = low, high
    status = None
    if measurement == ECG and frame_type:
        status = rng.integers(0, 256, size=50)
        if frame_type == 2:
            status &= 0xFC
    payload = encode_pmd_frame(measurement, frame_type, TS, values, status=status)
    assert len(payload) == 10 + 50 * layout.sample_bytes
    f = decode_pmd_frame(payload, sample_rate_hz=100)
    assert (f.measurement_type, f.frame_type, f.compressed) == (measurement, frame_type, False)
    np.testing.assert_array_equal(f.values, values)
    if status is not None:
        assert f.status is not None
        np.testing.assert_array_equal(f.status, status)
    assert f.timestamps_ns[-1] == TS


def test_a_full_ecg_frame_fits_the_h10_mtu() -> None:
    payload = encode_pmd_frame(ECG, 0, TS, np.zeros(73, dtype=int))
    assert len(payload) == 229 == PMD_MIN_MTU - 3


@pytest.mark.parametrize("width", [1, 3, 4, 6, 10, 24, 28, 32])
def test_compressed_round_trip_every_width(width: int) -> None:
    rng = np.random.default_rng(width)
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    deltas = rng.integers(low, high + 1, size=(70, 3))
    deltas[0], deltas[1] = low, high
    reference = np.array([-32768, 32767, 5])
    payload = encode_delta_frame(reference, deltas, width, timestamp_ns=TS)
    assert payload[16] == width
    assert payload[17] == 70
    f = decode_pmd_frame(payload, sample_rate_hz=200)
    expected = wrap32(np.vstack([reference, reference + np.cumsum(deltas, axis=0)]))
    np.testing.assert_array_equal(f.values, expected)
    assert f.compressed
    assert f.frame_type == 1
    assert len(f) == 71


def test_compressed_round_trip_many_blocks_auto_width() -> None:
    rng = np.random.default_rng(7)
    scales = [1, 0, 300, 5, 70000]
    deltas = np.vstack([rng.integers(-s, s + 1, size=(130, 3)) for s in scales])
    payload = encode_delta_frame(
        [1, 2, 3], deltas, None, timestamp_ns=POLAR_POWER_LOSS_EPOCH_NS, block_samples=130
    )
    f = decode_pmd_frame(payload, sample_rate_hz=200)
    start = np.array([1, 2, 3])
    expected = wrap32(np.vstack([start, start + np.cumsum(deltas, axis=0)]))
    np.testing.assert_array_equal(f.values, expected)
    # the smallest width that holds each block; all-zero deltas take 1 bit
    offset, widths = 16, []
    for _ in scales:
        w, n = payload[offset], payload[offset + 1]
        widths.append(w)
        offset += 2 + (w * n * 3 + 7) // 8
    assert widths == [2, 1, 10, 4, 18]
    # more than 255 deltas are split into blocks of 255
    long = encode_delta_frame(
        [0, 0, 0], np.ones((600, 3), dtype=int), 2, timestamp_ns=POLAR_POWER_LOSS_EPOCH_NS
    )
    g = decode_pmd_frame(long, sample_rate_hz=200)
    assert len(g) == 601
    assert g.values[-1].tolist() == [600, 600, 600]


@pytest.mark.parametrize(
    ("measurement", "frame_type", "scale"),
    [
        (ACC, 0, 1000.0),
        (ACC, 1, 1.0),
        (PPG, 0, 1.0),
        (PmdMeasurementType.GYRO, 0, 1.0),
        (PmdMeasurementType.MAGNETOMETER, 0, 1.0),
    ],
)
def test_compressed_kinds_and_factor(
    measurement: PmdMeasurementType, frame_type: int, scale: float
) -> None:
    layout = frame_layout(measurement, frame_type, True)
    rng = np.random.default_rng(1)
    reference = rng.integers(-1000, 1000, size=layout.channels)
    deltas = rng.integers(-50, 50, size=(20, layout.channels))
    payload = encode_delta_frame(
        reference, deltas, timestamp_ns=TS, measurement_type=measurement, frame_type=frame_type
    )
    f = decode_pmd_frame(payload, sample_rate_hz=52, factor=0.5)
    expected = np.vstack([reference, reference + np.cumsum(deltas, axis=0)]) * 0.5 * scale
    np.testing.assert_allclose(f.values, expected)
    assert f.measurement_type is measurement
    assert f.unit == layout.unit


def test_encoders_reject_what_does_not_fit() -> None:
    with pytest.raises(ConfigError):
        encode_pmd_frame(ACC, 1, TS, [[40000, 0, 0]])
    with pytest.raises(ConfigError):
        encode_pmd_frame(ACC, 1, TS, [[0, 0]])  # 2 channels
    with pytest.raises(ConfigError):
        encode_pmd_frame(ACC, 1, TS, [[0.5, 0, 0]])
    with pytest.raises(ConfigError):
        encode_pmd_frame(ECG, 1, TS, [-1])  # ECG type 1 is unsigned
    with pytest.raises(ConfigError):
        encode_pmd_frame(ECG, 9, TS, [0])
    with pytest.raises(ConfigError):
        encode_pmd_frame(ECG, 0, -1, [0])
    with pytest.raises(ConfigError):
        encode_delta_frame([0, 0, 0], [[4, 0, 0]], 3, timestamp_ns=TS)  # 4 needs 4 bits
    with pytest.raises(ConfigError):
        encode_delta_frame([40000, 0, 0], [[0, 0, 0]], timestamp_ns=TS)  # int16 reference
    with pytest.raises(ConfigError):
        encode_delta_frame([0, 0, 0], [[0, 0, 0]], 33, timestamp_ns=TS)
    with pytest.raises(ConfigError):
        encode_delta_frame([0, 0, 0], [[0, 0, 0]], [1, 2], timestamp_ns=TS)
    with pytest.raises(ConfigError):
        encode_delta_frame([0], [[0]], timestamp_ns=TS, measurement_type=ECG, frame_type=0)


# -- timestamps ---------------------------------------------------------------------------------


def ecg_frame(ts: int, n: int = 73) -> bytes:
    return encode_pmd_frame(ECG, 0, ts, np.arange(n))


def test_first_frame_is_spaced_by_the_sample_rate() -> None:
    ts = POLAR_POWER_LOSS_EPOCH_NS + 123_456_789
    f = decode_pmd_frame(ecg_frame(ts), sample_rate_hz=130)
    step = 1e9 / 130
    expected = ts - np.rint(np.arange(72, -1, -1) * step).astype(np.int64)
    np.testing.assert_array_equal(f.timestamps_ns, expected)
    assert f.timestamps_ns[-1] == ts
    assert f.sample_interval_ns == step


def test_following_frames_are_spread_since_the_previous_timestamp() -> None:
    previous = POLAR_POWER_LOSS_EPOCH_NS
    ts = previous + 73 * 7_700_000  # the sensor clock runs a little slow
    f = decode_pmd_frame(ecg_frame(ts), sample_rate_hz=130, previous_timestamp_ns=previous)
    assert f.sample_interval_ns == 7_700_000
    np.testing.assert_array_equal(
        f.timestamps_ns, previous + 7_700_000 * np.arange(1, 74, dtype=np.int64)
    )
    # Polar's example: two samples, previous 100 ns, timestamp 2e9 ns
    g = decode_pmd_frame(header(0, 0) + bytes(6), previous_timestamp_ns=100)
    assert g.timestamps_ns.tolist() == [1_000_000_050, 2_000_000_000]


def test_a_gap_falls_back_to_the_sample_rate() -> None:
    previous = POLAR_POWER_LOSS_EPOCH_NS
    ts = previous + 2 * 73 * 7_692_308  # one frame was lost in between
    f = decode_pmd_frame(ecg_frame(ts), sample_rate_hz=130, previous_timestamp_ns=previous)
    assert f.sample_interval_ns == pytest.approx(1e9 / 130)
    # Polar's rule, kept on request, spreads the frame over the gap
    g = decode_pmd_frame(
        ecg_frame(ts), sample_rate_hz=130, previous_timestamp_ns=previous, max_rate_error=None
    )
    assert g.sample_interval_ns == 2 * 7_692_308
    # a previous timestamp that is not older also falls back on the rate
    h = decode_pmd_frame(ecg_frame(ts), sample_rate_hz=130, previous_timestamp_ns=ts)
    assert h.sample_interval_ns == pytest.approx(1e9 / 130)


def test_timestamp_errors() -> None:
    with pytest.raises(ConfigError):
        decode_pmd_frame(ecg_frame(TS))  # no rate, no previous
    with pytest.raises(ConfigError):
        decode_pmd_frame(ecg_frame(TS), sample_rate_hz=0)
    with pytest.raises(ProtocolError):
        decode_pmd_frame(ecg_frame(TS), previous_timestamp_ns=TS)  # not older, no rate
    with pytest.raises(ProtocolError):
        decode_pmd_frame(ecg_frame(1000), sample_rate_hz=130)  # before 2000-01-01
    with pytest.raises(ProtocolError):
        decode_pmd_frame(ecg_frame(2**63), sample_rate_hz=130)
    # one sample needs neither
    assert decode_pmd_frame(ecg_frame(TS, 1)).timestamps_ns.tolist() == [TS]


# -- malformed frames -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        header(0, 0),  # no samples
        header(0, 0) + b"\x01\x02",  # partial int24
        header(2, 1) + bytes(7),  # 1 sample + 1 byte
        header(0, 3) + bytes(6),  # type 3 sample is 7 bytes
        header(0, 0x80) + bytes(10),  # ECG is never compressed
        header(2, 3) + bytes(9),  # no ACC raw type 3
        header(3, 0) + bytes(6),  # PPI frames are not decoded
        header(63, 0) + bytes(6),  # unknown measurement type
        header(2, 0x81) + bytes(5),  # reference cut
        header(2, 0x81) + bytes(6) + b"\x06",  # block header cut
        header(2, 0x81) + bytes(6) + b"\x06\x02\x00\x00",  # 36 bits announced, 16 sent
        header(2, 0x81) + bytes(6) + b"\x00\x01",  # width 0
        header(2, 0x81) + bytes(6) + b"\x21\x01" + bytes(13),  # width 33
    ],
)
def test_malformed_frames_raise_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_pmd_frame(payload, sample_rate_hz=130)
    assert info.value.raw == payload


@pytest.mark.parametrize(
    "frame",
    [
        encode_pmd_frame(ECG, 0, TS, np.arange(-36, 37)),
        encode_pmd_frame(ACC, 1, TS, np.arange(36 * 3).reshape(36, 3)),
        encode_delta_frame(
            [1, 2, 3], np.ones((40, 3), dtype=int) * -3, [3, 5], timestamp_ns=TS, block_samples=20
        ),
    ],
)
def test_every_truncation_is_an_error_or_a_whole_prefix(frame: bytes) -> None:
    full = decode_pmd_frame(frame, sample_rate_hz=130)
    for cut in range(len(frame)):
        try:
            f = decode_pmd_frame(frame[:cut], sample_rate_hz=130)
        except ProtocolError:
            continue
        # a cut on a sample (raw) or block (compressed) boundary is a valid shorter frame
        np.testing.assert_array_equal(f.values, full.values[: len(f)])
        assert 0 < len(f) < len(full)


# -- fuzz ----------------------------------------------------------------------------------------

HEADERS = [
    bytes((m,)) + TS.to_bytes(8, "little") + bytes((t,))
    for m, t in [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (2, 0),
        (2, 1),
        (2, 2),
        (2, 0x80),
        (2, 0x81),
        (1, 0),
        (1, 0x80),
        (5, 0x80),
        (6, 0x80),
    ]
]


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=260),
        st.tuples(st.sampled_from(HEADERS), st.binary(max_size=250)).map(lambda p: p[0] + p[1]),
    ),
    st.one_of(st.none(), st.integers(0, 2**64)),
    st.sampled_from([None, 130.0, 52.0]),
)
def test_fuzz_only_protocol_error_escapes(
    data: bytes, previous: int | None, rate: float | None
) -> None:
    try:
        f = decode_pmd_frame(data, sample_rate_hz=rate, previous_timestamp_ns=previous)
    except ProtocolError as exc:
        raw = exc.raw
        assert raw == data
        return
    except ConfigError:
        # only the caller's fault: no rate and no usable previous timestamp
        assert rate is None
        return
    n = len(f)
    assert n >= 1
    assert f.values.shape[0] == n == f.timestamps_ns.shape[0]
    assert f.values.dtype == np.float64
    assert f.timestamps_ns.dtype == np.int64
    assert f.timestamps_ns[-1] == f.timestamp_ns
    assert np.all(np.diff(f.timestamps_ns) >= 0)
    assert np.all(f.timestamps_ns >= 0)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_control_point_parsers(data: bytes) -> None:
    for parse in (parse_control_point_response, parse_features, parse_settings):
        with contextlib.suppress(ProtocolError):
            parse(data)
