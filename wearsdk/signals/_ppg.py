"""Streaming photoplethysmogram (PPG/BVP) systolic-peak detection with an offline mirror.

1. **Band-pass**: causal 2nd-order Butterworth band-pass 0.5-5 Hz (:func:`ppg_clean`), its
   state carried across blocks. It removes the baseline (respiration-induced and postural
   drift below 0.5 Hz) and the high-frequency noise; being causal, it delays the pulse wave by
   its group delay (about 0.19 s at 1 Hz, 0.1 s at 1.5 Hz): beat *intervals* are unaffected,
   beat *times* lag the systolic peak by about that much.
2. **Systolic peaks**: local maxima of the filtered signal (``y[i-1] < y[i] >= y[i+1]``) that
   are the highest local maximum within +-0.33 s (a minimum distance of
   ``ceil(0.33 fs)`` samples; on equal heights the earlier one wins). This is the rule of
   ``scipy.signal.find_peaks(distance=...)`` made local: there, a maximum removed by a higher
   one no longer removes others; here any higher local maximum within 0.33 s removes it, so the
   decision needs 0.33 s of look-ahead and no more. The two differ only for three or more
   maxima of rising heights closer than 0.33 s to each other (not a PPG pulse shape).
3. **Timing**: a 3-point parabola through the filtered samples around the peak gives its
   sub-sample time, interpolated on the per-sample session times.
4. **Pulse amplitude**: the filtered value at the peak minus the minimum of the filtered
   signal from the previous peak (or 0.6 s before, whichever is later) to the peak.

A peak is decided once 0.33 s of signal past it has arrived (:attr:`PpgPeakDetector.latency_s`),
from a fixed window of samples, so ``step`` over blocks of any sizes followed by ``flush``
equals :func:`ppg_beats` on the whole signal, exactly.

Bad input: NaN samples are counted, held at the last finite value for the filter, and no
peak is reported within 1 s after one (the filter's transient) or 0.33 s before one (the
look-ahead); the same around a gap in the session times (a step of more than 2.5 sample
periods). A peak whose amplitude is below ``1e-9`` times the largest absolute input seen so
far is not a pulse (a flat line leaves rounding noise in the filter).
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._filters import InPlaceSos, butter_sos

__all__ = [
    "PPG_BAND_HZ",
    "PPG_FEATURES",
    "PPG_SQI_THRESHOLD",
    "PpgBeats",
    "PpgPeakDetector",
    "ppg_beats",
    "ppg_clean",
    "ppg_peaks",
    "ppg_sqi",
    "ppg_window_features",
]

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

PPG_BAND_HZ = (0.5, 5.0)
"""Pass band of the PPG band-pass, Hz."""
MIN_SAMPLING_RATE_HZ = 12.5
"""Below this the band's upper edge (5 Hz) comes closer than 0.4 fs to the sampling rate."""

_ORDER = 2
_DISTANCE_S = 0.33  # minimum distance between peaks, and the look-ahead
_AMP_BACK_S = 0.6  # the pulse's foot is searched at most this far before the peak
_GUARD_S = 1.0  # no peak this close to a NaN sample or a time gap
_GAP_PERIODS = 2.5  # a session-time step above this many sample periods is a gap
_FLOOR_REL = 1e-9  # amplitude floor relative to the largest |input| (flat lines)


@dataclass(frozen=True, slots=True)
class PpgBeats:
    """Systolic peaks (one per heart beat), in time order.

    Attributes:
        index: sample index of each peak since the start of the stream (int64).
        t: sub-sample refined time of each peak in seconds (float64): interpolated on the
            per-sample session times when they were given, else ``index / sampling_rate_hz``.
            It carries the band-pass's group delay (see the module documentation).
        amplitude: pulse amplitude (filtered peak minus the preceding foot), input unit.
    """

    index: _I64
    t: _F64
    amplitude: _F64

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @staticmethod
    def concat(parts: list[PpgBeats]) -> PpgBeats:
        """Concatenate beats in order (e.g. the outputs of successive ``step`` calls)."""
        return PpgBeats(
            np.concatenate([np.empty(0, np.int64), *(p.index for p in parts)]),
            np.concatenate([np.empty(0), *(p.t for p in parts)]),
            np.concatenate([np.empty(0), *(p.amplitude for p in parts)]),
        )


