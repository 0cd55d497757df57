"""The lower envelope of a device clock's arrivals and the posterior over its drift.

The state and the estimator behind :class:`~wearsdk.DeviceClockMap` (its docstring says what
they do): the points ``(device time, arrival - device time)`` one per bucket, their lower hull
and the upper hull of the inliers, the delay models and the posterior over the drift on a grid.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import numpy.typing as npt

__all__: list[str] = []


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
_LAZY_AFTER_POINTS = 100  # from this many points on, a fit may be skipped (see _refit_due)
_LAZY_PER_POINTS = 300.0  # and it is made at least every n / this observations
_MIN_LAMBDA_POINTS = 8  # points needed before the delay density is taken from the data


class _Envelope:
    """Points, hulls and the drift posterior of a :class:`~wearsdk.DeviceClockMap`."""

    bucket_s: float
    horizon_buckets: int
    drift_prior_ppm: float
    jitter_prior_s: float
    bound_level: float

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
        # what the last fit saw: its envelope and inliers' top line on its grid, its centre
        self._fit_env: npt.NDArray[np.float64] | None = None
        self._fit_top: npt.NDArray[np.float64] | None = None
        self._models_top: npt.NDArray[np.float64] | None = None
        self._fit_centre = 0.0
        self._since_fit = 0  # observations since the last fit
        self._dirty = True  # the points changed other than by one appended at the end
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
            self._dirty = True
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
            self._dirty = True
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
        self._models_top = None
        rate_e = self._lam * (n + 1)
        if stats is None:
            return (
                (prior + rate_e * env)[None, :],
                env,
                np.full((1, b.size), rate_e),
            )
        k, mean_d, mean_y = stats
        top = -self._upper.support(-b, centre)  # highest inlier line of slope b
        self._models_top = top
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

    def _density_due(self) -> bool:
        return self.n_observations >= 1.25 * self._lam_obs or (
            self.n_observations - self._lam_obs >= 500
        )

    def _refit_due(self, d: float, y: float) -> bool:
        """Whether the point just appended, ``(d, y)``, can move the posterior.

        Below ``_LAZY_AFTER_POINTS`` points, always. After that, a point above the last fit's
        envelope for every drift of its grid (and, with the bounded model, below its inliers'
        top line) changes only the point count and the inliers' means, by ``1 / n``: the fit
        is then made at least every ``n / _LAZY_AFTER_POINTS`` observations, and at once when
        a point reaches the envelope or the edge, or the points changed otherwise.
        """
        n = len(self._pd)
        if (
            self._dirty
            or self._fit_env is None
            or n < _LAZY_AFTER_POINTS
            or self._since_fit + 1 >= n / _LAZY_PER_POINTS
            or self._density_due()
        ):
            return True
        h = y - self._grid * (d - self._fit_centre)
        if bool(np.any(h < self._fit_env)):
            return True
        return self._fit_top is not None and self._pin[-1] and bool(np.any(h > self._fit_top))

    def _fit(self) -> None:
        n = len(self._pd)
        centre = self._sum_d / n
        if n >= _MIN_LAMBDA_POINTS and self._density_due():
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
        self._fit_env, self._fit_top, self._fit_centre = env, self._models_top, centre
        self._since_fit = 0
        self._dirty = False
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
        if self._edge:
            # the edge is known now: a later point beyond it by more than the top spacing of
            # uniform points allows (at the test's level) is held, not an inlier. Without this
            # a held-back notification just above the edge, arriving before the next test,
            # joins the upper hull and tilts the bounded model's line
            inliers = excess[inlier]
            top = float(inliers.max() - inliers.min())
            self._cut = float(inliers.min()) + top * (1.0 + _EDGE_TOP / inliers.size)

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
