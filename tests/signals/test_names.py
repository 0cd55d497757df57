"""Offline function names: a name neurokit2 also uses means neurokit2's call and result shape;
the others have names of their own, the former ones kept one release with a warning.
"""

import pickle
import warnings

import numpy as np
import pytest

import wearsdk.signals as ws
from wearsdk import ConfigError
from wearsdk.signals._deprecated import RENAMED

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # neurokit2's own imports warn
    import neurokit2 as nk

RNG = np.random.default_rng(0)
ECG = np.cumsum(RNG.normal(size=1300))  # 10 s at 130 Hz
EDA = 2.0 + 0.01 * np.cumsum(RNG.normal(size=160)) ** 2  # 10 s at 16 Hz
PPG = np.sin(2 * np.pi * 1.2 * np.arange(640) / 64.0)  # 10 s at 64 Hz
CLEANERS = [("ecg_clean", ECG, 130.0), ("eda_clean", EDA, 16.0), ("ppg_clean", PPG, 64.0)]


def test_the_names_shared_with_neurokit2_are_the_cleaners_only() -> None:
    shared = set(ws.__all__) & {n for n in dir(nk) if not n.startswith("_")}
    assert shared == {"ecg_clean", "eda_clean", "ppg_clean"}
    for old, new in RENAMED.items():
        assert old not in ws.__all__
        assert new in ws.__all__
        assert not hasattr(nk, new), new  # the new names do not invite the comparison


@pytest.mark.parametrize(("name", "x", "fs"), CLEANERS)
def test_a_cleaner_takes_neurokit2s_call_and_gives_its_result_shape(
    name: str, x: np.ndarray, fs: float
) -> None:
    ours = getattr(ws, name)
    theirs = getattr(nk, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = theirs(x, sampling_rate=int(fs))
    by_keyword = ours(x, sampling_rate=fs)
    assert isinstance(by_keyword, np.ndarray)
    assert by_keyword.shape == np.asarray(ref).shape == x.shape
    # positional as neurokit2 allows, and the processors' keyword: the same values
    np.testing.assert_array_equal(ours(x, fs), by_keyword)
    np.testing.assert_array_equal(ours(x, sampling_rate_hz=fs), by_keyword)
    np.testing.assert_array_equal(ours(x, fs, sampling_rate_hz=fs), by_keyword)


@pytest.mark.parametrize(("name", "x", "fs"), CLEANERS)
def test_a_cleaner_has_no_default_rate_and_refuses_two_that_disagree(
    name: str, x: np.ndarray, fs: float
) -> None:
    ours = getattr(ws, name)
    with pytest.raises(ConfigError, match="sampling rate is required"):
        ours(x)
    with pytest.raises(ConfigError, match="disagree"):
        ours(x, sampling_rate=fs, sampling_rate_hz=2 * fs)


def test_former_names_warn_and_give_the_new_functions_results() -> None:
    rr = 0.8 + 0.05 * np.sin(np.arange(60) / 3)
    cases = {
        "ecg_peaks": ((ECG,), {"sampling_rate_hz": 130.0}),
        "ppg_peaks": ((PPG,), {"sampling_rate_hz": 64.0}),
        "eda_phasic": ((EDA,), {"sampling_rate_hz": 16.0}),
        "eda_peaks": ((EDA,), {"sampling_rate_hz": 16.0}),
        "eda_process": ((EDA,), {"sampling_rate_hz": 16.0}),
        "hrv_time": ((rr,), {}),
    }
    assert set(cases) == set(RENAMED)
    for old, (args, kwargs) in cases.items():
        new = getattr(ws, RENAMED[old])(*args, **kwargs)
        with pytest.warns(DeprecationWarning, match=rf"signals\.{old} .*use wearsdk\.signals\."):
            got = getattr(ws, old)(*args, **kwargs)
        assert pickle.dumps(got) == pickle.dumps(new), old  # arrays, tables, dicts alike
