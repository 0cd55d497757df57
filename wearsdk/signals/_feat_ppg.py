"""Pulse-wave (PPG/BVP) window features, through :class:`~wearsdk.signals.PpgPeakDetector`."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._bins import BinnedStream
from wearsdk.signals._feat_base import (
    FeatureHost,
    FeatureProvider,
    Rows,
    WindowOutput,
    before_or_at,
    nominal_rate,
)
from wearsdk.signals._ppg import PpgBeats, PpgPeakDetector
from wearsdk.signals._ppg_window import (
    PPG_FEATURES,
    PPG_SQI_THRESHOLD,
    ppg_sqi,
    ppg_window_features,
)

__all__ = ["PpgFeatures"]


class PpgFeatures(FeatureProvider):
    """PPG/BVP (``bvp``, any unit, ``au``): :data:`~wearsdk.signals.PPG_FEATURES` (see
    :func:`~wearsdk.signals.ppg_window_features`); quality ``bvp_coverage``,
    ``bvp_beats_accepted`` and ``bvp_sqi`` (:func:`~wearsdk.signals.ppg_sqi` of the window's
    band-passed samples and beats); flag ``bvp_noisy`` when ``bvp_sqi`` is below
    :data:`~wearsdk.signals.PPG_SQI_THRESHOLD` (the features are kept: the flag says how far
    to trust them).

    Samples that are not after the previous one are dropped and counted.

    Args:
        host: the extractor that runs it.
    """  # noqa: D205

    streams: ClassVar[tuple[str, ...]] = ("bvp",)
    features: ClassVar[tuple[str, ...]] = PPG_FEATURES

    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host)
        self._ppg: PpgPeakDetector | None = None
        self._bins: BinnedStream | None = None
        self._beats = Rows(3)  # PPG beats: time, pulse amplitude, sample index
        self._wave = Rows(3)  # band-passed PPG samples: time, value, sample index
        self._n = 0  # samples given to the detector
        self._last_t = -math.inf

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Detect beats; keep them and the band-passed wave for the windows."""
        x = values[:, 0]
        if self._ppg is None:
            try:
                self._ppg = PpgPeakDetector(sampling_rate_hz=nominal_rate("PPG", rate))
            except ConfigError as exc:  # beat detection needs a nominal rate of 12.5 Hz or more
                self.host.refuse("bvp", str(exc), t.size)
                return
        # samples must come in time order with finite times (NaN values are the detector's)
        prev = np.maximum.accumulate(np.concatenate(([self._last_t], t[:-1])))
        ok = np.isfinite(t) & (t > prev)
        if not ok.all():
            self.host.dropped += int(t.size - np.count_nonzero(ok))
            t, x = t[ok], x[ok]
            if t.size == 0:
                return
        self._last_t = float(t[-1])
        if self._bins is None:
            self._bins = self.host.binned("bvp", rate)
        self._bins.add(t, x)
        beats = self._ppg.step(x, t)
        wave = self._wave.extend(t.size)
        wave[:, 0] = t
        wave[:, 1] = self._ppg.last_filtered
        wave[:, 2] = np.arange(self._n, self._n + t.size)
        self._n += t.size
        self._add(beats)

    def _add(self, beats: PpgBeats) -> None:
        if len(beats):
            rows = self._beats.extend(len(beats))
            rows[:, 0] = beats.t
            rows[:, 1] = beats.amplitude
            rows[:, 2] = beats.index

    def watermark(self, name: str, binned: BinnedStream, *, final: bool) -> float:
        """As far as its beats are decided (at the end of the data: its data)."""
        if final or self._ppg is None:
            return binned.watermark
        return min(binned.watermark, self._ppg.decided_until)

    def flush(self) -> None:
        """The last beats."""
        if self._ppg is not None:
            self._add(self._ppg.flush())

    def forget(self, before: float) -> None:
        """Drop beats and samples before the oldest pending window (windows are [start, end))."""
        self._beats.forget(before_or_at(before))
        self._wave.forget(before_or_at(before))

    def window(self, w: WindowOutput) -> None:
        """The PPG features of one window (see the class docs)."""
        if self._bins is None:
            return
        nan = math.nan
        s = self._bins.window(w.end_bin, w.n_bins)
        w.quality["bvp_coverage"] = s.coverage
        if s.coverage >= self.config.min_coverage:
            beats = self._beats.window(w.start, w.end, closed="left")
            feats, accepted = ppg_window_features(beats[:, 0], beats[:, 1])
            w.quality["bvp_beats_accepted"] = accepted
            wave = self._wave.window(w.start, w.end, closed="left")
            sqi = nan
            if wave.shape[0]:
                sqi = ppg_sqi(wave[:, 1], (beats[:, 2] - wave[0, 2]).astype(np.int64))
            w.quality["bvp_sqi"] = sqi
            if sqi < PPG_SQI_THRESHOLD:
                w.flags.append("bvp_noisy")
            w.values.update(feats)
            if math.isfinite(feats["ppg_amplitude_au"]):
                w.modalities.append("bvp")
        else:
            w.flags.append("low_coverage_bvp")
            w.quality["bvp_beats_accepted"] = nan
            w.quality["bvp_sqi"] = nan
            w.values.update(dict.fromkeys(PPG_FEATURES, nan))
