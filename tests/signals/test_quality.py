"""Signal-quality indices: EDA artifact rules and accelerometer activity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from wearsdk import ConfigError
from wearsdk.signals import acc_activity, eda_quality

FloatArray = npt.NDArray[np.float64]


def eda_window(fs: float = 4.0, seconds: float = 60.0, seed: int = 0) -> FloatArray:
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fs)
    x = 2.0 + 0.002 * t + 0.3 * np.exp(-(((t - 20) / 3) ** 2)) + rng.normal(0, 0.003, t.size)
    return np.asarray(x, dtype=np.float64)


def test_clean_window_is_perfect() -> None:
    q = eda_quality(eda_window(), sampling_rate_hz=4.0)
    assert q["quality"] == 1.0
    assert q["flags"] == ()
    for k in ("nan", "out_of_range", "flat", "clipping", "jump"):
        assert q[f"{k}_fraction"] == 0.0  # type: ignore[literal-required]


def test_each_artifact_kind() -> None:
    fs = 4.0
    x = eda_window(fs)
    x[10:22] = np.nan  # 12 NaN
    x[30:36] = 0.0  # 6 out of range (lost contact)
    x[100:160] = x[100]  # 15 s flat
    x[200:224] = x[~np.isnan(x)].max() + 3.0  # 6 s clipped at the top, jumping in and out
    q = eda_quality(x, sampling_rate_hz=fs)
    n = x.size
    assert q["nan_fraction"] == pytest.approx(12 / n)
    assert q["out_of_range_fraction"] == pytest.approx(6 / n)
    assert q["flat_fraction"] == pytest.approx(60 / n)
    assert q["clipping_fraction"] == pytest.approx(24 / n)
    # the steps into and out of the plateau are faster than 10 µS/s (12 µS/s at 4 Hz); the
    # 2 µS drop to 0 µS is not (8 µS/s)
    assert q["jump_fraction"] == pytest.approx(4 / n)
    assert set(q["flags"]) == {"flat", "clipping"}  # above 5 % of the window
    bad = set(range(10, 22)) | set(range(30, 36)) | set(range(100, 160)) | set(range(199, 225))
    assert q["quality"] == pytest.approx(1 - len(bad) / n)
    strict = eda_quality(x, sampling_rate_hz=fs, flag_fraction=0.01)
    assert set(strict["flags"]) == {"nan", "flat", "clipping", "out_of_range", "jump"}
    wide = eda_quality(x, sampling_rate_hz=fs, margin_s=5.0)  # Kleckner et al.'s transition
    assert wide["quality"] < q["quality"]


def test_short_runs_and_constant_windows() -> None:
    fs = 4.0
    x = eda_window(fs)
    x[50:70] = x[50]  # 5 s: not yet a flat line (flat_s = 10 s)
    q = eda_quality(x, sampling_rate_hz=fs)
    assert q["flat_fraction"] == 0.0
    assert eda_quality(x, sampling_rate_hz=fs, flat_s=4.0)["flat_fraction"] == pytest.approx(
        20 / x.size
    )
    const = eda_quality(np.full(400, 3.0), sampling_rate_hz=fs)
    assert const["flat_fraction"] == 1.0
    assert const["clipping_fraction"] == 0.0  # flat, not clipped
    assert const["quality"] == 0.0
    assert "flat" in const["flags"]
    empty = eda_quality(np.empty(0), sampling_rate_hz=fs)
    assert empty["quality"] == 0.0
    assert empty["flags"] == ("empty",)


def test_eda_quality_bad_config() -> None:
    with pytest.raises(ConfigError):
        eda_quality(np.ones(10), sampling_rate_hz=0)
    with pytest.raises(ConfigError):
        eda_quality(np.ones(10), sampling_rate_hz=4, range_usiemens=(5.0, 1.0))
    with pytest.raises(ConfigError):
        eda_quality(np.ones(10), sampling_rate_hz=4, flat_s=0)


@pytest.mark.data
def test_real_e4_windows_are_valid(data_dir: Path) -> None:
    """Stress-Predict S01-S25 (E4, 4 Hz): no 60 s window is flagged and, apart from each
    recording's first sample (0 µS before skin contact), every sample is valid."""
    for k in range(1, 26):
        raw = np.loadtxt(data_dir / "stress_predict" / "Raw_data" / f"S{k:02d}" / "EDA.csv")
        x = raw[3:]
        n = x.size // 240
        for w in x[: n * 240].reshape(n, 240):
            q = eda_quality(w, sampling_rate_hz=float(raw[1]))
            assert q["flags"] == ()
            assert q["quality"] >= 0.97


