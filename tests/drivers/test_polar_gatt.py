"""The Polar H10 driver over real GATT against its virtual twin: ECG, ACC, clock, gaps, MTU."""

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.drivers.test_heart_rate_gatt import Collected, collect, wait_until
from wearsdk import (
    ClockStatus,
    DeviceClockMap,
    DeviceStatus,
    Gap,
    HeartRate,
    SampleBlock,
    ScaledClock,
    Session,
)
from wearsdk.drivers.polar import PmdError, PolarH10, VirtualPolarH10
from wearsdk.drivers.polar.protocol import (
    PmdMeasurementType,
    PmdStatus,
)
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator

pytestmark = [pytest.mark.timeout(90), pytest.mark.looptime]

ECG = PmdMeasurementType.ECG
ACC = PmdMeasurementType.ACC


@pytest.fixture
async def link() -> AsyncIterator[VirtualLink]:
    async with VirtualLink() as vl:
        yield vl


def blocks(got: Collected, stream: str) -> list[SampleBlock]:
    return [b for b in got.of(SampleBlock) if b.stream == stream]


def true_session_time(twin: VirtualPolarH10, sensor_ns: np.ndarray) -> np.ndarray:
    """Invert the twin's (linear) sensor clock."""
    t0, t1 = 0.0, 1000.0
    s0, s1 = twin.sensor_time_ns(t0), twin.sensor_time_ns(t1)
    return t0 + (sensor_ns - s0) * (t1 - t0) / (s1 - s0)


async def test_ecg_and_acc_arrive_exact_and_on_the_session_clock(link: VirtualLink) -> None:
    clock = ScaledClock(4)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(600), seed=1)
    peripheral = await link.add_peripheral(name="Polar H10 AAAA0001")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualPolarH10(
            peripheral, heart, clock, name="Polar H10 AAAA0001", clock_drift_ppm=60.0, seed=2
        ) as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        h10 = PolarH10(ble, name="Polar H10 AAAA0001", acc_rate_hz=50)
        session.add(h10)
        await wait_until(lambda: len(blocks(got, "ecg")) >= 40, timeout=40)
        task.cancel()
    ecg = blocks(got, "ecg")
    acc = blocks(got, "acc")
    assert ecg[0].unit == "uV"
    assert ecg[0].nominal_rate_hz == 130
    assert acc
    assert acc[0].channels == ("acc_x", "acc_y", "acc_z")
    assert acc[0].unit == "mG"
    # block k is the k-th ECG frame the twin sent: values are exactly its integers
    frames = [f for f in twin.sent if f.measurement_type == ECG]
    assert not any(f.dropped or f.malformed for f in frames)
    for block, frame in zip(ecg, frames, strict=False):
        np.testing.assert_array_equal(block.values, frame.values.astype(float))
    acc_frames = [f for f in twin.sent if f.measurement_type == ACC]
    got_acc = np.concatenate([b.values for b in acc])
    want_acc = np.concatenate([f.values for f in acc_frames]).astype(float)
    np.testing.assert_array_equal(got_acc, want_acc[: len(got_acc)])
    # time: monotonic, 130 Hz spacing, and on the session clock despite a 60 ppm sensor clock
    # that starts at 2019-01-01 (never taken as wall time)
    t = np.concatenate([b.t for b in ecg])
    assert np.all(np.diff(t) > 0)
    assert np.median(np.diff(t)) == pytest.approx(1 / 130, rel=1e-3)
    truth = np.concatenate([true_session_time(twin, f.timestamps_ns) for f in frames[: len(ecg)]])
    err = np.abs(t - truth)[len(t) // 2 :]
    # what remains is the link's minimum delivery latency (unknowable from arrivals alone)
    # plus what the envelope has not learnt yet
    assert np.percentile(err, 99) < 0.02
    assert h10.malformed_frames == 0
    assert any(isinstance(h, HeartRate) for h in got.of(HeartRate))


async def test_lost_frames_give_exact_gaps_and_malformed_ones_are_counted(
    link: VirtualLink,
) -> None:
    clock = ScaledClock(4)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(600), seed=3)
    peripheral = await link.add_peripheral(name="Polar H10 AAAA0002")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualPolarH10(
            peripheral,
            heart,
            clock,
            name="Polar H10 AAAA0002",
            drop_probability=0.15,
            malformed_probability=0.2,
            seed=4,
        ) as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        h10 = PolarH10(ble, name="Polar H10 AAAA0002")
        session.add(h10)
        await wait_until(lambda: len(blocks(got, "ecg")) >= 40, timeout=40)
        await asyncio.sleep(0.2)
        task.cancel()
    ecg_frames = [f for f in twin.sent if f.measurement_type == ECG]
    delivered = [f for f in ecg_frames if not f.dropped and not f.malformed]
    n_blocks = len(blocks(got, "ecg"))
    last_seen = delivered[n_blocks - 1].timestamp_ns
    surely_seen = sum(f.malformed for f in ecg_frames if f.timestamp_ns < last_seen)
    assert surely_seen >= 1
    assert surely_seen <= h10.malformed_frames <= sum(f.malformed for f in ecg_frames)
    gaps = [g for g in got.of(Gap) if g.stream == "ecg"]
    assert gaps
    # every sample of a frame not delivered is accounted for by a gap, exactly
    first_ns = delivered[0].timestamps_ns[0]
    last_ns = delivered[n_blocks - 1].timestamps_ns[-1]
    missing = sum(
        len(f.values)
        for f in ecg_frames
        if (f.dropped or f.malformed) and first_ns < f.timestamp_ns < last_ns
    )
    assert sum(g.n_missing or 0 for g in gaps) == missing
    for g in gaps:
        assert g.end - g.start == pytest.approx((g.n_missing + 1) / 130, rel=0.02)


