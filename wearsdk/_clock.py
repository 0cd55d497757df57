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

__all__ = ["DeviceClockMap", "ScaledClock", "SessionClock", "monotonic_source"]


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


class DeviceClockMap:
    """Online mapping of a device clock onto the session clock: offset and drift.

    A device stamps samples on its own clock (Polar: ns since 2000; counters); they arrive on
    the session clock later, by a positive and jittery delay (BLE connection events, 7.5-50
    ms). The latency-free relation lies on the *lower envelope* of ``arrival - device_time``:
    the minimum of that difference is kept per ``bucket_s`` of device time, and a line through
    those minima gives the offset and the drift (rate error, in ppm). Never "arrival time of the
    packet" for every sample.

    Guarantees on :meth:`map`: a stream's outputs never go backwards across calls, and the
    applied offset moves by at most ``max_slew`` seconds per second of device time (beyond the
    estimated drift), so timestamps never jump; a device clock that jumps (reset, power loss)
    by more than ``reset_after_s`` re-anchors the map (counted in :attr:`resets`).

    Args:
        bucket_s: device seconds per envelope bucket.
        horizon_buckets: buckets kept for the fit (older ones are forgotten, so drift changes
            with temperature are followed).
        min_fit_span_s: device seconds the buckets must span before drift is estimated.
        max_slew: fastest change of the applied offset, seconds per device second.
        warmup_s: device seconds after (re-)anchoring during which ``warmup_slew`` applies
            instead, so that a first packet that arrived late is forgotten quickly.
        warmup_slew: the faster slew of the warm-up.
        reset_after_s: a disagreement larger than this between the map and an arrival is a
            clock reset.
    """

    def __init__(
        self,
        *,
        bucket_s: float = 5.0,
        horizon_buckets: int = 120,
        min_fit_span_s: float = 30.0,
        max_slew: float = 2e-3,
        warmup_s: float = 10.0,
        warmup_slew: float = 0.1,
        reset_after_s: float = 2.0,
    ) -> None:
        if not (bucket_s > 0 and horizon_buckets >= 2 and max_slew > 0 and reset_after_s > 0):
            raise ConfigError("invalid DeviceClockMap settings")
        self.bucket_s = bucket_s
        self.horizon_buckets = horizon_buckets
        self.min_fit_span_s = min_fit_span_s
        self.max_slew = max_slew
        self.warmup_s = warmup_s
        self.warmup_slew = warmup_slew
        self.reset_after_s = reset_after_s
        self.resets = 0
        """How many times the device clock jumped and the map re-anchored."""
        self._floors: dict[str, float] = {}
        self._reset_state()

    def _reset_state(self) -> None:
        self._bucket_d: list[float] = []  # device time of each bucket's minimum
        self._bucket_m: list[float] = []  # minimum of (arrival - device) in the bucket
        self._bucket_key: list[int] = []
        self._slope = 0.0
        self._intercept = 0.0
        self._applied: float | None = None  # offset applied at _last_d
        self._last_d: float | None = None
        self._anchor_d: float | None = None
        self.n_observations = 0

    @property
    def ready(self) -> bool:
        """Whether at least one observation anchored the map."""
        return self._applied is not None

    @property
    def offset_s(self) -> float:
        """Session time minus device time at the last observed device time."""
        return float("nan") if self._applied is None else self._applied

    @property
    def drift_ppm(self) -> float:
        """Estimated rate error of the device clock, in parts per million."""
        return self._slope * 1e6

    def _target(self, d: float) -> float:
        return self._intercept + self._slope * d

    def observe(self, device_t: float, arrival: float, *, detect_reset: bool = True) -> bool:
        """Add one (device time, arrival time) pair and advance the applied offset.

        Args:
            device_t: the device time, seconds.
            arrival: its arrival on the session clock.
            detect_reset: whether an arrival that disagrees with the map by more than
                ``reset_after_s`` may be a clock reset. Pass ``False`` when the device cannot
                have reset (a Polar sensor restarts its clock only after losing power, which
                drops the link): a delivery delayed by seconds (a burst after missed
                connection events) is then latency, which the lower envelope ignores. Device
                time going back by more than ``reset_after_s`` is a reset either way.

        Returns:
            ``True`` when this observation reset the map (the device clock jumped).
        """
        if not (np.isfinite(device_t) and np.isfinite(arrival)):
            return False
        reset = False
        if self._applied is not None and self._last_d is not None:
            predicted = device_t + self._applied + self._slope * (device_t - self._last_d)
            disagreement = abs(arrival - predicted)
            if device_t < self._last_d - self.reset_after_s or (
                detect_reset
                and disagreement > self.reset_after_s + self.bucket_s * abs(self._slope)
            ):
                self.resets += 1
                self._reset_state()
                reset = True
        self.n_observations += 1
        diff = arrival - device_t
        key = int(np.floor(device_t / self.bucket_s))
        if self._bucket_key and self._bucket_key[-1] == key:
            if diff < self._bucket_m[-1]:
                self._bucket_m[-1] = diff
                self._bucket_d[-1] = device_t
        else:
            self._bucket_key.append(key)
            self._bucket_m.append(diff)
            self._bucket_d.append(device_t)
            if len(self._bucket_key) > self.horizon_buckets:
                del self._bucket_key[0], self._bucket_m[0], self._bucket_d[0]
        self._fit()
        if self._applied is None or self._last_d is None:
            self._applied = self._target(device_t)
            self._last_d = device_t
            self._anchor_d = device_t
            return reset
        # move the applied offset toward the fitted line, at most the slew per device second
        span = device_t - self._last_d
        if span > 0:
            warm = self._anchor_d is not None and device_t - self._anchor_d < self.warmup_s
            slew = (self.warmup_slew if warm else self.max_slew) * span
            target = self._target(device_t)
            # the part of the change that the drift explains is not a correction
            expected = self._applied + self._slope * span
            self._applied = expected + float(np.clip(target - expected, -slew, slew))
            self._last_d = device_t
        return reset

    def _fit(self) -> None:
        d = np.asarray(self._bucket_d)
        m = np.asarray(self._bucket_m)
        if d.size >= 3 and d[-1] - d[0] >= self.min_fit_span_s:
            # the latest bucket is still filling: its minimum is not final, leave it out
            slope, intercept = np.polyfit(d[:-1] - d[0], m[:-1], 1)
            # keep the line under the envelope: shift it down to the lowest residual
            resid = m - (intercept + slope * (d - d[0]))
            intercept += min(0.0, float(resid.min()))
            self._slope = float(slope)
            self._intercept = float(intercept - slope * d[0])
        else:
            self._slope = 0.0
            self._intercept = float(m.min())

    def map(self, device_t: npt.ArrayLike, *, stream: str = "") -> npt.NDArray[np.float64]:
        """Map device times (seconds) onto the session clock.

        The outputs of one ``stream`` never go backwards across calls (several streams of one
        device share the map, each with its own guarantee).

        Raises:
            ConfigError: before the first :meth:`observe`.
        """
        d = np.asarray(device_t, dtype=np.float64)
        if self._applied is None or self._last_d is None:
            raise ConfigError("DeviceClockMap.map() needs an observation first")
        out = d + self._applied + self._slope * (d - self._last_d)
        if out.size == 0:
            return out
        floor = self._floors.get(stream, -np.inf)
        if out[0] <= floor:
            out = np.maximum(out, floor + 1e-9 * np.arange(1, out.size + 1))
        self._floors[stream] = float(out[-1])
        return out
