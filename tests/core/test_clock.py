import time

import numpy as np
import pytest

from wearsdk import (
    ConfigError,
    DeviceClockMap,
    RoundTrip,
    RoundTripClock,
    ScaledClock,
    SessionClock,
)
from wearsdk.sim import DeviceClockSim, cross_device_error, settling_time


def test_session_clock_unix_mapping_is_fixed_and_tight() -> None:
    clock = SessionClock()
    t = clock.now()
    assert abs(clock.to_unix(t) - time.time()) < 0.01
    assert clock.from_unix(clock.to_unix(123.0)) == pytest.approx(123.0)
    np.testing.assert_allclose(clock.to_unix_array(np.array([t])), [clock.to_unix(t)])
    assert clock.source_name in ("lsl", "monotonic")


def test_session_clock_is_the_lsl_clock_when_pylsl_is_installed() -> None:
    pylsl = pytest.importorskip("pylsl")
    clock = SessionClock()
    assert clock.source_name == "lsl"
    assert abs(clock.now() - pylsl.local_clock()) < 0.01


def test_scaled_clock_runs_fast() -> None:
    real = [1000.0]  # a base clock the test moves: exact, however loaded the machine
    clock = ScaledClock(50, source=lambda: real[0])
    a = clock.now()
    assert a == 1000.0  # its origin is the base clock's time at creation
    real[0] += 0.05
    assert clock.now() - a == pytest.approx(2.5)
    real[0] += 1.0
    assert clock.now() - a == pytest.approx(52.5)
    assert clock.real_delay_s(10) == pytest.approx(0.2)
    with pytest.raises(ConfigError):
        ScaledClock(0)


def test_streams_of_one_device_share_the_map_but_not_the_floor() -> None:
    m = DeviceClockMap()
    m.observe(10.0, 110.02)
    ecg = m.map(np.array([9.9, 10.0]), stream="ecg")
    acc = m.map(np.array([9.5, 9.8]), stream="acc")  # earlier samples of another stream
    assert acc[0] < ecg[0]
    again = m.map(np.array([9.0]), stream="ecg")  # never backwards within a stream
    assert again[0] > ecg[-1]


def test_map_needs_an_observation() -> None:
    with pytest.raises(ConfigError):
        DeviceClockMap().map([1.0])


def test_replay_clock_keeps_the_recordings_unix_times() -> None:
    start = 1_600_000_000.0
    clock = ScaledClock(10, unix_at_start=start)
    t = clock.now()
    assert clock.to_unix(t) == pytest.approx(start, abs=0.05)
    assert clock.from_unix(start + 30) == pytest.approx(t + 30, abs=0.05)


LATENCY = 0.0075  # the link's minimum latency: late by this, the same for every device


def polar_like(drift_ppm: float, seed: int, **kw: float) -> DeviceClockSim:
    """ECG at 130 Hz in 73-sample frames, a clock in seconds since 2000 (as the H10's)."""
    return DeviceClockSim(
        rate_hz=130, per_packet=73, drift_ppm=drift_ppm, device_origin_s=6e8, seed=seed, **kw
    )


def counter_like(drift_ppm: float, seed: int, **kw: float) -> DeviceClockSim:
    """A sample counter at a nominal 100 Hz, 10 samples a notification (BITalino-like)."""
    return DeviceClockSim(rate_hz=100, per_packet=10, drift_ppm=drift_ppm, seed=seed, **kw)


