"""Regressions for what the fault harness and the fuzzer found in the drivers.

Notifications go straight into the drivers' handlers on a real bus (no BLE), so each case is
exact and fast; the scenarios in test_faults.py cover the same paths end to end.
"""

import numpy as np
import pytest

from wearsdk import Bus, Gap, SampleBlock, ScaledClock
from wearsdk.drivers.bitalino import BITalino
from wearsdk.drivers.bitalino.protocol import encode_frame
from wearsdk.drivers.heart_rate import HeartRateStrap
from wearsdk.drivers.heart_rate.protocol import encode_heart_rate_measurement
from wearsdk.drivers.polar import PolarH10
from wearsdk.drivers.polar.protocol import (
    POLAR_POWER_LOSS_EPOCH_NS,
    PmdMeasurementType,
    encode_pmd_frame,
)
from wearsdk.session import SourceContext

ECG = PmdMeasurementType.ECG
T0 = 820_000_000_000_000_000
STEP = round(1e9 / 130)


def context() -> tuple[SourceContext, list[object]]:
    bus = Bus()
    got: list[object] = []
    sub = bus.subscribe("physio/#", maxsize=10_000)
    ctx = SourceContext(bus, ScaledClock(1.0), "t")

    def drain() -> list[object]:
        while (m := sub.receive_nowait()) is not None:
            got.append(m.payload)
        return got

    ctx.drain = drain  # type: ignore[attr-defined]
    return ctx, got


def ecg_frame(k: int, *, ts_offset_ns: int = 0) -> bytes:
    last = T0 + ts_offset_ns + (73 * (k + 1) - 1) * STEP
    return encode_pmd_frame(ECG, 0, last, np.full((73, 1), 100 + k))


def test_an_ecg_frame_with_the_wrong_channel_count_is_counted_not_raised() -> None:
    h10 = PolarH10(None, name="x")  # type: ignore[arg-type]
    ctx, _ = context()
    h10._handle_notification(ctx, "pmd", 1.0, ecg_frame(0))
    two_columns = encode_pmd_frame(ECG, 3, T0 + 200 * STEP, np.zeros((5, 2), dtype=int))
    h10._handle_notification(ctx, "pmd", 1.5, two_columns)  # used to raise ConfigError
    assert h10.malformed_frames == 1
    assert h10.frames == 1


def test_a_late_frame_is_dropped_and_its_samples_stay_under_the_gap() -> None:
    h10 = PolarH10(None, name="x")  # type: ignore[arg-type]
    ctx, _ = context()
    for k, arrival in ((0, 0.6), (2, 1.7), (1, 1.71), (3, 2.3)):  # frame 1 after frame 2
        h10._handle_notification(ctx, "pmd", arrival, ecg_frame(k))
    got = ctx.drain()  # type: ignore[attr-defined]
    blocks = [p for p in got if isinstance(p, SampleBlock)]
    gaps = [p for p in got if isinstance(p, Gap)]
    assert [int(b.values[0, 0]) for b in blocks] == [100, 102, 103]
    assert h10.late_frames == 1
    assert [g.n_missing for g in gaps] == [73]
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)


def test_a_delayed_burst_within_a_connection_is_not_a_clock_reset() -> None:
    h10 = PolarH10(None, name="x")  # type: ignore[arg-type]
    ctx, _ = context()
    h10._on_connected()
    arrival = 0.0
    for k in range(20):
        arrival = (k + 1) * 73 / 130 + 0.02
        if k in (10, 11, 12):
            arrival += 3.0 - 0.5 * (k - 10)  # held ~3 s, then released back to back
        h10._handle_notification(ctx, "pmd", arrival, ecg_frame(k))
    got = ctx.drain()  # type: ignore[attr-defined]
    assert h10.clock_map.resets == 0
    assert not [p for p in got if isinstance(p, Gap)]
    t = np.concatenate([b.t for b in got if isinstance(b, SampleBlock)])
    # evenly spaced at 130 Hz: the late arrivals moved nothing
    assert np.allclose(np.diff(t), 1 / 130, atol=1e-4)


def test_after_a_reconnect_a_sensor_clock_reset_gives_a_gap() -> None:
    h10 = PolarH10(None, name="x")  # type: ignore[arg-type]
    ctx, _ = context()
    h10._on_connected()
    for k in range(5):
        h10._handle_notification(ctx, "pmd", (k + 1) * 73 / 130 + 0.02, ecg_frame(k))
    h10._on_connected()  # the link came back 10 s later; the strap had lost power
    restart = POLAR_POWER_LOSS_EPOCH_NS - T0  # back to 2019-01-01
    for k in range(3):
        arrival = 10 + (k + 1) * 73 / 130
        h10._handle_notification(ctx, "pmd", arrival, ecg_frame(k, ts_offset_ns=restart))
    got = ctx.drain()  # type: ignore[attr-defined]
    (gap,) = [p for p in got if isinstance(p, Gap)]
    assert gap.reason == "clock_reset"
    assert 7 < gap.end - gap.start < 10
    t = np.concatenate([b.t for b in got if isinstance(b, SampleBlock)])
    assert gap.start in t
    assert gap.end in t


