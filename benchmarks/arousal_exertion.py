"""Exertion thresholds chosen by nested selection, and the exercise figures they give.

The exertion rule (:class:`wearsdk.affect.ExertionDetector`) has thresholds a physiologist can
argue for but not pin down: how far above the wearer's resting heart rate an effort begins,
how much wrist movement goes with it, how long recovery lasts. They are chosen here on data,
never on the person they are scored on:

* every session is scored once by its leave-one-person-out fold model (the arousal and
  confidence of every window do not depend on the exertion rule, only the flag, the
  confidence factor and the stress level do);
* for each candidate in :data:`GRID`, the runtime detector and stress-level tracker are run
  over every window: per person, the exercise windows at ``high`` without the flag, and the
  labelled stress-session windows (rest, stress task) flagged ``exertion``;
* **selection rule, fixed before any figure was seen**: among the candidates whose flag fires
  on at most :data:`MAX_FLAG_RATE` of the rest windows and of the stress-task windows of the
  selecting people, the one with the lowest share of exercise windows at ``high`` without the
  flag (ties: fewer flags in the stress tasks);
* **nested**: each person's figures (exercise and stress sessions) come from the candidate
  selected on the *other* people; the shipped thresholds are the candidate selected on
  everyone.

One caveat, stated rather than hidden: the arousal of a selecting person comes from their own
leave-one-person-out model, which was trained on the held-out person's stress labels among
others'. The selection never reads the held-out person's exercise windows or flags.

Usage: ``python -m benchmarks.train_arousal`` runs this (it needs the fold models); the
figures are printed under "exercise sessions" and stored in the model file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk.affect import (
    ArousalEstimator,
    ArousalModelParams,
    ExertionConfig,
    ExertionDetector,
    StressLevelTracker,
    model_inputs,
)
from wearsdk.affect._exertion import level_input

FloatArray = npt.NDArray[np.float64]

# the rules of arousal-v4, fixed before any exercise session was scored; the candidates add the
# resting-reference rules, the rhythm rule and the recovery hold to them
BASE = ExertionConfig(
    acc_g=0.1, hr_rise_bpm=20.0, eda_z_max=2.0, hr_rise_any_bpm=35.0, confidence_factor=0.5
)
# the recovery hold: (hold_s, hold_after_s, recovery_fraction). No hold; a hold after any flag
# (the previous grid's); a hold only after an effort flagged for 2, 3 or 5 minutes without a
# break (sprints and rides are; a burst of gestures in a chair rarely is), up to 2, 5 or 10
# minutes, either whatever the heart rate does or ending once it has come back to half its
# rise above the resting reference
HOLDS: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0), (120.0, 0.0, 0.0), (300.0, 0.0, 0.0)]
HOLDS += list(itertools.product((120.0, 300.0, 600.0), (120.0, 180.0, 300.0), (0.0, 0.5)))
GRID: list[ExertionConfig] = [
    replace(
        BASE,
        rest_rise_bpm=r,
        acc_low_g=a,
        rest_rise_any_bpm=ra,
        cadence_periodicity=c,
        hold_s=h,
        hold_after_s=ha,
        recovery_fraction=f,
    )
    for (r, a), ra, c, (h, ha, f) in itertools.product(
        # the resting-reference rule: bpm above the reference with ACC activity of at least
        # acc_low_g (g), or off
        [(r, a) for r in (20.0, 25.0, 30.0) for a in (0.03, 0.04)] + [(math.inf, 0.0)],
        (40.0, math.inf),  # bpm above the reference whatever the wrist does, or off
        # acc_periodicity: band-limited noise sits near 0.2, a steady rhythm near 1
        (0.45, 0.5, 0.55, 0.6),
        HOLDS,
    )
]
MAX_FLAG_RATE = 0.10


@dataclass
class Windows:
    """What the exertion rule and the level tracker need of one session's windows."""

    person: str
    kind: str  # "exercise" or "stress"
    t: FloatArray
    hr: FloatArray
    hr_baseline: FloatArray  # NaN while the baseline is not calibrated
    eda_z: FloatArray
    activity: FloatArray
    periodicity: FloatArray  # acc_periodicity (NaN without it)
    arousal: FloatArray
    confidence: FloatArray  # before the exertion factor
    label: FloatArray  # 1 stress task, 0 rest, NaN unlabelled or ambiguous (exercise: NaN)


