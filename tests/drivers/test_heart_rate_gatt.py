"""The heart-rate driver over real GATT on a virtual link: twin, bumble's own profile, faults."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from bumble.profiles.heart_rate_service import HeartRateService

from wearsdk import (
    DeviceNotFoundError,
    DeviceStatus,
    Gap,
    HeartRate,
    Message,
    SampleBlock,
    ScaledClock,
    Session,
    StreamClosedError,
)
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import VirtualLink, start_advertising
from wearsdk.sim import ArousalScript, HeartSimulator

pytestmark = [pytest.mark.timeout(60), pytest.mark.looptime]


class RecordingHeart(HeartSimulator):
    """The simulator, remembering every RR it generated."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.generated: list[float] = []

    def beats_until(self, t_end: float) -> list[float]:
        out = super().beats_until(t_end)
        self.generated += out
        return out


@dataclass
class Collected:
    messages: list[Message] = field(default_factory=list)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [m.payload for m in self.messages if isinstance(m.payload, kind)]

    def rr_blocks(self) -> list[SampleBlock]:
        return [b for b in self.of(SampleBlock) if b.stream == "rr"]


async def collect(session: Session, into: Collected) -> None:
    async with session.bus.subscribe(("physio/#", "device/#"), maxsize=100_000) as sub:
        async for m in sub:
            into.messages.append(m)


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    """Poll a condition on observed test state (nothing to await on directly)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
async def link() -> AsyncIterator[VirtualLink]:
    async with VirtualLink() as vl:
        yield vl


async def test_rr_intervals_arrive_exactly_as_the_strap_generated_them(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    heart = RecordingHeart(ArousalScript.calm_stress_recovery(60), seed=3)
    peripheral = await link.add_peripheral(name="HR twin A")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualHeartRateStrap(peripheral, heart, clock, name="HR twin A") as twin,
    ):
        strap = HeartRateStrap(ble, name="HR twin A")
        task = asyncio.create_task(collect(session, got))
        sid = session.add(strap)
        await wait_until(lambda: len(got.rr_blocks()) >= 15)
        await session.sleep(1.0)
        task.cancel()
    received = np.concatenate([b.values[:, 0] for b in got.rr_blocks()])
    # the first beats happen before the central subscribed: they are lost, as on a real strap
    lost = twin.beats_lost
    sent = np.round(np.array(heart.generated[lost:]) * 1024) / 1024
    np.testing.assert_array_equal(received, sent[: received.size])
    assert received.size >= 15
    beat_t = np.concatenate([b.t for b in got.rr_blocks()])
    assert np.all(np.diff(beat_t) > 0)
    # consecutive beats are one RR apart, not smeared by notification jitter: only the few
    # re-anchorings onto the earliest arrivals (the chain may never run ahead of real time)
    # shorten an interval
    spacing_exact = np.isclose(np.diff(beat_t), received[1:], rtol=0, atol=1e-6)
    assert spacing_exact.mean() >= 0.8
    assert np.all(np.diff(beat_t) <= received[1:] + 1e-6)
    hrs = got.of(HeartRate)
    assert all(h.contact is True and h.source == sid for h in hrs)
    assert any(h.energy_kj is not None for h in hrs) or len(hrs) < 10
    statuses = list(got.of(DeviceStatus))
    assert [s.state for s in statuses][:2] == ["connecting", "connected"]
    assert statuses[1].battery_pct == 87
    assert strap.malformed == 0


async def test_reads_bumbles_own_heart_rate_service_exactly(link: VirtualLink) -> None:
    peripheral = await link.add_peripheral(name="bumble HRS")
    hrs = HeartRateService(
        read_heart_rate_measurement=lambda _c: HeartRateService.HeartRateMeasurement(60),
        body_sensor_location=HeartRateService.BodySensorLocation.CHEST,
        reset_energy_expended=lambda _c: None,
    )
    peripheral.add_service(hrs)
    await start_advertising(peripheral, name="bumble HRS", service_uuids=["180d"])
    got = Collected()
    session = Session(pipeline=None)
    async with link.central() as ble, session:
        task = asyncio.create_task(collect(session, got))
        session.add(HeartRateStrap(ble))  # discovery by the Heart Rate Service UUID
        await wait_until(lambda: any(s.state == "connected" for s in got.of(DeviceStatus)))
        await asyncio.sleep(0.05)
        measurements = [
            HeartRateService.HeartRateMeasurement(
                heart_rate=75,
                sensor_contact_detected=True,
                energy_expended=100,
                rr_intervals=[0.75, 0.8],
            ),
            HeartRateService.HeartRateMeasurement(heart_rate=301, rr_intervals=[0.5] * 9),
            HeartRateService.HeartRateMeasurement(heart_rate=70, sensor_contact_detected=False),
        ]
        for m in measurements:
            await peripheral.notify_subscribers(hrs.heart_rate_measurement_characteristic, m)
        await wait_until(lambda: len(got.of(HeartRate)) >= 3)
        task.cancel()
    a, b, c = got.of(HeartRate)[:3]
    # bumble encodes RR as int(rr * 1024): 768 and 819
    assert (a.hr_bpm, a.rr_s, a.energy_kj, a.contact) == (75, (768 / 1024, 819 / 1024), 100, True)
    assert (b.hr_bpm, b.rr_s, b.energy_kj, b.contact) == (301, (0.5,) * 9, None, None)
    assert (c.hr_bpm, c.rr_s, c.contact) == (70, (), False)


async def test_reconnects_after_a_drop_and_reports_the_gap_exactly(link: VirtualLink) -> None:
    clock = ScaledClock(10)
    heart = RecordingHeart(ArousalScript.calm_stress_recovery(300), seed=5)
    peripheral = await link.add_peripheral(name="HR twin B")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualHeartRateStrap(peripheral, heart, clock, name="HR twin B") as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        strap = HeartRateStrap(ble, name="HR twin B", backoff_max_s=0.2)
        session.add(strap)
        await wait_until(lambda: len(got.rr_blocks()) >= 5)
        lost_before = twin.beats_lost
        await twin.drop_link(vanish_s=5.0)  # out of range for 5 session seconds
        await wait_until(lambda: len(got.of(Gap)) >= 1, timeout=20)
        await wait_until(lambda: got.rr_blocks()[-1].t[-1] > got.of(Gap)[0].end + 2)
        task.cancel()
    states = [s.state for s in got.of(DeviceStatus)]
    assert states[:2] == ["connecting", "connected"]
    assert "disconnected" in states
    assert states[-1] == "connected"
    assert states.index("reconnecting") > states.index("disconnected")
    (gap,) = got.of(Gap)
    blocks = got.rr_blocks()
    beat_t = np.concatenate([b.t for b in blocks])
    rr = np.concatenate([b.values[:, 0] for b in blocks])
    before = beat_t[beat_t <= gap.start]
    after_i = np.flatnonzero(beat_t > gap.start)[0]
    # exact extent: from the last beat received to the start of the first interval received
    assert gap.start == before[-1]
    assert gap.end == pytest.approx(beat_t[after_i] - rr[after_i], abs=1e-9)
    assert gap.end - gap.start >= 5.0
    assert gap.reason == "disconnect"
    lost = twin.beats_lost - lost_before
    assert gap.n_missing is not None
    assert abs(gap.n_missing - lost) <= 2


async def test_malformed_notifications_are_counted_and_dropped(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(60), seed=1)
    peripheral = await link.add_peripheral(name="HR twin C")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualHeartRateStrap(peripheral, heart, clock, name="HR twin C") as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        strap = HeartRateStrap(ble, name="HR twin C")
        session.add(strap)
        await wait_until(lambda: len(got.of(HeartRate)) >= 2)
        for junk in (b"", b"\x01\x48", b"\x10\x48\x00\x03\x01", b"\x00\x48\x99"):
            await twin.send_raw(junk)
        n = len(got.of(HeartRate))
        await wait_until(lambda: len(got.of(HeartRate)) >= n + 3)
        task.cancel()
    assert strap.malformed == 4
    assert strap.notifications >= len(got.of(HeartRate)) + 4


async def test_standalone_strap_streams_without_a_session(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(60), seed=2)
    peripheral = await link.add_peripheral(name="HR twin D")
    async with (
        link.central() as ble,
        VirtualHeartRateStrap(peripheral, heart, clock, name="HR twin D"),
    ):
        strap = HeartRateStrap(ble, name="HR twin D")
        async with strap:
            assert strap.context is not None
            async with strap.stream("hr") as hr:
                first = await anext(hr)
                assert isinstance(first, HeartRate)
                assert 50 < first.hr_bpm < 120
        assert strap.context is None
        # mypy keeps the narrowing to "not None" from inside the block that closed the link
        with pytest.raises(StreamClosedError):  # type: ignore[unreachable]
            strap.stream("hr")


async def test_standalone_strap_that_is_never_found_raises(link: VirtualLink) -> None:
    async with link.central() as ble:
        strap = HeartRateStrap(ble, name="nobody", connect_timeout_s=0.3, max_attempts=2)
        with pytest.raises(DeviceNotFoundError):
            async with strap:
                pass


async def test_two_straps_in_one_session(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    p1 = await link.add_peripheral(name="HR twin E1")
    p2 = await link.add_peripheral(name="HR twin E2")
    h1 = HeartSimulator(ArousalScript.calm_stress_recovery(60), seed=1, hr_rest_bpm=55)
    h2 = HeartSimulator(ArousalScript.calm_stress_recovery(60), seed=2, hr_rest_bpm=80)
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualHeartRateStrap(p1, h1, clock, name="HR twin E1"),
        VirtualHeartRateStrap(p2, h2, clock, name="HR twin E2"),
    ):
        task = asyncio.create_task(collect(session, got))
        a = session.add(HeartRateStrap(ble, name="HR twin E1"))
        b = session.add(HeartRateStrap(ble, name="HR twin E2"))
        await wait_until(lambda: {h.source for h in got.of(HeartRate)} == {a, b})
        await wait_until(lambda: sum(h.source == a for h in got.of(HeartRate)) >= 4)
        await wait_until(lambda: sum(h.source == b for h in got.of(HeartRate)) >= 4)
        task.cancel()
    hr_a = np.mean([h.hr_bpm for h in got.of(HeartRate) if h.source == a][1:])
    hr_b = np.mean([h.hr_bpm for h in got.of(HeartRate) if h.source == b][1:])
    assert hr_a < hr_b - 10  # each stream comes from its own strap


async def test_faulty_strap_keeps_streaming_and_counts_every_bad_packet(link: VirtualLink) -> None:
    clock = ScaledClock(25)
    heart = RecordingHeart(ArousalScript.calm_stress_recovery(120), seed=7)
    peripheral = await link.add_peripheral(name="HR twin F")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualHeartRateStrap(
            peripheral,
            heart,
            clock,
            name="HR twin F",
            malformed_rate=0.3,
            jitter_s=0.05,
            drift_ppm=100.0,
            seed=11,
        ) as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        strap = HeartRateStrap(ble, name="HR twin F")
        session.add(strap)
        await wait_until(lambda: twin.malformed_sent >= 5 and len(got.of(HeartRate)) >= 10)
        await session.sleep(1.5)
        task.cancel()
    assert strap.malformed == twin.malformed_sent
    assert strap.notifications == twin.notifications_sent
    assert len(got.of(HeartRate)) == twin.notifications_sent - twin.malformed_sent
    rr = np.concatenate([b.values[:, 0] for b in got.rr_blocks()])
    # every interval received is one the strap generated, scaled by its +100 ppm clock error
    generated = np.array(heart.generated)
    drifted = set(np.round(generated * (1 + 100e-6) * 1024) / 1024)
    assert set(rr) <= drifted
    assert not set(rr) <= set(np.round(generated * 1024) / 1024)


async def test_a_strap_that_goes_silent_is_dropped_and_reconnected(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(300), seed=4)
    peripheral = await link.add_peripheral(name="HR twin G")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualHeartRateStrap(peripheral, heart, clock, name="HR twin G") as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        session.add(HeartRateStrap(ble, name="HR twin G", stale_after_s=4.0, backoff_max_s=0.1))
        await wait_until(lambda: len(got.of(HeartRate)) >= 3)
        twin.paused = True
        await wait_until(lambda: any(s.state == "disconnected" for s in got.of(DeviceStatus)))
        twin.paused = False
        await wait_until(lambda: [s.state for s in got.of(DeviceStatus)][-1] == "connected")
        n = len(got.of(HeartRate))
        await wait_until(lambda: len(got.of(HeartRate)) > n + 2)
        task.cancel()
    detail = [s.detail for s in got.of(DeviceStatus) if s.state == "disconnected"]
    assert detail == ["no data for 4 s"]
    (gap,) = got.of(Gap)
    assert gap.end - gap.start >= 4.0
