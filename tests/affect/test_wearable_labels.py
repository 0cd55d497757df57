"""The tag-to-stage mapping of the wearable-stress sessions (benchmarks/arousal_wearable.py),
checked against the signals and the self-reports of the real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchmarks.arousal_wearable as aw
from wearsdk.io.e4 import load_e4_session

pytestmark = [pytest.mark.data, pytest.mark.timeout(120)]


def test_every_session_has_its_protocols_tags_or_is_named_as_left_out(data_dir: Path) -> None:
    names = aw.stress_sessions(data_dir)
    assert len(names) == 35  # 37 folders, S02 and f14_a left out
    for name in names:
        s = load_e4_session(data_dir / "wearable_stress" / "STRESS" / name)
        labels = aw.second_labels(s.tags_unix_s, s.start_unix, s.end_unix, aw.protocol(name))
        assert labels is not None, name
        _, ly = labels
        assert set(np.unique(ly)) == {aw.UNLABELLED, 0.0, 1.0}
        # a stress task and a rest of at least 3 minutes each in every session
        assert (ly == 1).sum() >= 180, name
        assert (ly == 0).sum() >= 180, name


def label_at(t: np.ndarray, lt: np.ndarray, ly: np.ndarray) -> np.ndarray:
    """The label of the second each time falls in (-1 outside the labelled span)."""
    i = np.searchsorted(lt - 0.5, t, side="right") - 1
    inside = (i >= 0) & (i < lt.size)
    return np.where(inside, ly[np.clip(i, 0, lt.size - 1)], aw.UNLABELLED)


def test_heart_rate_and_eda_fall_in_the_rests_and_rise_in_the_tasks(data_dir: Path) -> None:
    """Within each session: the heart rate is higher in the task segments than in the rests,
    and the skin conductance falls across a rest (most people, not all: some barely respond)."""
    hr_higher, eda_falls, n = 0, 0, 0
    for name in aw.stress_sessions(data_dir):
        if name in aw.NO_PULSE:
            continue
        s = load_e4_session(data_dir / "wearable_stress" / "STRESS" / name)
        labels = aw.second_labels(s.tags_unix_s, s.start_unix, s.end_unix, aw.protocol(name))
        assert labels is not None
        lt, ly = labels
        hr = s.signals["hr"]
        lab = label_at(hr.t_unix, lt, ly)
        v = hr.values[:, 0]
        hr_higher += v[lab == 1].mean() > v[lab == 0].mean()
        eda = s.signals["eda"]
        le = label_at(eda.t_unix, lt, ly)
        rest = np.flatnonzero(le == 0)
        # the first rest of over a minute: EDA at its end below EDA at its start
        runs = np.split(rest, np.flatnonzero(np.diff(rest) > 1) + 1)
        first = next(r for r in runs if r.size > 240 and r[0] > 0 and le[r[0] - 1] == 1)
        x = eda.values[first, 0]
        eda_falls += x[-20:].mean() < x[:20].mean()
        n += 1
    assert n == 34
    assert hr_higher >= 0.8 * n
    assert eda_falls >= 0.7 * n


def test_self_reports_are_higher_in_the_stages_labelled_stress(data_dir: Path) -> None:
    root = data_dir / "wearable_stress"
    stress = {
        "v1": ["Stroop", "TMCT", "Real Opinion", "Opposite Opinion", "Subtract"],
        "v2": ["TMCT", "Real Opinion", "Opposite Opinion"],
    }
    rest = {"v1": ["Baseline", "First Rest", "Second Rest"], "v2": ["First Rest", "Second Rest"]}
    for proto in ("v1", "v2"):
        d = pd.read_csv(root / f"Stress_Level_{proto}.csv", index_col=0)
        diff = d[stress[proto]].mean(axis=1) - d[rest[proto]].mean(axis=1)
        assert diff.mean() > 0.5, proto
        assert (diff > 0).mean() >= 0.6, proto
