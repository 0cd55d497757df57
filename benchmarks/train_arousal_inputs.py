"""Candidate inputs and regularisation for the arousal model, chosen nested, cross-dataset first.

Does another input, another L2 strength or clipped z-scores lift the cross-dataset AUC of
arousal-v4 (``python -m benchmarks.train_arousal``)? Each candidate is a single logistic
regression on personal-baseline z-scores (computed online by the runtime estimator, as the
training script does; a missing input counts as 0), original order only:

* **cross-dataset, nested**: for each direction (trained on Stress-Predict, scored on
  wearable-stress, and the reverse) the candidate is chosen by leave-one-person-out AUC on the
  *training* dataset alone (the selection rule, fixed before scoring: the highest pooled LOSO
  AUC, ties to the earlier candidate), then trained on all of it and scored on the other;
* every candidate's figures are printed too, to show how much (or little) the choice matters.

Candidates: arousal-v4's inputs; each with one added input that means the same whatever the
device (ln pulse amplitude, a vasoconstriction sign; the mean SCR amplitude over the SCL; the
pulse rate's spread; the device heart rate's slope); at C 0.01, 0.1 and 1; and v4's inputs
with z-scores clipped at +-2.

Feature tables come from the training script's cache (``~/.cache/wearsdk_arousal/v6``; run
``python -m benchmarks.train_arousal`` first to build it).

Usage: python -m benchmarks.train_arousal_inputs [--data DIR]
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import benchmarks.arousal_wearable as aw
import benchmarks.train_arousal as ta
from wearsdk.affect._model import ArousalEstimator, ArousalModelParams

FloatArray = npt.NDArray[np.float64]

EXTRA: list[dict[str, Any]] = [
    {
        "name": "ln_pulse_amplitude",
        "features": ["ppg_amplitude_au"],
        "transform": "log",
        "modality": "bvp",
        "group": "bvp",
        "min_std": 0.05,
    },
    {
        "name": "scr_amplitude_rel",
        "features": ["scr_amplitude_mean_usiemens"],
        "transform": "identity",
        "modality": "eda",
        "group": "eda_phasic",
        "min_std": 0.005,
        "divide_by": "scl_mean_usiemens",
    },
    {
        "name": "pulse_rate_sd",
        "features": ["ppg_rate_sd_bpm"],
        "transform": "identity",
        "modality": "bvp",
        "group": "bvp",
        "min_std": 1.0,
    },
    {
        "name": "hr_slope",
        "features": ["hr_device_slope_bpm_per_min"],
        "transform": "identity",
        "modality": "hr",
        "group": "hr",
        "min_std": 1.0,
    },
]
INPUTS = ta.INPUTS + EXTRA
NAMES = [str(i["name"]) for i in INPUTS]
C_GRID = (0.01, 0.1, 1.0)


@dataclass(frozen=True)
class Candidate:
    """Inputs, L2 strength and z-score clip of one single logistic model."""

    inputs: tuple[str, ...]
    c: float
    clip: float = np.inf

    def label(self) -> str:
        added = [n for n in self.inputs if n not in ta.NAMES]
        name = "v4" + "".join(f" +{n}" for n in added)
        clip = f", clip {self.clip:g}" if np.isfinite(self.clip) else ""
        return f"{name}, C {self.c:g}{clip}"


CANDIDATES = [
    Candidate(tuple(ta.NAMES) + extra, c)
    for extra, c in itertools.product([()] + [(str(e["name"]),) for e in EXTRA], C_GRID)
] + [Candidate(tuple(ta.NAMES), ta.C_REG, 2.0)]


@dataclass
class Person:
    """One person's usable windows: z-scores of every input (NaN missing) and labels."""

    name: str
    z: FloatArray
    y: FloatArray


