"""The virtual Polar H10 over real GATT on a virtual BLE link, driven with bleak.

The central side is plain bleak (through ``link.central()``) plus the PMD codec: what a driver
would do, without the driver.
"""

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
import pytest
from bleak import BleakClient

from wearsdk import ConfigError, ProtocolError, ScaledClock
from wearsdk.drivers.heart_rate.protocol import (
    BATTERY_LEVEL_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    parse_heart_rate_measurement,
)
from wearsdk.drivers.polar._twin import SentFrame, VirtualPolarH10
from wearsdk.drivers.polar.protocol import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_MIN_MTU,
    POLAR_POWER_LOSS_EPOCH_NS,
    PmdFrame,
    PmdMeasurementType,
    PmdResponse,
    PmdSettingType,
    PmdStatus,
    decode_pmd_frame,
    parse_control_point_response,
    parse_features,
    pmd_settings_request,
    pmd_start_request,
    pmd_stop_request,
)
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator

pytestmark = [pytest.mark.timeout(30), pytest.mark.looptime]

ECG, ACC = PmdMeasurementType.ECG, PmdMeasurementType.ACC
SR, RES, RANGE = PmdSettingType.SAMPLE_RATE, PmdSettingType.RESOLUTION, PmdSettingType.RANGE
ECG_START = bytes.fromhex("02000001820001010E00")
ACC_START = pmd_start_request(ACC, {SR: 200, RES: 16, RANGE: 8})
NAME = "Polar H10 0A1B2C3D"
SPEED = 10.0  # session seconds per real second


@dataclass
class Central:
    """A bleak client subscribed to the PMD control point and data."""

    client: BleakClient
    responses: asyncio.Queue[bytes]
    frames: asyncio.Queue[bytes]

    async def request(self, payload: bytes) -> PmdResponse:
        await self.client.write_gatt_char(PMD_CONTROL_POINT_UUID, payload, response=True)
        async with asyncio.timeout(5):
            return parse_control_point_response(await self.responses.get())

    async def frames_of(self, n: int) -> list[bytes]:
        async with asyncio.timeout(10):
            return [await self.frames.get() for _ in range(n)]


@asynccontextmanager
async def h10(*, mtu: int = 517, **knobs: object) -> AsyncIterator[tuple[VirtualPolarH10, Central]]:
    clock = ScaledClock(SPEED)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(120), seed=4)
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=NAME)
        async with (
            VirtualPolarH10(peripheral, heart, clock, name=NAME, **knobs) as twin,  # type: ignore[arg-type]
            link.central(mtu=mtu) as ble,
        ):
            device = await ble.find_device(name=NAME, timeout_s=5)
            async with ble.client(device) as client:
                central = Central(client, asyncio.Queue(), asyncio.Queue())
                await client.start_notify(
                    PMD_CONTROL_POINT_UUID, lambda _c, b: central.responses.put_nowait(bytes(b))
                )
                await client.start_notify(
                    PMD_DATA_UUID, lambda _c, b: central.frames.put_nowait(bytes(b))
                )
                yield twin, central


def decode_stream(payloads: list[bytes], rate_hz: float, factor: float = 1.0) -> list[PmdFrame]:
    """Decode frames as a driver would: the previous timestamp per (type, frame type)."""
    previous: dict[tuple[int, int], int] = {}
    out = []
    for payload in payloads:
        key = (payload[0], payload[9])
        f = decode_pmd_frame(
            payload, sample_rate_hz=rate_hz, previous_timestamp_ns=previous.get(key), factor=factor
        )
        previous[key] = f.timestamp_ns
        out.append(f)
    return out


def truth(twin: VirtualPolarH10, kind: PmdMeasurementType) -> dict[int, SentFrame]:
    return {s.timestamp_ns: s for s in twin.sent if s.measurement_type == kind}


