import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wearsdk import ConfigError
from wearsdk.signals._feat_ppg import PpgFeatures
from wearsdk.signals._features import FeatureConfig, FeatureExtractor
from wearsdk.signals._hrv import rr_artifacts
from wearsdk.signals._rr import rr_time_domain


def session(
    seconds: float = 300, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray, float | None]]:
    rng = np.random.default_rng(seed)
    rr = (
        0.8
        + 0.04 * np.sin(np.arange(int(seconds / 0.8)) / 3)
        + rng.normal(0, 0.01, int(seconds / 0.8))
    )
    beat_t = 100.0 + np.cumsum(rr)
    keep = beat_t < 100 + seconds
    t_acc = 100.0 + np.arange(0, seconds, 1 / 32)
    acc = np.stack([np.zeros_like(t_acc), np.zeros_like(t_acc), 1000 + 50 * np.sin(t_acc)], axis=1)
    t_temp = 100.0 + np.arange(0, seconds, 1 / 4)
    temp = 33.0 + 0.01 * (t_temp - 100)
    return {
        "rr": (beat_t[keep], rr[keep], None),
        "acc": (t_acc, acc, 32.0),
        "temp": (t_temp, temp, 4.0),
    }


def run(ex: FeatureExtractor, data, cuts: list[int] | None = None):  # type: ignore[no-untyped-def]
    out = []
    # interleave streams in 1-s chunks (or the given cut sizes in seconds)
    edges = np.cumsum(cuts) if cuts else np.arange(1, 400)
    lo = 100.0
    for e in [*edges, 10_000]:
        hi = 100.0 + float(e)
        for name, (t, v, rate) in data.items():
            sel = (t >= lo) & (t < hi)
            if sel.any():
                ex.push(name, t[sel], v[sel], nominal_rate_hz=rate)
        out += ex.ready()
        lo = hi
        if lo > 100 + 400:
            break
    return out


def test_features_match_direct_computation() -> None:
    data = session()
    wins = run(FeatureExtractor(FeatureConfig(window_s=60, hop_s=1)), data)
    assert len(wins) > 200
    w = wins[100]
    assert w.end - w.start == 60
    beat_t, rr, _ = data["rr"]
    sel = (beat_t > w.start) & (beat_t <= w.end)
    nn = rr_artifacts(rr).nn_s  # clean series: NN == RR
    assert nn.size == rr.size
    ref = rr_time_domain(rr[sel])
    assert w.values["hr_mean_bpm"] == pytest.approx(ref["hr_mean_bpm"])
    assert w.values["rmssd_s"] == pytest.approx(ref["rmssd_s"])
    _t_temp, _temp, _ = data["temp"]
    assert w.values["temp_slope_degc_per_min"] == pytest.approx(0.6, rel=1e-6)
    t_acc, acc, _ = data["acc"]
    s = (t_acc >= w.start) & (t_acc < w.end)
    assert w.values["acc_activity_g"] == pytest.approx(np.std(acc[s, 2] / 1000), rel=1e-6)
    assert w.quality["rr_coverage"] == pytest.approx(1.0, abs=0.02)
    assert set(w.modalities) == {"rr", "acc", "temp"}
    assert w.flags == ()


def test_a_gap_is_flagged_not_averaged() -> None:
    data = session()
    t, rr, rate = data["rr"]
    gap = (t > 200) & (t < 240)
    data["rr"] = (t[~gap], rr[~gap], rate)
    wins = run(FeatureExtractor(FeatureConfig(window_s=60, hop_s=1)), data)
    during = [w for w in wins if w.start <= 200 and w.end >= 240]  # two thirds missing
    assert during
    assert all("low_coverage_rr" in w.flags and np.isnan(w.values["hr_mean_bpm"]) for w in during)
    assert all("rr" not in w.modalities for w in during)


