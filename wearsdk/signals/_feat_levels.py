"""Window features of level streams: a device's heart rate, accelerometry, skin temperature.

Each is summarised into hop bins as it arrives; a window's mean, spread and slope then cost
one sum of bins (see :mod:`wearsdk.signals._bins`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from wearsdk.signals._bins import BinnedStream, WindowStats
from wearsdk.signals._feat_base import HR_PLAUSIBLE_BPM, FeatureHost, FeatureProvider, WindowOutput

__all__ = ["AccFeatures", "DeviceHrFeatures", "TempFeatures"]


class _LevelFeatures(FeatureProvider):
    """A stream of one name, binned; features from its window statistics."""

    name: ClassVar[str] = ""

    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host)
        self._bins: BinnedStream | None = None

    def _add(self, t: npt.NDArray[np.float64], y: npt.NDArray[np.float64], rate: float | None,
             channels: int = 1) -> None:  # fmt: skip
        if self._bins is None:
            self._bins = self.host.binned(self.name, rate, channels=channels)
        self._bins.add(t, y)

    def _stats(self, w: WindowOutput, bins: BinnedStream) -> WindowStats:
        return bins.window(w.end_bin, w.n_bins)

    def _values(self, w: WindowOutput, s: WindowStats, ok: bool) -> None:
        raise NotImplementedError

    def window(self, w: WindowOutput) -> None:
        """Coverage, the flag ``low_coverage_<stream>`` and the features (NaN below it)."""
        if self._bins is None:
            return
        s = self._stats(w, self._bins)
        w.quality[f"{self.name}_coverage"] = s.coverage
        ok = s.coverage >= self.config.min_coverage
        if not ok:
            w.flags.append(f"low_coverage_{self.name}")
        self._values(w, s, ok)
        if ok:
            w.modalities.append(self.name)


class DeviceHrFeatures(_LevelFeatures):
    """A device's own heart rate (``hr``, bpm, 1 Hz): ``hr_device_mean_bpm``,
    ``hr_device_slope_bpm_per_min``; quality ``hr_coverage``, ``hr_implausible``.

    Out-of-range values and a frozen reading (one value for ``hr_flat_s``) become missing,
    counted in ``implausible["hr"]`` and flagged ``implausible_hr``.

    Args:
        host: the extractor that runs it.
    """  # noqa: D205

    name = "hr"
    streams: ClassVar[tuple[str, ...]] = ("hr",)
    features: ClassVar[tuple[str, ...]] = ("hr_device_mean_bpm", "hr_device_slope_bpm_per_min")

    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host)
        self._hr_run: tuple[float, float] = (math.nan, math.nan)  # value, start of its run

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """A device's heart rate: out-of-range values and a frozen reading become missing.

        Two channels: the rate (NaN where implausible) and 1.0 where it was implausible, so the
        stream's time still advances and the window knows the share.
        """
        x = values[:, 0]
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
        self.host.implausible["hr"] += int(np.count_nonzero(bad & np.isfinite(t)))
        y = np.empty((x.size, 2))
        y[:, 0] = np.where(bad, np.nan, x)
        y[:, 1] = bad
        self._add(t, y, rate, channels=2)

    def _stats(self, w: WindowOutput, bins: BinnedStream) -> WindowStats:
        s, bad = bins.windows(w.end_bin, w.n_bins)
        w.quality["hr_implausible"] = bad.mean if bad.n else 0.0
        if bad.n and bad.mean > 0:
            w.flags.append("implausible_hr")
        return s

    def _values(self, w: WindowOutput, s: WindowStats, ok: bool) -> None:
        w.values["hr_device_mean_bpm"] = s.mean if ok else math.nan
        w.values["hr_device_slope_bpm_per_min"] = 60 * s.slope_per_s if ok else math.nan


class AccFeatures(_LevelFeatures):
    """Accelerometry (``acc``, mG, 3 channels): ``acc_activity_g`` (standard deviation of the
    magnitude), ``acc_mean_g``; quality ``acc_coverage``; flag ``motion`` above
    ``motion_threshold_g``.

    Args:
        host: the extractor that runs it.
    """  # noqa: D205

    name = "acc"
    streams: ClassVar[tuple[str, ...]] = ("acc",)
    features: ClassVar[tuple[str, ...]] = ("acc_activity_g", "acc_mean_g")

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Bin the magnitude, in g."""
        xyz = values[:, :3]
        mag = np.sqrt(np.einsum("ij,ij->i", xyz, xyz)) / 1000.0  # mG -> g
        self._add(t, mag, rate)

    def _values(self, w: WindowOutput, s: WindowStats, ok: bool) -> None:
        w.values["acc_activity_g"] = s.std if ok else math.nan
        w.values["acc_mean_g"] = s.mean if ok else math.nan
        if ok and s.std > self.config.motion_threshold_g:
            w.flags.append("motion")


class TempFeatures(_LevelFeatures):
    """Skin temperature (``temp``, degC): ``temp_mean_degc``, ``temp_slope_degc_per_min``;
    quality ``temp_coverage``.

    Args:
        host: the extractor that runs it.
    """  # noqa: D205

    name = "temp"
    streams: ClassVar[tuple[str, ...]] = ("temp",)
    features: ClassVar[tuple[str, ...]] = ("temp_mean_degc", "temp_slope_degc_per_min")

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Bin the temperature."""
        self._add(t, values[:, 0], rate)

    def _values(self, w: WindowOutput, s: WindowStats, ok: bool) -> None:
        w.values["temp_mean_degc"] = s.mean if ok else math.nan
        w.values["temp_slope_degc_per_min"] = 60 * s.slope_per_s if ok else math.nan
