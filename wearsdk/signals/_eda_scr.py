"""Skin conductance responses: the response table and the streaming detector of
:class:`~wearsdk.signals.EdaProcessor` (see :mod:`wearsdk.signals._eda` for the method).
"""  # noqa: D205

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ScrTable"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_ONSET_SLOPE_FRACTION = 0.1  # the foot of a rise: slope below this fraction of its steepest
_EMPTY_F = np.empty(0, dtype=np.float64)
_EMPTY_I = np.empty(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class ScrTable:
    """Skin conductance responses, one entry per response (a table of equal-length arrays).

    Attributes:
        onset_s: onset time (the trough before the rise), seconds on the input's clock.
        peak_s: peak time.
        amplitude_usiemens: cleaned conductance at the peak minus at the onset, µS.
        rise_time_s: ``peak_s - onset_s``.
        onset_index: onset sample index, counted from the first sample after a reset.
        peak_index: peak sample index.
    """

    onset_s: FloatArray
    peak_s: FloatArray
    amplitude_usiemens: FloatArray
    rise_time_s: FloatArray
    onset_index: IntArray
    peak_index: IntArray

    def __len__(self) -> int:
        return int(self.peak_s.shape[0])

    @staticmethod
    def empty() -> ScrTable:
        """A table with no response."""
        return ScrTable(_EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_I, _EMPTY_I)

    @staticmethod
    def concat(tables: Sequence[ScrTable]) -> ScrTable:
        """Join tables (e.g. the responses of consecutive blocks) in order."""
        if not tables:
            return ScrTable.empty()
        return ScrTable(
            np.concatenate([t.onset_s for t in tables]),
            np.concatenate([t.peak_s for t in tables]),
            np.concatenate([t.amplitude_usiemens for t in tables]),
            np.concatenate([t.rise_time_s for t in tables]),
            np.concatenate([t.onset_index for t in tables]),
            np.concatenate([t.peak_index for t in tables]),
        )


def _window_min(x: FloatArray, w: int) -> FloatArray:
    """``min(x[k : k + w])`` for every ``k`` in ``0 .. len(x) - w`` (van Herk/Gil-Werman, O(n)).

    The values of ``scipy.ndimage.minimum_filter1d`` over full windows, without importing
    ``scipy.ndimage`` (~0.5 s): minima within blocks of ``w`` from the left and from the
    right, and each window is the minimum of one suffix and one prefix.
    """
    n = x.shape[0]
    nb = -(-n // w)
    pad = np.full(nb * w, np.inf)
    pad[:n] = x
    blocks = pad.reshape(nb, w)
    prefix = np.minimum.accumulate(blocks, axis=1).reshape(-1)
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    out: FloatArray = np.minimum(suffix[: n - w + 1], prefix[w - 1 : n])
    return out


class _TrailingMin:
    """Minimum over the last ``width`` samples, carried across blocks.

    The last ``width - 1`` samples are kept (``+inf`` before the first one). For a block
    shorter than ``width``, the minimum at each sample is that of the kept samples' suffix
    minimum and the block's prefix minimum (O(width + n)); a longer block goes through
    :func:`_window_min` (van Herk/Gil-Werman, O(n)). Minima are exact, so
    both give the same values.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.reset()

    def reset(self) -> None:
        self._tail: FloatArray = np.full(self.width - 1, np.inf)

    def step(self, x: FloatArray) -> FloatArray:
        n, w = x.shape[0], self.width
        if n == 0 or w == 1:
            return x.copy()
        tail = self._tail
        out: FloatArray
        if n < w:
            # min(tail[i:]) for the first n samples i, then with min(x[: i + 1])
            out = np.minimum(np.minimum.accumulate(tail[::-1])[::-1][:n], np.minimum.accumulate(x))
            self._tail = np.concatenate((tail[n:], x))
        else:
            buf = np.concatenate((tail, x))
            out = _window_min(buf, w)
            self._tail = buf[1 - w :].copy()
        return out


class _ScrDetector:
    """Trough-to-peak SCR detection with hysteresis (see the module doc).

    Keeps the last ``max_rise - 1`` cleaned values and times (``_buf_v``, ``_buf_t``); the
    onset search does not look before the last confirmed peak (``_lb``, a sample index).
    """

    def __init__(self, h: float, confirm: int, max_rise: int) -> None:
        self.h = h
        self.confirm = confirm
        self.max_rise = max_rise
        self.reset()

    def reset(self) -> None:
        self._rising = False  # False: looking for an onset; True: tracking the peak
        self._buf_v = _EMPTY_F  # the samples before the block (at most max_rise - 1)
        self._buf_t = _EMPTY_F
        self._lb = 0  # index of the last confirmed peak: the onset search starts there
        self._on = (0.0, 0, 0.0)  # onset (value, index, time) while rising
        self._pk = (0.0, 0, 0.0)  # peak candidate while rising

    def step(self, p: FloatArray, i0: int, t: FloatArray) -> ScrTable:
        """Detect in ``p`` (sample indices ``i0``, ``i0 + 1``, ...; times ``t``)."""
        n = p.shape[0]
        if n == 0:
            return ScrTable.empty()
        b = self._buf_v.shape[0]
        if b:
            v = np.concatenate((self._buf_v, p))
            tv = np.concatenate((self._buf_t, t))
        else:
            v, tv = p, t
        g = i0 - b  # sample index of v[0]
        rows: list[tuple[float, float, float, int, int]] = []
        pos, stop = b, b + n
        # each search looks at a chunk that doubles while nothing is found: the work stays
        # O(n + events x chunk) and the result does not depend on the chunking
        base = max(64, self.confirm)
        chunk = base
        while pos < stop:
            end = min(stop, pos + chunk)
            if self._rising:
                pos, found = self._seek_peak(v, tv, g, pos, end, rows)
            else:
                pos, found = self._seek_onset(v, tv, g, pos, end)
            chunk = base if found else 2 * chunk
        keep = self.max_rise - 1
        if keep:
            self._buf_v, self._buf_t = v[-keep:].copy(), tv[-keep:].copy()
        if not rows:
            return ScrTable.empty()
        a = np.asarray(rows, dtype=np.float64)
        return ScrTable(
            onset_s=a[:, 0],
            peak_s=a[:, 1],
            amplitude_usiemens=a[:, 2],
            rise_time_s=a[:, 1] - a[:, 0],
            onset_index=a[:, 3].astype(np.int64),
            peak_index=a[:, 4].astype(np.int64),
        )

    def _seek_onset(
        self, v: FloatArray, tv: FloatArray, g: int, a: int, e: int
    ) -> tuple[int, bool]:
        """Find in ``v[a:e]`` the first rise of ``h`` above the minimum of the last
        ``max_rise`` samples (from the last peak on); returns (next position, found).
        """  # noqa: D205
        r = self.max_rise
        first = max(0, self._lb - g)  # the search does not look before the last peak
        lo = max(first, a - r + 1)
        seg = v[a:e]
        m = e - a
        trough: FloatArray
        if m >= r:
            # the minimum of the last r samples from v[lo] on (fewer at the start)
            trough = _window_min(np.concatenate((np.full(r - 1, np.inf), v[lo:e])), r)[a - lo :]
        else:
            trough = np.minimum.accumulate(seg)
            lt = a - lo
            if lt:
                # suf[u] = min(v[lo + u : a]); the window of v[a + k] starts at u = k - lead
                # (u <= 0: all of v[lo:a]), and u < lt since m < r
                suf = np.minimum.accumulate(v[lo:a][::-1])[::-1]
                lead = r - 1 - lt
                before = suf[np.maximum(np.arange(m) - lead, 0)] if lead else suf[:m]
                trough = np.minimum(trough, before)
        rise = seg >= trough + self.h
        k = int(rise.argmax())
        if not rise[k]:
            return e, False
        # the onset is the foot of the rise: walking back from the crossing, the first slope
        # below a tenth of the steepest one met so far (a trough, or the end of a slow drift)
        top = a + k
        lo = max(first, top - r + 1)
        back = np.diff(v[lo : top + 1])[::-1]
        foot = np.flatnonzero(back <= _ONSET_SLOPE_FRACTION * np.maximum.accumulate(back))
        j = top - int(foot[0]) if foot.size else lo
        self._on = (float(v[j]), g + j, float(tv[j]))
        self._pk = (float(v[top]), g + top, float(tv[top]))
        self._rising = True
        return top + 1, True

    def _seek_peak(
        self,
        v: FloatArray,
        tv: FloatArray,
        g: int,
        a: int,
        e: int,
        rows: list[tuple[float, float, float, int, int]],
    ) -> tuple[int, bool]:
        """Track the maximum in ``v[a:e]`` until the peak is confirmed; returns (next
        position, confirmed).
        """  # noqa: D205
        m = e - a
        seg = v[a:e]
        pk_v, pk_i, _ = self._pk
        before = np.maximum.accumulate(np.concatenate(([pk_v], seg)))
        upd = seg > before[:-1]  # the first sample at a new maximum is the peak candidate
        local = np.maximum.accumulate(np.where(upd, np.arange(m), -1))
        gi = np.arange(g + a, g + e)
        peak_gi = np.where(local >= 0, local + (g + a), pk_i)
        done = (
            (seg <= before[1:] - self.h)
            | (gi - peak_gi >= self.confirm)
            | (gi - self._on[1] >= self.max_rise)
        )
        k = int(done.argmax())
        hit = bool(done[k])
        if not hit:
            k = m - 1
        j = int(local[k])
        if j >= 0:
            self._pk = (float(seg[j]), g + a + j, float(tv[a + j]))
        if not hit:
            return e, False
        (on_v, on_i, on_t), (pk_v, pk_i, pk_t) = self._on, self._pk
        if pk_v - on_v >= self.h:  # a drift can pass the trough test but not this one
            rows.append((on_t, pk_t, pk_v - on_v, on_i, pk_i))
        # the next onset is searched from the peak on
        self._lb = pk_i
        self._rising = False
        return a + k + 1, True