class PpgPeakDetector:
    """Online PPG/BVP beat detector: feed blocks, get the beats they confirm.

    See the module documentation for the algorithm. A beat is reported once ``latency_s``
    (0.33 s and a sample) of signal past its peak has arrived. The concatenated output of
    :meth:`step` over blocks of any sizes, followed by :meth:`flush`, equals
    :func:`ppg_beats` on the whole signal. Memory is bounded (about 2 s of samples).

    Args:
        sampling_rate_hz: the nominal sampling rate (e.g. 64 Hz for the Empatica E4 BVP), at
            least 12.5 Hz.

    Raises:
        ConfigError: a sampling rate below 12.5 Hz or not finite.
    """

    def __init__(self, *, sampling_rate_hz: float) -> None:
        fs = float(sampling_rate_hz)
        if not (math.isfinite(fs) and fs >= MIN_SAMPLING_RATE_HZ):
            raise ConfigError(
                f"PPG sampling rate must be at least {MIN_SAMPLING_RATE_HZ:g} Hz "
                f"(got {sampling_rate_hz})"
            )
        self.sampling_rate_hz = fs
        self._filter = InPlaceSos(butter_sos("bandpass", PPG_BAND_HZ, sampling_rate_hz=fs))
        self._d = max(1, math.ceil(_DISTANCE_S * fs - 1e-9))
        self._back = max(1, round(_AMP_BACK_S * fs))
        self._guard = round(_GUARD_S * fs)
        self._keep = max(self._back, self._guard) + self._d + 3
        self.reset()

    @property
    def latency_s(self) -> float:
        """Delay between a sample and the decisions it completes, in seconds."""
        return (self._d + 1) / self.sampling_rate_hz

    def reset(self) -> None:
        """Forget everything; the next block starts a new stream at index 0."""
        self._filter.reset()
        self._buf = np.zeros((4, 0))  # rows: filtered, time, bad, largest |x| so far
        self._base = 0  # absolute index of buffer column 0
        self._n = 0  # samples consumed
        self._scan = 1  # next index to test as a local maximum
        self._pending: deque[tuple[int, float]] = deque()  # undecided local maxima
        self._recent: deque[tuple[int, float]] = deque()  # decided ones within the distance
        self._prev_peak: int | None = None
        self._hold: float | None = None
        self._scale = 0.0
        self._last_t = math.nan
        self._last_y: _F64 = np.empty(0)
        self._eof = False
        self.nan_count = 0
        """NaN (non-finite) samples seen since the last reset."""
        self.gap_count = 0
        """Gaps in the session times seen since the last reset."""

    @property
    def last_filtered(self) -> _F64:
        """The band-passed samples of the last block given to :meth:`step`, one per sample (over
        the blocks of a stream, what :func:`ppg_clean` gives on the whole signal); empty before
        the first block. Valid until the next :meth:`step` (do not modify it).
        """  # noqa: D205
        return self._last_y

    @property
    def decided_until(self) -> float:
        """Session time up to which every beat has been decided (``-inf`` before any)."""
        k = self._n - 1 - self._d - self._base
        if self._eof:
            k = self._n - 1 - self._base
        return float(self._buf[1, k]) if 0 <= k < self._buf.shape[1] else -math.inf

    def step(self, x: npt.ArrayLike, t: npt.ArrayLike | None = None) -> PpgBeats:
        """Feed one block of samples; return the beats confirmed by it.

        Args:
            x: PPG/BVP samples, shape ``(n,)``, any unit (the amplitude has the same).
            t: optional per-sample session times in seconds (same shape); beat times are
                interpolated on them. Without them a sample's time is ``index / fs``.

        Raises:
            ConfigError: ``x`` is not one-dimensional, ``t`` has another shape, or the stream
                was flushed (call :meth:`reset` first).
        """
        if self._eof:
            raise ConfigError("PpgPeakDetector.step after flush(): call reset() first")
        xx = np.asarray(x, dtype=np.float64)
        if xx.ndim != 1:
            raise ConfigError(f"PPG block must be one-dimensional (got shape {xx.shape})")
        if t is None:
            tt = np.arange(self._n, self._n + xx.size, dtype=np.float64) / self.sampling_rate_hz
        else:
            tt = np.asarray(t, dtype=np.float64)
            if tt.shape != xx.shape:
                raise ConfigError(f"t has shape {tt.shape}, x has {xx.shape}")
        if xx.size == 0:
            self._last_y = np.empty(0)
            return PpgBeats.concat([])
        self._append(xx, tt)
        self._find_maxima(self._n - 2)
        return self._decide()

    def flush(self) -> PpgBeats:
        """End of stream: decide the peaks still waiting for their look-ahead.

        After this, :meth:`step` raises until :meth:`reset`.
        """
        if self._eof:
            return PpgBeats.concat([])
        self._eof = True
        return self._decide()

    # ------------------------------------------------------------------ sample level

    def _append(self, x: _F64, t: _F64) -> None:
        m = x.size
        bad = ~np.isfinite(x)
        n_bad = int(np.add.reduce(bad))
        if n_bad:
            self.nan_count += n_bad
            x = self._hold_nans(x)
        # gaps in the session times count as bad samples (the filter joins across them)
        dt_nominal = 1.0 / self.sampling_rate_hz
        steps = np.diff(t, prepend=self._last_t if math.isfinite(self._last_t) else t[0])
        gaps = steps > _GAP_PERIODS * dt_nominal
        if gaps.any():
            self.gap_count += int(np.add.reduce(gaps))
            bad = bad | gaps
        self._last_t = float(t[-1])
        finite = np.isfinite(x)  # False only before the first finite sample of the stream
        y = self._filtered(x, finite)
        self._last_y = y
        scale = np.maximum.accumulate(np.abs(np.where(finite, x, 0.0)))
        np.maximum(scale, self._scale, out=scale)
        self._scale = float(scale[-1])
        cols = np.empty((4, m))
        cols[0] = y
        cols[1] = t
        cols[2] = bad | ~finite
        cols[3] = scale
        # keep only what later decisions can read
        cut = max(self._base, min(self._n - self._keep, self._undecided_from()))
        self._buf = np.concatenate((self._buf[:, cut - self._base :], cols), axis=1)
        self._base = cut
        self._n += m

    def _filtered(self, x: _F64, finite: npt.NDArray[np.bool_]) -> _F64:
        """Band-pass ``x`` (NaNs already held); zeros before the stream's first finite sample."""
        y = np.zeros(x.size)
        if finite.any():
            s = int(np.argmax(finite))
            buf = np.empty((1, x.size - s))  # filtered in place: never the caller's array
            buf[0] = x[s:]
            self._filter.run(buf)
            y[s:] = buf[0]
            self._hold = float(x[-1])
        return y

    def _hold_nans(self, x: _F64) -> _F64:
        """``x`` with each non-finite sample replaced by the last finite one (NaN before any)."""
        bad = ~np.isfinite(x)
        if not bad.any():
            return x
        idx = np.where(bad, -1, np.arange(x.size))
        np.maximum.accumulate(idx, out=idx)
        hold = math.nan if self._hold is None else self._hold
        held: _F64 = np.where(idx >= 0, x[np.maximum(idx, 0)], hold)
        return held

    def _undecided_from(self) -> int:
        """Oldest sample a pending decision may read."""
        oldest = self._pending[0][0] if self._pending else self._n
        return oldest - self._keep

    def _find_maxima(self, last: int) -> None:
        """Add the local maxima at indices ``[_scan, last]`` to the pending ones."""
        lo = self._scan
        if last < lo:
            return
        y = self._buf[0]
        a = lo - self._base
        b = last - self._base
        mid = y[a : b + 1]
        is_max = (mid > y[a - 1 : b]) & (mid >= y[a + 1 : b + 2])
        for k in np.flatnonzero(is_max).tolist():
            self._pending.append((lo + k, float(mid[k])))
        self._scan = last + 1

    # ------------------------------------------------------------------ decisions

    def _decide(self) -> PpgBeats:
        d = self._d
        idx: list[int] = []
        times: list[float] = []
        amps: list[float] = []
        while self._pending:
            i, v = self._pending[0]
            if not self._eof and i + d > self._n - 1:
                break
            self._pending.popleft()
            while self._recent and self._recent[0][0] <= i - d:
                self._recent.popleft()
            beaten = any(u >= v for _j, u in self._recent) or any(
                u > v for j, u in _before(self._pending, i + d)
            )
            self._recent.append((i, v))
            if beaten:
                continue
            beat = self._measure(i, v)
            self._prev_peak = i
            if beat is not None:
                idx.append(i)
                times.append(beat[0])
                amps.append(beat[1])
        return PpgBeats(
            np.array(idx, dtype=np.int64), np.array(times, dtype=np.float64), np.array(amps)
        )

    def _measure(self, i: int, v: float) -> tuple[float, float] | None:
        """Time and amplitude of the peak at ``i``, or ``None`` if it is not reportable."""
        buf, base = self._buf, self._base
        k = i - base
        lo = max(i - self._back, 0 if self._prev_peak is None else self._prev_peak) - base
        lo = max(lo, 0)
        amp = v - float(buf[0, lo : k + 1].min())
        g0 = max(k - self._guard, 0)
        g1 = min(k + self._d + 1, buf.shape[1])  # the look-ahead only: split-independent
        if buf[2, g0:g1].any() or not amp > _FLOOR_REL * float(buf[3, k]):
            return None
        ym, yp = float(buf[0, k - 1]), float(buf[0, k + 1])
        tm, t0, tp = float(buf[1, k - 1]), float(buf[1, k]), float(buf[1, k + 1])
        den = ym - 2.0 * v + yp
        delta = 0.5 * (ym - yp) / den if den < 0 else 0.0
        delta = min(0.5, max(-0.5, delta))
        return t0 + delta * ((tp - t0) if delta > 0 else (t0 - tm)), amp


