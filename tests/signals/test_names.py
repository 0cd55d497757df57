"""Offline function names: a name neurokit2 also uses means neurokit2's call and result shape;
the others have names of their own, the former ones kept one release with a warning.
"""

import pickle
import warnings
from collections.abc import Callable

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


NEUROKIT2_CALLS = {
    "ecg_peaks": (ECG, 130),
    "ppg_peaks": (PPG, 64),
    "eda_phasic": (EDA, 16),
    "eda_peaks": (EDA, 16),
    "eda_process": (EDA, 16),
    "hrv_time": (np.array([100, 205, 312, 420, 531]), 130),  # peak sample indices
}
"""Each former name's input as neurokit2's function takes it, with its sampling rate."""


@pytest.mark.parametrize("old", sorted(NEUROKIT2_CALLS))
def test_a_former_name_refuses_neurokit2s_call_naming_the_new_function(old: str) -> None:
    """`ecg_peaks(x, sampling_rate=130)`, copied from neurokit2, was a bare TypeError about
    `sampling_rate_hz`; each form of neurokit2's call (keyword, positional, default rate, its
    options) is refused naming the function to use and what it returns, never answered with
    a result neurokit2's code would misread."""
    x, fs = NEUROKIT2_CALLS[old]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(nk, old)(x, sampling_rate=fs)  # the call is neurokit2's indeed
    ours = getattr(ws, old)
    calls: list[Callable[[], object]] = [lambda: ours(x, sampling_rate=fs), lambda: ours(x, fs)]
    if old == "hrv_time":
        calls.append(lambda: ours(x, show=False))
    else:  # neurokit2's default rate; one of its options with our keyword for the rate
        calls += [lambda: ours(x), lambda: ours(x, sampling_rate_hz=fs, method="neurokit")]
    for call in calls:
        with pytest.raises(TypeError, match=rf"^wearsdk\.signals\.{old} is not neurokit2's") as e:
            call()
        assert f"use wearsdk.signals.{RENAMED[old]}(" in str(e.value)
        assert "which returns" in str(e.value)
    if old == "hrv_time":  # sample indices where RR seconds go: wrong units, not numbers
        with pytest.raises(ConfigError, match=r"RR intervals in seconds; these reach 531"):
            ours(x)
        with pytest.raises(ConfigError, match=r"milliseconds"):
            ours([812.0, 790.0, 805.0])  # RR in ms
        with pytest.raises(TypeError, match=r"not a table or a dict"):
            ours({"ECG_R_Peaks": x})
