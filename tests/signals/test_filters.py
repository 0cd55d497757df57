import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from wearsdk import ConfigError
from wearsdk.signals import SosFilter, butter_sos, filter_causal


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(1, 300), min_size=1, max_size=20), channels=st.integers(1, 3))
def test_blocks_equal_one_pass(cuts: list[int], channels: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, channels)).cumsum(axis=0)
    sos = butter_sos("bandpass", (0.5, 20), sampling_rate_hz=130)
    whole = filter_causal(x, sos)
    f = SosFilter(sos)
    edges = np.unique(np.clip(np.cumsum(cuts), 0, 1000))
    parts = [f.step(x[a:b]) for a, b in zip(np.r_[0, edges], np.r_[edges, 1000], strict=False)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-9)


def test_matches_scipy_and_starts_without_transient() -> None:
    x = np.full(500, 7.0) + np.sin(np.arange(500) / 10)
    sos = butter_sos("lowpass", 3.0, sampling_rate_hz=100, order=4)
    zero = filter_causal(x, sos, initial="zero")
    np.testing.assert_allclose(zero, signal.sosfilt(sos, x), atol=1e-12)
    step = filter_causal(x, sos)
    assert abs(step[0] - 7.0) < 0.01  # steady state on the first sample
    assert abs(zero[0]) < 1.0


def test_bad_cutoffs() -> None:
    with pytest.raises(ConfigError):
        butter_sos("lowpass", 60, sampling_rate_hz=100)
    with pytest.raises(ConfigError):
        butter_sos("highpass", 0, sampling_rate_hz=100)
