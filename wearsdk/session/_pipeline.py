"""The session's processing stage: streams to window features to estimates, on the bus."""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass, field
from typing import cast

from wearsdk._errors import ConfigError
from wearsdk._events import Command, Features, HeartRate
from wearsdk._types import SampleBlock
from wearsdk.affect import ArousalEstimator, StressLevelConfig, load_arousal_params
from wearsdk.bus import Bus, Subscription
from wearsdk.signals._eda import EdaOptions, EdaProcessor
from wearsdk.signals._feat_eda import EdaFeatures
from wearsdk.signals._features import (
    DEFAULT_PROVIDERS,
    CleanSignal,
    FeatureConfig,
    FeatureExtractor,
    FeatureProviderFactory,
    WindowFeatures,
)

__all__ = ["PIPELINE_TOPICS", "PipelineConfig", "run_pipeline"]

logger = logging.getLogger("wearsdk.session")

_STREAMS = ("rr", "ecg", "hr", "acc", "temp", "eda", "bvp")
_CALIBRATE = ("calibrate_start", "calibrate_stop")
PIPELINE_TOPICS = (*(f"physio/+/{s}" for s in _STREAMS), *(f"control/{c}" for c in _CALIBRATE))
"""The topics the processing stage reads."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Settings of the processing stage.

    Attributes:
        window_s: length of the feature windows in seconds (a whole number of hops).
        hop_s: hop between windows in seconds.
        baseline_s: seconds of windows, from the first, that calibrate the wearer's personal
            baseline (the shipped model was validated with 180 s); estimates made before it is
            complete carry the ``calibrating`` flag and a lower confidence.
        min_coverage: windows with less data are flagged and their features left undefined.
        stale_s: a stream silent for this long (or whose processing has fallen this far
            behind its own input) stops holding windows back.
        stress_levels: thresholds, hysteresis and dwell of the ``stress_level`` of estimates;
            ``None`` uses the shipped model's (see :class:`~wearsdk.affect.StressLevelConfig`).
        publish_clean: also publish the cleaned signals the pipeline computes, as sample
            blocks aligned sample for sample with the raw ones (same timestamps, causal
            filters: see :func:`run_pipeline`); features and estimates are unchanged.
        eda_options: settings of the EDA processor (:class:`~wearsdk.signals.EdaOptions`;
            ``None``: its defaults, as the shipped model was validated with); the cleaned
            ``eda_clean`` stream's metadata describes the processor actually configured. In a
            session file and in :meth:`settings` they are the ``eda_<option>`` keys of
            ``[pipeline]`` (``eda_lowpass_hz = 2.0``).
    """

    window_s: float = 60.0
    hop_s: float = 1.0
    baseline_s: float = 180.0
    min_coverage: float = 0.6
    stale_s: float = 10.0
    stress_levels: StressLevelConfig | None = None
    publish_clean: bool = False
    eda_options: EdaOptions | None = None

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.hop_s > 0 and self.baseline_s >= 0):
            raise ConfigError(f"invalid pipeline configuration: {self!r}")
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ConfigError("min_coverage must be in [0, 1]")
        self.features()  # validates the window/hop combination
        if self.eda_options:  # an unknown or invalid option fails here, not at the first block
            try:
                EdaProcessor(sampling_rate_hz=1000.0, **self.eda_options)
            except TypeError as exc:
                raise ConfigError(f"eda_options: {exc}") from None

    def settings(self) -> dict[str, float | bool | list[float]]:
        """The settings a recording keeps (the keys of a session file's ``[pipeline]``), so
        that a replay can run with them (``wearsdk replay`` does)."""  # noqa: D205, D209
        out: dict[str, float | bool | list[float]] = {
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "baseline_s": self.baseline_s,
            "min_coverage": self.min_coverage,
            "stale_s": self.stale_s,
            "publish_clean": self.publish_clean,
        }
        if self.stress_levels is not None:
            out["stress_min_dwell_s"] = self.stress_levels.min_dwell_s
        for key, value in (self.eda_options or {}).items():
            out[f"eda_{key}"] = list(value) if isinstance(value, tuple) else cast(float, value)
        return out

    def features(self) -> FeatureConfig:
        """The feature-extraction settings."""
        return FeatureConfig(
            window_s=self.window_s,
            hop_s=self.hop_s,
            min_coverage=self.min_coverage,
            stale_s=self.stale_s,
        )

    def feature_providers(self) -> tuple[FeatureProviderFactory, ...]:
        """The feature providers of the processing stage (the defaults, configured)."""
        if not self.eda_options:
            return DEFAULT_PROVIDERS
        eda = functools.partial(EdaFeatures, **self.eda_options)
        return tuple(eda if p is EdaFeatures else p for p in DEFAULT_PROVIDERS)


