"""The exertion detector: resting reference, movement, recovery hold; its use by the estimator."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wearsdk.affect import (
    ArousalEstimator,
    ArousalModelParams,
    ExertionConfig,
    ExertionDetector,
    StressLevelConfig,
)
from wearsdk.affect._exertion import level_input

from .test_affect import _shipped_raw, calm, noisy_session, run

NAN = math.nan
# the v4 rules, with the resting-reference rules on
CFG = ExertionConfig(rest_rise_bpm=25.0, acc_low_g=0.03, rest_rise_any_bpm=40.0, hold_s=60.0)


def test_defaults_leave_the_resting_rules_off() -> None:
    """An HR far above rest, without baseline or movement, is no exertion by the v4 rules alone."""
    det = ExertionDetector(ExertionConfig())
    assert not det.update(0.0, 60.0, NAN, NAN, 0.0)
    assert not det.update(5.0, 110.0, NAN, NAN, 0.05)
    assert det.resting_hr == pytest.approx(60.0, abs=0.01)  # relaxed by 5 bpm/h for 5 s


def test_rise_above_rest_with_movement_is_exertion_without_it_is_not() -> None:
    """rest_rise_bpm needs acc_low_g of movement; rest_rise_any_bpm needs none."""
    det = ExertionDetector(replace(CFG, hold_s=0.0))
    assert not det.update(0.0, 62.0, NAN, NAN, 0.01)
    # 28 bpm above rest, still wrist: a mental task may do that
    assert not det.update(5.0, 90.0, NAN, NAN, 0.01)
    # the same with pedalling movement of the wrist
    assert det.update(10.0, 90.0, NAN, NAN, 0.04)
    # 45 bpm above rest: exertion whatever the wrist does
    assert det.update(15.0, 107.0, NAN, NAN, 0.0)
    assert det.update(20.0, 107.0, NAN, NAN, None)


def test_baseline_rules_of_v4_still_apply() -> None:
    """HR 20 bpm above the baseline with flat EDA, or 35 above it whatever the EDA."""
    det = ExertionDetector(ExertionConfig())
    assert det.update(0.0, 92.0, 70.0, 0.5, 0.0)
    assert not det.update(5.0, 92.0, 70.0, 3.0, 0.0)  # the EDA follows: could be stress
    assert det.update(10.0, 106.0, 70.0, 3.0, 0.0)
    assert det.update(15.0, 80.0, 70.0, NAN, 0.2)  # wrist movement


def test_the_resting_reference_does_not_follow_a_rise_and_relaxes_slowly() -> None:
    """The reference is the lowest heart rate, relaxing upwards at rest_relax_bpm_per_h."""
    det = ExertionDetector(replace(CFG, rest_relax_bpm_per_h=6.0))
    det.update(0.0, 70.0, NAN, NAN, 0.0)
    det.update(60.0, 65.0, NAN, NAN, 0.0)
    assert det.resting_hr == 65.0
    for k in range(1, 13):  # 12 minutes at 120 bpm
        det.update(60.0 + 60.0 * k, 120.0, NAN, NAN, 0.0)
    assert math.isclose(det.resting_hr, 65.0 + 6.0 * 12 / 60)
    det.update(800.0, NAN, NAN, NAN, 0.0)  # a window without heart rate changes nothing
    assert math.isclose(det.resting_hr, 65.0 + 6.0 * 12 / 60)
    det.reset()
    assert math.isnan(det.resting_hr)


def test_a_flag_is_held_through_recovery_then_released() -> None:
    det = ExertionDetector(replace(CFG, hold_s=60.0))
    det.update(0.0, 60.0, NAN, NAN, 0.0)
    assert det.update(5.0, 110.0, NAN, NAN, 0.0)
    assert det.update(40.0, 70.0, NAN, NAN, 0.0)  # recovering, within the hold
    assert det.update(65.0, 70.0, NAN, NAN, 0.0)
    assert not det.update(70.0, 70.0, NAN, NAN, 0.0)


def test_the_hold_follows_only_an_effort_that_lasted() -> None:
    """hold_after_s: a flag raised for less than that long is not held; an effort flagged
    without a break for that long is held up to hold_s after its last window."""
    cfg = ExertionConfig(cadence_periodicity=0.5, hold_s=120.0, hold_after_s=60.0)
    det = ExertionDetector(cfg)
    # a burst of rhythmic gestures: 30 s of flags, then nothing: no hold
    for t in range(0, 35, 5):
        assert det.update(float(t), 70.0, NAN, NAN, 0.01, 0.8)
    assert not det.update(35.0, 70.0, NAN, NAN, 0.01, 0.1)
    # a sprint: 90 s of rhythm, then recovery without it: held for 120 s after the last hit
    for t in range(100, 195, 5):
        assert det.update(float(t), 120.0, NAN, NAN, 0.01, 0.8)
    assert det.update(200.0, 110.0, NAN, NAN, 0.01, 0.1)
    assert det.update(310.0, 100.0, NAN, NAN, 0.01, 0.1)
    assert not det.update(315.0, 100.0, NAN, NAN, 0.01, 0.1)
    # the next effort starts afresh: a short one is not held
    assert det.update(400.0, 90.0, NAN, NAN, 0.01, 0.8)
    assert not det.update(405.0, 90.0, NAN, NAN, 0.01, 0.1)


def test_the_hold_ends_once_the_heart_rate_has_recovered() -> None:
    """recovery_fraction: the hold ends when the rise above the resting reference falls below
    that fraction of the effort's largest rise; a window without heart rate keeps it."""
    cfg = ExertionConfig(cadence_periodicity=0.5, hold_s=600.0, recovery_fraction=0.5)
    det = ExertionDetector(cfg)
    assert not det.update(0.0, 60.0, NAN, NAN, 0.01, 0.1)  # resting reference 60 bpm
    assert det.update(5.0, 140.0, NAN, NAN, 0.01, 0.8)  # rise 80
    assert det.update(10.0, 120.0, NAN, NAN, 0.01, 0.1)  # rise 60 >= 40: held
    assert det.update(15.0, NAN, NAN, NAN, 0.01, 0.1)  # no heart rate: held
    assert det.update(20.0, 101.0, NAN, NAN, 0.01, 0.1)  # rise 41: held
    assert not det.update(25.0, 99.0, NAN, NAN, 0.01, 0.1)  # rise 39 < 40: recovered
    assert not det.update(30.0, 120.0, NAN, NAN, 0.01, 0.1)  # the hold stays over
    # without the fraction the same windows are held for the whole hold_s
    plain = ExertionDetector(replace(cfg, recovery_fraction=0.0))
    plain.update(0.0, 60.0, NAN, NAN, 0.01, 0.1)
    plain.update(5.0, 140.0, NAN, NAN, 0.01, 0.8)
    assert plain.update(25.0, 99.0, NAN, NAN, 0.01, 0.1)
    assert plain.update(605.0, 65.0, NAN, NAN, 0.01, 0.1)
    assert not plain.update(610.0, 65.0, NAN, NAN, 0.01, 0.1)