def session_windows(
    person: str,
    kind: str,
    windows: Sequence[dict[str, Any]],
    params: dict[str, Any],
    label: FloatArray | None = None,
) -> Windows:
    """Score ``windows`` (cached feature windows) with ``params`` without the exertion rule."""
    p = ArousalModelParams.from_dict({**params, "exertion": None})
    est = ArousalEstimator(p, stress_levels=False)
    keys = ("t", "hr", "b", "z", "a", "per", "ar", "c", "y")
    cols: dict[str, list[float]] = {k: [] for k in keys}
    lab = label if label is not None else np.full(len(windows), math.nan)
    for w, y in zip(windows, lab, strict=True):
        e = est.step(
            window_start=w["start"],
            window_end=w["end"],
            features=w["values"],
            coverage=w["quality"].get("rr_coverage", 0.0),
            modalities=w["modalities"],
            flags=w["flags"],
            quality=w["quality"],
        )
        if e is None:
            continue
        calibrated = est.baseline.progress >= 1.0
        act = w["values"].get("acc_activity_g")
        cols["t"].append(w["end"])
        cols["hr"].append(model_inputs(w["values"], p.inputs).get("hr", math.nan))
        cols["b"].append(est.baseline.mean("hr") if calibrated else math.nan)
        cols["z"].append(est.last_z.get("ln_scl", math.nan))
        cols["a"].append(math.nan if act is None else float(act))
        cols["per"].append(float(w["values"].get("acc_periodicity", math.nan)))
        cols["ar"].append(e.arousal)
        cols["c"].append(e.confidence)
        cols["y"].append(float(y))
    a = {k: np.array(v, dtype=np.float64) for k, v in cols.items()}
    return Windows(person, kind, *(a[k] for k in keys))


