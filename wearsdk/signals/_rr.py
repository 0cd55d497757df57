"""RR (inter-beat interval) series: time windows and time-domain HRV features."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["RRWindow", "RRWindower", "rr_time_domain"]


def rr_time_domain(rr_s: npt.ArrayLike) -> dict[str, float]:
    """Time-domain HRV features of an RR series.

    Args:
        rr_s: RR intervals in seconds, in beat order.

    Returns:
        ``n_beats``, ``hr_mean_bpm`` (60 / mean RR), ``rr_mean_s``, ``sdnn_s`` (sample standard
        deviation), ``rmssd_s`` (root mean square of successive differences) and ``pnn50``
        (fraction of successive differences above 50 ms). Undefined values are NaN.
    """
    rr = np.asarray(rr_s, dtype=np.float64)
    n = int(rr.size)
    nan = float("nan")
    if n == 0:
        return {
            "n_beats": 0.0,
            "hr_mean_bpm": nan,
            "rr_mean_s": nan,
            "sdnn_s": nan,
            "rmssd_s": nan,
            "pnn50": nan,
        }
    mean = float(np.add.reduce(rr)) / n
    if n == 1:
        return {
            "n_beats": 1.0,
            "hr_mean_bpm": 60.0 / mean if mean > 0 else nan,
            "rr_mean_s": mean,
            "sdnn_s": nan,
            "rmssd_s": nan,
            "pnn50": nan,
        }
    dev = rr - mean
    diff = rr[1:] - rr[:-1]
    return {
        "n_beats": float(n),
        "hr_mean_bpm": 60.0 / mean if mean > 0 else nan,
        "rr_mean_s": mean,
        "sdnn_s": math.sqrt(float(np.dot(dev, dev)) / (n - 1)),
        "rmssd_s": math.sqrt(float(np.dot(diff, diff)) / (n - 1)),
        "pnn50": float(np.count_nonzero(np.abs(diff) > 0.050)) / (n - 1),
    }


@dataclass(frozen=True, slots=True)
class RRWindow:
    """The beats of one time window.

    Attributes:
        start: window start (session seconds, exclusive).
        end: window end (session seconds, inclusive).
        beat_t: times of the beats in the window.
        rr_s: RR interval ending at each of those beats.
        coverage: fraction of the window covered by the RR intervals, in [0, 1]; low when
            beats are missing (drop-outs, lost contact).
    """

    start: float
    end: float
    beat_t: npt.NDArray[np.float64]
    rr_s: npt.NDArray[np.float64]
    coverage: float


class RRWindower:
    """Cuts a stream of beats into sliding time windows, online.

    Windows have a fixed length and hop in seconds and end on multiples of ``hop_s`` on the
    session clock, so windows of different sources and streams line up. A window is emitted
    once a beat later than its end has arrived (the beats are the stream's watermark). Beats
    that are out of order or not finite are dropped and counted, never averaged in.

    Args:
        length_s: window length in seconds.
        hop_s: hop between window ends in seconds.
    """

    def __init__(self, *, length_s: float, hop_s: float) -> None:
        if not (length_s > 0 and hop_s > 0 and math.isfinite(length_s + hop_s)):
            raise ConfigError(f"window length and hop must be > 0 (got {length_s}, {hop_s})")
        self.length_s = float(length_s)
        self.hop_s = float(hop_s)
        self.dropped_out_of_order = 0
        """Beats dropped because their time was not after the previous beat."""
        self.dropped_invalid = 0
        """Beats dropped because the time or RR was not finite or RR was not positive."""
        self.reset()

    def reset(self) -> None:
        """Forget every beat and restart window alignment."""
        self._t = np.empty(0)
        self._rr = np.empty(0)
        self._next_end: float | None = None
        self._last_t = -math.inf

    def step(self, beat_t: npt.ArrayLike, rr_s: npt.ArrayLike) -> list[RRWindow]:
        """Add beats; return the windows completed by them (oldest first).

        Args:
            beat_t: session time of each beat.
            rr_s: RR interval ending at each beat, seconds.
        """
        t = np.asarray(beat_t, dtype=np.float64).ravel()
        rr = np.asarray(rr_s, dtype=np.float64).ravel()
        if t.shape != rr.shape:
            raise ConfigError(f"beat_t and rr_s differ in length ({t.size} vs {rr.size})")
        valid = np.isfinite(t) & np.isfinite(rr) & (rr > 0)
        self.dropped_invalid += int((~valid).sum())
        t, rr = t[valid], rr[valid]
        if t.size:
            # keep only strictly increasing beats, relative to everything seen so far
            running = np.maximum.accumulate(np.concatenate(([self._last_t], t)))[:-1]
            ordered = t > running
            self.dropped_out_of_order += int((~ordered).sum())
            t, rr = t[ordered], rr[ordered]
        if t.size == 0:
            return []
        if self._next_end is None:
            data_start = float(t[0] - rr[0])
            self._next_end = math.ceil((data_start + self.length_s) / self.hop_s) * self.hop_s
        self._last_t = float(t[-1])
        self._t = np.concatenate((self._t, t))
        self._rr = np.concatenate((self._rr, rr))
        out: list[RRWindow] = []
        while self._next_end <= self._last_t:
            out.append(self._cut(self._next_end))
            self._next_end += self.hop_s
        # forget beats that no future window can contain
        assert self._next_end is not None
        keep = self._t > self._next_end - self.length_s - 1e-9
        if not keep.all():
            self._t, self._rr = self._t[keep], self._rr[keep]
        return out

    def _cut(self, end: float) -> RRWindow:
        start = end - self.length_s
        lo = int(np.searchsorted(self._t, start, side="right"))
        hi = int(np.searchsorted(self._t, end, side="right"))
        bt, rr = self._t[lo:hi], self._rr[lo:hi]
        # coverage: overlap of each beat's interval (t - rr, t] with the window, including the
        # first beat after the end (it always exists: windows are cut behind the watermark)
        ct, crr = self._t[lo : hi + 1], self._rr[lo : hi + 1]
        overlap = np.minimum(ct, end) - np.maximum(ct - crr, start)
        covered = float(np.clip(overlap, 0.0, None).sum())
        return RRWindow(
            start=start,
            end=end,
            beat_t=bt.copy(),
            rr_s=rr.copy(),
            coverage=min(1.0, covered / self.length_s),
        )
