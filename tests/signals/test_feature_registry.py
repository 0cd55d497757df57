"""The feature stage as providers with a typed registry of feature names.

Every value a window carries is registered; a provider naming an unregistered feature, or a model
file reading one, is refused with the names; a new feature is one registry entry and one
provider; the ECG's ectopic beats are counted per window.
"""

import csv
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from wearsdk import ConfigError
from wearsdk.affect import ArousalModelParams, load_arousal_params
from wearsdk.io.e4 import load_e4_session
from wearsdk.signals import (
    DEFAULT_PROVIDERS,
    FEATURE_REGISTRY,
    EcgPeakDetector,
    EcgPeaks,
    FeatureConfig,
    FeatureExtractor,
    FeatureProvider,
    FeatureRegistry,
    FeatureSpec,
    WindowFeatures,
    WindowOutput,
    register_feature,
)

Streams = dict[str, tuple[np.ndarray, np.ndarray, float | None]]


def feed(ex: FeatureExtractor, streams: Streams, block_s: float = 1.0) -> list[WindowFeatures]:
    """Every stream in blocks of ``block_s``, interleaved in time order, then flush."""
    t0 = min(float(t[0]) for t, _, _ in streams.values())
    end = max(float(t[-1]) for t, _, _ in streams.values())
    idx = dict.fromkeys(streams, 0)
    out: list[WindowFeatures] = []
    for k in range(math.ceil((end - t0) / block_s) + 1):
        for name, (t, v, rate) in streams.items():
            j = int(np.searchsorted(t, t0 + (k + 1) * block_s, side="left"))
            if j > idx[name]:
                ex.push(name, t[idx[name] : j], v[idx[name] : j], nominal_rate_hz=rate)
                idx[name] = j
        out += ex.ready()
    return out + ex.flush()


def e4_streams(data_dir: Path) -> Streams:
    s = load_e4_session(data_dir / "e4_session")
    out: Streams = {}
    for name, sig in s.signals.items():
        out[name] = (sig.t_unix - s.start_unix, sig.values, sig.rate_hz)
    if s.ibi is not None and len(s.ibi):
        out["rr"] = (s.ibi.t_unix - s.start_unix, s.ibi.ibi_s[:, None], None)
    return out


def polar_ecg(data_dir: Path, seconds: float = 240.0) -> tuple[np.ndarray, np.ndarray, float]:
    with open(data_dir / "polar_h10" / "polar_h10.csv") as f:
        rows = list(csv.DictReader(f))
    t = np.array([int(r["time_ns"]) for r in rows]) / 1e9
    t -= t[0]
    ecg = np.array([float(r["ecg"]) for r in rows])
    keep = t < seconds
    return t[keep], ecg[keep], 130.0


def test_every_provider_feature_is_registered_with_its_modality() -> None:
    ex = FeatureExtractor()
    assert [type(p) for p in ex.providers] == list(DEFAULT_PROVIDERS)
    seen: set[str] = set()
    for p in ex.providers:
        assert p.features, type(p).__name__
        for name in p.features:
            spec = FEATURE_REGISTRY[name]
            assert spec.name == name
            assert spec.modality in p.streams, (name, p.streams)
            assert spec.unit
            assert spec.description
            assert name not in seen  # one provider per feature
            seen.add(name)
    # and the registry holds nothing no provider computes
    assert set(FEATURE_REGISTRY) == seen
    assert ex.features == tuple(FEATURE_REGISTRY)


def test_windows_of_real_recordings_carry_registered_features_only(data_dir: Path) -> None:
    # an E4 export (eda, bvp, hr, temp, acc, rr) and a chest strap's ECG
    t, ecg, fs = polar_ecg(data_dir)
    strap: Streams = {"ecg": (t, ecg, fs)}
    for streams in (e4_streams(data_dir), strap):
        wins = feed(FeatureExtractor(FeatureConfig(window_s=60.0, hop_s=5.0)), streams)
        assert len(wins) > 20
        keys = set().union(*(w.values for w in wins))
        assert keys <= set(FEATURE_REGISTRY), keys - set(FEATURE_REGISTRY)
        # and what each window carries is what its streams' providers write
        mods = {FEATURE_REGISTRY[k].modality for k in keys}
        assert mods <= {*streams, "rr"}  # the ECG's beats are the rr stream