def test_a_silent_stream_stops_holding_windows_back() -> None:
    data = session()
    t, v, rate = data["temp"]
    data["temp"] = (t[t < 150], v[t < 150], rate)  # the thermometer dies at 150 s
    wins = run(FeatureExtractor(FeatureConfig(window_s=30, hop_s=1, stale_s=5)), data)
    assert wins[-1].end > 350
    assert "low_coverage_temp" in wins[-1].flags


def replay_order(ex: FeatureExtractor, data, block_s: float, first: str):  # type: ignore[no-untyped-def]
    """Blocks of ``block_s`` on one grid, ``first`` published before the others of each block
    (as a replay publishes what is due first), ``ready`` after every block; then flush."""
    out = []
    names = [first, *(n for n in data if n != first)]
    for k in range(int(400 / block_s) + 1):
        lo, hi = 100.0 + k * block_s, 100.0 + (k + 1) * block_s
        for name in names:
            t, v, rate = data[name]
            sel = (t >= lo) & (t < hi)
            if sel.any():
                ex.push(name, t[sel], v[sel], nominal_rate_hz=rate)
                out += ex.ready()
    return out + ex.flush()


def test_larger_blocks_and_their_order_do_not_make_a_stream_stale() -> None:
    # RR is ready up to its last classified beat (two beats behind its input): with 8 s
    # blocks, the ACC's next block comes in 10 s and more ahead of it, which is no silence
    data = session()
    config = FeatureConfig(window_s=30, hop_s=1)
    one_s = replay_order(FeatureExtractor(config), data, 1.0, "rr")
    for first in ("rr", "acc"):
        wins = replay_order(FeatureExtractor(config), data, 8.0, first)
        assert [w.end for w in wins] == [w.end for w in one_s]
        for w, ref in zip(wins, one_s, strict=True):
            assert w.flags == ref.flags
            for k, v in w.values.items():
                assert v == pytest.approx(ref.values[k], rel=1e-9, nan_ok=True), (w.end, k)


def test_a_stream_whose_processing_stalls_stops_holding_windows_back() -> None:
    # an ECG whose beats stop while its samples go on (the electrodes off: a flat line) holds
    # the windows back no longer than a silent stream would, although its input is current
    from tests.signals.test_ecg import synthetic_ecg

    ecg = synthetic_ecg(130.0, np.arange(0.5, 120, 0.8), 120.0, 0)
    t_ecg = 100.0 + np.arange(ecg.size) / 130.0
    ecg[t_ecg > 160.0] = 0.0
    data = {"ecg": (t_ecg, ecg, 130.0), "temp": session(120)["temp"]}
    wins = run(FeatureExtractor(FeatureConfig(window_s=30, hop_s=1, stale_s=5)), data)
    assert wins[0].end < 140
    assert "rr" in wins[0].modalities  # the beats were found
    assert wins[-1].end > 210  # no flush: what the windows' clock let out
    assert "low_coverage_rr" in wins[-1].flags


@settings(max_examples=6, deadline=None)
@given(cuts=st.lists(st.integers(1, 7), min_size=5, max_size=80))
def test_features_do_not_depend_on_block_boundaries(cuts: list[int]) -> None:
    data = session(120)
    a = run(FeatureExtractor(FeatureConfig(window_s=30, hop_s=1)), data)
    b = run(FeatureExtractor(FeatureConfig(window_s=30, hop_s=1)), data, cuts)
    ends_a = [w.end for w in a]
    common = [w for w in b if w.end in set(ends_a)]
    assert len(common) >= len(a) - 10
    lookup = {w.end: w for w in a}
    for w in common:
        for k, v in w.values.items():
            assert v == pytest.approx(lookup[w.end].values[k], rel=1e-9, nan_ok=True)


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        FeatureConfig(window_s=10, hop_s=3)


