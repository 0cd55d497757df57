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
    rr = list(clean_rr(300))
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


def _quantile(values: np.ndarray, q: float) -> float:
    s = np.sort(values)
    pos = q / 100 * (s.size - 1)
    lo = int(np.floor(pos))
    return float(s[lo] + (s[min(lo + 1, s.size - 1)] - s[lo]) * (pos - lo))


def brute_force_classes(rr: np.ndarray) -> np.ndarray:
    """Lipponen & Tarvainen with trailing windows, recomputed from scratch for every beat."""
    n = rr.size
    drr = np.r_[0.0, np.diff(rr)]

    def th(values: np.ndarray, i: int) -> float:
        w = np.abs(values[max(0, i - 90) : i + 1])
        return 5.2 * (_quantile(w, 75) - _quantile(w, 25)) / 2

    med = np.array([_quantile(rr[max(0, i - 10) : i + 1], 50) for i in range(n)])
    mrr = rr - med
    mrr = np.where(mrr < 0, 2 * mrr, mrr)
    th2 = np.array([th(mrr, i) for i in range(n)])
    ndrr = np.array([drr[i] / t if (t := th(drr, i)) > 0 else 0.0 for i in range(n)])
    nmrr = np.where(th2 > 0, mrr / np.where(th2 > 0, th2, 1), 0.0)

    def nd(j: int) -> float:  # mirrored at both ends
        j = 2 * (n - 1) - j if j >= n else j
        return float(ndrr[min(abs(j), n - 1)])

    out = np.zeros(n, np.int8)
    extra = np.zeros(n, bool)
    for i in range(n):
        d, m, p1, n1, n2 = ndrr[i], nmrr[i], nd(i - 1), nd(i + 1), nd(i + 2)
        s12 = max(p1, n1) if d > 0 else min(p1, n1) if d < 0 else 0.0
        s22 = min(n1, n2) if d >= 0 else max(n1, n2)
        if (d > 1 and s12 < -0.13 * d - 0.17) or (d < -1 and s12 > -0.13 * d + 0.17):
            out[i] = BeatClass.ECTOPIC
        elif (d > 1 and s22 < -1) or (d < -1 and s22 > 1) or abs(m) > 3:
            if d < -1 and s22 > 1 and abs(rr[i] + rr[min(i + 1, n - 1)] - med[i]) < th2[i]:
                out[i], extra[i] = BeatClass.EXTRA, True
            elif d > 1 and s22 < -1 and abs(rr[i] / 2 - med[i]) < th2[i]:
                out[i] = BeatClass.MISSED
            else:
                out[i] = BeatClass.LONGSHORT
        if i and extra[i - 1]:
            out[i] = BeatClass.NORMAL
    return out


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 300))
def test_incremental_statistics_equal_a_brute_force_recomputation(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    rr = clean_rr(n, seed)
    for i in rng.choice(np.arange(n), min(n, 10), replace=False):
        rr[i] *= rng.choice([0.55, 1.9, 0.5, 1.3])
    np.testing.assert_array_equal(rr_artifacts(rr).classes, brute_force_classes(rr))


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


@pytest.mark.parametrize("n_freqs", [None, 48, 131])
def test_closed_form_periodogram_equals_scipy_lombscargle(n_freqs: int | None) -> None:
    from scipy.signal import lombscargle

    from wearsdk.signals._hrv import _grid, lomb_n_freqs

    rng = np.random.default_rng(5)
    nn = 0.8 + 0.04 * np.sin(np.arange(90) / 2.5) + rng.normal(0, 0.02, 90)
    t = 3000.0 + np.cumsum(nn)
    ours = hrv_frequency(nn, t, n_freqs=n_freqs)
    span = t[-1] - t[0]
    n = n_freqs or lomb_n_freqs(span)
    freqs = _grid(n)[0]
    y = nn - nn.mean()
    pgram = lombscargle(t - t[0], y, 2 * np.pi * freqs, normalize=False)
    density = pgram * (4.0 / nn.size) * span / 2
    for band, (lo, hi) in {"lf_power_s2": (0.04, 0.15), "hf_power_s2": (0.15, 0.40)}.items():
        sel = (freqs >= lo) & (freqs <= hi)
        assert ours[band] == pytest.approx(np.trapezoid(density[sel], freqs[sel]), rel=1e-9)


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