@pytest.mark.parametrize(
    ("drift_a", "drift_b", "seed"), [(100, -100, 1), (-100, 100, 2), (100, 0, 3)]
)
def test_cross_device_alignment_with_100ppm_drift_and_50ms_jitter(
    drift_a: float, drift_b: float, seed: int
) -> None:
    # up to 50 ms of uniform jitter plus, 5 % of the time, a retransmission delay
    a = polar_like(drift_a, seed, session_origin_s=1000.0, jitter_s=0.05)
    b = counter_like(drift_b, seed + 10, session_origin_s=1000.3, jitter_s=0.05)
    ma, mb = DeviceClockMap(), DeviceClockMap()
    ta, tb = a.run(ma, until_s=2200.0), b.run(mb, until_s=2200.0)
    grid, err = cross_device_error(ta, tb, start_s=1001.0, end_s=2199.0)
    # within 2 ms from 98, 104 and 92 s (seeds 1-3): the H10-like clock alone, ECG frames
    # with a retransmission tail (docs/clock.md); a 15 % margin, not a settle point for figures
    assert settling_time(grid, err, bound_s=0.002) < 120.0
    late = np.abs(err[grid > 1120.0])
    assert np.percentile(late, 99) < 0.002
    # each device on its own: late by the (unobservable) minimum latency, and no more
    for trace in (ta, tb):
        own = trace.error[trace.t_true > 1120.0] - LATENCY
        assert np.percentile(np.abs(own), 99) < 0.002
        assert trace.backwards == 0
    # drift learnt (the counter's drift is its true sample rate against the nominal one)
    assert ma.drift_ppm == pytest.approx(drift_a, abs=2)
    assert mb.drift_ppm == pytest.approx(drift_b, abs=2)
    assert ma.converged
    assert mb.converged
    q = ma.quality()
    assert q.resets == 0
    assert 0.005 < q.jitter_s < 0.05  # the mean delay above the envelope, removed
    assert q.offset_s == pytest.approx(1000.0 - 6e8 + LATENCY, abs=0.2)


def test_device_clock_reset_midstream_is_survived() -> None:
    dev = polar_like(60, seed=4, jitter_s=0.05)
    m = DeviceClockMap()
    before = dev.run(m, until_s=300.0)
    # power loss: the H10's clock restarts at its 2019 epoch, far in the past
    dev.reset_clock(at_session_s=300.5, device_origin_s=5.8e8)
    after = dev.run(m, until_s=600.0, stream="x")
    assert m.resets == 1
    assert after.resets == 1
    assert before.backwards == 0
    assert after.backwards == 0
    # never wild: at worst the first frame's own delay until the envelope is found again
    assert after.max_error < LATENCY + 0.05 + 0.2
    err = after.error - LATENCY
    settled = settling_time(after.t_true, err, bound_s=0.002)
    assert settled < 90.0
    assert np.abs(err[after.t_true > 300.5 + 120]).max() < 0.002


def test_a_60s_disconnection_is_survived() -> None:
    dev = polar_like(-100, seed=5, jitter_s=0.05)
    m = DeviceClockMap()
    before = dev.run(m, until_s=600.0)
    dev.skip_to(660.0)  # the link drops for 60 s; the sensor clock runs on
    after = dev.run(m, until_s=900.0)
    assert m.resets == 0
    assert before.backwards == 0
    assert after.backwards == 0
    # the first frames after the gap already land right: the drift carried the map across
    assert np.abs(after.error[:20] - LATENCY).max() < 0.002
    assert np.abs(after.error - LATENCY).max() < 0.002


def test_a_sample_counter_starting_over_after_a_reconnect_is_a_reset() -> None:
    dev = counter_like(80, seed=6)
    m = DeviceClockMap()
    first = dev.run(m, until_s=200.0)
    dev.reset_clock(at_session_s=230.0)  # new acquisition: the count starts at 0 again
    second = dev.run(m, until_s=400.0)
    assert m.resets == 1
    assert first.backwards == second.backwards == 0
    assert np.abs(second.error[second.t_true > 330] - LATENCY).max() < 0.002


@pytest.mark.slow
def test_a_24_hour_session_does_not_drift() -> None:
    # the drift itself wanders by 5 ppm (temperature) over a 2 h period
    dev = polar_like(-100, seed=7, jitter_s=0.05, wander_ppm=5.0)
    m = DeviceClockMap()
    trace = dev.run(m, until_s=24 * 3600.0)
    assert trace.backwards == 0
    err = trace.error - LATENCY
    last_minute = err[trace.t_true > trace.t_true[-1] - 60]
    assert np.abs(last_minute).max() < 0.002
    assert np.abs(err[trace.t_true > 3600]).max() < 0.002