def _before(pending: deque[tuple[int, float]], end: int) -> list[tuple[int, float]]:
    """The pending maxima before index ``end`` (they are in index order)."""
    out: list[tuple[int, float]] = []
    for p in pending:
        if p[0] >= end:
            break
        out.append(p)
    return out


def ppg_clean(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _F64:
    """The band-passed signal peaks are detected on (causal 2nd-order Butterworth 0.5-5 Hz,
    started in steady state on the first sample; NaNs held at the last finite value).

    Args:
        signal: PPG/BVP, shape ``(n,)``, any unit (the output has the same).
        sampling_rate_hz: the sampling rate (at least 12.5 Hz).

    Raises:
        ConfigError: a sampling rate below 12.5 Hz.
    """  # noqa: D205
    det = PpgPeakDetector(sampling_rate_hz=sampling_rate_hz)
    x = det._hold_nans(np.asarray(signal, dtype=np.float64).ravel())
    return det._filtered(x, np.isfinite(x))


def ppg_beats(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> PpgBeats:
    """Beats of a whole recording (index, time from the start, pulse amplitude): the offline
    mirror of :class:`PpgPeakDetector` (one ``step`` on the whole signal, then ``flush``).

    Args:
        signal: PPG/BVP, shape ``(n,)``, any unit.
        sampling_rate_hz: the sampling rate (at least 12.5 Hz).
    """  # noqa: D205
    det = PpgPeakDetector(sampling_rate_hz=sampling_rate_hz)
    return PpgBeats.concat([det.step(signal), det.flush()])


def ppg_peaks(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _I64:
    """Systolic-peak sample indices of a whole recording (see :func:`ppg_beats`).

    Args:
        signal: PPG/BVP, shape ``(n,)``, any unit.
        sampling_rate_hz: the sampling rate (at least 12.5 Hz).
    """
    return ppg_beats(signal, sampling_rate_hz=sampling_rate_hz).index


PPG_FEATURES = (
    "ppg_rate_bpm",
    "ppg_rate_p90_bpm",
    "ppg_rate_sd_bpm",
    "ppg_rmssd_ms",
    "ppg_amplitude_au",
    "ppg_resp_hz",
    "ppg_resp_fraction",
)
"""Names of the window features :func:`ppg_window_features` computes."""

_MIN_BEATS = 20
_ACCEPT = (0.3, 3.0)  # accepted beats: amplitude within these multiples of the window's median
_INTERVAL_S = (0.33, 1.5)  # kept intervals, exclusive bounds
_MIN_INTERVALS = 10  # rate features need more kept intervals than this
_RMSSD_MAX_DIFF_S = 0.2
_MIN_DIFFS = 5
_RESP_FS = 4.0
_RESP_MIN_INTERVALS = 20
_RESP_MIN_POINTS = 64
_RESP_NPERSEG = 128
_RESP_BAND_HZ = (0.1, 0.7)
_RESP_FLOOR_HZ = 0.03


def ppg_window_features(
    t: npt.ArrayLike, amplitude: npt.ArrayLike
) -> tuple[dict[str, float], float]:
    """Window features from the beats of one window (what the feature extractor computes).

    With fewer than 20 beats every feature is NaN. Beats whose amplitude lies within
    [0.3, 3] x the window's median amplitude are *accepted*; the intervals between consecutive
    accepted beats are *kept* when within (0.33, 1.5) s.

    - ``ppg_amplitude_au``: median accepted amplitude (input unit).
    - with more than 10 kept intervals: ``ppg_rate_bpm`` = 60 / median interval;
      ``ppg_rate_p90_bpm`` and ``ppg_rate_sd_bpm`` = 90th percentile and (population)
      standard deviation of 60 / interval; ``ppg_rmssd_ms`` = root mean square of the absolute
      successive differences of the kept intervals below 0.2 s, in ms (needs more than 5).
    - respiration, with more than 20 kept intervals spanning more than 64 points of a 4 Hz
      grid (from the first to the last kept interval's ending beat): the kept intervals and
      the amplitudes of their ending beats are interpolated linearly onto the grid, each
      divided by its standard deviation, and their Welch spectra (``fs=4``,
      ``nperseg=min(n, 128)``, mean removed) are summed; ``ppg_resp_hz`` is the frequency of
      its maximum within 0.1-0.7 Hz and ``ppg_resp_fraction`` the power within 0.1-0.7 Hz over
      the power above 0.03 Hz.

    Args:
        t: beat times in seconds, increasing.
        amplitude: their pulse amplitudes (see :class:`PpgBeats`).

    Returns:
        The features (:data:`PPG_FEATURES`, NaN where undefined) and the fraction of accepted
        beats (NaN with fewer than 20 beats).
    """
    tt = np.asarray(t, dtype=np.float64)
    aa = np.asarray(amplitude, dtype=np.float64)
    out = dict.fromkeys(PPG_FEATURES, math.nan)
    if tt.size < _MIN_BEATS:
        return out, math.nan
    med = _median(np.sort(aa))
    acc = (aa >= _ACCEPT[0] * med) & (aa <= _ACCEPT[1] * med)
    accepted = float(np.count_nonzero(acc)) / tt.size
    ta, amp = tt[acc], aa[acc]
    if amp.size:
        out["ppg_amplitude_au"] = _median(np.sort(amp))
    iv = ta[1:] - ta[:-1]
    keep = (iv > _INTERVAL_S[0]) & (iv < _INTERVAL_S[1])
    kept = iv[keep]
    n = kept.size
    if n > _MIN_INTERVALS:
        srt = np.sort(kept)
        out["ppg_rate_bpm"] = 60.0 / _median(srt)
        # 60 / interval, ascending: the sorted intervals reversed
        rate = 60.0 / srt[::-1]
        pos = 0.9 * (n - 1)
        lo = math.floor(pos)
        r_lo, r_hi = float(rate[lo]), float(rate[min(lo + 1, n - 1)])
        out["ppg_rate_p90_bpm"] = r_lo + (pos - lo) * (r_hi - r_lo)
        dev = rate - float(np.add.reduce(rate)) / n
        out["ppg_rate_sd_bpm"] = math.sqrt(float(np.dot(dev, dev)) / n)
        d = np.abs(kept[1:] - kept[:-1])
        d = d[d < _RMSSD_MAX_DIFF_S]
        if d.size > _MIN_DIFFS:
            out["ppg_rmssd_ms"] = math.sqrt(float(np.dot(d, d)) / d.size) * 1000.0
    if n > _RESP_MIN_INTERVALS:
        ends = ta[1:][keep]  # the beat ending each kept interval
        grid = np.arange(ends[0], ends[-1], 1.0 / _RESP_FS)
        if grid.size > _RESP_MIN_POINTS:
            out["ppg_resp_hz"], out["ppg_resp_fraction"] = _respiration(
                grid, ends, kept, amp[1:][keep]
            )
    return out, accepted


PPG_SQI_THRESHOLD = 0.83
"""Below this :func:`ppg_sqi` the window's pulse is flagged ``bvp_noisy``: the threshold that
maximises sensitivity + specificity (Youden) for telling the E4 windows where the wristband
itself reported at least 30 beats from those where it reported none, pooled over S01-S25 of
Stress-Predict (0.83, and 0.83 with any one subject left out; ``benchmarks/ppg_accuracy.py``)."""

_SQI_MIN_BEATS = 10


def ppg_sqi(filtered: npt.ArrayLike, peaks: npt.ArrayLike) -> float:
    """Template-matching signal quality index of one window: how alike its pulses are.

    The beat-template correlation of Orphanidou et al. (2015, "Signal-quality indices for the
    electrocardiogram and photoplethysmogram: derivation and applications to wireless
    monitoring", IEEE JBHI 19(3):832-838), after Li & Clifford (2012, Physiol. Meas.
    33:1491), as neurokit2's ``ppg_quality(method="templatematch")`` computes it per beat:

    1. ``L`` = the median of the intervals between successive ``peaks``, in samples (rounded
       down); each beat's segment is the ``L`` samples from ``peaks - L // 2`` (centred on the
       peak, as in Orphanidou et al.); beats whose segment is not wholly within ``filtered``
       are left out.
    2. The template is the mean of the segments, each with its own mean removed.
    3. Each segment's Pearson correlation with the template (0 for a constant segment); the
       index is their **median** (0 if negative; Orphanidou et al. average them: the median
       separated better on the wrist, see below).

    NaN with fewer than 10 beats (or segments). The band-passed signal aligned on its own
    maxima always looks a little alike, so a window of noise scores about 0.75 (not 0): the
    scale is not Orphanidou's. On the Empatica E4 (Stress-Predict S01-S25, 60 s windows), it
    separates windows where the E4 itself reported at least 30 beats from those where it
    reported none with a ROC AUC of 0.983 (10th percentile 0.85 against a 90th of 0.81); a
    clean lab PPG scores 0.99 (``python -m benchmarks.ppg_accuracy --all``, figures in
    ``benchmarks/README.md``). :data:`PPG_SQI_THRESHOLD` (0.83) is chosen there.

    Args:
        filtered: the window's band-passed samples (:func:`ppg_clean`, or
            :attr:`PpgPeakDetector.last_filtered` over the window's blocks).
        peaks: the sample indices of the window's beats within ``filtered``, increasing
            (:attr:`PpgBeats.index` minus the window's first sample index).

    Returns:
        The index in [0, 1] (1: every pulse has the window's typical shape), or NaN.
    """
    y = np.asarray(filtered, dtype=np.float64)
    p = np.asarray(peaks, dtype=np.int64)
    if p.size < _SQI_MIN_BEATS:
        return math.nan
    d = p[1:] - p[:-1]
    d.sort()
    length = int(_median(d))
    pre = length // 2
    # the beats whose segment [p - pre, p - pre + length) lies within the window
    lo, hi = np.searchsorted(p, (pre, y.size - length + pre + 1)).tolist()
    if hi - lo < _SQI_MIN_BEATS or length < 2:
        return math.nan
    seg = y[np.add.outer(p[lo:hi] - pre, _arange(length))]
    # Pearson correlations without centring the segments: the centred template annihilates
    # each segment's mean, and sum((s - mean)^2) = sum(s^2) - sum(s)^2 / length
    template = np.add.reduce(seg, axis=0)  # the mean times the count: same correlations
    template -= float(np.add.reduce(template)) / length
    sums = seg @ _ones(length)
    ss = np.einsum("ij,ij->i", seg, seg) - sums * sums / length
    den = np.sqrt(np.maximum(ss, 0.0) * float(template @ template))
    den[den == 0] = math.inf  # a constant segment (or template) correlates 0
    r = (seg @ template) / den
    r.sort()
    sqi = _median(r)
    return min(1.0, max(0.0, sqi)) if math.isfinite(sqi) else math.nan


@functools.lru_cache(maxsize=64)
def _arange(n: int) -> _I64:
    return np.arange(n, dtype=np.int64)


@functools.lru_cache(maxsize=64)
def _ones(n: int) -> _F64:
    return np.ones(n)


def _median(srt: _F64 | _I64) -> float:
    """The median of a sorted, non-empty array."""
    h = srt.size // 2
    return float(srt[h]) if srt.size % 2 else (float(srt[h - 1]) + float(srt[h])) / 2.0


def _respiration(grid: _F64, ends: _F64, intervals: _F64, amplitudes: _F64) -> tuple[float, float]:
    """Breathing frequency and the share of the spectrum in the breathing band (see
    :func:`ppg_window_features`), NaN when a series is constant.
    """  # noqa: D205
    n = grid.size
    y = np.empty((2, n))
    y[0] = np.interp(grid, ends, intervals)
    y[1] = np.interp(grid, ends, amplitudes)
    y -= np.add.reduce(y, axis=1, keepdims=True) / n
    sd = np.sqrt(np.einsum("ij,ij->i", y, y) / n)
    if not (sd[0] > 0 and sd[1] > 0):
        return math.nan, math.nan
    y /= sd[:, None]
    plan = _welch_plan(n, min(n, _RESP_NPERSEG), _RESP_FS)
    total = plan.density(y).sum(axis=0)
    band = plan.band
    above = float(total[plan.above].sum())
    if not above > 0:
        return math.nan, math.nan
    k = int(np.argmax(np.where(band, total, -np.inf)))
    return float(plan.freqs[k]), float(total[band].sum()) / above


class _WelchPlan:
    """What a Welch estimate on ``n`` samples reuses: segment indices, window, scaling."""

    def __init__(self, n: int, nperseg: int, fs: float) -> None:
        step = nperseg - nperseg // 2
        n_seg = (n - nperseg) // step + 1
        self.idx = np.arange(n_seg)[:, None] * step + np.arange(nperseg)[None, :]
        self.win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nperseg) / nperseg)  # periodic
        scale = np.full(nperseg // 2 + 1, 2.0 / (fs * float(self.win @ self.win) * n_seg))
        scale[0] /= 2.0
        if nperseg % 2 == 0:
            scale[-1] /= 2.0
        self.scale = scale
        self.freqs: _F64 = np.fft.rfftfreq(nperseg, 1.0 / fs).astype(np.float64)
        self.band = (self.freqs >= _RESP_BAND_HZ[0]) & (self.freqs <= _RESP_BAND_HZ[1])
        self.above = self.freqs > _RESP_FLOOR_HZ

    def density(self, y: _F64) -> _F64:
        """One-sided power spectral density of each row of ``y``, averaged over segments."""
        seg = y[:, self.idx]
        seg -= np.add.reduce(seg, axis=2, keepdims=True) / seg.shape[2]
        seg *= self.win
        spec = np.fft.rfft(seg, axis=2)
        p: _F64 = np.add.reduce(spec.real**2 + spec.imag**2, axis=1) * self.scale
        return p


@functools.lru_cache(maxsize=64)
def _welch_plan(n: int, nperseg: int, fs: float) -> _WelchPlan:
    return _WelchPlan(n, nperseg, fs)


def _welch_psd(y: _F64, *, fs: float, nperseg: int) -> tuple[_F64, _F64]:
    """Welch power spectral density of each row of ``y`` (shape ``(rows, n)``, ``n >=
    nperseg``): what ``scipy.signal.welch(y, fs=fs, nperseg=nperseg)`` computes (periodic Hann
    window, half overlap, each segment's mean removed, one-sided density, mean over segments,
    trailing samples that do not fill a segment ignored), without its per-call overhead.

    Returns:
        The frequencies (Hz) and the densities, shape ``(rows, nperseg // 2 + 1)``.
    """  # noqa: D205
    plan = _welch_plan(y.shape[1], nperseg, fs)
    return plan.freqs, plan.density(np.asarray(y, dtype=np.float64))
