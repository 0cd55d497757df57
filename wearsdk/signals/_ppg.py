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

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._filters import InPlaceSos, butter_sos, rate_argument
from wearsdk.signals._ppg_window import (
    PPG_FEATURES,
    PPG_SQI_THRESHOLD,
    ppg_sqi,
    ppg_window_features,
)

__all__ = [
    "PPG_BAND_HZ",
    "PPG_FEATURES",
    "PPG_SQI_THRESHOLD",
    "PpgBeats",
    "PpgPeakDetector",
    "ppg_beats",
    "ppg_clean",
    "ppg_peak_indices",
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


def ppg_clean(
    signal: npt.ArrayLike,
    sampling_rate: float | None = None,
    *,
    sampling_rate_hz: float | None = None,
) -> _F64:
    """The band-passed signal peaks are detected on (causal 2nd-order Butterworth 0.5-5 Hz,
    started in steady state on the first sample; NaNs held at the last finite value). Called
    as neurokit2's ``ppg_clean(signal, sampling_rate=...)``, it returns the same shape (the
    cleaned signal), from its own filter; the rate has no default.

    Args:
        signal: PPG/BVP, shape ``(n,)``, any unit (the output has the same).
        sampling_rate: the sampling rate (at least 12.5 Hz).
        sampling_rate_hz: the same, under the processors' name.

    Raises:
        ConfigError: a sampling rate below 12.5 Hz.
    """  # noqa: D205
    det = PpgPeakDetector(sampling_rate_hz=rate_argument(sampling_rate, sampling_rate_hz))
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


def ppg_peak_indices(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _I64:
    """Systolic-peak sample indices of a whole recording (see :func:`ppg_beats`).

    Args:
        signal: PPG/BVP, shape ``(n,)``, any unit.
        sampling_rate_hz: the sampling rate (at least 12.5 Hz).
    """
    return ppg_beats(signal, sampling_rate_hz=sampling_rate_hz).index
