"""The offline mirror of the streaming R-peak detector: a whole recording in one call."""

from __future__ import annotations

import numpy.typing as npt

from wearsdk.signals._ecg import EcgPeakDetector, EcgPeaks
from wearsdk.signals._ecg_base import _F64, _I64

__all__ = ["ecg_peak_indices", "ecg_peak_times"]


def ecg_peak_indices(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _I64:
    """R-peak sample indices of a whole recording: the offline mirror of
    :class:`EcgPeakDetector` (one ``step`` on the whole signal, then ``flush``).

    Args:
        signal: single-lead ECG, shape ``(n,)``; NaNs are skipped.
        sampling_rate_hz: the sampling rate (at least 100 Hz).
    """  # noqa: D205
    return _whole(signal, sampling_rate_hz).index


def ecg_peak_times(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> _F64:
    """Sub-sample R-peak times in seconds from the start (``index / fs`` + parabolic offset).

    The R peak is refined by a 3-point parabola through the *raw* samples around the
    extremum; see the module documentation for why the raw rather than a filtered signal.

    Args:
        signal: single-lead ECG, shape ``(n,)``; NaNs are skipped.
        sampling_rate_hz: the sampling rate (at least 100 Hz).
    """
    return _whole(signal, sampling_rate_hz).t


def _whole(signal: npt.ArrayLike, sampling_rate_hz: float) -> EcgPeaks:
    """One ``step`` of a fresh detector on the whole signal, then ``flush``."""
    det = EcgPeakDetector(sampling_rate_hz=sampling_rate_hz)
    return EcgPeaks.concat([det.step(signal), det.flush()])