def test_rhythmic_wrist_movement_is_exertion_when_the_rule_is_on() -> None:
    """cadence_periodicity flags a window by its ACC periodicity alone (pedalling with the hand
    on the handlebars: little activity, no heart-rate sign yet); off by default."""
    off = ExertionDetector(ExertionConfig())
    assert not off.update(0.0, 70.0, 70.0, 0.0, 0.01, 0.9)
    det = ExertionDetector(ExertionConfig(cadence_periodicity=0.5))
    assert not det.update(0.0, 70.0, 70.0, 0.0, 0.01, 0.3)  # seated movement
    assert det.update(5.0, 70.0, 70.0, 0.0, 0.01, 0.5)
    assert not det.update(10.0, 70.0, 70.0, 0.0, 0.01, NAN)  # no ACC periodicity: no sign
    assert not det.update(15.0, 70.0, 70.0, 0.0, 0.01, None)


def test_estimator_reads_the_periodicity_of_the_window() -> None:
    """The estimator passes the window's acc_periodicity to the rule: the same windows are
    flagged once they carry a rhythm, and their level cannot reach high."""
    cfg = StressLevelConfig(min_dwell_s=0.0)
    rest = [calm(hr=62.0, scl=2.0, acc_activity_g=0.01, acc_periodicity=0.2)] * 40
    ride = [calm(hr=80.0, scl=6.0, acc_activity_g=0.01, scr_rate_per_min=8.0)] * 40
    exertion = {
        "acc_g": 0.1,
        "hr_rise_bpm": 20.0,
        "hr_rise_any_bpm": 35.0,
        "cadence_periodicity": 0.5,
    }
    for per, flagged in ((0.25, False), (0.8, True)):
        windows = rest + [{**w, "acc_periodicity": per} for w in ride]
        out = run(ArousalEstimator(_params(exertion), stress_levels=cfg), windows)
        tail = [e for e in out[40:] if e is not None]
        assert tail
        assert all(("exertion" in e.flags) == flagged for e in tail)
        if flagged:
            assert not any(e.stress_level == "high" for e in tail)
        else:
            assert any(e.stress_level == "high" for e in tail)


