"""Electrodermal window features, through :class:`~wearsdk.signals.EdaProcessor`."""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar, Unpack

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._bins import BinnedStream
from wearsdk.signals._eda import EdaOptions, EdaProcessor
from wearsdk.signals._feat_base import (
    CleanSignal,
    FeatureHost,
    FeatureProvider,
    WindowOutput,
    nominal_rate,
)
from wearsdk.signals._filters import FilterDescription

__all__ = ["EdaFeatures"]

_EDA_CLEAN = ("eda_clean", "eda_tonic", "eda_phasic")


class EdaFeatures(FeatureProvider):
    """EDA (``eda``, uS): ``scl_mean_usiemens``, ``scl_slope_usiemens_per_min``,
    ``phasic_mean_usiemens``, ``scr_count``, ``scr_rate_per_min``,
    ``scr_amplitude_mean_usiemens``; quality ``eda_coverage`` and ``eda_valid`` (share of
    samples that were not bridged); flags ``eda_invalid`` when under half are valid,
    ``implausible_eda``, ``low_coverage_eda``.

    Samples outside the sensor's range or on a flat or clipped line are counted in
    ``implausible["eda"]``. With the host's ``keep_clean``, the cleaned, tonic and phasic
    signals are kept as ``eda_clean``.

    A non-default processor is a provider made with its options:
    ``FeatureExtractor(providers=(..., functools.partial(EdaFeatures, lowpass_hz=1.0), ...))``.

    Args:
        host: the extractor that runs it.
        **options: settings of its :class:`~wearsdk.signals.EdaProcessor`
            (:class:`~wearsdk.signals.EdaOptions`).
    """  # noqa: D205

    streams: ClassVar[tuple[str, ...]] = ("eda",)
    features: ClassVar[tuple[str, ...]] = (
        "scl_mean_usiemens",
        "scl_slope_usiemens_per_min",
        "phasic_mean_usiemens",
        "scr_count",
        "scr_rate_per_min",
        "scr_amplitude_mean_usiemens",
    )

    def __init__(self, host: FeatureHost, **options: Unpack[EdaOptions]) -> None:
        super().__init__(host)
        self.options = options
        """Settings of its :class:`~wearsdk.signals.EdaProcessor` (its defaults otherwise)."""
        self._filtering: FilterDescription = {}
        self.processor: EdaProcessor | None = None
        """The EDA processor, once the stream's rate is known."""
        self._bins: BinnedStream | None = None
        self._scrs: deque[tuple[float, float]] = deque()  # (peak time, amplitude)

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Clean, decompose and find SCRs; bin tonic, phasic and validity."""
        if self.processor is None:
            try:
                self.processor = EdaProcessor(
                    sampling_rate_hz=nominal_rate("EDA", rate), **self.options
                )
            except ConfigError as exc:
                self.host.refuse("eda", str(exc), t.size)
                return
            self._filtering = self.processor.describe()
        out = self.processor.step(values[:, 0], t)
        # one stream of three channels: tonic, phasic (missing where bridged) and validity
        y = np.empty((out.t.size, 3))
        y[:, 0] = out.tonic
        y[:, 1] = out.phasic
        bridged = out.bridged | out.flat  # out of range, not finite, flat or clipped
        self.host.implausible["eda"] += int(np.count_nonzero(out.out_of_range | out.flat))
        np.logical_not(bridged, out=y[:, 2], casting="unsafe")
        if bridged.any():
            y[bridged, :2] = np.nan
        if self.host.keep_clean:
            clean = np.column_stack((out.clean, out.tonic, out.phasic))
            self.host.emit_clean(
                CleanSignal("eda_clean", "eda", out.t, clean, _EDA_CLEAN, self._filtering)
            )
        if self._bins is None:
            self._bins = self.host.binned("eda", rate, channels=3)
        self._bins.add(out.t, y)
        if len(out.scrs):
            self._scrs.extend(
                zip(out.scrs.peak_s.tolist(), out.scrs.amplitude_usiemens.tolist(), strict=True)
            )

    def forget(self, before: float) -> None:
        """Drop the SCRs before the oldest pending window."""
        while self._scrs and self._scrs[0][0] <= before:
            self._scrs.popleft()

    def window(self, w: WindowOutput) -> None:
        """The EDA features of one window (see the class docs)."""
        if self._bins is None:
            return
        c = self.config
        nan = math.nan
        tonic, phasic, valid = self._bins.windows(w.end_bin, w.n_bins)
        w.quality["eda_coverage"] = valid.coverage
        w.quality["eda_valid"] = valid.mean if valid.n else 0.0
        ok = tonic.coverage >= c.min_coverage
        if valid.n and valid.mean < 0.5:
            w.flags.append("eda_invalid")
        if valid.n and valid.mean < 1.0:
            w.flags.append("implausible_eda")
        if not ok:
            w.flags.append("low_coverage_eda")
        peaks = [a for (p, a) in self._scrs if w.start < p <= w.end]
        v = w.values
        v["scl_mean_usiemens"] = tonic.mean if ok else nan
        v["scl_slope_usiemens_per_min"] = 60 * tonic.slope_per_s if ok else nan
        v["phasic_mean_usiemens"] = phasic.mean if ok else nan
        v["scr_count"] = float(len(peaks)) if ok else nan
        v["scr_rate_per_min"] = 60.0 * len(peaks) / c.window_s if ok else nan
        v["scr_amplitude_mean_usiemens"] = (
            float(np.mean(peaks)) if ok and peaks else (0.0 if ok else nan)
        )
        if ok:
            w.modalities.append("eda")
