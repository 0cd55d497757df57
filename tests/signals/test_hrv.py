import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wearsdk import ConfigError
from wearsdk.signals._hrv import BeatClass, RRCleaner, hrv_frequency, rr_artifacts


def clean_rr(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 0.8 + 0.03 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.008, n)


def test_each_artifact_kind_is_recognised() -> None:
    rr = clean_rr(300)
    rr = list(rr)
    # a premature (ectopic) beat: short interval then compensatory pause
    rr[100], rr[101] = 0.5, 1.1
    # a missed beat: one interval twice the usual
    rr[150] = rr[150] + rr[151]
    del rr[151]
    # an extra (spurious) beat: one interval split in two
    a = rr[200]
    rr[200:201] = [0.3, a - 0.3]
    res = rr_artifacts(rr)
    classes = res.classes
    # the premature interval and its compensatory pause are both flagged; the algorithm
    # (like NeuroKit2's "Kubios" implementation) labels the pause as the ectopic event
    assert classes[101] == BeatClass.ECTOPIC
    assert classes[100] != BeatClass.NORMAL
    assert classes[150] == BeatClass.MISSED
    assert classes[200] == BeatClass.EXTRA
    assert np.count_nonzero(classes != BeatClass.NORMAL) <= 6
    # the ectopic beat is kept in the RR series but its intervals are not NN
    assert res.rr_s.size == len(rr)
    assert 100 not in res.nn_end_index
    assert 101 not in res.nn_end_index
    # the missed beat is split, the extra one merged
    assert np.count_nonzero(res.nn_end_index == 150) == 2
    assert 200 not in res.nn_end_index
    assert res.nn_s[res.nn_end_index == 201][0] == pytest.approx(a)
    assert 0 < res.corrected_fraction < 0.03


def test_clean_series_is_untouched() -> None:
    rr = clean_rr(500, seed=3)
    res = rr_artifacts(rr)
    assert res.corrected_fraction < 0.01
    assert res.nn_s.size >= rr.size - 5


def test_polar_bigeminy_is_kept_and_flagged(data_dir) -> None:  # type: ignore[no-untyped-def]
    import csv

    with open(data_dir / "polar_h10" / "polar_h10.csv") as f:
        rr = np.array([float(r["rr_ms"]) / 1000 for r in csv.DictReader(f) if r["rr_ms"]])
    res = rr_artifacts(rr)
    ectopic = np.flatnonzero(res.classes == BeatClass.ECTOPIC)
    # the recording has real premature beats: they are found, and nothing is deleted
    assert ectopic.size >= 5
    assert res.rr_s.size == rr.size
    # each is a premature (short) interval followed by a compensatory (longer) one
    assert np.all(rr[ectopic - 1] < rr[ectopic])
    # NN excludes them: its spread is much smaller than the raw RR's
    assert np.std(res.nn_s) < np.std(rr)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 80), min_size=1, max_size=25), seed=st.integers(0, 1000))
def test_online_equals_offline(cuts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    rr = clean_rr(400, seed)
    for i in rng.choice(np.arange(5, 395), 8, replace=False):
        rr[i] *= rng.choice([0.55, 1.9, 0.5])
    offline = rr_artifacts(rr)
    cleaner = RRCleaner()
    edges = np.unique(np.clip(np.cumsum(cuts), 0, rr.size))
    parts = [
        cleaner.step(rr[a:b]) for a, b in zip(np.r_[0, edges], np.r_[edges, rr.size], strict=False)
    ]
    parts.append(cleaner.flush())
    np.testing.assert_array_equal(np.concatenate([p.classes for p in parts]), offline.classes)
    np.testing.assert_allclose(np.concatenate([p.nn_s for p in parts]), offline.nn_s)
    np.testing.assert_array_equal(
        np.concatenate([p.nn_end_index for p in parts]), offline.nn_end_index
    )
    assert cleaner.corrected_fraction == pytest.approx(offline.corrected_fraction)


def test_bad_rr_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        rr_artifacts([0.8, -1.0])
    with pytest.raises(ConfigError):
        RRCleaner().step([np.nan])


def test_lomb_scargle_recovers_known_band_powers() -> None:
    t, rr = [0.0], []
    while t[-1] < 300:
        x = t[-1]
        r = 0.8 + 0.03 * np.sin(2 * np.pi * 0.1 * x) + 0.02 * np.sin(2 * np.pi * 0.25 * x)
        rr.append(r)
        t.append(x + r)
    f = hrv_frequency(np.array(rr), np.array(t[1:]))
    assert f["lf_power_s2"] == pytest.approx(0.03**2 / 2, rel=0.03)
    assert f["hf_power_s2"] == pytest.approx(0.02**2 / 2, rel=0.03)
    assert f["lf_hf_ratio"] == pytest.approx(2.25, rel=0.05)
    assert np.isnan(hrv_frequency(rr[:5], t[1:6])["lf_power_s2"])


def test_lf_hf_agrees_with_neurokit2_on_real_nn(data_dir) -> None:  # type: ignore[no-untyped-def]
    nk = pytest.importorskip("neurokit2")
    nn_ms = np.load(data_dir / "hrv_nn" / "SampleNNISeriesShort.npy")
    t = np.cumsum(nn_ms) / 1000
    ours = hrv_frequency(nn_ms / 1000, t)
    peaks = np.concatenate(([0], np.cumsum(nn_ms))).astype(int)
    ref = nk.hrv_frequency(peaks, sampling_rate=1000)
    # Welch on a 4 Hz interpolation (neurokit2) vs Lomb-Scargle on the beats (ours): the two
    # estimators differ in leakage and windowing; the normalised LF agrees within 0.1
    ref_nu = float(ref["HRV_LFn"].iloc[0] / (ref["HRV_LFn"].iloc[0] + ref["HRV_HFn"].iloc[0]))
    assert ours["lf_nu"] == pytest.approx(ref_nu, abs=0.1)