def test_quality_before_and_after_anchoring() -> None:
    m = DeviceClockMap()
    q = m.quality()
    assert not q.converged
    assert q.observations == 0
    assert np.isnan(q.offset_s)
    m.observe(10.0, 110.02)
    assert m.quality().offset_s == pytest.approx(100.02)
    assert not m.converged  # no drift estimate yet
    assert m.observe(float("nan"), 1.0) is False  # ignored, not a reset
    assert m.n_observations == 1


def test_interleaved_streams_fill_earlier_buckets() -> None:
    # ECG and ACC frames of one sensor arrive interleaved: device times are not monotonic
    m = DeviceClockMap(bucket_s=1.0)
    for k in range(100):
        m.observe(k + 0.9, 1000 + k + 0.9 + 0.02)
        m.observe(k + 0.3, 1000 + k + 0.3 + 0.01 + 0.02 * (k % 2))  # an earlier acc frame
    assert m.offset_s == pytest.approx(1000.01, abs=1e-3)
    assert m.resets == 0


def exchanges(
    c: RoundTripClock, *, seconds: float, offset: float, ppm: float, seed: int
) -> list[tuple[float, float]]:
    """Round trips every 0.5 s over paths of 20 ms + up to 30 ms each way; (t, error)."""
    rng = np.random.default_rng(seed)

    def remote(t: float) -> float:
        return offset + t * (1 + ppm * 1e-6)

    out = []
    for k in range(int(seconds / 0.5)):
        t1 = k * 0.5
        up, down = 0.02 + rng.uniform(0, 0.03), 0.02 + rng.uniform(0, 0.03)
        t2 = remote(t1 + up)
        t3 = t2 + 0.001
        t4 = t1 + up + 0.001 / (1 + ppm * 1e-6) + down
        c.add(RoundTrip(t1, t2, t3, t4))
        out.append((t4, c.to_remote(t4) - remote(t4)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_clock_finds_offset_and_drift_through_jittery_paths(seed: int) -> None:
    c = RoundTripClock()
    errors = exchanges(c, seconds=600, offset=-3600.0, ppm=50.0, seed=seed)
    # a few seconds in, already far inside the 50 ms round trip
    assert max(abs(e) for t, e in errors if 2 < t < 30) < 0.003
    assert max(abs(e) for t, e in errors if t > 60) < 0.003
    assert c.drift_ppm == pytest.approx(50.0, abs=5)
    assert c.drift_known
    assert 0.04 <= c.best_delay_s < 0.05
    # the bound it can prove: half the sum of the two minimum one-way delays (2 x 20 ms)
    assert 0.019 < c.uncertainty_s < 0.025
    assert c.to_local(c.to_remote(123.0)) == pytest.approx(123.0, abs=1e-9)
    assert c.quality().observations == 1200


def test_round_trip_clock_rejects_impossible_exchanges() -> None:
    c = RoundTripClock(max_delay_s=1.0)
    assert not c.synced
    assert not c.add(RoundTrip(10.0, 5.0, 5.0, 9.0))  # answered before it was asked
    assert not c.add(RoundTrip(0.0, 5.0, 4.0, 1.0))  # the remote sent before it received
    assert not c.add(RoundTrip(0.0, 5.0, 5.0, 3.0))  # slower than max_delay_s
    assert not c.add(RoundTrip(0.0, float("nan"), 5.0, 0.1))
    assert c.add(RoundTrip(100.0, 105.05, 105.06, 100.11))
    assert not c.add(RoundTrip(10.0, 15.05, 15.06, 10.11))  # out of order
    assert c.rejected == 5
    assert c.samples == 1
    assert c.offset_at(100.0) == pytest.approx(5.0, abs=0.03)


@pytest.mark.parametrize("seed", [1, 2, 9])
def test_two_h10s_over_three_minutes_and_the_bound_that_says_how_good(seed: int) -> None:
    """Two H10-like straps at +-100 ppm, 0-50 ms delays, 2 % of frames held 100-500 ms; ECG only.

    The figures over 20 seeds are in docs/clock.md (``python -m benchmarks.clock --only h10
    --ecg-only``);
    these seeds are ones the benchmark's table shows, asserted at what they measured.
    """
    from benchmarks.clock import h10_stream

    a, b = h10_stream(100.0, 1000 + seed, 180.0), h10_stream(-100.0, 2000 + seed, 180.0)
    assert a.backwards == b.backwards == 0
    grid = np.arange(30.0, 179.0, 0.05)
    cross = np.abs(np.interp(grid, a.t, a.error) - np.interp(grid, b.t, b.error))
    assert np.percentile(cross[grid >= 60], 99) < 3e-3
    assert np.percentile(cross, 99) < 3.5e-3
    for trace, drift in ((a, 100.0), (b, -100.0)):
        assert trace.drift[-1] == pytest.approx(drift, abs=10)
        # the bound covers the error (the link's constant latency excluded)
        assert np.mean(np.abs(trace.error) <= trace.bound) > 0.95
        # and shrinks as the envelope fills in
        assert np.median(trace.bound[trace.t > 150]) < np.median(trace.bound[trace.t < 30])
        # converged means within its 1 ms bound
        assert np.all(np.abs(trace.error[trace.converged]) <= 1e-3)


@pytest.mark.parametrize("seed", [7, 12])
def test_a_99_9_percent_bound_covers_every_strap_where_a_99_percent_one_misses_runs(
    seed: int,
) -> None:
    """The two seeds of the ECG-only table whose 99 % bound missed most (docs/clock.md).

    A credible bound's misses come in runs (a drift estimate off for tens of seconds): at the
    default 99 % one strap of each of these sessions is covered in less than 95 % of its
    frames; ``bound_level=0.999`` covers both straps, and what it calls converged is within
    1 ms.
    """
    from benchmarks.clock import h10_stream

    coverage = {}
    for level in (None, 0.999):
        for drift, base in ((100.0, 1000), (-100.0, 2000)):
            trace = h10_stream(drift, base + seed, 180.0, bound_level=level)
            coverage[level, drift] = float(np.mean(np.abs(trace.error) <= trace.bound))
            if level is not None:
                assert np.all(np.abs(trace.error[trace.converged]) <= 1e-3)
    assert min(coverage[None, d] for d in (100.0, -100.0)) < 0.95
    assert min(coverage[0.999, d] for d in (100.0, -100.0)) >= 0.95


def test_retime_places_ecg_only_straps_afterwards_where_live_mapping_cannot() -> None:
    """Seed 4 of the ECG-only table: live, the straps are 3.75 ms apart (p99 from 60 s), the
    information limit of 1.8 frames a second (docs/clock.md). The same map, asked again 30 s
    after each frame or at the end of the session, places them within 2 ms and 1 ms."""
    from benchmarks.clock import h10_stream

    a, b = h10_stream(100.0, 1004, 180.0), h10_stream(-100.0, 2004, 180.0)
    grid = np.arange(0.6, 179.4, 0.05)

    def p99(ea: np.ndarray, eb: np.ndarray, start: float) -> float:
        cross = np.abs(np.interp(grid, a.t, ea) - np.interp(grid, b.t, eb))
        return float(np.percentile(cross[grid >= start], 99))

    assert p99(a.error, b.error, 60.0) > 3e-3
    assert p99(a.lagged[30.0], b.lagged[30.0], 30.0) < 2e-3
    assert p99(a.hindsight, b.hindsight, 0.0) < 1e-3
    with pytest.raises(ConfigError):
        DeviceClockMap().retime([1.0])


def test_error_bound_and_drift_uncertainty_before_and_after_observations() -> None:
    m = DeviceClockMap()
    assert m.error_bound_s == np.inf
    assert m.drift_sd_ppm == np.inf
    assert m.span_s == 0.0
    m.observe(10.0, 110.02)
    assert 0.0 < m.error_bound_s < np.inf
    assert m.drift_sd_ppm > 50.0  # the prior's: one point says nothing about drift
    assert not m.converged
    dev = polar_like(-100, seed=8, jitter_s=0.05)
    m = DeviceClockMap(converged_bound_s=2e-3)
    dev.run(m, until_s=900.0)
    q = m.quality()
    assert q.converged == (q.error_bound_s <= 2e-3)
    assert q.converged
    assert 0.0 < q.drift_sd_ppm < 5.0
    assert abs(q.drift_ppm + 100) < 4 * q.drift_sd_ppm + 1.0
    with pytest.raises(ConfigError):
        DeviceClockMap(bound_level=1.0)


def test_a_prior_on_drift_keeps_early_fits_from_swinging() -> None:
    # a few seconds of 50 ms jitter say nothing about drift: the estimate stays near the prior
    dev = polar_like(30, seed=12, jitter_s=0.05)
    m = DeviceClockMap()
    estimates = []
    for until in np.arange(2.0, 30.0, 1.0):
        dev.run(m, until_s=float(until))
        estimates.append(m.drift_ppm)
    assert max(abs(e) for e in estimates) < 150.0


def test_a_retransmission_tail_is_not_taken_for_a_sharp_upper_edge() -> None:
    """The bounded-delay model is offered only when the delays look uniform up to their top."""
    from wearsdk._clock._envelope import _uniform_between_extremes

    rng = np.random.default_rng(3)
    passed = {"uniform": 0, "tail": 0, "one late": 0}
    for _ in range(200):
        uniform = rng.uniform(0.0, 0.05, 100)
        tail = uniform + (rng.random(100) < 0.05) * rng.exponential(0.05, 100)
        one_late = uniform.copy()
        one_late[0] = 0.06  # a single retransmission 10 ms above the edge
        passed["uniform"] += _uniform_between_extremes(uniform)
        passed["tail"] += _uniform_between_extremes(tail)
        passed["one late"] += _uniform_between_extremes(one_late)
    assert passed["uniform"] >= 195  # tests at 0.1 % each
    assert passed["tail"] <= 20  # at 100 points a 5 % tail is seen about 94 % of the time
    assert passed["one late"] <= 10


def test_a_held_back_notification_just_beyond_the_delay_edge_does_not_tilt_the_drift() -> None:
    """ECG and ACC frames on one link: a frame held back behind a held one lands 50-75 ms late.

    Such a point is within three median excesses, but beyond the edge the bounded model found;
    counted as an inlier it joined the upper hull and tilted the line (this seed ended 51 ppm
    off at 180 s, and its bound covered 94 % of the frames).
    """
    from benchmarks.clock import h10_stream

    trace = h10_stream(-100.0, 2005, 180.0, acc_hz=100.0)
    assert trace.backwards == 0
    assert trace.drift[-1] == pytest.approx(-100.0, abs=5)
    late = trace.t > 120
    assert np.all(np.abs(trace.drift[late] + 100.0) < 15)
    assert np.mean(np.abs(trace.error) <= trace.bound) > 0.95


@pytest.mark.parametrize("seed", [2, 7, 12])
def test_two_h10s_streaming_acc_at_200hz_align_within_2ms_in_the_first_minute(seed: int) -> None:
    """ECG and 200 Hz ACC frames on each strap's link feed its map: issue 23's targets.

    As ``PolarH10`` runs by default (the timing-only ACC stream). The figures over 20 seeds are
    in docs/clock.md (``python -m benchmarks.clock --only h10``: 19 and 20 of 20 seeds); these
    seeds are ones its table shows.
    """
    from benchmarks.clock import h10_stream

    a = h10_stream(100.0, 1000 + seed, 180.0, acc_hz=200.0)
    b = h10_stream(-100.0, 2000 + seed, 180.0, acc_hz=200.0)
    assert a.backwards == b.backwards == 0
    grid = np.arange(0.6, 179.4, 0.05)
    cross = np.abs(np.interp(grid, a.t, a.error) - np.interp(grid, b.t, b.error))
    assert np.percentile(cross[grid >= 60], 99) < 2e-3
    assert np.percentile(cross[grid >= 30], 99) < 3e-3
    for trace, drift in ((a, 100.0), (b, -100.0)):
        assert trace.drift[-1] == pytest.approx(drift, abs=10)
    # the bound covers the error of both straps' frames (in seed 2 one strap alone: 92.5 %)
    covered = np.concatenate([np.abs(x.error) <= x.bound for x in (a, b)])
    assert covered.mean() > 0.95