def test_ecg_ectopic_count_is_the_detectors_ectopic_beats_in_the_window(data_dir: Path) -> None:
    t, ecg, fs = polar_ecg(data_dir)
    wins = feed(FeatureExtractor(FeatureConfig(window_s=60.0, hop_s=5.0)), {"ecg": (t, ecg, fs)})
    det = EcgPeakDetector(sampling_rate_hz=fs)
    peaks = EcgPeaks.concat([det.step(ecg, t), det.flush()])
    ectopic_t = peaks.t[peaks.ectopic]
    assert ectopic_t.size > 5  # this strap recording has premature beats
    counted = [w for w in wins if math.isfinite(w.values["ecg_ectopic_count"])]
    assert len(counted) > 20
    for w in counted:
        expected = np.count_nonzero((ectopic_t > w.start) & (ectopic_t <= w.end))
        assert w.values["ecg_ectopic_count"] == expected, (w.start, w.end)
    assert max(w.values["ecg_ectopic_count"] for w in counted) > 0
    # the fraction the flag rests on counts the same beats
    w = max(counted, key=lambda w: w.values["ecg_ectopic_count"])
    assert w.quality["ecg_ectopic_fraction"] > 0
    assert ("frequent_ectopy" in w.flags) == (w.quality["ecg_ectopic_fraction"] > 0.1)


def test_a_device_rr_gives_no_ectopic_count() -> None:
    beat_t = np.cumsum(np.full(150, 0.8))
    wins = feed(
        FeatureExtractor(FeatureConfig(window_s=30.0, hop_s=5.0)),
        {"rr": (beat_t, np.full(150, 0.8), None)},
    )
    assert wins
    assert all("ecg_ectopic_count" not in w.values for w in wins)
    assert all("ecg_ectopic_fraction" not in w.quality for w in wins)


class HrReserve(FeatureProvider):
    """A feature derived from another provider's, in the same window (no data of its own)."""

    features: ClassVar[tuple[str, ...]] = ("test_hr_over_100_bpm",)

    def window(self, w: WindowOutput) -> None:
        hr = w.values.get("hr_mean_bpm", math.nan)
        w.values["test_hr_over_100_bpm"] = hr - 100.0


class StepCount(FeatureProvider):
    """A provider with a stream of its own (``steps``, one sample per step)."""

    streams: ClassVar[tuple[str, ...]] = ("steps",)
    features: ClassVar[tuple[str, ...]] = ("test_step_rate_per_min",)

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        self.host.binned("steps", None).add(t, values[:, 0])

    def window(self, w: WindowOutput) -> None:
        s = self.host.binned("steps", None).window(w.end_bin, w.n_bins)
        w.values["test_step_rate_per_min"] = 60.0 * s.n / self.config.window_s


def test_a_new_feature_is_one_registry_entry_and_one_provider() -> None:
    with pytest.raises(ConfigError, match="test_hr_over_100_bpm"):
        FeatureExtractor(providers=(*DEFAULT_PROVIDERS, HrReserve))
    registry = FeatureRegistry(FEATURE_REGISTRY.values())
    n = len(FEATURE_REGISTRY)
    try:
        register_feature(FeatureSpec("test_hr_over_100_bpm", "bpm", "rr", "HR above 100 bpm"))
        register_feature(FeatureSpec("test_step_rate_per_min", "1/min", "steps", "step rate"))
        ex = FeatureExtractor(
            FeatureConfig(window_s=30.0, hop_s=5.0),
            providers=(*DEFAULT_PROVIDERS, HrReserve, StepCount),
        )
        assert ex.features[-2:] == ("test_hr_over_100_bpm", "test_step_rate_per_min")
        beat_t = np.cumsum(np.full(200, 0.5))  # 120 bpm
        step_t = np.arange(0.0, 100.0, 0.5)  # 2 steps per second
        wins = feed(
            ex, {"rr": (beat_t, np.full(200, 0.5), None), "steps": (step_t, np.ones(200), None)}
        )
        full = [w for w in wins if "rr" in w.modalities and w.start >= 0 and w.end <= 95]
        assert full
        for w in full:
            assert w.values["test_hr_over_100_bpm"] == pytest.approx(20.0)
            assert w.values["test_step_rate_per_min"] == pytest.approx(120.0)
        # the steps stream holds windows back like any other
        assert max(w.end for w in wins) <= 105
    finally:
        FEATURE_REGISTRY._specs = dict(registry._specs)  # leave the registry as it was
    assert len(FEATURE_REGISTRY) == n


