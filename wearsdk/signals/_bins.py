"""Per-hop summary bins: window statistics in O(1) per window, whatever the sampling rate.

A stream's samples are summarised, as they arrive, into bins one hop long (count, sums of y,
y², t, t² and t·y, per channel). A window of L seconds is the sum of its L/hop bins, so its
mean, variance and least-squares slope cost the same for 4 Hz EDA and 200 Hz accelerometry,
and sliding the window by one hop costs one bin. Gaps leave empty bins, so a window's
coverage is exact.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["BinnedStream", "WindowStats"]

_N, _ST, _STT, _SY, _SYY, _STY = range(6)  # shared by the channels, then per channel


class WindowStats:
    """Sums over one window, with the statistics derived from them.

    Attributes:
        n: number of samples.
        expected: samples the window would hold at the nominal rate (0 if unknown).
    """

    __slots__ = ("_s", "expected", "n", "t_ref")

    def __init__(self, sums: npt.NDArray[np.float64], expected: float, t_ref: float) -> None:
        self._s = sums
        self.n = int(sums[_N])
        self.expected = expected
        self.t_ref = t_ref

    @property
    def coverage(self) -> float:
        """Fraction of the expected samples present, in [0, 1] (1 when the rate is unknown)."""
        if self.expected <= 0:
            return 1.0 if self.n else 0.0
        return min(1.0, self.n / self.expected)

    @property
    def mean(self) -> float:
        """Mean of the samples (NaN when empty)."""
        return float(self._s[_SY] / self.n) if self.n else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (NaN when empty)."""
        if not self.n:
            return math.nan
        m = self._s[_SY] / self.n
        return float(math.sqrt(max(0.0, self._s[_SYY] / self.n - m * m)))

    @property
    def slope_per_s(self) -> float:
        """Least-squares slope of y against t, per second (NaN with under 2 samples)."""
        n = self.n
        if n < 2:
            return math.nan
        st, stt, sy, sty = self._s[_ST], self._s[_STT], self._s[_SY], self._s[_STY]
        den = n * stt - st * st
        if den <= 1e-12 * max(1.0, n * stt):
            return math.nan
        return float((n * sty - st * sy) / den)