def run_rule(
    s: Windows,
    cfg: ExertionConfig,
    levels: StressLevelTracker,
    memo: dict[tuple[bytes, float], npt.NDArray[np.bool_]] | None = None,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The runtime detector and level tracker over one session: (flagged, at ``high``).

    ``memo`` (one per session) keeps the levels of each flag sequence already tracked: the
    levels depend on the candidate only through its flags and confidence factor.
    """
    det = ExertionDetector(cfg)
    flag = np.zeros(s.t.size, dtype=bool)
    for i in range(s.t.size):
        flag[i] = det.update(
            float(s.t[i]),
            float(s.hr[i]),
            float(s.hr_baseline[i]),
            float(s.eda_z[i]),
            float(s.activity[i]),
            float(s.periodicity[i]),
        )
    key = (flag.tobytes(), cfg.confidence_factor)
    if memo is not None and key in memo:
        return flag, memo[key]
    levels.reset()
    high, hyst = levels.config.high, levels.config.hysteresis
    at_high = np.zeros(s.t.size, dtype=bool)
    for i in range(s.t.size):
        f = bool(flag[i])
        c = float(s.confidence[i]) * (cfg.confidence_factor if f else 1.0)
        lvl = levels.update(float(s.t[i]), level_input(float(s.arousal[i]), f, high, hyst), c)
        at_high[i] = lvl == "high"
    if memo is not None:
        memo[key] = at_high
    return flag, at_high


# counts per person and candidate: exercise windows, at high without flag, at high, flagged;
# rest windows, flagged; stress-task windows, flagged
_N = 8


def counts(
    sessions: Sequence[Windows], grid: Sequence[ExertionConfig], levels: StressLevelTracker
) -> tuple[list[str], FloatArray]:
    """Per person and candidate, the counts behind every figure (shape person x grid x 8)."""
    people = sorted({s.person for s in sessions})
    idx = {p: i for i, p in enumerate(people)}
    out = np.zeros((len(people), len(grid), _N))
    for s in sessions:
        memo: dict[tuple[bytes, float], npt.NDArray[np.bool_]] = {}
        for g, cfg in enumerate(grid):
            flag, high = run_rule(s, cfg, levels, memo)
            row = out[idx[s.person], g]
            if s.kind == "exercise":
                row[0] += flag.size
                row[1] += int((high & ~flag).sum())
                row[2] += int(high.sum())
                row[3] += int(flag.sum())
            else:
                for k, y in ((4, 0.0), (6, 1.0)):
                    m = s.label == y
                    row[k] += int(m.sum())
                    row[k + 1] += int((flag & m).sum())
    return people, out


def select(c: FloatArray) -> int:
    """The candidate the selection rule picks from summed counts (grid x 8)."""
    rest = c[:, 5] / np.maximum(c[:, 4], 1)
    task = c[:, 7] / np.maximum(c[:, 6], 1)
    hw = c[:, 1] / np.maximum(c[:, 0], 1)
    ok = (rest <= MAX_FLAG_RATE) & (task <= MAX_FLAG_RATE)
    if not ok.any():
        ok = rest + task <= (rest + task).min()
    order = np.lexsort((task, hw))  # by hw, then task
    return int(next(i for i in order if ok[i]))


def nested(people: list[str], c: FloatArray) -> tuple[dict[str, int], int]:
    """The candidate selected for each person (on everyone else) and on everyone."""
    total = c.sum(axis=0)
    return {p: select(total - c[i]) for i, p in enumerate(people)}, select(total)


def config_dict(cfg: ExertionConfig) -> dict[str, float]:
    """The JSON form of a configuration (rules that are off are left out)."""
    return {k: v for k, v in asdict(cfg).items() if math.isfinite(v)}


def describe(cfg: ExertionConfig) -> str:
    """The selected values of a candidate, one line."""
    keys = (
        "rest_rise_bpm",
        "acc_low_g",
        "rest_rise_any_bpm",
        "cadence_periodicity",
        "hold_s",
        "hold_after_s",
        "recovery_fraction",
    )
    return ", ".join(f"{k}={getattr(cfg, k):g}" for k in keys)


def report(
    sessions: Sequence[Windows],
    exercise_kind: dict[int, str],
    levels: StressLevelTracker,
    grid: Sequence[ExertionConfig] = GRID,
) -> tuple[dict[str, Any], ExertionConfig]:
    """Nested figures and the configuration selected on everyone.

    Args:
        sessions: every exercise and labelled stress session (original order).
        exercise_kind: ``id(session)`` to ``AEROBIC`` / ``ANAEROBIC`` for exercise sessions.
        levels: the shipped stress-level tracker (reset per session).
        grid: the candidates.
    """
    people, c = counts(sessions, grid, levels)
    chosen, final = nested(people, c)
    idx = {p: i for i, p in enumerate(people)}
    fig: dict[str, Any] = {}
    print(f"\n== exertion: {len(grid)} candidates, nested selection (a person never selects)")
    print(
        "kind        sessions windows  at high  flagged exertion  high without flag"
        "   per session (median, 90th pct, worst)"
    )
    for kind in ("AEROBIC", "ANAEROBIC"):
        rows = []
        for s in sessions:
            if exercise_kind.get(id(s)) != kind:
                continue
            flag, high = run_rule(s, grid[chosen[s.person]], levels)
            rows.append((flag.size, int(high.sum()), int(flag.sum()), int((high & ~flag).sum())))
        a = np.array(rows, dtype=np.float64)
        n = a[:, 0].sum()
        per = a[:, 3] / np.maximum(a[:, 0], 1)
        f = {
            "sessions": len(rows),
            "windows": int(n),
            "high": round(float(a[:, 1].sum() / n), 3),
            "exertion_flag": round(float(a[:, 2].sum() / n), 3),
            "high_without_flag": round(float(a[:, 3].sum() / n), 3),
            "high_without_flag_session_median": round(float(np.median(per)), 3),
            "high_without_flag_session_p90": round(float(np.percentile(per, 90)), 3),
            "high_without_flag_worst_session": round(float(per.max()), 3),
        }
        fig[kind.lower()] = f
        print(
            f"{kind:<11} {len(rows):>8} {int(n):>7}  {f['high']:.3f}    {f['exertion_flag']:.3f}"
            f"             {f['high_without_flag']:.3f}              "
            f"{f['high_without_flag_session_median']:.3f}, "
            f"{f['high_without_flag_session_p90']:.3f}, "
            f"{f['high_without_flag_worst_session']:.3f}"
        )
    # stress sessions: each person with the candidate selected on the others
    st = np.zeros(4)
    for p in people:
        st += c[idx[p], chosen[p], 4:8]
    flags: dict[str, float] = {
        "rest": round(float(st[1] / max(st[0], 1)), 3),
        "stress": round(float(st[3] / max(st[2], 1)), 3),
    }
    # per stress session: the share of its rest and of its stress-task windows flagged
    shares: dict[str, list[float]] = {"rest": [], "stress": []}
    for s in sessions:
        if s.kind != "stress":
            continue
        flag, _ = run_rule(s, grid[chosen[s.person]], levels)
        for key, y in (("rest", 0.0), ("stress", 1.0)):
            m = s.label == y
            if m.any():
                shares[key].append(float(flag[m].mean()))
    for key, v in shares.items():
        a = np.array(v)
        flags[f"{key}_session_median"] = round(float(np.median(a)), 3)
        flags[f"{key}_session_p90"] = round(float(np.percentile(a, 90)), 3)
        flags[f"{key}_worst_session"] = round(float(a.max()), 3)
    fig["exertion_flag_in_stress_sessions"] = flags
    print(
        f"exertion flag in the stress sessions (nested): rest windows {flags['rest']:.3f} "
        f"(per session: median {flags['rest_session_median']:.3f}, 90th pct "
        f"{flags['rest_session_p90']:.3f}, worst {flags['rest_worst_session']:.3f}), "
        f"stress-task windows {flags['stress']:.3f} (per session: median "
        f"{flags['stress_session_median']:.3f}, 90th pct {flags['stress_session_p90']:.3f}, "
        f"worst {flags['stress_worst_session']:.3f})"
    )
    picks: dict[int, int] = {}
    for g in chosen.values():
        picks[g] = picks.get(g, 0) + 1
    fig["candidates_selected"] = {
        describe(grid[g]): n for g, n in sorted(picks.items(), key=lambda kv: -kv[1])
    }
    print("selected per person:")
    for k, n in fig["candidates_selected"].items():
        print(f"  {n:>3} x {k}")
    print(f"selected on everyone (shipped): {describe(grid[final])}")
    fig["selection"] = (
        f"{len(grid)} candidates; on the selecting people, flag rate <= {MAX_FLAG_RATE} on rest "
        "and on stress-task windows, then least exercise at high without the flag; each person "
        "scored with the candidate selected on the others"
    )
    return fig, grid[final]
