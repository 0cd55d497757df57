"""The median without numpy.ma: the same float as ``np.median``, bit for bit."""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wearsdk.signals._median import median


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or np.float64(a).tobytes() == np.float64(b).tobytes()


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40))
def test_the_median_is_numpys_bit_for_bit(values: list[float]) -> None:
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: both warn
        expected = float(np.median(values))
        assert same(median(values), expected)
        assert same(median(np.array(values)), expected)


@pytest.mark.parametrize(
    "values",
    [[-0.0], [-0.0, -0.0], [0.0, -0.0, -0.0], [1.0, 2.0], [3.0, 1.0, 2.0], [math.nan, 1.0]],
)
def test_signed_zeros_ties_and_nan_as_numpy(values: list[float]) -> None:
    assert same(median(values), float(np.median(values)))


def test_other_dtypes_and_shapes_are_numpys_own() -> None:
    f32 = np.array([0.1, 0.2], dtype=np.float32)
    assert median(f32) == float(np.median(f32))
    assert median([1, 2]) == 1.5
    grid = np.arange(6.0).reshape(2, 3)
    assert median(grid) == float(np.median(grid))


def test_ecg_peak_detection_does_not_load_numpy_ma() -> None:
    code = (
        "import sys, numpy as np\n"
        "from wearsdk.signals import EcgPeakDetector\n"
        "fs = 130.0\n"
        "t = np.arange(0, 30, 1 / fs)\n"
        "x = np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4) * 1000\n"
        "d = EcgPeakDetector(sampling_rate_hz=fs)\n"
        "peaks = d.step(x, t)\n"
        "assert len(peaks) + len(d.flush()) > 20\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
