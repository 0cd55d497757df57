"""The sample level of the R-peak detector: buffers, band-pass envelopes, candidates and what
is measured on them, for :class:`~wearsdk.signals._ecg.EcgPeakDetector` (whose module
describes the algorithm); what is measured on each beat is in ``_ecg_beats``.
"""  # noqa: D205

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from wearsdk.signals._ecg_base import (
    _F64,
    _FLOOR_REL,
    _Candidate,
)
from wearsdk.signals._ecg_beats import _EcgBeats
from wearsdk.signals._filters import InPlaceSos

# the reductions behind ndarray.max / .min, called without their Python-level wrappers
_max = np.maximum.reduce


_SUMS_SPAN = 4096  # running sums restart at least this often (their rounding stays small)


def _energy(y: _F64, prev: float | None, tail: _F64, out: _F64) -> tuple[float, _F64]:
    """Energy envelope of a band-passed block ``y`` into ``out``: the squared first difference
    (``prev``: the sample before the block, None at the stream's start), integrated over a
    moving window of ``tail.size + 1`` samples (``tail``: the last squared differences before
    the block; zeros at the start), as the window's mean from a difference of running sums.

    Returns:
        The new ``prev`` and ``tail``, to carry to the next block.
    """  # noqa: D205
    w, m = tail.size + 1, y.size
    d = np.empty(w + m)  # a 0.0, the tail, then the block's squared differences
    d[0] = 0.0
    d[1:w] = tail
    new = d[w:]
    new[0] = y[0] - (float(y[0]) if prev is None else prev)
    np.subtract(y[1:], y[:-1], out=new[1:])
    np.multiply(new, new, out=new)
    for lo in range(0, m, _SUMS_SPAN):
        hi = min(m, lo + _SUMS_SPAN)
        c = np.add.accumulate(d[lo : w + hi])
        # the sum over the window ending at sample k of the block: c[w + k] - c[k]
        np.subtract(c[w:], c[: hi - lo], out=out[lo:hi])
    out *= 1.0 / w
    return float(y[-1]), d[m + 1 :].copy()