def test_eda_features_follow_the_processor(data_dir) -> None:  # type: ignore[no-untyped-def]
    from wearsdk.io.e4 import load_e4_session
    from wearsdk.signals._eda_offline import eda_offline

    s = load_e4_session(data_dir / "stress_predict" / "Raw_data" / "S02")
    eda = s.signals["eda"]
    n = int(eda.rate_hz * 900)  # 15 minutes
    t = eda.t_unix[:n] - eda.start_unix_s
    x = eda.values[:n, 0]
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=1))
    wins = []
    for i in range(0, n, 4):  # 1 s blocks, as the wristband streams
        ex.push("eda", t[i : i + 4], x[i : i + 4], nominal_rate_hz=eda.rate_hz)
        wins += ex.ready()
    assert len(wins) > 800
    offline = eda_offline(x, sampling_rate_hz=eda.rate_hz)
    w = wins[500]
    sel = (t >= w.start) & (t < w.end)
    assert w.values["scl_mean_usiemens"] == pytest.approx(offline.tonic[sel].mean(), rel=1e-9)
    peaks = offline.scrs.peak_s
    assert w.values["scr_count"] == np.count_nonzero((peaks > w.start) & (peaks <= w.end))
    assert "eda" in w.modalities
    assert w.quality["eda_coverage"] == pytest.approx(1.0, abs=0.01)


def test_ecg_gives_the_rr_stream_and_supersedes_device_rr(data_dir) -> None:  # type: ignore[no-untyped-def]
    import csv

    from wearsdk.signals._ecg_offline import ecg_peak_times

    with open(data_dir / "polar_h10" / "polar_h10.csv") as f:
        rows = list(csv.DictReader(f))
    t = np.array([int(r["time_ns"]) for r in rows[: 130 * 180]]) / 1e9
    t -= t[0]
    ecg = np.array([float(r["ecg"]) for r in rows[: 130 * 180]])
    fs = 1 / np.median(np.diff(t))
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=1))
    wins = []
    for i in range(0, t.size, 73):  # frames of 73 samples, as the H10 sends them
        ex.push("ecg", t[i : i + 73], ecg[i : i + 73], nominal_rate_hz=fs)
        ex.push("rr", [t[i]], [5.0])  # a nonsense device RR: must be ignored
        wins += ex.ready()
    assert len(wins) > 100
    w = wins[60]
    peaks = ecg_peak_times(ecg, sampling_rate_hz=fs)
    peak_t = np.interp(peaks * fs, np.arange(t.size), t)
    # the window's HR counts every beat (premature ones too) of the offline peaks in the window
    rr = np.diff(peak_t)
    sel = (peak_t[1:] > w.start) & (peak_t[1:] <= w.end)
    assert w.values["hr_mean_bpm"] == pytest.approx(60 / rr[sel].mean(), rel=0.01)
    # while HRV leaves out the intervals around the beats the detector classed ectopic
    # (this strap recording has bigeminy/trigeminy): RMSSD of NN is far below that of all RR
    assert w.values["rmssd_s"] < 0.5 * np.sqrt(np.mean(np.diff(rr[sel]) ** 2))
    assert 0.05 < w.quality["ecg_ectopic_fraction"] <= 1.0
    assert "rr" in w.modalities


def test_rr_beats_out_of_order_are_dropped_and_counted() -> None:
    data = session(120)
    t, rr, _ = data["rr"]
    ex = FeatureExtractor(FeatureConfig(window_s=30, hop_s=1))
    ex.push("rr", t[:50], rr[:50])
    ex.push("rr", [t[20], t[49], float("nan")], [0.8, 0.8, 0.8])  # behind, repeated, not finite
    assert ex.dropped == 3
    ex.push("rr", t[50:], rr[50:])
    wins = ex.ready()
    assert wins
    w = wins[-1]
    sel = (t > w.start) & (t <= w.end)
    assert w.values["hr_mean_bpm"] == pytest.approx(rr_time_domain(rr[sel])["hr_mean_bpm"])