def test_beats_of_a_malformed_notification_are_reported_as_a_gap() -> None:
    strap = HeartRateStrap(None, name="x")  # type: ignore[arg-type]
    ctx, _ = context()
    strap._on_connected()
    beats = [(1.0, [0.9]), (2.0, [0.95]), (3.0, None), (4.0, [0.9]), (5.0, [1.0])]
    for arrival, rr in beats:
        payload = b"\x01\x48" if rr is None else encode_heart_rate_measurement(70, rr_s=rr)
        strap._handle_notification(ctx, "hr", arrival, payload)
    got = ctx.drain()  # type: ignore[attr-defined]
    (gap,) = [p for p in got if isinstance(p, Gap)]
    assert gap.reason == "malformed"
    assert strap.malformed == 1
    rr_blocks = [b for b in got if isinstance(b, SampleBlock)]
    t = np.concatenate([b.t for b in rr_blocks])
    assert gap.start == t[1]  # the last beat before the lost notification
    assert gap.end == rr_blocks[2].t[0] - rr_blocks[2].values[0, 0]


def test_beats_pulled_back_never_share_a_time() -> None:
    strap = HeartRateStrap(None, name="x")  # type: ignore[arg-type]
    ctx, _ = context()
    strap._on_connected()
    strap._handle_notification(ctx, "hr", 1.0, encode_heart_rate_measurement(70, rr_s=[0.9]))
    # a burst: many beats arrive at once, far ahead of what the chain allows
    burst = encode_heart_rate_measurement(70, rr_s=[0.8] * 9)
    strap._handle_notification(ctx, "hr", 1.01, burst)
    got = ctx.drain()  # type: ignore[attr-defined]
    t = np.concatenate([b.t for b in got if isinstance(b, SampleBlock)])
    assert np.all(np.diff(t) > 0)


def bitalino_stream(
    driver: BITalino, ctx: SourceContext, n_notes: int, *, lost: range, delayed: range
) -> list[int]:
    """Notifications of 5 frames at 100 Hz, 10 ms after the last frame; some frames never
    sent (``lost``), some notifications released back to back after the last ``delayed``."""
    sent: list[int] = []
    release = (max(delayed) + 1) * 0.05 + 0.01 if delayed else 0.0
    for k in range(n_notes):
        frames = [i for i in range(5 * k, 5 * k + 5) if i not in lost]
        payload = b"".join(encode_frame(i, [i % 1024, 0, 7, 0, 0, 0], [0, 0, 0, 0]) for i in frames)
        arrival = (5 * k + 5) / 100 + 0.01
        if k in delayed:
            arrival = release + 0.001 * (k - min(delayed))
        if payload:
            driver._handle(ctx, arrival, payload)
        sent += frames
    return sent


def test_bitalino_late_delivery_is_not_taken_for_a_counter_wrap() -> None:
    # a host stall held ~0.3 s of notifications, then released them back to back: the first
    # of them arrives 30 frames "late" for its sequence number, which a lost-frames reading
    # (two wraps of the 4-bit counter) would turn into 32 invented missing frames
    driver = BITalino(None, name="x", rate_hz=100, publish_raw=False)  # type: ignore[arg-type]
    ctx, _ = context()
    sent = bitalino_stream(driver, ctx, 200, lost=range(0), delayed=range(100, 106))
    got = ctx.drain()  # type: ignore[attr-defined]
    blocks = [p for p in got if isinstance(p, SampleBlock)]
    assert [p for p in got if isinstance(p, Gap)] == []
    assert driver.frames == len(sent) == 1000
    t = np.concatenate([b.t for b in blocks])
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-3)


def test_bitalino_frames_lost_past_a_counter_wrap_are_counted_once_held_long_enough() -> None:
    driver = BITalino(None, name="x", rate_hz=100, publish_raw=False)  # type: ignore[arg-type]
    ctx, _ = context()
    # 40 frames never sent (seen as 8 from the counter), then on-time notifications: the
    # wrap is believed only after 0.5 s of arrivals confirm the lateness
    sent = bitalino_stream(driver, ctx, 114, lost=range(500, 540), delayed=range(0))
    assert driver.frames == 500  # the notifications after the loss are still held
    driver._release_held(ctx, final=True)  # what the end of a connection does
    got = ctx.drain()  # type: ignore[attr-defined]
    (gap,) = [p for p in got if isinstance(p, Gap)]
    assert (gap.n_missing, gap.reason) == (40, "sequence")
    assert driver.frames == len(sent)
    t = np.concatenate([b.t for b in got if isinstance(b, SampleBlock)])
    assert gap.end - gap.start == pytest.approx(0.41, abs=2e-3)
    assert np.all(np.diff(t) > 0)
