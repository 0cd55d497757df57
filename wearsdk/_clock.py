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

import bisect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = [
    "ClockQuality",
    "DeviceClockMap",
    "ReplayClock",
    "RoundTrip",
    "RoundTripClock",
    "ScaledClock",
    "SessionClock",
    "monotonic_source",
]


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


def _lower_hull(x: list[float], y: list[float]) -> list[int]:
    """Indices of the lower convex hull of points sorted by ``x`` (monotone chain)."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b when it lies on or above the segment a -> i
            if (y[b] - y[a]) * (x[i] - x[a]) >= (y[i] - y[a]) * (x[b] - x[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


class _Chain:
    """The lower convex hull of points added mostly in order of ``x`` (monotone chain)."""

    __slots__ = ("x", "y")

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []

    def append(self, x: float, y: float) -> None:
        hx, hy = self.x, self.y
        while len(hx) >= 2 and (hy[-1] - hy[-2]) * (x - hx[-2]) >= (y - hy[-2]) * (hx[-1] - hx[-2]):
            hx.pop()
            hy.pop()
        hx.append(x)
        hy.append(y)

    def covers(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` lies above the chain, inside its span (adding it changes nothing)."""
        hx, hy = self.x, self.y
        j = bisect.bisect_right(hx, x)
        if j == 0 or j == len(hx):
            return False
        a, b = j - 1, j
        return y > hy[a] + (hy[b] - hy[a]) * (x - hx[a]) / (hx[b] - hx[a])

    def rebuild(self, xs: list[float], ys: list[float]) -> None:
        idx = _lower_hull(xs, ys)
        self.x = [xs[i] for i in idx]
        self.y = [ys[i] for i in idx]

    def support(self, b: npt.NDArray[np.float64], centre: float) -> npt.NDArray[np.float64]:
        """The highest line of slope ``b`` under every point, at ``centre``."""
        hx = np.asarray(self.x) - centre
        hy = np.asarray(self.y)
        out: npt.NDArray[np.float64] = np.min(hy[None, :] - b[:, None] * hx[None, :], axis=1)
        return out


def _uniform_between_extremes(x: npt.NDArray[np.float64]) -> bool:
    """Whether values pass as uniform between their lowest and highest (tests at 0.1 %)."""
    if x.size < 5:
        return False
    v = np.sort(x)
    span = float(v[-1] - v[0])
    if span <= 0:
        return False
    u = (v[1:-1] - v[0]) / span  # given the extremes, the others are uniform between them
    n = u.size
    i = np.arange(1, n + 1)
    d = max(float(np.max(i / n - u)), float(np.max(u - (i - 1) / n)))
    # and the highest is not alone: the top spacing of n uniform points is about range / n
    # (P(spacing > s range) = (1 - s)^n), a tail's sparse highest points stand apart
    top = float(v[-1] - v[-2]) / span
    return d * math.sqrt(n) <= _EDGE_KS and top * (n + 1) <= _EDGE_TOP


def _logsumexp(v: npt.NDArray[np.float64]) -> float:
    m = float(v.max())
    return m + math.log(float(np.exp(v - m).sum()))


_InlierStats = tuple[int, float, float]  # count, mean device time, mean y
_INLIER_MEDIANS = 3.0  # a delay more than this many median excesses is held, not jitter
_MIN_BOUNDED_POINTS = 30
_EDGE_KS = 1.949  # Kolmogorov-Smirnov critical value of sqrt(n) D at the 0.1 % level
_EDGE_TOP = -math.log(0.001)  # n times the top spacing over the range, at the 0.1 % level
_BOUNDED_LOG_ODDS = math.log(1 / 20)  # prior odds of bounded delays: the envelope model first
_STUDENT_NU = 3.0  # degrees of freedom of the drift prior (heavy tails: a counter may be % off)
_COARSE = np.sinh(np.linspace(-9.0, 9.0, 721))  # drift grid in prior scales, dense near 0
_FINE_POINTS = 241
_MIN_LAMBDA_POINTS = 8  # points needed before the delay density is taken from the data