class BinnedStream:
    """Accumulates a stream (one or more channels sampled together) into hop-long bins aligned
    on the session clock.

    Bin ``k`` covers ``[k * hop_s, (k + 1) * hop_s)``. Times inside a bin are taken relative to
    a reference near the window (``t_ref``) to keep the t² sums well conditioned. Channels share
    the time sums of the samples they have in common; a non-finite value is missing from its
    channel only.

    Args:
        hop_s: bin width, seconds.
        capacity_bins: bins kept (the longest window, plus slack for late samples).
        nominal_rate_hz: the stream's nominal rate, for coverage (``None``: unknown).
        channels: values per sample.
    """  # noqa: D205

    def __init__(
        self,
        *,
        hop_s: float,
        capacity_bins: int,
        nominal_rate_hz: float | None = None,
        channels: int = 1,
    ) -> None:
        if not (hop_s > 0 and capacity_bins >= 1 and channels >= 1):
            raise ConfigError("hop_s must be > 0, capacity_bins and channels >= 1")
        self.hop_s = float(hop_s)
        self.capacity = int(capacity_bins)
        self.channels = int(channels)
        self.nominal_rate_hz = nominal_rate_hz
        self._bins = np.zeros((self.capacity, self.channels, 6))
        self._last_bin = -(2**62)
        self.t_ref: float | None = None
        self.late = 0
        """Samples dropped because their bin had already left the ring (per channel value)."""
        self.watermark = -math.inf
        """Latest sample time seen."""

    def add(self, t: npt.ArrayLike, y: npt.ArrayLike) -> None:
        """Add samples: ``y`` of shape ``(n,)`` or ``(n, channels)`` (non-finite values are
        skipped: they count as missing).
        """  # noqa: D205
        tt = np.asarray(t, dtype=np.float64).ravel()
        yy = np.asarray(y, dtype=np.float64).reshape(tt.size, self.channels)
        if tt.size == 0:
            return
        if self.t_ref is not None:
            if self._add_one_bin(tt, yy):
                return
            if tt.size <= 4:  # a beat or two across a bin edge: one sample at a time
                for i in range(tt.size):
                    if not self._add_one_bin(tt[i : i + 1], yy[i : i + 1]):
                        self._add_general(tt[i : i + 1], yy[i : i + 1])
                return
        self._add_general(tt, yy)

    def _add_general(self, tt: npt.NDArray[np.float64], yy: npt.NDArray[np.float64]) -> None:
        if self.t_ref is not None and self._add_finite(tt, yy):
            return
        ok = np.isfinite(tt)[:, None] & np.isfinite(yy)
        rows = ok.any(axis=1)
        tt, yy, ok = tt[rows], yy[rows], ok[rows]
        if tt.size == 0:
            return
        if self.t_ref is None:
            self.t_ref = math.floor(float(tt[0]) / self.hop_s) * self.hop_s
        k = np.floor(tt / self.hop_s).astype(np.int64)
        kmax = int(k.max())
        if kmax > self._last_bin:
            self._advance(kmax)
        keep = k >= self._last_bin - self.capacity + 1
        self.late += int(ok[~keep].sum())
        k, tt, yy, ok = k[keep], tt[keep], yy[keep], ok[keep]
        if k.size == 0:
            return
        w = ok.astype(np.float64)  # 0 where a channel's value is missing
        yw = np.where(ok, yy, 0.0)
        tr = (tt - self.t_ref)[:, None] * w
        contrib = np.stack((w, tr, tr * tr, yw, yw * yw, tr * yw), axis=2)
        np.add.at(self._bins, k % self.capacity, contrib)
        self.watermark = max(self.watermark, float(tt.max()))

    def _add_finite(self, tt: npt.NDArray[np.float64], yy: npt.NDArray[np.float64]) -> bool:
        """The usual long block: every value finite, no bin left behind the ring. The sums of
        :meth:`_add_general` without its masks (the same numbers: a weight of 1.0 and an
        unmasked value change no bit); ``False`` when the block needs them.
        """  # noqa: D205
        if not (np.isfinite(np.add.reduce(tt)) and np.isfinite(np.add.reduce(yy, axis=None))):
            return False  # a NaN or infinity somewhere (or sums beyond float range)
        k = np.floor(tt / self.hop_s).astype(np.int64)
        kmin, kmax = int(np.minimum.reduce(k)), int(np.maximum.reduce(k))
        if kmin < max(kmax, self._last_bin) - self.capacity + 1:
            return False  # late samples: dropped and counted there
        filled = self._last_bin  # bins up to here may hold sums; later ones are cleared
        if kmax > self._last_bin:
            self._advance(kmax)
        assert self.t_ref is not None
        tr = (tt - self.t_ref)[:, None]
        contrib = np.empty((tt.size, self.channels, 6))
        contrib[:, :, _N] = 1.0
        contrib[:, :, _ST] = tr
        np.multiply(tr, tr, out=contrib[:, :, _STT])
        contrib[:, :, _SY] = yy
        np.multiply(yy, yy, out=contrib[:, :, _SYY])
        np.multiply(tr, yy, out=contrib[:, :, _STY])
        self._accumulate(k, contrib, filled)
        self.watermark = max(self.watermark, float(np.maximum.reduce(tt)))
        return True

    def _accumulate(
        self, k: npt.NDArray[np.int64], contrib: npt.NDArray[np.float64], filled: int
    ) -> None:
        """Add ``contrib[i]`` to bin ``k[i]``, each bin's rows one after the other, as
        ``np.add.at`` adds them (the same floats). Samples in time order (the usual block)
        are summed a bin at a time: a bin cleared for this block gets the sum of its rows
        (``0 + ((c0 + c1) + ...)``, the same number as ``((0 + c0) + c1) + ...``); a bin that
        already holds sums (up to ``filled``) gets ``np.add.at``'s row by row.
        """  # noqa: D205
        steps = np.flatnonzero(k[1:] != k[:-1]) + 1
        if steps.size and bool((k[steps] < k[steps - 1]).any()):
            np.add.at(self._bins, k % self.capacity, contrib)  # out of order: row by row
            return
        bins, cap = self._bins, self.capacity
        for a, b in zip([0, *steps.tolist()], [*steps.tolist(), k.size], strict=True):
            kb = int(k[a])
            if kb <= filled:
                np.add.at(bins, k[a:b] % cap, contrib[a:b])
            else:
                bins[kb % cap] += np.add.reduce(contrib[a:b], axis=0)

    def _add_one_bin(self, tt: npt.NDArray[np.float64], yy: npt.NDArray[np.float64]) -> bool:
        """The usual case online: finite samples of one bin, added as six sums per channel
        (``False`` when the block needs the general path).
        """  # noqa: D205
        assert self.t_ref is not None
        t_min, t_max = float(np.minimum.reduce(tt)), float(np.maximum.reduce(tt))
        if not (math.isfinite(t_min) and math.isfinite(t_max)):
            return False
        k = math.floor(t_min / self.hop_s)
        if k != math.floor(t_max / self.hop_s) or k <= self._last_bin - self.capacity:
            return False
        tr = tt - self.t_ref
        if self.channels == 1:  # plain floats: cheaper than one-element arrays
            y = yy[:, 0]
            sy, syy, sty = float(np.add.reduce(y)), float(np.dot(y, y)), float(np.dot(tr, y))
            if not math.isfinite(sy + syy + sty):  # a NaN or infinite value: general path
                return False
            per_channel: tuple[float, ...] | npt.NDArray[np.float64] = (sy, syy, sty)
        else:
            per_channel = np.stack(
                (np.add.reduce(yy, axis=0), np.einsum("ij,ij->j", yy, yy), tr @ yy), axis=1
            )
            if not math.isfinite(float(np.add.reduce(per_channel, axis=None))):
                return False
        if k > self._last_bin:
            self._advance(k)
        row = self._bins[k % self.capacity]
        shared = (tt.size, float(np.add.reduce(tr)), float(np.dot(tr, tr)))
        if isinstance(per_channel, tuple):
            row[0] += shared + per_channel  # one update
        else:
            row[:, :_SY] += shared
            row[:, _SY:] += per_channel
        self.watermark = max(self.watermark, t_max)
        return True

    def ensure_capacity(self, capacity_bins: int) -> None:
        """Grow the ring (keeping its content) so that it holds at least ``capacity_bins``."""
        if capacity_bins <= self.capacity:
            return
        new = np.zeros((capacity_bins, self.channels, 6))
        lo = self._last_bin - self.capacity + 1
        ks = np.arange(lo, self._last_bin + 1)
        if self._last_bin > -(2**61):
            new[ks % capacity_bins] = self._bins[ks % self.capacity]
        self._bins = new
        self.capacity = capacity_bins

    def _advance(self, kmax: int) -> None:
        # clear the ring positions of bins that become current
        start = max(self._last_bin + 1, kmax - self.capacity + 1)
        if start == kmax:
            self._bins[kmax % self.capacity] = 0.0
        elif kmax - start + 1 >= self.capacity:
            self._bins[:] = 0.0
        else:
            idx = np.arange(start, kmax + 1) % self.capacity
            self._bins[idx] = 0.0
        self._last_bin = kmax

    def window(self, end_bin: int, n_bins: int) -> WindowStats:
        """Statistics of bins ``end_bin - n_bins + 1 .. end_bin`` of the first channel (bins
        outside the ring count as empty).
        """  # noqa: D205
        return self.windows(end_bin, n_bins)[0]

    def windows(self, end_bin: int, n_bins: int) -> list[WindowStats]:
        """Like :meth:`window`, for every channel."""
        lo = max(end_bin - n_bins + 1, self._last_bin - self.capacity + 1)
        hi = min(end_bin, self._last_bin)
        if hi < lo:
            sums = np.zeros((self.channels, 6))
        else:
            # the bins are one slice of the ring, or two when they wrap around its end
            a, b = lo % self.capacity, hi % self.capacity
            if a <= b:
                sums = np.add.reduce(self._bins[a : b + 1], axis=0)
            else:
                sums = np.add.reduce(self._bins[a:], axis=0)
                sums += np.add.reduce(self._bins[: b + 1], axis=0)
        expected = n_bins * self.hop_s * self.nominal_rate_hz if self.nominal_rate_hz else 0.0
        t_ref = self.t_ref or 0.0
        return [WindowStats(row, expected, t_ref) for row in sums]
