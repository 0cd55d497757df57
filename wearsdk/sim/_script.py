"""Scripted emotional profiles that drive the simulated physiology."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["ArousalScript", "Phase"]


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a script.

    Attributes:
        name: phase name (``calm``, ``stress``, ``recovery``...).
        duration_s: length in seconds, > 0.
        arousal: target arousal in [0, 1] held during the phase.
        valence: target valence in [-1, 1] held during the phase.
    """

    name: str
    duration_s: float
    arousal: float
    valence: float = 0.0


class ArousalScript:
    """A piecewise-constant arousal/valence profile with smooth (raised-cosine) transitions.

    Args:
        phases: the phases in order.
        transition_s: width of the transition between phases, centred on the boundary.
    """

    def __init__(self, phases: tuple[Phase, ...], *, transition_s: float = 2.0) -> None:
        if not phases:
            raise ConfigError("a script needs at least one phase")
        for p in phases:
            if not p.duration_s > 0 or not 0.0 <= p.arousal <= 1.0 or not -1 <= p.valence <= 1:
                raise ConfigError(f"invalid phase {p!r}")
        self.phases: tuple[Phase, ...] = phases
        """The phases in order."""
        self.transition_s: float = max(0.0, float(transition_s))
        """Width of each transition in seconds."""
        self._bounds = np.cumsum([0.0] + [p.duration_s for p in phases])
        self._arousal = np.array([p.arousal for p in phases])
        self._valence = np.array([p.valence for p in phases])

    @classmethod
    def calm_stress_recovery(
        cls, duration_s: float, *, calm: float = 0.15, stress: float = 0.85, recovery: float = 0.2
    ) -> ArousalScript:
        """The demo's script: calm, stress and recovery thirds of ``duration_s``.

        Transitions take 8 % of the duration, at most 20 s.
        """
        if not duration_s > 0:
            raise ConfigError(f"duration must be > 0, got {duration_s!r}")
        third = duration_s / 3.0
        return cls(
            (
                Phase("calm", third, calm, 0.3),
                Phase("stress", third, stress, -0.5),
                Phase("recovery", third, recovery, 0.2),
            ),
            transition_s=min(20.0, 0.08 * duration_s),
        )

    @property
    def duration_s(self) -> float:
        """Total length of the script in seconds."""
        return float(self._bounds[-1])

    def _smooth(self, levels: npt.NDArray[np.float64], t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = np.full(tt.shape, levels[0])
        w = self.transition_s
        for i, b in enumerate(self._bounds[1:-1]):
            step = levels[i + 1] - levels[i]
            if w == 0:
                frac = (tt >= b).astype(np.float64)
            else:
                x = np.clip((tt - (b - w / 2)) / w, 0.0, 1.0)
                frac = 0.5 - 0.5 * np.cos(np.pi * x)
            out = out + step * frac
        return out

    def arousal_at(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Arousal at script time(s) ``t`` (seconds since the script started)."""
        return self._smooth(self._arousal, t)

    def valence_at(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Valence at script time(s) ``t``."""
        return self._smooth(self._valence, t)

    def phase_at(self, t: float) -> str:
        """Name of the phase at script time ``t`` (the last phase after the end)."""
        i = int(np.searchsorted(self._bounds, t, side="right")) - 1
        return self.phases[min(max(i, 0), len(self.phases) - 1)].name
