"""The session's processing stage: beats to windows to features to estimates, on the bus."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from wearsdk._errors import ConfigError
from wearsdk._events import Features, HeartRate
from wearsdk._types import SampleBlock
from wearsdk.affect import ProvisionalArousal
from wearsdk.bus import Bus
from wearsdk.signals import RRWindower, hrv_time

__all__ = ["PipelineConfig", "run_pipeline"]

logger = logging.getLogger("wearsdk.session")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Settings of the processing stage.

    Attributes:
        window_s: length of the feature windows in seconds.
        hop_s: hop between windows in seconds.
        baseline_s: seconds of data that calibrate each person's baseline.
        min_coverage: windows with less RR coverage are flagged and down-weighted.
    """

    window_s: float = 60.0
    hop_s: float = 1.0
    baseline_s: float = 120.0
    min_coverage: float = 0.6

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.hop_s > 0 and self.baseline_s >= 0):
            raise ConfigError(f"invalid pipeline configuration: {self!r}")
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ConfigError("min_coverage must be in [0, 1]")


@dataclass
class _SourceState:
    windower: RRWindower
    estimator: ProvisionalArousal
    contact_lost_until: float = float("-inf")
    contact_seen: list[float] = field(default_factory=list)


async def run_pipeline(bus: Bus, config: PipelineConfig) -> None:
    """Consume RR blocks and heart-rate events; publish features and estimates until cancelled.

    Reads ``physio/+/rr`` (RR sample blocks) and ``physio/+/hr`` (:class:`HeartRate`, for skin
    contact); publishes :class:`Features` on ``features/<source>/hrv`` and
    :class:`~wearsdk.Estimate` on ``affect/estimate``.
    """
    states: dict[str, _SourceState] = {}
    async with bus.subscribe(("physio/+/rr", "physio/+/hr"), maxsize=8192, policy="block") as sub:
        async for message in sub:
            payload = message.payload
            if isinstance(payload, HeartRate):
                state = states.get(payload.source)
                if state is None:
                    state = states[payload.source] = _new_state(config)
                if payload.contact is False:
                    state.contact_lost_until = payload.t
                continue
            if not isinstance(payload, SampleBlock) or payload.stream != "rr":
                continue
            source = payload.source
            state = states.get(source)
            if state is None:
                state = states[source] = _new_state(config)
            for window in state.windower.step(payload.t, payload.values[:, 0]):
                values = hrv_time(window.rr_s)
                flags = ("low_coverage",) if window.coverage < config.min_coverage else ()
                bus.publish_nowait(
                    f"features/{source}/hrv",
                    Features(
                        t=window.end,
                        source=source,
                        window_start=window.start,
                        window_end=window.end,
                        values=values,
                        quality={"coverage": window.coverage},
                        flags=flags,
                    ),
                )
                contact = False if state.contact_lost_until > window.start else None
                estimate = state.estimator.step(
                    window_start=window.start,
                    window_end=window.end,
                    features=values,
                    coverage=window.coverage,
                    contact=contact,
                )
                if estimate is not None:
                    bus.publish_nowait(
                        "affect/estimate", estimate.model_copy(update={"sources": (source,)})
                    )


def _new_state(config: PipelineConfig) -> _SourceState:
    return _SourceState(
        windower=RRWindower(length_s=config.window_s, hop_s=config.hop_s),
        estimator=ProvisionalArousal(
            baseline_s=config.baseline_s, min_coverage=config.min_coverage
        ),
    )
