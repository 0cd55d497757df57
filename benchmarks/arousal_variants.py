"""Variants of the arousal model, scored exactly like the shipped one.

Reproduces the third-round table of ``docs/estimates.md``: each variant changes the inputs, the
baseline's z clip or the L2 strength, or drops the pulse inputs of the windows flagged
``bvp_noisy``, and is scored with ``benchmarks.train_arousal``'s own functions (the cached
online-pipeline windows, the runtime estimator, leave-one-subject-out, the four replay orders).
The preferred sub-model (``all_bvp``, every sensor) is trained, and ``all`` (heart rate and
EDA), which scores the windows without pulse inputs, as the runtime would. Prints the pooled AUC per
replay order, the AUC on the more / less confident half of the windows (original order), and
the windows no sub-model scored (must be 0: an unscored window would drop
out of the AUC).

``--capacity`` scores more flexible models on the shipped inputs instead (the runtime estimator
is linear, so these are scored on its z-scores directly, leave-one-subject-out: the linear row
reproduces the shipped figures exactly): squared z-scores added to the logistic regression, and
gradient-boosted trees, trained on the original order of the training subjects (as shipped) or
on all four orders.

Usage: python -m benchmarks.arousal_variants [--data DIR] [--only NAME ...] [--capacity]
(about half a minute per variant once ``python -m benchmarks.train_arousal`` has cached the
feature tables)
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import benchmarks.train_arousal as ta
from wearsdk.signals import PPG_FEATURES

_I = "identity"
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "+ ln pulse amplitude": {"add": [("ln_pulse_amp", ["ppg_amplitude_au"], "log", 0.1)]},
    "+ pulse-rate SD": {"add": [("pulse_rate_sd", ["ppg_rate_sd_bpm"], _I, 0.5)]},
    "+ respiration rate from the pulse": {"add": [("resp_hz", ["ppg_resp_hz"], _I, 0.02)]},
    "z-scores clipped at 3": {"baseline": {"z_clip": 3.0}},
    "calibration 120 s (shipped 180 s)": {"baseline": {"calibration_s": 120.0}},
    "calibration 240 s": {"baseline": {"calibration_s": 240.0}},
    "calibration 300 s": {"baseline": {"calibration_s": 300.0}},
    "heart rate from the own pulse beats, not HR": {
        "features": {"hr": ["ppg_rate_bpm", "hr_device_mean_bpm"]}
    },
    "without the heart-rate slope": {"drop": ["hr_slope"]},
    "C = 0.01": {"C": 0.01},
    "C = 1": {"C": 1.0},
    "pulse inputs dropped in bvp_noisy windows": {"noisy_pulse": True},
}
"""Name -> changes: ``add`` (name, features, transform, spread floor) pulse inputs, ``drop``
input names, ``features`` the features an input reads (first finite wins), ``baseline``
settings, ``C`` the inverse L2 strength, ``noisy_pulse`` drops the pulse features of windows
flagged ``bvp_noisy`` (as missing: z = 0, no baseline update)."""

_BASE = ([dict(i) for i in ta.INPUTS], dict(ta.BASELINE), list(ta.SUBMODELS), ta.C_REG)


def _configure(change: dict[str, Any]) -> None:
    """Set ``train_arousal``'s module settings (its functions read them) for one variant."""
    inputs, baseline, submodels, c_reg = _BASE
    drop = set(change.get("drop", ()))
    added = [
        {"name": n, "features": f, "transform": tr, "modality": "bvp", "group": "bvp",
         "min_std": floor}
        for n, f, tr, floor in change.get("add", ())
    ]  # fmt: skip
    ta.INPUTS[:] = [dict(i) for i in inputs if i["name"] not in drop] + added
    for i in ta.INPUTS:
        i["features"] = change.get("features", {}).get(i["name"], i["features"])
    ta.NAMES[:] = [i["name"] for i in ta.INPUTS]
    ta.GROUP.clear()
    ta.GROUP.update({i["name"]: i["group"] for i in ta.INPUTS})
    ta.BASELINE.clear()
    ta.BASELINE.update({**baseline, **change.get("baseline", {})})
    ta.SUBMODELS[:] = submodels[:2]  # all_bvp; all, for the windows without pulse inputs
    ta.C_REG = float(change.get("C", c_reg))


def _without_noisy_pulse(subs: list[ta.Subj]) -> None:
    """Mark the pulse features of ``bvp_noisy`` windows missing, in place."""
    for s in subs:
        for table in s.tables.values():
            for w in table.windows:
                if "bvp_noisy" in w["flags"]:
                    w["values"].update(dict.fromkeys(PPG_FEATURES, math.nan))


