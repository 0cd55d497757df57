"""Electrodermal activity (EDA): cleaning, tonic/phasic decomposition and SCR detection, online.

:class:`EdaProcessor` processes skin conductance (µS) block by block with bounded memory and
gives, for every input sample, the cleaned signal, the tonic level (SCL) and the phasic part,
plus the skin conductance responses (SCRs) confirmed by the block. The offline functions
(:func:`eda_offline`, :func:`eda_clean`, :func:`eda_decompose`, :func:`eda_scrs`) run the very same
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
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._eda_scr import ScrTable, _ScrDetector, _TrailingMin
from wearsdk.signals._filters import (
    FilterDescription,
    InPlaceSos,
    butter_sos,
    butterworth_fields,
    group_delay_s,
    number_text,
)

__all__ = ["EdaOptions", "EdaOutput", "EdaProcessor", "ScrTable"]

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

    def describe(self) -> FilterDescription:
        """Its processing as XDF ``desc/filtering`` sections: ``lowpass`` (the cleaning filter,
        at the cutoff actually used at this rate), ``tonic`` (the decomposition and its
        settings) and ``delay`` (the cleaning's group delay at 0.1 Hz; output samples keep the
        raw samples' times).
        """  # noqa: D205
        n = number_text
        return {
            "lowpass": butterworth_fields(self.lowpass_hz, self.clean_order),
            "tonic": {"method": "low-passed trailing minimum, clamped under responses",
                      "window_s": n(self.tonic_window_s), "cutoff_hz": n(self.tonic_cutoff_hz),
                      "order": str(self.tonic_order),
                      "margin_usiemens": n(self.tonic_margin_usiemens),
                      "lag_s": n(self.tonic_delay_s())},
            "delay": {"group_delay_s": n(self.clean_delay_s()), "at_hz": n(0.1),
                      "timestamps": "raw sample times (not shifted)"},
        }  # fmt: skip

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