def z_scores(windows: list[dict[str, Any]]) -> FloatArray:
    """Online baseline z-scores of :data:`INPUTS` (the runtime estimator's, as in training)."""
    m = {"name": "z", "requires": [], "inputs": NAMES, "intercept": 0.0, "threshold": 0.5}
    m["coef"] = [0.0] * len(NAMES)
    raw = {**ta.params_dict([m]), "inputs": INPUTS}
    est = ArousalEstimator(ArousalModelParams.from_dict(raw), stress_levels=False)
    rows = []
    for w in windows:
        ta.step(est, w)
        rows.append([est.last_z.get(n, np.nan) for n in NAMES])
    return np.array(rows, dtype=np.float64)


def person(key: str, lt: FloatArray, ly: FloatArray, load: Any) -> Person:
    """The original recording's usable windows of one session (from the cache when present)."""
    (table,) = ta.variant_tables(key, load, lt, ly, True, variants=("original",))
    keep = ta.usable(table)
    return Person(key, z_scores(table.windows)[keep], (table.frac[keep] >= 0.5).astype(float))


def load(data: Path) -> tuple[list[Person], list[Person]]:
    """Stress-Predict S02-S25 and the labelled wearable-stress sessions."""
    labels = pd.read_csv(
        data / "stress_predict" / "Processed_data" / "Improved_All_Combined_hr_rsp_binary.csv"
    )
    sp = []
    for s in ta.SUBJECTS:
        lab = labels[labels["Participant"] == int(s[1:])].sort_values("Time(sec)")
        lt = lab["Time(sec)"].to_numpy(np.float64)
        ly = lab["Label"].to_numpy(np.float64)
        folder = data / "stress_predict" / "Raw_data" / s
        sp.append(person(s, lt, ly, lambda f=folder: ta.load_streams(f)))
    ws = []
    for name in aw.stress_sessions(data):
        folder = data / "wearable_stress" / "STRESS" / name
        streams, start, end, tags = aw.session_streams(folder, drop_pulse=name in aw.NO_PULSE)
        labelled = aw.second_labels(tags, start, end, aw.protocol(name))
        if labelled is None:
            continue
        ws.append(person(f"ws_{name}", *labelled, lambda s=streams, a=start, b=end: (s, a, b)))
    return sp, ws


def design(people: list[Person], cand: Candidate) -> tuple[FloatArray, FloatArray]:
    cols = [NAMES.index(n) for n in cand.inputs]
    x = np.nan_to_num(np.concatenate([p.z[:, cols] for p in people]), nan=0.0)
    return np.clip(x, -cand.clip, cand.clip), np.concatenate([p.y for p in people])


def fit(people: list[Person], cand: Candidate) -> LogisticRegression:
    return LogisticRegression(C=cand.c, max_iter=2000).fit(*design(people, cand))


def auc(model: LogisticRegression, people: list[Person], cand: Candidate) -> float:
    x, y = design(people, cand)
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1]))


def loso(people: list[Person], cand: Candidate) -> float:
    """Pooled leave-one-person-out AUC within ``people``."""
    ps, ys = [], []
    for k, p in enumerate(people):
        model = fit(people[:k] + people[k + 1 :], cand)
        x, y = design([p], cand)
        ps.append(model.predict_proba(x)[:, 1])
        ys.append(y)
    return float(roc_auc_score(np.concatenate(ys), np.concatenate(ps)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ta.default_data_dir())
    args = ap.parse_args()
    sp, ws = load(args.data)
    for train, test, label in (
        (sp, ws, "Stress-Predict -> wearable-stress"),
        (ws, sp, "wearable-stress -> Stress-Predict"),
    ):
        print(f"\n== {label}: LOSO on the training set (selects), then cross-dataset AUC")
        inner = []
        for cand in CANDIDATES:
            a_in = loso(train, cand)
            a_out = auc(fit(train, cand), test, cand)
            inner.append(a_in)
            print(f"{cand.label():<42} LOSO {a_in:.3f}   cross-dataset {a_out:.3f}", flush=True)
        best = CANDIDATES[int(np.argmax(inner))]
        a_best = auc(fit(train, best), test, best)
        print(f"selected on the training set: {best.label()}; cross-dataset AUC {a_best:.3f}")


if __name__ == "__main__":
    main()