# -- accelerometer ---------------------------------------------------------------------------
def rest_and_shake(fs: float = 32.0) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(1)
    t = np.arange(0, 30, 1 / fs)
    g = np.array([0.1, -0.2, 0.975])
    g = g / np.linalg.norm(g)
    rest = g + rng.normal(0, 0.005, (t.size, 3))
    shake = rest + np.outer(0.4 * np.sin(2 * np.pi * 2.0 * t), g)  # along gravity
    return rest, shake


def test_activity_at_rest_and_in_motion() -> None:
    rest, shake = rest_and_shake()
    r = acc_activity(rest, sampling_rate_hz=32.0, unit="g")
    assert r["acc_magnitude_mean_g"] == pytest.approx(1.0, abs=0.01)
    assert r["acc_magnitude_sd_g"] < 0.01
    assert r["enmo_mean_g"] < 0.01
    assert not r["motion"]
    assert r["motion_fraction"] == 0.0
    s = acc_activity(shake, sampling_rate_hz=32.0, unit="g")
    assert s["motion"]
    assert s["motion_fraction"] == 1.0
    assert s["acc_magnitude_sd_g"] > 0.1
    assert s["enmo_mean_g"] > r["enmo_mean_g"]
    assert s["mad_g"] > r["mad_g"]
    half = np.concatenate((rest, shake))
    h = acc_activity(half, sampling_rate_hz=32.0, unit="g")
    assert h["motion_fraction"] == pytest.approx(0.5)


def test_units_are_converted() -> None:
    _, shake = rest_and_shake()
    ref = acc_activity(shake, sampling_rate_hz=32.0, unit="g")
    for unit, scale in (("mG", 1000.0), ("1/64g", 64.0)):
        got = acc_activity(shake * scale, sampling_rate_hz=32.0, unit=unit)  # type: ignore[arg-type]
        for k in ("acc_magnitude_mean_g", "acc_magnitude_sd_g", "enmo_mean_g", "mad_g"):
            assert got[k] == pytest.approx(ref[k])


def test_activity_bad_input() -> None:
    rest, _ = rest_and_shake()
    with pytest.raises(ConfigError):
        acc_activity(rest, sampling_rate_hz=32.0, unit="m/s2")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        acc_activity(rest[:, :2], sampling_rate_hz=32.0, unit="g")
    with pytest.raises(ConfigError):
        acc_activity(rest, sampling_rate_hz=0.0, unit="g")
    with_nan = rest.copy()
    with_nan[5, 1] = np.nan
    assert acc_activity(with_nan, sampling_rate_hz=32.0, unit="g")["n_samples"] == rest.shape[0] - 1
    empty = acc_activity(np.empty((0, 3)), sampling_rate_hz=32.0, unit="g")
    assert empty["n_samples"] == 0
    assert not empty["motion"]
    assert np.isnan(empty["acc_magnitude_sd_g"])


@pytest.mark.data
def test_real_e4_accelerometer(data_dir: Path) -> None:
    """Stress-Predict S05 (seated protocol, E4 ACC at 32 Hz in 1/64 g): the magnitude is
    1 g within 3 % and fewer than 20 % of 60 s windows show motion at the default 0.1 g."""
    raw = np.loadtxt(data_dir / "stress_predict" / "Raw_data" / "S05" / "ACC.csv", delimiter=",")
    fs, acc = float(raw[1, 0]), raw[2:]
    w = round(60 * fs)
    res = [
        acc_activity(acc[i : i + w], sampling_rate_hz=fs, unit="1/64g")
        for i in range(0, acc.shape[0] - w + 1, w)
    ]
    assert len(res) > 40
    assert np.median([r["acc_magnitude_mean_g"] for r in res]) == pytest.approx(1.0, abs=0.03)
    assert np.mean([r["motion"] for r in res]) < 0.2
