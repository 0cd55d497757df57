"""Baseline for the R-peak detector's speed: the detector as it was before the ectopy work.

``EcgPeakDetector`` of ``wearsdk/signals/_ecg.py`` at commit 591431d (before the search-back of
any shape, the wide-band envelope, the beat classes and the centroid timing), copied
unchanged except that the cleaner, the offline helpers and the module docstring are left
out. ``benchmarks.ecg_speed`` runs it next to today's detector in the same process, so the
speed ratio does not depend on the machine or its load. It is not part of the package and is
not maintained: do not import it from ``wearsdk``.
"""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._filters import InPlaceSos, butter_sos, group_delay_s

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


_Template = tuple[_F64, float, int]  # average beat (centred), its energy, its version


@dataclass(slots=True)
class _Candidate:
    """An envelope maximum and everything measured on it when it was found (state-free), then
    its scores against the detector's state and a cache of its template correlation.
    """  # noqa: D205

    i: int  # envelope maximum
    amp: float  # envelope value
    win: _F64  # morphology-band window around the fiducial, with +-lag margin
    peaks: tuple[tuple[int, float, float], tuple[int, float, float]]  # (index, t, amp) +/-
    vote: float  # (c- - c+) / (c- + c+), c = |second difference| at each extremum
    side: int = 0  # 0: positive R peak, 1: negative (set when accepted)
    ncc: float = 1.0
    morph_deferred: _Template | None = None  # morph (and ncc) are to be measured on this
    segs: _F64 | None = None  # the win's template-sized windows, each centred (cached)
    segs_ss: _F64 | None = None  # their energies
    segs_ss_min: float = 0.0
    corr: float = 0.0  # best correlation with the template of version corr_version, and lag
    corr_lag: int = 0
    corr_version: int = -1
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
        self._detect = InPlaceSos(
            butter_sos(
                "bandpass",
                (_DETECT_BAND_HZ[0], min(_DETECT_BAND_HZ[1], top)),
                sampling_rate_hz=fs,
            )
        )
        self._morph = InPlaceSos(
            butter_sos(
                "bandpass", (_MORPH_BAND_HZ[0], min(_MORPH_BAND_HZ[1], top)), sampling_rate_hz=fs
            )
        )

        def n(seconds: float) -> int:
            return max(1, round(seconds * fs))

        self._w = max(3, n(_MWI_S))
        self._mwi = np.full(self._w, 1.0 / self._w)
        self._r = max(2, n(_LOCAL_MAX_S))
        self._range_2r1 = np.arange(2 * self._r + 1)
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
        # sample buffers (rows x, t, e, z, bad; ~5 s), compacted to the last _keep samples when
        # full; a larger block enlarges them until the end of its step
        self._cap0 = 2 * self._keep + round(4.0 * fs)
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
        self._base = 0  # absolute index of buffer[0]; samples [_base, _n) are buffered
        self._alloc(self._cap0)
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
        self._tmpl_ss = 0.0  # its energy
        self._tmpl_n = 0  # template version: beats it has learnt
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

    def _alloc(self, cap: int) -> None:
        """Allocate empty buffers with room for ``cap`` samples."""
        buf = np.zeros((5, cap))
        self._buf = buf
        self._x: _F64 = buf[0]  # raw samples (NaNs held)
        self._t: _F64 = buf[1]  # session times
        self._e: _F64 = buf[2]  # energy envelope
        self._z: _F64 = buf[3]  # morphology band
        self._bad: _F64 = buf[4]  # 1.0 where the sample was NaN

    def _reserve(self, m: int) -> int:
        """Make room for ``m`` more samples; return the buffer position of the next one.

        Only the last ``_keep`` samples are ever read again, so the others are dropped here.
        """
        live = self._n - self._base
        if live + m <= self._buf.shape[1]:
            return live
        cut = max(self._base, self._n - self._keep)
        k, live = cut - self._base, self._n - cut
        if live + m > self._buf.shape[1]:
            old = self._buf
            self._alloc(max(self._cap0, live + m + self._keep))
            self._buf[:, :live] = old[:, k : k + live]
        else:
            self._buf[:, :live] = self._buf[:, k : k + live]
        self._base = cut
        return live

    def _append(self, x: _F64, t: _F64) -> None:
        amax = float(np.abs(x).max())  # NaN or inf when a sample is not finite
        bad: npt.NDArray[np.bool_] | None = None
        if not math.isfinite(amax):
            bad = ~np.isfinite(x)
            self.nan_count += int(bad.sum())
            self._last_bad = self._n + int(np.flatnonzero(bad)[-1])
            if self._hold is None:
                # nothing finite yet: leading NaNs are skipped without running the filters,
                # which then start (in steady state) on the first finite sample
                k = int(np.argmin(bad)) if not bad.all() else x.size
                j = self._reserve(k)
                self._x[j : j + k] = 0.0
                self._t[j : j + k] = t[:k]
                self._e[j : j + k] = 0.0
                self._z[j : j + k] = 0.0
                self._bad[j : j + k] = 1.0
                self._n += k
                x, t, bad = x[k:], t[k:], bad[k:]
                if x.size == 0:
                    return
            # hold the last finite value (the first sample is finite or follows one)
            idx = np.where(bad, -1, np.arange(x.size))
            np.maximum.accumulate(idx, out=idx)
            assert self._hold is not None or idx[0] == 0
            x = np.where(idx >= 0, x[np.maximum(idx, 0)], self._hold or 0.0)
            amax = float(np.max(np.abs(x)))
        m = x.size
        self._hold = float(x[-1])
        self._scale = max(self._scale, amax)
        j = self._reserve(m)
        self._x[j : j + m] = x
        self._t[j : j + m] = t
        if bad is None:
            self._bad[j : j + m] = 0.0
        else:
            self._bad[j : j + m] = bad
        # band-passes: the morphology band is filtered in place in its buffer
        self._morph.step_into(x, self._buf[3:4, j : j + m])
        y2 = np.empty((1, m))
        self._detect.step_into(x, y2)
        y = y2[0]
        # first difference, squared
        d = np.empty(m)
        d[0] = y[0] - (float(y[0]) if self._prev_y is None else self._prev_y)
        np.subtract(y[1:], y[:-1], out=d[1:])
        np.multiply(d, d, out=d)
        self._prev_y = float(y[-1])
        # moving-window integration: what scipy.signal.lfilter(mwi, [1.0], d, zi=...) computes
        # for an FIR filter (a full convolution, the carried state added to its head)
        full = np.convolve(self._mwi, d)
        full[: self._w - 1] += self._mwi_zi
        self._e[j : j + m] = full[:m]
        self._mwi_zi = full[m:]
        self._n += m

    def _trim(self) -> None:
        """Give back the room taken by a large block (memory stays bounded)."""
        if self._buf.shape[1] > self._cap0 and self._n - self._base > self._keep:
            cut = self._n - self._keep
            k, self._base = cut - self._base, cut
            old = self._buf
            self._alloc(self._cap0)
            self._buf[:, : self._keep] = old[:, k : k + self._keep]

    def _find_candidates(self, *, final: bool = False) -> None:
        """Envelope maxima over +-r whose right-hand context has arrived (all, when final)."""
        r = self._r
        hi = self._n if final else self._n - self._measure + 1  # exclusive
        lo = self._scan
        if hi <= lo:
            return
        m = hi - lo
        seg = self._span(self._e, lo - r, hi + r, -np.inf, -np.inf)
        env = seg[r : r + m]
        floor = _FLOOR_REL * self._scale * self._scale
        # a maximum over +-r is first one over its two neighbours: screen on those, then test
        # the few that pass on the r samples each side (env[j] is seg[j + r])
        js = np.flatnonzero((env > seg[r - 1 : r - 1 + m]) & (env >= seg[r + 1 : r + 1 + m]))
        if js.size:
            v = env[js]
            around = seg[js[:, None] + self._range_2r1]  # rows seg[j : j + 2r + 1]
            ok = (v > around[:, :r].max(axis=1)) & (v >= around[:, r + 1 :].max(axis=1))
            ok &= v > floor
            for j, amp in zip(js[ok].tolist(), v[ok].tolist(), strict=True):
                cand = self._measure_candidate(lo + j, amp)
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
        fid = a + int(np.abs(self._span(self._z, a, i + 1, 0.0, 0.0)).argmax())
        win = self._span(
            self._z, fid - self._t1 - self._lag, fid + self._t2 + self._lag, 0.0, 0.0
        ).copy()
        # raw samples and times from one before the R-peak search range to one after it
        lo, hi = fid - self._p1 - 1, fid + self._p2 + 2
        first, last = float(self._x[0]), float(self._x[self._n - self._base - 1])
        xs: list[float] = self._span(self._x, lo, hi, first, last).tolist()
        ts: list[float] = self._span(self._t, lo, hi, math.nan, math.nan).tolist()
        # polarity vote: the sharper extremum (larger |second difference|) is the R wave
        near = xs[1:-1]
        (pp, cp) = self._refine(lo, xs, ts, near.index(max(near)), 1.0)
        (pn, cn) = self._refine(lo, xs, ts, near.index(min(near)), -1.0)
        vote = (cn - cp) / (cn + cp) if cn + cp > 0 else 0.0
        return _Candidate(i=i, amp=amp, win=win, peaks=(pp, pn), vote=vote)

    def _refine(
        self, lo: int, xs: list[float], ts: list[float], k: int, sign: float
    ) -> tuple[tuple[int, float, float], float]:
        """Extremum ``xs[k + 1]`` (sample ``lo + k + 1``) refined by a 3-point parabola.

        ``xs`` and ``ts`` are the raw samples and their times (NaN outside the stream) from
        one sample before the search range to one after it.
        """
        y0, y1, y2 = xs[k], xs[k + 1], xs[k + 2]
        den = y0 - 2.0 * y1 + y2
        delta = 0.0
        if den * sign < 0:  # a proper extremum (concave for a max, convex for a min)
            delta = min(0.5, max(-0.5, 0.5 * (y0 - y2) / den))
        vertex = y1 - 0.25 * (y0 - y2) * delta
        tm, t0, tp = ts[k], ts[k + 1], ts[k + 2]
        if delta >= 0:
            dt = tp - t0 if math.isfinite(tp) else t0 - tm
        else:
            dt = t0 - tm if math.isfinite(tm) else tp - t0
        if not math.isfinite(dt):
            dt = 1.0 / self.sampling_rate_hz
        return (lo + k + 1, t0 + delta * dt, vertex), abs(den)

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
        self._morphology(c, defer=False)
        c.rhythm = self._rhythm(c.i)
        spk = self._spk if self._spk else c.amp
        c.quality = c.morph * c.rhythm * (c.amp / spk) ** _AMP_GAMMA
        return c.quality

    def _morphology(self, c: _Candidate, *, defer: bool) -> None:
        """Set ``c.ncc`` and ``c.morph`` against the current template, or with ``defer`` only
        remember the template, for :meth:`_deferred_morph` to measure them if ever needed.
        """  # noqa: D205
        if self._tmpl is not None and self._tmpl_n >= _TMPL_MIN_BEATS:
            c.morph_deferred = (self._tmpl, self._tmpl_ss, self._tmpl_n)
            if not defer:
                self._deferred_morph(c)
        else:
            c.ncc, c.morph, c.morph_deferred = 1.0, 1.0, None

    def _deferred_morph(self, c: _Candidate) -> float:
        """``c.morph``, measured now on the template it was deferred with (if it was)."""
        if c.morph_deferred is not None:
            c.ncc = self._correlate(c, c.morph_deferred)[0]
            c.morph = min(1.0, max(_NCC_MIN_FACTOR, (c.ncc - _NCC_ZERO) / (_NCC_ONE - _NCC_ZERO)))
            c.morph_deferred = None
        return c.morph

    def _rhythm(self, i: int) -> float:
        if self._last is None or len(self._rr) < 3:
            return 1.0
        rr = i - self._last
        refs = [*self._rr, self._rr_median() or 1.0]
        dev = min(abs(math.log(rr / r)) for r in refs)
        if dev <= _RR_TOLERANCE:
            return 1.0
        return max(_RR_FLOOR, 1.0 - (1.0 - _RR_FLOOR) * (dev - _RR_TOLERANCE) / _RR_PENALTY_SPAN)

    def _correlate(self, c: _Candidate, ref: _Template | None = None) -> tuple[float, int]:
        """Best normalised cross-correlation with the template (default: the current one)
        and its lag, cached per candidate and template version.
        """  # noqa: D205
        if ref is None:
            assert self._tmpl is not None
            ref = (self._tmpl, self._tmpl_ss, self._tmpl_n)
        tmpl, tmpl_ss, version = ref
        if c.corr_version == version:
            return c.corr, c.corr_lag
        if c.segs is None or c.segs_ss is None:
            # the win's windows of the template's size, centred: the layout (overlapping rows)
            # and the reductions are those of sliding_window_view(win, m) and its .mean()
            m, step = tmpl.size, c.win.strides[0]
            segs = np.ndarray((c.win.size - m + 1, m), np.float64, c.win, 0, (step, step))
            c.segs = segs = segs - np.add.reduce(segs, axis=1, keepdims=True) / m
            c.segs_ss = ss = np.add.reduce(segs * segs, axis=1)
            c.segs_ss_min = float(ss.min())
        num = np.add.reduce(c.segs * tmpl, axis=1)
        den = np.sqrt(c.segs_ss * tmpl_ss)
        if c.segs_ss_min * tmpl_ss > 0:  # then every den > 0 (rounding is monotonic)
            ncc = num / den
        else:
            ncc = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        k = int(ncc.argmax())
        c.corr, c.corr_lag, c.corr_version = float(ncc[k]), k, version
        return c.corr, k

    def _decide_one(self, c: _Candidate, out: list[_Candidate]) -> None:
        assert self._spk is not None
        thr = self._threshold()
        if self._last is not None and c.i - self._last < self._refr:
            self._npk = 0.125 * min(c.amp, self._spk) + 0.875 * self._npk
            return
        if c.amp <= thr:
            self._npk = 0.125 * c.amp + 0.875 * self._npk
            # only a search-back reads its morphology (most never need it): measured then
            self._morphology(c, defer=True)
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
            eligible = lo <= c.i < tsb and c.amp > half
            if (
                eligible
                and (best is None or c.amp > best.amp)
                and self._deferred_morph(c) >= _MORPH_MIN_FACTOR  # measured last: rarely needed
            ):
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
                # the median of the (integer) intervals, as np.median computes it
                srt, h = sorted(self._rr), len(self._rr) // 2
                self._rr_med = float(srt[h]) if len(srt) % 2 else (srt[h - 1] + srt[h]) / 2
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
            self._tmpl_ss = float((self._tmpl * self._tmpl).sum())
            self._tmpl_n = 1
            return
        ncc, k = self._correlate(c)
        if ncc < _NCC_UPDATE and self._tmpl_n >= _TMPL_MIN_BEATS:
            return
        s = c.win[k : k + m]
        self._tmpl_n += 1
        self._tmpl = self._tmpl + ((s - s.mean()) - self._tmpl) / min(self._tmpl_n, _TMPL_MEMORY)
        self._tmpl_ss = float((self._tmpl * self._tmpl).sum())

    def _emit(self, out: list[_Candidate]) -> EcgPeaks:
        if not out:
            return EcgPeaks.empty()
        idx = np.array([c.peaks[c.side][0] for c in out], dtype=np.int64)
        t = np.array([c.peaks[c.side][1] for c in out], dtype=np.float64)
        amp = np.array([c.peaks[c.side][2] for c in out], dtype=np.float64)
        return EcgPeaks(idx, t, amp)