def test_registering_a_name_twice_with_another_meaning_is_refused() -> None:
    spec = FEATURE_REGISTRY["hr_mean_bpm"]
    assert register_feature(spec) is spec  # the same entry again is harmless
    with pytest.raises(ConfigError, match="hr_mean_bpm"):
        register_feature(FeatureSpec("hr_mean_bpm", "Hz", "rr", "another meaning"))
    with pytest.raises(ConfigError, match="identifier"):
        FeatureRegistry([FeatureSpec("hr mean", "bpm", "rr", "a space")])


def test_the_shipped_model_reads_registered_features_only() -> None:
    params = load_arousal_params()
    read = {f for i in params.inputs for f in (*i.features, i.divide_by) if f}
    assert read
    assert FEATURE_REGISTRY.missing(read) == ()


def test_a_model_file_reading_an_unregistered_feature_is_refused_with_its_name() -> None:
    params = load_arousal_params()
    d = {
        "model_id": "test-model",
        "inputs": [
            {"name": "hr", "features": ["hr_device_mean_bpm", "hr_resting_delta_bpm"],
             "modality": "hr"},
            {"name": "scl", "features": ["scl_mean_usiemens"], "modality": "eda",
             "divide_by": "scl_typo_usiemens"},
        ],
        "models": [{"name": "all", "requires": ["hr"], "inputs": ["hr", "scl"],
                    "intercept": 0.0, "coef": [1.0, 1.0]}],
    }  # fmt: skip
    with pytest.raises(ConfigError) as err:
        ArousalModelParams.from_dict(d)
    msg = str(err.value)
    assert "test-model" in msg
    assert "hr_resting_delta_bpm (input hr)" in msg
    assert "scl_typo_usiemens (input scl)" in msg
    assert "hr_device_mean_bpm" not in msg
    assert params.model_id  # the shipped file is unaffected


def test_the_features_stream_channels_are_the_registry_in_its_order() -> None:
    from wearsdk.io.lsl import FEATURE_CHANNELS

    assert [(c.label, c.unit) for c in FEATURE_CHANNELS] == [
        (s.name, s.unit) for s in FEATURE_REGISTRY.values()
    ]
    # the channel positions of recordings made before the registry existed are kept
    before = [
        "hr_mean_bpm",
        "rmssd_s",
        "sdnn_s",
        "pnn50",
        "lf_hf_ratio",
        "lf_nu",
        "rr_corrected_fraction",
        "hr_device_mean_bpm",
        "scl_mean_usiemens",
        "scl_slope_usiemens_per_min",
        "phasic_mean_usiemens",
        "scr_count",
        "scr_rate_per_min",
        "scr_amplitude_mean_usiemens",
        "acc_activity_g",
        "temp_mean_degc",
        "temp_slope_degc_per_min",
        "hr_device_slope_bpm_per_min",
        "acc_mean_g",
        "ppg_rate_bpm",
        "ppg_rate_p90_bpm",
        "ppg_rate_sd_bpm",
        "ppg_rmssd_ms",
        "ppg_amplitude_au",
        "ppg_resp_hz",
        "ppg_resp_fraction",
    ]
    assert [c.label for c in FEATURE_CHANNELS[: len(before)]] == before
