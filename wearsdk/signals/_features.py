"""Online window features from any mix of streams of one person, aligned on the session clock.

:class:`FeatureExtractor` takes sample blocks by stream name and emits one
:class:`WindowFeatures` per hop once every active stream has passed the window's end. Each
stream is processed once, as it arrives (RR artifact classification, EDA decomposition...), and
summarised into hop-long bins (see :mod:`wearsdk.signals._bins`), so a window costs the same
whatever its length and sampling rates; beat- and event-based features (HRV, SCRs) keep only the
beats and events of the longest window.

Streams understood (names as on the bus) and the features they give:

===========  =========================================================================
``rr``       s; through :class:`~wearsdk.signals.RRCleaner`: ``hr_mean_bpm``,
             ``rmssd_s``, ``sdnn_s``, ``pnn50``, ``lf_hf_ratio``, ``lf_nu``,
             ``rr_corrected_fraction``; quality ``rr_coverage``
``ecg``      any unit, through :class:`~wearsdk.signals.EcgPeakDetector`: its R peaks become
             the ``rr`` stream (and the device's own RR, if any, is then ignored: beats timed
             on the ECG are more precise)
``hr``       bpm (a device's own heart rate, 1 Hz): ``hr_device_mean_bpm``,
             ``hr_device_slope_bpm_per_min``
``acc``      mG, 3 channels: ``acc_activity_g`` (standard deviation of the magnitude),
             ``acc_mean_g``; flag ``motion`` above ``motion_threshold_g``
``temp``     degC: ``temp_mean_degc``, ``temp_slope_degc_per_min``
``eda``      uS; through :class:`~wearsdk.signals.EdaProcessor`: ``scl_mean_usiemens``,
             ``scl_slope_usiemens_per_min``, ``phasic_mean_usiemens``, ``scr_count``,
             ``scr_rate_per_min``, ``scr_amplitude_mean_usiemens``; quality
             ``eda_coverage`` and ``eda_valid`` (share of samples that were not bridged);
             flag ``eda_invalid`` when under half are valid
``bvp``      PPG/BVP, any unit (``au``); through :class:`~wearsdk.signals.PpgPeakDetector`:
             ``ppg_rate_bpm``, ``ppg_rate_p90_bpm``, ``ppg_rate_sd_bpm``, ``ppg_rmssd_ms``,
             ``ppg_amplitude_au``, ``ppg_resp_hz``, ``ppg_resp_fraction`` (see
             :func:`ppg_window_features`); quality ``bvp_coverage``,
             ``bvp_beats_accepted`` and ``bvp_sqi`` (:func:`ppg_sqi` of the window's
             band-passed samples and beats); flag ``bvp_noisy`` when ``bvp_sqi`` is below
             :data:`PPG_SQI_THRESHOLD` (the features are kept: the flag says how far to trust
             them)
===========  =========================================================================

An SCR is confirmed up to a few seconds after its peak (see ``EdaProcessor``), so a window cut
as soon as its data arrived may lack a response that peaked in its last seconds; the next
windows count it.

With ``keep_clean``, the extractor also keeps the cleaned signals it computes on the way
(:class:`CleanSignal`, taken with :meth:`FeatureExtractor.take_clean`): the ECG through
:class:`~wearsdk.signals.EcgCleaner` (run for this purpose only: peak detection works on the
raw signal) and the EDA's cleaned, tonic and phasic signals from its
:class:`~wearsdk.signals.EdaProcessor` (the very values the features are computed from). Each
cleaned sample keeps the time of the raw sample it comes from; the features do not change.

A window whose stream coverage is below ``min_coverage`` is flagged (``low_coverage_<stream>``)
and its features from that stream are NaN: missing data is never silently averaged.

**Plausible inputs only.** Values no physiology produces are treated as missing before any
window sees them, counted in :attr:`FeatureExtractor.implausible` and flagged on the windows
that contain them (``implausible_<stream>``, with the share in quality ``<stream>_implausible``):
a heart rate outside :data:`HR_PLAUSIBLE_BPM` (25-240 bpm; a strap reading 0 bpm without
contact) or a device heart rate stuck on one value for ``hr_flat_s`` (a frozen sensor); an RR
interval outside the same range (0.25-2.4 s); an EDA sample outside the sensor's physical
range (``EdaProcessor``'s ``range_usiemens``, 0.01-100 µS) or on a flat or clipped line (a run
of identical values for its ``flat_s``). They lower the stream's coverage like a gap does.

Streams that need their nominal rate (``ecg``, ``eda``, ``bvp``) are unusable without one, or
with one their processor cannot work at (an ECG below 100 Hz): their samples are dropped and
counted, the stream is listed in :attr:`FeatureExtractor.unusable` with the reason, and every
window from then on carries the flag ``unusable_<stream>``; the other streams are processed
as usual. Samples of ``bvp`` that are not after the previous one are dropped and counted too.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._bins import BinnedStream
from wearsdk.signals._ecg import EcgCleaner, EcgPeakDetector, EcgPeaks
from wearsdk.signals._eda import EdaProcessor
from wearsdk.signals._hrv import (
    BeatClass,
    RRCleaner,
    lomb_band_powers,
    lomb_defined,
    lomb_n_freqs,
    lomb_terms,
)
from wearsdk.signals._ppg import (
    PPG_FEATURES,
    PPG_SQI_THRESHOLD,
    PpgBeats,
    PpgPeakDetector,
    ppg_sqi,
    ppg_window_features,
)
from wearsdk.signals._rr import hrv_time

__all__ = [
    "HR_PLAUSIBLE_BPM",
    "CleanSignal",
    "FeatureConfig",
    "FeatureExtractor",
    "WindowFeatures",
]

HR_PLAUSIBLE_BPM = (25.0, 240.0)
"""Heart rates (and RR intervals, as 60 / bpm) outside this range are treated as missing."""
_RR_PLAUSIBLE_S = (60.0 / HR_PLAUSIBLE_BPM[1], 60.0 / HR_PLAUSIBLE_BPM[0])

_EDA_CLEAN = ("eda_clean", "eda_tonic", "eda_phasic")
_NORMAL = int(BeatClass.NORMAL)  # a plain int: numpy compares with an IntEnum slowly
ECTOPIC_FLAG_FRACTION = 0.1
"""Windows where more than this share of the ECG beats are ectopic are flagged
``frequent_ectopy``."""


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Settings of :class:`FeatureExtractor`.

    Attributes:
        window_s: window length, a whole number of hops.
        hop_s: hop between window ends.
        min_coverage: below this fraction of expected data a stream's features are NaN.
        stale_s: a stream silent for this long no longer holds windows back.
        motion_threshold_g: ACC magnitude standard deviation that flags ``motion``.
        lf_min_window_s: shortest window for which LF/HF is computed.
        max_lead_s: how far one stream may run ahead of the windows still pending (memory
            bound); samples further ahead are dropped and counted.
        hr_flat_s: a device heart rate repeating one value this long is a frozen sensor: its
            samples from then on are treated as missing (``implausible_hr``).
    """

    window_s: float = 60.0
    hop_s: float = 1.0
    min_coverage: float = 0.6
    stale_s: float = 10.0
    motion_threshold_g: float = 0.1
    lf_min_window_s: float = 50.0
    max_lead_s: float = 3600.0
    hr_flat_s: float = 120.0

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.hop_s > 0):
            raise ConfigError("window_s and hop_s must be > 0")
        ratio = self.window_s / self.hop_s
        if abs(ratio - round(ratio)) > 1e-9:
            raise ConfigError("window_s must be a whole number of hops")
        if not 0 <= self.min_coverage <= 1:
            raise ConfigError("min_coverage must be within [0, 1]")


