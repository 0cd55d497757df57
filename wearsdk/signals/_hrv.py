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

import bisect
import functools
import math
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

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


# plain ints for the per-beat code (numpy and Python handle them faster than IntEnum members)
_NORMAL, _ECTOPIC, _MISSED, _EXTRA, _LONGSHORT = (int(c) for c in BeatClass)


class _TrailingWindow:
    """The last ``width`` values kept sorted, for their percentiles (fewer at the start)."""

    __slots__ = ("_order", "_sorted", "_width")

    def __init__(self, width: int) -> None:
        self._width = width
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def push(self, value: float) -> None:
        self._order.append(value)
        bisect.insort(self._sorted, value)
        if len(self._order) > self._width:
            del self._sorted[bisect.bisect_left(self._sorted, self._order.popleft())]

    def percentile(self, q: float) -> float:
        """Percentile ``q`` with linear interpolation, as ``np.percentile``'s default."""
        s = self._sorted
        pos = q / 100.0 * (len(s) - 1)
        lo = math.floor(pos)
        a = s[lo]
        return a + (s[min(lo + 1, len(s) - 1)] - a) * (pos - lo)

    def half_iqr_threshold(self) -> float:
        """``alpha`` x half the inter-quartile range."""
        return _ALPHA * (self.percentile(75.0) - self.percentile(25.0)) / 2.0


@dataclass(slots=True)
class _Beat:
    """One RR interval and the trailing statistics it is judged on (all causal)."""

    rr: float
    ndrr: float  # dRR over its threshold (Lipponen & Tarvainen's eq. 1-2)
    nmrr: float  # mRR over its threshold
    med: float  # the 11-beat trailing median
    th2: float  # the mRR threshold
    extra: bool = False  # judged an extra beat (before the override by the one before)
    flagged: bool = False  # the beat ending it was classified ectopic by the beat detector
    cls: int = _NORMAL


