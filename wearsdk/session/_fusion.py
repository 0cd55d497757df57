"""The session's fusion stage: physiological estimates and analyzer annotations, fused."""

from __future__ import annotations

from wearsdk._events import Annotation, Estimate
from wearsdk.affect import FusionConfig, LateFusion
from wearsdk.bus import Bus, Subscription

__all__ = ["ESTIMATE_TOPIC", "FUSION_TOPICS", "PHYSIO_ESTIMATE_TOPIC", "run_fusion"]

PHYSIO_ESTIMATE_TOPIC = "affect/physio"
"""Where the processing stage publishes physiology-only estimates when fusion runs."""

ESTIMATE_TOPIC = "affect/estimate"
"""Where the session's (fused) estimates are published."""

FUSION_TOPICS = (PHYSIO_ESTIMATE_TOPIC, "analyzer/#")
"""The topics the fusion stage reads."""


async def run_fusion(
    bus: Bus,
    config: FusionConfig,
    fusion: LateFusion | None = None,
    *,
    subscription: Subscription | None = None,
) -> None:
    """Fuse ``affect/physio`` estimates with ``analyzer/#`` annotations until the input ends.

    Publishes on ``affect/estimate``: one estimate per physiological window, on time, and
    revised estimates (``revised=True``) when late annotations change a window (see
    :class:`~wearsdk.affect.LateFusion`). The subscription uses the ``block`` policy, so
    nothing is lost behind a lossless replay.

    Args:
        bus: the session bus.
        config: fusion settings (used when ``fusion`` is not given).
        fusion: the fusion state to use (lets the caller read its statistics).
        subscription: a subscription to :data:`FUSION_TOPICS` the caller made; closing it
            ends the stage once its queue is received, after the windows still held are
            published (the session's flush).
    """
    fuser = fusion or LateFusion(config)
    if subscription is None:
        subscription = bus.subscribe(FUSION_TOPICS, maxsize=8192, policy="block")
    async with subscription as sub:
        try:
            async for message in sub:
                payload = message.payload
                if isinstance(payload, Annotation):
                    fuser.add_annotation(payload)
                elif isinstance(payload, Estimate):
                    for estimate in fuser.add_physio(payload):
                        bus.publish_nowait(ESTIMATE_TOPIC, estimate)
        finally:
            if not bus.closed:
                for estimate in fuser.flush():
                    bus.publish_nowait(ESTIMATE_TOPIC, estimate)
