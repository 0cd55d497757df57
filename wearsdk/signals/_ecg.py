"""Streaming ECG R-peak detection with an offline mirror.

A Pan-Tompkins energy detector whose decisions are checked against the beat's morphology and
the rhythm, with a bounded lookahead (``EcgPeakDetector.latency_s``, ~0.5 s):

1. **Energy envelope** (Pan & Tompkins 1985): causal 2nd-order Butterworth band-pass 10-40 Hz,
   first difference, square, 100 ms moving-window integration. Candidates are the envelope's
   local maxima over +-100 ms.
2. **Adaptive threshold** (Pan & Tompkins 1985; Hamilton & Tompkins 1986): running signal and
   noise peak levels (learnt on the first 2 s), ``threshold = noise + 0.25 (signal - noise)``;
   search-back at half the threshold when no beat came for 1.66 median RR; 200 ms refractory
   period.
3. **Morphology**: each candidate is compared with a running average beat by normalised
   cross-correlation (+-30 ms alignment) over 180 ms of a 20-50 Hz band, where
   electrode-motion artefacts carry less energy than the sharp QRS (template matching as in
   Hamilton's OSEA beat classifier, Hamilton 2002).
4. **Rhythm**: the interval to the previous beat is compared with each of the last 8 RR
   intervals, not only their median, so a repeating bigeminy or trigeminy stays "on rhythm".
   A candidate that comes early (< 0.55 median RR) or off rhythm must match the template well
   (correlation >= 0.8); candidates within 0.55 RR of each other compete, and the best
   morphology x rhythm x amplitude^0.3 wins, unless the first is on rhythm with a good
   morphology. Premature beats that look like QRS complexes are kept.
5. **Fiducial point and timing**: the R peak is the extremum of the *raw* signal near the
   morph-band peak, on the side (up or down) of the sharper deflection (larger |second
   difference|), voted over the beats, so an inverted lead gives the same peaks. Its time is
   refined by a 3-point parabola through the raw samples and interpolated on the per-sample
   session times. The raw signal is used because a causal filter's group delay depends on the
   QRS shape: on the Polar H10 recording (130 Hz, premature beats with a wider QRS) the RR
   error against the strap's own RR is 0.66 ms on the raw signal, 0.75 ms on a causally
   band-passed one (0.5-40 Hz) and 2.7 ms without the parabola.

Every sample-level step is a causal filter with carried state or a purely local operation,
every candidate is measured from a fixed window, and decisions are taken in index order once
a fixed lookahead has arrived, so the output does not depend on how the stream is cut into
blocks: ``step`` over any split then ``flush`` equals :func:`ecg_peaks`, bit for bit.

References:
    J. Pan, W. J. Tompkins, "A real-time QRS detection algorithm", IEEE Trans. Biomed. Eng.
    32(3):230-236, 1985. P. S. Hamilton, W. J. Tompkins, "Quantitative investigation of QRS
    detection rules using the MIT/BIH arrhythmia database", IEEE Trans. Biomed. Eng.
    33(12):1157-1165, 1986. P. S. Hamilton, "Open source ECG analysis", Computers in
    Cardiology 29:101-104, 2002. G. B. Moody, W. K. Muldrow, R. G. Mark, "A noise stress test
    for arrhythmia detectors", Computers in Cardiology 11:381-384, 1984 (the 118eXX records).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from wearsdk._errors import ConfigError
from wearsdk.signals._filters import SosFilter, butter_sos

__all__ = ["EcgPeakDetector", "EcgPeaks", "ecg_peak_times", "ecg_peaks"]

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

MIN_SAMPLING_RATE_HZ = 100.0
"""Below this the QRS band (10-40 Hz) and its morphology band no longer fit under Nyquist."""

# Algorithm constants (seconds unless named otherwise); see the module docstring.
_DETECT_BAND_HZ = (10.0, 40.0)
_MORPH_BAND_HZ = (20.0, 50.0)
_BAND_TOP_FRACTION = 0.4  # upper band edges are capped at 0.4 fs
_MWI_S = 0.10  # moving-window integration
_LOCAL_MAX_S = 0.10  # candidates: envelope maxima over +-this
_FID_BACK_S = 0.05  # fiducial search reaches this far before the integration window
_TMPL_PRE_S, _TMPL_POST_S = 0.08, 0.10  # morphology window around the fiducial
_TMPL_LAG_S = 0.03  # +-alignment search for the template correlation
_PEAK_PRE_S, _PEAK_POST_S = 0.04, 0.025  # R-peak search in the raw signal around the fiducial
_NAN_GUARD_S = 0.25  # candidates this close after a NaN are dropped (filter transients)
_LEARN_S = 2.0
_REFRACTORY_S = 0.20
_CONFLICT_RR = 0.55  # candidates closer than this x median RR compete
_SEARCHBACK_RR = 1.66
_RR_HISTORY = 8
_RR_TOLERANCE = 0.12  # |log(RR / recent RR)| still "on rhythm"
_RR_PENALTY_SPAN = 0.28  # rhythm factor falls linearly to _RR_FLOOR over this much more
_RR_FLOOR = 0.3
_NCC_ZERO, _NCC_ONE = 0.5, 0.9  # morphology factor: 0 at/below, 1 at/above
_NCC_MIN_FACTOR = 0.05
_NCC_SURE = 0.8  # early or off-rhythm beats need this correlation
_NCC_UPDATE = 0.85  # beats this similar update the template
_MORPH_MIN_FACTOR = 0.5  # off-rhythm beats need at least this morphology factor
_TMPL_MIN_BEATS = 5  # morphology is used once the template has seen this many beats
_TMPL_MEMORY = 16  # template = running mean over about this many beats
_AMP_GAMMA = 0.3  # weight of amplitude in the competition score
_POLARITY_SWITCH = 0.0  # running vote above this: the negative extremum is the sharper one
_POLARITY_ALPHA = 0.1
_FLOOR_REL = 1e-12  # envelope floor relative to the squared signal scale (flat lines)


@dataclass(frozen=True, slots=True)
class EcgPeaks:
    """R peaks, in time order.

    Attributes:
        index: sample index of each R peak since the start of the stream (int64).
        t: sub-sample refined time of each peak in seconds (float64): interpolated on the
            per-sample session times when they were given, else ``index / sampling_rate_hz``.
        amplitude: signal value at the refined peak (the parabola's vertex), in the input's unit.
    """

    index: _I64
    t: _F64
    amplitude: _F64

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @staticmethod
    def empty() -> EcgPeaks:
        """No peaks."""
        return EcgPeaks(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))

    @staticmethod
    def concat(parts: list[EcgPeaks]) -> EcgPeaks:
        """Concatenate peaks in order (e.g. the outputs of successive ``step`` calls)."""
        if not parts:
            return EcgPeaks.empty()
        return EcgPeaks(
            np.concatenate([p.index for p in parts]).astype(np.int64, copy=False),
            np.concatenate([p.t for p in parts]).astype(np.float64, copy=False),
            np.concatenate([p.amplitude for p in parts]).astype(np.float64, copy=False),
        )


@dataclass(slots=True)
class _Candidate:
    """An envelope maximum and everything measured on it when it was found (state-free)."""

    i: int  # envelope maximum
    amp: float  # envelope value
    win: _F64  # morphology-band window around the fiducial, with +-lag margin
    peaks: tuple[tuple[int, float, float], tuple[int, float, float]]  # (index, t, amp) +/-
    vote: float  # (c- - c+) / (c- + c+), c = |second difference| at each extremum
    side: int = 0  # 0: positive R peak, 1: negative (set when accepted)
    ncc: float = 1.0
    ncc_version: int = -1  # template version the cached correlation was computed with
    morph: float = 1.0
    rhythm: float = 1.0
    quality: float = 0.0


class EcgPeakDetector:
    """Online R-peak detector for single-lead ECG: feed blocks, get the beats they confirm.

    See the module documentation for the algorithm and its sources. A beat is reported once
    ``latency_s`` (0.53 s with the default ``lookahead_s``) of signal past its envelope peak
    has arrived, so at most ~0.65 s after the R peak; beats recovered by search-back come when
    the search fires (1.66 median RR after the previous beat), and the first beats wait for
    the 2 s learning phase. The concatenated output of :meth:`step` over blocks of any sizes,
    followed by :meth:`flush`, equals :func:`ecg_peaks` on the whole signal, exactly.

    NaN samples are counted (:attr:`nan_count`), held at the last finite value for the filters,
    and no peak is reported within 0.25 s after one. Works from 100 Hz (e.g. 130 Hz Polar H10
    straps) to kHz rates; memory is bounded (a few seconds of samples).

    Args:
        sampling_rate_hz: the sampling rate, at least 100 Hz.
        lookahead_s: how far beyond a candidate the detector looks for a better one before
            deciding (0.1-1.0 s).

    Raises:
        ConfigError: a sampling rate below 100 Hz (or not finite) or a lookahead out of range.
    """

    def __init__(self, *, sampling_rate_hz: float, lookahead_s: float = 0.4) -> None:
        fs = float(sampling_rate_hz)
        if not (math.isfinite(fs) and fs >= MIN_SAMPLING_RATE_HZ):
            raise ConfigError(
                f"ECG sampling rate must be at least {MIN_SAMPLING_RATE_HZ:g} Hz "
                f"(got {sampling_rate_hz})"
            )
        if not (0.1 <= float(lookahead_s) <= 1.0):
            raise ConfigError(f"lookahead_s must lie in [0.1, 1.0] s (got {lookahead_s})")
        self.sampling_rate_hz = fs
        self.lookahead_s = float(lookahead_s)
        top = _BAND_TOP_FRACTION * fs
        self._detect = SosFilter(
            butter_sos(
                "bandpass",
                (_DETECT_BAND_HZ[0], min(_DETECT_BAND_HZ[1], top)),
                sampling_rate_hz=fs,
            )
        )
        self._morph = SosFilter(
            butter_sos(
                "bandpass", (_MORPH_BAND_HZ[0], min(_MORPH_BAND_HZ[1], top)), sampling_rate_hz=fs
            )
        )

        def n(seconds: float) -> int:
            return max(1, round(seconds * fs))

        self._w = max(3, n(_MWI_S))
        self._mwi = np.full(self._w, 1.0 / self._w)
        self._r = max(2, n(_LOCAL_MAX_S))
        self._fid_back = self._w + n(_FID_BACK_S)
        self._t1, self._t2, self._lag = n(_TMPL_PRE_S), n(_TMPL_POST_S), n(_TMPL_LAG_S)
        self._p1, self._p2 = n(_PEAK_PRE_S), n(_PEAK_POST_S)
        self._nan_guard = n(_NAN_GUARD_S)
        self._look = n(self.lookahead_s)
        self._refr = n(_REFRACTORY_S)
        self._learn = n(_LEARN_S)
        # samples needed after a candidate to measure it, then to decide it
        self._measure = max(self._r, self._t2 + self._lag, self._p2 + 1) + 1
        self._need = self._look + self._measure
        back = max(self._fid_back + max(self._t1 + self._lag, self._p1 + 1), self._r)
        self._keep = back + self._measure + self._nan_guard + 2
        self.reset()

    @property
    def latency_s(self) -> float:
        """Delay between a sample and the decisions it completes, in seconds."""
        return self._need / self.sampling_rate_hz

    def reset(self) -> None:
        """Forget everything; the next block starts a new stream at index 0."""
        self._detect.reset()
        self._morph.reset()
        self._mwi_zi = np.zeros(self._w - 1)
        self._prev_y: float | None = None
        self._hold: float | None = None
        self._n = 0  # samples consumed
        self._base = 0  # absolute index of buffer[0]
        self._x: _F64 = np.empty(0)
        self._t: _F64 = np.empty(0)
        self._e: _F64 = np.empty(0)
        self._z: _F64 = np.empty(0)
        self._bad: _F64 = np.empty(0)  # 1.0 where the sample was NaN
        self._last_bad = -(10**18)  # absolute index of the latest NaN sample
        self._scale = 0.0  # largest |x| seen (for the flat-line floor)
        self._scan = 0  # next index to test as an envelope maximum
        self._pending: deque[_Candidate] = deque()
        self._rejected: list[_Candidate] = []
        self._spk: float | None = None
        self._npk = 0.0
        self._last: int | None = None
        self._last_sb = -1
        self._rr: deque[int] = deque(maxlen=_RR_HISTORY)
        self._rr_med: float | None = None
        self._tmpl: _F64 | None = None
        self._tmpl_n = 0
        self._n_beats = 0
        self._vote = 0.0
        self._eof = False
        self.nan_count = 0
        """NaN samples seen since the last reset."""

    # ------------------------------------------------------------------ public API

    def step(self, x: npt.ArrayLike, t: npt.ArrayLike | None = None) -> EcgPeaks:
        """Feed one block of samples; return the R peaks confirmed by it.

        Args:
            x: ECG samples, shape ``(n,)``, any unit.
            t: optional per-sample session times in seconds (same shape); peak times are
                interpolated on them. Without them a sample's time is ``index / fs``.

        Raises:
            ConfigError: ``x`` is not one-dimensional, ``t`` has another shape, or the stream
                was flushed (call :meth:`reset` first).
        """
        if self._eof:
            raise ConfigError("EcgPeakDetector.step after flush(): call reset() first")
        xx = np.asarray(x, dtype=np.float64)
        if xx.ndim != 1:
            raise ConfigError(f"ECG block must be one-dimensional (got shape {xx.shape})")
        if t is None:
            tt = np.arange(self._n, self._n + xx.size, dtype=np.float64) / self.sampling_rate_hz
        else:
            tt = np.asarray(t, dtype=np.float64)
            if tt.shape != xx.shape:
                raise ConfigError(f"t has shape {tt.shape}, x has {xx.shape}")
        if xx.size == 0:
            return EcgPeaks.empty()
        self._append(xx, tt)
        out: list[_Candidate] = []
        self._find_candidates()
        self._decide(out)
        self._trim()
        return self._emit(out)

    def flush(self) -> EcgPeaks:
        """End of stream: decide the candidates still waiting for lookahead.

        After this, :meth:`step` raises until :meth:`reset`.
        """
        if self._eof:
            return EcgPeaks.empty()
        self._eof = True
        out: list[_Candidate] = []
        if self._n:
            self._find_candidates(final=True)
        self._decide(out)
        self._pending.clear()
        return self._emit(out)

    # ------------------------------------------------------------------ sample level

    def _append(self, x: _F64, t: _F64) -> None:
        bad = ~np.isfinite(x)
        if bad.any():
            self.nan_count += int(bad.sum())
            self._last_bad = self._n + int(np.flatnonzero(bad)[-1])
            if self._hold is None:
                # nothing finite yet: leading NaNs are skipped without running the filters,
                # which then start (in steady state) on the first finite sample
                k = int(np.argmin(bad)) if not bad.all() else x.size
                zeros = np.zeros(k)
                self._push(zeros, t[:k], zeros, zeros, np.ones(k))
                x, t, bad = x[k:], t[k:], bad[k:]
                if x.size == 0:
                    return
            # hold the last finite value (the first sample is finite or follows one)
            idx = np.where(bad, -1, np.arange(x.size))
            np.maximum.accumulate(idx, out=idx)
            assert self._hold is not None or idx[0] == 0
            x = np.where(idx >= 0, x[np.maximum(idx, 0)], self._hold or 0.0)
        self._hold = float(x[-1])
        self._scale = max(self._scale, float(np.max(np.abs(x))))
        y = self._detect.step(x)
        prev = float(y[0]) if self._prev_y is None else self._prev_y
        self._prev_y = float(y[-1])
        d = np.diff(y, prepend=prev)
        e, self._mwi_zi = lfilter(self._mwi, [1.0], d * d, zi=self._mwi_zi)
        self._push(x, t, np.asarray(e, dtype=np.float64), self._morph.step(x), bad.astype(float))

    def _push(self, x: _F64, t: _F64, e: _F64, z: _F64, bad: _F64) -> None:
        self._x = np.concatenate((self._x, x))
        self._t = np.concatenate((self._t, t))
        self._e = np.concatenate((self._e, e))
        self._z = np.concatenate((self._z, z))
        self._bad = np.concatenate((self._bad, bad))
        self._n += x.size

    def _trim(self) -> None:
        cut = self._n - self._keep
        if cut > self._base:
            k = cut - self._base
            self._x, self._t, self._e = self._x[k:], self._t[k:], self._e[k:]
            self._z, self._bad = self._z[k:], self._bad[k:]
            self._base = cut

    def _find_candidates(self, *, final: bool = False) -> None:
        """Envelope maxima over +-r whose right-hand context has arrived (all, when final)."""
        r = self._r
        hi = self._n if final else self._n - self._measure + 1  # exclusive
        lo = self._scan
        if hi <= lo:
            return
        seg = self._span(self._e, lo - r, hi + r, -np.inf, -np.inf)
        runmax = sliding_window_view(seg, r).max(axis=1)  # runmax[j] = max(seg[j:j+r])
        k = np.arange(hi - lo)
        env = seg[r + k]
        floor = _FLOOR_REL * self._scale * self._scale
        is_max = (env > runmax[k]) & (env >= runmax[k + r + 1]) & (env > floor)
        for j in np.flatnonzero(is_max):
            cand = self._measure_candidate(lo + int(j), float(env[j]))
            if cand is not None:
                self._pending.append(cand)
        self._scan = hi

    def _span(self, arr: _F64, lo: int, hi: int, left: float, right: float) -> _F64:
        """``arr`` over absolute indices ``[lo, hi)``, padded before the stream's first sample
        and after its last one (only at the start and at :meth:`flush`).
        """  # noqa: D205
        b = self._base
        a0, a1 = max(lo, b), min(hi, self._n)
        core = arr[a0 - b : a1 - b]
        if a0 == lo and a1 == hi:
            return core
        return np.concatenate((np.full(a0 - lo, left), core, np.full(hi - a1, right)))

    def _measure_candidate(self, i: int, amp: float) -> _Candidate | None:
        a = i - self._fid_back
        if (
            self._last_bad >= a - self._nan_guard
            and self._span(self._bad, a - self._nan_guard, i + self._measure, 0.0, 0.0).any()
        ):
            return None
        first, last = float(self._x[0]), float(self._x[-1])
        fid = a + int(np.argmax(np.abs(self._span(self._z, a, i + 1, 0.0, 0.0))))
        win = self._span(
            self._z, fid - self._t1 - self._lag, fid + self._t2 + self._lag, 0.0, 0.0
        ).copy()
        near = self._span(self._x, fid - self._p1, fid + self._p2 + 1, first, last)
        # polarity vote: the sharper extremum (larger |second difference|) is the R wave
        (pp, cp), (pn, cn) = self._refine(fid, near, 1.0), self._refine(fid, near, -1.0)
        vote = (cn - cp) / (cn + cp) if cn + cp > 0 else 0.0
        return _Candidate(i=i, amp=amp, win=win, peaks=(pp, pn), vote=vote)

    def _refine(self, fid: int, near: _F64, sign: float) -> tuple[tuple[int, float, float], float]:
        """Extremum of the raw signal near ``fid``, refined by a 3-point parabola."""
        p = fid - self._p1 + int(np.argmax(sign * near))
        first, last = float(self._x[0]), float(self._x[-1])
        y0, y1, y2 = (float(v) for v in self._span(self._x, p - 1, p + 2, first, last))
        den = y0 - 2.0 * y1 + y2
        delta = 0.0
        if den * sign < 0:  # a proper extremum (concave for a max, convex for a min)
            delta = min(0.5, max(-0.5, 0.5 * (y0 - y2) / den))
        vertex = y1 - 0.25 * (y0 - y2) * delta
        tp = self._span(self._t, p - 1, p + 2, math.nan, math.nan)
        t0 = float(tp[1])
        if delta >= 0:
            dt = float(tp[2] - t0) if math.isfinite(tp[2]) else float(t0 - tp[0])
        else:
            dt = float(t0 - tp[0]) if math.isfinite(tp[0]) else float(tp[2] - t0)
        if not math.isfinite(dt):
            dt = 1.0 / self.sampling_rate_hz
        return (p, t0 + delta * dt, vertex), abs(den)

    # ------------------------------------------------------------------ decisions

    def _decide(self, out: list[_Candidate]) -> None:
        """Take candidates and search-backs in index order once their lookahead has arrived."""
        while True:
            if self._spk is None:
                if self._n < self._learn + self._need and not self._eof:
                    return
                self._init_levels()
            c = self._pending[0] if self._pending else None
            tsb = self._searchback_at()
            ready_sb = tsb is not None and (tsb + self._need <= self._n or self._eof)
            if tsb is not None and ready_sb and (c is None or tsb < c.i):
                if self._eof and tsb > self._n:
                    return
                self._searchback(tsb, out)
                continue
            if c is not None and (c.i + self._need <= self._n or self._eof):
                self._pending.popleft()
                self._decide_one(c, out)
                continue
            return

    def _init_levels(self) -> None:
        amps = [c.amp for c in self._pending if c.i < self._learn]
        if not amps:
            self._spk = 0.0
            return
        self._spk = max(amps) / 2.0
        self._npk = float(np.median(amps)) / 4.0 if len(amps) > 1 else self._spk / 4.0

    def _threshold(self) -> float:
        assert self._spk is not None
        return self._npk + 0.25 * (self._spk - self._npk)

    def _rr_median(self) -> float | None:
        return self._rr_med

    def _searchback_at(self) -> int | None:
        rrm = self._rr_median()
        if self._last is None or rrm is None:
            return None
        return max(self._last, self._last_sb) + round(_SEARCHBACK_RR * rrm)

    def _conflict(self) -> int:
        rrm = self._rr_median()
        span = self._refr if rrm is None else max(self._refr, round(_CONFLICT_RR * rrm))
        return min(span, self._look)

    def _quality(self, c: _Candidate) -> float:
        """Morphology x rhythm x relative amplitude^gamma (for competing candidates)."""
        if self._tmpl is not None and self._tmpl_n >= _TMPL_MIN_BEATS:
            if c.ncc_version != self._tmpl_n:
                c.ncc, c.ncc_version = self._correlate(c)[0], self._tmpl_n
            c.morph = min(1.0, max(_NCC_MIN_FACTOR, (c.ncc - _NCC_ZERO) / (_NCC_ONE - _NCC_ZERO)))
        else:
            c.ncc, c.morph = 1.0, 1.0
        c.rhythm = self._rhythm(c.i)
        spk = self._spk if self._spk else c.amp
        c.quality = c.morph * c.rhythm * (c.amp / spk) ** _AMP_GAMMA
        return c.quality

    def _rhythm(self, i: int) -> float:
        if self._last is None or len(self._rr) < 3:
            return 1.0
        rr = i - self._last
        refs = [*self._rr, self._rr_median() or 1.0]
        dev = min(abs(math.log(rr / r)) for r in refs)
        if dev <= _RR_TOLERANCE:
            return 1.0
        return max(_RR_FLOOR, 1.0 - (1.0 - _RR_FLOOR) * (dev - _RR_TOLERANCE) / _RR_PENALTY_SPAN)

    def _correlate(self, c: _Candidate) -> tuple[float, int]:
        """Best normalised cross-correlation with the template and its lag."""
        tmpl = self._tmpl
        assert tmpl is not None
        segs = sliding_window_view(c.win, tmpl.size)
        segs = segs - segs.mean(axis=1, keepdims=True)
        num = (segs * tmpl).sum(axis=1)
        den = np.sqrt((segs * segs).sum(axis=1) * float((tmpl * tmpl).sum()))
        ncc = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        k = int(np.argmax(ncc))
        return float(ncc[k]), k

    def _decide_one(self, c: _Candidate, out: list[_Candidate]) -> None:
        assert self._spk is not None
        thr = self._threshold()
        if self._last is not None and c.i - self._last < self._refr:
            self._npk = 0.125 * min(c.amp, self._spk) + 0.875 * self._npk
            return
        if c.amp <= thr:
            self._npk = 0.125 * c.amp + 0.875 * self._npk
            self._quality(c)
            self._rejected.append(c)
            return
        conflict = self._conflict()
        quality = self._quality(c)
        sure = c.rhythm >= 1.0 and c.ncc >= _NCC_SURE
        for o in self._pending:
            gap = o.i - c.i
            if gap > conflict or (sure and gap > self._refr):
                break
            if o.amp > thr and self._quality(o) > quality:
                self._rejected.append(c)  # a better candidate follows
                return
        early = self._last is not None and c.i - self._last < conflict
        off_rhythm = c.rhythm < 1.0
        if (early and (c.morph < _MORPH_MIN_FACTOR or (off_rhythm and c.ncc < _NCC_SURE))) or (
            off_rhythm and c.morph < _MORPH_MIN_FACTOR
        ):
            self._npk = 0.125 * min(c.amp, self._spk) + 0.875 * self._npk
            self._rejected.append(c)
            return
        self._accept(c, out, searchback=False)

    def _searchback(self, tsb: int, out: list[_Candidate]) -> None:
        half = self._threshold() / 2.0
        lo = max(self._last if self._last is not None else 0, self._last_sb) + self._refr
        best: _Candidate | None = None
        for c in self._rejected:
            eligible = lo <= c.i < tsb and c.amp > half and c.morph >= _MORPH_MIN_FACTOR
            if eligible and (best is None or c.amp > best.amp):
                best = c
        self._last_sb = tsb
        self._rejected = [c for c in self._rejected if c.i >= tsb]
        if best is not None:
            self._accept(best, out, searchback=True)

    def _accept(self, c: _Candidate, out: list[_Candidate], *, searchback: bool) -> None:
        assert self._spk is not None
        alpha = 0.25 if searchback else 0.125
        self._spk = alpha * c.amp + (1.0 - alpha) * self._spk
        if self._last is not None:
            self._rr.append(c.i - self._last)
            if len(self._rr) >= 2:
                self._rr_med = float(np.median(np.asarray(self._rr)))
        self._last = c.i
        self._rejected = [r for r in self._rejected if r.i > c.i]
        self._n_beats += 1
        self._vote = (
            c.vote if self._n_beats == 1 else self._vote + _POLARITY_ALPHA * (c.vote - self._vote)
        )
        c.side = 1 if self._vote > _POLARITY_SWITCH else 0
        self._learn_template(c)
        out.append(c)

    def _learn_template(self, c: _Candidate) -> None:
        m = self._t1 + self._t2
        if self._tmpl is None:
            s = c.win[self._lag : self._lag + m]
            self._tmpl = s - s.mean()
            self._tmpl_n = 1
            return
        ncc, k = self._correlate(c)
        if ncc < _NCC_UPDATE and self._tmpl_n >= _TMPL_MIN_BEATS:
            return
        s = c.win[k : k + m]
        self._tmpl_n += 1
        self._tmpl = self._tmpl + ((s - s.mean()) - self._tmpl) / min(self._tmpl_n, _TMPL_MEMORY)

    def _emit(self, out: list[_Candidate]) -> EcgPeaks:
        if not out:
            return EcgPeaks.empty()
        idx = np.array([c.peaks[c.side][0] for c in out], dtype=np.int64)
        t = np.array([c.peaks[c.side][1] for c in out], dtype=np.float64)
        amp = np.array([c.peaks[c.side][2] for c in out], dtype=np.float64)
        return EcgPeaks(idx, t, amp)


def ecg_peaks(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _I64:
    """R-peak sample indices of a whole recording: the offline mirror of
    :class:`EcgPeakDetector` (one ``step`` on the whole signal, then ``flush``).

    Args:
        signal: single-lead ECG, shape ``(n,)``; NaNs are skipped.
        sampling_rate_hz: the sampling rate (at least 100 Hz).
    """  # noqa: D205
    det = EcgPeakDetector(sampling_rate_hz=sampling_rate_hz)
    peaks = EcgPeaks.concat([det.step(signal), det.flush()])
    return peaks.index


def ecg_peak_times(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _F64:
    """Sub-sample R-peak times in seconds from the start (``index / fs`` + parabolic offset).

    The R peak is refined by a 3-point parabola through the *raw* samples around the
    extremum; see the module documentation for why the raw rather than a filtered signal.

    Args:
        signal: single-lead ECG, shape ``(n,)``; NaNs are skipped.
        sampling_rate_hz: the sampling rate (at least 100 Hz).
    """
    det = EcgPeakDetector(sampling_rate_hz=sampling_rate_hz)
    peaks = EcgPeaks.concat([det.step(signal), det.flush()])
    return peaks.t