CAPACITY: dict[str, tuple[str, float | None, bool]] = {
    "linear (shipped)": ("linear", ta.C_REG, False),
    "+ squared z-scores, C = 0.1": ("squares", 0.1, False),
    "+ squared z-scores, C = 0.01": ("squares", 0.01, False),
    "gradient-boosted trees (depth 3, 200 rounds)": ("trees", None, False),
    "linear, trained on all four orders": ("linear", ta.C_REG, True),
    "+ squared z-scores, all four orders": ("squares", 0.1, True),
    "trees, trained on all four orders": ("trees", None, True),
}
"""Name -> (model, inverse L2 strength, trained on every replay order of the training subjects
instead of their original order only) of the ``--capacity`` rows."""


def _capacity_scores(
    subs: list[ta.Subj], model: str, c_reg: float | None, all_orders: bool, variant: str
) -> tuple[list[Any], list[Any]]:
    """LOSO scores and labels of each subject, one model on the shipped inputs' z-scores."""
    orders = ta.VARIANTS if all_orders else ("original",)
    ps, ys = [], []
    for s in subs:
        train = [o for o in subs if o is not s]
        z = np.nan_to_num(
            np.concatenate([o.z[v][o.keep[v]] for o in train for v in orders]), nan=0.0
        )
        y = np.concatenate([o.y[v] for o in train for v in orders])
        test = np.nan_to_num(s.z[variant][s.keep[variant]], nan=0.0)
        if model == "trees":
            trees = HistGradientBoostingClassifier(
                max_depth=3, learning_rate=0.05, max_iter=200, min_samples_leaf=200,
                l2_regularization=1.0, random_state=0,
            )  # fmt: skip
            p = trees.fit(z, y).predict_proba(test)[:, 1]
        else:

            def expand(x: Any) -> Any:
                return np.hstack([x, x**2]) if model == "squares" else x

            lr = LogisticRegression(C=c_reg, max_iter=3000).fit(expand(z), y)
            p = lr.predict_proba(expand(test))[:, 1]
        ps.append(p)
        ys.append(s.y[variant])
    return ps, ys


def _pooled(ps: list[Any], ys: list[Any], which: list[bool] | None = None) -> float:
    keep = [k for k in range(len(ps)) if which is None or which[k]]
    return float(roc_auc_score(*(np.concatenate([a[k] for k in keep]) for a in (ys, ps))))


def _task_in_calibration(s: ta.Subj, variant: str) -> bool:
    """Whether over 30 % of the windows ending within the calibration are labelled stress."""
    w = s.tables[variant].windows
    end = w[0]["start"] + ta.BASELINE["calibration_s"] + ta.WINDOW_S
    frac = [x["frac"] for x in w if x["end"] <= end and math.isfinite(x["frac"])]
    return bool(frac) and float(np.mean(frac)) > 0.3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=ta.default_data_dir())
    ap.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="these variants only")
    ap.add_argument("--capacity", action="store_true", help="more flexible models instead")
    args = ap.parse_args()
    subs, _, _ = ta.load_subjects(args.data, True)
    print(f"{'variant':<44} " + " ".join(f"{v:>20}" for v in ta.VARIANTS))
    if args.capacity:
        shuffled: dict[str, tuple[list[Any], list[Any]]] = {}
        for name, (model, c_reg, all_orders) in CAPACITY.items():
            scores = [_capacity_scores(subs, model, c_reg, all_orders, v) for v in ta.VARIANTS]
            shuffled[name] = scores[ta.VARIANTS.index("shuffled")]
            print(f"{name:<44} " + " ".join(f"{_pooled(*sc):>20.3f}" for sc in scores), flush=True)
        task = [_task_in_calibration(s, "shuffled") for s in subs]
        rest = [not t for t in task]
        print(f"shuffled, a task in the calibration ({sum(task)} subjects) / not ({sum(rest)}):")
        for name in ("linear (shipped)", "gradient-boosted trees (depth 3, 200 rounds)"):
            ps, ys = shuffled[name]
            print(f"  {name:<44} {_pooled(ps, ys, task):.3f} / {_pooled(ps, ys, rest):.3f}")
        return
    # the noisy-pulse variant changes the windows themselves: it runs last
    names = sorted(args.only or VARIANTS, key=lambda n: bool(VARIANTS[n].get("noisy_pulse")))
    for name in names:
        t0 = time.perf_counter()
        change = VARIANTS[name]
        _configure(change)
        if change.get("noisy_pulse"):
            _without_noisy_pulse(subs)
        for s in subs:
            s.z = {v: ta.z_matrix(t) for v, t in s.tables.items()}
        folds = {
            s.name: ta.params_dict(ta.train_submodels([o for o in subs if o is not s]))
            for s in subs
        }
        variant_scores = [ta.evaluate(subs, folds, v) for v in ta.VARIANTS]
        row = " ".join(f"{sc.figures()['auc_pooled']:>20.3f}" for sc in variant_scores)
        unscored = sum(sc.unscored for sc in variant_scores)
        halves = ta.confidence_halves(variant_scores[0])
        conf = "-" if halves is None else f"{halves[0]:.3f} / {halves[1]:.3f}"
        took = time.perf_counter() - t0
        print(
            f"{name:<44} {row}   by confidence {conf}, unscored {unscored} ({took:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
