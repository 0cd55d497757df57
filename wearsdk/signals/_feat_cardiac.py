"""Cardiac window features: RR intervals (a strap's own, or the R peaks of an ECG) and HRV.

``rr`` (s) goes through :class:`~wearsdk.signals.RRCleaner`; ``ecg`` (any unit) through
:class:`~wearsdk.signals.EcgPeakDetector`, whose R peaks then become the ``rr`` stream (and the
device's own RR, if any, is ignored: beats timed on the ECG are more precise).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._bins import BinnedStream
from wearsdk.signals._ecg import EcgCleaner, EcgPeakDetector, EcgPeaks
from wearsdk.signals._feat_base import (
    HR_PLAUSIBLE_BPM,
    CleanSignal,
    FeatureHost,
    FeatureProvider,
    Rows,
    WindowOutput,
    nominal_rate,
)
from wearsdk.signals._filters import FilterDescription
from wearsdk.signals._hrv import (
    BeatClass,
    RRCleaner,
    lomb_band_powers,
    lomb_defined,
    lomb_n_freqs,
    lomb_terms,
)
from wearsdk.signals._rr import rr_time_domain

__all__ = ["ECTOPIC_FLAG_FRACTION", "CardiacFeatures"]

_RR_PLAUSIBLE_S = (60.0 / HR_PLAUSIBLE_BPM[1], 60.0 / HR_PLAUSIBLE_BPM[0])
_NORMAL = int(BeatClass.NORMAL)  # a plain int: numpy compares with an IntEnum slowly
ECTOPIC_FLAG_FRACTION = 0.1
"""Windows where more than this share of the ECG beats are ectopic are flagged
``frequent_ectopy``."""


class CardiacFeatures(FeatureProvider):
    """``hr_mean_bpm``, ``rmssd_s``, ``sdnn_s``, ``pnn50``, ``lf_hf_ratio``, ``lf_nu``,
    ``rr_corrected_fraction`` and, for ECG beats, ``ecg_ectopic_count``; quality
    ``rr_coverage`` and ``ecg_ectopic_fraction``; flags ``low_coverage_rr``,
    ``implausible_rr``, ``frequent_ectopy``.

    Args:
        host: the extractor that runs it.
    """  # noqa: D205

    streams: ClassVar[tuple[str, ...]] = ("rr", "ecg")
    features: ClassVar[tuple[str, ...]] = (
        "hr_mean_bpm",
        "rmssd_s",
        "sdnn_s",
        "pnn50",
        "lf_hf_ratio",
        "lf_nu",
        "rr_corrected_fraction",
        "ecg_ectopic_count",
    )

    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host)
        c = self.config
        self._rr_cleaner = RRCleaner()
        self._rr_pending: deque[float] = deque()  # times of the beats awaiting their class
        self._rr_implausible: deque[float] = deque()  # times of implausible RR intervals
        # LF/HF on one frequency grid for every window (the default grid of its length), so
        # each NN beat's Lomb-Scargle terms are computed once, when it arrives
        self._lf = c.window_s >= c.lf_min_window_s
        self._n_freqs = lomb_n_freqs(c.window_s)
        self._lomb_t0: float | None = None  # time origin of the terms
        # NN beats: time, interval, then (with LF/HF) their Lomb-Scargle terms
        self._nn = Rows(2 + (4 * self._n_freqs if self._lf else 0))
        self._classes = Rows(2)  # classified beats: time, 1.0 when not normal
        self._ectopic = Rows(1)  # ECG beats the R-peak detector classified ectopic: time
        self._ecg: EcgPeakDetector | None = None
        self._ecg_cleaner: EcgCleaner | None = None
        self._filtering: FilterDescription = {}
        self._last_peak: float | None = None
        self._rr_decided = 0
        self._rr_ready = -math.inf  # time of the last beat whose class is decided
        self._last_beat_t = -math.inf  # beats are kept in time order
        self._rr_bins: BinnedStream | None = None  # once a beat arrived

    # -- input --------------------------------------------------------------------------------
    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Take RR intervals (ignored once an ECG times the beats) or an ECG block."""
        if stream == "ecg":
            self._push_ecg(t, values[:, 0], rate)
        elif self._ecg is None:
            self._push_rr(t.tolist(), values[:, 0].tolist())

    def _push_ecg(
        self, t: npt.NDArray[np.float64], x: npt.NDArray[np.float64], rate: float | None
    ) -> None:
        if self._ecg is None:
            try:
                detector = EcgPeakDetector(sampling_rate_hz=nominal_rate("ECG", rate))
                fs = detector.sampling_rate_hz
                cleaner = EcgCleaner(sampling_rate_hz=fs) if self.host.keep_clean else None
            except ConfigError as exc:
                self.host.refuse("ecg", str(exc), t.size)
                return
            self._ecg, self._ecg_cleaner = detector, cleaner
            self._filtering = {} if cleaner is None else cleaner.describe()
        if self._ecg_cleaner is not None:
            y = self._ecg_cleaner.step(x)
            self.host.emit_clean(
                CleanSignal("ecg_clean", "ecg", t, y[:, None], ("ecg_clean",), self._filtering)
            )
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
                    self.host.implausible["rr"] += 1  # a beat no heart makes: missing
                    self._rr_implausible.append(x)
                elif math.isfinite(x) and lo <= r <= hi and x > last:
                    kept.append((x, r, f))
                    last = x
                else:
                    self.host.dropped += 1
            tl, rl = [x for x, _, _ in kept], [r for _, r, _ in kept]
            flags = None if flags is None else [f for _, _, f in kept]
        if not tl:
            return
        self._last_beat_t = tl[-1]
        # RR coverage: the RR intervals' durations summed per bin (start of data counts too)
        if self._rr_bins is None:
            self._rr_bins = self.host.binned("rr", None)
        self._rr_bins.add(tl, rl)
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

    # -- the windows' clock -------------------------------------------------------------------
    def watermark(self, name: str, binned: BinnedStream, *, final: bool) -> float:
        """RR is ready up to its last classified beat (classification waits for two more)."""
        return self._rr_ready

    def flush(self) -> None:
        """The ECG's last R peaks, then the class of the last beats (their end mirrored)."""
        if self._ecg is not None:
            self._peaks(self._ecg.flush())
        art = self._rr_cleaner.flush()
        self._classified(art.classes.tolist(), art.nn_s.tolist(), art.nn_end_index.tolist())

    def forget(self, before: float) -> None:
        """Drop the beats before the oldest pending window."""
        while self._rr_implausible and self._rr_implausible[0] <= before:
            self._rr_implausible.popleft()
        self._nn.forget(before)
        self._classes.forget(before)
        self._ectopic.forget(before)

    # -- output -------------------------------------------------------------------------------
    def _ectopic_quality(self, w: WindowOutput, n_beats: int, ok: bool) -> None:
        """Feature ``ecg_ectopic_count`` (beats the R-peak detector classed ectopic in the
        window; NaN below the window's minimum coverage), quality ``ecg_ectopic_fraction``
        (that count over the window's classified beats) and the flag ``frequent_ectopy`` above
        :data:`ECTOPIC_FLAG_FRACTION` (HRV then rests on few NN intervals). Only for ECG-timed
        beats: a device's RR has no beat shapes.
        """  # noqa: D205
        if self._ecg is None:
            return
        count = int(self._ectopic.window(w.start, w.end).shape[0])
        frac = count / n_beats if n_beats else 0.0
        w.quality["ecg_ectopic_fraction"] = min(1.0, frac)
        w.values["ecg_ectopic_count"] = float(count) if ok else math.nan
        if frac > ECTOPIC_FLAG_FRACTION:
            w.flags.append("frequent_ectopy")

    def window(self, w: WindowOutput) -> None:
        """The cardiac features of one window (see the class docs)."""
        rr_bins = self._rr_bins
        if rr_bins is None:
            return
        c = self.config
        nan = math.nan
        b = rr_bins.window(w.end_bin, w.n_bins)
        coverage = min(1.0, b.mean * b.n / c.window_s) if b.n else 0.0
        w.quality["rr_coverage"] = coverage
        if any(w.start < x <= w.end for x in self._rr_implausible):
            w.flags.append("implausible_rr")
        beats = self._nn.window(w.start, w.end)
        classes = self._classes.window(w.start, w.end)
        n_cls = classes.shape[0]
        corrected = float(np.add.reduce(classes[:, 1])) / n_cls if n_cls else nan
        ok = coverage >= c.min_coverage and beats.shape[0] >= 3
        self._ectopic_quality(w, n_cls, coverage >= c.min_coverage)
        # ECG: heart rate over every beat (ectopic ones count: the heart beat), from the mean
        # of all its RR intervals; a device's RR: only the NN series is free of its artifacts
        hr_all = 60.0 / b.mean if self._ecg is not None and b.mean > 0 else None
        if ok:
            nn = beats[:, 1]
            hv = rr_time_domain(nn)
            w.values.update(
                hr_mean_bpm=hv["hr_mean_bpm"] if hr_all is None else hr_all,
                rmssd_s=hv["rmssd_s"],
                sdnn_s=hv["sdnn_s"],
                pnn50=hv["pnn50"],
            )
            if self._lf:
                span = float(beats[-1, 0] - beats[0, 0])
                if lomb_defined(nn.size, span):
                    fq = lomb_band_powers(beats[:, 2:], nn, span, self._n_freqs)
                    w.values.update(lf_hf_ratio=fq["lf_hf_ratio"], lf_nu=fq["lf_nu"])
                else:
                    w.values.update(lf_hf_ratio=nan, lf_nu=nan)
            w.values["rr_corrected_fraction"] = corrected
            w.modalities.append("rr")
        else:
            w.flags.append("low_coverage_rr")
            w.values.update(hr_mean_bpm=nan, rmssd_s=nan, sdnn_s=nan, pnn50=nan)
