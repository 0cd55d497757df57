"""Electrodermal activity (EDA): cleaning, tonic/phasic decomposition and SCR detection, online.

:class:`EdaProcessor` processes skin conductance (µS) block by block with bounded memory and
gives, for every input sample, the cleaned signal, the tonic level (SCL) and the phasic part,
plus the skin conductance responses (SCRs) confirmed by the block. The offline functions
(:func:`eda_process`, :func:`eda_clean`, :func:`eda_phasic`, :func:`eda_peaks`) run the very same
processor over a whole recording, so blocks of any size give exactly the offline result.

Method (each stage is causal; state is carried across blocks):

1. **Bad input.** Samples that are not finite, or outside the plausible range
   ``range_usiemens`` (default 0.01-100 µS; a reading near 0 µS means no skin contact, one above
   100 µS a short circuit or saturation), are counted and bridged by holding the last valid
   value (the causal form of NeuroKit2's forward fill), so one bad sample never reaches the
   filter state. Samples before the first valid one are NaN. Runs of identical values lasting
   ``flat_s`` are flagged as flat (a disconnected or frozen sensor), from the sample at which
   the run reaches that length.
2. **Cleaning.** A 4th-order Butterworth low-pass (second-order sections, filtered as by
   :class:`~wearsdk.signals.SosFilter`, started in steady state) at
   ``min(lowpass_hz, sampling_rate_hz / 4)``: 3 Hz as in NeuroKit2's ``eda_clean`` (which
   filters forward-backward instead) from 12 Hz up, 1 Hz for the Empatica E4's 4 Hz. Skin
   conductance responses carry almost no energy above 1 Hz.
3. **Tonic/phasic decomposition: a clamped trailing lower envelope.** Let ``m`` be the minimum
   of the cleaned signal over the last ``tonic_window_s`` seconds (a running minimum: for a
   block shorter than the window, the suffix minimum of the carried samples against the
   block's prefix minimum; for a longer one the O(n) van Herk/Gil-Werman algorithm of
   ``scipy.ndimage.minimum_filter1d``). The tonic level is a 2nd-order Butterworth low-pass
   at ``tonic_cutoff_hz`` of ``min(clean, m + tonic_margin_usiemens)``.
   Slow changes of the skin conductance level stay within the margin of the trailing minimum
   and pass unchanged (so the tonic follows a drifting SCL with only the low-pass lag,
   ``0.225 / tonic_cutoff_hz`` ≈ 4.5 s), whereas an SCR rises within 1-3 s (Dawson, Schell &
   Filion 2007) far above it: for ``tonic_window_s`` after its onset the tonic input is held at
   the pre-response level plus the margin, i.e. the tonic is interpolated flat under the
   response instead of following it (the idea of robust-baseline methods such as the
   "smoothmedian" decomposition of Biopac AcqKnowledge and NeuroKit2, made causal and
   response-aware). ``phasic = clean - tonic`` is then mostly non-negative, as a response is.
   Costs: after ``tonic_window_s`` the envelope follows the response's slow recovery, so long
   recovery tails end up partly in the tonic; a fast SCL rise (faster than the margin per
   window) is followed with a delay of up to ``tonic_window_s``. NeuroKit2's default (a
   zero-phase 0.05 Hz high-pass, which needs the future) is the reference in the tests and in
   ``benchmarks/eda_accuracy.py``; its tonic is a local mean, ours a baseline under the
   responses, so ours is lower where responses are frequent (over the 60 s windows of
   Stress-Predict S01-S25: 1.2 % in the median window, 9 % at the 90th percentile).
4. **SCR detection** on the cleaned conductance, trough to peak (the TTP method; NeuroKit2's
   ``eda_peaks`` also measures the amplitude from the trough before the peak), independent of
   the decomposition (so the tonic estimate can neither hide nor invent a response). A
   response starts when the signal rises ``amplitude_min_usiemens`` above its minimum over the
   last ``max_rise_s`` seconds (since the previous peak): SCRs typically rise within 1-3 s
   (Dawson et al. 2007), 5 s leaves a margin, whereas a drift of the SCL slower than
   ``amplitude_min_usiemens / max_rise_s`` (0.006 µS/s by default) never qualifies. Its onset
   is the foot of the rise: walking back from that point, the first sample where the slope
   falls below a tenth of the steepest slope met (the trough, or the end of a slow drift the
   response rides on). The running maximum is then the candidate peak until the signal falls
   ``amplitude_min_usiemens`` below it, or it has stayed the maximum for ``peak_confirm_s``,
   or ``max_rise_s`` has passed since the onset. The response is confirmed if peak - onset is
   at least ``amplitude_min_usiemens``, with onset, peak, amplitude (µS) and rise time (s),
   and the next onset is searched from the peak on. The confirmation delay after the peak is
   at most ``peak_confirm_s``. The minimum amplitude defaults to 0.03 µS, inside the
   0.01-0.05 µS criteria in common use (Dawson et al. 2007; Boucsein et al. 2012) and above
   the E4's quantisation step (~0.0013 µS). Unlike NeuroKit2, whose threshold is 10 % of the
   largest response of the whole recording, an online detector cannot know the future, so
   the threshold is absolute. A response that only slows a steep fall of the SCL (an
   inflection, no rise of the conductance) is not detected, where NeuroKit2's high-pass shows
   a small peak. The search is vectorised per onset and per peak (one short Python iteration
   per event), with memory bounded by ``max_rise_s`` (the samples an onset search can look
   back at).

References:
    Boucsein, W. (2012). Electrodermal Activity, 2nd ed. Springer.
    Boucsein, W. et al. (2012). Publication recommendations for electrodermal measurements.
    Psychophysiology 49:1017-1034.
    Dawson, M. E., Schell, A. M., & Filion, D. L. (2007). The electrodermal system. In Handbook
    of Psychophysiology, 3rd ed., 159-181.
    Makowski, D. et al. (2021). NeuroKit2: A Python toolbox for neurophysiological signal
    processing. Behavior Research Methods 53:1689-1696 (``eda_clean``, ``eda_phasic``,
    ``eda_peaks``).
    van Herk, M. (1992). A fast algorithm for local minimum and maximum filters on rectangular
    and octagonal kernels. Pattern Recognition Letters 13:517-521.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._filters import InPlaceSos, butter_sos, group_delay_s

__all__ = [
    "EdaOptions",
    "EdaOutput",
    "EdaProcessor",
    "ScrTable",
    "eda_clean",
    "eda_features",
    "eda_peaks",
    "eda_phasic",
    "eda_process",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_ONSET_SLOPE_FRACTION = 0.1  # the foot of a rise: slope below this fraction of its steepest
_EMPTY_F = np.empty(0, dtype=np.float64)
_EMPTY_I = np.empty(0, dtype=np.int64)


class EdaOptions(TypedDict, total=False):
    """Optional settings of :class:`EdaProcessor`, also accepted by the offline functions.

    See :class:`EdaProcessor` for their meaning and defaults.
    """

    lowpass_hz: float
    tonic_window_s: float
    tonic_cutoff_hz: float
    tonic_margin_usiemens: float
    amplitude_min_usiemens: float
    peak_confirm_s: float
    max_rise_s: float
    range_usiemens: tuple[float, float]
    flat_s: float


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


@dataclass(frozen=True, slots=True)
class EdaOutput:
    """The result of one block (arrays aligned with the block's samples).

    Attributes:
        t: sample times (the ``t`` given to ``step``, or sample index / rate).
        clean: low-pass filtered conductance, µS (NaN before the first valid sample).
        tonic: tonic level (SCL), µS.
        phasic: ``clean - tonic``, µS.
        scrs: responses confirmed in this block (their peaks may lie in an earlier block).
        nan: input samples that were not finite (bridged).
        out_of_range: finite input samples outside the plausible range (bridged).
        flat: samples ending a run of identical values at least ``flat_s`` long.
    """

    t: FloatArray
    clean: FloatArray
    tonic: FloatArray
    phasic: FloatArray
    scrs: ScrTable
    nan: BoolArray
    out_of_range: BoolArray
    flat: BoolArray

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def n_nan(self) -> int:
        """Number of non-finite input samples in the block."""
        return int(self.nan.sum())

    @property
    def bridged(self) -> BoolArray:
        """Samples replaced by the last valid value (not finite or out of range)."""
        out: BoolArray = self.nan | self.out_of_range
        return out


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


class EdaProcessor:
    """Online EDA processing: cleaning, tonic/phasic decomposition and SCR detection.

    ``step`` on consecutive blocks gives exactly what one call on their concatenation gives
    (and so what the offline functions give). Memory is bounded by ``tonic_window_s`` and
    ``max_rise_s`` worth of samples. The method and its sources are in
    the module documentation of :mod:`wearsdk.signals._eda`.

    Args:
        sampling_rate_hz: the nominal sampling rate (4 Hz for the Empatica E4; any rate up to
            kHz).
        lowpass_hz: cleaning low-pass cutoff, applied as ``min(lowpass_hz, rate / 4)``.
        tonic_window_s: length of the trailing minimum that holds the tonic level under SCRs.
        tonic_cutoff_hz: cutoff of the low-pass that smooths that envelope (below rate / 2).
        tonic_margin_usiemens: changes within this much of the trailing minimum pass into the
            tonic level unchanged; larger rises (responses) are clamped.
        amplitude_min_usiemens: SCR minimum amplitude (trough to peak), also the rise that
            starts a response and the fall that confirms its peak.
        peak_confirm_s: a peak is confirmed at most this long after it (earlier if the
            signal falls ``amplitude_min_usiemens`` below it); counted in samples at the
            nominal rate, like ``max_rise_s``.
        max_rise_s: a response must rise ``amplitude_min_usiemens`` within this time; a rise
            lasting longer is cut: its peak is confirmed at its maximum so far.
        range_usiemens: plausible (low, high) conductance; values outside are bridged and
            flagged.
        flat_s: a run of identical values this long is flagged as a flat line.

    Raises:
        ConfigError: a setting that is not finite and positive, or inconsistent.
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        lowpass_hz: float = 3.0,
        tonic_window_s: float = 8.0,
        tonic_cutoff_hz: float = 0.05,
        tonic_margin_usiemens: float = 0.05,
        amplitude_min_usiemens: float = 0.03,
        peak_confirm_s: float = 4.0,
        max_rise_s: float = 5.0,
        range_usiemens: tuple[float, float] = (0.01, 100.0),
        flat_s: float = 10.0,
    ) -> None:
        try:
            fs = float(sampling_rate_hz)
            lo, hi = (float(v) for v in range_usiemens)
            values = {
                "sampling_rate_hz": fs,
                "lowpass_hz": float(lowpass_hz),
                "tonic_window_s": float(tonic_window_s),
                "tonic_cutoff_hz": float(tonic_cutoff_hz),
                "amplitude_min_usiemens": float(amplitude_min_usiemens),
                "peak_confirm_s": float(peak_confirm_s),
                "max_rise_s": float(max_rise_s),
                "flat_s": float(flat_s),
            }
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"EdaProcessor: settings must be numbers ({exc})") from exc
        for name, v in values.items():
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"EdaProcessor: {name} must be finite and > 0 (got {v!r})")
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
            raise ConfigError(f"EdaProcessor: range_usiemens must be 0 <= low < high ({lo}, {hi})")
        if tonic_cutoff_hz >= fs / 2:
            raise ConfigError(
                f"EdaProcessor: tonic_cutoff_hz {tonic_cutoff_hz} must be below {fs / 2} Hz"
            )
        self.sampling_rate_hz = fs
        self.lowpass_hz = min(values["lowpass_hz"], fs / 4)
        """The cleaning cutoff actually used."""
        self.tonic_window_s = values["tonic_window_s"]
        self.tonic_cutoff_hz = values["tonic_cutoff_hz"]
        self.tonic_margin_usiemens = float(tonic_margin_usiemens)
        self.amplitude_min_usiemens = values["amplitude_min_usiemens"]
        self.peak_confirm_s = values["peak_confirm_s"]
        self.max_rise_s = values["max_rise_s"]
        self.range_usiemens = (lo, hi)
        self.flat_s = values["flat_s"]
        self.clean_order = 4
        """Order of the cleaning Butterworth low-pass."""
        self.tonic_order = 2
        """Order of the Butterworth low-pass that smooths the tonic envelope."""
        self._clean = InPlaceSos(
            butter_sos("lowpass", self.lowpass_hz, sampling_rate_hz=fs, order=self.clean_order)
        )
        self._envelope = _TrailingMin(max(1, round(self.tonic_window_s * fs)))
        self._tonic = InPlaceSos(
            butter_sos("lowpass", self.tonic_cutoff_hz, sampling_rate_hz=fs, order=self.tonic_order)
        )
        self._detector = _ScrDetector(
            self.amplitude_min_usiemens,
            max(1, round(self.peak_confirm_s * fs)),
            max(1, round(self.max_rise_s * fs)),
        )
        self._flat_len = max(2, round(self.flat_s * fs))
        self.reset()

    def clean_delay_s(self, at_hz: float = 0.1) -> float:
        """Group delay of the cleaning low-pass at ``at_hz`` (default 0.1 Hz, the band of skin
        conductance responses), in seconds: how far the cleaned signal (and everything derived
        from it) lags the raw one, each output sample keeping its input sample's time.
        """  # noqa: D205
        return group_delay_s(self._clean.sos, at_hz, sampling_rate_hz=self.sampling_rate_hz)

    def tonic_delay_s(self) -> float:
        """Lag of the tonic level behind a slow change of the cleaned conductance, in seconds:
        the low-frequency group delay of the tonic low-pass (about ``0.225 / tonic_cutoff_hz``)
        plus that of the cleaning.
        """  # noqa: D205
        f = 0.01 * self.tonic_cutoff_hz
        fs = self.sampling_rate_hz
        return group_delay_s(self._tonic.sos, f, sampling_rate_hz=fs) + self.clean_delay_s(f)

    def reset(self) -> None:
        """Forget all state and counters; the next sample is index 0 again."""
        self._clean.reset()
        self._envelope.reset()
        self._tonic.reset()
        self._detector.reset()
        self._n = 0
        self._last_valid = math.nan
        self._last_raw = math.nan
        self._run = 0  # identical consecutive raw values ending at the last sample, minus one
        self.n_samples = 0
        """Samples processed since the last reset."""
        self.n_nan = 0
        """Non-finite samples seen (bridged)."""
        self.n_out_of_range = 0
        """Finite samples outside ``range_usiemens`` seen (bridged)."""
        self.n_flat = 0
        """Samples flagged flat."""

    def step(self, x: npt.ArrayLike, t: npt.ArrayLike | None = None) -> EdaOutput:
        """Process one block of skin conductance.

        Args:
            x: conductance samples in µS, shape ``(n,)`` (or ``(n, 1)``).
            t: per-sample times (session seconds); by default sample index / rate. SCR times
                use this clock.

        Returns:
            The block's cleaned, tonic and phasic signals, the SCRs confirmed by it and the
            per-sample flags.

        Raises:
            ConfigError: ``x`` is not one channel, or ``t`` does not match it.
        """
        xa = np.asarray(x, dtype=np.float64)
        if xa.ndim == 2 and xa.shape[1] == 1:
            xa = xa[:, 0]
        if xa.ndim != 1:
            raise ConfigError(f"EdaProcessor.step: expected one channel, got shape {xa.shape}")
        n = xa.shape[0]
        n0 = self._n
        if t is None:
            ta = np.arange(n0, n0 + n, dtype=np.int64) / self.sampling_rate_hz
        else:
            ta = np.asarray(t, dtype=np.float64).reshape(-1)
            if ta.shape != (n,):
                raise ConfigError(f"EdaProcessor.step: t has {ta.size} samples, x has {n}")
        self._n += n
        self.n_samples += n
        if n == 0:
            e = np.zeros(0, dtype=np.bool_)
            return EdaOutput(ta, xa.copy(), xa.copy(), xa.copy(), ScrTable.empty(), e, e, e)

        lo, hi = self.range_usiemens
        flat = self._flat(xa)
        if lo <= xa.min() and xa.max() <= hi:  # every sample valid (a NaN fails both tests)
            nan = np.zeros(n, dtype=np.bool_)
            oor = np.zeros(n, dtype=np.bool_)
            self._last_valid = float(xa[-1])
            s = 0
            buf = xa.reshape(1, n).copy()  # filtered in place
        else:
            finite = np.isfinite(xa)
            with np.errstate(invalid="ignore"):
                in_range = (xa >= lo) & (xa <= hi)
            nan = ~finite
            oor = finite & ~in_range
            self.n_nan += int(nan.sum())
            self.n_out_of_range += int(oor.sum())
            # bridge: hold the last valid value (carried across blocks)
            last = np.maximum.accumulate(np.where(in_range, np.arange(n), -1))
            held = np.where(last >= 0, xa[np.maximum(last, 0)], self._last_valid)
            if last[-1] >= 0:
                self._last_valid = float(xa[last[-1]])
            started = np.flatnonzero(~np.isnan(held))
            s = int(started[0]) if started.size else n
            buf = held[None, s:].copy()
        if s == n:  # no valid sample yet
            clean = np.full(n, np.nan)
            return EdaOutput(
                ta, clean, clean.copy(), clean.copy(), ScrTable.empty(), nan, oor, flat
            )
        self._clean.run(buf)
        c = buf[0]
        tbuf = np.empty_like(buf)
        np.minimum(c, self._envelope.step(c) + self.tonic_margin_usiemens, out=tbuf[0])
        self._tonic.run(tbuf)
        if s:
            clean = np.full(n, np.nan)
            tonic = np.full(n, np.nan)
            clean[s:] = c
            tonic[s:] = tbuf[0]
        else:
            clean, tonic = c, tbuf[0]
        phasic = clean - tonic
        scrs = self._detector.step(c, n0 + s, ta[s:])
        return EdaOutput(ta, clean, tonic, phasic, scrs, nan, oor, flat)

    def _flat(self, x: FloatArray) -> BoolArray:
        n = x.shape[0]
        if self._run + n < self._flat_len - 1:
            # no run can reach the flat length in this block: only the last one is needed
            xl: list[float] = x.tolist()
            k = n - 1
            while k and xl[k] == xl[k - 1]:
                k -= 1
            self._run = self._run + n if k == 0 and xl[0] == self._last_raw else n - 1 - k
            self._last_raw = xl[-1]
            return np.zeros(n, dtype=np.bool_)
        same = np.concatenate(([self._last_raw], x[:-1])) == x  # NaN never equals
        # length of the run of ``same`` ending at each sample (carried from the last block)
        start = np.maximum.accumulate(np.where(~same, np.arange(n), -1))
        run = np.where(start >= 0, np.arange(n) - start, np.arange(n) + 1 + self._run)
        self._last_raw = float(x[-1])
        self._run = int(run[-1])
        out: BoolArray = run >= self._flat_len - 1
        self.n_flat += int(out.sum())
        return out


def eda_process(
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
    x: npt.ArrayLike, *, sampling_rate_hz: float, **options: Unpack[EdaOptions]
) -> FloatArray:
    """Clean raw EDA: bridge bad samples and low-pass filter causally (see the module doc).

    Args:
        x: raw skin conductance, µS.
        sampling_rate_hz: the sampling rate.
        **options: settings of :class:`EdaProcessor`.

    Returns:
        The cleaned signal (µS), NaN before the first valid sample.
    """
    return eda_process(x, sampling_rate_hz=sampling_rate_hz, **options).clean


def eda_phasic(
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
    out = eda_process(x, sampling_rate_hz=sampling_rate_hz, **options)
    return out.tonic, out.phasic


def eda_peaks(
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
    return eda_process(x, sampling_rate_hz=sampling_rate_hz, t=t, **options).scrs


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
