"""ECG cleaning for display and export: :class:`EcgCleaner` and its offline mirror."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._ecg_base import _BAND_TOP_FRACTION, _F64, _check_rate
from wearsdk.signals._filters import (
    FilterDescription,
    InPlaceSos,
    butter_sos,
    butterworth_fields,
    group_delay_s,
    number_text,
    rate_argument,
)

__all__ = ["ECG_CLEAN_BAND_HZ", "EcgCleaner", "ecg_clean"]

ECG_CLEAN_BAND_HZ = (0.5, 40.0)
"""Pass band of :class:`EcgCleaner` (the upper edge is capped at 0.4 times the sampling rate)."""
_CLEAN_ORDER = 2
_CLEAN_DELAY_AT_HZ = 10.0  # the QRS complex's energy lies around 5-15 Hz


class EcgCleaner:
    """Causal ECG cleaning for display and export: a 2nd-order Butterworth band-pass.

    The band, 0.5-40 Hz (:data:`ECG_CLEAN_BAND_HZ`, upper edge capped at 0.4 fs), removes the
    baseline wander and mains/muscle noise above the QRS band (the usual monitoring band). The
    filter is causal, so each output sample depends on its input sample and the ones before:
    it is aligned with the raw sample it comes from (same timestamp), and carries the filter's
    frequency-dependent group delay (:meth:`group_delay_s`; about 5 ms at 10 Hz for 130 Hz
    sampling). The R peaks of :class:`EcgPeakDetector` are timed on the *raw* signal and do not
    carry this delay. The filter starts in steady state on the first finite sample; NaN samples
    are held at the last finite value for the filter and stay NaN in the output. ``step`` over
    any split of a signal equals :func:`ecg_clean` on the whole of it, bit for bit.

    Args:
        sampling_rate_hz: the sampling rate, at least 100 Hz.

    Raises:
        EcgRateError: a sampling rate below :data:`ECG_MIN_SAMPLING_RATE_HZ` (100 Hz) or not
            finite (a :class:`~wearsdk.ConfigError`).
    """

    def __init__(self, *, sampling_rate_hz: float) -> None:
        fs = _check_rate("ECG", sampling_rate_hz)
        self.sampling_rate_hz = fs
        self.band_hz = (ECG_CLEAN_BAND_HZ[0], min(ECG_CLEAN_BAND_HZ[1], _BAND_TOP_FRACTION * fs))
        """The pass band actually used, Hz."""
        self.order = _CLEAN_ORDER
        """The Butterworth order (per band edge)."""
        self._filter = InPlaceSos(
            butter_sos("bandpass", self.band_hz, sampling_rate_hz=fs, order=_CLEAN_ORDER)
        )
        self.reset()

    def group_delay_s(self, at_hz: float = _CLEAN_DELAY_AT_HZ) -> float:
        """The filter's group delay at ``at_hz`` (default 10 Hz, the QRS band), seconds."""
        return group_delay_s(self._filter.sos, at_hz, sampling_rate_hz=self.sampling_rate_hz)

    def describe(self) -> FilterDescription:
        """Its filters as XDF ``desc/filtering`` sections: ``highpass`` and ``lowpass`` (the
        band actually used at this rate), ``delay`` (group delay at 10 Hz; output samples keep
        the raw samples' times).
        """  # noqa: D205
        lo, hi = self.band_hz
        return {
            "highpass": butterworth_fields(lo, self.order),
            "lowpass": butterworth_fields(hi, self.order),
            "delay": {"group_delay_s": number_text(self.group_delay_s()),
                      "at_hz": number_text(_CLEAN_DELAY_AT_HZ),
                      "timestamps": "raw sample times (not shifted)"},
        }  # fmt: skip

    def reset(self) -> None:
        """Forget the state; the next block starts a new stream."""
        self._filter.reset()
        self._hold = math.nan  # last finite sample

    def step(self, x: npt.ArrayLike) -> _F64:
        """Filter one block of ECG samples (shape ``(n,)``, any unit); same shape and unit.

        Raises:
            ConfigError: ``x`` is not one-dimensional.
        """
        xx = np.asarray(x, dtype=np.float64)
        if xx.ndim != 1:
            raise ConfigError(f"ECG block must be one-dimensional (got shape {xx.shape})")
        n = xx.size
        if n == 0:
            return np.empty(0)
        buf = np.empty((1, n))
        bad = ~np.isfinite(xx)
        if not bad.any():
            buf[0] = xx
            self._hold = float(xx[-1])
            self._filter.run(buf)
            y: _F64 = buf[0]
            return y
        # hold the last finite value for the filter; NaN out where the input was not finite
        idx = np.maximum.accumulate(np.where(bad, -1, np.arange(n)))
        held = np.where(idx >= 0, xx[np.maximum(idx, 0)], self._hold)
        started = np.flatnonzero(np.isfinite(held))
        out = np.full(n, np.nan)
        if started.size:
            s = int(started[0])
            buf = held[None, s:].copy()
            self._filter.run(buf)
            out[s:] = buf[0]
            out[bad] = np.nan
            self._hold = float(held[-1])
        return out


def ecg_clean(
    signal: npt.ArrayLike,
    sampling_rate: float | None = None,
    *,
    sampling_rate_hz: float | None = None,
) -> _F64:
    """Clean a whole ECG recording: the offline mirror of :class:`EcgCleaner` (causal 0.5-40 Hz
    Butterworth band-pass; see there for its delay and NaN handling). Called as neurokit2's
    ``ecg_clean(signal, sampling_rate=...)``, it returns the same shape (the cleaned signal),
    from its own filter; the rate has no default.

    Args:
        signal: single-lead ECG, shape ``(n,)``, any unit (the output has the same).
        sampling_rate: the sampling rate (at least 100 Hz).
        sampling_rate_hz: the same, under the processors' name.
    """  # noqa: D205
    fs = rate_argument(sampling_rate, sampling_rate_hz)
    return EcgCleaner(sampling_rate_hz=fs).step(signal)