@dataclass(frozen=True, slots=True)
class WindowFeatures:
    """The features of one window.

    Attributes:
        start: window start (session seconds).
        end: window end.
        values: feature name to value (NaN when undefined or not covered).
        quality: quality indices in [0, 1] (``<stream>_coverage``...).
        flags: quality flags (``low_coverage_rr``, ``motion``...).
        modalities: streams that contributed usable features.
    """

    start: float
    end: float
    values: dict[str, float]
    quality: dict[str, float]
    flags: tuple[str, ...]
    modalities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CleanSignal:
    """A block of a cleaned signal, sample for sample aligned with the raw block it comes from.

    Attributes:
        stream: ``ecg_clean`` (one channel, the input's unit) or ``eda_clean`` (channels
            ``eda_clean``, ``eda_tonic``, ``eda_phasic``, µS).
        source_stream: the raw stream it comes from (``ecg``, ``eda``).
        t: the raw samples' times.
        values: shape ``(n, channels)``.
        channels: channel names.
    """

    stream: str
    source_stream: str
    t: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    channels: tuple[str, ...]


def _rate(kind: str, rate: float | None) -> float:
    """The nominal rate a processor needs (a ConfigError without one)."""
    if not rate or rate <= 0:
        raise ConfigError(f"{kind} processing needs the stream's nominal rate (irregular stream)")
    return rate