WEARER = "wearer"
"""Source id of the session's wearer in ``features/`` topics and multi-source estimates."""

# which feature streams a bus stream feeds (HeartRate events feed "hr")
_FEEDS = {
    "rr": "rr",
    "ecg": "rr",
    "hr": "hr",
    "acc": "acc",
    "temp": "temp",
    "eda": "eda",
    "bvp": "bvp",
}


@dataclass
class _WearerState:
    extractor: FeatureExtractor
    estimator: ArousalEstimator
    owners: dict[str, str] = field(default_factory=dict)  # feature stream -> source
    ignored: int = 0
    contact_lost_at: list[float] = field(default_factory=list)


async def run_pipeline(
    bus: Bus,
    config: PipelineConfig,
    *,
    estimate_topic: str = "affect/estimate",
    subscription: Subscription | None = None,
) -> None:
    """Consume physiological streams; publish features and estimates until the input ends.

    All sources of a session are taken to be worn by one person (a strap and a wristband
    together): their streams feed one :class:`~wearsdk.signals.FeatureExtractor`. Each stream
    kind is owned by the first source that sends it (a second strap's RR is ignored and
    counted, not mixed in). Reads ``physio/+/<stream>`` sample blocks (``rr``, ``ecg``, ``hr``,
    ``acc``, ``temp``, ``eda``) and :class:`HeartRate` events (device heart rate and skin
    contact); publishes :class:`Features` on ``features/wearer`` and
    :class:`~wearsdk.Estimate` on ``affect/estimate``, scored by
    :class:`~wearsdk.affect.ArousalEstimator` (the shipped model, a personal baseline
    calibrated over ``baseline_s``, stress levels). A window during which the strap reported
    lost skin contact gets the ``no_contact`` flag and a much lower confidence. The commands
    ``control/calibrate_start`` and ``control/calibrate_stop`` (:meth:`Session.calibrate`,
    or MQTT) recalibrate the baseline from the windows emitted in between. Its subscription
    uses the ``block`` policy, so replays that await ``bus.publish`` are processed losslessly.
    When the session fuses analyzers, estimates go to ``estimate_topic`` (``affect/physio``)
    for the fusion stage.

    With ``config.publish_clean``, the cleaned signals of the streams it processes go out as
    :class:`~wearsdk.SampleBlock` on ``physio/<source>/ecg_clean`` (causal 0.5-40 Hz band-pass,
    :class:`~wearsdk.signals.EcgCleaner`, the raw block's unit) and ``physio/<source>/eda_clean``
    (channels ``eda_clean``, ``eda_tonic``, ``eda_phasic`` in uS, from the
    :class:`~wearsdk.signals.EdaProcessor` the features come from), one block per raw block
    with its timestamps: samples are not shifted, so they carry the filters' group delay.

    The input ends when the bus closes, or when ``subscription`` (a subscription to
    :data:`PIPELINE_TOPICS` the caller made, ``block`` policy recommended) is closed: what is
    queued is processed first, so the last windows are published (the session closes it to
    flush the stage before its sinks drain).
    """
    params = load_arousal_params()
    state = _WearerState(
        extractor=FeatureExtractor(
            config.features(),
            keep_clean=config.publish_clean,
            providers=config.feature_providers(),
        ),
        estimator=ArousalEstimator(
            params,
            baseline=dataclasses.replace(params.baseline, calibration_s=config.baseline_s),
            stress_levels=config.stress_levels,
        ),
    )
    if subscription is None:
        subscription = bus.subscribe(PIPELINE_TOPICS, maxsize=8192, policy="block")
    async with subscription as sub:
        async for message in sub:
            payload = message.payload
            if isinstance(payload, Command):
                if payload.name == "calibrate_start":
                    state.estimator.start_calibration()
                elif payload.name == "calibrate_stop":
                    state.estimator.stop_calibration()
                continue
            if isinstance(payload, HeartRate):
                stream = "hr"
            elif isinstance(payload, SampleBlock):
                stream = payload.stream
            else:
                continue
            feeds = _FEEDS.get(stream)
            if feeds is None:
                continue
            owner = state.owners.setdefault(feeds, payload.source)
            if owner != payload.source:
                state.ignored += 1
                continue
            if isinstance(payload, HeartRate):
                if payload.contact is False:
                    state.contact_lost_at.append(payload.t)
                state.extractor.push("hr", [payload.t], [payload.hr_bpm], nominal_rate_hz=1.0)
            else:
                state.extractor.push(
                    payload.stream,
                    payload.t,
                    payload.values,
                    nominal_rate_hz=payload.nominal_rate_hz,
                )
                if config.publish_clean:
                    _publish_clean(bus, payload, state.extractor.take_clean())
            _emit(bus, state, estimate_topic, state.extractor.ready())
        # the input ended (the session flushes, or a replay finished): the processors decide
        # what they held back and the windows the data reaches are published too
        _emit(bus, state, estimate_topic, state.extractor.flush())


