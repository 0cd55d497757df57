"""Online window features from any mix of streams of one person, aligned on the session clock.

:class:`FeatureExtractor` takes sample blocks by stream name and emits one
:class:`WindowFeatures` per hop once every active stream has passed the window's end. Each
stream is processed once, as it arrives (RR artifact classification, EDA decomposition...), and
summarised into hop-long bins (see :mod:`wearsdk.signals._bins`), so a window costs the same
whatever its length and sampling rates; beat- and event-based features (HRV, SCRs) keep only the
beats and events of the longest window.

The work is done by one :class:`~wearsdk.signals.FeatureProvider` per modality
(:data:`DEFAULT_PROVIDERS`); the extractor routes each stream to the providers that take it,
decides when a window is complete, and asks every provider for its part of it. Every feature
name is registered in :data:`~wearsdk.signals.FEATURE_REGISTRY` (unit, modality, description);
the model files that read window features may name registered features only.

Streams understood (names as on the bus) and the features they give:

===========  =========================================================================
``rr``       s; through :class:`~wearsdk.signals.RRCleaner`: ``hr_mean_bpm``,
             ``rmssd_s``, ``sdnn_s``, ``pnn50``, ``lf_hf_ratio``, ``lf_nu``,
             ``rr_corrected_fraction``; quality ``rr_coverage``
``ecg``      any unit, through :class:`~wearsdk.signals.EcgPeakDetector`: its R peaks become
             the ``rr`` stream (and the device's own RR, if any, is then ignored: beats timed
             on the ECG are more precise); ``ecg_ectopic_count`` (beats classed ectopic),
             quality ``ecg_ectopic_fraction``, flag ``frequent_ectopy`` above
             :data:`ECTOPIC_FLAG_FRACTION` of the beats
``hr``       bpm (a device's own heart rate, 1 Hz): ``hr_device_mean_bpm``,
             ``hr_device_slope_bpm_per_min``
``acc``      mG, 3 channels: ``acc_activity_g`` (standard deviation of the magnitude),
             ``acc_mean_g``; flag ``motion`` above ``motion_threshold_g``; with a nominal
             rate of 7 Hz or more, ``acc_periodicity`` and ``acc_cadence_hz`` (rhythmic
             1-3 Hz movement such as pedalling; ``_feat_cadence.py``)
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

**Adding a feature** is one registry entry and one provider: register its
:class:`~wearsdk.signals.FeatureSpec` (in ``_feature_names.py`` for a shipped feature, appended
last; with :func:`~wearsdk.signals.register_feature` from outside), then either compute it in
the provider of its modality (``_feat_*.py``: add the name to the provider's ``features`` and
write it in ``window``) or write a new :class:`~wearsdk.signals.FeatureProvider` and pass
``providers=(*DEFAULT_PROVIDERS, MyFeatures)``. A provider may read what the providers before
it wrote into the same window (``WindowOutput.values``), so a feature derived from others needs
no data of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._bins import BinnedStream
from wearsdk.signals._feat_base import (
    HR_PLAUSIBLE_BPM,
    CleanSignal,
    FeatureConfig,
    FeatureHost,
    FeatureProvider,
    WindowFeatures,
    WindowOutput,
)
from wearsdk.signals._feat_cadence import AccCadenceFeatures
from wearsdk.signals._feat_cardiac import ECTOPIC_FLAG_FRACTION, CardiacFeatures
from wearsdk.signals._feat_eda import EdaFeatures
from wearsdk.signals._feat_levels import AccFeatures, DeviceHrFeatures, TempFeatures
from wearsdk.signals._feat_ppg import PpgFeatures
from wearsdk.signals._feature_names import FEATURE_REGISTRY

__all__ = [
    "DEFAULT_PROVIDERS",
    "ECTOPIC_FLAG_FRACTION",
    "HR_PLAUSIBLE_BPM",
    "CleanSignal",
    "FeatureConfig",
    "FeatureExtractor",
    "FeatureProviderFactory",
    "WindowFeatures",
]

FeatureProviderFactory = Callable[[FeatureHost], FeatureProvider]
"""What makes a provider for an extractor (a :class:`FeatureProvider` subclass is one)."""

DEFAULT_PROVIDERS: tuple[FeatureProviderFactory, ...] = (
    CardiacFeatures,
    DeviceHrFeatures,
    AccFeatures,
    AccCadenceFeatures,
    TempFeatures,
    EdaFeatures,
    PpgFeatures,
)
"""The providers of a default extractor, in the order their outputs (and flags) come."""


class FeatureExtractor:
    """Streams in, window features out (pure, synchronous, bounded memory).

    Args:
        config: window and quality settings.
        keep_clean: keep the cleaned ECG and EDA signals for :meth:`take_clean`.
        providers: the feature providers, in order (default :data:`DEFAULT_PROVIDERS`); a
            stream several providers take goes to each of them.

    Raises:
        ConfigError: a provider names a feature that is not registered
            (:func:`~wearsdk.signals.register_feature` it first).
    """

    def __init__(
        self,
        config: FeatureConfig | None = None,
        *,
        keep_clean: bool = False,
        providers: Sequence[FeatureProviderFactory] | None = None,
    ) -> None:
        self.config = config or FeatureConfig()
        self.keep_clean = keep_clean
        self._clean: list[CleanSignal] = []
        c = self.config
        self._n_bins = round(c.window_s / c.hop_s)
        self._cap = self._n_bins + round(max(c.stale_s, 10.0) / c.hop_s) + 2
        self._bins: dict[str, BinnedStream] = {}
        self._owner: dict[str, FeatureProvider] = {}  # bins name -> the provider of its clock
        self._next_end_bin: int | None = None
        self._heard: dict[FeatureProvider, float] = {}  # provider -> its newest input sample
        self.dropped = 0
        """Samples dropped (out of order, non-finite, unknown or unusable stream)."""
        self._unusable: dict[str, str] = {}
        self.implausible: dict[str, int] = {"hr": 0, "rr": 0, "eda": 0}
        """Samples treated as missing because no physiology produces them, by stream."""
        self._current: FeatureProvider | None = None  # the provider being called
        self.providers: tuple[FeatureProvider, ...] = tuple(
            make(self) for make in (DEFAULT_PROVIDERS if providers is None else providers)
        )
        """The providers, in order."""
        missing = FEATURE_REGISTRY.missing(f for p in self.providers for f in p.features)
        if missing:
            raise ConfigError(
                f"feature provider names unregistered features: {', '.join(missing)} "
                "(register them with wearsdk.signals.register_feature)"
            )
        self._routes: dict[str, tuple[FeatureProvider, ...]] = {}
        for p in self.providers:
            for s in p.streams:
                self._routes[s] = (*self._routes.get(s, ()), p)

    @property
    def features(self) -> tuple[str, ...]:
        """The names of the features its windows can carry, in registry order."""
        names = {f for p in self.providers for f in p.features}
        return tuple(n for n in FEATURE_REGISTRY if n in names)

    # -- what providers use (FeatureHost) ---------------------------------------------------------
    def binned(self, name: str, rate: float | None, channels: int = 1) -> BinnedStream:
        """The per-hop bins ``name`` (created on first use; see :class:`FeatureHost`)."""
        b = self._bins.get(name)
        if b is None:
            b = self._bins[name] = BinnedStream(
                hop_s=self.config.hop_s,
                capacity_bins=self._cap,
                nominal_rate_hz=rate,
                channels=channels,
            )
            if self._current is not None:
                self._owner[name] = self._current
        return b

    def refuse(self, stream: str, reason: str, n: int) -> None:
        """Declare ``stream`` unusable: its ``n`` samples and all later ones are dropped."""
        self._unusable[stream] = reason
        self.dropped += n

    def emit_clean(self, signal: CleanSignal) -> None:
        """Keep a cleaned block for :meth:`take_clean`."""
        self._clean.append(signal)

    # -- input --------------------------------------------------------------------------------
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
        t_max = self._make_room(tt)
        routes = self._routes.get(stream)
        if stream in self._unusable or routes is None:
            self.dropped += tt.size
            return
        heard = self._heard
        for p in routes:
            if t_max > heard.get(p, -math.inf):
                heard[p] = t_max
            self._current = p
            try:
                p.push(stream, tt, vv, nominal_rate_hz)
            finally:
                self._current = None

    def _make_room(self, t: npt.NDArray[np.float64]) -> float:
        """Grow every ring so that no bin a pending window needs is overwritten, even when one
        stream runs far ahead of the others (a large block, a late stream); return the
        block's latest (finite) time.
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
        return t_max

    def _start(self, t: npt.NDArray[np.float64]) -> None:
        if self._next_end_bin is None:
            first_bin = math.floor(float(t.min()) / self.config.hop_s)
            self._next_end_bin = first_bin + self._n_bins - 1

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

    def _watermarks(self, *, final: bool) -> list[float]:
        return [w for w, _ in self._marks(final=final)]

    def _marks(self, *, final: bool) -> list[tuple[float, float]]:
        """Of each active bins: how far its windows are complete (the provider's watermark)
        and the newest input its provider has been given.
        """  # noqa: D205
        out = []
        for name, b in self._bins.items():
            if math.isfinite(b.watermark):
                owner = self._owner.get(name)
                if owner is None:
                    out.append((b.watermark, b.watermark))
                else:
                    heard = self._heard.get(owner, b.watermark)
                    out.append((owner.watermark(name, b, final=final), heard))
        return out

    def ready(self) -> list[WindowFeatures]:
        """Windows every active stream has passed, oldest first.

        A stream stops holding windows back when it is stale: its input has been silent for
        ``stale_s`` (no sample of it while another stream's data advanced ``stale_s``), or
        its processing has fallen ``stale_s`` behind its own input (an ECG without
        detectable beats). The two are judged apart, so a stream delivered in larger blocks
        (a replay's, one stream's block published before another's) is not taken for a
        silent one as long as its blocks are shorter than ``stale_s``.
        """
        if self._next_end_bin is None:
            return []
        hop = self.config.hop_s
        marks = self._marks(final=False)
        if not marks:
            return []
        stale_s = self.config.stale_s
        newest = max(w for w, _ in marks)
        newest_input = max(h for _, h in marks)
        # a stream holds windows back until it has passed them, unless it went silent
        live = [w for w, h in marks if newest_input - h < stale_s and h - w < stale_s]
        limit = min(live) if live else newest
        out: list[WindowFeatures] = []
        while (self._next_end_bin + 1) * hop <= limit:
            out.append(self._window(self._next_end_bin))
            self._next_end_bin += 1
        before = (self._next_end_bin + 1) * hop - self.config.window_s
        for p in self.providers:
            p.forget(before)
        return out

    def flush(self) -> list[WindowFeatures]:
        """End of the data: the windows it reaches that :meth:`ready` still holds back.

        The providers decide what they were waiting for (the ECG's last R peaks, the class
        of the last beats: their end is mirrored, as :meth:`RRCleaner.flush
        <wearsdk.signals.RRCleaner.flush>` does; the PPG's last beats), then every window up
        to the newest data of any stream is emitted, whichever stream lags. Call it once,
        when no more data will come (the extractor is then finished).
        """
        for p in self.providers:
            p.flush()
        if self._next_end_bin is None:
            return []
        watermarks = self._watermarks(final=True)
        out: list[WindowFeatures] = []
        if watermarks:
            newest = max(watermarks)
            while (self._next_end_bin + 1) * self.config.hop_s <= newest:
                out.append(self._window(self._next_end_bin))
                self._next_end_bin += 1
        return out

    def _window(self, end_bin: int) -> WindowFeatures:
        end = (end_bin + 1) * self.config.hop_s
        w = WindowOutput(end_bin, self._n_bins, end - self.config.window_s, end)
        for p in self.providers:
            p.window(w)
        w.flags.extend(f"unusable_{name}" for name in self._unusable)
        return WindowFeatures(
            start=w.start,
            end=w.end,
            values=w.values,
            quality=w.quality,
            flags=tuple(w.flags),
            modalities=tuple(w.modalities),
        )
