"""Train and validate the arousal model on Stress-Predict (leave-one-subject-out, online only).

Data (read from ``--data DIR``, ``$WEARSDK_DATA`` or ``../shared/data``; never copied into the
repository): ``stress_predict/Raw_data/S02..S25`` (Empatica E4 exports) and the per-second labels
``stress_predict/Processed_data/Improved_All_Combined_hr_rsp_binary.csv`` (``Participant`` p is
folder ``S{p:02d}``, ``Time(sec)`` unix seconds on the E4 clock, ``Label`` 0 rest / 1 stress
task). S01 has no labels.

Pipeline, identical to the product's online path:

1. ``load_e4_session``; the streams ``eda`` (µS, 4 Hz), ``hr`` (device HR, 1 Hz), ``rr`` (E4
   IBI: beat times ``ibi.t_unix``, values ``ibi_s``), ``temp`` and ``acc`` (the loader already
   converts ACC to mG) are fed in 1 s blocks, on unix time, to
   ``FeatureExtractor(FeatureConfig(window_s=60, hop_s=5))``.
2. Each window gets the share of its labelled seconds that are stress; windows with a share in
   (0.2, 0.8) straddle a task change and are **dropped** (ambiguous), the others are labelled by
   majority. Windows with fewer than 30 labelled seconds are dropped.
3. ``ArousalEstimator`` (the runtime class) runs over the windows in time order: its
   ``PersonalBaseline`` turns inputs into z-scores from past windows only; ``last_z`` gives
   the training inputs, and the estimates of held-out subjects give the figures below.
4. Leave-one-subject-out: the model scoring subject k (its coefficients and its threshold, the
   one maximising balanced accuracy on the training subjects) never saw subject k.

Figures: ROC AUC pooled over the held-out windows and per subject (mean ± sd, min); balanced
accuracy and macro F1 at the threshold; expected calibration error of the stress probability
with windows weighted by the estimate's confidence (10 equal-width bins); standardised
coefficients of the model trained on every subject; LOSO AUC when each feature group is removed;
the sub-models without EDA and without heart rate.

Schedule-leak check: every subject follows nearly the same schedule (time since the start alone
gives LOSO AUC ~0.94). Each held-out subject is replayed with its rest/task segments (cut at its
label changes) in reversed and in shuffled order, re-stamped continuously, through the whole
online pipeline again (features, baseline, model trained on the other subjects' original
recordings). A model that reads physiology keeps its AUC; one that learnt the schedule does not.
The same check is run on a deliberately leaky reference (logistic regression on the time since
the start) to show that the check detects a leak.

Per-subject feature tables are cached under ``/tmp/wearsdk_arousal_cache`` (not in the repo).

Usage: python -m benchmarks.train_arousal [--data DIR] [--write-model] [--no-cache]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from wearsdk.affect._model import ArousalEstimator, ArousalModelParams
from wearsdk.io.e4 import load_e4_session
from wearsdk.signals._features import FeatureConfig, FeatureExtractor

FloatArray = npt.NDArray[np.float64]

SUBJECTS = tuple(f"S{i:02d}" for i in range(2, 26))
WINDOW_S = 60.0
HOP_S = 5.0
AMBIGUOUS = (0.2, 0.8)
CACHE = Path("/tmp/wearsdk_arousal_cache/v1")
ROOT = Path(__file__).resolve().parents[1]
MODEL_PATH = ROOT / "wearsdk" / "affect" / "models" / "arousal_v1.json"
C_REG = 0.1  # inverse L2 strength of the logistic regressions (z-scores, so all inputs ~unit)

# name, features (first finite wins), transform, modality, group, spread floor
INPUTS: list[dict[str, Any]] = [
    {"name": "hr", "features": ["hr_device_mean_bpm", "hr_mean_bpm"], "transform": "identity",
     "modality": "hr", "group": "hr", "min_std": 3.0},
    {"name": "hr_slope", "features": ["hr_device_slope_bpm_per_min"], "transform": "identity",
     "modality": "hr", "group": "hr", "min_std": 1.0},
    {"name": "ln_rmssd", "features": ["rmssd_s"], "transform": "log",
     "modality": "rr", "group": "hrv", "min_std": 0.15},
    {"name": "ln_scl", "features": ["scl_mean_usiemens"], "transform": "log",
     "modality": "eda", "group": "eda_tonic", "min_std": 0.05},
    {"name": "scl_slope", "features": ["scl_slope_usiemens_per_min"], "transform": "identity",
     "modality": "eda", "group": "eda_tonic", "min_std": 0.05},
    {"name": "phasic", "features": ["phasic_mean_usiemens"], "transform": "identity",
     "modality": "eda", "group": "eda_phasic", "min_std": 0.01},
    {"name": "scr_rate", "features": ["scr_rate_per_min"], "transform": "identity",
     "modality": "eda", "group": "eda_phasic", "min_std": 0.5},
    {"name": "scr_amp", "features": ["scr_amplitude_mean_usiemens"], "transform": "identity",
     "modality": "eda", "group": "eda_phasic", "min_std": 0.02},
    {"name": "temp_slope", "features": ["temp_slope_degc_per_min"], "transform": "identity",
     "modality": "temp", "group": "temp", "min_std": 0.05},
    {"name": "acc", "features": ["acc_activity_g"], "transform": "identity",
     "modality": "acc", "group": "acc", "min_std": 0.01},
]  # fmt: skip
NAMES = [i["name"] for i in INPUTS]
GROUP = {i["name"]: i["group"] for i in INPUTS}
HR_GROUPS = {"hr", "hrv"}
EDA_GROUPS = {"eda_tonic", "eda_phasic"}
BASELINE = {"calibration_s": 180.0, "half_life_s": 1200.0, "z_clip": 5.0}
# sub-models in order of preference: name, required modalities, input groups
SUBMODELS = [
    ("all", ("hr", "eda"), None),
    ("no_eda", ("hr",), HR_GROUPS | {"temp", "acc"}),
    ("no_hr", ("eda",), EDA_GROUPS | {"temp", "acc"}),
]


def default_data_dir() -> Path:
    env = os.environ.get("WEARSDK_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


# -- feature extraction (the online pipeline) ---------------------------------------------------
Streams = dict[str, tuple[FloatArray, FloatArray, float | None]]


@dataclass
class Table:
    """The windows of one (possibly reordered) recording of one subject."""

    subject: str
    variant: str
    windows: list[dict[str, Any]]  # start, end, values, quality, flags, modalities, frac, t0

    @property
    def frac(self) -> FloatArray:
        return np.array([w["frac"] for w in self.windows])


def load_streams(folder: Path) -> tuple[Streams, float, float]:
    s = load_e4_session(folder)
    streams: Streams = {}
    for name in ("eda", "hr", "temp", "acc"):
        sig = s.signals[name]
        streams[name] = (sig.t_unix, sig.values, sig.rate_hz)
    if s.ibi is not None and len(s.ibi):
        streams["rr"] = (s.ibi.t_unix, s.ibi.ibi_s[:, None], None)
    return streams, s.start_unix, s.end_unix


def extract(streams: Streams, start: float, end: float) -> list[dict[str, Any]]:
    """Feed every stream in 1 s blocks (interleaved, in time order) and collect the windows."""
    fx = FeatureExtractor(FeatureConfig(window_s=WINDOW_S, hop_s=HOP_S))
    idx = dict.fromkeys(streams, 0)
    out: list[dict[str, Any]] = []
    for k in range(math.ceil(end - start) + 2):
        tb = start + k + 1
        for name, (t, v, rate) in streams.items():
            j = int(np.searchsorted(t, tb, side="left"))
            if j > idx[name]:
                fx.push(name, t[idx[name] : j], v[idx[name] : j], nominal_rate_hz=rate)
                idx[name] = j
        for w in fx.ready():
            out.append(
                {
                    "start": w.start,
                    "end": w.end,
                    "values": dict(w.values),
                    "quality": dict(w.quality),
                    "flags": w.flags,
                    "modalities": w.modalities,
                }
            )
    return out


def label_windows(windows: list[dict[str, Any]], lt: FloatArray, ly: FloatArray) -> None:
    for w in windows:
        lo = np.searchsorted(lt, w["start"], side="right")
        hi = np.searchsorted(lt, w["end"], side="right")
        w["frac"] = float(ly[lo:hi].mean()) if hi - lo >= 30 else math.nan


def reorder(
    streams: Streams, start: float, end: float, lt: FloatArray, ly: FloatArray, order: list[int]
) -> tuple[Streams, FloatArray, FloatArray]:
    """Cut at label changes, put the segments in ``order``, re-stamp them continuously."""
    changes = lt[1:][np.diff(ly) != 0]
    edges = np.concatenate(([start], changes, [end + 1.0]))
    segs = list(itertools.pairwise(edges))
    assert sorted(order) == list(range(len(segs))), (order, len(segs))
    shift = {}
    t_new = start
    for i in order:
        a, b = segs[i]
        shift[i] = t_new - a
        t_new += b - a

    def move(t: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        seg = np.searchsorted(edges, t, side="right") - 1
        seg = np.clip(seg, 0, len(segs) - 1)
        new = t + np.array([shift[int(s)] for s in range(len(segs))])[seg]
        perm = np.argsort(new, kind="stable")
        return new[perm], perm

    out: Streams = {}
    for name, (t, v, rate) in streams.items():
        nt, perm = move(t)
        out[name] = (nt, v[perm], rate)
    nlt, perm = move(lt)
    return out, nlt, ly[perm]


def segment_orders(n: int, subject: str) -> dict[str, list[int]]:
    rng = np.random.default_rng(int(subject[1:]))
    shuffled = list(range(n))
    while shuffled == list(range(n)):
        shuffled = [int(i) for i in rng.permutation(n)]
    # the first segment (the initial rest, where the baseline calibrates) kept in place
    rest = [0] + [int(i) + 1 for i in rng.permutation(n - 1)]
    return {"reversed": list(range(n))[::-1], "shuffled": shuffled, "shuffled_keep_first": rest}


def subject_tables(data: Path, subject: str, labels: pd.DataFrame, use_cache: bool) -> list[Table]:
    """The original recording and its reordered replays, from the cache when present."""
    lab = labels[labels["Participant"] == int(subject[1:])].sort_values("Time(sec)")
    lt = lab["Time(sec)"].to_numpy(np.float64)
    ly = lab["Label"].to_numpy(np.float64)
    n_seg = int((np.diff(ly) != 0).sum()) + 1
    orders: dict[str, list[int] | None] = {"original": None, **segment_orders(n_seg, subject)}
    loaded: tuple[Streams, float, float] | None = None
    tables = []
    for variant, order in orders.items():
        path = CACHE / f"{subject}_{variant}_w{WINDOW_S:g}_h{HOP_S:g}.pkl"
        if use_cache and path.is_file():
            with path.open("rb") as fh:
                tables.append(Table(subject, variant, pickle.load(fh)))
            continue
        if loaded is None:
            loaded = load_streams(data / "stress_predict" / "Raw_data" / subject)
        streams, start, end = loaded
        if order is None:
            wins = extract(streams, start, end)
            label_windows(wins, lt, ly)
        else:
            s2, lt2, ly2 = reorder(streams, start, end, lt, ly, order)
            wins = extract(s2, start, end + 1.0)
            label_windows(wins, lt2, ly2)
        for w in wins:
            w["t0"] = w["end"] - start  # time since start: ONLY for the leaky reference model
        CACHE.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            pickle.dump(wins, fh)
        tables.append(Table(subject, variant, wins))
    return tables


# -- model -------------------------------------------------------------------------------------
def params_dict(
    models: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "model_id": "arousal-v1",
        "format": 1,
        "description": (
            "Logistic regression on personal-baseline z-scores of E4 wristband window features "
            "(60 s windows); arousal = P(stress task | window). See wearsdk/affect/_model.py."
        ),
        "window_s": WINDOW_S,
        "inputs": INPUTS,
        "baseline": BASELINE,
        "motion_threshold_g": 0.1,
        "models": models,
    }
    if models:
        thr = float(models[0]["threshold"])
        d["stress_levels"] = {
            "medium": round(thr, 3),
            "high": round(min(0.95, max(thr + 0.25, 0.75)), 3),
            "hysteresis": round(min(0.1, thr / 2), 3),
            "min_dwell_s": 60.0,
            "min_confidence": 0.3,
        }
    d.update(extra or {})
    return d


def dummy_estimator() -> ArousalEstimator:
    m = [{"name": "z", "requires": [], "inputs": NAMES, "intercept": 0.0, "threshold": 0.5}]
    m[0]["coef"] = [0.0] * len(NAMES)
    return ArousalEstimator(ArousalModelParams.from_dict(params_dict(m)), stress_levels=False)


def z_matrix(table: Table) -> FloatArray:
    """Baseline z-scores (NaN when missing) of every window, computed online by the runtime."""
    est = dummy_estimator()
    rows = []
    for w in table.windows:
        est.step(
            window_start=w["start"],
            window_end=w["end"],
            features=w["values"],
            coverage=w["quality"].get("rr_coverage", 0.0),
            modalities=w["modalities"],
            flags=w["flags"],
            quality=w["quality"],
        )
        rows.append([est.last_z.get(n, math.nan) for n in NAMES])
    return np.array(rows, dtype=np.float64)


def usable(table: Table) -> npt.NDArray[np.bool_]:
    f = table.frac
    return np.isfinite(f) & ((f <= AMBIGUOUS[0]) | (f >= AMBIGUOUS[1]))


def fit(z: FloatArray, y: FloatArray, cols: list[int]) -> tuple[float, FloatArray]:
    x = np.nan_to_num(z[:, cols], nan=0.0)
    lr = LogisticRegression(C=C_REG, max_iter=2000)
    lr.fit(x, y)
    return float(lr.intercept_[0]), lr.coef_[0].astype(np.float64)


def predict(z: FloatArray, cols: list[int], b: float, w: FloatArray) -> FloatArray:
    x = np.nan_to_num(z[:, cols], nan=0.0)
    return np.asarray(1.0 / (1.0 + np.exp(-(b + x @ w))), dtype=np.float64)


def best_threshold(p: FloatArray, y: FloatArray) -> float:
    grid = np.linspace(0.05, 0.95, 91)
    scores = [balanced_accuracy_score(y, p >= g) for g in grid]
    return float(grid[int(np.argmax(scores))])


def cols_of(groups: set[str] | None) -> list[int]:
    return [i for i, n in enumerate(NAMES) if groups is None or GROUP[n] in groups]


def ece(p: FloatArray, y: FloatArray, weight: FloatArray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    total = weight.sum()
    err = 0.0
    for b in range(bins):
        m = which == b
        wsum = weight[m].sum()
        if wsum > 0:
            gap = np.average(y[m], weights=weight[m]) - np.average(p[m], weights=weight[m])
            err += wsum / total * abs(gap)
        # empty bins add nothing
    return float(err)


@dataclass
class Subj:
    name: str
    tables: dict[str, Table]
    z: dict[str, FloatArray]
    keep: dict[str, npt.NDArray[np.bool_]]
    y: dict[str, FloatArray]


def loso_simple(
    subs: list[Subj], cols: list[int], variant: str = "original", train: str = "original"
) -> tuple[float, list[float]]:
    """LOSO AUC of a single model on ``cols`` (missing inputs = 0), pooled and per subject."""
    ps, ys, per = [], [], []
    for k, s in enumerate(subs):
        tr = [o for j, o in enumerate(subs) if j != k]
        z = np.concatenate([o.z[train][o.keep[train]] for o in tr])
        y = np.concatenate([o.y[train] for o in tr])
        b, w = fit(z, y, cols)
        p = predict(s.z[variant][s.keep[variant]], cols, b, w)
        yk = s.y[variant]
        ps.append(p)
        ys.append(yk)
        if 0 < yk.mean() < 1:
            per.append(float(roc_auc_score(yk, p)))
    return float(roc_auc_score(np.concatenate(ys), np.concatenate(ps))), per


def train_submodels(tr: list[Subj]) -> list[dict[str, Any]]:
    models = []
    for name, requires, groups in SUBMODELS:
        cols = cols_of(groups)
        z = np.concatenate([o.z["original"][o.keep["original"]] for o in tr])
        y = np.concatenate([o.y["original"] for o in tr])
        b, w = fit(z, y, cols)
        thr = best_threshold(predict(z, cols, b, w), y)
        sd = np.nan_to_num(z[:, cols], nan=0.0).std(axis=0)
        models.append(
            {
                "name": name,
                "requires": list(requires),
                "inputs": [NAMES[c] for c in cols],
                "intercept": round(b, 6),
                "coef": [round(float(c), 6) for c in w],
                "standardised_coef": [round(float(c), 4) for c in w * sd],
                "threshold": round(thr, 3),
                "quality": 1.0,
            }
        )
    return models


def run_estimator(params: dict[str, Any], table: Table) -> tuple[FloatArray, FloatArray, list[str]]:
    est = ArousalEstimator(ArousalModelParams.from_dict(params))
    p, c, used = [], [], []
    for w in table.windows:
        e = est.step(
            window_start=w["start"],
            window_end=w["end"],
            features=w["values"],
            coverage=w["quality"].get("rr_coverage", 0.0),
            modalities=w["modalities"],
            flags=w["flags"],
            quality=w["quality"],
        )
        p.append(math.nan if e is None else e.arousal)
        c.append(0.0 if e is None else e.confidence)
        used.append("none" if e is None else e.model.split("/")[-1])
    return np.array(p), np.array(c), used


def t0(s: Subj, v: str) -> FloatArray:
    """Time since the start of each usable window (only for the leaky reference model)."""
    return np.array([w["t0"] for w in s.tables[v].windows])[s.keep[v]]


def feats(t: FloatArray) -> FloatArray:
    """Harmonics of the session time (the leaky reference model's inputs)."""
    h = np.arange(1, 5)[None, :] * 2 * np.pi * t[:, None] / 3600.0
    return np.column_stack([np.sin(h), np.cos(h)])


def fmt_auc(pooled: float, per: list[float]) -> str:
    a = np.array(per)
    return f"{pooled:.3f}   {a.mean():.3f} ± {a.std():.3f}   {a.min():.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--write-model", action="store_true", help="write the shipped JSON")
    ap.add_argument("--no-cache", action="store_true", help="recompute the feature tables")
    args = ap.parse_args()
    t_start = time.perf_counter()
    labels = pd.read_csv(
        args.data / "stress_predict" / "Processed_data" / "Improved_All_Combined_hr_rsp_binary.csv"
    )
    subs: list[Subj] = []
    n_amb = n_tot = 0
    for s in SUBJECTS:
        tables = {t.variant: t for t in subject_tables(args.data, s, labels, not args.no_cache)}
        z = {v: z_matrix(t) for v, t in tables.items()}
        keep = {v: usable(t) for v, t in tables.items()}
        y = {v: (t.frac[keep[v]] >= 0.5).astype(np.float64) for v, t in tables.items()}
        n_tot += int(np.isfinite(tables["original"].frac).sum())
        n_amb += int(np.isfinite(tables["original"].frac).sum() - keep["original"].sum())
        subs.append(Subj(s, tables, z, keep, y))
    print(f"features: {time.perf_counter() - t_start:.1f} s")
    n_win = sum(int(s.keep["original"].sum()) for s in subs)
    n_pos = sum(int(s.y["original"].sum()) for s in subs)
    print(
        f"{len(subs)} subjects, {n_win} windows of {WINDOW_S:g} s every {HOP_S:g} s "
        f"({n_pos} stress, {n_win - n_pos} rest); {n_amb} of {n_tot} labelled windows dropped as "
        f"ambiguous (stress share in {AMBIGUOUS})"
    )

    # --- main LOSO with the runtime estimator and its sub-models
    fold_models: dict[str, list[dict[str, Any]]] = {}
    ps, ys, cs, per, bal, f1s = [], [], [], [], [], []
    usage: dict[str, int] = {}
    none = 0
    leak: dict[str, tuple[list[FloatArray], list[FloatArray], list[float]]] = {
        v: ([], [], []) for v in ("reversed", "shuffled", "shuffled_keep_first")
    }
    for k, s in enumerate(subs):
        tr = [o for j, o in enumerate(subs) if j != k]
        models = train_submodels(tr)
        fold_models[s.name] = models
        params = params_dict(models)
        p, c, used = run_estimator(params, s.tables["original"])
        m = s.keep["original"]
        p, c, yk = p[m], c[m], s.y["original"]
        used_k = [u for u, mm in zip(used, m, strict=True) if mm]
        ok = np.isfinite(p)
        none += int((~ok).sum())
        for u in used_k:
            usage[u] = usage.get(u, 0) + 1
        p, c, yk = p[ok], c[ok], yk[ok]
        thr = float(models[0]["threshold"])
        ps.append(p)
        ys.append(yk)
        cs.append(c)
        per.append(float(roc_auc_score(yk, p)))
        bal.append(float(balanced_accuracy_score(yk, p >= thr)))
        f1s.append(float(f1_score(yk, p >= thr, average="macro")))
        for v in leak:
            pv, _, _ = run_estimator(params, s.tables[v])
            mv = s.keep[v]
            pv, yv = pv[mv], s.y[v]
            okv = np.isfinite(pv)
            leak[v][0].append(pv[okv])
            leak[v][1].append(yv[okv])
            leak[v][2].append(float(roc_auc_score(yv[okv], pv[okv])))
    P, Y, C = np.concatenate(ps), np.concatenate(ys), np.concatenate(cs)
    pooled = float(roc_auc_score(Y, P))
    thr_all = [float(fold_models[s.name][0]["threshold"]) for s in subs]
    thr_vec = np.concatenate([np.full(len(p), t) for p, t in zip(ps, thr_all, strict=True)])
    called = P - thr_vec >= 0
    bal_pooled = float(balanced_accuracy_score(Y, called))
    f1_pooled = float(f1_score(Y, called, average="macro"))
    ece_c = ece(P, Y, C)
    ece_u = ece(P, Y, np.ones_like(P))

    print("\n== LOSO, online pipeline + ArousalEstimator (runtime code), held-out never seen")
    print("                         pooled  per-subject mean ± sd   min")
    print(f"ROC AUC                  {fmt_auc(pooled, per)}")
    print(
        f"balanced accuracy @thr   {bal_pooled:.3f}   {np.mean(bal):.3f} ± {np.std(bal):.3f}   "
        f"{np.min(bal):.3f}   (thr per fold {min(thr_all):.2f}-{max(thr_all):.2f})"
    )
    f1a = np.array(f1s)
    print(
        f"macro F1 @thr            {f1_pooled:.3f}   "
        f"{f1a.mean():.3f} ± {f1a.std():.3f}   {f1a.min():.3f}"
    )
    print(f"ECE (confidence-weighted) {ece_c:.3f}   (unweighted {ece_u:.3f})")
    print(f"windows scored by sub-model: {usage}; no estimate: {none}")
    print("per subject AUC:", " ".join(f"{s.name}:{a:.2f}" for s, a in zip(subs, per, strict=True)))
    hi_c = C - np.median(C) >= 0
    print(
        f"AUC on the more confident half {roc_auc_score(Y[hi_c], P[hi_c]):.3f}, "
        f"less confident half {roc_auc_score(Y[~hi_c], P[~hi_c]):.3f}"
    )

    print("\n== schedule-leak check: held-out subject replayed with segments reordered")
    print("                         pooled  per-subject mean ± sd   min")
    leak_fig: dict[str, Any] = {}
    for v, (pv, yv, pa) in leak.items():
        a = float(roc_auc_score(np.concatenate(yv), np.concatenate(pv)))
        leak_fig[v] = {"auc_pooled": round(a, 3), "auc_subject_mean": round(float(np.mean(pa)), 3)}
        print(f"{v:<24} {fmt_auc(a, pa)}")
    print("diagnosis: single model trained AND tested on reordered replays (LOSO)")
    for v in leak:
        for tag, cols in (("all", cols_of(None)), ("hr only", cols_of({"hr"}))):
            a0, _ = loso_simple(subs, cols)
            a1, _ = loso_simple(subs, cols, variant=v, train=v)
            a2, _ = loso_simple(subs, cols, variant=v)
            print(
                f"  {v:<20} {tag:<8} orig {a0:.3f}  train orig {a2:.3f}  train reordered {a1:.3f}"
            )
    # leaky reference: time since start as the only feature
    for v in ("original", "reversed", "shuffled", "shuffled_keep_first"):
        pp, yy, pa = [], [], []
        for k, s in enumerate(subs):
            tr = [o for j, o in enumerate(subs) if j != k]
            tt = np.concatenate([t0(o, "original") for o in tr])
            y = np.concatenate([o.y["original"] for o in tr])
            lr = LogisticRegression(max_iter=2000).fit(feats(tt), y)
            tk = t0(s, v)
            p = lr.predict_proba(feats(tk))[:, 1]
            pp.append(p)
            yy.append(s.y[v])
            pa.append(float(roc_auc_score(s.y[v], p)))
        a = float(roc_auc_score(np.concatenate(yy), np.concatenate(pp)))
        leak_fig[f"time_only_{v}"] = round(a, 3)
        print(f"time-only leak ref, {v:<9} {fmt_auc(a, pa)}")

    print("\n== feature groups (single logistic model, missing inputs = 0, LOSO)")
    full_pooled, full_per = loso_simple(subs, cols_of(None))
    print(f"all inputs               {fmt_auc(full_pooled, full_per)}")
    groups = sorted(set(GROUP.values()))
    drops: dict[str, float] = {}
    for g in groups:
        a, pa = loso_simple(subs, cols_of(set(groups) - {g}))
        drops[g] = round(full_pooled - a, 3)
        print(f"without {g:<16} {fmt_auc(a, pa)}   drop {full_pooled - a:+.3f}")
    sub_fig: dict[str, Any] = {}
    for label, keepg in (
        ("without EDA", set(groups) - EDA_GROUPS),
        ("without HR/HRV", set(groups) - HR_GROUPS),
    ):
        a, pa = loso_simple(subs, cols_of(keepg))
        sub_fig[label] = {"auc_pooled": round(a, 3), "auc_subject_mean": round(np.mean(pa), 3)}
        print(f"{label:<24} {fmt_auc(a, pa)}")
    for g in groups:
        a, pa = loso_simple(subs, cols_of({g}))
        print(f"only {g:<19} {fmt_auc(a, pa)}")

    final = train_submodels(subs)
    print("\n== model trained on S02-S25 (shipped), standardised coefficients")
    for m in final:
        print(
            f"{m['name']:<7} thr {m['threshold']:.2f}  "
            + ", ".join(
                f"{n} {c:+.2f}" for n, c in zip(m["inputs"], m["standardised_coef"], strict=True)
            )
        )

    # confidence factor of each sub-model from its LOSO discrimination
    qual = {"all": 1.0}
    a_all = pooled
    for name, key in (("no_eda", "without EDA"), ("no_hr", "without HR/HRV")):
        q = (sub_fig[key]["auc_pooled"] - 0.5) / max(a_all - 0.5, 1e-6)
        qual[name] = round(float(np.clip(q, 0.1, 1.0)), 3)
    for m in final:
        m["quality"] = qual[m["name"]]
    print(f"sub-model confidence factors: {qual}")
    print(f"\ntotal {time.perf_counter() - t_start:.1f} s")

    if args.write_model:
        extra = {
            "training": {
                "data": "Stress-Predict (Iqbal et al. 2022), Empatica E4, subjects S02-S25 (24)",
                "labels": "Improved_All_Combined_hr_rsp_binary.csv: 1 = Stroop, interview, "
                "hyperventilation; 0 = baseline and relax",
                "windows": f"{WINDOW_S:g} s every {HOP_S:g} s; stress share in (0.2, 0.8) dropped",
                "n_windows": n_win,
                "n_stress": n_pos,
                "regularisation": f"L2, C={C_REG}",
                "script": "python -m benchmarks.train_arousal --write-model",
            },
            "validation": {
                "method": "leave-one-subject-out, online pipeline, runtime estimator",
                "auc_pooled": round(pooled, 3),
                "auc_subject_mean": round(float(np.mean(per)), 3),
                "auc_subject_sd": round(float(np.std(per)), 3),
                "auc_subject_min": round(float(np.min(per)), 3),
                "balanced_accuracy": round(bal_pooled, 3),
                "macro_f1": round(f1_pooled, 3),
                "ece_confidence_weighted": round(ece_c, 3),
                "group_auc_drop": drops,
                "submodels": sub_fig,
                "schedule_leak_check": leak_fig,
            },
        }
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_text(json.dumps(params_dict(final, extra), indent=1) + "\n")
        print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
