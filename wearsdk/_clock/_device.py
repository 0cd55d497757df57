"""Mapping a device clock onto the session clock: :class:`DeviceClockMap`."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from wearsdk._clock._envelope import _Envelope
from wearsdk._clock._session import ClockQuality
from wearsdk._errors import ConfigError

__all__ = ["DeviceClockMap"]


class DeviceClockMap(_Envelope):
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
    on a grid at every observation that can move it (from 100 points on, one above the
    envelope and below the edge is skipped, with a fit at least every ``n / 300``
    observations); the applied line is its mean at the newest device time,
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
        bound_level: credibility of :attr:`error_bound_s`. Its misses come in runs of tens
            of seconds (a drift estimate off for a while), so a session sees more or none:
            in the benchmark, 0.999 covers at least 99 % of every H10's frames with the
            timing-only ACC (with ECG alone, 3 straps of 80 stay below 95 %), at the cost of
            :attr:`converged` coming about a minute later (docs/clock.md).
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

        The delay model behind it: the delays above the minimum have a density above zero at
        the minimum (a notification can arrive at the fastest the link allows: uniform,
        exponential, connection-event delays). Delays that rise gradually from their minimum
        (a gamma-like density, zero at the minimum) leave the envelope above the true line by
        more than the model allows, and the bound then covers only part of the frames
        (measured in docs/clock.md).
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
        d_rel, y_rel = device_t - self._d0, arrival - device_t - self._y0
        self._add_point(d_rel, y_rel)
        if self._refit_due(d_rel, y_rel):
            self._fit()
        else:
            self._since_fit += 1
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

    def retime(self, device_t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map device times with the fit as it stands now: hindsight, for samples already out.

        :meth:`map` gives what the map knew when a sample arrived, slew-limited and never going
        back. ``retime`` maps with the current posterior line instead. At the end of a session
        the fit holds all of it, and the early samples are placed far better than they were live
        (two ECG-only straps at +-100 ppm, 3 minutes: cross-device p99 over the whole session
        0.45 ms median against 3.09 ms live from 30 s; docs/clock.md): for re-timing a
        recording or an analysis after the fact. The line is one offset and one drift over the
        points kept (``horizon_buckets``; earlier device times are extrapolated) since the last
        reset: device times of a clock before :attr:`resets` last grew do not belong to it. No
        order is guaranteed across calls (the line moves as points arrive).

        Raises:
            ConfigError: before the first :meth:`observe`.
        """
        d = np.asarray(device_t, dtype=np.float64)
        if self._applied is None:
            raise ConfigError("DeviceClockMap.retime() needs an observation first")
        out: npt.NDArray[np.float64] = (
            d + self._y0 + self._target_new + self._slope * (d - self._d0 - self._d_new)
        )
        return out

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