class RRCleaner:
    """Online RR artifact classification with a two-beat delay.

    ``step(rr)`` returns the classes of the intervals that can now be decided (each needs the
    two intervals after it); :meth:`flush` decides the last ones at the end of a recording
    (the series is mirrored at its end). Each interval's trailing statistics (91-beat
    thresholds, 11-beat median) are updated incrementally as it arrives, so a step costs a
    few microseconds per interval whatever the block size; :func:`rr_artifacts` is ``step``
    + ``flush`` on a whole series. Memory is bounded: only the trailing windows are kept.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the history."""
        self._drr_win = _TrailingWindow(_WINDOW)
        self._mrr_win = _TrailingWindow(_WINDOW)
        self._med_win = _TrailingWindow(_MEDIAN)
        self._beats: deque[_Beat] = deque()  # the last decided interval, then undecided ones
        self._first = 0  # global index of self._beats[0]
        self._decided = 0  # global index of the next interval to decide
        self._prev_rr: float | None = None
        self.counts = np.zeros(len(BeatClass), np.int64)
        """Intervals decided so far, per :class:`BeatClass`."""

    @property
    def corrected_fraction(self) -> float:
        """Non-normal intervals / intervals decided so far."""
        total = int(self.counts.sum())
        return float(1.0 - self.counts[_NORMAL] / total) if total else 0.0

    def step(self, rr_s: npt.ArrayLike) -> RRArtifacts:
        """Add intervals; return the ones decided now (with their NN intervals)."""
        return self._artifacts(*self.step_list(np.asarray(rr_s, dtype=np.float64).ravel().tolist()))

    def step_list(
        self, rr_s: list[float], ectopic: list[bool] | None = None
    ) -> tuple[list[float], list[int], list[float], list[int]]:
        """:meth:`step` with plain lists in and out (cheaper for the beat or two of an online
        block): the decided intervals, their classes, the NN intervals and their indices.

        ``ectopic`` (one flag per interval) marks the intervals whose ending beat the beat
        detector classified ectopic by its shape or prematurity
        (:attr:`~wearsdk.signals.EcgPeaks.ectopic`): such an interval is classed ectopic even
        when its timing alone looks normal, so it and the interval after it stay out of NN.
        """  # noqa: D205
        if not all(0 < r < math.inf for r in rr_s):  # NaN fails too
            raise ConfigError("RR intervals must be finite and positive")
        if ectopic is not None and len(ectopic) != len(rr_s):
            raise ConfigError("one ectopic flag per RR interval")
        for k, r in enumerate(rr_s):
            self._add(r)
            if ectopic is not None and ectopic[k]:
                self._beats[-1].flagged = True
        return self._decide(self._first + len(self._beats) - _LOOKAHEAD)

    def flush(self) -> RRArtifacts:
        """Decide the remaining intervals (end of data: the end is mirrored)."""
        return self._artifacts(*self._decide(self._first + len(self._beats)))

    @staticmethod
    def _artifacts(
        rrs: list[float], classes: list[int], nn: list[float], nn_index: list[int]
    ) -> RRArtifacts:
        cls_arr = np.array(classes, np.int8)
        frac = float(np.count_nonzero(cls_arr)) / cls_arr.size if cls_arr.size else 0.0
        return RRArtifacts(
            np.array(rrs, np.float64),
            cls_arr,
            np.array(nn, np.float64),
            np.array(nn_index, np.int64),
            frac,
        )

    def _add(self, r: float) -> None:
        drr = 0.0 if self._prev_rr is None else r - self._prev_rr  # causal: none before the first
        self._prev_rr = r
        self._drr_win.push(abs(drr))
        th1 = self._drr_win.half_iqr_threshold()
        self._med_win.push(r)
        med = self._med_win.percentile(50.0)
        mrr = r - med
        if mrr < 0:
            mrr = 2.0 * mrr
        self._mrr_win.push(abs(mrr))
        th2 = self._mrr_win.half_iqr_threshold()
        self._beats.append(
            _Beat(
                rr=r,
                ndrr=drr / th1 if th1 > 0 else 0.0,
                nmrr=mrr / th2 if th2 > 0 else 0.0,
                med=med,
                th2=th2,
            )
        )

    def _classify(self, i: int, n: int) -> int:
        """Class of interval ``i`` (global) among ``n`` known ones (mirrored beyond the end)."""

        def at(j: int) -> _Beat:
            if j >= n:
                j = 2 * (n - 1) - j
            return self._beats[min(max(abs(j), 0), n - 1) - self._first]

        beat = at(i)
        d, m, med, th2 = beat.ndrr, beat.nmrr, beat.med, beat.th2
        prev1, next1, next2 = at(i - 1).ndrr, at(i + 1).ndrr, at(i + 2).ndrr
        s12 = max(prev1, next1) if d > 0 else (min(prev1, next1) if d < 0 else 0.0)
        s22 = min(next1, next2) if d >= 0 else max(next1, next2)
        cls = _NORMAL
        if abs(d) > 1 and ((d > 1 and s12 < -_C1 * d - _C2) or (d < -1 and s12 > -_C1 * d + _C2)):
            cls = _ECTOPIC
        elif abs(d) > 1 or abs(m) > 3:
            eq3 = d > 1 and s22 < -1
            eq5 = d < -1 and s22 > 1
            if eq3 or eq5 or abs(m) > 3:
                r, rr_next = beat.rr, self._beats[min(i + 1, n - 1) - self._first].rr
                beat.extra = eq5 and abs(r + rr_next - med) < th2
                if beat.extra:
                    cls = _EXTRA
                elif eq3 and abs(r / 2 - med) < th2:
                    cls = _MISSED
                else:
                    cls = _LONGSHORT
        # the interval after an extra beat absorbs it: judged merged, not on its own
        if i > self._first and self._beats[i - 1 - self._first].extra:
            cls = _NORMAL
        elif cls == _NORMAL and beat.flagged:
            cls = _ECTOPIC  # the detector saw an ectopic beat (shape or prematurity)
        return cls

    def _decide(self, upto: int) -> tuple[list[float], list[int], list[float], list[int]]:
        start = self._decided
        n = self._first + len(self._beats)
        classes: list[int] = []
        rrs: list[float] = []
        nn: list[float] = []
        nn_index: list[int] = []
        beats = self._beats
        for i in range(start, upto):
            beat = beats[i - self._first]
            beat.cls = cls = self._classify(i, n)
            classes.append(cls)
            rrs.append(beat.rr)
            self.counts[cls] += 1
            # NN: an ectopic beat spoils its own interval and the compensatory one after it,
            # a long/short one its own; an extra beat is merged into the next interval, a
            # missed one split in two
            prev = beats[i - 1 - self._first] if i > self._first else None
            if cls in (_ECTOPIC, _LONGSHORT, _EXTRA) or (prev is not None and prev.cls == _ECTOPIC):
                continue
            value = beat.rr + prev.rr if prev is not None and prev.cls == _EXTRA else beat.rr
            if cls == _MISSED:
                nn += (value / 2.0, value / 2.0)
                nn_index += (i, i)
            else:
                nn.append(value)
                nn_index.append(i)
        self._decided = max(start, upto)
        # forget what no future decision needs: the last decided interval is kept (its class
        # and extra flag matter to the next one); the trailing windows hold the rest
        while self._first < self._decided - 1:
            beats.popleft()
            self._first += 1
        return rrs, classes, nn, nn_index


