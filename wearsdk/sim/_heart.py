"""Beat-by-beat heart simulation driven by an arousal script."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from wearsdk.sim._script import ArousalScript

__all__ = ["HeartSimulator"]


class HeartSimulator:
    """Generates RR intervals whose rate and variability follow an :class:`ArousalScript`.

    The model is deliberately simple and documented, not a physiological reference:
    heart rate rises linearly with arousal (``hr_rest_bpm`` to ``hr_rest_bpm + hr_gain_bpm``),
    respiratory sinus arrhythmia (RSA) shrinks with arousal (vagal withdrawal) while breathing
    speeds up (0.25 Hz calm to 0.4 Hz aroused), and each beat gets a little Gaussian jitter.

    Args:
        script: the arousal profile; script time 0 is the simulator's time 0.
        seed: seed of the random generator (same seed, same beats).
        hr_rest_bpm: heart rate at arousal 0.
        hr_gain_bpm: heart-rate increase at arousal 1.
        rsa_fraction: RSA amplitude at arousal 0, as a fraction of the RR interval.
        jitter_s: standard deviation of the per-beat jitter.
    """

    def __init__(
        self,
        script: ArousalScript,
        *,
        seed: int = 0,
        hr_rest_bpm: float = 62.0,
        hr_gain_bpm: float = 38.0,
        rsa_fraction: float = 0.07,
        jitter_s: float = 0.008,
    ) -> None:
        self.script = script
        self.hr_rest_bpm = hr_rest_bpm
        self.hr_gain_bpm = hr_gain_bpm
        self.rsa_fraction = rsa_fraction
        self.jitter_s = jitter_s
        self._rng = np.random.default_rng(seed)
        self._t_last_beat = 0.0
        self._resp_phase = 0.0

    @property
    def t_last_beat(self) -> float:
        """Simulator time of the last generated beat."""
        return self._t_last_beat

    def hr_at(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Noise-free heart rate (bpm) at simulator time(s) ``t``."""
        return self.hr_rest_bpm + self.hr_gain_bpm * self.script.arousal_at(t)

    def next_beat(self) -> float:
        """Generate one beat; return its RR interval in seconds."""
        t = self._t_last_beat
        arousal = float(self.script.arousal_at(t)[0])
        mean_rr = 60.0 / (self.hr_rest_bpm + self.hr_gain_bpm * arousal)
        resp_hz = 0.25 + 0.15 * arousal
        rsa = self.rsa_fraction * (1.0 - 0.8 * arousal)
        rr = mean_rr * (1.0 + rsa * np.sin(self._resp_phase))
        rr += self._rng.normal(0.0, self.jitter_s)
        rr = float(np.clip(rr, 0.3, 2.0))
        self._resp_phase = (self._resp_phase + 2 * np.pi * resp_hz * rr) % (2 * np.pi)
        self._t_last_beat = t + rr
        return rr

    def beats_until(self, t_end: float) -> list[float]:
        """Generate every beat that completes at or before ``t_end``; return their RR (s)."""
        out: list[float] = []
        while True:
            saved_t, saved_phase = self._t_last_beat, self._resp_phase
            state = self._rng.bit_generator.state
            rr = self.next_beat()
            if self._t_last_beat > t_end:
                self._t_last_beat, self._resp_phase = saved_t, saved_phase
                self._rng.bit_generator.state = state
                return out
            out.append(rr)