@pytest.mark.parametrize("rate", [15.0, 99.0, float("nan"), float("inf")])
def test_an_ecg_below_the_supported_rate_is_dropped_and_counted_not_raised(rate: float) -> None:
    data = session(120)
    t, rr, _ = data["rr"]
    ex = FeatureExtractor(FeatureConfig(window_s=30, hop_s=1))
    ecg_t = np.arange(0.0, 120.0, 1 / 15.0)
    ex.push("ecg", ecg_t, np.sin(ecg_t), nominal_rate_hz=rate)  # e.g. a 15 Hz "ECG" in a file
    assert ex.dropped == ecg_t.size
    ex.push("rr", t, rr)  # the other streams go on
    wins = ex.ready()
    assert wins
    assert np.isfinite(wins[-1].values["hr_mean_bpm"])
    assert "ecg_ectopic_fraction" not in wins[-1].quality  # no ECG beats, no ECG quality


def e4_bvp(data_dir, seconds: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    path = data_dir / "stress_predict" / "Raw_data" / "S02" / "BVP.csv"
    return np.loadtxt(path, skiprows=2, max_rows=int(64 * seconds))


def push_blocks(ex: FeatureExtractor, t, x, rate, block: int):  # type: ignore[no-untyped-def]
    out = []
    for i in range(0, t.size, block):
        ex.push("bvp", t[i : i + block], x[i : i + block], nominal_rate_hz=rate)
        out += ex.ready()
    return out


def test_bvp_features_are_the_window_features_of_the_offline_beats(data_dir) -> None:  # type: ignore[no-untyped-def]
    from wearsdk.signals import PPG_FEATURES, ppg_beats, ppg_window_features

    x = e4_bvp(data_dir, 600)
    t = 50.0 + np.arange(x.size) / 64.0
    wins = push_blocks(FeatureExtractor(FeatureConfig(window_s=60, hop_s=1)), t, x, 64.0, 64)
    assert len(wins) > 500
    beats = ppg_beats(x, sampling_rate_hz=64.0)
    bt = beats.t + 50.0
    defined = 0
    for w in wins[::7]:
        assert w.quality["bvp_coverage"] == pytest.approx(1.0)
        sel = (bt >= w.start) & (bt < w.end)
        want, accepted = ppg_window_features(bt[sel], beats.amplitude[sel])
        assert w.quality["bvp_beats_accepted"] == pytest.approx(accepted, nan_ok=True)
        for k in PPG_FEATURES:
            assert w.values[k] == pytest.approx(want[k], rel=1e-6, nan_ok=True), k
        defined += np.isfinite(w.values["ppg_rate_bpm"])
        assert ("bvp" in w.modalities) == np.isfinite(w.values["ppg_amplitude_au"])
    assert defined > 60
    # and they do not depend on the block size
    other = push_blocks(FeatureExtractor(FeatureConfig(window_s=60, hop_s=1)), t, x, 64.0, 1000)
    assert [w.end for w in other] == [w.end for w in wins]
    for a, b in zip(wins, other, strict=True):
        assert a.values == pytest.approx(b.values, nan_ok=True)


def test_bvp_bad_input_is_counted_never_raised(data_dir) -> None:  # type: ignore[no-untyped-def]
    x = e4_bvp(data_dir, 200)
    t = np.arange(x.size) / 64.0
    # no nominal rate, or one too low for the band-pass: dropped and counted, no features
    for rate in (None, 0.0, 8.0, float("nan")):
        ex = FeatureExtractor(FeatureConfig(window_s=30, hop_s=1))
        ex.push("bvp", t[:640], x[:640], nominal_rate_hz=rate)
        assert ex.dropped == 640
        ex.push("hr", np.arange(40.0), np.full(40, 70.0), nominal_rate_hz=1.0)
        ready = ex.ready()
        assert ready  # windows are emitted (on the HR stream) ...
        assert all("ppg_rate_bpm" not in w.values for w in ready)  # ... without PPG features
    # NaNs, a 20 s gap, out-of-order and non-finite times, a flat stretch
    y = x.copy()
    y[64 * 40 : 64 * 45] = np.nan
    y[64 * 120 : 64 * 160] = 7.0
    keep = (t < 60) | (t >= 80)
    ex = FeatureExtractor(FeatureConfig(window_s=30, hop_s=1))
    wins = push_blocks(ex, t[keep], y[keep], 64.0, 64)
    ex.push("bvp", [t[100], float("nan")], [1.0, 1.0], nominal_rate_hz=64.0)
    assert ex.dropped == 2
    by_end = {w.end: w for w in wins}
    assert "low_coverage_bvp" in by_end[90.0].flags  # 20 of 30 s missing
    assert np.isnan(by_end[90.0].values["ppg_rate_bpm"])
    assert "bvp" not in by_end[90.0].modalities
    flat = by_end[160.0]  # 30 s of a flat line: no beats
    assert flat.quality["bvp_coverage"] == pytest.approx(1.0)
    assert all(np.isnan(v) for k, v in flat.values.items() if k.startswith("ppg_"))
    assert "bvp" not in flat.modalities
    assert np.isfinite(by_end[30.0].values["ppg_rate_bpm"])
    assert max(by_end) == 199.0  # the last second waits for its beats to be decided
    assert np.isfinite(by_end[199.0].values["ppg_amplitude_au"])
    assert sum("bvp" in w.modalities for w in wins) > 60


def test_bvp_beats_memory_is_bounded(data_dir) -> None:  # type: ignore[no-untyped-def]
    x = np.tile(e4_bvp(data_dir, 120), 10)
    t = np.arange(x.size) / 64.0
    ex = FeatureExtractor(FeatureConfig(window_s=30, hop_s=1))
    push_blocks(ex, t, x, 64.0, 64)
    (ppg,) = (p for p in ex.providers if isinstance(p, PpgFeatures))
    rows = ppg._beats
    assert rows._hi - rows._lo < 80  # about one window of beats
    assert rows._data.shape[0] < 400


def _feed(ex: FeatureExtractor, streams: dict, seconds: int) -> list:  # type: ignore[type-arg]
    """Feed streams of (t, values, rate) in 1 s blocks, in time order; collect the windows."""
    out = []
    for k in range(seconds + 12):
        for name, (t, v, rate) in streams.items():
            m = (t >= k) & (t < k + 1)
            if m.any():
                ex.push(name, t[m], v[m], nominal_rate_hz=rate)
        out.extend(ex.ready())
    return out


def test_implausible_heart_rate_is_missing_never_averaged() -> None:
    """A strap reading 0 bpm for minutes (lost contact) must not enter a window's heart rate."""
    t = np.arange(0.0, 600.0)
    hr = np.full(t.size, 70.0) + np.sin(t / 7)  # a live heart rate, never repeating exactly
    hr[200:500] = 0.0  # five minutes of 0 bpm
    hr[100] = 300.0  # one impossible spike
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    wins = {w.end: w for w in _feed(ex, {"hr": (t, hr, 1.0)}, 600)}
    assert ex.implausible["hr"] == 301
    spike = wins[130.0]
    assert "implausible_hr" in spike.flags
    assert spike.values["hr_device_mean_bpm"] == pytest.approx(
        np.mean(hr[70:130][hr[70:130] < 240])
    )
    assert spike.values["hr_device_mean_bpm"] < 72  # the 300 bpm sample was left out
    inside = wins[400.0]
    assert "implausible_hr" in inside.flags
    assert "low_coverage_hr" in inside.flags
    assert np.isnan(inside.values["hr_device_mean_bpm"])
    assert "hr" not in inside.modalities
    assert inside.quality["hr_implausible"] == pytest.approx(1.0)
    # a window half at 0 bpm averages only the live half (coverage 0.6 is the floor: NaN here)
    for w in wins.values():
        v = w.values["hr_device_mean_bpm"]
        assert np.isnan(v) or 65 < v < 75, (w.end, v)
    assert "implausible_hr" not in wins[60.0].flags
    assert wins[60.0].quality["hr_implausible"] == 0.0


def test_frozen_heart_rate_is_missing_after_hr_flat_s() -> None:
    t = np.arange(0.0, 600.0)
    hr = 70.0 + np.sin(t / 7)
    hr[100:400] = 64.0  # stuck for 300 s
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5, hr_flat_s=120))
    wins = {w.end: w for w in _feed(ex, {"hr": (t, hr, 1.0)}, 600)}
    assert ex.implausible["hr"] == 300 - 120
    assert "implausible_hr" not in wins[200.0].flags  # within the first 120 s: believed
    assert wins[200.0].values["hr_device_mean_bpm"] == pytest.approx(64.0)
    assert np.isnan(wins[350.0].values["hr_device_mean_bpm"])
    assert "implausible_hr" in wins[350.0].flags
    assert np.isfinite(wins[500.0].values["hr_device_mean_bpm"])