def rr_artifacts(rr_s: npt.ArrayLike) -> RRArtifacts:
    """Classify every RR interval and derive the NN series (the offline mirror of
    :class:`RRCleaner`: one ``step`` on the whole series, then ``flush``; see the module
    documentation for the method).

    Args:
        rr_s: RR intervals in seconds, in beat order.
    """  # noqa: D205
    rr = np.asarray(rr_s, dtype=np.float64).ravel()
    if not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ConfigError("RR intervals must be finite and positive")
    cleaner = RRCleaner()
    parts = [cleaner.step(rr), cleaner.flush()]
    classes = np.concatenate([p.classes for p in parts])
    frac = float(np.mean(classes != BeatClass.NORMAL)) if rr.size else 0.0
    return RRArtifacts(
        rr,
        classes,
        np.concatenate([p.nn_s for p in parts]),
        np.concatenate([p.nn_end_index for p in parts]),
        frac,
    )


def lomb_terms(t_s: npt.ArrayLike, n_freqs: int) -> npt.NDArray[np.float64]:
    """Per-beat Lomb-Scargle terms on the grid of ``n_freqs`` points (see :func:`hrv_frequency`).

    Row ``j`` holds ``cos(w t_j)``, ``cos(2 w t_j)``, ``sin(w t_j)`` and ``sin(2 w t_j)`` over
    the grid's angular frequencies ``w`` (shape ``(len(t_s), 4 * n_freqs)``). They depend on
    the beat alone, so a sliding window computes them once per beat and sums the rows of the
    beats it holds (:func:`lomb_band_powers`); times may be taken from any fixed origin.
    """
    t = np.asarray(t_s, dtype=np.float64).ravel()
    wt = np.multiply.outer(t, _grid(n_freqs)[3])  # w, then 2 w
    out = np.empty((t.size, 4 * n_freqs))
    np.cos(wt, out=out[:, : 2 * n_freqs])
    np.sin(wt, out=out[:, 2 * n_freqs :])
    return out


