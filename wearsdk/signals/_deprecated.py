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

A call in neurokit2's form (``ecg_peaks(x, sampling_rate=130)``, the rate given positionally
or not at all, ``method=``...) is refused with a :class:`TypeError` naming the new function
and what it returns, never answered with a result neurokit2's code would misread; so is
``hrv_time(peaks)`` (sample indices, or RR in milliseconds, where seconds are expected).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar, Unpack

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._ecg_offline import ecg_peak_indices
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

_INSTEAD: dict[str, str] = {
    "ecg_peaks": "(signal, sampling_rate_hz=...), which returns sample indices",
    "ppg_peaks": "(signal, sampling_rate_hz=...), which returns sample indices",
    "eda_phasic": "(raw_eda, sampling_rate_hz=...), which returns (tonic, phasic)",
    "eda_peaks": "(raw_eda, sampling_rate_hz=...), which returns an ScrTable",
    "eda_process": "(raw_eda, sampling_rate_hz=...), which returns an EdaOutput",
    "hrv_time": "(rr_s) with RR intervals in seconds, which returns a dict (rmssd_s... in seconds)",
}
"""The arguments of the new function (:data:`RENAMED`) and what it returns (what neurokit2's
code would misread)."""

_EDA_OPTIONS = frozenset(EdaOptions.__annotations__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _warn(old: str) -> None:
    warnings.warn(
        f"wearsdk.signals.{old} is deprecated and will be removed in the next release: it is "
        f"neurokit2's name with another signature; use wearsdk.signals.{RENAMED[old]}",
        DeprecationWarning,
        stacklevel=3,
    )


def _refused(old: str, why: str) -> TypeError:
    return TypeError(
        f"wearsdk.signals.{old} is not neurokit2's {old} and does not take this call ({why}); "
        f"it is deprecated: use wearsdk.signals.{RENAMED[old]}{_INSTEAD[old]}, "
        f"or neurokit2.{old} for neurokit2's result"
    )


def _former_name(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Refuse a call the former function never took (neurokit2's form) with a TypeError that
    names the new function, before warning and calling it."""  # noqa: D205, D209
    old = fn.__name__
    signature = inspect.signature(fn)
    options = next((p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD), None)

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            why = "sampling_rate= is neurokit2's keyword" if "sampling_rate" in kwargs else exc
            raise _refused(old, str(why)) from None
        if options is not None:
            unknown = sorted(set(bound.arguments.get(options, {})) - _EDA_OPTIONS)
            if unknown:
                raise _refused(old, f"unexpected keyword argument {unknown[0]!r}")
        return fn(*args, **kwargs)

    return call


@_former_name
def ecg_peaks(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> npt.NDArray[np.int64]:
    """Deprecated: :func:`~wearsdk.signals.ecg_peak_indices`."""
    _warn("ecg_peaks")
    return ecg_peak_indices(signal, sampling_rate_hz=sampling_rate_hz)


@_former_name
def ppg_peaks(signal: npt.ArrayLike, *, sampling_rate_hz: float) -> npt.NDArray[np.int64]:
    """Deprecated: :func:`~wearsdk.signals.ppg_peak_indices`."""
    _warn("ppg_peaks")
    return ppg_peak_indices(signal, sampling_rate_hz=sampling_rate_hz)


@_former_name
def eda_phasic(
    x: npt.ArrayLike, *, sampling_rate_hz: float, **options: Unpack[EdaOptions]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Deprecated: :func:`~wearsdk.signals.eda_decompose`."""
    _warn("eda_phasic")
    return eda_decompose(x, sampling_rate_hz=sampling_rate_hz, **options)


@_former_name
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


@_former_name
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


_MAX_RR_S = 10.0
"""Above this an "RR interval" is a sample index or milliseconds (neurokit2's
``hrv_time(peaks)``), not seconds."""


@_former_name
def hrv_time(rr_s: npt.ArrayLike) -> dict[str, float]:
    """Deprecated: :func:`~wearsdk.signals.rr_time_domain`.

    Raises:
        TypeError: not a sequence of numbers (neurokit2's signals table or info dict).
        ConfigError: values above 10 s: peak sample indices (neurokit2's ``hrv_time(peaks)``)
            or milliseconds, which would give numbers in the wrong unit.
    """
    try:
        rr = np.asarray(rr_s, dtype=np.float64)
    except (TypeError, ValueError):
        raise _refused("hrv_time", "it takes RR intervals, not a table or a dict") from None
    if rr.ndim != 1:
        raise _refused("hrv_time", f"it takes a 1-D series of RR intervals, not {rr.ndim}-D")
    if np.any(rr > _MAX_RR_S):
        raise ConfigError(
            f"wearsdk.signals.hrv_time takes RR intervals in seconds; these reach "
            f"{float(np.nanmax(rr)):g}: peak sample indices (neurokit2's hrv_time(peaks)) or "
            "milliseconds? It is deprecated: use wearsdk.signals.rr_time_domain("
            "np.diff(peaks) / sampling_rate) or rr_time_domain(rr_ms / 1000)"
        )
    _warn("hrv_time")
    return rr_time_domain(rr)