def test_level_input_holds_exertion_below_high() -> None:
    assert level_input(0.9, True, 0.75) < 0.75
    assert level_input(0.6, True, 0.75) == 0.6
    assert level_input(0.9, False, 0.75) == 0.9
    assert level_input(0.9, True, 0.75, 0.1) < 0.65


def _params(exertion: dict[str, float] | None) -> ArousalModelParams:
    raw: dict[str, Any] = {**_shipped_raw(), "exertion": exertion}
    return ArousalModelParams.from_dict(raw)


def test_estimator_flags_cycling_that_the_baseline_calibrated_on() -> None:
    """A session that starts with the warm-up: the baseline calibrates on 85 bpm and sweating
    EDA, so the v4 baseline rules miss the ride; the resting reference (the first minutes at
    62 bpm) catches it, and the level never reaches high."""
    cfg = StressLevelConfig(min_dwell_s=0.0)
    rest = [calm(hr=62.0, scl=2.0, acc_activity_g=0.01)] * 6
    warm = [calm(hr=85.0, scl=3.0, acc_activity_g=0.04)] * 40
    ride = [
        calm(hr=85.0 + min(25.0, i), scl=3.0 * 1.02**i, acc_activity_g=0.05, scr_rate_per_min=6.0)
        for i in range(60)
    ]
    windows = rest + warm + ride
    base = {"acc_g": 0.1, "hr_rise_bpm": 20.0, "eda_z_max": 2.0, "hr_rise_any_bpm": 35.0}
    plain = run(ArousalEstimator(_params(base), stress_levels=cfg), windows)
    new = {**base, "rest_rise_bpm": 25.0, "acc_low_g": 0.03}
    flagged = run(ArousalEstimator(_params(new), stress_levels=cfg), windows)
    tail_plain = [e for e in plain[60:] if e is not None]
    tail = [e for e in flagged[60:] if e is not None]
    assert any(e.stress_level == "high" and "exertion" not in e.flags for e in tail_plain)
    assert all("exertion" in e.flags for e in tail)
    assert not any(e.stress_level == "high" for e in tail)
    # the calm start is not flagged
    assert not any(e is not None and "exertion" in e.flags for e in flagged[:6])


def test_shipped_model_does_not_flag_a_seated_calm_session() -> None:
    est = ArousalEstimator()
    out = run(est, noisy_session(120, seed=3))
    assert not any(e is not None and "exertion" in e.flags for e in out)