def lomb_band_powers(
    terms: npt.NDArray[np.float64],
    nn_s: npt.NDArray[np.float64],
    span_s: float,
    n_freqs: int,
) -> dict[str, float]:
    """LF/HF from the :func:`lomb_terms` rows of a series' beats (its NN intervals, the time
    from its first to its last beat): the classical Lomb-Scargle periodogram (Lomb 1976,
    Scargle 1982; scipy's ``lombscargle(..., normalize=False)``) in closed form. With
    ``C2 = sum cos 2wt``, ``S2 = sum sin 2wt``, ``R² = C2² + S2²``, the offset ``tau``
    (``tan 2w tau = S2 / C2``) gives ``sum cos² w(t - tau) = (N + R) / 2`` and
    ``sum sin² = (N - R) / 2``, and with ``YC = sum y cos wt``, ``YS = sum y sin wt`` the
    periodogram ``YC'²/(2 CC) + YS'²/(2 SS)`` becomes
    ``(N (YC² + YS²) - (YC² - YS²) C2 - 2 YC YS S2) / (N² - R²)``: no trigonometry per window.
    """  # noqa: D205
    m = nn_s.size
    # one product gives the column sums and the y-weighted sums of every term
    w = np.empty((2, m))
    w[0] = 1.0
    np.subtract(nn_s, np.add.reduce(nn_s) / m, out=w[1])
    sums = np.matmul(w, terms).reshape(2, 4, n_freqs)
    c2, s2, yc, ys = sums[0, 1], sums[0, 3], sums[1, 0], sums[1, 2]
    # YC²/CC + YS²/SS after the rotation by tau, over the common denominator (N² - R²) / 4
    yc2, ys2 = yc * yc, ys * ys
    num = (yc2 + ys2) * m - (yc2 - ys2) * c2 - 2.0 * yc * ys * s2
    pgram = num / (m * m - c2 * c2 - s2 * s2)
    # scipy returns (A² N / 4) for a sinusoid of amplitude A: as a one-sided density whose
    # band integral is A²/2, integrated over each band by the trapezoid rule
    lf, hf = (pgram @ _grid(n_freqs)[2] * ((4.0 / m) * span_s / 2.0)).tolist()
    nan = math.nan
    return {
        "lf_power_s2": lf,
        "hf_power_s2": hf,
        "lf_hf_ratio": lf / hf if hf > 0 else nan,
        "lf_nu": lf / (lf + hf) if lf + hf > 0 else nan,
    }


def lomb_n_freqs(span_s: float) -> int:
    """The default grid of :func:`hrv_frequency` for a series spanning ``span_s`` seconds."""
    return int(np.clip(round(5 * 0.36 * span_s), 48, 256))


def lomb_defined(n_intervals: int, span_s: float) -> bool:
    """Whether LF is meaningful: at least 10 intervals over at least 25 s."""
    return n_intervals >= 10 and span_s >= 25.0


@functools.lru_cache(maxsize=64)
def _grid(n_freqs: int) -> tuple[npt.NDArray[np.float64], ...]:
    """A frequency grid with points on the band edges (0.04, 0.15, 0.40 Hz): frequencies,
    angular frequencies, the trapezoid-rule weights of the LF and HF bands (columns), and the
    angular frequencies followed by their doubles.
    """  # noqa: D205
    n_lf = max(4, round(n_freqs * 0.11 / 0.36))
    freqs = np.concatenate(
        (np.linspace(0.04, 0.15, n_lf), np.linspace(0.15, 0.40, n_freqs - n_lf + 1)[1:])
    )
    weights = np.zeros((n_freqs, 2))
    for col, band in enumerate((freqs <= 0.15, freqs >= 0.15)):
        step = np.diff(freqs[band]) / 2.0
        w = weights[band, col]
        w[:-1] += step
        w[1:] += step
        weights[band, col] = w
    omega = 2 * np.pi * freqs
    return freqs, omega, weights, np.concatenate((omega, 2 * omega))


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
    if t.size != nn.size or not lomb_defined(nn.size, float(t[-1] - t[0]) if t.size else 0.0):
        return dict.fromkeys(("lf_power_s2", "hf_power_s2", "lf_hf_ratio", "lf_nu"), math.nan)
    span = float(t[-1] - t[0])
    n = n_freqs or lomb_n_freqs(span)
    return lomb_band_powers(lomb_terms(t - t[0], n), nn, span, n)
