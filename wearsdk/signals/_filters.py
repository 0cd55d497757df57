"""Causal IIR filters with carried state: the same maths online (block by block) and offline."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._iir import butter_zpk_sos, sosfilt_kernel, sosfilt_zi

# the compiled kernel behind scipy.signal.sosfilt, without its ~25 us of per-call checks and
# without importing scipy.signal (~0.8 s; see _iir); None: the public function, same result
_sosfilt_kernel = sosfilt_kernel

__all__ = [
    "FilterDescription",
    "SosFilter",
    "butter_sos",
    "butterworth_fields",
    "filter_causal",
    "group_delay_s",
]

FilterKind = Literal["lowpass", "highpass", "bandpass", "bandstop"]

FilterDescription = dict[str, dict[str, str]]
"""How a processor filtered a signal, as XDF ``desc/filtering`` sections (``highpass``,
``lowpass``, ``delay``...: section name to field name to text)."""


def rate_argument(sampling_rate: float | None, sampling_rate_hz: float | None) -> float:
    """The sampling rate given to an offline function under neurokit2's keyword
    (``sampling_rate``, also positional) or the processors' (``sampling_rate_hz``).

    Raises:
        ConfigError: neither given, or both with different values.
    """  # noqa: D205
    if sampling_rate is None:
        if sampling_rate_hz is None:
            raise ConfigError("the sampling rate is required (sampling_rate=...)")
        return float(sampling_rate_hz)
    if sampling_rate_hz is not None and float(sampling_rate) != float(sampling_rate_hz):
        raise ConfigError(
            f"sampling_rate={sampling_rate} and sampling_rate_hz={sampling_rate_hz} disagree"
        )
    return float(sampling_rate)


def number_text(x: float) -> str:
    """A number as written in a filter description (6 significant digits)."""
    return f"{x:.6g}"


def butterworth_fields(cutoff_hz: float, order: int) -> dict[str, str]:
    """The XDF meta-data fields of a causal Butterworth filter edge.

    The convention gives the lower and upper edges of the transition band; a Butterworth is
    described by its -3 dB cutoff, given as both.
    """
    c = number_text(cutoff_hz)
    return {"type": "IIR", "design": "Butterworth", "lower": c, "upper": c,
            "order": str(order), "causal": "true"}  # fmt: skip


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
    # scipy.signal.butter(order, cut, btype=kind, fs=sampling_rate_hz, output="sos"), bit for bit
    return butter_zpk_sos(order, cut / nyq if cut.size > 1 else np.asarray(cut[0] / nyq), kind)


def group_delay_s(sos: npt.NDArray[np.float64], at_hz: float, *, sampling_rate_hz: float) -> float:
    """Group delay of a filter (second-order sections) at ``at_hz``, in seconds.

    A causal filter delays each frequency of the signal by this much; it is what an output
    sample, stamped with its input sample's time, lags behind at that frequency.
    """
    b, a = np.ones(1), np.ones(1)
    for section in np.asarray(sos, dtype=np.float64):  # the transfer function b / a
        b, a = np.convolve(b, section[:3]), np.convolve(a, section[3:])
    # as scipy.signal.group_delay: d(phase)/d(omega) of b / a at one frequency, in samples
    c = np.convolve(b, np.conjugate(a[::-1]))
    z = np.exp(-1j * 2 * np.pi * float(at_hz) / sampling_rate_hz)
    num = np.polyval((c * np.arange(c.size))[::-1], z)
    den = np.polyval(c[::-1], z)
    gd = float(np.real(num / den)) - a.size + 1
    return gd / sampling_rate_hz


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
        self._zi_unit = sosfilt_zi(self.sos)  # (sections, 2) for a unit step
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
            # state shape (channels, sections, 2), the kernel's
            self._zi = np.ascontiguousarray(first[:, None, None] * self._zi_unit[None, :, :])
        if _sosfilt_kernel is not None:
            y = np.array(xx.T, order="C")  # a copy (channels, n), filtered in place
            _sosfilt_kernel(self.sos, y, self._zi)
            return y[0].copy() if one_d else np.ascontiguousarray(y.T)
        from scipy import signal  # pragma: no cover - a scipy whose kernel moved

        yy, zf = signal.sosfilt(self.sos, xx.T, axis=-1, zi=np.moveaxis(self._zi, 0, 1))
        self._zi = np.ascontiguousarray(np.moveaxis(zf, 1, 0))
        out: npt.NDArray[np.float64] = yy[0] if one_d else np.ascontiguousarray(yy.T)
        return out


class InPlaceSos:
    """One channel of :class:`SosFilter` (step-started state) that filters in place.

    For hot loops: it filters a caller's ``(1, n)`` buffer in place with the compiled kernel behind
    :func:`scipy.signal.sosfilt`, skipping that function's per-call checks (~25 µs). The same
    kernel runs on the same values, so the output equals :class:`SosFilter`'s bit for bit; if a
    scipy release moves the kernel, the public function is used, with the same result.
    """

    def __init__(self, sos: npt.NDArray[np.float64]) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self._zi_unit: npt.NDArray[np.float64] = sosfilt_zi(self.sos)
        self._zi: npt.NDArray[np.float64] | None = None  # (1, sections, 2)

    def reset(self) -> None:
        """Forget the state."""
        self._zi = None

    def run(self, out: npt.NDArray[np.float64]) -> None:
        """Filter ``out`` (C-contiguous, shape ``(1, n)``, ``n >= 1``) in place."""
        if self._zi is None:
            self._zi = (self._zi_unit * out[0, 0])[None]
        kernel = _sosfilt_kernel
        if kernel is not None:
            kernel(self.sos, out, self._zi)  # in place, on out and the state
        else:  # pragma: no cover - a scipy whose kernel moved
            from scipy import signal

            y, zf = signal.sosfilt(self.sos, out[0], zi=self._zi[0])
            out[0] = y
            self._zi = np.ascontiguousarray(zf)[None]

    def step_into(self, x: npt.NDArray[np.float64], out: npt.NDArray[np.float64]) -> None:
        """Filter ``x`` (shape ``(n,)``, ``n >= 1``) into ``out`` (C-contiguous ``(1, n)``)."""
        out[0] = x
        self.run(out)
