"""Rhythmic movement in raw ACC (``acc_periodicity``, ``acc_cadence_hz``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from wearsdk.signals._feat_cadence import acc_periodicity
from wearsdk.signals._features import FeatureConfig, FeatureExtractor, WindowFeatures

RATE = 32.0


def pedalling(seconds: float, hz: float, amp_mg: float, noise_mg: float, seed: int) -> np.ndarray:
    """A wrist on a handlebar: gravity on z, a small rock at the cadence, sensor noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / RATE)
    xyz = rng.normal(0.0, noise_mg, (t.size, 3))
    xyz[:, 2] += 1000.0
    xyz[:, 0] += amp_mg * np.sin(2 * np.pi * hz * t + 0.3)
    xyz[:, 1] += 0.5 * amp_mg * np.sin(2 * np.pi * hz * t + 1.1)
    return np.round(xyz / 15.625) * 15.625  # an E4 reads 1/64 g steps


def fidgeting(seconds: float, seed: int) -> np.ndarray:
    """Seated movement: irregular bursts of gestures, no rhythm."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    xyz = np.zeros((n, 3))
    xyz[:, 2] = 1000.0
    for _ in range(int(seconds / 4)):
        a = int(rng.integers(0, n - 64))
        m = int(rng.integers(8, 64))
        xyz[a : a + m] += rng.normal(0.0, 80.0, (m, 3))
    return xyz + rng.normal(0.0, 5.0, (n, 3))


@pytest.mark.parametrize("hz", [1.1, 1.5, 2.4])
def test_a_pedalling_rhythm_is_periodic_at_its_cadence(hz: float) -> None:
    per, cad = acc_periodicity(pedalling(60, hz, amp_mg=40, noise_mg=8, seed=1), RATE)
    assert per > 0.7
    # the lag is a whole number of samples: the frequency is within one lag step
    lag = RATE / hz
    assert RATE / (lag + 1) <= cad <= RATE / (lag - 1)


@pytest.mark.parametrize("seed", range(5))
def test_seated_movement_and_noise_are_not_periodic(seed: int) -> None:
    per, _ = acc_periodicity(fidgeting(60, seed), RATE)
    assert per < 0.4
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 30.0, (int(60 * RATE), 3))
    assert acc_periodicity(noise, RATE)[0] < 0.35


def test_a_still_wrist_has_no_rhythm() -> None:
    xyz = np.tile([0.0, 15.625, 1000.0], (int(60 * RATE), 1))
    per, cad = acc_periodicity(xyz, RATE)
    assert per == 0.0
    assert math.isnan(cad)


def feed(ex: FeatureExtractor, t: np.ndarray, xyz: np.ndarray, rate: float | None):  # type: ignore[no-untyped-def]
    out: list[WindowFeatures] = []
    for a in range(0, t.size, int(RATE)):
        ex.push("acc", t[a : a + int(RATE)], xyz[a : a + int(RATE)], nominal_rate_hz=rate)
        out += ex.ready()
    return out + ex.flush()


def test_extractor_windows_carry_the_rhythm_of_their_own_samples() -> None:
    """Four minutes seated, then four pedalling: the windows tell them apart, and their values
    are those of the window's samples."""
    xyz = np.concatenate([fidgeting(240, 2), pedalling(240, 1.4, 40, 8, 3)])
    t = 1000.0 + np.arange(xyz.shape[0]) / RATE
    wins = feed(FeatureExtractor(FeatureConfig(window_s=60, hop_s=5)), t, xyz, RATE)
    seated = [w for w in wins if w.end <= 1240 and w.start >= 1000]
    riding = [w for w in wins if w.start >= 1240 and w.end <= 1480]
    assert len(seated) > 30
    assert len(riding) > 30
    assert max(w.values["acc_periodicity"] for w in seated) < 0.4
    assert min(w.values["acc_periodicity"] for w in riding) > 0.7
    assert all(abs(w.values["acc_cadence_hz"] - 1.4) < 0.05 for w in riding)
    w = riding[3]
    sel = (t > w.start) & (t <= w.end)
    assert w.values["acc_periodicity"] == acc_periodicity(xyz[sel], RATE)[0]


