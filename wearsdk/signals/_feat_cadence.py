"""Rhythmic movement in the raw accelerometer: pedalling, walking, running.

On a stationary bike the wrist rests on the handlebars and barely moves (its ACC activity stays
near that of a seated person), but every pedal stroke rocks the body: the raw ACC carries a
periodic component at the cadence, 1-3 Hz. Seated movement (typing, gestures, fidgeting) has
power in that band too, but it is not periodic over a minute. :class:`AccCadenceFeatures`
measures the periodicity.

For each window, each axis (mean removed; ACC faster than :data:`CADENCE_MIN_RATE_HZ` first
averaged down to it) is band-passed to :data:`CADENCE_BAND_HZ` (an FFT
band-pass over the window's samples) and its normalised autocorrelation is searched for its
highest value at the lags of a 1-3 Hz period (:data:`CADENCE_HZ`). ``acc_periodicity`` is the
highest such value over the axes (1: a perfectly regular rhythm; band-limited noise stays near
0.2; 0 for a wrist that does not move at all), ``acc_cadence_hz`` the frequency of that lag.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from wearsdk.signals._feat_base import FeatureHost, FeatureProvider, Rows, WindowOutput

__all__ = [
    "CADENCE_BAND_HZ",
    "CADENCE_HZ",
    "CADENCE_MIN_RATE_HZ",
    "AccCadenceFeatures",
    "acc_periodicity",
]

CADENCE_BAND_HZ = (0.8, 3.5)
"""The band the axes are filtered to before their autocorrelation is taken."""
CADENCE_HZ = (1.0, 3.0)
"""The rhythms searched: lags of one period of 1 to 3 Hz."""

CADENCE_MIN_RATE_HZ = 25.0
"""ACC faster than this is averaged over blocks of ``floor(rate / 25)`` consecutive samples as
it arrives (a 200 Hz strap's ACC kept at 25 Hz; a boxcar low-pass, -3 % at 3.5 Hz): the band
ends at 3.5 Hz, and a 60 s window at 200 Hz, one per second, cost more than the rest of the
pipeline. An E4's 32 Hz, on which the exertion rule was selected, is used as it is."""


@functools.lru_cache(maxsize=16)
def _plan(
    n: int, rate_hz: float
) -> (
    tuple[
        int,
        npt.NDArray[np.intp],
        npt.NDArray[np.float64],
        npt.NDArray[np.intp],
        npt.NDArray[np.float64],
    ]
    | None
):
    """What a window of ``n`` samples needs: transform length, band bins, the cosines that
    give the autocorrelation at lag 0 and at each lag of one 1-3 Hz period, those lags and
    their unbiasing factors ``n / (n - lag)`` (``None`` when the window is too short for one
    period).
    """  # noqa: D205
    lo = math.ceil(rate_hz / CADENCE_HZ[1])
    hi = min(math.floor(rate_hz / CADENCE_HZ[0]), n - 1)
    if hi < lo:
        return None
    nf = 1 << (2 * n - 1).bit_length()  # zero-padded: the circular autocorrelation is linear
    k = np.arange(nf // 2 + 1)
    f = k * rate_hz / nf
    band = k[(f >= CADENCE_BAND_HZ[0]) & (f <= CADENCE_BAND_HZ[1]) & (k > 0) & (k < nf // 2)]
    # the autocorrelation of the band-passed axes is the inverse transform of their band power;
    # only lag 0 and the lags of one 1-3 Hz period are needed (the band holds no DC or Nyquist)
    lags = np.arange(lo, hi + 1)
    need = np.concatenate(([0], lags))
    cos = np.cos((2 * np.pi / nf) * np.outer(need, band))
    unbias = (n / (n - lags))[:, None]
    for a in (cos, unbias):
        a.flags.writeable = False
    return nf, band, cos, lags, unbias


def acc_periodicity(xyz: npt.NDArray[np.float64], rate_hz: float) -> tuple[float, float]:
    """The periodicity of 1-3 Hz movement in a window of raw ACC samples, and its frequency.

    Args:
        xyz: samples, shape ``(n, 3)`` (any unit), taken at ``rate_hz`` without gaps.
        rate_hz: the sampling rate (at least twice the band's upper edge).

    Returns:
        ``(periodicity, cadence_hz)``: the highest normalised autocorrelation of the
        band-passed axes at a lag of one 1-3 Hz period, and ``rate_hz / lag``; ``(0.0, NaN)``
        for a wrist that does not move.
    """
    n = xyz.shape[0]
    plan = _plan(n, rate_hz)
    if plan is None:
        return math.nan, math.nan
    nf, band, cos, lags, unbias = plan
    # the axes as rows, mean removed, in one pass (the same floats as ``xyz - xyz.mean(0)``)
    mean = np.add.reduce(xyz, axis=0) / n
    x = np.subtract(xyz.T, mean[:, None], out=np.empty(xyz.shape[::-1]))
    # (the gathered band, not a slice: the product below then meets the same memory layout,
    # which decides its rounding)
    spec = np.fft.rfft(x, nf, axis=1)[:, band]
    power = spec.real**2 + spec.imag**2
    ac = (2.0 / nf) * (cos @ power.T)
    energy = ac[0]
    moving = energy > 1e-12 * max(float(energy.max()), 1e-300)
    n_moving = int(np.count_nonzero(moving))
    if n_moving == 0:
        return 0.0, math.nan
    # normalised, and unbiased (a lag has n - lag products)
    if n_moving == moving.size:
        r = ac[1:] / energy * unbias
    else:
        r = ac[1:, moving] / energy[moving] * unbias
    best = r.max(axis=1)
    peak = float(best.max())
    # the period is the shortest lag whose local maximum (nearly) reaches the peak: a rhythm
    # also correlates at two periods, which would read as half its frequency
    pad = np.concatenate(([-np.inf], best, [-np.inf]))
    local = (best >= pad[:-2]) & (best >= pad[2:])
    j = int(np.argmax(local & (best >= peak - 0.1 * abs(peak))))
    return peak, rate_hz / float(lags[j])


class AccCadenceFeatures(FeatureProvider):
    """Rhythmic movement (``acc``, 3 channels, any unit, a nominal rate of 7 Hz or more):
    ``acc_periodicity`` and ``acc_cadence_hz`` (see :func:`acc_periodicity`).

    Both are NaN in a window with fewer samples than ``min_coverage`` of the nominal rate, and
    in every window of a stream without a nominal rate or slower than twice
    :data:`CADENCE_BAND_HZ`'s upper edge (the rhythm cannot be resolved). Samples that are not
    after the previous one, or not finite, are left out of these features and counted
    (``dropped``).

    Args:
        host: the extractor that runs it.
    """  # noqa: D205

    streams: ClassVar[tuple[str, ...]] = ("acc",)
    features: ClassVar[tuple[str, ...]] = ("acc_periodicity", "acc_cadence_hz")

    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host)
        self._rows = Rows(4)  # time, x, y, z
        self._rate: float | None = None
        self._last_t = -math.inf
        self._seen = False  # a session without ACC gets no ACC features
        self._q = 1  # samples per stored (averaged) sample
        self._pending_t: npt.NDArray[np.float64] = np.empty(0)
        self._pending: npt.NDArray[np.float64] = np.empty((0, 3))

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Keep the samples (in time order) for the windows."""
        self._seen = True
        if rate is not None and rate > 0:
            self._rate = rate
        if self._rate is None or self._rate < 2 * CADENCE_BAND_HZ[1]:
            return  # no window of this stream can carry the features
        xyz = values[:, :3]
        prev = np.maximum.accumulate(np.concatenate(([self._last_t], t[:-1])))
        ok = np.isfinite(t) & (t > prev) & np.isfinite(xyz).all(axis=1)
        if xyz.shape[1] < 3:
            ok[:] = False
        if not ok.all():
            self.host.dropped += int(t.size - np.count_nonzero(ok))
            t, xyz = t[ok], xyz[ok]
        if t.size == 0:
            return
        self._last_t = float(t[-1])
        q = max(1, int(self._rate // CADENCE_MIN_RATE_HZ))
        if q != self._q:  # a new rate: the partial block of the old one is dropped
            self._q, self._pending_t, self._pending = q, t[:0], xyz[:0]
        if q > 1:  # block means, stamped with their last sample: a boxcar low-pass
            t = np.concatenate((self._pending_t, t))
            xyz = np.concatenate((self._pending, xyz))
            m = t.size // q
            self._pending_t, self._pending = t[m * q :], xyz[m * q :]
            if m == 0:
                return
            total = xyz[0 : m * q : q].copy()
            for i in range(1, q):
                total += xyz[i : m * q : q]
            t, xyz = t[q - 1 : m * q : q], total / q
        rows = self._rows.extend(t.size)
        rows[:, 0] = t
        rows[:, 1:] = xyz

    def window(self, w: WindowOutput) -> None:
        """``acc_periodicity`` and ``acc_cadence_hz`` of the window (NaN when not covered)."""
        if not self._seen:
            return
        rate = self._rate
        per = cad = math.nan
        if rate is not None and rate >= 2 * CADENCE_BAND_HZ[1]:
            rows = self._rows.window(w.start, w.end)
            kept = rate / self._q  # the rate of the stored samples
            if rows.shape[0] >= self.config.min_coverage * kept * (w.end - w.start):
                per, cad = acc_periodicity(rows[:, 1:], kept)
        w.values["acc_periodicity"] = per
        w.values["acc_cadence_hz"] = cad

    def forget(self, before: float) -> None:
        """Drop the samples no pending window needs."""
        self._rows.forget(before)