async def wait_until(predicate: Callable[[], bool], *, polls: int = 500) -> None:
    for _ in range(polls):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_features_settings_and_ecg_stream_exactly() -> None:
    async with h10() as (twin, central):
        assert central.client.mtu_size >= PMD_MIN_MTU
        features = await central.client.read_gatt_char(PMD_CONTROL_POINT_UUID)
        assert bytes(features) == b"\x0f\x05\x00"
        assert parse_features(features) == {ECG, ACC}
        settings = await central.request(pmd_settings_request(ECG))
        assert settings.ok
        assert settings.settings == {SR: (130,), RES: (14,)}
        acc_settings = await central.request(pmd_settings_request(ACC))
        assert acc_settings.settings == {SR: (25, 50, 100, 200), RES: (16,), RANGE: (2, 4, 8)}

        started = await central.request(ECG_START)
        assert (started.op_code, started.measurement_type, started.status) == (2, 0, 0)
        assert twin.requests[-1] == ECG_START
        assert twin.streaming == {ECG}
        payloads = await central.frames_of(6)

        assert all(len(p) == 229 for p in payloads)  # 73 int24 samples, as an H10 sends
        frames = decode_stream(payloads, 130)
        sent = truth(twin, ECG)
        for f in frames:
            assert (f.measurement_type, f.frame_type, f.compressed, len(f)) == (ECG, 0, False, 73)
            s = sent[f.timestamp_ns]
            np.testing.assert_array_equal(f.values, s.values)  # int24 µV: exact
            # sample times agree with the sensor's to the rounding of 1e9 / 130 ns
            assert np.abs(f.timestamps_ns - s.timestamps_ns).max() <= 1
        # consecutive frames continue each other on the sensor clock
        for a, b in itertools.pairwise(frames):
            assert b.timestamps_ns[0] - a.timestamps_ns[-1] == pytest.approx(1e9 / 130, abs=1)
        # the sensor clock restarted at 2019-01-01 when the twin started
        assert 0 < frames[0].timestamp_ns - POLAR_POWER_LOSS_EPOCH_NS < 60 * 10**9
        # a real ECG: R peaks of about a millivolt at the simulated beats
        ecg = np.concatenate([f.values[:, 0] for f in frames])
        assert 700 < ecg.max() < 1600
        assert ecg.min() > -600

        stopped = await central.request(pmd_stop_request(ECG))
        assert stopped.ok
        assert twin.streaming == frozenset()
        again = await central.request(pmd_stop_request(ECG))
        assert again.status is PmdStatus.ALREADY_IN_STATE
        n_sent = len(twin.sent)
        await asyncio.sleep(0.6 * 73 / 130 / SPEED * 3)
        assert len(twin.sent) == n_sent  # no frame after the stop


async def test_mtu_of_23_is_refused_with_invalid_mtu() -> None:
    async with h10(mtu=23) as (twin, central):
        assert central.client.mtu_size == 23
        # small requests and responses still work
        assert (await central.request(pmd_settings_request(ECG))).ok
        refused = await central.request(ECG_START)
        assert refused.status is PmdStatus.INVALID_MTU
        assert refused.status.description == "invalid MTU"
        assert (await central.request(ACC_START)).status is PmdStatus.INVALID_MTU
        assert twin.streaming == frozenset()
        await asyncio.sleep(0.1)
        assert central.frames.empty()
        assert len(twin.sent) == 0


async def test_invalid_requests_get_proper_statuses() -> None:
    cases = [
        (bytes.fromhex("0700"), PmdStatus.INVALID_OP_CODE),
        (bytes.fromhex("01"), PmdStatus.INVALID_LENGTH),
        (bytes.fromhex("010000"), PmdStatus.INVALID_LENGTH),
        (bytes.fromhex("0120"), PmdStatus.INVALID_MEASUREMENT_TYPE),
        (pmd_settings_request(PmdMeasurementType.PPG), PmdStatus.NOT_SUPPORTED),
        (bytes.fromhex("0180"), PmdStatus.NOT_SUPPORTED),  # offline recording
        (pmd_start_request(ECG, {SR: 128, RES: 14}), PmdStatus.INVALID_SAMPLE_RATE),
        (pmd_start_request(ECG, {SR: 130, RES: 16}), PmdStatus.INVALID_RESOLUTION),
        (pmd_start_request(ACC, {SR: 200, RES: 16, RANGE: 16}), PmdStatus.INVALID_RANGE),
        (pmd_start_request(ACC, {SR: 200, RES: 16}), PmdStatus.INVALID_PARAMETER),
        (
            pmd_start_request(ACC, {SR: 200, RES: 16, RANGE: 8, PmdSettingType.CHANNELS: 2}),
            PmdStatus.INVALID_NUMBER_OF_CHANNELS,
        ),
        (ECG_START[:-1], PmdStatus.INVALID_LENGTH),  # TLV cut short
        (pmd_stop_request(ECG), PmdStatus.ALREADY_IN_STATE),
    ]
    async with h10() as (twin, central):
        for request, status in cases:
            response = await central.request(request)
            assert response.status is status, (request.hex(), response)
            assert response.op_code == request[0]
        assert twin.streaming == frozenset()
        assert (await central.request(ECG_START)).ok
        assert (await central.request(ECG_START)).status is PmdStatus.ALREADY_IN_STATE
        twin.in_charger = True
        assert (await central.request(ACC_START)).status is PmdStatus.DEVICE_IN_CHARGER
        assert twin.streaming == {ECG}