async def test_mtu_too_small_is_a_clear_typed_error(link: VirtualLink) -> None:
    clock = ScaledClock(4)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(600), seed=3)
    peripheral = await link.add_peripheral(name="Polar H10 AAAA0003")
    async with (
        link.central(mtu=23) as ble,
        VirtualPolarH10(peripheral, heart, clock, name="Polar H10 AAAA0003"),
    ):
        with pytest.raises(PmdError) as info:
            async with PolarH10(ble, name="Polar H10 AAAA0003"):
                pass
    assert info.value.status == PmdStatus.INVALID_MTU
    assert "232" in str(info.value)


async def test_streams_restart_after_reconnect(link: VirtualLink) -> None:
    clock = ScaledClock(4)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(600), seed=5)
    peripheral = await link.add_peripheral(name="Polar H10 AAAA0004")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualPolarH10(peripheral, heart, clock, name="Polar H10 AAAA0004") as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        session.add(PolarH10(ble, name="Polar H10 AAAA0004", backoff_max_s=0.1))
        await wait_until(lambda: len(blocks(got, "ecg")) >= 5, timeout=30)
        await twin.drop_link()
        await wait_until(lambda: [s.state for s in got.of(DeviceStatus)][-1] == "connected")
        n = len(blocks(got, "ecg"))
        await wait_until(lambda: len(blocks(got, "ecg")) >= n + 5, timeout=30)
        assert ECG in twin.streaming  # restarted by the driver after the reconnect
        task.cancel()
    assert twin.streaming == frozenset()  # and stopped when the session closed
    gaps = [g for g in got.of(Gap) if g.stream == "ecg"]
    assert len(gaps) == 1
    assert gaps[0].n_missing
    assert gaps[0].n_missing > 0
    t = np.concatenate([b.t for b in blocks(got, "ecg")])
    assert np.all(np.diff(t) > 0)


