"""Skin conductance (electrodermal activity) simulation driven by an arousal script."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.sim._script import ArousalScript

__all__ = ["EdaSimulator", "ScrEvent"]

_MIN_CONDUCTANCE_USIEMENS = 0.01
_KERNEL_SPAN_TAUS = 12.0  # a response is over (< 1e-5 of its peak) after 12 recovery constants
_MAX_RECOVERY_TAU_S = 6.0


@dataclass(frozen=True, slots=True)
class ScrEvent:
    """One simulated skin conductance response (SCR).

    The response is a Bateman function (a difference of two exponentials) scaled so that its
    peak equals ``amplitude_usiemens``::

        u = t - onset
        scr(t) = amplitude * (exp(-u / recovery_tau) - exp(-u / rise_tau)) / norm

    Attributes:
        onset_s: script time at which the response starts.
        amplitude_usiemens: peak height above the tonic level, µS.
        rise_tau_s: rise time constant (the peak comes 1 to 2.5 s after the onset).
        recovery_tau_s: recovery (decay) time constant.
    """

    onset_s: float
    amplitude_usiemens: float
    rise_tau_s: float
    recovery_tau_s: float

    @property
    def peak_delay_s(self) -> float:
        """Seconds from onset to peak."""
        r, d = self.rise_tau_s, self.recovery_tau_s
        return r * d * math.log(d / r) / (d - r)


class EdaSimulator:
    """Generates skin conductance (µS) whose tonic level and phasic responses follow arousal.

    The model is simple and documented, not a physiological reference:

    - **tonic level** (skin conductance level, SCL): ``scl_rest_usiemens +
      scl_gain_usiemens * a_slow(t)`` where ``a_slow`` is the script's arousal through a
      first-order lag of ``scl_tau_s`` (the level drifts up during arousal and recovers
      slowly), plus a slow Ornstein-Uhlenbeck wander of standard deviation
      ``scl_wander_usiemens`` (correlation time 120 s);
    - **phasic responses** (SCRs): a Poisson process whose rate goes from
      ``scr_rate_rest_per_min`` at arousal 0 to ``scr_rate_rest_per_min + scr_rate_gain_per_min``
      at arousal 1; each response has a log-normally distributed amplitude with median
      ``scr_amplitude_rest_usiemens + scr_amplitude_gain_usiemens * arousal`` and the classic
      shape of a fast rise (peak 1 to 2.5 s after onset) and a slow exponential recovery
      (time constant 3 to 6 s): see :class:`ScrEvent`;
    - **noise**: white Gaussian measurement noise of ``noise_usiemens``.

    Tonic level and responses are generated on an internal grid of ``step_s`` (lazily, as far
    as the latest time asked for) and do not depend on how the signal is sampled: any rate,
    any block size, the same underlying signal. Only the measurement noise is drawn per
    sample. Times are script seconds (0 = the script's start); negative times read as 0.

    Args:
        script: the arousal profile.
        seed: seed of the random generators (same seed and sample times, same signal).
        scl_rest_usiemens: tonic level at arousal 0.
        scl_gain_usiemens: tonic increase at sustained arousal 1.
        scl_tau_s: time constant of the tonic level's response to arousal.
        scl_wander_usiemens: standard deviation of the slow tonic wander.
        scr_rate_rest_per_min: responses per minute at arousal 0.
        scr_rate_gain_per_min: additional responses per minute at arousal 1.
        scr_amplitude_rest_usiemens: median response amplitude at arousal 0.
        scr_amplitude_gain_usiemens: additional median amplitude at arousal 1.
        noise_usiemens: standard deviation of the measurement noise.
        step_s: internal grid step.

    Raises:
        ConfigError: a negative level, gain, rate, amplitude or noise, or a non-positive time
            constant or step.
    """

    def __init__(
        self,
        script: ArousalScript,
        *,
        seed: int = 0,
        scl_rest_usiemens: float = 2.0,
        scl_gain_usiemens: float = 3.0,
        scl_tau_s: float = 25.0,
        scl_wander_usiemens: float = 0.15,
        scr_rate_rest_per_min: float = 1.0,
        scr_rate_gain_per_min: float = 8.0,
        scr_amplitude_rest_usiemens: float = 0.08,
        scr_amplitude_gain_usiemens: float = 0.5,
        noise_usiemens: float = 0.003,
        step_s: float = 0.1,
    ) -> None:
        nonneg = (
            scl_rest_usiemens,
            scl_gain_usiemens,
            scl_wander_usiemens,
            scr_rate_rest_per_min,
            scr_rate_gain_per_min,
            scr_amplitude_rest_usiemens,
            scr_amplitude_gain_usiemens,
            noise_usiemens,
        )
        if any(not (math.isfinite(v) and v >= 0) for v in nonneg):
            raise ConfigError("EDA levels, gains, rates, amplitudes and noise must be >= 0")
        if not (scl_tau_s > 0 and step_s > 0):
            raise ConfigError("scl_tau_s and step_s must be > 0")
        self.script = script
        """The arousal profile."""
        self.scl_rest_usiemens = scl_rest_usiemens
        self.scl_gain_usiemens = scl_gain_usiemens
        self.scl_tau_s = scl_tau_s
        self.scl_wander_usiemens = scl_wander_usiemens
        self.scr_rate_rest_per_min = scr_rate_rest_per_min
        self.scr_rate_gain_per_min = scr_rate_gain_per_min
        self.scr_amplitude_rest_usiemens = scr_amplitude_rest_usiemens
        self.scr_amplitude_gain_usiemens = scr_amplitude_gain_usiemens
        self.noise_usiemens = noise_usiemens
        self.step_s = step_s
        # one generator per purpose, each drawn in grid order: the signal does not depend on
        # how it is sampled (drawing n then m values equals drawing n + m at once)
        wander, onsets, shapes, noise = np.random.SeedSequence(seed).spawn(4)
        self._wander_rng = np.random.default_rng(wander)
        self._onset_rng = np.random.default_rng(onsets)
        self._shape_rng = np.random.default_rng(shapes)
        self._noise_rng = np.random.default_rng(noise)
        self._grid: list[float] = []  # tonic level at k * step_s
        self._slow = float(script.arousal_at(0.0)[0])  # lagged arousal, starts settled
        self._wander = 0.0
        self._events: list[ScrEvent] = []

    # -- the underlying (noise-free) signal --------------------------------------------------

    def _extend(self, t_end: float) -> None:
        """Generate the grid (tonic level and responses) up to at least ``t_end``."""
        n_needed = math.floor(max(t_end, 0.0) / self.step_s) + 2
        k0 = len(self._grid)
        if n_needed <= k0:
            return
        times = np.arange(k0, n_needed, dtype=np.float64) * self.step_s
        arousal = self.script.arousal_at(times)
        alpha = 1.0 - math.exp(-self.step_s / self.scl_tau_s)
        phi = math.exp(-self.step_s / 120.0)
        wander_kick = self.scl_wander_usiemens * math.sqrt(1.0 - phi * phi)
        kicks = self._wander_rng.normal(0.0, 1.0, times.size)
        draws = self._onset_rng.random(times.size)
        for i, (t, a) in enumerate(zip(times, arousal, strict=True)):
            self._slow += (float(a) - self._slow) * alpha
            self._wander = self._wander * phi + wander_kick * float(kicks[i])
            level = self.scl_rest_usiemens + self.scl_gain_usiemens * self._slow + self._wander
            self._grid.append(max(level, _MIN_CONDUCTANCE_USIEMENS))
            rate_per_s = (self.scr_rate_rest_per_min + self.scr_rate_gain_per_min * a) / 60.0
            if draws[i] < rate_per_s * self.step_s:
                self._events.append(self._new_event(float(t), float(a)))

    def _new_event(self, t: float, arousal: float) -> ScrEvent:
        rng = self._shape_rng
        median = self.scr_amplitude_rest_usiemens + self.scr_amplitude_gain_usiemens * arousal
        return ScrEvent(
            onset_s=t + float(rng.uniform(0.0, self.step_s)),
            amplitude_usiemens=median * float(rng.lognormal(0.0, 0.4)),
            rise_tau_s=float(rng.uniform(0.5, 1.2)),
            recovery_tau_s=float(rng.uniform(3.0, _MAX_RECOVERY_TAU_S)),
        )

    def tonic_usiemens(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Tonic skin conductance level (µS) at script time(s) ``t``, without noise."""
        tt = np.clip(np.atleast_1d(np.asarray(t, dtype=np.float64)), 0.0, None)
        if tt.size == 0:
            return tt
        self._extend(float(tt.max()))
        grid = np.asarray(self._grid)
        level: npt.NDArray[np.float64] = np.interp(
            tt / self.step_s, np.arange(grid.size, dtype=np.float64), grid
        )
        return level

    def phasic_usiemens(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Sum of the skin conductance responses (µS) at script time(s) ``t``, without noise."""
        tt = np.clip(np.atleast_1d(np.asarray(t, dtype=np.float64)), 0.0, None)
        out = np.zeros(tt.shape)
        if tt.size == 0:
            return out
        t_max = float(tt.max())
        self._extend(t_max)
        t_min = float(tt.min())
        for event in self.scr_events(t_min - _KERNEL_SPAN_TAUS * _MAX_RECOVERY_TAU_S, t_max):
            r, d = event.rise_tau_s, event.recovery_tau_s
            lag = tt - event.onset_s
            # truncated where it is over, the same way whatever the query: any block size
            # gives the same signal
            active = (lag > 0) & (lag <= _KERNEL_SPAN_TAUS * d)
            if not active.any():
                continue
            peak = event.peak_delay_s
            norm = math.exp(-peak / d) - math.exp(-peak / r)
            la = lag[active]
            out[active] += event.amplitude_usiemens * (np.exp(-la / d) - np.exp(-la / r)) / norm
        return out

    def scr_events(self, t0: float, t1: float) -> list[ScrEvent]:
        """The responses whose onset lies in ``[t0, t1]`` (generated up to ``t1`` if needed)."""
        self._extend(t1)
        return [e for e in self._events if t0 <= e.onset_s <= t1]

    # -- what a sensor measures -------------------------------------------------------------

    def sample_usiemens(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Skin conductance (µS) at script time(s) ``t``: tonic + responses + noise.

        Args:
            t: script times in seconds, any shape that flattens to 1-D, any order.

        Returns:
            One value per time, at least 0.01 µS.
        """
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64)).ravel()
        value = self.tonic_usiemens(tt) + self.phasic_usiemens(tt)
        if self.noise_usiemens > 0 and tt.size:
            value = value + self._noise_rng.normal(0.0, self.noise_usiemens, tt.size)
        return np.maximum(value, _MIN_CONDUCTANCE_USIEMENS)