@pytest.mark.parametrize("compressed", [False, True])
async def test_acc_stream_decodes_exactly(compressed: bool) -> None:
    async with h10(acc_compressed=compressed, acc_factor=1.0) as (twin, central):
        started = await central.request(ACC_START)
        assert started.ok
        factor = 1.0
        if compressed:
            assert started.settings is not None
            factor = float(started.settings[PmdSettingType.FACTOR][0])
        payloads = await central.frames_of(5)
        assert all(len(p) <= PMD_MIN_MTU - 3 for p in payloads)
        assert {p[9] for p in payloads} == ({0x81} if compressed else {0x01})
        frames = decode_stream(payloads, 200, factor)
        sent = truth(twin, ACC)
        for f in frames:
            assert f.unit == "mG"
            np.testing.assert_array_equal(f.values, sent[f.timestamp_ns].values * factor)
            assert np.abs(f.timestamps_ns - sent[f.timestamp_ns].timestamps_ns).max() <= 1
        acc = np.concatenate([f.values for f in frames])
        assert acc.shape[1] == 3
        assert 900 < np.linalg.norm(acc, axis=1).mean() < 1100  # gravity


async def test_dropped_and_malformed_frames_and_jitter() -> None:
    async with h10(drop_probability=0.25, malformed_probability=0.2, jitter_s=0.05, seed=2) as (
        twin,
        central,
    ):
        assert (await central.request(ECG_START)).ok
        await wait_until(lambda: len(twin.sent) >= 14, polls=1000)
        assert (await central.request(pmd_stop_request(ECG))).ok
        sent = list(twin.sent)
        delivered = [s for s in sent if not s.dropped]
        received = [central.frames.get_nowait() for _ in range(central.frames.qsize())]
        assert received == [s.payload for s in delivered][: len(received)]
        assert any(s.dropped for s in sent)
        assert any(s.malformed for s in sent)
        previous: int | None = None
        truth_by_ts = truth(twin, ECG)
        for payload in received:
            try:
                f = decode_pmd_frame(payload, sample_rate_hz=130, previous_timestamp_ns=previous)
            except ProtocolError:
                continue
            previous = f.timestamp_ns
            s = truth_by_ts[f.timestamp_ns]
            np.testing.assert_array_equal(f.values, s.values)
            # after a lost frame the gap rule keeps every sample at its time
            assert np.abs(f.timestamps_ns - s.timestamps_ns).max() <= 1


async def test_sensor_clock_offset_and_drift() -> None:
    origin = 700_000_000 * 10**9
    async with h10(clock_origin_ns=origin, clock_drift_ppm=5000.0) as (twin, central):
        assert (await central.request(ECG_START)).ok
        frames = decode_stream(await central.frames_of(4), 130)
        assert origin < frames[0].timestamp_ns < origin + 60 * 10**9
        # samples are 1/130 s apart on the sensor's clock, whatever its drift
        steps = np.diff(np.concatenate([f.timestamps_ns for f in frames]))
        assert np.abs(steps - 1e9 / 130).max() <= 1
        assert twin.sensor_time_ns(twin._t0 + 10.0) == origin + 10_050_000_000


async def test_heart_rate_battery_and_disconnect_stop_streams() -> None:
    async with h10() as (twin, central):
        assert bytes(await central.client.read_gatt_char(BATTERY_LEVEL_UUID)) == b"\x57"
        beats: asyncio.Queue[bytes] = asyncio.Queue()
        await central.client.start_notify(
            HEART_RATE_MEASUREMENT_UUID, lambda _c, b: beats.put_nowait(bytes(b))
        )
        async with asyncio.timeout(5):
            m = parse_heart_rate_measurement(await beats.get())
        assert 40 < m.hr_bpm < 130
        assert m.contact is True
        assert (await central.request(ECG_START)).ok
        await central.frames_of(1)
        await twin.drop_link()
        await wait_until(lambda: not twin.streaming)


@pytest.mark.parametrize(
    "knobs",
    [{"drop_probability": 1.5}, {"jitter_s": -1.0}, {"hr_interval_s": 0.0}, {"acc_factor": 0.01}],
)
async def test_twin_rejects_bad_knobs(knobs: dict[str, float]) -> None:
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=NAME)
        heart = HeartSimulator(ArousalScript.calm_stress_recovery(60))
        with pytest.raises(ConfigError):
            VirtualPolarH10(peripheral, heart, ScaledClock(SPEED), **knobs)  # type: ignore[arg-type]
