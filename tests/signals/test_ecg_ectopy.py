"""R peaks through ectopic beats on the QT Database development set (``qtdb_dev``), and the
beat classes given as they are found.

Runs (not skips) wherever the shared recordings exist. The loaders and scoring are the
benchmark's (``python -m benchmarks.ecg_accuracy --qtdb-only``), so the test and the printed
table agree. The targets checked are the detection ones the detector meets; the RR timing
target (RR MAE <= 3 ms pooled) is not met yet and is only bounded here at today's level.
"""

import functools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmarks.ecg_accuracy import (
    BEAT_SYMBOLS,
    QTDB_RECORDS,
    Counts,
    load_qtdb,
    quiet_third_party,
    score_times,
    wearsdk_stream,
)
from wearsdk.signals import EcgPeaks

pytestmark = pytest.mark.data


@functools.cache
def scored(root: Path, name: str, fs: float) -> tuple[EcgPeaks, Counts, float, float]:
    rec = load_qtdb(root, name, fs)
    assert rec.ref_t is not None
    peaks = wearsdk_stream(rec)
    s, c = score_times(rec.ref_t, peaks.t, rec.fs, rec.ref_cls, peaks.ectopic)
    return peaks, c, s.se, s.ppv


@pytest.mark.parametrize("fs", [250.0, 130.0])
def test_qtdb_dev_sensitivity_and_ppv_pooled_and_per_record(data_dir: Path, fs: float) -> None:
    tp = fn = fp = 0
    rr: list[np.ndarray] = []
    nn: list[np.ndarray] = []
    for name in QTDB_RECORDS:
        _, c, se, ppv = scored(data_dir, name, fs)
        assert se >= 0.99, name
        assert ppv >= 0.99, name
        tp, fn, fp = tp + c.tp, fn + c.fn, fp + c.fp
        rr.append(c.rr_err_s)
        assert c.rr_pair is not None
        nn.append(c.rr_err_s[c.rr_pair == "NN"])
    assert tp / (tp + fn) >= 0.999
    assert tp / (tp + fp) >= 0.999
    # beat timing: the level reached (the 3 ms target is not: see benchmarks/README.md);
    # 4.70 / 4.76 ms pooled, 3.71 / 3.80 ms between two normal beats (250 / 130 Hz)
    assert np.mean(np.abs(np.concatenate(rr))) <= 0.0048
    assert np.mean(np.abs(np.concatenate(nn))) <= 0.0039


@pytest.mark.parametrize("fs", [250.0, 130.0])
def test_beat_classes_per_annotated_class(data_dir: Path, fs: float) -> None:
    # matched beats classed ectopic, pooled over qtdb_dev, per annotated class (the figures of
    # python -m benchmarks.ecg_accuracy --qtdb-only)
    flagged = {k: [0, 0] for k in "NVS"}
    for name in QTDB_RECORDS:
        _, c, _, _ = scored(data_dir, name, fs)
        for k, (f, n) in c.flagged.items():
            flagged[k][0] += f
            flagged[k][1] += n
    assert flagged["V"][1] >= 510  # matched beats annotated V (518) and S (716)
    assert flagged["S"][1] >= 710
    assert flagged["V"][0] / flagged["V"][1] >= 0.80  # 0.82 / 0.83 (0.75 / 0.77 before)
    assert flagged["S"][0] / flagged["S"][1] >= 0.84  # 0.87 / 0.85 (0.70 / 0.69 before)
    assert 1 - flagged["N"][0] / flagged["N"][1] >= 0.989  # 0.9938 / 0.9900 classed normal


def test_ventricular_beats_are_found_and_classed_ectopic(data_dir: Path) -> None:
    with quiet_third_party():
        import wfdb
        from wfdb.processing import compare_annotations

    # sel803: 74 wide PVCs of another shape and polarity among 952 normal beats
    rec = load_qtdb(data_dir, "sel803", 250.0)
    with quiet_third_party():
        ann = wfdb.rdann(str(data_dir / "qtdb_dev" / "sel803"), "atr")
    sym = np.array([c for c in ann.symbol if c in BEAT_SYMBOLS])
    peaks = wearsdk_stream(rec)
    assert rec.ref is not None
    with quiet_third_party():
        cmp = compare_annotations(rec.ref, peaks.index, round(0.15 * rec.fs))
    m = np.asarray(cmp.matching_sample_nums)
    v = sym == "V"
    assert Counter(sym)["V"] == 74
    assert (m[v] >= 0).sum() >= 73  # before: 22 of 74
    found = m >= 0
    ectopic = peaks.ectopic[m[found]]
    assert ectopic[v[found]].mean() >= 0.95  # the PVCs are classed ectopic
    assert ectopic[~v[found]].mean() <= 0.02  # the normal beats are not
