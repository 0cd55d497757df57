"""Window features of PPG/BVP beats and the signal quality index of a window of pulse wave.

What :class:`~wearsdk.signals.FeatureExtractor` computes from the beats of
:class:`~wearsdk.signals.PpgPeakDetector` (see :mod:`wearsdk.signals._ppg`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

__all__ = ["PPG_FEATURES", "PPG_SQI_THRESHOLD", "ppg_sqi", "ppg_window_features"]

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

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
