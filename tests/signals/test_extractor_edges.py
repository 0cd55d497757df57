"""FeatureExtractor at the edges of its input: the end of the data (flush) and a stream its
processors cannot work with (dropped, counted and flagged instead of raising)."""

from __future__ import annotations

import math

import numpy as np

from tests.io.lsl_helpers import ECG_HZ, EDA_HZ, synthetic_physio
from wearsdk.signals import FeatureConfig, FeatureExtractor, WindowFeatures

SPAN = 150.0


def feed(ex: FeatureExtractor, *, ecg_rate: float = ECG_HZ) -> list[WindowFeatures]:
    p = synthetic_physio(SPAN)
    ecg_t, ecg = p.ecg_t, p.ecg_mv
    if ecg_rate != ECG_HZ:
        keep = np.arange(0, ecg_t.size, round(ECG_HZ / ecg_rate))
        ecg_t, ecg = ecg_t[keep], ecg[keep]
    windows: list[WindowFeatures] = []
    for k in range(int(SPAN)):
        for name, t, x, rate in (("ecg", ecg_t, ecg, ecg_rate), ("eda", p.eda_t, p.eda_us, EDA_HZ)):
            sel = (t >= k) & (t < k + 1)
            ex.push(name, t[sel], x[sel], nominal_rate_hz=rate)
        windows += ex.ready()
    return windows


def test_flush_emits_the_windows_the_data_reaches_that_ready_holds_back() -> None:
    ex = FeatureExtractor(FeatureConfig(window_s=20.0, hop_s=1.0, min_coverage=0.6))
    held = feed(ex)
    ends = [w.end for w in held]
    assert ends[-1] < SPAN - 1.0  # the R peaks and beat classes wait for what comes next
    rest = ex.flush()
    assert rest  # before flush: the last windows are held back
    all_ends = ends + [w.end for w in rest]
    assert np.allclose(np.diff(all_ends), 1.0)  # consecutive, none twice
    assert all_ends[-1] == math.floor(SPAN - 1.0 / ECG_HZ)  # up to the last data
    for w in rest:
        assert math.isfinite(w.values["hr_mean_bpm"])
        assert "low_coverage_rr" not in w.flags
    assert ex.flush() == []  # nothing twice


def test_an_ecg_below_100_hz_is_dropped_counted_and_flagged_not_raised() -> None:
    ex = FeatureExtractor(FeatureConfig(window_s=20.0, hop_s=1.0))
    windows = feed(ex, ecg_rate=16.25)
    assert list(ex.unusable) == ["ecg"]
    assert "at least 100 Hz" in ex.unusable["ecg"]
    assert ex.dropped >= 16 * (SPAN - 1)
    assert len(windows) >= SPAN - 25
    assert all("unusable_ecg" in w.flags for w in windows)
    assert all(math.isfinite(w.values["scl_mean_usiemens"]) for w in windows)