class DeviceClockMap:
    """Online mapping of a device clock onto the session clock: offset, drift and their error.

    A device stamps samples on its own clock (Polar: ns since 2000; a sample counter divided
    by the nominal rate); they arrive on the session clock later, by a positive and jittery
    delay (BLE connection events, 7.5-50 ms, sometimes a held frame of hundreds of ms). Every
    ``y = arrival - device_time`` is therefore an upper bound of the latency-free relation
    ``offset(d) = a + b (d - centroid)``: the truth is a line under every point, its *lower
    envelope*. Jitter is removed, not averaged.

    The estimator is Bayesian on that envelope. With a delay density ``lam`` at zero excess
    (the only part of the delay distribution the envelope sees), the likelihood of a line is
    ``exp(lam * N * a)`` where it stays under all ``N`` points, and zero where it does not (the
    linear programme of Moon, Skelly and Towsley's one-way skew estimation is its maximum with a
    flat prior). For a drift ``b`` the highest feasible ``a`` is ``A(b)``, the minimum of the
    points' ``y - b (d - centroid)``, set by the lower convex hull of the points only; below it
    ``a`` falls off exponentially (rate ``lam * (N + 1)``, as the minimum of ``N`` uniform
    delays). The drift has a Student-t prior (3 degrees of freedom, scale ``drift_prior_ppm``:
    crystals are a few tens of ppm off, rarely 100, and heavy tails let a sample counter's
    nominal rate be far off too), so early fits do not swing. When the delays end at a sharp
    upper edge (a notification waits for the next connection event: uniform over the
    interval), a second model, delays uniform on ``[0, W]`` with ``W`` unknown, also uses the
    upper hull of the inliers (delays within three median excesses: held frames are left
    out); the two are weighed by their evidence (prior odds 1:20 for the bounded one), and the
    bounded model is offered only when the inliers, measured from the envelope model's own
    line, pass as uniform between their lowest and highest (a Kolmogorov-Smirnov test, and
    the highest not standing apart: each at 0.1 %). A retransmission tail fails it; tested
    against the bounded model's own line instead, a tail point on the upper hull tilts that
    line until the point fits, and the test would pass. The posterior over ``b`` is evaluated
    on a grid at every observation; the applied line is its mean at the newest device time,
    and :attr:`error_bound_s` is the radius of its ``bound_level`` credible interval around
    the offset actually applied (the delay density is ``0.5 / median excess`` over the line,
    exact for uniform delays and conservative for exponential ones). Every point
    within ``bucket_s * horizon_buckets`` device seconds is kept (the lowest per ``bucket_s``),
    so drift changes with temperature are followed; all streams of one device feed one map.

    For sources without a device clock, the device time is the sample count divided by the
    nominal rate (BITalino, GATT profiles): the map then learns the true sample rate as the
    drift, the dejitter approach of LSL and muselsl with a latency-free envelope instead of a
    least-squares line through jittered arrivals.

    Guarantees on :meth:`map`: a stream's outputs never go backwards across calls, and the
    applied offset moves by at most ``max_slew`` seconds per second of device time (beyond the
    estimated drift; ``warmup_slew`` during the first ``warmup_s``), so timestamps never jump;
    a device clock that jumps (reset, power loss) by more than ``reset_after_s`` re-anchors the
    map (counted in :attr:`resets`). The constant part of the latency (the fastest a packet
    ever arrives) cannot be seen from arrivals: mapped times are late by it, the same for every
    source on the same kind of link, and the error bound does not include it.

    Args:
        bucket_s: device seconds within which only the lowest point is kept.
        horizon_buckets: buckets of history kept for the fit (older points are forgotten).
        min_fit_span_s: device seconds the points must span before the map may report
            :attr:`converged`.
        max_slew: fastest change of the applied offset, seconds per device second.
        warmup_s: device seconds after (re-)anchoring during which ``warmup_slew`` applies
            instead, so that a first packet that arrived late is forgotten quickly.
        warmup_slew: the faster slew of the warm-up.
        reset_after_s: a disagreement larger than this between the map and an arrival is a
            clock reset.
        drift_prior_ppm: scale of the drift prior (Student-t, 3 degrees of freedom), ppm.
        jitter_prior_s: assumed delay spread before enough points show the real one.
        converged_bound_s: :attr:`converged` once :attr:`error_bound_s` is at most this.
        bound_level: credibility of :attr:`error_bound_s`.
    """

    def __init__(
        self,
        *,
        bucket_s: float = 0.05,
        horizon_buckets: int = 12000,
        min_fit_span_s: float = 10.0,
        max_slew: float = 2e-3,
        warmup_s: float = 10.0,
        warmup_slew: float = 0.1,
        reset_after_s: float = 2.0,
        drift_prior_ppm: float = 50.0,
        jitter_prior_s: float = 0.05,
        converged_bound_s: float = 1e-3,
        bound_level: float = 0.99,
    ) -> None:
        if not (
            bucket_s > 0
            and horizon_buckets >= 2
            and max_slew > 0
            and reset_after_s > 0
            and drift_prior_ppm > 0
            and jitter_prior_s > 0
            and converged_bound_s > 0
            and 0 < bound_level < 1
        ):
            raise ConfigError("invalid DeviceClockMap settings")
        self.bucket_s = bucket_s
        self.horizon_buckets = horizon_buckets
        self.min_fit_span_s = min_fit_span_s
        self.max_slew = max_slew
        self.warmup_s = warmup_s
        self.warmup_slew = warmup_slew
        self.reset_after_s = reset_after_s
        self.drift_prior_ppm = drift_prior_ppm
        self.jitter_prior_s = jitter_prior_s
        self.converged_bound_s = converged_bound_s
        self.bound_level = bound_level
        self.resets = 0
        """How many times the device clock jumped and the map re-anchored."""
        self._floors: dict[str, float] = {}
        self._reset_state()

    def _reset_state(self) -> None:
        # points relative to the anchor (d0, y0), sorted by device time, one per bucket
        self._d0 = 0.0
        self._y0 = 0.0
        self._key: list[int] = []
        self._pd: list[float] = []
        self._py: list[float] = []
        self._pin: list[bool] = []  # whether each point is an inlier (not a held delivery)
        self._sum_d = 0.0
        self._in_n = 0  # inliers: count, sums of device time and of y
        self._in_sd = 0.0
        self._in_sy = 0.0
        self._edge = False  # whether the inliers' delays end at a sharp upper edge
        self._lower = _Chain()  # lower hull of the points
        self._upper = _Chain()  # upper hull of the inliers (y negated)
        self._lam = 1.0 / self.jitter_prior_s
        self._lam_at = 0  # points when the delay density was last measured
        self._cut = math.inf  # excess above which a point is beyond the bounded model's edge
        self._lam_obs = 0  # observations then
        # posterior over the drift: grid, weights, envelope height at the newest device time
        self._grid = np.zeros(1)
        self._w = np.ones(1)
        self._c = np.zeros(1)
        self._rates = np.full((1, 1), self._lam)
        self._range: tuple[float, float] | None = None  # drift range of the last fit
        self._d_new = 0.0  # newest device time (relative)
        self._slope = 0.0  # posterior mean of d(arrival - device)/d(device)
        self._slope_sd = math.inf
        self._target_new = 0.0  # posterior mean offset (relative) at _d_new
        self._env_slope = 0.0  # the same, of the envelope model alone
        self._env_new = 0.0
        self._applied: float | None = None  # offset applied at _last_d (absolute)
        self._last_d: float | None = None
        self._anchor_d: float | None = None
        self._excess = 0.0  # running mean of the delay above the line
        self._bound: float | None = None  # cache of error_bound_s
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
        """How fast the device clock runs relative to the session clock, in ppm (+: fast)."""
        return (1.0 / (1.0 + self._slope) - 1.0) * 1e6

    @property
    def drift_sd_ppm(self) -> float:
        """Posterior standard deviation of :attr:`drift_ppm` (inf before any observation)."""
        return self._slope_sd * 1e6

    @property
    def jitter_s(self) -> float:
        """Running mean of the arrival delay above the envelope (the jitter removed)."""
        return self._excess

    @property
    def error_bound_s(self) -> float:
        """Radius of the credible interval (``bound_level``) of the error of mapped times.

        The error of a time mapped now, at the newest device time, against the true session
        time plus the link's constant minimum latency (which no arrival reveals). Covers the
        posterior's offset and drift uncertainty and whatever the slew limit has not applied
        yet. ``inf`` before the first observation.
        """
        if self._applied is None or self._last_d is None:
            return math.inf
        if self._bound is None:
            self._bound = self._credible_radius()
        return self._bound

    @property
    def span_s(self) -> float:
        """Device seconds spanned by the observations kept (0 before any)."""
        return self._pd[-1] - self._pd[0] if self._pd else 0.0

    @property
    def converged(self) -> bool:
        """The points span ``min_fit_span_s`` and :attr:`error_bound_s` <= ``converged_bound_s``."""
        if self._applied is None or self.span_s < self.min_fit_span_s:
            return False
        return self.error_bound_s <= self.converged_bound_s

    def quality(self) -> ClockQuality:
        """The model's state and quality now (for status events)."""
        return ClockQuality(
            offset_s=self.offset_s,
            drift_ppm=self.drift_ppm,
            jitter_s=self.jitter_s,
            resets=self.resets,
            observations=self.n_observations,
            converged=self.converged,
            error_bound_s=self.error_bound_s,
            drift_sd_ppm=self.drift_sd_ppm,
        )

    def _target(self, d: float) -> float:
        """Posterior mean offset (absolute) at device time ``d``."""
        return self._y0 + self._target_new + self._slope * (d - self._d0 - self._d_new)

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
        if not (math.isfinite(device_t) and math.isfinite(arrival)):
            return False
        reset = False
        if self._applied is not None and self._last_d is not None:
            predicted = device_t + self._applied + self._slope * (device_t - self._last_d)
            disagreement = abs(arrival - predicted)
            if device_t < self._last_d - self.reset_after_s or (
                detect_reset and disagreement > self.reset_after_s
            ):
                self.resets += 1
                self._reset_state()
                reset = True
        if self._applied is None:
            self._d0, self._y0 = device_t, arrival - device_t
        self.n_observations += 1
        self._bound = None
        self._add_point(device_t - self._d0, arrival - device_t - self._y0)
        self._fit()
        if self._applied is None or self._last_d is None:
            self._applied = self._target(device_t)
            self._last_d = device_t
            self._anchor_d = device_t
            return reset
        excess = arrival - (device_t + self._target(device_t))
        self._excess += (max(0.0, excess) - self._excess) / min(self.n_observations, 64)
        # move the applied offset toward the fitted line, at most the slew per device second
        span = device_t - self._last_d
        if span > 0:
            warm = self._anchor_d is not None and device_t - self._anchor_d < self.warmup_s
            slew = (self.warmup_slew if warm else self.max_slew) * span
            target = self._target(device_t)
            # the part of the change that the drift explains is not a correction
            expected = self._applied + self._slope * span
            self._applied = expected + min(max(target - expected, -slew), slew)
            self._last_d = device_t
        return reset

    # -- the points and their hulls --------------------------------------------------------

    def _add_point(self, d: float, y: float) -> None:
        key = math.floor(d / self.bucket_s)
        keys, pd, py, pin = self._key, self._pd, self._py, self._pin
        inlier = self._is_inlier(d, y)
        if not keys or key > keys[-1]:
            keys.append(key)
            pd.append(d)
            py.append(y)
            pin.append(inlier)
            self._sum_d += d
            self._count(d, y, inlier, 1)
            self._lower.append(d, y)
            if inlier:
                self._upper.append(d, -y)
        else:
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                if y >= py[i]:
                    return
                self._sum_d += d - pd[i]
                self._count(pd[i], py[i], pin[i], -1)
                self._count(d, y, inlier, 1)
                pd[i], py[i], pin[i] = d, y, inlier
                self._rebuild_hulls()  # the replaced point may have been a hull vertex
            else:
                keys.insert(i, key)
                pd.insert(i, d)
                py.insert(i, y)
                pin.insert(i, inlier)
                self._sum_d += d
                self._count(d, y, inlier, 1)
                if i == 0 or not self._lower.covers(d, y):
                    self._lower.rebuild(pd, py)
                if inlier and not self._upper.covers(d, -y):
                    self._rebuild_upper()
        horizon = self.bucket_s * self.horizon_buckets
        if pd[-1] - pd[0] > 1.1 * horizon:
            k = bisect.bisect_left(pd, pd[-1] - horizon)
            self._sum_d -= math.fsum(pd[:k])
            del keys[:k], pd[:k], py[:k], pin[:k]
            self._recount()
            self._rebuild_hulls()

    def _count(self, d: float, y: float, inlier: bool, sign: int) -> None:
        if inlier:
            self._in_n += sign
            self._in_sd += sign * d
            self._in_sy += sign * y

    def _recount(self) -> None:
        keep = [i for i, flag in enumerate(self._pin) if flag]
        self._in_n = len(keep)
        self._in_sd = math.fsum(self._pd[i] for i in keep)
        self._in_sy = math.fsum(self._py[i] for i in keep)

    def _is_inlier(self, d: float, y: float) -> bool:
        """Whether a point's delay is within the bulk (not a held or retransmitted one)."""
        if not self._lam_at:
            return True
        excess = y - (self._env_new + self._env_slope * (d - self._d_new))
        return excess <= self._cut

    def _rebuild_hulls(self) -> None:
        self._lower.rebuild(self._pd, self._py)
        self._rebuild_upper()

    def _rebuild_upper(self) -> None:
        keep = [i for i, flag in enumerate(self._pin) if flag]
        self._upper.rebuild([self._pd[i] for i in keep], [-self._py[i] for i in keep])

    # -- the posterior ---------------------------------------------------------------------

    def _log_prior(self, b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        s = self.drift_prior_ppm * 1e-6
        out: npt.NDArray[np.float64] = (
            -0.5 * (_STUDENT_NU + 1.0) * np.log1p((b / s) ** 2 / _STUDENT_NU)
        )
        return out

    def _models(
        self, b: npt.NDArray[np.float64], centre: float, stats: _InlierStats | None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per delay model and drift: log posterior (unnormalised), envelope, gap rate.

        Row 0 is the exponential-gap model (the envelope's own statistics), row 1, when the
        inliers allow it, the bounded-delay model (delays uniform on ``[0, W]``, ``W``
        unknown), weighted by their evidence.
        """
        n = len(self._pd)
        env = self._lower.support(b, centre)
        prior = self._log_prior(b)
        rate_e = self._lam * (n + 1)
        if stats is None:
            return (
                (prior + rate_e * env)[None, :],
                env,
                np.full((1, b.size), rate_e),
            )
        k, mean_d, mean_y = stats
        top = -self._upper.support(-b, centre)  # highest inlier line of slope b
        width = np.maximum(top - env, 1e-9)
        excess = np.maximum(mean_y - env - b * (mean_d - centre), 1e-12)
        # evidences with the delay scale integrated out (prior 1/scale on W and on the mean)
        log_u = -(k - 1) * np.log(width) - math.log(k * (k - 1))
        log_e = math.lgamma(k - 1) - k * math.log(k) - (k - 1) * np.log(excess)
        z_u = _logsumexp(prior + log_u) + _BOUNDED_LOG_ODDS
        z_e = _logsumexp(prior + log_e)
        # within each model: the exponential-gap posterior, and the bounded one
        post_e = prior + rate_e * env
        post_u = prior + log_u
        post_e = post_e - _logsumexp(post_e) + z_e
        post_u = post_u - _logsumexp(post_u) + z_u
        rates = np.stack([np.full(b.size, rate_e), (k + 1) / width])
        return np.stack([post_e, post_u]), env, rates

    def _inlier_stats(self) -> _InlierStats | None:
        k = self._in_n
        if not (self._lam_at and self._edge and k >= _MIN_BOUNDED_POINTS):
            return None
        return k, self._in_sd / k, self._in_sy / k

    def _fit(self) -> None:
        n = len(self._pd)
        centre = self._sum_d / n
        due = self.n_observations >= 1.25 * self._lam_obs or (
            self.n_observations - self._lam_obs >= 500
        )
        if n >= _MIN_LAMBDA_POINTS and due:
            self._measure_density()
        stats = self._inlier_stats()
        fitted = None
        if self._range is not None:
            # the last fit's range, unless the posterior has moved to its edges
            grid = np.linspace(self._range[0], self._range[1], _FINE_POINTS)
            lp, env, rates = self._models(grid, centre, stats)
            total = np.logaddexp.reduce(lp, axis=0)
            if max(total[0], total[-1]) < total.max() - 14.0:
                fitted = grid, lp, env, rates
        if fitted is None:
            # stage 1: a grid dense near zero drift and wide enough for a counter's rate error
            coarse = _COARSE * (self.drift_prior_ppm * 1e-6)
            lp, _, _ = self._models(coarse, centre, stats)
            lp_all = np.logaddexp.reduce(lp, axis=0)
            w = np.exp(lp_all - lp_all.max()) * np.gradient(coarse)
            cdf = np.cumsum(w)
            cdf /= cdf[-1]
            lo = max(int(np.searchsorted(cdf, 1e-6)) - 1, 0)
            hi = min(int(np.searchsorted(cdf, 1 - 1e-6)) + 1, coarse.size - 1)
            # stage 2: a uniform grid over where the posterior lives
            grid = np.linspace(coarse[lo], coarse[hi], _FINE_POINTS)
            fitted = (grid, *self._models(grid, centre, stats))
        grid, lp, env, rates = fitted
        w = np.exp(lp - lp.max())
        w /= w.sum()
        # the next fit's range: where this posterior lives, with a margin as wide again
        cdf = np.cumsum(w.sum(axis=0))
        q_lo = float(grid[min(int(np.searchsorted(cdf, 1e-6)), grid.size - 1)])
        q_hi = float(grid[min(int(np.searchsorted(cdf, 1 - 1e-6)), grid.size - 1)])
        step = float(grid[1] - grid[0])
        pad = 0.5 * (q_hi - q_lo) + 4 * step
        self._range = (q_lo - pad, q_hi + pad)
        d_new = self._pd[-1]
        c = env + grid * (d_new - centre)  # envelope height at the newest device time
        self._grid, self._w, self._c, self._rates, self._d_new = grid, w, c, rates, d_new
        marginal = w.sum(axis=0)
        slope = float(marginal @ grid)
        self._slope = slope
        self._slope_sd = math.sqrt(max(float(marginal @ (grid - slope) ** 2), 0.0))
        # the line sits below the envelope by the expected gap of its lowest point, once the
        # delays' spread is measured (before, the envelope itself: never ahead of an arrival)
        gap = float(np.sum(w / rates)) if self._lam_at else 0.0
        self._target_new = float(marginal @ c) - gap
        # the envelope model's own line: the bounded model's edge is tested against it, never
        # against a line the bounded model tilted to fit its own edge
        if lp.shape[0] == 1:
            self._env_slope, self._env_new = slope, self._target_new
        else:
            w0 = np.exp(lp[0] - lp[0].max())
            w0 /= w0.sum()
            gap0 = float(w0 @ (1.0 / rates[0])) if self._lam_at else 0.0
            self._env_slope = float(w0 @ grid)
            self._env_new = float(w0 @ c) - gap0

    def _measure_density(self) -> None:
        """The delay density at zero excess, ``0.5 / median`` excess over the fitted line.

        Also sorts the points again into inliers and held ones (more than
        ``_INLIER_MEDIANS`` median excesses above the envelope model's line).
        """
        d = np.asarray(self._pd)
        y = np.asarray(self._py)
        excess = y - (self._env_new + self._env_slope * (d - self._d_new))
        med = float(np.median(excess))
        self._lam = 0.5 / min(max(med, 1e-5), 10.0)
        self._lam_at = len(self._pd)
        self._lam_obs = self.n_observations
        self._cut = _INLIER_MEDIANS * max(med, 1e-5)
        inlier = excess <= self._cut
        self._pin = inlier.tolist()
        self._recount()
        self._rebuild_upper()
        # a bounded delay (uniform over a connection interval) is uniform between its lowest
        # and highest excess: the points in between must pass a Kolmogorov-Smirnov test of
        # uniformity. A tail (retransmissions, a falling density) fails it: its sparse highest
        # points, which the bounded model's upper hull would follow, stretch the range
        self._edge = _uniform_between_extremes(excess[inlier])

    def _credible_radius(self) -> float:
        """Smallest r with P(|truth - applied| <= r) >= bound_level under the posterior."""
        assert self._applied is not None
        assert self._last_d is not None
        applied_rel = (
            self._applied - self._y0 + self._slope * (self._d0 + self._d_new - self._last_d)
        )
        c = self._c - applied_rel  # truth - applied = c - E,  E ~ Exp(rate)
        w, rates = self._w, self._rates

        def covered(r: float) -> float:
            lo = np.maximum(c - r, 0.0)
            hi = np.maximum(c + r, 0.0)
            return float(np.sum(w * (np.exp(-rates * lo) - np.exp(-rates * hi))))

        lo_r, hi_r = 0.0, float(np.max(np.abs(c)) + 50.0 / rates.min())
        for _ in range(60):
            mid = 0.5 * (lo_r + hi_r)
            if covered(mid) >= self.bound_level:
                hi_r = mid
            else:
                lo_r = mid
            if hi_r - lo_r < 1e-6:
                break
        return hi_r

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
        out = d + (self._applied + self._slope * (d - self._last_d))
        if out.size == 0:
            return out
        floor = self._floors.get(stream, -math.inf)
        if out[0] <= floor:
            out = np.maximum(out, floor + 1e-9 * np.arange(1, out.size + 1))
        self._floors[stream] = float(out[-1])
        return out


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One NTP-style exchange; local times on the requester's clock, remote on the other.

    Attributes:
        t1: local time the request left.
        t2: remote time the request arrived.
        t3: remote time the response left.
        t4: local time the response arrived.
    """

    t1: float
    t2: float
    t3: float
    t4: float

    @property
    def offset_s(self) -> float:
        """Remote minus local clock, assuming symmetric paths (error at most half the delay)."""
        return ((self.t2 - self.t1) + (self.t3 - self.t4)) / 2.0

    @property
    def delay_s(self) -> float:
        """Time on the network, both ways (the remote's processing time excluded)."""
        return (self.t4 - self.t1) - (self.t3 - self.t2)

    @property
    def local_mid(self) -> float:
        """Local time the offset refers to (the middle of the exchange)."""
        return (self.t1 + self.t4) / 2.0


class _TripBucket:
    """The tightest bounds on the offset seen within one bucket of local time."""

    __slots__ = ("best", "lo", "lo_t", "up", "up_t")

    def __init__(self, trip: RoundTrip) -> None:
        self.best = trip  # the lowest-delay exchange
        self.up = trip.t2 - trip.t1  # offset <= t2 - t1 (the request took >= 0 s)
        self.up_t = trip.t1
        self.lo = trip.t3 - trip.t4  # offset >= t3 - t4 (the response took >= 0 s)
        self.lo_t = trip.t4

    def add(self, trip: RoundTrip) -> None:
        if trip.delay_s < self.best.delay_s:
            self.best = trip
        if trip.t2 - trip.t1 < self.up:
            self.up, self.up_t = trip.t2 - trip.t1, trip.t1
        if trip.t3 - trip.t4 > self.lo:
            self.lo, self.lo_t = trip.t3 - trip.t4, trip.t4


class RoundTripClock:
    """Offset and drift of a remote clock from NTP-style round trips.

    Each :class:`RoundTrip` bounds the offset on both sides: ``t3 - t4 <= offset <= t2 - t1``
    (neither message can take negative time). Network delays are mostly queueing that only
    ever adds, so the tightest bounds come from the fastest messages *of each direction*,
    which need not be the same exchange: per ``bucket_s`` of local time the lowest upper and
    the highest lower bound are kept (with the lowest-delay exchange, NTP's clock filter), and
    the offset is the middle of the intersection of all kept bounds. What remains is half the
    difference between the two directions' *minimum* delays, which no round-trip protocol can
    see. Once the buckets span ``min_fit_span_s``, a line through the buckets' midpoints,
    weighted by their tightness, gives the drift, and the bounds are intersected along it.
    Pure and synchronous: the transport (MQTT, a socket) lives elsewhere.

    Args:
        bucket_s: local seconds per bucket.
        horizon_buckets: buckets kept (older ones are forgotten, so drift changes are followed).
        min_fit_span_s: local seconds the buckets must span before drift is estimated.
        delay_margin_s: precision floor of a bucket in the drift fit (weights are
            ``1 / (width - narrowest width + delay_margin_s)``).
        max_delay_s: exchanges slower than this are dropped (counted in :attr:`rejected`).
    """

    def __init__(
        self,
        *,
        bucket_s: float = 2.0,
        horizon_buckets: int = 300,
        min_fit_span_s: float = 30.0,
        delay_margin_s: float = 0.001,
        max_delay_s: float = 2.0,
    ) -> None:
        if not (bucket_s > 0 and horizon_buckets >= 2 and max_delay_s > 0):
            raise ConfigError("invalid RoundTripClock settings")
        self.bucket_s = bucket_s
        self.horizon_buckets = horizon_buckets
        self.min_fit_span_s = min_fit_span_s
        self.delay_margin_s = delay_margin_s
        self.max_delay_s = max_delay_s
        self.samples = 0
        """Exchanges accepted."""
        self.rejected = 0
        """Exchanges dropped: inconsistent times, slower than ``max_delay_s``, out of order."""
        self._buckets: list[_TripBucket] = []
        self._keys: list[int] = []
        self._slope = 0.0
        self._intercept = math.nan
        self._t_ref = 0.0
        self._half_width = math.nan
        self._drift_known = False

    @property
    def synced(self) -> bool:
        """Whether at least one exchange was accepted."""
        return self.samples > 0

    @property
    def best_delay_s(self) -> float:
        """The lowest round-trip delay kept."""
        return min((b.best.delay_s for b in self._buckets), default=math.nan)

    @property
    def uncertainty_s(self) -> float:
        """Half the width of the intersected bounds (worst-case offset error).

        The error if the two directions' minimum delays were as unequal as possible.
        """
        return self._half_width

    @property
    def drift_ppm(self) -> float:
        """How fast the remote clock runs relative to the local one, in ppm (+: fast)."""
        return self._slope * 1e6

    @property
    def drift_known(self) -> bool:
        """Whether the buckets span enough time for a drift estimate."""
        return self._drift_known

    def offset_at(self, t_local: float) -> float:
        """Remote minus local clock at local time ``t_local`` (NaN before any exchange)."""
        return self._intercept + self._slope * (t_local - self._t_ref)

    def to_remote(self, t_local: float) -> float:
        """Map a local time onto the remote clock."""
        return t_local + self.offset_at(t_local)

    def to_local(self, t_remote: float) -> float:
        """Map a remote time onto the local clock."""
        s = self._slope
        return (t_remote - self._intercept + s * self._t_ref) / (1.0 + s)

    def add(self, trip: RoundTrip) -> bool:
        """Add one exchange.

        Returns:
            ``True`` when it was accepted (consistent, fast enough and in order).
        """
        values = (trip.t1, trip.t2, trip.t3, trip.t4)
        if (
            not all(math.isfinite(v) for v in values)
            or trip.t4 < trip.t1
            or trip.t3 < trip.t2
            or not (0.0 <= trip.delay_s <= self.max_delay_s)
        ):
            self.rejected += 1
            return False
        key = math.floor(trip.local_mid / self.bucket_s)
        if self._keys and self._keys[-1] == key:
            self._buckets[-1].add(trip)
        elif not self._keys or key > self._keys[-1]:
            self._keys.append(key)
            self._buckets.append(_TripBucket(trip))
            if len(self._keys) > self.horizon_buckets:
                del self._keys[0], self._buckets[0]
        else:
            self.rejected += 1  # older than the latest bucket: out of order
            return False
        self.samples += 1
        self._fit()
        return True

    def _fit(self) -> None:
        b = self._buckets
        t = np.array([(x.up_t + x.lo_t) / 2 for x in b])
        up = np.array([x.up for x in b])
        lo = np.array([x.lo for x in b])
        self._t_ref = float(t[-1])
        slope = 0.0
        self._drift_known = False
        if len(b) >= 3 and t[-1] - t[0] >= self.min_fit_span_s:
            width = up - lo
            w = 1.0 / (width - width.min() + self.delay_margin_s)
            slope = float(np.polyfit(t - t[-1], (up + lo) / 2, 1, w=w)[0])
            self._drift_known = True
        # intersect every bucket's bounds, carried along the drift to the latest time
        up_t = np.array([x.up_t for x in b])
        lo_t = np.array([x.lo_t for x in b])
        upper = float(np.min(up - slope * (up_t - self._t_ref)))
        lower = float(np.max(lo - slope * (lo_t - self._t_ref)))
        if lower > upper:
            # inconsistent (the drift moved, the remote clock stepped): trust recent buckets
            upper, lower = float(up[-1]), float(lo[-1])
        self._slope = slope
        self._intercept = (upper + lower) / 2.0
        self._half_width = (upper - lower) / 2.0

    def quality(self) -> ClockQuality:
        """The model's state (``jitter_s`` is the best round-trip delay)."""
        return ClockQuality(
            offset_s=self.offset_at(self._t_ref) if self.synced else math.nan,
            drift_ppm=self.drift_ppm,
            jitter_s=self.best_delay_s,
            resets=0,
            observations=self.samples,
            converged=self._drift_known,
            error_bound_s=self._half_width,
        )