class _EcgSamples(_EcgBeats):
    """Sample-level state and methods of the R-peak detector (set up by its ``__init__`` and
    ``reset``); the decisions are :class:`~wearsdk.signals._ecg.EcgPeakDetector`'s.
    """  # noqa: D205

    nan_count: int
    _detect: InPlaceSos
    _morph: InPlaceSos
    _wide: InPlaceSos
    _mwi: _F64
    _mwi_zi: _F64
    _d2_tail: _F64
    _w: int
    _w2: int
    _r: int
    _range_2r1: npt.NDArray[np.int_]
    _range_fb1: npt.NDArray[np.int_]
    _range_win: npt.NDArray[np.int_]
    _range_raw: npt.NDArray[np.int_]
    _fid_back: int
    _p1: int
    _p2: int
    _xpost: int
    _nan_guard: int
    _measure: int
    _keep: int
    _cap0: int
    _buf: _F64
    _x: _F64
    _e: _F64
    _z: _F64
    _bad: _F64
    _e2: _F64
    _n: int
    _base: int
    _hold: float | None
    _prev_y: float | None
    _prev_y2: float | None
    _wide_n: int
    _wide_beats: list[_Candidate]
    _spk2: float | None
    _rejected: list[_Candidate]
    _last_bad: int
    _scale: float
    _scan: int
    _pending: deque[_Candidate]

    # ------------------------------------------------------------------ sample level

    def _alloc(self, cap: int) -> None:
        """Allocate empty buffers with room for ``cap`` samples."""
        buf = np.zeros((6, cap))
        self._buf = buf
        self._x: _F64 = buf[0]  # raw samples (NaNs held)
        self._t: _F64 = buf[1]  # session times
        self._e: _F64 = buf[2]  # energy envelope
        self._z: _F64 = buf[3]  # morphology band
        self._bad: _F64 = buf[4]  # 1.0 where the sample was NaN
        self._e2: _F64 = buf[5]  # wide-band energy envelope

    def _reserve(self, m: int) -> int:
        """Make room for ``m`` more samples; return the buffer position of the next one.

        Only the last ``_keep`` samples are ever read again, so the others are dropped here.
        """
        live = self._n - self._base
        if live + m <= self._buf.shape[1]:
            return live
        cut = max(self._base, self._n - self._keep)
        if cut > self._base:
            self._before_drop()
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
        # NaN or inf when a sample is not finite (np.maximum.reduce is what .max() runs)
        amax = float(_max(np.abs(x)))
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
                self._e2[j : j + k] = 0.0
                self._n += k
                self._wide_n = self._n  # (the wide band starts on the first finite sample)
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
        # band-passes: the morphology band is filtered in place in its buffer, the detection
        # band into y (the wide band waits for _wide_catch_up)
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

    def _wide_catch_up(self) -> None:
        """Run the wide-band envelope over the samples it has not seen yet.

        It is read only by search-backs (and for the running level of the beats, read by them
        too), so it is computed in one pass over several blocks: when a search-back needs it,
        or before samples leave the buffers (the same filter, differencing and integration as
        per block, with their state carried).
        """
        a, n, b = self._wide_n, self._n, self._base
        if a >= n:
            return
        y = np.empty((1, n - a))
        self._wide.step_into(self._x[a - b : n - b], y)
        self._prev_y2, self._d2_tail = _energy(
            y[0], self._prev_y2, self._d2_tail, self._e2[a - b : n - b]
        )
        self._wide_n = n

    def _wide_amps(self, cands: list[_Candidate]) -> None:
        """Set ``amp2`` (the wide-band envelope's maximum over +-r around ``i``, 0.0 outside
        the stream) of the candidates that lack it.
        """  # noqa: D205
        todo = [c for c in cands if c.amp2 is None]
        if not todo:
            return
        self._wide_catch_up()
        r = self._r
        idx = np.array([c.i for c in todo])
        lo, hi = int(idx.min()) - r, int(idx.max()) + r + 1
        # every window is still buffered (measured before samples leave: _before_drop)
        assert lo >= self._base or self._base == 0
        seg = self._span(self._e2, lo, hi, 0.0, 0.0)
        amps = _max(seg[(idx - (lo + r))[:, None] + self._range_2r1], axis=1).tolist()
        for c, amp2 in zip(todo, amps, strict=True):
            c.amp2 = amp2

    def _wide_level(self) -> float:
        """The running wide-band level of the accepted beats, with the beats not yet folded."""
        beats = self._wide_beats
        if beats:
            self._wide_amps(beats)
            spk2 = self._spk2
            for c in beats:
                assert c.amp2 is not None
                spk2 = c.amp2 if spk2 is None else 0.125 * c.amp2 + 0.875 * spk2
            self._spk2 = spk2
            beats.clear()
        return 0.0 if self._spk2 is None else self._spk2

    def _before_drop(self) -> None:
        """Measure, on the wide band, everything that may need samples about to be dropped."""
        self._wide_amps([*self._pending, *self._rejected])
        self._wide_level()

    def _trim(self) -> None:
        """Give back the room taken by a large block (memory stays bounded)."""
        if self._buf.shape[1] > self._cap0 and self._n - self._base > self._keep:
            self._before_drop()
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
        js = ((env > seg[r - 1 : r - 1 + m]) & (env >= seg[r + 1 : r + 1 + m])).nonzero()[0]
        if js.size:
            v = env[js]
            around = seg[js[:, None] + self._range_2r1]  # rows seg[j : j + 2r + 1]
            ok = (v > _max(around[:, :r], axis=1)) & (v >= _max(around[:, r + 1 :], axis=1))
            ok &= v > floor
            js, v = js[ok], v[ok]
            if js.size:
                self._measure_candidates(lo, hi, js, v)
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

    def _measure_candidates(self, lo: int, hi: int, js: npt.NDArray[np.intp], amps: _F64) -> None:
        """Measure the envelope maxima at ``lo + js`` (with their envelope values) found in
        ``[lo, hi)`` and queue them as candidates, in index order.

        Each one's windows are rows gathered from one span of each buffer over the whole
        range (the values of a span per candidate, in fewer numpy calls).
        """  # noqa: D205
        fb, t1, lag = self._fid_back, self._t1, self._lag
        if self._last_bad >= lo + int(js[0]) - fb - self._nan_guard:
            keep = np.ones(js.size, np.bool_)
            # no candidate within the NaN guard before (or the measured span after) a NaN
            for n, j in enumerate(js.tolist()):
                a = lo + j - fb
                keep[n] = not self._span(
                    self._bad, a - self._nan_guard, lo + j + self._measure, 0.0, 0.0
                ).any()
            js, amps = js[keep], amps[keep]
            if not js.size:
                return
        # the fiducial: the largest |morphology band| over [i - fb, i]; then the morphology
        # window around it (with +-lag margin)
        z = self._span(self._z, lo - fb - t1 - lag, hi + self._t2 + lag, 0.0, 0.0)
        ks = np.abs(z[(js + (t1 + lag))[:, None] + self._range_fb1]).argmax(axis=1)
        starts = (js + ks)[:, None]  # row starts of every window below, in its span
        wins = z[starts + self._range_win]
        # the raw complex (for its slope-energy centroid if the candidate becomes a beat), and
        # in it the raw samples and times from one before the R-peak search range to one after
        # (the times are NaN outside the stream, the samples its first and last one): rows
        # kept with the candidates, read only for those that become beats
        a, e, b = lo - fb - self._xpre, hi + self._xpost + 1, self._base
        if a >= b and e <= self._n:
            xs, ts = self._x[a - b : e - b], self._t[a - b : e - b]
        else:
            first, last = float(self._x[0]), float(self._x[self._n - b - 1])
            xs = self._span(self._x, a, e, first, last)
            ts = self._span(self._t, a, e, math.nan, math.nan)
        rows = starts + self._range_raw
        xrows, trows = xs[rows], ts[rows]
        pending = self._pending
        for n, (j, k, amp) in enumerate(zip(js.tolist(), ks.tolist(), amps.tolist(), strict=True)):
            pending.append(
                _Candidate(
                    i=lo + j,
                    amp=amp,
                    win=wins[n],
                    xrows=xrows,
                    trows=trows,
                    row=n,
                    fid=lo + j - fb + k,
                )
            )

    def _measure_beat(self, c: _Candidate) -> None:
        """The R peaks (positive and negative extremum, refined), the polarity vote, and the
        fiducial's time and sample period of a candidate about to be accepted (from the samples
        kept with it; most candidates never need them).
        """  # noqa: D205
        p1 = self._p1
        x0 = self._xpre - p1 - 1
        x1 = x0 + p1 + self._p2 + 3
        xs, ts = c.xrows[c.row, x0:x1].tolist(), c.trows[c.row, x0:x1].tolist()
        flo = c.fid - p1 - 1
        # polarity vote: the sharper extremum (larger |second difference|) is the R wave
        near = xs[1:-1]
        (pp, cp) = self._refine(flo, xs, ts, near.index(max(near)), 1.0)
        (pn, cn) = self._refine(flo, xs, ts, near.index(min(near)), -1.0)
        c.peaks = (pp, pn)
        c.vote = (cn - cp) / (cn + cp) if cn + cp > 0 else 0.0
        t_fid, t_nxt = ts[p1 + 1], ts[p1 + 2]
        dt = t_nxt - t_fid if math.isfinite(t_nxt) else t_fid - ts[p1]
        if not math.isfinite(dt):
            dt = 1.0 / self.sampling_rate_hz
        c.t_fid, c.dt_fid = t_fid, dt