class RecordingMap(DeviceClockMap):
    """A strap's clock map that keeps every observation it gets (to see the link's delays)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, float]] = []

    def observe(self, device_t: float, arrival: float, *, detect_reset: bool = True) -> bool:
        self.seen.append((device_t, arrival))
        return super().observe(device_t, arrival, detect_reset=detect_reset)


@pytest.mark.slow
async def test_two_straps_with_opposite_drift_line_up_on_the_session_clock(
    link: VirtualLink,
) -> None:
    """End to end over GATT: +100 and -100 ppm sensor clocks, up to 50 ms notification jitter."""
    clock = ScaledClock(3)
    names = ("Polar H10 AAAA0101", "Polar H10 AAAA0102")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    peripherals = [await link.add_peripheral(name=n) for n in names]
    twins = [
        VirtualPolarH10(
            p,
            HeartSimulator(ArousalScript.calm_stress_recovery(900), seed=k),
            clock,
            name=n,
            clock_drift_ppm=drift,
            jitter_s=0.05,
            seed=10 + k,
        )
        for k, (p, n, drift) in enumerate(zip(peripherals, names, (100.0, -100.0), strict=True))
    ]
    async with link.central() as ble, session, twins[0], twins[1]:
        task = asyncio.create_task(collect(session, got))
        straps = [PolarH10(ble, name=n, source_id=f"h10-{k}") for k, n in enumerate(names)]
        maps = [RecordingMap() for _ in straps]
        for strap, recording in zip(straps, maps, strict=True):
            strap.clock_status_every_s = 20.0
            strap.clock_map = recording
            session.add(strap)
        start = clock.now()
        await wait_until(lambda: clock.now() - start > 130, timeout=90)
        task.cancel()
    errors = []
    for k, twin in enumerate(twins):
        ecg = [b for b in blocks(got, "ecg") if b.source == f"h10-{k}"]
        frames = [f for f in twin.sent if f.measurement_type == ECG]
        assert not any(f.dropped or f.malformed for f in frames)
        t = np.array([b.t[-1] for b in ecg])
        truth = np.array([true_session_time(twin, f.timestamps_ns[-1:])[0] for f in frames])
        errors.append((truth[: len(t)], t - truth[: len(t)]))
    grid = np.arange(start + 60, start + 125, 0.1)
    cross = np.interp(grid, *errors[0]) - np.interp(grid, *errors[1])
    early = np.arange(start + 30, start + 125, 0.1)
    cross_30 = np.interp(early, *errors[0]) - np.interp(early, *errors[1])
    late = np.abs(cross[grid >= start + 90])
    p30, p60, p90 = (1e3 * np.percentile(np.abs(x), 99) for x in (cross_30, cross, late))
    shift = 1e3 * float(np.median(cross))  # a constant part: the links' minimum latencies
    print(f"cross-device p99 from 30/60/90 s {p30:.2f}/{p60:.2f}/{p90:.2f} ms, median {shift:+.2f}")
    # the link's own minimum delay: the lowest per 10 s of each strap (the map takes it for a
    # constant; on a loaded host it wanders by several ms, see docs/clock.md)
    for twin, recording in zip(twins, maps, strict=True):
        seen = np.array(recording.seen)
        delay = seen[:, 1] - true_session_time(twin, seen[:, 0] * 1e9)
        rel = true_session_time(twin, seen[:, 0] * 1e9) - start
        floors = [delay[(rel >= w) & (rel < w + 10)] for w in range(0, 130, 10)]
        print(
            "lowest delay per 10 s (ms):",
            " ".join(f"{1e3 * f.min():.1f}" for f in floors if f.size),
        )
        assert np.all(delay > 0)  # no frame arrives before its last sample was taken
    # stamping frames with their arrival would leave up to 50 ms of jitter between the two;
    # the synthetic tests (tests/core/test_clock.py) hold the map to 2 ms, here the host's
    # scheduling noise (times three on the 3x clock, on a shared machine) varies the virtual
    # link's minimum latency too: 2-3 ms when the machine is idle, up to ~5 ms under load
    assert np.percentile(late, 99) < 0.008
    status = [s for s in got.of(ClockStatus) if s.clock == "sensor"]
    assert {s.source for s in status} == {"h10-0", "h10-1"}
    last = {s.source: s for s in status}
    # learnt to within the floor noise of the virtual link over two minutes: 0-40 ppm on an
    # idle machine, up to ~60 ppm under load (the synthetic tests hold it to 2 ppm)
    assert last["h10-0"].drift_ppm > 0 > last["h10-1"].drift_ppm
    assert all(s.resets == 0 for s in status)
    # the published status carries the model's uncertainty (the session passes it on)
    assert all(s.error_bound_s is not None and s.drift_sd_ppm is not None for s in status[-2:])
