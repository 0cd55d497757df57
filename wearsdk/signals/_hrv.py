"""RR artifact classification (Lipponen & Tarvainen 2019) and frequency-domain HRV.

Artifact classification follows Lipponen, J. A. & Tarvainen, M. P. (2019), "A robust algorithm
for heart rate variability time series artefact correction using novel beat classification",
J. Med. Eng. Technol. 43(3):173-181 (the "Kubios" method; constants as in NeuroKit2's
``signal_fixpeaks``), with one change that makes it streaming: the thresholds (alpha x half
the inter-quartile range of |dRR| and |mRR| over 91 beats) and the 11-beat median are computed
on *trailing* windows, so a beat is classified as soon as the two beats after it are known.

Beats are classified, not deleted:

- ``ectopic``: a premature beat and its compensatory pause (real physiology: kept, flagged, and
  its intervals left out of NN-based HRV);
- ``missed``: a beat the detector missed (an interval of about twice the median): split in two;
- ``extra``: a spurious beat (two intervals that add up to the median): merged;
- ``longshort``: an interval too long or short to explain: flagged and left out of NN.

The corrected fraction (non-normal beats / beats) is reported as a quality measure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from wearsdk._errors import ConfigError

__all__ = [
    "BeatClass",
    "RRArtifacts",
    "RRCleaner",
    "hrv_frequency",
    "rr_artifacts",
]

_C1 = 0.13
_C2 = 0.17
_ALPHA = 5.2
_WINDOW = 91
_MEDIAN = 11
_LOOKAHEAD = 2


class BeatClass(IntEnum):
    """Class of one RR interval (the interval that ends at a beat)."""

    NORMAL = 0
    ECTOPIC = 1
    MISSED = 2
    EXTRA = 3
    LONGSHORT = 4


@dataclass(frozen=True, slots=True)
class RRArtifacts:
    """Classified RR intervals and the NN series derived from them.

    Attributes:
        rr_s: the RR intervals as given.
        classes: a :class:`BeatClass` per interval (int8).
        nn_s: normal-to-normal intervals: missed beats split, extra beats merged, intervals
            touching an ectopic or long/short beat left out.
        nn_end_index: for each NN interval, the index in ``rr_s`` of the interval it comes from
            (a split interval appears twice).
        corrected_fraction: non-normal intervals / intervals (0 when empty).
    """

    rr_s: npt.NDArray[np.float64]
    classes: npt.NDArray[np.int8]
    nn_s: npt.NDArray[np.float64]
    nn_end_index: npt.NDArray[np.int64]
    corrected_fraction: float


def _trailing_stat(
    values: npt.NDArray[np.float64], width: int, rows: npt.NDArray[np.int64], q: tuple[float, ...]
) -> npt.NDArray[np.float64]:
    """Percentiles ``q`` of the trailing windows (the last ``width`` values, fewer at the start)
    ending at each index in ``rows``; shape ``(len(q), len(rows))``.
    """  # noqa: D205
    out = np.empty((len(q), rows.size))
    full = rows >= width - 1
    if full.any():
        ends = rows[full]
        if ends.size <= 8:  # online: a beat or two per call; slicing beats building a view
            windows = np.sort(np.stack([values[e - width + 1 : e + 1] for e in ends.tolist()]))
        else:
            windows = np.sort(sliding_window_view(values, width)[ends - (width - 1)], axis=1)
        for i, qq in enumerate(q):
            out[i, full] = _sorted_quantile(windows, qq)
    for j in np.flatnonzero(~full):
        part = np.sort(values[: rows[j] + 1])[None, :]
        for i, qq in enumerate(q):
            out[i, j] = _sorted_quantile(part, qq)[0]
    return out


def _sorted_quantile(rows_sorted: npt.NDArray[np.float64], q: float) -> npt.NDArray[np.float64]:
    """Percentile ``q`` of each row of an already sorted array (linear interpolation, as
    ``np.percentile``'s default), without its per-call overhead.
    """  # noqa: D205
    n = rows_sorted.shape[1]
    pos = q / 100.0 * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    a = rows_sorted[:, lo]
    out: npt.NDArray[np.float64] = a + (rows_sorted[:, hi] - a) * frac
    return out


def _threshold(
    values: npt.NDArray[np.float64], rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    q1, q3 = _trailing_stat(np.abs(values), _WINDOW, rows, (25.0, 75.0))
    th: npt.NDArray[np.float64] = _ALPHA * (q3 - q1) / 2.0
    return th


def _classify(rr: npt.NDArray[np.float64], upto: int, start: int = 0) -> npt.NDArray[np.int8]:
    """Classify intervals ``start .. upto-1`` of ``rr`` (``rr`` extends 2 beyond ``upto``, or
    its end is mirrored). Only the trailing windows of those intervals are computed.
    """  # noqa: D205
    n = rr.size
    if n == 0 or upto <= start:
        return np.zeros(max(0, upto - start), np.int8)
    lo = max(0, start - 1)  # the interval before: an extra beat there absorbs ours
    drr = np.empty(n)
    drr[1:] = np.diff(rr)
    drr[0] = 0.0  # causal: the first interval has no predecessor (NeuroKit2 uses a mean)
    # normalised dRR for lo-1 .. upto+1 (neighbours), mirrored beyond the end
    idx = np.arange(lo - 1, upto + 2)
    mirrored = np.where(idx >= n, 2 * (n - 1) - idx, idx)
    mirrored = np.where(mirrored < 0, -mirrored, mirrored)
    mirrored = np.clip(mirrored, 0, n - 1)
    th1 = _threshold(drr, mirrored)
    d_all = drr[mirrored]
    ndrr_ext = np.where(th1 > 0, d_all / np.where(th1 > 0, th1, 1.0), 0.0)
    rows = np.arange(lo, upto)
    ndrr = ndrr_ext[1:-2]
    prev1, next1, next2 = ndrr_ext[:-3], ndrr_ext[2:-1], ndrr_ext[3:]
    med = _trailing_stat(rr, _MEDIAN, rows, (50.0,))[0]
    mrr = rr[rows] - med
    mrr = np.where(mrr < 0, 2.0 * mrr, mrr)
    # thresholds of mRR need the trailing mRR values themselves
    first = max(0, lo - _WINDOW + 1)
    hist_rows = np.arange(first, upto)
    med_hist = _trailing_stat(rr, _MEDIAN, hist_rows, (50.0,))[0]
    mrr_hist = rr[hist_rows] - med_hist
    mrr_hist = np.where(mrr_hist < 0, 2.0 * mrr_hist, mrr_hist)
    q = _trailing_stat(np.abs(mrr_hist), _WINDOW, rows - first, (25.0, 75.0))
    th2 = _ALPHA * (q[1] - q[0]) / 2.0
    nmrr = np.where(th2 > 0, mrr / np.where(th2 > 0, th2, 1.0), 0.0)
    s12 = np.where(
        ndrr > 0, np.maximum(prev1, next1), np.where(ndrr < 0, np.minimum(prev1, next1), 0.0)
    )
    s22 = np.where(ndrr >= 0, np.minimum(next1, next2), np.maximum(next1, next2))
    rr_next = rr[np.minimum(rows + 1, n - 1)]
    r = rr[rows]

    d, m = ndrr, nmrr
    out = np.zeros(rows.size, np.int8)
    candidate = (np.abs(d) > 1) | (np.abs(m) > 3)
    ectopic = ((d > 1) & (s12 < -_C1 * d - _C2)) | ((d < -1) & (s12 > -_C1 * d + _C2))
    ectopic &= np.abs(d) > 1
    eq3 = (d > 1) & (s22 < -1)
    eq4 = np.abs(m) > 3
    eq5 = (d < -1) & (s22 > 1)
    longshort = candidate & ~ectopic & (eq3 | eq4 | eq5)
    extra = longshort & eq5 & (np.abs(r + rr_next - med) < th2)
    missed = longshort & ~extra & eq3 & (np.abs(r / 2 - med) < th2)
    out[longshort] = BeatClass.LONGSHORT
    out[missed] = BeatClass.MISSED
    out[extra] = BeatClass.EXTRA
    out[ectopic] = BeatClass.ECTOPIC
    # the interval after an extra beat absorbs it: judged merged, not on its own
    after_extra = np.flatnonzero(extra) + 1
    out[after_extra[after_extra < rows.size]] = BeatClass.NORMAL
    return out[start - lo :]


def _nn(
    rr: npt.NDArray[np.float64], classes: npt.NDArray[np.int8], offset: int = 0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """NN intervals from classified RR (vectorised)."""
    n = rr.size
    if n == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    bad = (classes == BeatClass.ECTOPIC) | (classes == BeatClass.LONGSHORT)
    # an ectopic beat spoils its own interval and the compensatory one after it
    spoil = bad.copy()
    spoil[1:] |= classes[:-1] == BeatClass.ECTOPIC
    extra = classes == BeatClass.EXTRA
    merged_into_next = extra.copy()
    values = rr.copy()
    # an extra beat: its interval is added to the next one
    idx = np.flatnonzero(extra[:-1])
    values[idx + 1] += rr[idx]
    keep = ~spoil & ~merged_into_next
    missed = classes == BeatClass.MISSED
    reps = np.where(keep, np.where(missed, 2, 1), 0)
    nn = np.repeat(np.where(missed, values / 2.0, values), reps)
    index = np.repeat(np.arange(n, dtype=np.int64) + offset, reps)
    return nn, index


def rr_artifacts(rr_s: npt.ArrayLike) -> RRArtifacts:
    """Classify every RR interval and derive the NN series (the offline mirror of
    :class:`RRCleaner`; see the module documentation for the method).

    Args:
        rr_s: RR intervals in seconds, in beat order.
    """  # noqa: D205
    rr = np.asarray(rr_s, dtype=np.float64).ravel()
    if not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ConfigError("RR intervals must be finite and positive")
    classes = _classify(rr, rr.size)
    nn, index = _nn(rr, classes)
    frac = float(np.mean(classes != BeatClass.NORMAL)) if rr.size else 0.0
    return RRArtifacts(rr, classes, nn, index, frac)


class RRCleaner:
    """Online RR artifact classification with a two-beat delay.

    ``step(rr)`` returns the classes of the intervals that can now be decided (each needs the
    two intervals after it); :meth:`flush` decides the last ones at the end of a recording.
    Over any split into blocks, ``step`` + ``flush`` equal :func:`rr_artifacts`.
    Memory is bounded: only the trailing windows are kept.
    """

    _KEEP = _WINDOW + _MEDIAN + 2 * _LOOKAHEAD + 1

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the history."""
        self._rr = np.zeros(0)
        self._first = 0  # global index of self._rr[0]
        self._decided = 0  # global index of the next interval to decide
        self._first_mean: float | None = None
        self.counts = np.zeros(len(BeatClass), np.int64)
        """Intervals decided so far, per :class:`BeatClass`."""

    @property
    def corrected_fraction(self) -> float:
        """Non-normal intervals / intervals decided so far."""
        total = int(self.counts.sum())
        return float(1.0 - self.counts[BeatClass.NORMAL] / total) if total else 0.0

    def step(self, rr_s: npt.ArrayLike) -> RRArtifacts:
        """Add intervals; return the ones decided now (with their NN intervals)."""
        rr = np.asarray(rr_s, dtype=np.float64).ravel()
        if rr.size and (not np.all(np.isfinite(rr)) or np.any(rr <= 0)):
            raise ConfigError("RR intervals must be finite and positive")
        self._rr = np.concatenate((self._rr, rr))
        total = self._first + self._rr.size
        return self._decide(total - _LOOKAHEAD)

    def flush(self) -> RRArtifacts:
        """Decide the remaining intervals (end of data: the end is mirrored)."""
        return self._decide(self._first + self._rr.size)

    def _decide(self, upto_global: int) -> RRArtifacts:
        start = self._decided
        if upto_global <= start:
            empty = np.zeros(0)
            return RRArtifacts(empty, np.zeros(0, np.int8), empty, np.zeros(0, np.int64), 0.0)
        local_rr = self._rr
        lo = start - self._first
        hi = upto_global - self._first
        with_prev = _classify(local_rr, hi, max(0, lo - 1))
        classes = with_prev[1:] if lo > 0 else with_prev
        rr = local_rr[lo:hi]
        # NN needs the class of the interval before (ectopic spoils the next one)
        prev = with_prev[:1] if lo > 0 else np.zeros(0, np.int8)
        nn, index = _nn(
            np.concatenate((local_rr[lo - 1 : lo], rr)) if lo > 0 else rr,
            np.concatenate((prev, classes)) if lo > 0 else classes,
            offset=start - (1 if lo > 0 else 0),
        )
        if lo > 0:
            keep = index >= start
            nn, index = nn[keep], index[keep]
        self._decided = upto_global
        np.add.at(self.counts, classes.astype(np.int64), 1)
        # forget what no future window needs (keep a full trailing window before the next
        # interval to decide, so its thresholds see exactly what the offline mirror sees)
        new_first = self._decided - self._KEEP
        if new_first > self._first:
            self._rr = self._rr[new_first - self._first :]
            self._first = new_first
        frac = float(np.mean(classes != BeatClass.NORMAL)) if classes.size else 0.0
        return RRArtifacts(rr.copy(), classes, nn, index, frac)


def _lomb(
    t: npt.NDArray[np.float64], y: npt.NDArray[np.float64], omega: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The classical Lomb-Scargle periodogram (Lomb 1976, Scargle 1982; scipy's
    ``lombscargle(..., normalize=False)``), vectorised over frequencies.
    """  # noqa: D205
    # one sine and one cosine table; the shifted ones follow by angle-sum identities
    wt = np.outer(omega, t)
    c, s = np.cos(wt), np.sin(wt)
    sum_cc, sum_ss, sum_cs = (c * c).sum(axis=1), (s * s).sum(axis=1), (c * s).sum(axis=1)
    two_wtau = np.arctan2(2 * sum_cs, sum_cc - sum_ss)  # 2 * omega * tau
    ct, st = np.cos(two_wtau / 2), np.sin(two_wtau / 2)
    yc0, ys0 = c @ y, s @ y
    yc = ct * yc0 + st * ys0
    ys = ct * ys0 - st * yc0
    cc = ct * ct * sum_cc + 2 * ct * st * sum_cs + st * st * sum_ss
    ss = ct * ct * sum_ss - 2 * ct * st * sum_cs + st * st * sum_cc
    out: npt.NDArray[np.float64] = 0.5 * (yc * yc / cc + ys * ys / ss)
    return out


@functools.lru_cache(maxsize=64)
def _grid(
    n_freqs: int,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]
]:
    """A frequency grid with points on the band edges (0.04, 0.15, 0.40 Hz)."""
    n_lf = max(4, round(n_freqs * 0.11 / 0.36))
    freqs = np.concatenate(
        (np.linspace(0.04, 0.15, n_lf), np.linspace(0.15, 0.40, n_freqs - n_lf + 1)[1:])
    )
    return freqs, 2 * np.pi * freqs, freqs <= 0.15, freqs >= 0.15


def hrv_frequency(
    nn_s: npt.ArrayLike,
    beat_t: npt.ArrayLike,
    *,
    n_freqs: int | None = None,
) -> dict[str, float]:
    """LF and HF power of an uneven NN series by the Lomb-Scargle periodogram.

    No resampling or interpolation is needed for unevenly spaced beats (Lomb 1976; Scargle
    1982; recommended for HRV by Clifford & Tarassenko 2005). Bands: LF 0.04-0.15 Hz, HF
    0.15-0.40 Hz (Task Force of the ESC/NASPE, 1996). Powers are in s²: the periodogram is
    scaled so that a sinusoid of amplitude A contributes A²/2 to its band.

    Args:
        nn_s: NN intervals in seconds.
        beat_t: the time (s) of the beat that ends each interval.
        n_freqs: frequency grid points between 0.04 and 0.40 Hz; default: five points per
            1/T resolution step of the series' span T (108 for 60 s), 48 to 256.

    Returns:
        ``lf_power_s2``, ``hf_power_s2``, ``lf_hf_ratio`` and ``lf_nu`` (LF / (LF + HF)); NaN
        when fewer than 10 intervals or a span under 25 s make LF meaningless.
    """
    nn = np.asarray(nn_s, dtype=np.float64)
    t = np.asarray(beat_t, dtype=np.float64)
    nan = float("nan")
    result = {"lf_power_s2": nan, "hf_power_s2": nan, "lf_hf_ratio": nan, "lf_nu": nan}
    if nn.size < 10 or t.size != nn.size or t[-1] - t[0] < 25.0:
        return result
    duration = t[-1] - t[0]
    n = n_freqs or int(np.clip(round(5 * 0.36 * duration), 48, 256))
    freqs, omega, lf_band, hf_band = _grid(n)
    y = nn - nn.mean()
    pgram = _lomb(t - t[0], y, omega)
    # scipy returns (A² N / 4) for a sinusoid of amplitude A: make it a one-sided density whose
    # band integral is A²/2
    density = pgram * (4.0 / nn.size) * duration / 2.0
    lf = float(np.trapezoid(density[lf_band], freqs[lf_band]))
    hf = float(np.trapezoid(density[hf_band], freqs[hf_band]))
    result["lf_power_s2"] = lf
    result["hf_power_s2"] = hf
    result["lf_hf_ratio"] = lf / hf if hf > 0 else nan
    result["lf_nu"] = lf / (lf + hf) if lf + hf > 0 else nan
    return result
