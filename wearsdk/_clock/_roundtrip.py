"""A remote clock measured by NTP-style round trips: :class:`RoundTripClock`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wearsdk._clock._session import ClockQuality
from wearsdk._errors import ConfigError

__all__ = ["RoundTrip", "RoundTripClock"]


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
