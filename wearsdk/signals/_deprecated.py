"""Former names of offline functions, kept for one release (each warns and calls the new one).

They were neurokit2's names with other signatures and return types (neurokit2's
``ecg_peaks(x, sampling_rate=...)`` returns a signals table and an info dict; ours returned
sample indices), so code written for one silently misread the other. The new names do not
invite the comparison; the functions whose name and result do match neurokit2's
(``ecg_clean``, ``eda_clean``, ``ppg_clean``) kept their names and accept its
``sampling_rate`` keyword.

=================  ==========================================================
former name        use instead
=================  ==========================================================
``ecg_peaks``      :func:`~wearsdk.signals.ecg_peak_indices`
``ppg_peaks``      :func:`~wearsdk.signals.ppg_peak_indices`
``eda_phasic``     :func:`~wearsdk.signals.eda_decompose`
``eda_peaks``      :func:`~wearsdk.signals.eda_scrs`
``eda_process``    :func:`~wearsdk.signals.eda_offline`
``hrv_time``       :func:`~wearsdk.signals.rr_time_domain`
=================  ==========================================================
"""

from __future__ import annotations

import warnings
from typing import Unpack

import numpy as np
import numpy.typing as npt

from wearsdk.signals._ecg import ecg_peak_indices
from wearsdk.signals._eda import EdaOptions, EdaOutput
from wearsdk.signals._eda_offline import eda_decompose, eda_offline, eda_scrs
from wearsdk.signals._eda_scr import ScrTable
from wearsdk.signals._ppg import ppg_peak_indices
from wearsdk.signals._rr import rr_time_domain

__all__ = [
    "RENAMED",
    "ecg_peaks",
    "eda_peaks",
    "eda_phasic",
    "eda_process",
    "hrv_time",
    "ppg_peaks",
]

RENAMED: dict[str, str] = {
    "ecg_peaks": "ecg_peak_indices",
    "ppg_peaks": "ppg_peak_indices",
    "eda_phasic": "eda_decompose",
    "eda_peaks": "eda_scrs",
    "eda_process": "eda_offline",
    "hrv_time": "rr_time_domain",
}
"""Former name -> new name in :mod:`wearsdk.signals`."""


def _warn(old: str) -> None:
    warnings.warn(
        f"wearsdk.signals.{old} is deprecated and will be removed in the next release: it is "
        f"neurokit2's name with another signature; use wearsdk.signals.{RENAMED[old]}",
        DeprecationWarning,
        stacklevel=3,
    )


def ecg_peaks(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> npt.NDArray[np.int64]:
    """Deprecated: :func:`~wearsdk.signals.ecg_peak_indices`."""
    _warn("ecg_peaks")
    return ecg_peak_indices(signal, sampling_rate_hz=sampling_rate_hz)


def ppg_peaks(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> npt.NDArray[np.int64]:
    """Deprecated: :func:`~wearsdk.signals.ppg_peak_indices`."""
    _warn("ppg_peaks")
    return ppg_peak_indices(signal, sampling_rate_hz=sampling_rate_hz)


def eda_phasic(
    x: npt.ArrayLike, *, sampling_rate_hz: float, **options: Unpack[EdaOptions]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Deprecated: :func:`~wearsdk.signals.eda_decompose`."""
    _warn("eda_phasic")
    return eda_decompose(x, sampling_rate_hz=sampling_rate_hz, **options)


def eda_peaks(
    x: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    t: npt.ArrayLike | None = None,
    **options: Unpack[EdaOptions],
) -> ScrTable:
    """Deprecated: :func:`~wearsdk.signals.eda_scrs`."""
    _warn("eda_peaks")
    return eda_scrs(x, sampling_rate_hz=sampling_rate_hz, t=t, **options)


def eda_process(
    x: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    t: npt.ArrayLike | None = None,
    **options: Unpack[EdaOptions],
) -> EdaOutput:
    """Deprecated: :func:`~wearsdk.signals.eda_offline`."""
    _warn("eda_process")
    return eda_offline(x, sampling_rate_hz=sampling_rate_hz, t=t, **options)


def hrv_time(rr_s: npt.ArrayLike) -> dict[str, float]:
    """Deprecated: :func:`~wearsdk.signals.rr_time_domain`."""
    _warn("hrv_time")
    return rr_time_domain(rr_s)
