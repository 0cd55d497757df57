"""The registry of window feature names: what each feature is, in which unit, from which sensor.

Every value a :class:`~wearsdk.signals.FeatureExtractor` window carries has an entry here
(:class:`FeatureSpec`: name, unit, modality, description), and the model files that read
window features (``wearsdk/affect/models/*.json``) may reference registered names only: their
loader refuses a file naming a feature no provider computes. The order of
:data:`FEATURE_REGISTRY` is the channel order of the ``features`` LSL/XDF stream, so entries
are only ever appended (a recording made by an older version keeps its channel positions).

This module is plain data (no numpy), so validating a model file loads no signal processing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from wearsdk._errors import ConfigError

__all__ = ["FEATURE_REGISTRY", "FeatureRegistry", "FeatureSpec", "register_feature"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One window feature.

    Attributes:
        name: the key in :attr:`WindowFeatures.values <wearsdk.signals.WindowFeatures.values>`
            (``hr_mean_bpm``...); by convention it ends with its unit.
        unit: unit of its values (``bpm``, ``s``, ``uS``, ``ratio``, ``count``...), as written
            in the ``features`` stream's channel metadata.
        modality: the input stream it is computed from (``rr``, ``ecg``, ``hr``, ``acc``,
            ``temp``, ``eda``, ``bvp``).
        description: one line saying what it measures.
    """

    name: str
    unit: str
    modality: str
    description: str


class FeatureRegistry(Mapping[str, FeatureSpec]):
    """Feature specifications by name, in registration order (read-only but for
    :meth:`register`).

    Args:
        specs: the initial entries.
    """  # noqa: D205

    def __init__(self, specs: Iterable[FeatureSpec] = ()) -> None:
        self._specs: dict[str, FeatureSpec] = {}
        for spec in specs:
            self.register(spec)

    def __getitem__(self, name: str) -> FeatureSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def register(self, spec: FeatureSpec) -> FeatureSpec:
        """Add a feature (registering the same spec twice is harmless).

        Returns:
            ``spec``.

        Raises:
            ConfigError: the name is registered with another unit, modality or description,
                or is not a plain identifier.
        """
        if not spec.name.isidentifier():
            raise ConfigError(f"feature name {spec.name!r} is not a plain identifier")
        old = self._specs.get(spec.name)
        if old is not None and old != spec:
            raise ConfigError(f"feature {spec.name!r} is already registered as {old}")
        self._specs[spec.name] = spec
        return spec

    def missing(self, names: Iterable[str]) -> tuple[str, ...]:
        """The names that are not registered, in the given order, once each."""
        return tuple(dict.fromkeys(n for n in names if n not in self._specs))

    def of_modality(self, modality: str) -> tuple[FeatureSpec, ...]:
        """The features computed from one input stream."""
        return tuple(s for s in self._specs.values() if s.modality == modality)


def _spec(name: str, unit: str, modality: str, description: str) -> FeatureSpec:
    return FeatureSpec(name, unit, modality, description)


FEATURE_REGISTRY = FeatureRegistry(
    (
        # cardiac: RR intervals (a strap's own, or R peaks of an ECG), after artifact correction
        _spec("hr_mean_bpm", "bpm", "rr", "mean heart rate (ECG: every beat; a device's RR: NN)"),
        _spec("rmssd_s", "s", "rr", "root mean square of successive NN differences"),
        _spec("sdnn_s", "s", "rr", "standard deviation of the NN intervals"),
        _spec("pnn50", "ratio", "rr", "share of successive NN differences over 50 ms"),
        _spec("lf_hf_ratio", "ratio", "rr", "Lomb-Scargle LF (0.04-0.15 Hz) over HF power"),
        _spec("lf_nu", "normalized", "rr", "LF power over LF + HF"),
        _spec("rr_corrected_fraction", "ratio", "rr", "share of beats not classed normal"),
        # a device's own heart rate (1 Hz)
        _spec("hr_device_mean_bpm", "bpm", "hr", "mean of the device's heart rate"),
        # electrodermal activity, through EdaProcessor
        _spec("scl_mean_usiemens", "uS", "eda", "mean tonic skin conductance level"),
        _spec("scl_slope_usiemens_per_min", "uS/min", "eda", "least-squares slope of the SCL"),
        _spec("phasic_mean_usiemens", "uS", "eda", "mean phasic (response) component"),
        _spec("scr_count", "count", "eda", "skin conductance responses peaking in the window"),
        _spec("scr_rate_per_min", "1/min", "eda", "skin conductance responses per minute"),
        _spec("scr_amplitude_mean_usiemens", "uS", "eda", "mean SCR amplitude (0 without SCR)"),
        # accelerometer magnitude
        _spec("acc_activity_g", "g", "acc", "standard deviation of the ACC magnitude"),
        # skin temperature
        _spec("temp_mean_degc", "degC", "temp", "mean skin temperature"),
        _spec("temp_slope_degc_per_min", "degC/min", "temp", "least-squares slope of it"),
        # added later: appended, so that the earlier channels keep their positions
        _spec("hr_device_slope_bpm_per_min", "bpm/min", "hr", "slope of the device's heart rate"),
        _spec("acc_mean_g", "g", "acc", "mean ACC magnitude"),
        _spec("ppg_rate_bpm", "bpm", "bvp", "pulse rate, 60 / median kept pulse interval"),
        _spec("ppg_rate_p90_bpm", "bpm", "bvp", "90th percentile of the beat-to-beat pulse rate"),
        _spec("ppg_rate_sd_bpm", "bpm", "bvp", "standard deviation of the pulse rate"),
        _spec("ppg_rmssd_ms", "ms", "bvp", "RMSSD of the kept pulse intervals"),
        _spec("ppg_amplitude_au", "a.u.", "bvp", "median pulse amplitude, device units"),
        _spec("ppg_resp_hz", "Hz", "bvp", "respiratory rate from the pulse-rate variability"),
        _spec("ppg_resp_fraction", "ratio", "bvp", "respiratory share of the rate variability"),
        _spec("ecg_ectopic_count", "count", "ecg", "R peaks the ECG detector classed ectopic"),
        _spec("acc_periodicity", "ratio", "acc", "autocorrelation of 1-3 Hz rhythmic movement"),
        _spec("acc_cadence_hz", "Hz", "acc", "frequency of that rhythm (pedalling, steps)"),
    )
)
"""Every window feature of the shipped providers, in ``features`` stream channel order."""


def register_feature(spec: FeatureSpec) -> FeatureSpec:
    """Register a feature of a new provider in :data:`FEATURE_REGISTRY` (appended last).

    Returns:
        ``spec``.

    Raises:
        ConfigError: see :meth:`FeatureRegistry.register`.
    """
    return FEATURE_REGISTRY.register(spec)
