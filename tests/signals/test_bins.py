import numpy as np
import pytest

from wearsdk.signals._bins import BinnedStream


def test_window_stats_match_numpy_and_slide() -> None:
    rng = np.random.default_rng(0)
    fs = 32.0
    t = 1000.0 + np.arange(0, 300, 1 / fs)
    y = 5 + 0.01 * (t - 1000) + rng.normal(0, 0.1, t.size)
    b = BinnedStream(hop_s=1.0, capacity_bins=120, nominal_rate_hz=fs)
    for i in range(0, t.size, 77):  # arbitrary blocks
        b.add(t[i : i + 77], y[i : i + 77])
    end_bin = int(np.floor(t[-1])) - 1
    w = b.window(end_bin, 60)
    sel = (t >= (end_bin - 59)) & (t < end_bin + 1)
    assert w.n == sel.sum()
    assert w.mean == pytest.approx(y[sel].mean())
    assert w.std == pytest.approx(y[sel].std(), rel=1e-6)
    assert w.slope_per_s == pytest.approx(np.polyfit(t[sel], y[sel], 1)[0], rel=1e-6)
    assert w.coverage == pytest.approx(1.0)


def test_gaps_and_nans_lower_coverage_and_late_samples_are_counted() -> None:
    fs = 4.0
    t = np.arange(0, 100, 1 / fs)
    y = np.ones_like(t)
    y[(t >= 40) & (t < 55)] = np.nan
    b = BinnedStream(hop_s=1.0, capacity_bins=120, nominal_rate_hz=fs)
    b.add(t, y)
    w = b.window(59, 30)  # 30..59 s, 15 s of it NaN
    assert w.coverage == pytest.approx(0.5)
    small = BinnedStream(hop_s=1.0, capacity_bins=30, nominal_rate_hz=fs)
    small.add(t, y)  # one block longer than the ring: its oldest bins are dropped, counted
    before = small.late
    assert before == np.isfinite(y[t < 70]).sum()
    small.add([10.0], [1.0])  # far behind the ring
    assert small.late == before + 1
    assert small.window(59, 30).n == 0  # left the ring: empty, not wrong


def test_channels_equal_separate_streams_and_miss_values_alone() -> None:
    rng = np.random.default_rng(1)
    fs = 8.0
    t = 50.0 + np.arange(0, 200, 1 / fs)
    y = np.stack((np.sin(t / 7), 3 + 0.02 * t, rng.normal(0, 1, t.size)), axis=1)
    y[(t > 90) & (t < 100), 1] = np.nan  # missing from the second channel only
    y[t.size // 2 :: 37, 0] = np.inf
    multi = BinnedStream(hop_s=1.0, capacity_bins=80, nominal_rate_hz=fs, channels=3)
    single = [BinnedStream(hop_s=1.0, capacity_bins=80, nominal_rate_hz=fs) for _ in range(3)]
    checked = 0
    for i in range(0, t.size, 8):  # 1-s blocks
        multi.add(t[i : i + 8], y[i : i + 8])
        for c, b in enumerate(single):
            b.add(t[i : i + 8], y[i : i + 8, c])
        end_bin = int(t[i]) - 1
        if end_bin in (120, 145, 248):
            checked += 1
            for w, b in zip(multi.windows(end_bin, 60), single, strict=True):
                ref = b.window(end_bin, 60)
                assert w.n == ref.n > 0
                assert w.mean == pytest.approx(ref.mean, rel=1e-12)
                assert w.std == pytest.approx(ref.std, rel=1e-9)
                assert w.slope_per_s == pytest.approx(ref.slope_per_s, rel=1e-9)
            if end_bin == 120:
                missing = int(np.isnan(y[(t >= 61) & (t < 121), 1]).sum())
                assert missing > 0
                assert multi.windows(end_bin, 60)[1].n == multi.windows(end_bin, 60)[2].n - missing
    assert checked == 3


def test_finite_blocks_sum_bit_for_bit_as_the_masked_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks without a NaN skip the masks: the same sums, bit for bit; a block with a NaN,
    or with samples behind the ring, takes the masked path (counted as before).
    """
    rng = np.random.default_rng(7)
    fs = 200.0
    t = 5000.3 + np.arange(0, 120, 1 / fs) + rng.normal(0, 1e-4, 24000)
    y = rng.normal(1000.0, 50.0, (t.size, 3))
    y[[2100, 2150, 7000], 1] = np.nan  # in two blocks
    t[9000] = np.nan  # a third

    def fill() -> tuple[np.ndarray, int, float]:
        b = BinnedStream(hop_s=1.0, capacity_bins=50, nominal_rate_hz=fs, channels=3)
        for lo in range(0, t.size, 800):  # 4-s blocks, five bins each
            b.add(t[lo : lo + 800], y[lo : lo + 800])
        b.add(t[:400], y[:400])  # far behind the ring: dropped and counted
        return b._bins.copy(), b.late, b.watermark

    taken: list[bool] = []
    finite = BinnedStream._add_finite

    def spy(self: BinnedStream, tt: np.ndarray, yy: np.ndarray) -> bool:
        taken.append(finite(self, tt, yy))
        return taken[-1]

    monkeypatch.setattr(BinnedStream, "_add_finite", spy)
    fast = fill()
    assert taken.count(True) == 26  # both paths were taken
    assert taken.count(False) == 4
    monkeypatch.setattr(BinnedStream, "_add_finite", lambda self, tt, yy: False)
    masked = fill()
    assert np.array_equal(fast[0], masked[0])  # bit for bit, not approximately
    assert fast[1:] == masked[1:]
    assert fast[1] == 400 * 3


def test_a_block_adds_the_same_floats_as_sample_by_sample_sums() -> None:
    # a block's sums are made a bin at a time; they must be the very numbers the samples give
    # added one after the other (np.add.at), whatever the block boundaries: no rounding differs
    rng = np.random.default_rng(7)
    for fs, hop, channels, block in ((200.0, 1.0, 3, 1601), (130.0, 5.0, 1, 999), (4.0, 1.0, 3, 7)):
        t = 100.3 + np.arange(0, 90, 1 / fs)
        t[::5] += rng.normal(0, 0.2 / fs, t[::5].size)
        t.sort()
        y = rng.normal(0, 1, (t.size, channels)) * 10.0 ** rng.integers(-6, 6, (t.size, 1))
        b = BinnedStream(hop_s=hop, capacity_bins=40, nominal_rate_hz=fs, channels=channels)
        for i in range(0, t.size, block):
            b.add(t[i : i + block], y[i : i + block])
        # the same sums sample by sample, in arrival order, into the bins the ring holds
        assert b.t_ref is not None
        ref = np.zeros_like(b._bins)
        k = np.floor(t / hop).astype(np.int64)
        keep = k > k.max() - 40
        tr = (t - b.t_ref)[:, None]
        rows = np.stack(
            (np.ones_like(y), np.broadcast_to(tr, y.shape), np.broadcast_to(tr * tr, y.shape),
             y, y * y, tr * y),
            axis=2,
        )  # fmt: skip
        np.add.at(ref, k[keep] % 40, rows[keep])
        np.testing.assert_array_equal(b._bins, ref)
