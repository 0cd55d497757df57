"""A person's own baseline of window features, learnt online from past windows only.

:class:`PersonalBaseline` keeps, for each named input, a weighted mean and variance of the
values seen so far, and turns new values into z-scores against them:

* **Calibration.** For the first ``calibration_s`` seconds of windows (counted from the first
  update), or between an explicit :meth:`~PersonalBaseline.start_calibration` and
  :meth:`~PersonalBaseline.stop_calibration`, every window has the same weight: the baseline is
  the plain mean and variance of the calibration windows.
* **Adaptation.** Afterwards the weights decay exponentially with time: a window's weight halves
  every ``half_life_s`` seconds. The update is the bias-corrected exponentially weighted mean and
  variance: with ``W`` the decayed sum of weights, each new value moves the mean by
  ``(x - mean) / W``. Right after calibration ``W`` is large (all calibration windows), so the
  baseline moves slowly at first; once ``W`` has settled (after a few half-lives) a step change
  of the input is half absorbed after ``half_life_s`` seconds.
* **Robust adaptation.** After calibration a value enters the baseline clipped to
  ``mean ± adapt_clip`` spreads (winsorised). Slow drift (electrodes settling, sweat building
  up) is followed; an episode (minutes of stress) moves the baseline by at most ``adapt_clip``
  spreads per window weight, so the baseline does not learn the episode as "normal", and the
  z-scores of later windows do not depend on which episodes happened to come before them.
  Because the clip is bounded, never zero, a lasting change is still absorbed, only slowly.
* **Consistent spread** (``consistent_spread``). A winsorised value's squared deviation is on
  average smaller than the true variance (at ``adapt_clip`` = 0.5 spreads, 0.185 of it for
  normal noise), so plain robust adaptation shrinks the spread window after window until it
  sits at the floor, and the z-scores at their clip. With ``consistent_spread`` the variance
  update divides the winsorised squared deviation by that expected share (the winsorised
  variance of a standard normal at the clip), so the spread stays an unbiased estimate under
  steady noise while an episode still moves it by a bounded amount.

Causality: :meth:`~PersonalBaseline.normalise` only reads the current statistics, which hold
the windows given to :meth:`~PersonalBaseline.update` before; the caller normalises a window and
*then* updates with it, so no z-score uses its own window or any later one. Nothing here uses the
time since the start as a value; time only sets the decay between updates.

Missing values (NaN, infinities) are skipped: they neither update nor get a z-score (NaN out).
The spread used for z-scores has a floor per input (``min_std``), so that a very steady baseline
does not turn tiny changes into huge z-scores, and z-scores are clipped to ``[-z_clip, z_clip]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wearsdk._errors import ConfigError

__all__ = ["BaselineConfig", "PersonalBaseline"]


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """Settings of :class:`PersonalBaseline`.

    Attributes:
        calibration_s: seconds of windows, from the first update, that form the calibration
            (equal weights); ``0`` disables the automatic calibration.
        half_life_s: after calibration, a window's weight halves every ``half_life_s`` seconds.
        z_clip: z-scores are clipped to ``[-z_clip, z_clip]``.
        auto_calibrate: start calibrating at the first update (else only on
            :meth:`PersonalBaseline.start_calibration`; before that the baseline adapts).
        adapt_clip: after calibration, values enter the baseline clipped to this many
            spreads around its mean; ``None`` lets them in unclipped.
        consistent_spread: with ``adapt_clip``, scale the winsorised squared deviations so
            the spread does not shrink under steady noise (see the module notes).
    """

    calibration_s: float = 180.0
    half_life_s: float = 1200.0
    z_clip: float = 5.0
    auto_calibrate: bool = True
    adapt_clip: float | None = 0.5
    consistent_spread: bool = False

    def __post_init__(self) -> None:
        if not (self.calibration_s >= 0 and self.half_life_s > 0 and self.z_clip > 0):
            raise ConfigError(f"invalid baseline configuration: {self!r}")
        if self.adapt_clip is not None and not self.adapt_clip > 0:
            raise ConfigError(f"adapt_clip must be > 0 or None, got {self.adapt_clip}")


def winsorised_share(c: float) -> float:
    """``E[min(|Z|, c)^2]`` for a standard normal ``Z``.

    The share of the variance that values winsorised at ``c`` standard deviations keep.
    """
    inside = math.erf(c / math.sqrt(2.0))  # P(|Z| < c)
    density = math.exp(-0.5 * c * c) / math.sqrt(2.0 * math.pi)
    return inside - 2.0 * c * density + c * c * (1.0 - inside)


@dataclass(slots=True)
class _Stat:
    weight: float = 0.0
    mean: float = 0.0
    var: float = 0.0


class PersonalBaseline:
    """Online personal baseline: calibration, then slow exponential adaptation.

    Args:
        names: the inputs tracked (e.g. ``("hr", "scl")``); other names are ignored.
        min_std: floor of the spread used for each input's z-score (default 1e-6).
        config: calibration and adaptation settings.

    Example:
        >>> b = PersonalBaseline(["hr"], min_std={"hr": 2.0})
        >>> for i in range(10):
        ...     z = b.normalise({"hr": 70.0})  # score first (past windows only)
        ...     b.update(5.0 * i, {"hr": 70.0})  # then learn from this window
        >>> b.normalise({"hr": 74.0})["hr"]
        2.0
    """

    def __init__(
        self,
        names: Iterable[str],
        *,
        min_std: Mapping[str, float] | None = None,
        config: BaselineConfig | None = None,
    ) -> None:
        self.names: tuple[str, ...] = tuple(names)
        self.min_std: dict[str, float] = {
            n: float((min_std or {}).get(n, 1e-6)) for n in self.names
        }
        self.config = config or BaselineConfig()
        self.reset()

    # -- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (the next update starts a calibration if ``auto_calibrate``)."""
        self._stats: dict[str, _Stat] = {n: _Stat() for n in self.names}
        self._last_t: float | None = None
        self._calibrating = False
        self._explicit = False
        self._cal_start: float | None = None
        self._first_t: float | None = None
        self._pending_start = False
        self._pending_stop = False

    def start_calibration(self) -> None:
        """Start a fresh calibration at the next update: forget the baseline, weight windows
        equally until :meth:`stop_calibration`.
        """  # noqa: D205
        self._stats = {n: _Stat() for n in self.names}
        self._calibrating = True
        self._explicit = True
        self._cal_start = None
        self._first_t = None
        self._pending_start = True
        self._pending_stop = False

    def stop_calibration(self) -> None:
        """End the calibration: from now on the baseline adapts with the half-life."""
        self._calibrating = False
        self._explicit = False
        self._pending_start = False

    @property
    def calibrating(self) -> bool:
        """Whether windows are currently collected with equal weights."""
        return self._calibrating

    @property
    def covered_s(self) -> float:
        """Seconds of windows in the baseline since it was (re)started (0 before any update)."""
        if self._first_t is None or self._last_t is None:
            return 0.0
        return self._last_t - self._first_t

    @property
    def progress(self) -> float:
        """Share in [0, 1] of the calibration length the baseline covers (1 when none set)."""
        cal = self.config.calibration_s
        if cal <= 0:
            return 1.0 if self._first_t is not None else 0.0
        if self._first_t is None:
            return 0.0
        return min(1.0, self.covered_s / cal)

    def mean(self, name: str) -> float:
        """Current baseline mean of ``name`` (NaN when nothing seen)."""
        s = self._stats[name]
        return s.mean if s.weight > 0 else math.nan

    def std(self, name: str) -> float:
        """Current baseline spread of ``name``, before the floor (NaN when nothing seen)."""
        s = self._stats[name]
        return math.sqrt(max(s.var, 0.0)) if s.weight > 0 else math.nan

    def weight(self, name: str) -> float:
        """Decayed sum of the weights of the windows behind ``name``'s baseline."""
        return self._stats[name].weight

    # -- use ----------------------------------------------------------------------------------
    def normalise(self, values: Mapping[str, float]) -> dict[str, float]:
        """Z-scores of ``values`` against the current baseline (does not update it).

        Args:
            values: input name to value; missing names and non-finite values give NaN.

        Returns:
            Name to z-score, clipped to ``[-z_clip, z_clip]``, for every tracked name; NaN when
            the value or the baseline is missing.
        """
        out: dict[str, float] = {}
        clip = self.config.z_clip
        for name in self.names:
            x = values.get(name, math.nan)
            s = self._stats[name]
            if not math.isfinite(x) or s.weight <= 0:
                out[name] = math.nan
                continue
            sd = max(math.sqrt(max(s.var, 0.0)), self.min_std[name])
            out[name] = min(clip, max(-clip, (x - s.mean) / sd))
        return out

    def update(self, t: float, values: Mapping[str, float]) -> None:
        """Add one window (ending at ``t``, session seconds) to the baseline.

        Call it after :meth:`normalise` for the same window. Non-finite values are skipped;
        times must not go backwards (an earlier ``t`` is treated as no time passing).

        Args:
            t: the window's end time.
            values: input name to value.
        """
        cfg = self.config
        if self._first_t is None:
            self._first_t = t
            self._cal_start = t
            if self._pending_start or (cfg.auto_calibrate and cfg.calibration_s > 0):
                self._calibrating = True
            self._pending_start = False
        if (
            self._calibrating
            and not self._explicit
            and self._cal_start is not None
            and t - self._cal_start >= cfg.calibration_s
        ):
            self._calibrating = False
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        decay = 1.0 if self._calibrating else 0.5 ** (dt / cfg.half_life_s)
        self._last_t = t if self._last_t is None else max(self._last_t, t)
        clip = cfg.adapt_clip
        share = 1.0
        if clip is not None and cfg.consistent_spread and not self._calibrating:
            share = winsorised_share(clip)
        for name in self.names:
            s = self._stats[name]
            s.weight *= decay
            x = values.get(name, math.nan)
            if not math.isfinite(x):
                continue
            if clip is not None and not self._calibrating and s.weight > 0:
                band = clip * max(math.sqrt(max(s.var, 0.0)), self.min_std[name])
                x = min(s.mean + band, max(s.mean - band, x))
            s.weight += 1.0
            alpha = 1.0 / s.weight
            d = x - s.mean
            s.mean += alpha * d
            winsorised = share if clip is not None and not self._calibrating else 1.0
            s.var = (1.0 - alpha) * (s.var + alpha * d * d / winsorised)
