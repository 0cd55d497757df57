"""The session clock: one time base for every sample and event.

Session time is float seconds on the Lab Streaming Layer clock (``pylsl.local_clock()``) when
pylsl is installed, so that wearsdk events line up with every LSL stream recorded next to them
(EEG, eye tracking, markers) without conversion. Without pylsl it is ``time.monotonic()``. Both
are monotonic clocks with an arbitrary origin; on Linux both read ``CLOCK_MONOTONIC``.

Wall-clock (unix) time only appears at the edges: files, JSON lines, MQTT payloads. The mapping
is fixed when the clock is created::

    t_unix = t_session + (unix_at_origin - session_at_origin)

so converted times never jump when the system clock is adjusted during a session.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["ScaledClock", "SessionClock", "monotonic_source"]


def monotonic_source() -> tuple[Callable[[], float], str]:
    """Return the best monotonic time source and its name.

    Returns:
        ``(pylsl.local_clock, "lsl")`` when pylsl imports, else ``(time.monotonic, "monotonic")``.
    """
    try:
        import pylsl
    except Exception:  # pragma: no cover - depends on the installed extras
        return time.monotonic, "monotonic"
    local_clock: Callable[[], float] = pylsl.local_clock
    return local_clock, "lsl"


class SessionClock:
    """Seconds on the session time base, with a fixed mapping to unix time.

    Args:
        source: a monotonic time function; by default the LSL clock (or ``time.monotonic``).
    """

    def __init__(self, source: Callable[[], float] | None = None) -> None:
        if source is None:
            source, name = monotonic_source()
        else:
            name = getattr(source, "__name__", "custom")
        self._source: Callable[[], float] = source
        self.source_name: str = name
        """Name of the underlying time source (``"lsl"``, ``"monotonic"``, ...)."""
        # Sample both clocks back to back, keeping the pair with the tightest bracket.
        best: tuple[float, float, float] | None = None
        for _ in range(5):
            a = self._source()
            u = time.time()
            b = self._source()
            if best is None or (b - a) < best[0]:
                best = (b - a, (a + b) / 2.0, u)
        assert best is not None
        self._origin_session: float = best[1]
        self._unix_offset: float = best[2] - best[1]

    @property
    def speed(self) -> float:
        """How many session seconds pass per real second (1.0 for a live clock)."""
        return 1.0

    def now(self) -> float:
        """Return the current session time in seconds."""
        return self._source()

    @property
    def unix_offset_s(self) -> float:
        """Seconds to add to a session time to get unix time."""
        return self._unix_offset

    def to_unix(self, t: float) -> float:
        """Map a session time to unix seconds (UTC)."""
        return t + self._unix_offset

    def to_unix_array(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map an array of session times to unix seconds (UTC)."""
        return t + self._unix_offset

    def from_unix(self, t_unix: float) -> float:
        """Map a unix time (UTC seconds) onto the session clock."""
        return t_unix - self._unix_offset

    def real_delay_s(self, session_seconds: float) -> float:
        """Real seconds to wait for ``session_seconds`` of session time to pass."""
        return session_seconds / self.speed


class ScaledClock(SessionClock):
    """A session clock that runs ``speed`` times faster than real time.

    Used by ``wearsdk demo`` and replays: simulated devices pace themselves on it and the
    pipeline stamps with it, so a 10x demo yields the same timestamps, RR sums and windows as a
    live session would, in a tenth of the time. Its origin is the base clock's time at creation,
    so early timestamps stay comparable with the LSL clock; they diverge as it runs.

    Args:
        speed: session seconds per real second, > 0.
        source: the underlying monotonic time function.
    """

    def __init__(self, speed: float, source: Callable[[], float] | None = None) -> None:
        if not np.isfinite(speed) or speed <= 0:
            raise ConfigError(f"clock speed must be a positive finite number, got {speed!r}")
        super().__init__(source)
        self._speed = float(speed)
        self._start_real: float = self._source()

    @property
    def speed(self) -> float:
        """How many session seconds pass per real second."""
        return self._speed

    def now(self) -> float:
        """Return the current (scaled) session time in seconds."""
        real = self._source()
        return self._start_real + (real - self._start_real) * self._speed
