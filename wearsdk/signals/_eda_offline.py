"""Offline EDA processing: whole recordings through one :class:`~wearsdk.signals.EdaProcessor`
step (the same maths as online), and per-window EDA features.
"""  # noqa: D205

from __future__ import annotations

import math
from typing import Unpack

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._eda import EdaOptions, EdaOutput, EdaProcessor
from wearsdk.signals._eda_scr import ScrTable
from wearsdk.signals._filters import rate_argument

__all__ = ["eda_clean", "eda_decompose", "eda_features", "eda_offline", "eda_scrs"]

FloatArray = npt.NDArray[np.float64]


def eda_offline(
    x: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    t: npt.ArrayLike | None = None,
    **options: Unpack[EdaOptions],
) -> EdaOutput:
    """Process a whole EDA recording offline (one :class:`EdaProcessor` step).

    Args:
        x: raw skin conductance, µS.
        sampling_rate_hz: the sampling rate.
        t: sample times; by default sample index / rate.
        **options: settings of :class:`EdaProcessor`.

    Returns:
        Cleaned, tonic and phasic signals, every SCR of the recording and the flags. SCRs
        whose peak is within ``peak_confirm_s`` of the end and that are still rising are not
        confirmed, as online.
    """
    return EdaProcessor(sampling_rate_hz=sampling_rate_hz, **options).step(x, t)


def eda_clean(
    x: npt.ArrayLike,
    sampling_rate: float | None = None,
    *,
    sampling_rate_hz: float | None = None,
    **options: Unpack[EdaOptions],
) -> FloatArray:
    """Clean raw EDA: bridge bad samples and low-pass filter causally (see the module doc).

    Called as neurokit2's ``eda_clean(signal, sampling_rate=...)``, it returns the same shape
    (the cleaned signal), from its own filter; the rate has no default.

    Args:
        x: raw skin conductance, µS.
        sampling_rate: the sampling rate.
        sampling_rate_hz: the same, under the processors' name.
        **options: settings of :class:`EdaProcessor`.

    Returns:
        The cleaned signal (µS), NaN before the first valid sample.
    """
    fs = rate_argument(sampling_rate, sampling_rate_hz)
    return eda_offline(x, sampling_rate_hz=fs, **options).clean


def eda_decompose(
    x: npt.ArrayLike, *, sampling_rate_hz: float, **options: Unpack[EdaOptions]
) -> tuple[FloatArray, FloatArray]:
    """Split raw EDA into tonic and phasic parts (cleaning first; see the module doc).

    Unlike NeuroKit2's ``eda_phasic``, the input is the *raw* signal: it is cleaned exactly as
    :class:`EdaProcessor` does.

    Args:
        x: raw skin conductance, µS.
        sampling_rate_hz: the sampling rate.
        **options: settings of :class:`EdaProcessor`.

    Returns:
        ``(tonic, phasic)`` in µS, aligned with ``x``.
    """
    out = eda_offline(x, sampling_rate_hz=sampling_rate_hz, **options)
    return out.tonic, out.phasic


def eda_scrs(
    x: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    t: npt.ArrayLike | None = None,
    **options: Unpack[EdaOptions],
) -> ScrTable:
    """Detect skin conductance responses in raw EDA (cleaning and decomposition first).

    Args:
        x: raw skin conductance, µS.
        sampling_rate_hz: the sampling rate.
        t: sample times; by default sample index / rate.
        **options: settings of :class:`EdaProcessor`.

    Returns:
        The SCR table (onset, peak, amplitude, rise time).
    """
    return eda_offline(x, sampling_rate_hz=sampling_rate_hz, t=t, **options).scrs


