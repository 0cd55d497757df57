"""Causal IIR filters with carried state: the same maths online (block by block) and offline."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import signal

from wearsdk._errors import ConfigError

__all__ = ["SosFilter", "butter_sos", "filter_causal"]

FilterKind = Literal["lowpass", "highpass", "bandpass", "bandstop"]


def butter_sos(
    kind: FilterKind,
    cutoff_hz: float | tuple[float, float],
    *,
    sampling_rate_hz: float,
    order: int = 2,
) -> npt.NDArray[np.float64]:
    """Design a Butterworth filter as second-order sections.

    Args:
        kind: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
        cutoff_hz: the cutoff (a pair for band filters), below the Nyquist frequency.
        sampling_rate_hz: the sampling rate.
        order: the filter order.

    Raises:
        ConfigError: a cutoff at or above Nyquist, or not positive.
    """
    nyq = sampling_rate_hz / 2.0
    cut = np.atleast_1d(np.asarray(cutoff_hz, dtype=np.float64))
    if not (sampling_rate_hz > 0 and np.all(cut > 0) and np.all(cut < nyq)):
        raise ConfigError(
            f"{kind} cutoff {cutoff_hz} Hz must lie in (0, {nyq}) Hz at {sampling_rate_hz} Hz"
        )
    sos: npt.NDArray[np.float64] = signal.butter(
        order, cut if cut.size > 1 else float(cut[0]), btype=kind, fs=sampling_rate_hz, output="sos"
    )
    return sos


def filter_causal(
    x: npt.ArrayLike, sos: npt.NDArray[np.float64], *, initial: Literal["zero", "step"] = "step"
) -> npt.NDArray[np.float64]:
    """Filter ``x`` (shape ``(n,)`` or ``(n, channels)``) causally; the offline mirror of
    :class:`SosFilter`.

    Args:
        x: the signal.
        sos: second-order sections.
        initial: ``step`` starts in steady state on the first sample (no start-up transient),
            ``zero`` from rest.
    """  # noqa: D205
    f = SosFilter(sos, initial=initial)
    return f.step(np.asarray(x, dtype=np.float64))


class SosFilter:
    """A causal filter (second-order sections) whose state carries across blocks.

    ``step`` on consecutive blocks gives exactly the output of one call on their
    concatenation. Multi-channel input (``(n, channels)``) filters each column.

    Args:
        sos: second-order sections (see :func:`butter_sos`).
        initial: ``step`` (default) initialises the state as if the first sample had lasted
            forever, avoiding a start-up transient; ``zero`` starts from rest.
    """

    def __init__(
        self, sos: npt.NDArray[np.float64], *, initial: Literal["zero", "step"] = "step"
    ) -> None:
        self.sos = np.asarray(sos, dtype=np.float64)
        self.initial = initial
        self._zi_unit = signal.sosfilt_zi(self.sos)  # (sections, 2) for a unit step
        self._zi: npt.NDArray[np.float64] | None = None

    def reset(self) -> None:
        """Forget the state; the next block starts afresh."""
        self._zi = None

    def step(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Filter one block; returns an array of the same shape."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return x.copy()
        one_d = x.ndim == 1
        xx = x[:, None] if one_d else x
        if self._zi is None:
            first = xx[0] if self.initial == "step" else np.zeros(xx.shape[1])
            # state shape (sections, 2, channels)
            self._zi = self._zi_unit[:, :, None] * first[None, None, :]
        y, self._zi = signal.sosfilt(self.sos, xx, axis=0, zi=self._zi)
        out: npt.NDArray[np.float64] = y[:, 0] if one_d else y
        return out
