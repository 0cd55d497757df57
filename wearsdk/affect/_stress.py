"""Discrete stress levels (low / medium / high) from a continuous stress probability.

:class:`StressLevelTracker` turns the arousal (the calibrated stress probability) of successive
windows into a level suitable for alerting, without flicker:

* **thresholds with hysteresis**: the level rises to ``medium`` when the probability reaches
  ``medium``, to ``high`` when it reaches ``high``; it falls back only once the probability is
  ``hysteresis`` below the threshold it crossed;
* **minimum dwell time**: after a change the level is held for at least ``min_dwell_s``
  seconds, whatever the probability does;
* **confidence gate**: estimates with a confidence below ``min_confidence`` never change the
  level (the last level is kept; ``None`` until a confident estimate arrives).
"""

from __future__ import annotations

from dataclasses import dataclass

from wearsdk._errors import ConfigError
from wearsdk._events import StressLevel

__all__ = ["StressLevelConfig", "StressLevelTracker"]

_RANK: dict[StressLevel, int] = {"low": 0, "medium": 1, "high": 2}
_LEVELS: tuple[StressLevel, StressLevel, StressLevel] = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class StressLevelConfig:
    """Settings of :class:`StressLevelTracker`.

    Attributes:
        medium: probability at which the level rises from ``low`` to ``medium``.
        high: probability at which it rises to ``high``.
        hysteresis: how far below a threshold the probability must fall to go back down.
        min_dwell_s: shortest time a level is held after a change.
        min_confidence: estimates less confident than this do not change the level.
    """

    medium: float = 0.5
    high: float = 0.75
    hysteresis: float = 0.1
    min_dwell_s: float = 60.0
    min_confidence: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.medium < self.high <= 1.0:
            raise ConfigError("stress thresholds must satisfy 0 < medium < high <= 1")
        if not (0.0 <= self.hysteresis < self.medium and self.min_dwell_s >= 0):
            raise ConfigError("hysteresis must be in [0, medium) and min_dwell_s >= 0")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError("min_confidence must be in [0, 1]")


class StressLevelTracker:
    """Low / medium / high stress with hysteresis, minimum dwell time and a confidence gate.

    Args:
        config: thresholds and timing.
    """

    def __init__(self, config: StressLevelConfig | None = None) -> None:
        self.config = config or StressLevelConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the current level."""
        self._level: StressLevel | None = None
        self._since = 0.0
        self._held = False

    @property
    def level(self) -> StressLevel | None:
        """The current level (``None`` before the first confident estimate)."""
        return self._level

    @property
    def held(self) -> bool:
        """Whether the last estimate was too uncertain to count: the level is the one held from
        before it (``False`` while there is no level)."""  # noqa: D205, D209
        return self._held

    def _target(self, p: float) -> StressLevel:
        """Level the probability asks for, given the current level (hysteresis)."""
        c = self.config
        cur = _RANK[self._level] if self._level is not None else 0
        up = (c.medium, c.high)
        down = (c.medium - c.hysteresis, c.high - c.hysteresis)
        rank = 0
        for i in (0, 1):
            # keep a level we are in (or above) until p falls below its lowered threshold
            threshold = down[i] if cur > i else up[i]
            if p >= threshold:
                rank = i + 1
        return _LEVELS[rank]

    def update(self, t: float, probability: float, confidence: float = 1.0) -> StressLevel | None:
        """Feed one estimate; return the level after it.

        Args:
            t: time of the estimate (window end), seconds.
            probability: stress probability (arousal) in [0, 1].
            confidence: the estimate's confidence in [0, 1].

        Returns:
            The current level, or ``None`` while no confident estimate has been seen.
        """
        if confidence < self.config.min_confidence or probability != probability:
            self._held = self._level is not None
            return self._level
        self._held = False
        target = self._target(probability)
        dwelt = t - self._since >= self.config.min_dwell_s
        if self._level is None or (target != self._level and dwelt):
            self._level, self._since = target, t
        return self._level
