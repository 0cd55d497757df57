"""The pipeline's filter design without scipy.signal: the same coefficients, the same output."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import ndimage, signal

from wearsdk.signals._eda_scr import _window_min
from wearsdk.signals._filters import SosFilter, butter_sos, group_delay_s
from wearsdk.signals._iir import sosfilt_kernel, sosfilt_zi

CASES = [
    (kind, order, fs, cut)
    for kind, cuts in (
        ("lowpass", ((0.05,), (0.5,), (1.0,), (5.0,), (40.0,))),
        ("highpass", ((0.05,), (0.5,), (5.0,))),
        ("bandpass", ((0.5, 40.0), (5.0, 15.0), (0.03, 0.9))),
        ("bandstop", ((0.5, 40.0), (45.0, 55.0))),
    )
    for order in range(1, 9)
    for fs in (4.0, 32.0, 130.0, 496.0, 1000.0)
    for cut in cuts
    if max(cut) < fs / 2
]


@pytest.mark.parametrize(("kind", "order", "fs", "cut"), CASES)
def test_butterworth_equals_scipy_bit_for_bit(
    kind: str, order: int, fs: float, cut: tuple[float, ...]
) -> None:
    ref = signal.butter(order, cut if len(cut) > 1 else cut[0], btype=kind, fs=fs, output="sos")
    sos = butter_sos(kind, cut if len(cut) > 1 else cut[0], sampling_rate_hz=fs, order=order)  # type: ignore[arg-type]
    assert np.array_equal(sos, ref)
    assert np.array_equal(sosfilt_zi(sos), signal.sosfilt_zi(ref))
    at = min(cut) / 2
    b, a = signal.sos2tf(ref)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        want = signal.group_delay((b, a), w=[at], fs=fs)[1][0] / fs
    if caught:  # scipy: near-singular there, its own figure unreliable
        return
    assert group_delay_s(sos, at, sampling_rate_hz=fs) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_filter_equals_scipy_sosfilt_across_blocks_and_channels() -> None:
    assert sosfilt_kernel is not None  # the compiled kernel loaded without scipy.signal
    rng = np.random.default_rng(1)
    sos = butter_sos("bandpass", (0.5, 40.0), sampling_rate_hz=130, order=3)
    x = rng.normal(size=(500, 3))
    before = x.copy()
    f = SosFilter(sos)
    y = np.concatenate([f.step(x[:100]), f.step(x[100:101]), f.step(x[101:])])
    ref, _ = signal.sosfilt(sos, x, axis=0, zi=signal.sosfilt_zi(sos)[:, :, None] * x[0])
    assert np.array_equal(y, ref)
    one = SosFilter(sos, initial="zero")
    assert np.array_equal(np.concatenate([one.step(x[:7, 0]), one.step(x[7:, 0])]),
                          signal.sosfilt(sos, x[:, 0]))  # fmt: skip
    assert np.array_equal(x, before)  # the input is not filtered in place


@pytest.mark.parametrize(
    ("n", "w"), [(n, w) for n in (1, 2, 5, 17, 100, 1001) for w in (1, 2, 3, 7, 16, 50) if w <= n]
)
def test_window_minimum_equals_scipy_ndimage(n: int, w: int) -> None:
    x = np.random.default_rng(n * 100 + w).normal(size=n)
    ref = ndimage.minimum_filter1d(x, w, mode="constant", cval=np.inf, origin=(w - 1) // 2)
    assert np.array_equal(_window_min(x, w), ref[w - 1 :])


def test_the_pipeline_does_not_import_scipy_signal_or_ndimage() -> None:
    code = """
import sys
import numpy as np
import wearsdk._run, wearsdk.cli
from wearsdk.signals import FeatureExtractor
ex = FeatureExtractor()
t = np.arange(0, 120, 1 / 130)
ex.push("ecg", t, 800 * np.sin(2 * np.pi * 1.2 * t) ** 31, nominal_rate_hz=130)
te = np.arange(0, 120, 1 / 32)
ex.push("eda", te, 5 + 0.01 * te, nominal_rate_hz=32)
ex.push("acc", t, np.zeros((t.size, 3)), nominal_rate_hz=130)
assert ex.ready(), "no window"
print(sorted(m for m in ("scipy.signal", "scipy.ndimage", "scipy.stats") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
