"""Train and validate the arousal model (arousal-v4) on two datasets, online only.

Data (read from ``--data DIR``, ``$WEARSDK_DATA`` or ``../shared/data``; never copied into the
repository):

* ``stress_predict/Raw_data/S02..S25`` (Empatica E4 exports) and the per-second labels
  ``stress_predict/Processed_data/Improved_All_Combined_hr_rsp_binary.csv`` (``Participant`` p
  is folder ``S{p:02d}``, ``Time(sec)`` unix seconds on the E4 clock, ``Label`` 0 rest / 1
  stress task). S01 has no labels.
* ``wearable_stress/STRESS`` (PhysioNet wearable-stress dataset, E4, protocols v1 and v2), with
  labels from its tags as :mod:`benchmarks.arousal_wearable` maps them, and its ``AEROBIC`` and
  ``ANAEROBIC`` cycling sessions (no mental stressor) for the exertion check.

Figures, in this order: cross-dataset both ways (trained on one dataset, scored on the other),
leave-one-person-out over both datasets, each in the original order and the reordered replays;
the v1 and v2 task orders apart; sub-models alone (sensor ablations); a time-only leak
reference; feature groups; the exercise sessions (share of windows at stress level ``high``
and flagged ``exertion``); then the shipped model, trained on every labelled session.

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
4. Leave-one-person-out: the model scoring person k (its coefficients and its threshold, the
   one maximising balanced accuracy on the training people) never saw person k; across
   datasets, the model scoring one dataset was trained on the other only.

Figures (one function, :func:`evaluate`, for every replay): ROC AUC pooled over the held-out
windows and per subject (mean ± sd, min); balanced accuracy and macro F1 at the fold's
threshold; expected calibration error of the stress probability with windows weighted by the
estimate's confidence (10 equal-width bins); standardised coefficients of the model trained on
every subject; LOSO AUC when each feature group is removed; without EDA and without heart rate.

Schedule check: every subject follows nearly the same schedule (time since the start alone
gives LOSO AUC ~0.96). Each held-out subject is also replayed with its rest/task segments (cut
at its label changes) in reversed and in shuffled order (and shuffled with the first rest kept
first, where the baseline calibrates), re-stamped continuously, through the whole online
pipeline again (features, baseline, the fold's model trained on the other subjects' original
recordings). A model that reads physiology keeps its AUC; one that learnt the schedule does not.
The same replays are scored by a deliberately leaky reference (logistic regression on the time
since the start) to show that the check detects a leak.

Independent subjects: ``--shipped-on S26 S27 ...`` trains nothing; it scores the *shipped*
model (``wearsdk/affect/models/arousal_v4.json``) on the named Stress-Predict subjects'
recordings, in the four replay orders, with the same figures. The labels file covers S02-S35;
with the recordings of subjects the model never saw in ``stress_predict/Raw_data``, this is the
independent check of generalisation (on S02-S25 it only checks the wiring: in-sample).

Feature tables are cached under ``~/.cache/wearsdk_arousal`` (not in the repository).

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
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

import benchmarks.arousal_exertion as ae
import benchmarks.arousal_wearable as aw
from wearsdk._events import Estimate
from wearsdk.affect._model import ArousalEstimator, ArousalModelParams
from wearsdk.affect._stress import StressLevelTracker
from wearsdk.io.e4 import load_e4_session
from wearsdk.signals._features import FeatureConfig, FeatureExtractor

FloatArray = npt.NDArray[np.float64]

SUBJECTS = tuple(f"S{i:02d}" for i in range(2, 26))
WINDOW_S = 60.0
HOP_S = 5.0
AMBIGUOUS = (0.2, 0.8)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wearsdk_arousal" / "v6"
ROOT = Path(__file__).resolve().parents[1]
MODEL_ID = "arousal-v4"
MODEL_PATH = ROOT / "wearsdk" / "affect" / "models" / "arousal_v4.json"
C_REG = 0.1  # inverse L2 strength of the logistic regressions (z-scores, so all inputs ~unit)

# name, features (first finite wins), transform, modality, group, spread floor, divisor.
# arousal-v4: every input means the same whatever the device. Heart rate in bpm from whatever
# source the window has (a device's own HR, RR beats from a strap or ECG R-peaks, the pulse
# wave); EDA as ln SCL (a sensor's gain is an offset there, removed by the baseline), its slope
# and phasic mean relative to the SCL (gain-free); the SCR rate; ACC activity in g; and, when a
# pulse wave is streamed, the four pulse inputs of v3. The heart-rate slope of v3 is gone (it
# carried nothing, and a 1 Hz stream and beats give it different noise). Left out as before:
# skin temperature (a proxy for elapsed time), RR-based HRV (the E4's beats are too sparse).
_I = "identity"
_TABLE: list[tuple[str, list[str], str, str, str, float, str | None]] = [
    ("hr", ["hr_device_mean_bpm", "hr_mean_bpm", "ppg_rate_bpm"], _I, "hr", "hr", 3.0, None),
    ("ln_scl", ["scl_mean_usiemens"], "log", "eda", "eda_tonic", 0.05, None),
    (
        "scl_rel_slope",
        ["scl_slope_usiemens_per_min"],
        _I,
        "eda",
        "eda_tonic",
        0.01,
        "scl_mean_usiemens",
    ),
    ("phasic_rel", ["phasic_mean_usiemens"], _I, "eda", "eda_phasic", 0.005, "scl_mean_usiemens"),
    ("scr_rate", ["scr_rate_per_min"], _I, "eda", "eda_phasic", 0.5, None),
    ("acc", ["acc_activity_g"], _I, "acc", "acc", 0.01, None),
    ("pulse_rate", ["ppg_rate_bpm"], _I, "bvp", "bvp", 3.0, None),
    ("pulse_rate_p90", ["ppg_rate_p90_bpm"], _I, "bvp", "bvp", 3.0, None),
    ("ln_pulse_rmssd", ["ppg_rmssd_ms"], "log", "bvp", "bvp", 0.1, None),
    ("resp_fraction", ["ppg_resp_fraction"], _I, "bvp", "bvp", 0.05, None),
]
_KEYS = ("name", "features", "transform", "modality", "group", "min_std", "divide_by")
INPUTS: list[dict[str, Any]] = [
    {k: v for k, v in zip(_KEYS, row, strict=True) if v is not None} for row in _TABLE
]
NAMES = [i["name"] for i in INPUTS]
GROUP = {i["name"]: i["group"] for i in INPUTS}
HR_GROUPS = {"hr"}
EDA_GROUPS = {"eda_tonic", "eda_phasic"}
# calibration over the first 3 minutes of windows, then slow winsorised adaptation (values enter
# the baseline clipped to mean +- 0.5 spreads): an episode is not learnt as normal, so z-scores do
# not depend on which episodes came before (see the reordered-schedule check)
BASELINE = {"calibration_s": 180.0, "half_life_s": 1200.0, "z_clip": 5.0, "adapt_clip": 0.5}
# sub-models in order of preference: name, required modalities, input groups
BVP_GROUPS = {"bvp"}
SUBMODELS = [
    ("all_bvp", ("hr", "eda", "bvp"), None),
    ("all", ("hr", "eda"), HR_GROUPS | EDA_GROUPS | {"acc"}),
    ("no_eda_bvp", ("hr", "bvp"), HR_GROUPS | BVP_GROUPS | {"acc"}),
    ("no_eda", ("hr",), HR_GROUPS | {"acc"}),
    ("no_hr", ("eda",), EDA_GROUPS | {"acc"}),
]
# the sub-models other than the first, scored alone: what a session with fewer sensors gets
SENSOR_SETS = (
    ("all", "without BVP"),
    ("no_eda_bvp", "without EDA, with BVP"),
    ("no_eda", "without EDA or BVP"),
    ("no_hr", "without HR or BVP"),
)
VARIANTS = ("original", "reversed", "shuffled", "shuffled_keep_first")
# exertion (wearsdk.affect.ExertionConfig): arousal-v4's rules, fixed before looking at any
# exercise session (wrist movement above the motion threshold, or a heart rate 20 bpm above the
# wearer's baseline that the skin conductance does not follow, or 35 bpm above it whatever the
# EDA does); the figures of the cross-dataset and LOSO tables (their confidence-weighted ECE)
# use them. The shipped file adds the resting-reference and rhythm rules and the recovery hold
# selected by benchmarks.arousal_exertion (nested, never on the person scored).
EXERTION = ae.config_dict(ae.BASE)


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
    for name in ("eda", "bvp", "hr", "temp", "acc"):
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


def save_cache(path: Path, wins: list[dict[str, Any]]) -> None:
    """Write a feature table to the cache (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        pickle.dump(wins, fh)
    tmp.replace(path)


def label_windows(windows: list[dict[str, Any]], lt: FloatArray, ly: FloatArray) -> None:
    """Each window's stress share over its labelled seconds (label -1: left out, not counted);
    NaN with fewer than 30 labelled seconds."""
    for w in windows:
        lo = np.searchsorted(lt, w["start"], side="right")
        hi = np.searchsorted(lt, w["end"], side="right")
        seg = ly[lo:hi]
        seg = seg[seg >= 0]
        w["frac"] = float(seg.mean()) if seg.size >= 30 else math.nan


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
    seed = int(subject[1:]) if subject[1:].isdigit() else zlib.crc32(subject.encode())
    rng = np.random.default_rng(seed)
    shuffled = list(range(n))
    while shuffled == list(range(n)):
        shuffled = [int(i) for i in rng.permutation(n)]
    # the first segment (the initial rest, where the baseline calibrates) kept in place
    rest = [0] + [int(i) + 1 for i in rng.permutation(n - 1)]
    return {"reversed": list(range(n))[::-1], "shuffled": shuffled, "shuffled_keep_first": rest}


def variant_tables(
    key: str,
    load: Any,
    lt: FloatArray,
    ly: FloatArray,
    use_cache: bool,
    variants: Sequence[str] = VARIANTS,
) -> list[Table]:
    """The original recording and its reordered replays (cut at label changes, label -1
    segments included), from the cache when present; ``load()`` gives (streams, start, end).
    """
    n_seg = int((np.diff(ly) != 0).sum()) + 1
    orders: dict[str, list[int] | None] = {"original": None, **segment_orders(n_seg, key)}
    loaded: tuple[Streams, float, float] | None = None
    tables = []
    for variant in variants:
        order = orders[variant]
        path = CACHE / f"{key}_{variant}_w{WINDOW_S:g}_h{HOP_S:g}.pkl"
        if use_cache and path.is_file():
            with path.open("rb") as fh:
                tables.append(Table(key, variant, pickle.load(fh)))
            continue
        if loaded is None:
            loaded = load()
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
        save_cache(path, wins)
        tables.append(Table(key, variant, wins))
    return tables


def subject_tables(data: Path, subject: str, labels: pd.DataFrame, use_cache: bool) -> list[Table]:
    """A Stress-Predict subject's original recording and its reordered replays."""
    lab = labels[labels["Participant"] == int(subject[1:])].sort_values("Time(sec)")
    lt = lab["Time(sec)"].to_numpy(np.float64)
    ly = lab["Label"].to_numpy(np.float64)
    folder = data / "stress_predict" / "Raw_data" / subject
    return variant_tables(subject, lambda: load_streams(folder), lt, ly, use_cache)


# -- model -------------------------------------------------------------------------------------
def params_dict(
    models: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "model_id": MODEL_ID,
        "format": 1,
        "description": (
            "Logistic regression on personal-baseline z-scores of wristband window features "
            "(60 s windows); arousal = P(stress task | window). See wearsdk/affect/_model.py."
        ),
        "window_s": WINDOW_S,
        "inputs": INPUTS,
        "baseline": BASELINE,
        "motion_threshold_g": 0.1,
        "flag_missing": ["hr", "eda"],
        "models": models,
        "exertion": EXERTION,
    }
    # alert levels: "medium" once stress is more likely than not, "high" at three to one; the
    # classification threshold (balanced accuracy) sits near the base rate, where a wearer at
    # baseline already is, so it would make a poor alert level
    d["stress_levels"] = {
        "medium": 0.5,
        "high": 0.75,
        "hysteresis": 0.1,
        "min_dwell_s": 60.0,
        "min_confidence": 0.3,
    }
    d.update(extra or {})
    return d


def step(est: ArousalEstimator, w: dict[str, Any]) -> Estimate | None:
    """Score one cached window with the runtime estimator."""
    return est.step(
        window_start=w["start"],
        window_end=w["end"],
        features=w["values"],
        coverage=w["quality"].get("rr_coverage", 0.0),
        modalities=w["modalities"],
        flags=w["flags"],
        quality=w["quality"],
    )


def z_matrix(table: Table) -> FloatArray:
    """Baseline z-scores (NaN when missing) of every window, computed online by the runtime."""
    m = [{"name": "z", "requires": [], "inputs": NAMES, "intercept": 0.0, "threshold": 0.5}]
    m[0]["coef"] = [0.0] * len(NAMES)
    est = ArousalEstimator(ArousalModelParams.from_dict(params_dict(m)), stress_levels=False)
    rows = []
    for w in table.windows:
        step(est, w)
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
    """Expected calibration error of ``p`` (equal-width bins), windows weighted by ``weight``."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    total = weight.sum()
    err = 0.0
    for b in range(bins):
        m = which == b
        wsum = weight[m].sum()
        if wsum > 0:  # empty bins add nothing
            gap = np.average(y[m], weights=weight[m]) - np.average(p[m], weights=weight[m])
            err += wsum / total * abs(gap)
    return float(err)


@dataclass
class Subj:
    name: str
    tables: dict[str, Table]
    z: dict[str, FloatArray]
    keep: dict[str, npt.NDArray[np.bool_]]
    y: dict[str, FloatArray]
    dataset: str = "stress_predict"  # or "wearable_stress"
    person: str = ""  # who (a wearable-stress person may have two sessions: f14)
    protocol: str = "sp"  # sp, v1 or v2

    def __post_init__(self) -> None:
        self.person = self.person or self.name


def make_subj(name: str, tables: list[Table], **kw: str) -> Subj:
    """A subject from its tables: z-scores, usable windows and labels of every replay."""
    by = {t.variant: t for t in tables}
    z = {v: z_matrix(t) for v, t in by.items()}
    keep = {v: usable(t) for v, t in by.items()}
    y = {v: (t.frac[keep[v]] >= 0.5).astype(np.float64) for v, t in by.items()}
    return Subj(name, by, z, keep, y, **kw)


def load_wearable(data: Path, use_cache: bool) -> tuple[list[Subj], list[str]]:
    """The labelled wearable-stress sessions (every replay order) and the ones left out."""
    subs, skipped = [], []
    for name in aw.stress_sessions(data):
        folder = data / "wearable_stress" / "STRESS" / name
        streams, start, end, tags = aw.session_streams(folder, drop_pulse=name in aw.NO_PULSE)
        labels = aw.second_labels(tags, start, end, aw.protocol(name))
        if labels is None:
            skipped.append(f"{name} ({aw.distinct_tags(tags).size} distinct tags)")
            continue
        lt, ly = labels
        key = f"ws_{name}"
        tables = variant_tables(key, lambda s=streams, a=start, b=end: (s, a, b), lt, ly, use_cache)
        subs.append(
            make_subj(
                key,
                tables,
                dataset="wearable_stress",
                person=aw.person(name),
                protocol=aw.protocol(name),
            )
        )
    return subs, skipped


def load_exercise(data: Path, use_cache: bool) -> list[tuple[str, str, Table]]:
    """Every exercise session's windows (original order; no stress labels)."""
    out = []
    for kind, name in aw.exercise_sessions(data):
        key = f"ex_{kind}_{name}"
        path = CACHE / f"{key}_w{WINDOW_S:g}_h{HOP_S:g}.pkl"
        if use_cache and path.is_file():
            with path.open("rb") as fh:
                wins = pickle.load(fh)
        else:
            folder = data / "wearable_stress" / kind / name
            streams, start, end, _ = aw.session_streams(folder, drop_pulse=name in aw.NO_PULSE)
            wins = extract(streams, start, end)
            CACHE.mkdir(parents=True, exist_ok=True)
            save_cache(path, wins)
        out.append((kind, name, Table(key, "original", wins)))
    return out


def train_data(subs: list[Subj]) -> tuple[FloatArray, FloatArray]:
    """Training z-scores and labels: the original recordings of ``subs``, usable windows."""
    z = np.concatenate([o.z["original"][o.keep["original"]] for o in subs])
    return z, np.concatenate([o.y["original"] for o in subs])


def loso_simple(subs: list[Subj], cols: list[int]) -> tuple[float, list[float]]:
    """LOSO AUC of a single model on ``cols`` (missing inputs = 0), pooled and per subject."""
    ps, ys, per = [], [], []
    for k, s in enumerate(subs):
        b, w = fit(*train_data([o for j, o in enumerate(subs) if j != k]), cols)
        p = predict(s.z["original"][s.keep["original"]], cols, b, w)
        ps.append(p)
        ys.append(s.y["original"])
        per.append(float(roc_auc_score(s.y["original"], p)))
    return float(roc_auc_score(np.concatenate(ys), np.concatenate(ps))), per


def train_submodels(tr: list[Subj]) -> list[dict[str, Any]]:
    models = []
    z, y = train_data(tr)
    for name, requires, groups in SUBMODELS:
        cols = cols_of(groups)
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


@dataclass
class Scores:
    """Held-out estimates of every subject for one replay variant, and their figures."""

    p: FloatArray  # arousal (stress probability), pooled over subjects
    y: FloatArray  # labels
    c: FloatArray  # confidence
    called: npt.NDArray[np.bool_]  # p >= the threshold of the fold's model
    per_auc: list[float]
    per_bal: list[float]
    per_f1: list[float]
    usage: dict[str, int]
    unscored: int

    def figures(self) -> dict[str, float]:
        return {
            "auc_pooled": round(float(roc_auc_score(self.y, self.p)), 3),
            "auc_subject_mean": round(float(np.mean(self.per_auc)), 3),
            "auc_subject_sd": round(float(np.std(self.per_auc)), 3),
            "auc_subject_min": round(float(np.min(self.per_auc)), 3),
            "balanced_accuracy": round(float(balanced_accuracy_score(self.y, self.called)), 3),
            "macro_f1": round(float(f1_score(self.y, self.called, average="macro")), 3),
            "ece_confidence_weighted": round(ece(self.p, self.y, self.c), 3),
        }


def evaluate(subs: list[Subj], fold_params: dict[str, dict[str, Any]], variant: str) -> Scores:
    """Replay each held-out subject's ``variant`` through the runtime estimator of its fold."""
    ps, ys, cs, called, per, bal, f1s = [], [], [], [], [], [], []
    usage: dict[str, int] = {}
    unscored = 0
    for s in subs:
        params = fold_params[s.name]
        est = ArousalEstimator(ArousalModelParams.from_dict(params))
        out = [step(est, w) for w in s.tables[variant].windows]
        kept = [e for e, k in zip(out, s.keep[variant], strict=True) if k]
        ok = np.array([e is not None for e in kept])
        unscored += int((~ok).sum())
        scored = [e for e in kept if e is not None]
        if not scored:  # a sub-model alone whose sensors this session lacks (f07: no pulse)
            continue
        for e in scored:
            usage[e.model.split("/")[-1]] = usage.get(e.model.split("/")[-1], 0) + 1
        p = np.array([e.arousal for e in scored])
        yk = s.y[variant][ok]
        hit = p >= float(params["models"][0]["threshold"])
        ps.append(p)
        ys.append(yk)
        cs.append(np.array([e.confidence for e in scored]))
        called.append(hit)
        per.append(float(roc_auc_score(yk, p)))
        bal.append(float(balanced_accuracy_score(yk, hit)))
        f1s.append(float(f1_score(yk, hit, average="macro")))
    cat = np.concatenate
    return Scores(cat(ps), cat(ys), cat(cs), cat(called), per, bal, f1s, usage, unscored)


def confidence_halves(scores: Scores) -> tuple[float, float] | None:
    """AUC on the more confident half of the windows and on the less confident half."""
    hi = scores.c - np.median(scores.c) >= 0
    if not 0 < hi.mean() < 1:
        return None
    return (
        float(roc_auc_score(scores.y[hi], scores.p[hi])),
        float(roc_auc_score(scores.y[~hi], scores.p[~hi])),
    )


def session_time(s: Subj, v: str) -> FloatArray:
    """Time since the start of each usable window (only for the leaky reference model)."""
    return np.array([w["t0"] for w in s.tables[v].windows])[s.keep[v]]


def time_harmonics(t: FloatArray) -> FloatArray:
    """Harmonics of the session time (the leaky reference model's inputs)."""
    h = np.arange(1, 5)[None, :] * 2 * np.pi * t[:, None] / 3600.0
    return np.column_stack([np.sin(h), np.cos(h)])


def leaky_reference(subs: list[Subj], variant: str) -> tuple[float, list[float]]:
    """LOSO AUC of a deliberately leaky model on the time since the start (trained on original)."""
    pp, yy, per = [], [], []
    for k, s in enumerate(subs):
        tr = [o for j, o in enumerate(subs) if j != k]
        tt = np.concatenate([session_time(o, "original") for o in tr])
        y = np.concatenate([o.y["original"] for o in tr])
        lr = LogisticRegression(max_iter=2000).fit(time_harmonics(tt), y)
        p = lr.predict_proba(time_harmonics(session_time(s, variant)))[:, 1]
        pp.append(p)
        yy.append(s.y[variant])
        per.append(float(roc_auc_score(s.y[variant], p)))
    return float(roc_auc_score(np.concatenate(yy), np.concatenate(pp))), per


def fmt_auc(pooled: float, per: list[float]) -> str:
    a = np.array(per)
    return f"{pooled:.3f}   {a.mean():.3f} ± {a.std():.3f}   {a.min():.3f}"


def load_subjects(
    data: Path, use_cache: bool, subjects: Sequence[str] = SUBJECTS
) -> tuple[list[Subj], int, int]:
    """Every subject's replays, z-scores and labels; and the (dropped, total) labelled windows.

    Raises:
        SystemExit: a subject without a recording folder or without labels.
    """
    labels = pd.read_csv(
        data / "stress_predict" / "Processed_data" / "Improved_All_Combined_hr_rsp_binary.csv"
    )
    labelled = {f"S{int(p):02d}" for p in labels["Participant"].unique()}
    raw = data / "stress_predict" / "Raw_data"
    for s in subjects:
        if s not in labelled:
            raise SystemExit(
                f"{s}: no labels in the labels file (it has {min(labelled)}-{max(labelled)})"
            )
        if not (raw / s).is_dir():
            raise SystemExit(f"{s}: no recording folder {raw / s}")
    subs: list[Subj] = []
    n_amb = n_tot = 0
    for s in subjects:
        subj = make_subj(s, subject_tables(data, s, labels, use_cache))
        labelled = int(np.isfinite(subj.tables["original"].frac).sum())
        n_tot += labelled
        n_amb += labelled - int(subj.keep["original"].sum())
        subs.append(subj)
    return subs, n_amb, n_tot


def print_scores(scores: dict[str, Scores], subs: list[Subj]) -> None:
    """The figures of every replay order, a row each; the sub-models used and the AUC of
    each subject in the original order."""
    print("replay                   AUC pooled  per-subject mean ± sd  min    bal.acc  F1     ECE")
    for v, sc in scores.items():
        f = sc.figures()
        print(
            f"{v:<24} {f['auc_pooled']:.3f}       {f['auc_subject_mean']:.3f} ± "
            f"{f['auc_subject_sd']:.3f}          {f['auc_subject_min']:.3f}  "
            f"{f['balanced_accuracy']:.3f}    {f['macro_f1']:.3f}  "
            f"{f['ece_confidence_weighted']:.3f}"
        )
    orig = scores["original"]
    print(f"windows scored by sub-model: {orig.usage}; no estimate: {orig.unscored}")
    print(
        "per subject AUC:",
        " ".join(f"{s.name}:{a:.2f}" for s, a in zip(subs, orig.per_auc, strict=True)),
    )


def shipped_on(data: Path, subjects: Sequence[str], use_cache: bool) -> None:
    """Score the shipped model, unchanged, on ``subjects`` (the independent-subject check)."""
    shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    subs, n_amb, n_tot = load_subjects(data, use_cache, subjects)
    seen = sorted(set(subjects) & set(SUBJECTS))
    print(
        f"shipped model {shipped['model_id']} on {len(subs)} subjects"
        + (f" (in its training set: {' '.join(seen)}; in-sample)" if seen else " (none seen)")
    )
    print(f"{n_amb} of {n_tot} labelled windows dropped as ambiguous (stress share in {AMBIGUOUS})")
    scores = {v: evaluate(subs, {s.name: shipped for s in subs}, v) for v in VARIANTS}
    print(
        f"balanced accuracy / macro F1 at the shipped threshold {shipped['models'][0]['threshold']}"
    )
    print_scores(scores, subs)


def folds(subs: list[Subj], train: list[Subj] | None = None) -> dict[str, dict[str, Any]]:
    """Parameters scoring each subject: leave-one-person-out over ``subs`` (``train=None``), or
    one model trained on ``train`` for every subject (the cross-dataset direction)."""
    if train is not None:
        params = params_dict(train_submodels(train))
        return {s.name: params for s in subs}
    out = {}
    cache: dict[str, dict[str, Any]] = {}
    for s in subs:
        if s.person not in cache:
            cache[s.person] = params_dict(
                train_submodels([o for o in subs if o.person != s.person])
            )
        out[s.name] = cache[s.person]
    return out


def scores_table(
    title: str, subs: list[Subj], params: dict[str, dict[str, Any]], variants: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Evaluate and print the figures of ``subs`` for each replay order."""
    scores = {v: evaluate(subs, params, v) for v in variants}
    print(f"\n== {title} ({len(subs)} sessions)")
    print_scores(scores, subs)
    return {v: sc.figures() for v, sc in scores.items()}


def exertion_figures(
    ex: list[tuple[str, str, Table]],
    subs: list[Subj],
    params: dict[str, dict[str, Any]],
    fallback: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, float]]:
    """The exertion thresholds by nested selection (:mod:`benchmarks.arousal_exertion`): the
    nested figures of the exercise and stress sessions, and the thresholds selected on all."""
    sessions: list[ae.Windows] = []
    kinds: dict[int, str] = {}
    by_person = {o.person: params[o.name] for o in subs}  # f14's stress session is f14_b
    for kind, name, table in ex:
        person = aw.person(name)  # people without a labelled stress session: the final model
        p = by_person.get(person, fallback)
        s = ae.session_windows(person, "exercise", table.windows, p)
        sessions.append(s)
        kinds[id(s)] = kind
    for o in subs:
        lab = np.full(len(o.tables["original"].windows), math.nan)
        lab[o.keep["original"]] = o.y["original"]
        win = o.tables["original"].windows
        sessions.append(ae.session_windows(o.person, "stress", win, params[o.name], lab))
    levels = StressLevelTracker(ArousalModelParams.from_dict(fallback).stress_levels)
    fig, chosen = ae.report(sessions, kinds, levels)
    return fig, ae.config_dict(chosen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--write-model", action="store_true", help="write the shipped JSON")
    ap.add_argument("--no-cache", action="store_true", help="recompute the feature tables")
    ap.add_argument(
        "--shipped-on",
        nargs="+",
        metavar="SUBJECT",
        help="train nothing: score the shipped model on these subjects (e.g. S26 S27)",
    )
    args = ap.parse_args()
    if args.shipped_on:
        shipped_on(args.data, args.shipped_on, not args.no_cache)
        return
    t_start = time.perf_counter()
    sp, n_amb, n_tot = load_subjects(args.data, not args.no_cache)
    ws, skipped = load_wearable(args.data, not args.no_cache)
    ex = load_exercise(args.data, not args.no_cache)
    print(f"features: {time.perf_counter() - t_start:.1f} s")
    both = sp + ws
    for label, group in (("Stress-Predict", sp), ("wearable-stress", ws)):
        n_win = sum(int(s.keep["original"].sum()) for s in group)
        n_pos = sum(int(s.y["original"].sum()) for s in group)
        people = len({s.person for s in group})
        print(
            f"{label}: {len(group)} sessions of {people} people, {n_win} windows of "
            f"{WINDOW_S:g} s every {HOP_S:g} s ({n_pos} stress, {n_win - n_pos} rest)"
        )
    print(
        f"wearable-stress sessions left out: {', '.join(skipped) or 'none'}; "
        f"{', '.join(f'{k} ({v})' for k, v in aw.SKIP.items())}"
    )
    print(f"Stress-Predict: {n_amb} of {n_tot} labelled windows dropped as ambiguous")

    # --- cross-dataset first: what a new deployment should expect
    cross: dict[str, Any] = {}
    cross["stress_predict_to_wearable_stress"] = scores_table(
        "CROSS-DATASET: trained on Stress-Predict, tested on wearable-stress",
        ws,
        folds(ws, train=sp),
        VARIANTS,
    )
    cross["wearable_stress_to_stress_predict"] = scores_table(
        "CROSS-DATASET: trained on wearable-stress, tested on Stress-Predict",
        sp,
        folds(sp, train=ws),
        VARIANTS,
    )
    # --- leave-one-person-out over both datasets
    fold_params = folds(both)
    loso = scores_table("LOSO over both datasets (a fold per person)", both, fold_params, VARIANTS)
    by_part: dict[str, Any] = {}
    for label, part in (
        ("Stress-Predict", sp),
        ("wearable-stress v1 order", [s for s in ws if s.protocol == "v1"]),
        ("wearable-stress v2 order", [s for s in ws if s.protocol == "v2"]),
    ):
        by_part[label] = scores_table(f"LOSO, {label} only", part, fold_params, ("original",))
    orig = evaluate(both, fold_params, "original")
    halves = confidence_halves(orig)
    if halves is not None:
        print(
            f"AUC on the more confident half {halves[0]:.3f}, less confident half {halves[1]:.3f}"
        )

    print("\n== sub-models alone (sensor ablations), LOSO over both: AUC pooled")
    sensor_fig: dict[str, dict[str, float]] = {}
    for name, label in SENSOR_SETS:
        only = {
            k: {**p, "models": [m for m in p["models"] if m["name"] == name]}
            for k, p in fold_params.items()
        }
        sensor_fig[label] = {v: evaluate(both, only, v).figures()["auc_pooled"] for v in VARIANTS}
        print(f"{label:<24} " + "  ".join(f"{v} {a:.3f}" for v, a in sensor_fig[label].items()))

    leak_fig: dict[str, float] = {}
    print("\n== leak check reference: a model on the time since the start alone (LOSO, each set)")
    for label, part in (("Stress-Predict", sp), ("wearable-stress", ws)):
        for v in VARIANTS:
            a, pa = leaky_reference(part, v)
            leak_fig[f"{label} {v}"] = round(a, 3)
            print(f"time only, {label}, {v:<20} {fmt_auc(a, pa)}")
    # time-only model trained on Stress-Predict's schedule, scored on wearable-stress
    tt = np.concatenate([session_time(o, "original") for o in sp])
    yy = np.concatenate([o.y["original"] for o in sp])
    lr = LogisticRegression(max_iter=2000).fit(time_harmonics(tt), yy)
    pw = np.concatenate(
        [lr.predict_proba(time_harmonics(session_time(s, "original")))[:, 1] for s in ws]
    )
    yw = np.concatenate([s.y["original"] for s in ws])
    cross_leak = round(float(roc_auc_score(yw, pw)), 3)
    leak_fig["Stress-Predict schedule on wearable-stress"] = cross_leak
    print(f"time only, trained on Stress-Predict, on wearable-stress: {cross_leak:.3f}")

    print("\n== feature groups (single logistic model, LOSO over both, original order)")
    full_pooled, full_per = loso_simple(both, cols_of(None))
    print(f"all inputs               {fmt_auc(full_pooled, full_per)}")
    groups = sorted(set(GROUP.values()))
    drops: dict[str, float] = {}
    for g in groups:
        a, pa = loso_simple(both, cols_of(set(groups) - {g}))
        drops[g] = round(full_pooled - a, 3)
        print(f"without {g:<16} {fmt_auc(a, pa)}   drop {full_pooled - a:+.3f}")

    final = train_submodels(both)
    qual = {"all_bvp": 1.0}
    for name, key in SENSOR_SETS:
        auc = sensor_fig[key]["original"]
        q = (auc - 0.5) / max(loso["original"]["auc_pooled"] - 0.5, 1e-6)
        qual[name] = round(float(np.clip(q, 0.1, 1.0)), 3)
    for m in final:
        m["quality"] = qual[m["name"]]
    final_params = params_dict(final)
    for k in fold_params:  # the folds' confidence factors as shipped (for the flags below)
        for m in fold_params[k]["models"]:
            m["quality"] = qual[m["name"]]
    exer, exertion = exertion_figures(ex, both, fold_params, final_params)
    flag_rate = exer.pop("exertion_flag_in_stress_sessions")
    print("\n== shipped model (trained on both datasets): standardised coefficients")
    for m in final:
        coefs = zip(m["inputs"], m["standardised_coef"], strict=True)
        print(
            f"{m['name']:<10} thr {m['threshold']:.2f} confidence factor {m['quality']:.2f}: "
            + ", ".join(f"{n} {c:+.2f}" for n, c in coefs)
        )
    print(f"\ntotal {time.perf_counter() - t_start:.1f} s")

    if args.write_model:
        n_win = sum(int(s.keep["original"].sum()) for s in both)
        n_pos = sum(int(s.y["original"].sum()) for s in both)
        extra = {
            "training": {
                "data": "Stress-Predict (Iqbal et al. 2022) S02-S25 (24 people) and the PhysioNet "
                "wearable-stress dataset (Hongn et al. 2025), stress sessions of "
                f"{len({s.person for s in ws})} people (protocols v1 and v2); Empatica E4",
                "labels": "Stress-Predict: Improved_All_Combined_hr_rsp_binary.csv; wearable-"
                "stress: tag segments (benchmarks/arousal_wearable.py, docs/estimates.md)",
                "windows": f"{WINDOW_S:g} s every {HOP_S:g} s; stress share in (0.2, 0.8) dropped",
                "n_windows": n_win,
                "n_stress": n_pos,
                "regularisation": f"L2, C={C_REG}",
                "script": "python -m benchmarks.train_arousal --write-model",
            },
            "validation": {
                "cross_dataset": {k: v["original"] for k, v in cross.items()},
                "cross_dataset_by_replay": cross,
                "method": "leave-one-person-out over both datasets, online pipeline, runtime "
                "estimator; balanced accuracy and macro F1 at each fold's threshold",
                **loso["original"],
                "reordered_schedule": {v: loso[v] for v in VARIANTS[1:]},
                "by_dataset": {k: v["original"] for k, v in by_part.items()},
                "time_only_reference_auc": leak_fig,
                "group_auc_drop": drops,
                "submodels_by_replay": sensor_fig,
                "exercise": exer,
                "exertion_flag_in_stress_sessions": flag_rate,
            },
        }
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        shipped = params_dict(final, {"exertion": exertion, **extra})
        MODEL_PATH.write_text(json.dumps(shipped, indent=1) + "\n")
        print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
