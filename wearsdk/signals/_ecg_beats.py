"""What is measured on each beat of the R-peak detector: its refined peak and fiducial time,
its template correlation, morphology and rhythm scores, and what a beat hands out.

The sample level (:mod:`wearsdk.signals._ecg_samples`) builds on it; the detector's module
(:mod:`wearsdk.signals._ecg`) describes the algorithm.
"""  # noqa: D205

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from itertools import repeat
from operator import truediv

import numpy as np

from wearsdk.signals._ecg_base import (
    _AMP_GAMMA,
    _F64,
    _NCC_MIN_FACTOR,
    _NCC_ONE,
    _NCC_UPDATE,
    _NCC_ZERO,
    _OFFSET_ALPHA,
    _OFFSET_INIT,
    _OFFSET_TOL_S,
    _RR_FLOOR,
    _RR_PENALTY_SPAN,
    _RR_TOLERANCE,
    _TMPL_MEMORY,
    _TMPL_MIN_BEATS,
    EcgPeaks,
    _Candidate,
    _Template,
)
from wearsdk.signals._median import median

_acc = np.add.accumulate  # ndarray.cumsum's reduction, without its Python-level wrapper


class _EcgBeats:
    """Beat-level measurements of the R-peak detector (its state is set up by the detector's
    ``__init__`` and ``reset``).
    """  # noqa: D205

    sampling_rate_hz: float
    _t1: int
    _t2: int
    _lag: int
    _cw: int
    _cw_pos: _F64
    _xpre: int
    _t: _F64
    _tmpl: _F64 | None
    _tmpl_ss: float
    _tmpl_n: int
    _off_init: list[float]
    _off: float
    _spk: float | None
    _last: int | None
    _rr: deque[int]
    _rr_med: float | None

    def _refine(
        self, lo: int, xs: Sequence[float], ts: Sequence[float], k: int, sign: float
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
            c.segs_ss_min = float(np.minimum.reduce(ss))
        num = np.add.reduce(c.segs * tmpl, axis=1)
        den = np.sqrt(c.segs_ss * tmpl_ss)
        if c.segs_ss_min * tmpl_ss > 0:  # then every den > 0 (rounding is monotonic)
            ncc = num / den
        else:
            ncc = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        k = int(ncc.argmax())
        c.corr, c.corr_lag, c.corr_version = float(ncc[k]), k, version
        c.corr_delta = 0.0
        if 0 < k < ncc.size - 1:  # the best alignment, refined by a parabola
            y0, y1, y2 = float(ncc[k - 1]), c.corr, float(ncc[k + 1])
            den = y0 - 2.0 * y1 + y2
            if den < 0:
                c.corr_delta = min(0.5, max(-0.5, 0.5 * (y0 - y2) / den))
        return c.corr, k

    def _time(self, c: _Candidate, *, matched: bool) -> None:
        """The beat's time: for a beat of the usual shape, where the running average beat
        aligns best (sub-sample), plus the usual offset from there to the slope-energy
        centroid; for another shape (or before the average beat is learnt), its own centroid.

        The aligned point does not hop between the two peaks of a notched QRS or between an R
        and an S wave of similar size from beat to beat, as a per-beat extremum can. The
        offset is tracked robustly (median of the first beats, then a slow average of the
        values within 10 ms), so normal and ectopic beats are timed on the same feature and
        the intervals between them stay comparable.
        """  # noqa: D205
        c.t_out = c.peaks[c.side][1]
        if not math.isfinite(c.t_fid):  # (no time before the stream's start)
            return
        # the slope-energy centroid over +-cw, in samples from fid (the sums accumulated in
        # order, as a loop over the samples would)
        e1, cw = self._xpre, self._cw
        v = c.xrows[c.row, e1 - cw : e1 + cw + 1]
        dv = v[1:] - v[:-1]
        w = dv * dv
        num, tot = float(_acc(w * self._cw_pos)[-1]), float(_acc(w)[-1])
        cent = c.t_fid + (num / tot if tot > 0 else 0.0) * c.dt_fid
        if not matched:
            c.t_out = cent
            return
        # (the correlation with the current average beat, measured when it was classed)
        aligned = c.t_fid + (c.corr_lag - self._lag + c.corr_delta) * c.dt_fid
        d = cent - aligned
        if len(self._off_init) < _OFFSET_INIT:
            self._off_init.append(d)
            self._off = median(self._off_init)
        elif abs(d - self._off) < _OFFSET_TOL_S:
            self._off += _OFFSET_ALPHA * (d - self._off)
        c.t_out = aligned + self._off

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
        # the beat's window at the best alignment, centred: the correlation's row k (the same
        # values as s - s.mean() of s = c.win[k : k + m]); .sum() is np.add.reduce
        assert c.segs is not None
        self._tmpl_n += 1
        tmpl = self._tmpl + (c.segs[k] - self._tmpl) / min(self._tmpl_n, _TMPL_MEMORY)
        self._tmpl = tmpl
        self._tmpl_ss = float(np.add.reduce(tmpl * tmpl))

    def _emit(self, out: list[_Candidate]) -> EcgPeaks:
        if not out:
            return EcgPeaks.empty()
        # the sample nearest the beat's time
        idx = np.array(
            [
                c.fid + round((c.t_out - c.t_fid) / c.dt_fid)
                if math.isfinite(c.t_fid)
                else c.peaks[c.side][0]
                for c in out
            ],
            np.int64,
        )
        t = np.array([c.t_out for c in out], dtype=np.float64)
        amp = np.array([c.peaks[c.side][2] for c in out], dtype=np.float64)
        return EcgPeaks(idx, t, amp, np.array([c.ectopic for c in out], dtype=np.bool_))

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
        refs = [*self._rr, self._rr_med or 1.0]
        # min(|log(rr / r)|) over refs, in C-level iteration
        dev = min(map(abs, map(math.log, map(truediv, repeat(rr), refs))))
        if dev <= _RR_TOLERANCE:
            return 1.0
        return max(_RR_FLOOR, 1.0 - (1.0 - _RR_FLOOR) * (dev - _RR_TOLERANCE) / _RR_PENALTY_SPAN)
