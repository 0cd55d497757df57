import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wearsdk import ConfigError
from wearsdk.signals import RRWindower, rr_time_domain


def beats(n: int, rr: float = 0.8, t0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rrs = np.full(n, rr)
    return t0 + np.cumsum(rrs), rrs


def test_hrv_time_formulas() -> None:
    rr = np.array([0.8, 0.85, 0.78, 0.9, 0.82])
    f = rr_time_domain(rr)
    d = np.diff(rr)
    assert f["n_beats"] == 5
    assert f["hr_mean_bpm"] == pytest.approx(60 / rr.mean())
    assert f["rmssd_s"] == pytest.approx(np.sqrt(np.mean(d**2)))
    assert f["sdnn_s"] == pytest.approx(np.std(rr, ddof=1))
    assert f["pnn50"] == pytest.approx(np.mean(np.abs(d) > 0.05))
    assert np.isnan(rr_time_domain([0.8])["rmssd_s"])
    assert np.isnan(rr_time_domain([])["hr_mean_bpm"])


def test_hrv_time_matches_neurokit2_on_real_nn_series(data_dir) -> None:  # type: ignore[no-untyped-def]
    nk = pytest.importorskip("neurokit2")
    nn_ms = np.load(data_dir / "hrv_nn" / "SampleNNISeriesShort.npy")
    ours = rr_time_domain(nn_ms / 1000.0)
    peaks = np.concatenate(([0], np.cumsum(nn_ms))).astype(int)
    ref = nk.hrv_time(peaks, sampling_rate=1000)
    assert ours["rmssd_s"] * 1000 == pytest.approx(float(ref["HRV_RMSSD"].iloc[0]), rel=1e-3)
    assert ours["sdnn_s"] * 1000 == pytest.approx(float(ref["HRV_SDNN"].iloc[0]), rel=1e-3)


def test_windows_align_on_hop_grid_and_cover() -> None:
    w = RRWindower(length_s=10, hop_s=1)
    t, rr = beats(40, 0.8, t0=100.3)
    wins = w.step(t, rr)
    assert wins[0].end == pytest.approx(111.0)  # first end on the grid after 10 s of data
    assert all(b.end - a.end == pytest.approx(1.0) for a, b in itertools.pairwise(wins))
    assert all(x.coverage == pytest.approx(1.0) for x in wins)
    assert all(np.all((x.beat_t > x.start) & (x.beat_t <= x.end)) for x in wins)


def test_gap_lowers_coverage_not_averaged_silently() -> None:
    w = RRWindower(length_s=10, hop_s=1)
    t1, rr1 = beats(20, 0.8)
    t2, rr2 = beats(20, 0.8, t0=t1[-1] + 6.0)  # 6 s without beats
    wins = w.step(np.concatenate((t1, t2)), np.concatenate((rr1, rr2)))
    worst = min(x.coverage for x in wins)
    assert worst == pytest.approx(0.4, abs=0.09)


def test_out_of_order_and_invalid_beats_are_dropped_and_counted() -> None:
    w = RRWindower(length_s=5, hop_s=1)
    w.step([1.0, 2.0, 3.0], [0.8, 0.8, 0.8])
    w.step([2.5, 4.0, np.nan, 5.0], [0.8, 0.8, 0.8, -1.0])
    assert w.dropped_out_of_order == 1
    assert w.dropped_invalid == 2


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        RRWindower(length_s=0, hop_s=1)


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_online_windows_do_not_depend_on_chunking(cuts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    rr = rng.uniform(0.4, 1.2, 400)
    t = 50.0 + np.cumsum(rr)
    whole = RRWindower(length_s=30, hop_s=2).step(t, rr)
    chunked_w = RRWindower(length_s=30, hop_s=2)
    chunked = []
    edges = np.unique(np.clip(np.cumsum(cuts), 0, 400))
    for a, b in zip(np.concatenate(([0], edges)), np.concatenate((edges, [400])), strict=False):
        chunked += chunked_w.step(t[a:b], rr[a:b])
    assert [x.end for x in chunked] == [x.end for x in whole]
    for x, y in zip(chunked, whole, strict=True):
        np.testing.assert_array_equal(x.rr_s, y.rr_s)
        assert x.coverage == y.coverage