@pytest.mark.data
@pytest.mark.timeout(300)
def test_real_cycling_session_is_flagged_where_v4_rules_let_it_reach_high(data_dir: Path) -> None:
    """A real stationary-bike session (wearable-stress, AEROBIC f02) through the online feature
    pipeline: the shipped rules flag more of it than arousal-v4's rules alone, and fewer of its
    windows reach ``high`` unflagged. A wiring and regression check on one session (its person
    is in the training data); the nested figures come from ``python -m
    benchmarks.train_arousal``."""
    import benchmarks.arousal_wearable as aw
    import benchmarks.train_arousal as ta

    streams, start, end, _ = aw.session_streams(data_dir / "wearable_stress" / "AEROBIC" / "f02")
    windows = ta.extract(streams, start, end)
    shipped = ArousalEstimator()
    assert shipped.params.exertion is not None
    assert math.isfinite(shipped.params.exertion.rest_rise_bpm)
    v4 = {"acc_g": 0.1, "hr_rise_bpm": 20.0, "eda_z_max": 2.0, "hr_rise_any_bpm": 35.0}
    out = {}
    for name, est in (("shipped", shipped), ("v4", ArousalEstimator(_params(v4)))):
        out[name] = [e for e in (ta.step(est, w) for w in windows) if e is not None]
    assert len(out["shipped"]) == len(out["v4"]) > 300

    def share(es: list[Any], high_only: bool) -> float:
        hit = [
            ("exertion" not in e.flags) and e.stress_level == "high"
            if high_only
            else "exertion" in e.flags
            for e in es
        ]
        return sum(hit) / len(hit)

    assert share(out["shipped"], False) > share(out["v4"], False) + 0.1
    assert share(out["shipped"], True) < share(out["v4"], True)
    # a flagged window never raises the level to high, and a level that was high before the
    # exertion falls once its minimum dwell (60 s, 12 windows here) is over
    es = out["shipped"]
    for i in range(1, len(es)):
        if "exertion" in es[i].flags and es[i].stress_level == "high":
            assert es[i - 1].stress_level == "high"
            assert any("exertion" not in e.flags for e in es[max(0, i - 13) : i])


@pytest.mark.data
@pytest.mark.timeout(300)
def test_real_sprint_session_recovery_is_held(data_dir: Path) -> None:
    """A real sprint session (wearable-stress, ANAEROBIC S05) through the online feature
    pipeline: the shipped recovery hold keeps the flag on windows after the sprints that the
    same rules without the hold leave unflagged, and fewer of them reach ``high`` unflagged.
    A wiring and regression check on one session (its person is in the training data); the
    nested figures come from ``python -m benchmarks.train_arousal``."""
    import benchmarks.arousal_wearable as aw
    import benchmarks.train_arousal as ta

    streams, start, end, _ = aw.session_streams(data_dir / "wearable_stress" / "ANAEROBIC" / "S05")
    windows = ta.extract(streams, start, end)
    shipped = ArousalEstimator()
    cfg = shipped.params.exertion
    assert cfg is not None
    assert cfg.hold_s > 0
    assert cfg.hold_after_s > 0
    no_hold = {k: v for k, v in _shipped_raw()["exertion"].items() if math.isfinite(v)}
    no_hold["hold_s"] = 0.0
    out = {}
    for name, est in (("shipped", shipped), ("no_hold", ArousalEstimator(_params(no_hold)))):
        out[name] = [e for e in (ta.step(est, w) for w in windows) if e is not None]
    assert len(out["shipped"]) == len(out["no_hold"]) > 150
    held = [
        i
        for i, (a, b) in enumerate(zip(out["shipped"], out["no_hold"], strict=True))
        if "exertion" in a.flags and "exertion" not in b.flags
    ]
    assert held
    # the hold only adds flags, and only after a flag
    for a, b in zip(out["shipped"], out["no_hold"], strict=True):
        assert "exertion" in a.flags or "exertion" not in b.flags
    assert all("exertion" in out["shipped"][i - 1].flags for i in held)

    def unflagged_high(es: list[Any]) -> int:
        return sum("exertion" not in e.flags and e.stress_level == "high" for e in es)

    assert unflagged_high(out["shipped"]) < unflagged_high(out["no_hold"])