def test_implausible_rr_intervals_are_counted_and_flagged() -> None:
    beats = np.cumsum(np.full(400, 0.8))
    rr = np.full(400, 0.8)
    rr[150] = 0.1  # 600 bpm
    rr[151] = 3.0  # 20 bpm
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    wins = _feed(ex, {"rr": (beats, rr, None)}, 320)
    assert ex.implausible["rr"] == 2
    assert ex.dropped == 0
    flagged = [w for w in wins if "implausible_rr" in w.flags]
    assert flagged
    assert all(w.start < beats[151] and beats[150] <= w.end for w in flagged)
    hrs = [w.values["hr_mean_bpm"] for w in wins if np.isfinite(w.values["hr_mean_bpm"])]
    assert hrs
    assert max(hrs) == pytest.approx(75.0, abs=0.01)
    assert min(hrs) == pytest.approx(75.0, abs=0.01)


def test_out_of_range_and_flat_eda_is_missing_and_flagged() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 600.0, 0.25)
    eda = 2.0 + 0.2 * np.sin(t / 20) + rng.normal(0, 0.002, t.size)
    eda[(t >= 100) & (t < 200)] = 0.0  # no skin contact: below the sensor's range
    eda[(t >= 300) & (t < 400)] = 2.5  # a flat (clipped / frozen) line
    eda[(t >= 450) & (t < 460)] = 500.0  # above any skin conductance
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    wins = {w.end: w for w in _feed(ex, {"eda": (t, eda, 4.0)}, 600)}
    assert ex.implausible["eda"] >= 400 + 40 + (100 - 10) * 4 - 4
    for end in (180.0, 380.0):
        w = wins[end]
        assert "implausible_eda" in w.flags
        assert "eda_invalid" in w.flags
        assert np.isnan(w.values["scl_mean_usiemens"])
        assert "eda" not in w.modalities
    clean = wins[90.0]
    assert "implausible_eda" not in clean.flags
    assert 1.7 < clean.values["scl_mean_usiemens"] < 2.3
    spike = wins[470.0]
    assert "implausible_eda" in spike.flags
    assert spike.values["scl_mean_usiemens"] < 3.0  # the 500 µS samples never averaged in


def test_real_recording_with_implausible_stretches(data_dir) -> None:  # type: ignore[no-untyped-def]
    """A wearable-stress E4 session: implausible samples are counted, windows stay plausible."""
    from wearsdk.io.e4 import load_e4_session

    folder = data_dir / "wearable_stress" / "STRESS" / "S01"
    s = load_e4_session(folder)
    t0 = s.start_unix
    streams = {
        n: (s.signals[n].t_unix - t0, s.signals[n].values, s.signals[n].rate_hz)
        for n in ("hr", "eda")
    }
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))
    wins = _feed(ex, streams, 900)
    # the wristband reads 0 µS before it touches the skin: out of range, never a level
    assert ex.implausible["eda"] > 0
    assert wins
    for w in wins:
        scl = w.values.get("scl_mean_usiemens", np.nan)
        assert np.isnan(scl) or scl >= 0.01
        hr = w.values.get("hr_device_mean_bpm", np.nan)
        assert np.isnan(hr) or 25 <= hr <= 240
