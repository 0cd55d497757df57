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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["ClockQuality", "ReplayClock", "ScaledClock", "SessionClock", "monotonic_source"]


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

    Replays pass ``unix_at_start``: the unix time the recording started at, so that
    :meth:`to_unix` gives back the recording's original wall-clock times.

    Args:
        speed: session seconds per real second, > 0.
        source: the underlying monotonic time function.
        unix_at_start: the unix time that corresponds to the clock's creation (default: now).
    """

    def __init__(
        self,
        speed: float,
        source: Callable[[], float] | None = None,
        *,
        unix_at_start: float | None = None,
    ) -> None:
        if not np.isfinite(speed) or speed <= 0:
            raise ConfigError(f"clock speed must be a positive finite number, got {speed!r}")
        super().__init__(source)
        self._speed = float(speed)
        self._start_real: float = self._source()
        if unix_at_start is not None:
            self._unix_offset = float(unix_at_start) - self._start_real

    @property
    def speed(self) -> float:
        """How many session seconds pass per real second."""
        return self._speed

    def now(self) -> float:
        """Return the current (scaled) session time in seconds."""
        real = self._source()
        return self._start_real + (real - self._start_real) * self._speed


class ReplayClock(SessionClock):
    """Session time that follows a replay's position in its recording.

    Replays (:class:`~wearsdk.io.sources.XdfReplay`, :class:`~wearsdk.io.sources.E4Replay`)
    make one with their ``clock()`` method and move it forward as they publish
    (:meth:`advance`), so every event of the session, device status included, is stamped on
    the recording's time line: as fast as possible (``speed=None``) the clock stands at the
    time of the data published last, whatever the real time it took; paced (``speed=X``) it
    runs at ``X`` times real time from :meth:`begin`, and never behind the data published.
    :meth:`to_unix` gives the recording's wall-clock times back.

    Args:
        start_t: the session time of the recording's start (default: the base clock's now).
        speed: recording seconds per real second, or ``None`` for as fast as possible.
        unix_at_start: the unix time of the recording's start (default: now).
        source: the underlying monotonic time function.

    Raises:
        ConfigError: a speed that is not a positive finite number, or a non-finite start.
    """

    def __init__(
        self,
        start_t: float | None = None,
        *,
        speed: float | None = None,
        unix_at_start: float | None = None,
        source: Callable[[], float] | None = None,
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ConfigError(f"clock speed must be a positive finite number, got {speed!r}")
        super().__init__(source)
        start = self._source() if start_t is None else float(start_t)
        if not math.isfinite(start):
            raise ConfigError(f"replay start must be finite, got {start_t!r}")
        self.start_t: float = start
        """The session time of the recording's start."""
        self._pace = speed
        self._position = start
        self._real_start = self._source()
        if unix_at_start is not None and math.isfinite(unix_at_start):
            self._unix_offset = float(unix_at_start) - start
        else:
            self._unix_offset = time.time() - start

    @property
    def speed(self) -> float:
        """Session seconds per real second (``inf`` as fast as possible)."""
        return math.inf if self._pace is None else self._pace

    @property
    def position(self) -> float:
        """The time of the data published last."""
        return self._position

    def begin(self) -> None:
        """Start the paced time line now (the replay calls it when it starts publishing)."""
        self._real_start = self._source()

    def advance(self, t: float) -> None:
        """Move the clock to ``t`` (recording time), if that is later than where it stands."""
        if t > self._position:
            self._position = t

    def now(self) -> float:
        """The replay's current session time."""
        if self._pace is None:
            return self._position
        paced = self.start_t + (self._source() - self._real_start) * self._pace
        return max(paced, self._position)


@dataclass(frozen=True, slots=True)
class ClockQuality:
    """A snapshot of a clock model's state, for status events and diagnostics.

    Attributes:
        offset_s: session time minus device (or remote) time, as applied now.
        drift_ppm: how fast the device clock runs relative to the session clock, in parts per
            million (positive: the device clock is fast).
        jitter_s: typical delay of observations above the latency-free envelope (the arrival
            jitter the model removes); for round trips, the best round-trip delay.
        resets: times the device clock jumped and the model re-anchored.
        observations: observations since the last (re-)anchoring.
        converged: whether the model says its mapped times are good: for a
            :class:`DeviceClockMap`, its error bound is at most its ``converged_bound_s``
            (1 ms by default); for a :class:`RoundTripClock`, drift is estimated.
        error_bound_s: estimated bound of the error of times mapped now (for a
            :class:`DeviceClockMap` the 99 % credible radius, excluding the link's constant
            minimum latency; for a :class:`RoundTripClock` the worst-case half width); NaN
            when the model does not estimate one.
        drift_sd_ppm: standard deviation of the drift estimate, ppm (NaN when unknown).
    """

    offset_s: float
    drift_ppm: float
    jitter_s: float
    resets: int
    observations: int
    converged: bool
    error_bound_s: float = math.nan
    drift_sd_ppm: float = math.nan
