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
   **Search-back of any shape**: when no beat came for 1.66 median RR, a beat is missing, so
   the strongest rejected candidate in the interval is taken whatever its morphology, if it
   is above half the threshold or strong on a second, wide-band energy envelope (5-15 Hz,
   150 ms integration, as Pan-Tompkins' band: wide ventricular complexes carry little
   energy at 10-40 Hz), above 0.4 times its running level at the accepted beats. This
   recovers ectopic beats (PVCs: wide, other polarity) followed by a compensatory pause.
   **Beat classes**: each accepted beat is classed ectopic (:attr:`EcgPeaks.ectopic`) when it
   comes before 0.84 median RR, or its correlation with the running average beat is below
   0.5, or below 0.8 while it is off the rhythm (the rhythm test of step 4), for the RR stage
   to keep it out of NN intervals. On ``qtdb_dev`` (``python -m benchmarks.ecg_accuracy
   --qtdb-only``, 250 Hz) this classes 82 % of the beats annotated V (or fusion) and 87 % of
   those annotated S ectopic, and 0.6 % of the normal beats (130 Hz: 83 %, 85 %, 1.0 %; with
   0.8 median RR instead of 0.84: 75 %, 70 %, 0.4 %). A beat of normal timing whose shape
   changes little, e.g. many supraventricular ones in a run, is not classed ectopic; the RR
   stage still judges every interval on its timing.
5. **Fiducial point and timing**: ``EcgPeaks.amplitude`` is the R peak: the extremum of the
   *raw* signal near the morph-band peak, on the side (up or down) of the sharper deflection
   (larger |second difference|), voted over the beats, so an inverted lead gives the same
   peaks, refined by a 3-point parabola through the raw samples. The beat's *time* is one
   feature for every beat, whatever its shape: the centroid of the raw signal's slope energy
   (squared first difference) over +-100 ms around the complex, which sits near the R peak of
   a narrow QRS and inside a wide one rather than at one of its ends. A beat that correlates
   with the running average beat (normalised correlation >= 0.5) is timed where the average
   beat aligns best (the correlation's maximum refined by a parabola, below the sample
   period) plus the tracked offset from that point to the centroid (median over the first 5
   such beats, then a slow average of the values within 10 ms): the alignment neither hops
   between the two peaks of a notched QRS or between R and S waves of similar size, as a
   per-beat extremum does, nor picks up the noise of a single beat's samples, which matters
   most in noise. Other beats (ectopic shapes, and the first ones) are timed at their own
   centroid. Times are interpolated on the per-sample session times, and ``EcgPeaks.index``
   is the sample nearest the time. The raw signal is used because a causal filter's group
   delay depends on the QRS shape. Measured (``python -m benchmarks.ecg_accuracy``): pooled
   RR error on ``qtdb_dev`` 4.7 ms at 250 Hz and 4.8 ms at 130 Hz, 3.7 / 3.8 ms between two
   normal beats, 34 / 33 ms next to a ventricular beat (the annotations sit at a wide beat's
   major deflection, away from its centroid; timing ectopic shapes there gives 23 ms but
   moves noisy normal beats: see benchmarks/README.md); MIT-BIH 118 with noise at 6 dB
   6.1 ms; RR error against the Polar H10 strap's own RR 0.75 ms. Most of what is left
   between normal beats is the annotations' own jitter: with the record's second lead as a
   second fiducial (``python -m benchmarks.ecg_rr_error``), the RR error variance between
   normal beats splits into about 5.1 ms RMS for the annotations and 2.7 ms for the
   detector at 250 Hz (see benchmarks/README.md).

Every sample-level step is a causal filter with carried state or a purely local operation,
every candidate is measured from a fixed window, and decisions are taken in index order once
a fixed lookahead has arrived, so the output does not depend on how the stream is cut into
blocks: ``step`` over any split then ``flush`` equals :func:`ecg_peak_indices`, bit for bit.

