"""Physical exertion: when a rise in arousal has a physical rather than a mental cause.

:class:`ExertionDetector` flags a window ``exertion`` from patterns that mental stress in the
laboratory rarely produces:

* **wrist movement** (ACC activity above ``acc_g``);
* **heart rate without the matching EDA**: a heart rate far above the wearer's adapting
  baseline while the skin conductance stays near its own;
* **heart rate far above rest**: a heart rate well above the wearer's *resting reference*
  (the lowest window heart rate of the session, relaxing slowly upwards), together with some
  movement, or far enough above it whatever the wrist does. The adapting baseline is no
  reference for this: a session that starts with a warm-up calibrates on it, and the baseline
  then follows a slow rise; the resting reference does not follow a rise;
* **rhythmic movement**: pedalling or running rocks the wrist at the cadence even when it
  hardly moves otherwise (a hand on a bike's handlebars); a window whose raw ACC has an
  ``acc_periodicity`` (:class:`~wearsdk.signals.FeatureExtractor` feature: autocorrelation of
  1-3 Hz movement) of at least ``cadence_periodicity`` is flagged. Seated movement (typing,
  gestures) is not periodic over a minute;
* **recovery**: a flag is held up to ``hold_s`` seconds after the last window that raised it
  (heart rate and sweat stay up after an effort, a sprint's for minutes after the legs stop).
  With ``recovery_fraction`` above 0 the hold ends sooner, once the heart rate has come back
  towards the resting reference: when its rise above the reference falls below that fraction of
  the largest rise of the effort (the windows that raised the flag).

A flagged estimate has its confidence multiplied by ``confidence_factor`` and its stress level
can neither rise to nor stay at ``high`` (:func:`level_input`); its arousal is left as the
model computed it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ExertionConfig", "ExertionDetector", "level_input"]


@dataclass(frozen=True, slots=True)
class ExertionConfig:
    """When a window counts as physical exertion rather than a mental stressor.

    A window is flagged ``exertion`` when its ACC activity exceeds ``acc_g``; or its heart rate
    is at least ``hr_rise_bpm`` above the wearer's baseline while the skin conductance is less
    than ``eda_z_max`` baseline spreads above its own (a window without EDA needs the larger
    rise ``hr_rise_any_bpm``); or its heart rate is at least ``rest_rise_bpm`` above the
    resting reference with ACC activity of at least ``acc_low_g``, or ``rest_rise_any_bpm``
    above it whatever the ACC; or its ACC periodicity is at least ``cadence_periodicity``; and
    for ``hold_s`` seconds after any of these (with ``recovery_fraction`` above 0, only while
    the heart rate stays at least that fraction of the effort's largest rise above the resting
    reference).
    Flagged estimates have their confidence multiplied by ``confidence_factor`` and their stress
    level cannot rise to ``high``.

    Attributes:
        acc_g: ACC activity (SD of the magnitude, g) from which movement is exertion.
        hr_rise_bpm: heart-rate rise above the baseline mean that counts as exertion.
        eda_z_max: the ln SCL z-score below which an HR rise is not matched by EDA.
        hr_rise_any_bpm: a rise this large counts as exertion whatever the EDA does.
        confidence_factor: the confidence multiplier of flagged estimates.
        rest_rise_bpm: heart rate above the resting reference that, with ACC activity of at
            least ``acc_low_g``, counts as exertion (``inf``: rule off).
        acc_low_g: the ACC activity that ``rest_rise_bpm`` needs.
        rest_rise_any_bpm: heart rate above the resting reference that counts as exertion
            whatever the ACC (``inf``: rule off).
        rest_relax_bpm_per_h: how fast the resting reference relaxes upwards (bpm per hour)
            when no lower heart rate comes, so that a day's low does not stay the reference.
        hold_s: how long a flag is held, at most, after the last window that raised it.
        recovery_fraction: 0: the hold lasts ``hold_s`` whatever the heart rate does; above 0,
            it ends once the heart rate's rise above the resting reference is below this
            fraction of the largest rise among the windows that raised the flag (a window
            without heart rate keeps the hold).
        hold_after_s: the hold follows only an effort flagged this long without a break
            (from its first window that raised the flag to its last); a shorter one (a burst of
            gestures, a few rhythmic seconds) is flagged only while it lasts.
        cadence_periodicity: the ``acc_periodicity`` (1-3 Hz rhythmic movement) from which a
            window counts as exertion (``inf``: rule off).
    """

    acc_g: float = 0.1
    hr_rise_bpm: float = 20.0
    eda_z_max: float = 2.0
    hr_rise_any_bpm: float = 35.0
    confidence_factor: float = 0.5
    rest_rise_bpm: float = math.inf
    acc_low_g: float = 0.0
    rest_rise_any_bpm: float = math.inf
    rest_relax_bpm_per_h: float = 5.0
    hold_s: float = 0.0
    cadence_periodicity: float = math.inf
    recovery_fraction: float = 0.0
    hold_after_s: float = 0.0


class ExertionDetector:
    """Flags windows of physical exertion, one window at a time (see the module docs).

    Args:
        config: the thresholds.
    """

    def __init__(self, config: ExertionConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget the resting reference and any held flag (a new wearer or session)."""
        self._rest = math.nan
        self._rest_t = math.nan
        self._until = -math.inf
        self._peak = math.nan  # the effort's largest heart-rate rise above the resting reference
        self._start = math.nan  # the effort's first window that raised the flag
        self._flagged = False  # whether the last window was flagged

    @property
    def resting_hr(self) -> float:
        """The current resting reference in bpm (NaN before the first heart rate)."""
        return self._rest

    def update(
        self,
        t: float,
        hr: float,
        hr_baseline: float,
        eda_z: float,
        activity: float | None,
        periodicity: float | None = None,
    ) -> bool:
        """Feed one window; return whether it is flagged ``exertion``.

        Args:
            t: window end, session seconds.
            hr: the window's heart rate in bpm (NaN when missing).
            hr_baseline: the baseline mean heart rate (NaN while the baseline is not
                calibrated: the baseline rules are then off).
            eda_z: the window's ln SCL baseline z-score (NaN without EDA).
            activity: the window's ACC activity in g (``None`` or NaN without ACC).
            periodicity: the window's ``acc_periodicity`` (``None`` or NaN without it).
        """
        cfg = self.config
        act = activity if activity is not None and math.isfinite(activity) else math.nan
        if math.isfinite(hr):
            if math.isfinite(self._rest):
                relaxed = self._rest + cfg.rest_relax_bpm_per_h * max(0.0, t - self._rest_t) / 3600
                self._rest = min(relaxed, hr)
            else:
                self._rest = hr
            self._rest_t = t
        per = periodicity if periodicity is not None and math.isfinite(periodicity) else math.nan
        hit = act > cfg.acc_g or per >= cfg.cadence_periodicity
        moving = act >= cfg.acc_low_g or cfg.acc_low_g <= 0
        if not hit and math.isfinite(hr):
            rise = hr - hr_baseline
            above_rest = hr - self._rest
            hit = (
                rise >= cfg.hr_rise_any_bpm
                or (math.isfinite(eda_z) and rise >= cfg.hr_rise_bpm and eda_z < cfg.eda_z_max)
                or above_rest >= cfg.rest_rise_any_bpm
                or (above_rest >= cfg.rest_rise_bpm and moving)
            )
        rise_rest = hr - self._rest if math.isfinite(hr) else math.nan
        if hit:
            if not self._flagged:  # a new effort
                self._peak = math.nan
                self._start = t
            if math.isfinite(rise_rest):
                self._peak = rise_rest if math.isnan(self._peak) else max(self._peak, rise_rest)
            self._until = t + cfg.hold_s if t - self._start >= cfg.hold_after_s else t
            self._flagged = True
            return True
        # recovered (the rise above rest below the fraction of the effort's): the hold ends
        recovered = cfg.recovery_fraction > 0 and rise_rest < cfg.recovery_fraction * self._peak
        held = t <= self._until and not recovered
        if not held:
            self._until = -math.inf
        self._flagged = held
        return held


def level_input(arousal: float, exertion: bool, high: float, hysteresis: float = 0.0) -> float:
    """The probability the stress-level tracker sees: below ``high - hysteresis`` in exertion.

    A flagged window can neither raise the level to ``high`` nor keep it there (a level that
    was ``high`` before the exertion falls to ``medium`` once its minimum dwell is over).

    Args:
        arousal: the window's arousal.
        exertion: whether the window is flagged ``exertion``.
        high: the tracker's ``high`` threshold.
        hysteresis: the tracker's hysteresis (a level is kept down to ``high - hysteresis``).
    """
    return min(arousal, math.nextafter(high - hysteresis, 0.0)) if exertion else arousal
