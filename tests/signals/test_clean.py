"""Cleaned signals: the ECG cleaner and the cleaned signals the feature extractor keeps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from tests.io.lsl_helpers import ECG_HZ, EDA_HZ, Physio, synthetic_physio
from wearsdk import ConfigError
from wearsdk.signals import EcgCleaner, EdaProcessor, ecg_clean, eda_offline
from wearsdk.signals._features import (
    CleanSignal,
    FeatureConfig,
    FeatureExtractor,
    WindowFeatures,
)


def test_ecg_clean_removes_wander_keeps_the_qrs_band_and_is_split_invariant() -> None:
    fs = 250.0
    t = np.arange(int(60 * fs)) / fs
    wander = 800.0 * np.sin(2 * np.pi * 0.1 * t)  # baseline wander, uV
    qrs_band = 100.0 * np.sin(2 * np.pi * 10.0 * t)
    hum = 50.0 * np.sin(2 * np.pi * 100.0 * t)
    tail = slice(int(10 * fs), None)  # past the filter's start
    cleaner = EcgCleaner(sampling_rate_hz=fs)
    # the 10 Hz component passes (|H| within 2 %), shifted by the phase of the band-pass
    y = ecg_clean(qrs_band, sampling_rate_hz=fs)
    ref = y[tail] / 100.0
    phase = np.arctan2(np.dot(ref, np.cos(2 * np.pi * 10.0 * t[tail])),
                       np.dot(ref, np.sin(2 * np.pi * 10.0 * t[tail])))  # fmt: skip
    assert np.std(y[tail]) * np.sqrt(2) == pytest.approx(100.0, rel=0.02)
    # the group delay is the slope of that phase around 10 Hz (envelope delay of a QRS)
    sos = signal.butter(2, (0.5, 40.0), btype="bandpass", fs=fs, output="sos")
    f = np.array([9.99, 10.01])
    _w, h = signal.sosfreqz(sos, worN=f, fs=fs)
    slope = -np.diff(np.unwrap(np.angle(h)))[0] / (2 * np.pi * np.diff(f)[0])
    assert cleaner.group_delay_s(10.0) == pytest.approx(slope, rel=1e-3)
    assert 0.002 < cleaner.group_delay_s() < 0.02
    lag = -np.angle(signal.sosfreqz(sos, worN=[10.0], fs=fs)[1][0])  # the phase lag at 10 Hz
    assert lag > 0
    assert -phase == pytest.approx(lag, abs=0.02)  # y = sin(wt + phase): it lags
    for noise in (wander, hum):
        out = ecg_clean(noise, sampling_rate_hz=fs)[tail]
        assert np.std(out) < 0.2 * np.std(noise[tail])
    # blocks of any size give the offline result, bit for bit, NaNs included
    x = wander + qrs_band
    x[[0, 1, 700, 701, 5000]] = np.nan
    whole = ecg_clean(x, sampling_rate_hz=fs)
    parts = [cleaner.step(x[a:b]) for a, b in ((0, 1), (1, 333), (333, 701), (701, x.size))]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert np.flatnonzero(np.isnan(whole)).tolist() == [0, 1, 700, 701, 5000]


def test_ecg_cleaner_rejects_low_rates_and_2d_blocks() -> None:
    with pytest.raises(ConfigError):
        EcgCleaner(sampling_rate_hz=50.0)
    with pytest.raises(ConfigError):
        EcgCleaner(sampling_rate_hz=130.0).step(np.zeros((4, 2)))


def test_eda_delays_are_those_of_its_filters() -> None:
    eda = EdaProcessor(sampling_rate_hz=16.0)
    assert 0.05 < eda.clean_delay_s() < 0.5
    # the tonic lags by about 0.225 / tonic_cutoff_hz plus the cleaning
    assert eda.tonic_delay_s() == pytest.approx(0.225 / eda.tonic_cutoff_hz, rel=0.1)


def run_extractor(keep_clean: bool) -> tuple[list[WindowFeatures], list[CleanSignal], Physio]:
    p = synthetic_physio(120.0, seed=3)
    p.eda_us[100:110] = np.nan  # bridged samples: the cleaned stream keeps EdaProcessor's values
    ext = FeatureExtractor(FeatureConfig(window_s=20.0, hop_s=5.0), keep_clean=keep_clean)
    windows: list[WindowFeatures] = []
    clean: list[CleanSignal] = []
    for second in range(120):
        for stream, t, x, rate in (
            ("ecg", p.ecg_t, p.ecg_mv * 1000.0, ECG_HZ),
            ("eda", p.eda_t, p.eda_us, EDA_HZ),
        ):
            sel = (t >= second) & (t < second + 1)
            ext.push(stream, 1000.0 + t[sel], x[sel], nominal_rate_hz=rate)
            got = ext.take_clean()
            for c in got:
                assert c.source_stream == stream
                np.testing.assert_array_equal(c.t, 1000.0 + t[sel])  # the raw samples' times
            clean.extend(got)
        windows.extend(ext.ready())
    return windows, clean, p


def test_extractor_keeps_the_cleaned_signals_and_its_features_do_not_change() -> None:
    plain, none, _ = run_extractor(False)
    windows, clean, p = run_extractor(True)
    assert none == []
    assert len(windows) == len(plain) > 10
    for a, b in zip(windows, plain, strict=True):
        assert repr(a) == repr(b)  # NaNs compare equal in repr
    ecg = [c for c in clean if c.stream == "ecg_clean"]
    eda = [c for c in clean if c.stream == "eda_clean"]
    assert ecg[0].channels == ("ecg_clean",)
    assert eda[0].channels == ("eda_clean", "eda_tonic", "eda_phasic")
    got_ecg = np.concatenate([c.values[:, 0] for c in ecg])
    np.testing.assert_array_equal(got_ecg, ecg_clean(p.ecg_mv * 1000.0, sampling_rate_hz=ECG_HZ))
    ref = eda_offline(p.eda_us, sampling_rate_hz=EDA_HZ)
    got_eda = np.concatenate([c.values for c in eda])
    np.testing.assert_allclose(got_eda[:, 0], ref.clean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_eda[:, 1], ref.tonic, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_eda[:, 2], ref.phasic, rtol=0, atol=1e-12)