Per-block cost is kept low for small blocks (1 s or less): samples go into preallocated
buffers, the filters run through scipy's compiled kernels with their state carried by the
detector, the envelope maxima are screened on their neighbours before the +-100 ms test, the
candidates found in a block are measured from one span of each buffer (their windows gathered
as rows), the R-peak and timing work is done on Python floats and only for candidates that
become beats, and each candidate's centred morphology windows are computed once and reused for
every template it is correlated with (and for the template's update). These are the same
operations on the same values as the plain formulation. The wide-band envelope, read only by
search-backs, is computed in one pass over about 12 s of samples (when the buffers are
compacted, or when a search-back needs it, whichever comes first), its moving-window
integration as a difference of running sums (restarted every 4096 samples); its values differ
from a per-block convolution's in their last bits, and no beat has been seen to change with
it: ``python -m benchmarks.ecg_unchanged`` compares every beat (index, time, amplitude,
class) of 67 recordings with a git revision's.

The code: this module holds the decisions (:class:`EcgPeakDetector`); ``_ecg_samples`` the
sample level and what is measured on candidates and beats (envelopes, morphology, rhythm,
timing); ``_ecg_base`` :class:`EcgPeaks`, the supported rates and the constants;
``_ecg_clean`` :class:`EcgCleaner`.

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

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._ecg_base import (
    _BAND_TOP_FRACTION,
    _CENTROID_S,
    _CONFLICT_RR,
    _DETECT_BAND_HZ,
    _ECTOPIC_PREMATURE,
    _F64,
    _FID_BACK_S,
    _LEARN_S,
    _LOCAL_MAX_S,
    _MORPH_BAND_HZ,
    _MORPH_MIN_FACTOR,
    _MWI_S,
    _NAN_GUARD_S,
    _NCC_ALIGN,
    _NCC_SURE,
    _NCC_ZERO,
    _PEAK_POST_S,
    _PEAK_PRE_S,
    _POLARITY_ALPHA,
    _POLARITY_SWITCH,
    _REFRACTORY_S,
    _RR_HISTORY,
    _SEARCHBACK_RR,
    _TMPL_LAG_S,
    _TMPL_MIN_BEATS,
    _TMPL_POST_S,
    _TMPL_PRE_S,
    _WIDE_BAND_HZ,
    _WIDE_LEVEL,
    _WIDE_MWI_S,
    ECG_MIN_SAMPLING_RATE_HZ,
    EcgPeaks,
    EcgRateError,
    _Candidate,
    _check_rate,
)
from wearsdk.signals._ecg_clean import ECG_CLEAN_BAND_HZ, EcgCleaner, ecg_clean
from wearsdk.signals._ecg_samples import _EcgSamples
from wearsdk.signals._filters import InPlaceSos, butter_sos
from wearsdk.signals._median import median

__all__ = [
    "ECG_CLEAN_BAND_HZ",
    "ECG_MIN_SAMPLING_RATE_HZ",
    "EcgCleaner",
    "EcgPeakDetector",
    "EcgPeaks",
    "EcgRateError",
    "ecg_clean",
]


class EcgPeakDetector(_EcgSamples):
    """Online R-peak detector for single-lead ECG: feed blocks, get the beats they confirm.

    See the module documentation for the algorithm and its sources. A beat is reported once
    ``latency_s`` (0.53 s with the default ``lookahead_s``) of signal past its envelope peak
    has arrived, so at most ~0.65 s after the R peak; beats recovered by search-back come when
    the search fires (1.66 median RR after the previous beat), and the first beats wait for
    the 2 s learning phase. The concatenated output of :meth:`step` over blocks of any sizes,
    followed by :meth:`flush`, equals :func:`ecg_peak_indices` on the whole signal, exactly.

    NaN samples are counted (:attr:`nan_count`), held at the last finite value for the filters,
    and no peak is reported within 0.25 s after one. Works from 100 Hz (e.g. 130 Hz Polar H10
    straps) to kHz rates; memory is bounded (about 13 s of samples).

    Args:
        sampling_rate_hz: the sampling rate, at least 100 Hz.
        lookahead_s: how far beyond a candidate the detector looks for a better one before
            deciding (0.1-1.0 s).

    Raises:
        EcgRateError: a sampling rate below :data:`ECG_MIN_SAMPLING_RATE_HZ` (100 Hz) or not
            finite (a :class:`~wearsdk.ConfigError`).
        ConfigError: a lookahead out of range.
    """

    def __init__(self, *, sampling_rate_hz: float, lookahead_s: float = 0.4) -> None:
        fs = _check_rate("ECG", sampling_rate_hz)
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
        self._wide = InPlaceSos(butter_sos("bandpass", _WIDE_BAND_HZ, sampling_rate_hz=fs))

        def n(seconds: float) -> int:
            return max(1, round(seconds * fs))

        self._w = max(3, n(_MWI_S))
        self._mwi = np.full(self._w, 1.0 / self._w)
        self._w2 = max(3, n(_WIDE_MWI_S))
        self._r = max(2, n(_LOCAL_MAX_S))
        self._range_2r1 = np.arange(2 * self._r + 1)
        self._fid_back = self._w + n(_FID_BACK_S)
        self._t1, self._t2, self._lag = n(_TMPL_PRE_S), n(_TMPL_POST_S), n(_TMPL_LAG_S)
        self._p1, self._p2 = n(_PEAK_PRE_S), n(_PEAK_POST_S)
        self._cw = n(_CENTROID_S)
        self._cw_pos = np.arange(2 * self._cw, dtype=np.float64) + (0.5 - self._cw)
        self._xpre = max(self._cw, self._p1 + 1)
        self._xpost = max(self._cw, self._p2 + 1)
        # offsets of the windows measured on each candidate (rows gathered from a span)
        self._range_fb1 = np.arange(self._fid_back + 1)
        self._range_win = np.arange(self._t1 + self._t2 + 2 * self._lag)
        self._range_raw = np.arange(self._xpre + self._xpost + 1)
        self._nan_guard = n(_NAN_GUARD_S)
        self._look = n(self.lookahead_s)
        self._refr = n(_REFRACTORY_S)
        self._learn = n(_LEARN_S)
        # samples needed after a candidate to measure it, then to decide it
        self._measure = max(self._r, self._t2 + self._lag, self._p2 + 1, self._xpost + 1) + 1
        self._need = self._look + self._measure
        back = max(self._fid_back + max(self._t1 + self._lag, self._p1 + 1, self._xpre), self._r)
        self._keep = back + self._measure + self._nan_guard + 2
        # sample buffers (rows x, t, e, z, bad, e2; ~13 s), compacted to the last _keep samples
        # when full (the wide band is brought up to date then: the longer the rarer); a larger
        # block enlarges them until the end of its step
        self._cap0 = 2 * self._keep + round(12.0 * fs)
        self.reset()

    @property
    def latency_s(self) -> float:
        """Delay between a sample and the decisions it completes, in seconds."""
        return self._need / self.sampling_rate_hz

    def reset(self) -> None:
        """Forget everything; the next block starts a new stream at index 0."""
        self._detect.reset()
        self._morph.reset()
        self._wide.reset()
        self._mwi_zi = np.zeros(self._w - 1)
        self._d2_tail = np.zeros(self._w2 - 1)
        self._prev_y: float | None = None
        self._prev_y2: float | None = None
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
        self._spk2: float | None = None  # running wide-band energy of the accepted beats
        self._wide_beats: list[_Candidate] = []  # accepted beats not yet in _spk2
        self._wide_n = 0  # samples the wide band has seen
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
        self._off_init: list[float] = []  # R peak - aligned point, first beats
        self._off = 0.0
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
        self._npk = median(amps) / 4.0 if len(amps) > 1 else self._spk / 4.0

    def _threshold(self) -> float:
        assert self._spk is not None
        return self._npk + 0.25 * (self._spk - self._npk)

    def _searchback_at(self) -> int | None:
        rrm = self._rr_med
        if self._last is None or rrm is None:
            return None
        return max(self._last, self._last_sb) + round(_SEARCHBACK_RR * rrm)

    def _conflict(self) -> int:
        rrm = self._rr_med
        span = self._refr if rrm is None else max(self._refr, round(_CONFLICT_RR * rrm))
        return min(span, self._look)

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
        thr = self._threshold()
        half = thr / 2.0
        lo = max(self._last if self._last is not None else 0, self._last_sb) + self._refr
        best: _Candidate | None = None
        inside = [c for c in self._rejected if lo <= c.i < tsb]
        weak = [c for c in inside if not c.amp > half]
        level = math.inf
        if weak:  # (the wide band is measured only where it decides)
            level = _WIDE_LEVEL * self._wide_level()
            self._wide_amps(weak)
        for c in inside:
            # a beat is missing here: one above the threshold or strong on the wide band is
            # taken whatever its shape (ectopic beats), a weaker one must look like the usual beat
            strong = c.amp > half or (c.amp2 is not None and c.amp2 > level)
            if strong and (best is None or c.amp > best.amp):
                best = c
        self._last_sb = tsb
        self._rejected = [c for c in self._rejected if c.i >= tsb]
        if best is not None:
            self._accept(best, out, searchback=True)

    def _accept(self, c: _Candidate, out: list[_Candidate], *, searchback: bool) -> None:
        assert self._spk is not None
        self._measure_beat(c)
        # classified as found: premature against the recent rhythm, or another shape than the
        # running average beat (judged before this beat updates either)
        premature = (
            self._last is not None
            and self._rr_med is not None
            and c.i - self._last < _ECTOPIC_PREMATURE * self._rr_med
        )
        ncc = (
            self._correlate(c)[0]
            if self._tmpl is not None and self._tmpl_n >= _TMPL_MIN_BEATS
            else 1.0
        )
        # another shape: unlike the average beat, or somewhat unlike it and off the rhythm
        shape = ncc < _NCC_ZERO or (ncc < _NCC_SURE and self._rhythm(c.i) < 1.0)
        c.ectopic = bool(premature or shape)
        alpha = 0.25 if searchback else 0.125
        self._spk = alpha * c.amp + (1.0 - alpha) * self._spk
        self._wide_beats.append(c)  # (its wide-band energy joins _spk2 when it is read)
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
        self._time(
            c,
            matched=self._tmpl is not None
            and self._tmpl_n >= _TMPL_MIN_BEATS
            and ncc >= _NCC_ALIGN,
        )
        self._learn_template(c)
        out.append(c)