def _emit(
    bus: Bus, state: _WearerState, estimate_topic: str, windows: list[WindowFeatures]
) -> None:
    """Publish the features and the estimate of each window."""
    for window in windows:
        # built only when someone reads the features (not for a replay's estimates alone)
        bus.publish_nowait_lazy(f"features/{WEARER}", functools.partial(_features, window))
        # contact reports inside this window only (later ones belong to later windows)
        state.contact_lost_at = [t for t in state.contact_lost_at if t > window.start]
        lost = any(t <= window.end for t in state.contact_lost_at)
        estimate = state.estimator.step(
            window_start=window.start,
            window_end=window.end,
            features=window.values,
            coverage=window.quality.get("rr_coverage", 0.0),
            contact=False if lost else None,
            modalities=window.modalities,
            flags=window.flags,
            quality=window.quality,
        )
        if estimate is not None:
            sources = tuple(
                dict.fromkeys(state.owners[m] for m in window.modalities if m in state.owners)
            )
            bus.publish_nowait(estimate_topic, estimate.model_copy(update={"sources": sources}))


def _features(window: WindowFeatures) -> Features:
    return Features(
        t=window.end,
        source=WEARER,
        window_start=window.start,
        window_end=window.end,
        values=window.values,
        quality=window.quality,
        flags=window.flags,
    )


def _publish_clean(bus: Bus, raw: SampleBlock, signals: list[CleanSignal]) -> None:
    """Publish the cleaned signals of ``raw`` as sample blocks of its source and rate."""
    for c in signals:
        unit = raw.unit if c.source_stream == "ecg" else "uS"
        block = SampleBlock(
            source=raw.source,
            stream=c.stream,
            unit=unit,
            t=c.t,
            values=c.values,
            channels=c.channels,
            nominal_rate_hz=raw.nominal_rate_hz,
            filtering=c.filtering,
        )
        bus.publish_nowait(f"physio/{raw.source}/{c.stream}", block)