class _Rows:
    """Rows in time order (column 0: time), added at the end, dropped from the front, in one
    contiguous array (grown or compacted when full), so a window's rows are a slice.
    """  # noqa: D205

    __slots__ = ("_data", "_hi", "_lo")

    def __init__(self, width: int) -> None:
        self._data = np.empty((64, width))
        self._lo = self._hi = 0

    def extend(self, m: int) -> npt.NDArray[np.float64]:
        """Append ``m`` rows; return them, for the caller to fill."""
        if self._hi + m > self._data.shape[0]:
            live = self._hi - self._lo
            data = self._data
            if 2 * (live + m) > data.shape[0]:
                data = np.empty((2 * (live + m), data.shape[1]))
            data[:live] = self._data[self._lo : self._hi]
            self._data, self._lo, self._hi = data, 0, live
        self._hi += m
        return self._data[self._hi - m : self._hi]

    def forget(self, before: float) -> None:
        """Drop the rows at or before ``before``."""
        t = self._data[self._lo : self._hi, 0]
        self._lo += int(np.searchsorted(t, before, side="right"))

    def window(
        self, start: float, end: float, *, closed: Literal["right", "left"] = "right"
    ) -> npt.NDArray[np.float64]:
        """The rows with ``start < t <= end`` (``closed="left"``: ``start <= t < end``)."""
        live = self._data[self._lo : self._hi]
        a, b = np.searchsorted(live[:, 0], (start, end), side=closed).tolist()
        return live[a:b]


