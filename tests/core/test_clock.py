import time

import numpy as np
import pytest

from wearsdk import ConfigError, DeviceClockMap, ScaledClock, SessionClock


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
    clock = ScaledClock(50)
    a, real = clock.now(), time.monotonic()
    time.sleep(0.05)
    elapsed_real = time.monotonic() - real  # a loaded machine may sleep longer
    assert clock.now() - a == pytest.approx(50 * elapsed_real, rel=0.05)
    assert clock.real_delay_s(10) == pytest.approx(0.2)
    with pytest.raises(ConfigError):
        ScaledClock(0)


def simulate(
    m: DeviceClockMap,
    *,
    seconds: float,
    drift_ppm: float,
    offset: float,
    rng: np.random.Generator,
    start: float = 0.0,
    jitter_s: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames of 73 samples at 130 Hz; returns (mapped, true) session times of all samples."""
    mapped, truth = [], []
    k0 = int(start * 130 / 73)
    for k in range(k0, k0 + int(seconds * 130 / 73)):
        d = np.arange(k * 73, (k + 1) * 73) / 130.0
        true_t = offset + d * (1 + drift_ppm * 1e-6)
        arrival = true_t[-1] + 0.0075 + rng.exponential(jitter_s / 3)
        m.observe(d[-1], arrival)
        mapped.append(m.map(d, stream="ecg"))
        truth.append(true_t)
    return np.concatenate(mapped), np.concatenate(truth)


@pytest.mark.parametrize("drift_ppm", [-100.0, 0.0, 100.0])
def test_device_clock_map_learns_offset_and_drift(drift_ppm: float) -> None:
    m = DeviceClockMap()
    mapped, truth = simulate(
        m, seconds=600, drift_ppm=drift_ppm, offset=5000.0, rng=np.random.default_rng(1)
    )
    assert m.drift_ppm == pytest.approx(drift_ppm, abs=15)
    late = np.abs(mapped - truth)[len(truth) // 2 :]
    # the 7.5 ms minimum link latency cannot be seen from arrivals; the rest is learnt
    assert np.percentile(late, 99) < 0.0075 + 0.004
    assert np.all(np.diff(mapped) > 0)


def test_device_clock_reset_reanchors_without_going_backwards() -> None:
    rng = np.random.default_rng(2)
    m = DeviceClockMap()
    a, _ = simulate(m, seconds=60, drift_ppm=30, offset=100.0, rng=rng)
    # the sensor loses power: its clock restarts at its epoch, far in the past
    b, truth_b = simulate(m, seconds=60, drift_ppm=30, offset=a[-1] + 5.0, rng=rng, start=0.0)
    assert m.resets == 1
    assert b[0] > a[-1]
    assert np.all(np.diff(b) > 0)
    assert np.abs(b - truth_b)[len(b) // 2 :].max() < 0.02


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