@pytest.mark.parametrize("fast", [100.0, 200.0])
def test_a_strap_at_100_or_200_hz_is_measured_averaged_to_25_hz_with_the_same_result(
    fast: float,
) -> None:
    """A Polar H10's ACC (200 Hz) is averaged in blocks before the periodicity: the same rhythm
    and the same seated/riding contrast as at full rate, at a fraction of the cost."""
    rng = np.random.default_rng(7)
    seconds = 240
    t = np.arange(0, seconds, 1 / fast)
    ride = np.zeros((t.size, 3))
    ride[:, 2] = 1000.0
    ride[:, 0] += 40 * np.sin(2 * np.pi * 1.7 * t + 0.3)
    ride[:, 1] += 20 * np.sin(2 * np.pi * 1.7 * t + 1.1)
    ride += rng.normal(0.0, 8.0, ride.shape)
    still = rng.normal(0.0, 30.0, ride.shape)  # band-limited noise, no rhythm
    xyz = np.concatenate([still, ride])
    tt = 50.0 + np.arange(xyz.shape[0]) / fast
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    wins: list[WindowFeatures] = []
    step = int(fast)
    for a in range(0, tt.size, step):
        ex.push("acc", tt[a : a + step], xyz[a : a + step], nominal_rate_hz=fast)
        wins += ex.ready()
    wins += ex.flush()
    noise = [w for w in wins if w.start >= 50 and w.end <= 50 + seconds]
    riding = [w for w in wins if w.start >= 50 + seconds and w.end <= 50 + 2 * seconds]
    assert len(noise) > 30
    assert len(riding) > 30
    assert max(w.values["acc_periodicity"] for w in noise) < 0.35
    assert min(w.values["acc_periodicity"] for w in riding) > 0.8
    assert all(abs(w.values["acc_cadence_hz"] - 1.7) < 0.1 for w in riding)
    w = riding[5]
    sel = (tt > w.start) & (tt <= w.end)
    full = acc_periodicity(xyz[sel], fast)[0]  # at the full rate: within 0.02
    assert abs(w.values["acc_periodicity"] - full) < 0.02


def test_uncovered_slow_or_irregular_acc_gives_nan_and_bad_samples_are_counted() -> None:
    xyz = pedalling(180, 1.4, 40, 8, 4)
    t = np.arange(xyz.shape[0]) / RATE
    gap = (t > 60) & (t < 100)  # 40 s missing: below min_coverage in the windows over it
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    wins = feed(ex, t[~gap], xyz[~gap], RATE)
    over = [w for w in wins if w.start >= 50 and w.end <= 110]
    assert over
    assert all(math.isnan(w.values["acc_periodicity"]) for w in over)
    after = [w for w in wins if w.start >= 100]
    assert after
    assert all(w.values["acc_periodicity"] > 0.7 for w in after)
    # 4 Hz cannot resolve a 1-3 Hz rhythm; no nominal rate: no sample spacing to rely on
    for rate, step in ((4.0, 8), (None, 1)):
        ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
        wins = feed(ex, t[::step], xyz[::step], rate)
        assert wins
        assert all(math.isnan(w.values["acc_periodicity"]) for w in wins)
    # samples behind the last one, or not finite, are left out and counted
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    ex.push("acc", t[:100], xyz[:100], nominal_rate_hz=RATE)
    bad = xyz[[10, 20, 30]].copy()
    bad[2, 0] = math.nan
    ex.push("acc", np.array([t[10], t[99], t[100]]), bad, nominal_rate_hz=RATE)
    assert ex.dropped == 3


@pytest.mark.data
def test_real_cycling_is_more_periodic_than_the_same_person_seated(data_dir: Path) -> None:
    """wearable-stress person S05: the stationary-bike session against their stress session
    (seated: tasks and rests), every window through the online feature pipeline."""
    import benchmarks.arousal_wearable as aw
    import benchmarks.train_arousal as ta

    med = {}
    for kind in ("AEROBIC", "STRESS"):
        streams, start, end, _ = aw.session_streams(data_dir / "wearable_stress" / kind / "S05")
        per = [w["values"]["acc_periodicity"] for w in ta.extract(streams, start, end)]
        assert np.isfinite(per).mean() > 0.95
        med[kind] = float(np.nanmedian(per))
    assert med["AEROBIC"] > 0.5
    assert med["STRESS"] < 0.35