class FeatureExtractor:
    """Streams in, window features out (pure, synchronous, bounded memory).

    Args:
        config: window and quality settings.
        keep_clean: keep the cleaned ECG and EDA signals for :meth:`take_clean`.
    """

    def __init__(self, config: FeatureConfig | None = None, *, keep_clean: bool = False) -> None:
        self.config = config or FeatureConfig()
        self.keep_clean = keep_clean
        self._clean: list[CleanSignal] = []
        self._ecg_cleaner: EcgCleaner | None = None
        c = self.config
        self._n_bins = round(c.window_s / c.hop_s)
        self._cap = self._n_bins + round(max(c.stale_s, 10.0) / c.hop_s) + 2
        self._bins: dict[str, BinnedStream] = {}
        self._rr_cleaner = RRCleaner()
        self._rr_pending: deque[float] = deque()  # times of the beats awaiting their class
        self._rr_implausible: deque[float] = deque()  # times of implausible RR intervals
        # LF/HF on one frequency grid for every window (the default grid of its length), so
        # each NN beat's Lomb-Scargle terms are computed once, when it arrives
        self._lf = c.window_s >= c.lf_min_window_s
        self._n_freqs = lomb_n_freqs(c.window_s)
        self._lomb_t0: float | None = None  # time origin of the terms
        # NN beats: time, interval, then (with LF/HF) their Lomb-Scargle terms
        self._nn = _Rows(2 + (4 * self._n_freqs if self._lf else 0))
        self._classes = _Rows(2)  # classified beats: time, 1.0 when not normal
        self._ectopic = _Rows(1)  # ECG beats the R-peak detector classified ectopic: time
        self._eda: EdaProcessor | None = None
        self._ecg: EcgPeakDetector | None = None
        self._last_peak: float | None = None
        self._scrs: deque[tuple[float, float]] = deque()  # (peak time, amplitude)
        self._ppg: PpgPeakDetector | None = None
        self._ppg_beats = _Rows(3)  # PPG beats: time, pulse amplitude, sample index
        self._ppg_wave = _Rows(3)  # band-passed PPG samples: time, value, sample index
        self._ppg_n = 0  # samples given to the detector
        self._ppg_last_t = -math.inf
        self._rr_decided = 0
        self._rr_ready = -math.inf  # time of the last beat whose class is decided
        self._last_beat_t = -math.inf  # beats are kept in time order
        self._next_end_bin: int | None = None
        self.dropped = 0
        """Samples dropped (out of order, non-finite, unknown or unusable stream)."""
        self._unusable: dict[str, str] = {}
        self.implausible: dict[str, int] = {"hr": 0, "rr": 0, "eda": 0}
        """Samples treated as missing because no physiology produces them, by stream."""
        self._hr_run: tuple[float, float] = (math.nan, math.nan)  # value, start of its run

    # -- input --------------------------------------------------------------------------------
    def _stream(self, name: str, rate: float | None, channels: int = 1) -> BinnedStream:
        b = self._bins.get(name)
        if b is None:
            b = self._bins[name] = BinnedStream(
                hop_s=self.config.hop_s,
                capacity_bins=self._cap,
                nominal_rate_hz=rate,
                channels=channels,
            )
        return b

    def push(
        self,
        stream: str,
        t: npt.ArrayLike,
        values: npt.ArrayLike,
        *,
        nominal_rate_hz: float | None = None,
    ) -> None:
        """Add a block of one stream (see the module docs for names and units)."""
        tt = np.asarray(t, dtype=np.float64).ravel()
        vv = np.asarray(values, dtype=np.float64)
        if vv.ndim == 1:
            vv = vv[:, None]
        if tt.size == 0:
            return
        self._start(tt)
        self._make_room(tt)
        if stream in self._unusable:
            self.dropped += tt.size
        elif stream == "rr":
            if self._ecg is None:
                self._push_rr(tt.tolist(), vv[:, 0].tolist())
        elif stream == "ecg":
            self._push_ecg(tt, vv[:, 0], nominal_rate_hz)
        elif stream == "acc":
            xyz = vv[:, :3]
            mag = np.sqrt(np.einsum("ij,ij->i", xyz, xyz)) / 1000.0  # mG -> g
            self._stream("acc", nominal_rate_hz).add(tt, mag)
        elif stream == "hr":
            self._push_hr(tt, vv[:, 0], nominal_rate_hz)
        elif stream == "temp":
            self._stream(stream, nominal_rate_hz).add(tt, vv[:, 0])
        elif stream == "eda":
            self._push_eda(tt, vv[:, 0], nominal_rate_hz)
        elif stream == "bvp":
            self._push_bvp(tt, vv[:, 0], nominal_rate_hz)
        else:
            self.dropped += tt.size

    def _make_room(self, t: npt.NDArray[np.float64]) -> None:
        """Grow every ring so that no bin a pending window needs is overwritten, even when one
        stream runs far ahead of the others (a large block, a late stream).
        """  # noqa: D205
        assert self._next_end_bin is not None
        t_max = float(np.maximum.reduce(t))
        if not math.isfinite(t_max):
            t_max = float(np.nanmax(t))
        newest = math.floor(t_max / self.config.hop_s)
        need = newest - (self._next_end_bin - self._n_bins + 1) + 2
        limit = self._n_bins + round(self.config.max_lead_s / self.config.hop_s)
        if need > self._cap and self._cap < limit:
            self._cap = min(limit, max(need, 2 * self._cap))
            for b in self._bins.values():
                b.ensure_capacity(self._cap)

    def _start(self, t: npt.NDArray[np.float64]) -> None:
        if self._next_end_bin is None:
            first_bin = math.floor(float(t.min()) / self.config.hop_s)
            self._next_end_bin = first_bin + self._n_bins - 1

    def _push_hr(
        self, t: npt.NDArray[np.float64], x: npt.NDArray[np.float64], rate: float | None
    ) -> None:
        """A device's heart rate: out-of-range values and a frozen reading become missing.

        Two channels: the rate (NaN where implausible) and 1.0 where it was implausible, so the
        stream's time still advances and the window knows the share.
        """
        lo, hi = HR_PLAUSIBLE_BPM
        finite = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            bad = finite & ~((x >= lo) & (x <= hi))  # NaN is missing, not implausible
        # runs of one value (carried across blocks): frozen once they last hr_flat_s
        value, since = self._hr_run
        flat = np.zeros(x.size, dtype=bool)
        for i, (ti, xi) in enumerate(zip(t.tolist(), x.tolist(), strict=True)):
            if xi != value:
                value, since = xi, ti
            elif ti - since >= self.config.hr_flat_s:
                flat[i] = True
        self._hr_run = (value, since)
        bad |= flat & finite
        self.implausible["hr"] += int(np.count_nonzero(bad & np.isfinite(t)))
        y = np.empty((x.size, 2))
        y[:, 0] = np.where(bad, np.nan, x)
        y[:, 1] = bad
        self._stream("hr", rate, channels=2).add(t, y)

    def _push_ecg(
        self, t: npt.NDArray[np.float64], x: npt.NDArray[np.float64], rate: float | None
    ) -> None:
        if self._ecg is None:
            try:
                detector = EcgPeakDetector(sampling_rate_hz=_rate("ECG", rate))
                fs = detector.sampling_rate_hz
                cleaner = EcgCleaner(sampling_rate_hz=fs) if self.keep_clean else None
            except ConfigError as exc:
                self._refuse("ecg", str(exc), t.size)
                return
            self._ecg, self._ecg_cleaner = detector, cleaner
        if self._ecg_cleaner is not None:
            y = self._ecg_cleaner.step(x)
            self._clean.append(CleanSignal("ecg_clean", "ecg", t, y[:, None], ("ecg_clean",)))
        self._peaks(self._ecg.step(x, t))

    def _peaks(self, peaks: EcgPeaks) -> None:
        """R peaks become beats of the ``rr`` stream."""
        if len(peaks) == 0:
            return
        times = peaks.t.tolist()
        if self._last_peak is not None:
            times.insert(0, self._last_peak)
        self._last_peak = times[-1]
        if peaks.ectopic.any():
            self._ectopic.extend(int(peaks.ectopic.sum()))[:, 0] = peaks.t[peaks.ectopic]
        if len(times) >= 2:
            flags = peaks.ectopic.tolist()[-(len(times) - 1) :]  # the beats ending each interval
            self._push_rr(times[1:], [b - a for a, b in itertools.pairwise(times)], flags)

    def _push_eda(
        self, t: npt.NDArray[np.float64], x: npt.NDArray[np.float64], rate: float | None
    ) -> None:
        if self._eda is None:
            try:
                self._eda = EdaProcessor(sampling_rate_hz=_rate("EDA", rate))
            except ConfigError as exc:
                self._refuse("eda", str(exc), t.size)
                return
        out = self._eda.step(x, t)
        # one stream of three channels: tonic, phasic (missing where bridged) and validity
        y = np.empty((out.t.size, 3))
        y[:, 0] = out.tonic
        y[:, 1] = out.phasic
        bridged = out.bridged | out.flat  # out of range, not finite, flat or clipped
        self.implausible["eda"] += int(np.count_nonzero(out.out_of_range | out.flat))
        np.logical_not(bridged, out=y[:, 2], casting="unsafe")
        if bridged.any():
            y[bridged, :2] = np.nan
        if self.keep_clean:
            clean = np.column_stack((out.clean, out.tonic, out.phasic))
            self._clean.append(CleanSignal("eda_clean", "eda", out.t, clean, _EDA_CLEAN))
        self._stream("eda", rate, channels=3).add(out.t, y)
        if len(out.scrs):
            self._scrs.extend(
                zip(out.scrs.peak_s.tolist(), out.scrs.amplitude_usiemens.tolist(), strict=True)
            )

    def _push_bvp(
        self, t: npt.NDArray[np.float64], x: npt.NDArray[np.float64], rate: float | None
    ) -> None:
        if self._ppg is None:
            try:
                self._ppg = PpgPeakDetector(sampling_rate_hz=_rate("PPG", rate))
            except ConfigError as exc:  # beat detection needs a nominal rate of 12.5 Hz or more
                self._refuse("bvp", str(exc), t.size)
                return
        # samples must come in time order with finite times (NaN values are the detector's)
        prev = np.maximum.accumulate(np.concatenate(([self._ppg_last_t], t[:-1])))
        ok = np.isfinite(t) & (t > prev)
        if not ok.all():
            self.dropped += int(t.size - np.count_nonzero(ok))
            t, x = t[ok], x[ok]
            if t.size == 0:
                return
        self._ppg_last_t = float(t[-1])
        self._stream("bvp", rate).add(t, x)
        beats = self._ppg.step(x, t)
        wave = self._ppg_wave.extend(t.size)
        wave[:, 0] = t
        wave[:, 1] = self._ppg.last_filtered
        wave[:, 2] = np.arange(self._ppg_n, self._ppg_n + t.size)
        self._ppg_n += t.size
        self._ppg_add(beats)

    def _ppg_add(self, beats: PpgBeats) -> None:
        if len(beats):
            rows = self._ppg_beats.extend(len(beats))
            rows[:, 0] = beats.t
            rows[:, 1] = beats.amplitude
            rows[:, 2] = beats.index

    def _push_rr(self, tl: list[float], rl: list[float], flags: list[bool] | None = None) -> None:
        """Beats (times and RR intervals) as lists: a beat or two per block. Beats that are not
        finite, not positive or not after the previous beat are dropped and counted. ``flags``:
        the ECG detector's ectopic class of each interval's ending beat (ECG beats only).
        """  # noqa: D205
        last = self._last_beat_t
        lo, hi = _RR_PLAUSIBLE_S
        if not (
            all(math.isfinite(x) for x in tl)
            and all(lo <= r <= hi for r in rl)
            and all(a < b for a, b in itertools.pairwise([last, *tl]))
        ):
            kept = []
            fl = flags if flags is not None else [False] * len(tl)
            for x, r, f in zip(tl, rl, fl, strict=True):
                if math.isfinite(x) and x > last and 0 < r < math.inf and not lo <= r <= hi:
                    self.implausible["rr"] += 1  # a beat no heart makes: missing
                    self._rr_implausible.append(x)
                elif math.isfinite(x) and lo <= r <= hi and x > last:
                    kept.append((x, r, f))
                    last = x
                else:
                    self.dropped += 1
            tl, rl = [x for x, _, _ in kept], [r for _, r, _ in kept]
            flags = None if flags is None else [f for _, _, f in kept]
        if not tl:
            return
        self._last_beat_t = tl[-1]
        # RR coverage: the RR intervals' durations summed per bin (start of data counts too)
        self._stream("rr", None).add(tl, rl)
        self._rr_pending.extend(tl)
        _rr, classes, nn, nn_index = self._rr_cleaner.step_list(rl, flags)
        self._classified(classes, nn, nn_index)

    def _classified(self, classes: list[int], nn: list[float], nn_index: list[int]) -> None:
        """Beats whose class is decided: their classes and NN intervals, for the windows."""
        if not classes:
            return
        first_index = self._rr_decided  # global index of classes[0]
        self._rr_decided += len(classes)
        times = [self._rr_pending.popleft() for _ in classes]
        self._rr_ready = times[-1]
        rows = self._classes.extend(len(times))
        rows[:, 0] = times
        rows[:, 1] = [c != _NORMAL for c in classes]
        if not nn:
            return
        rows = self._nn.extend(len(nn))
        rows[:, 0] = nn_t = [times[i - first_index] for i in nn_index]
        rows[:, 1] = nn
        if self._lf:
            if self._lomb_t0 is None:
                self._lomb_t0 = nn_t[0]
            rows[:, 2:] = lomb_terms(rows[:, 0] - self._lomb_t0, self._n_freqs)

    def _refuse(self, stream: str, reason: str, n: int) -> None:
        self._unusable[stream] = reason
        self.dropped += n

    @property
    def unusable(self) -> dict[str, str]:
        """Streams this extractor cannot process, with the reason (``{"ecg": "ECG sampling
        rate must be at least 100 Hz (got 15.5)"}``); their samples are dropped and counted.
        """  # noqa: D205
        return dict(self._unusable)

    # -- output -------------------------------------------------------------------------------
    def take_clean(self) -> list[CleanSignal]:
        """The cleaned signals computed since the last call (empty without ``keep_clean``)."""
        out, self._clean = self._clean, []
        return out

    def ready(self) -> list[WindowFeatures]:
        """Windows every active stream has passed, oldest first."""
        if self._next_end_bin is None:
            return []
        hop = self.config.hop_s
        # RR is ready up to its last classified beat (classification waits for two more)
        watermarks = [
            self._rr_ready if name == "rr" else self._watermark(name, b)
            for name, b in self._bins.items()
            if math.isfinite(b.watermark)
        ]
        if not watermarks:
            return []
        newest = max(watermarks)
        # a stream holds windows back until it has passed them, unless it went silent
        live = [w for w in watermarks if newest - w < self.config.stale_s]
        limit = min(live) if live else newest
        out: list[WindowFeatures] = []
        while (self._next_end_bin + 1) * hop <= limit:
            out.append(self._window(self._next_end_bin))
            self._next_end_bin += 1
        self._forget((self._next_end_bin + 1) * hop - self.config.window_s)
        return out

    def flush(self) -> list[WindowFeatures]:
        """End of the data: the windows it reaches that :meth:`ready` still holds back.

        The processors decide what they were waiting for (the ECG's last R peaks, the class
        of the last beats: their end is mirrored, as :meth:`RRCleaner.flush
        <wearsdk.signals.RRCleaner.flush>` does; the PPG's last beats), then every window up
        to the newest data of any stream is emitted, whichever stream lags. Call it once,
        when no more data will come (the extractor is then finished).
        """
        if self._ecg is not None:
            self._peaks(self._ecg.flush())
        art = self._rr_cleaner.flush()
        self._classified(art.classes.tolist(), art.nn_s.tolist(), art.nn_end_index.tolist())
        if self._ppg is not None:
            self._ppg_add(self._ppg.flush())
        if self._next_end_bin is None:
            return []
        watermarks = [
            self._rr_ready if name == "rr" else b.watermark
            for name, b in self._bins.items()
            if math.isfinite(b.watermark)
        ]
        out: list[WindowFeatures] = []
        if watermarks:
            newest = max(watermarks)
            while (self._next_end_bin + 1) * self.config.hop_s <= newest:
                out.append(self._window(self._next_end_bin))
                self._next_end_bin += 1
        return out

    def _watermark(self, name: str, b: BinnedStream) -> float:
        """How far a stream's windows are complete (PPG: as far as its beats are decided)."""
        if name == "bvp" and self._ppg is not None:
            return min(b.watermark, self._ppg.decided_until)
        return b.watermark

    def _forget(self, before: float) -> None:
        while self._scrs and self._scrs[0][0] <= before:
            self._scrs.popleft()
        while self._rr_implausible and self._rr_implausible[0] <= before:
            self._rr_implausible.popleft()
        self._nn.forget(before)
        self._classes.forget(before)
        self._ectopic.forget(before)
        self._ppg_beats.forget(math.nextafter(before, -math.inf))  # windows are [start, end)
        self._ppg_wave.forget(math.nextafter(before, -math.inf))

    # -- ECG beat classes (ectopic beats): one separate addition --------------------------------
    def _ectopic_quality(
        self, start: float, end: float, n_beats: int, quality: dict[str, float], flags: list[str]
    ) -> None:
        """Quality ``ecg_ectopic_fraction`` (beats the R-peak detector classed ectopic in the
        window, over its classified beats) and the flag
        ``frequent_ectopy`` above :data:`ECTOPIC_FLAG_FRACTION` (HRV then rests on few NN
        intervals). Only for ECG-timed beats: a device's RR has no beat shapes.
        """  # noqa: D205
        if self._ecg is None:
            return
        count = int(self._ectopic.window(start, end).shape[0])
        frac = count / n_beats if n_beats else 0.0
        quality["ecg_ectopic_fraction"] = min(1.0, frac)
        if frac > ECTOPIC_FLAG_FRACTION:
            flags.append("frequent_ectopy")

    def _ecg_hr_bpm(self, mean_rr_s: float) -> float | None:
        """Heart rate over every ECG beat of the window (ectopic ones count: the heart beat),
        from the mean of all its RR intervals; ``None`` for a device's RR, whose artifacts
        (missed or extra detections) only the NN series is free of.
        """  # noqa: D205
        if self._ecg is None or not mean_rr_s > 0:
            return None
        return 60.0 / mean_rr_s

    def _eda_window(
        self,
        end_bin: int,
        start: float,
        end: float,
        values: dict[str, float],
        quality: dict[str, float],
        flags: list[str],
        modalities: list[str],
    ) -> None:
        c = self.config
        nan = math.nan
        tonic, phasic, valid = self._bins["eda"].windows(end_bin, self._n_bins)
        quality["eda_coverage"] = valid.coverage
        quality["eda_valid"] = valid.mean if valid.n else 0.0
        ok = tonic.coverage >= c.min_coverage
        if valid.n and valid.mean < 0.5:
            flags.append("eda_invalid")
        if valid.n and valid.mean < 1.0:
            flags.append("implausible_eda")
        if not ok:
            flags.append("low_coverage_eda")
        peaks = [a for (p, a) in self._scrs if start < p <= end]
        values["scl_mean_usiemens"] = tonic.mean if ok else nan
        values["scl_slope_usiemens_per_min"] = 60 * tonic.slope_per_s if ok else nan
        values["phasic_mean_usiemens"] = phasic.mean if ok else nan
        values["scr_count"] = float(len(peaks)) if ok else nan
        values["scr_rate_per_min"] = 60.0 * len(peaks) / c.window_s if ok else nan
        values["scr_amplitude_mean_usiemens"] = (
            float(np.mean(peaks)) if ok and peaks else (0.0 if ok else nan)
        )
        if ok:
            modalities.append("eda")

    def _window(self, end_bin: int) -> WindowFeatures:
        c = self.config
        end = (end_bin + 1) * c.hop_s
        start = end - c.window_s
        nan = math.nan
        values: dict[str, float] = {}
        quality: dict[str, float] = {}
        flags: list[str] = []
        modalities: list[str] = []

        rr_bins = self._bins.get("rr")
        if rr_bins is not None:
            w = rr_bins.window(end_bin, self._n_bins)
            coverage = min(1.0, w.mean * w.n / c.window_s) if w.n else 0.0
            quality["rr_coverage"] = coverage
            n_bad = sum(1 for x in self._rr_implausible if start < x <= end)
            if n_bad:
                flags.append("implausible_rr")
            beats = self._nn.window(start, end)
            classes = self._classes.window(start, end)
            n_cls = classes.shape[0]
            corrected = float(np.add.reduce(classes[:, 1])) / n_cls if n_cls else nan
            self._ectopic_quality(start, end, n_cls, quality, flags)
            hr_all = self._ecg_hr_bpm(w.mean)
            if coverage >= c.min_coverage and beats.shape[0] >= 3:
                nn = beats[:, 1]
                hv = hrv_time(nn)
                values.update(
                    hr_mean_bpm=hv["hr_mean_bpm"] if hr_all is None else hr_all,
                    rmssd_s=hv["rmssd_s"],
                    sdnn_s=hv["sdnn_s"],
                    pnn50=hv["pnn50"],
                )
                if self._lf:
                    span = float(beats[-1, 0] - beats[0, 0])
                    if lomb_defined(nn.size, span):
                        fq = lomb_band_powers(beats[:, 2:], nn, span, self._n_freqs)
                        values.update(lf_hf_ratio=fq["lf_hf_ratio"], lf_nu=fq["lf_nu"])
                    else:
                        values.update(lf_hf_ratio=nan, lf_nu=nan)
                values["rr_corrected_fraction"] = corrected
                modalities.append("rr")
            else:
                flags.append("low_coverage_rr")
                values.update(hr_mean_bpm=nan, rmssd_s=nan, sdnn_s=nan, pnn50=nan)

        for name in ("hr", "acc", "temp"):
            stream = self._bins.get(name)
            if stream is None:
                continue
            if name == "hr":
                w, bad = stream.windows(end_bin, self._n_bins)
                quality["hr_implausible"] = bad.mean if bad.n else 0.0
                if bad.n and bad.mean > 0:
                    flags.append("implausible_hr")
            else:
                w = stream.window(end_bin, self._n_bins)
            quality[f"{name}_coverage"] = w.coverage
            ok = w.coverage >= c.min_coverage
            if not ok:
                flags.append(f"low_coverage_{name}")
            if name == "hr":
                values["hr_device_mean_bpm"] = w.mean if ok else nan
                values["hr_device_slope_bpm_per_min"] = 60 * w.slope_per_s if ok else nan
            elif name == "acc":
                values["acc_activity_g"] = w.std if ok else nan
                values["acc_mean_g"] = w.mean if ok else nan
                if ok and w.std > c.motion_threshold_g:
                    flags.append("motion")
            else:
                values["temp_mean_degc"] = w.mean if ok else nan
                values["temp_slope_degc_per_min"] = 60 * w.slope_per_s if ok else nan
            if ok:
                modalities.append(name)
        if "eda" in self._bins:
            self._eda_window(end_bin, start, end, values, quality, flags, modalities)
        bvp = self._bins.get("bvp")
        if bvp is not None:
            w = bvp.window(end_bin, self._n_bins)
            quality["bvp_coverage"] = w.coverage
            if w.coverage >= c.min_coverage:
                beats = self._ppg_beats.window(start, end, closed="left")
                feats, accepted = ppg_window_features(beats[:, 0], beats[:, 1])
                quality["bvp_beats_accepted"] = accepted
                wave = self._ppg_wave.window(start, end, closed="left")
                sqi = nan
                if wave.shape[0]:
                    sqi = ppg_sqi(wave[:, 1], (beats[:, 2] - wave[0, 2]).astype(np.int64))
                quality["bvp_sqi"] = sqi
                if sqi < PPG_SQI_THRESHOLD:
                    flags.append("bvp_noisy")
                values.update(feats)
                if math.isfinite(feats["ppg_amplitude_au"]):
                    modalities.append("bvp")
            else:
                flags.append("low_coverage_bvp")
                quality["bvp_beats_accepted"] = nan
                quality["bvp_sqi"] = nan
                values.update(dict.fromkeys(PPG_FEATURES, nan))
        flags.extend(f"unusable_{name}" for name in self._unusable)
        return WindowFeatures(
            start=start,
            end=end,
            values=values,
            quality=quality,
            flags=tuple(flags),
            modalities=tuple(modalities),
        )