def eda_features(
    eda: npt.ArrayLike,
    tonic: npt.ArrayLike,
    phasic: npt.ArrayLike,
    scrs: ScrTable,
    *,
    sampling_rate_hz: float,
    window_s: float,
    t_start_s: float = 0.0,
) -> dict[str, float]:
    """Features of the last ``window_s`` seconds of an EDA recording or buffer.

    The arrays are aligned (as :class:`EdaOutput` gives them) and their first sample is at
    ``t_start_s`` on the clock of ``scrs``; the window is their last ``window_s`` seconds
    (all of them if shorter) and holds the SCRs whose peak lies in it. Non-finite samples are
    left out. Online, an SCR is confirmed up to ``peak_confirm_s`` after its peak, so a window
    cut as soon as it ends may lack a response peaking in its last seconds.

    Args:
        eda: cleaned (or raw) conductance, µS.
        tonic: tonic level, µS.
        phasic: phasic part, µS.
        scrs: the responses (any superset of those in the window).
        sampling_rate_hz: the sampling rate.
        window_s: the window length, seconds.
        t_start_s: time of the arrays' first sample.

    Returns:
        ``eda_mean_usiemens``; ``scl_mean_usiemens``, ``scl_sd_usiemens`` and
        ``scl_slope_usiemens_per_s`` (least squares) of the tonic level; ``phasic_mean_usiemens``,
        ``phasic_sd_usiemens`` and ``phasic_auc_usiemens_s`` (integral of the positive phasic
        part); ``scr_count``, ``scr_rate_per_min``, ``scr_amplitude_mean_usiemens``,
        ``scr_amplitude_max_usiemens``, ``scr_amplitude_sum_usiemens`` and
        ``scr_rise_time_mean_s``; ``valid_fraction`` (finite tonic samples over the samples the
        window should hold). Undefined values are NaN (SCR amplitude means without responses
        are NaN; counts are 0).

    Raises:
        ConfigError: arrays of different lengths or a non-positive rate or window.
    """
    fs = float(sampling_rate_hz)
    if not (fs > 0 and window_s > 0 and math.isfinite(fs + window_s)):
        raise ConfigError(f"eda_features: rate and window must be > 0 ({fs}, {window_s})")
    e = np.asarray(eda, dtype=np.float64).reshape(-1)
    to = np.asarray(tonic, dtype=np.float64).reshape(-1)
    ph = np.asarray(phasic, dtype=np.float64).reshape(-1)
    if not (e.size == to.size == ph.size):
        raise ConfigError(f"eda_features: lengths differ ({e.size}, {to.size}, {ph.size})")
    expected = max(1, round(window_s * fs))
    first = max(0, e.size - expected)
    e, to, ph = e[first:], to[first:], ph[first:]
    t = t_start_s + (first + np.arange(e.size)) / fs
    t_end = t_start_s + (first + e.size - 1) / fs
    nan = math.nan

    ok = np.isfinite(to) & np.isfinite(ph)
    n_ok = int(ok.sum())
    e_ok = e[np.isfinite(e)]
    if n_ok >= 2:
        tt, tv = t[ok] - t[ok].mean(), to[ok]
        denom = float(np.dot(tt, tt))
        slope = float(np.dot(tt, tv - tv.mean()) / denom) if denom > 0 else nan
    else:
        slope = nan
    in_win = (scrs.peak_s > t_end - window_s) & (scrs.peak_s <= t_end)
    amp = scrs.amplitude_usiemens[in_win]
    rise = scrs.rise_time_s[in_win]
    count = int(amp.size)
    return {
        "eda_mean_usiemens": float(e_ok.mean()) if e_ok.size else nan,
        "scl_mean_usiemens": float(to[ok].mean()) if n_ok else nan,
        "scl_sd_usiemens": float(to[ok].std(ddof=1)) if n_ok > 1 else nan,
        "scl_slope_usiemens_per_s": slope,
        "phasic_mean_usiemens": float(ph[ok].mean()) if n_ok else nan,
        "phasic_sd_usiemens": float(ph[ok].std(ddof=1)) if n_ok > 1 else nan,
        "phasic_auc_usiemens_s": float(np.clip(ph[ok], 0.0, None).sum() / fs) if n_ok else nan,
        "scr_count": float(count),
        "scr_rate_per_min": count * 60.0 / window_s,
        "scr_amplitude_mean_usiemens": float(amp.mean()) if count else nan,
        "scr_amplitude_max_usiemens": float(amp.max()) if count else nan,
        "scr_amplitude_sum_usiemens": float(amp.sum()),
        "scr_rise_time_mean_s": float(rise.mean()) if count else nan,
        "valid_fraction": min(1.0, n_ok / expected),
    }
