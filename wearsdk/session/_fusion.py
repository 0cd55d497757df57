"""The session's fusion stage: physiological estimates and analyzer annotations, fused."""

from __future__ import annotations

from wearsdk._events import Annotation, Estimate
from wearsdk.affect import FusionConfig, LateFusion
from wearsdk.bus import Bus

__all__ = ["ESTIMATE_TOPIC", "PHYSIO_ESTIMATE_TOPIC", "run_fusion"]

PHYSIO_ESTIMATE_TOPIC = "affect/physio"
"""Where the processing stage publishes physiology-only estimates when fusion runs."""

ESTIMATE_TOPIC = "affect/estimate"
"""Where the session's (fused) estimates are published."""


async def run_fusion(bus: Bus, config: FusionConfig, fusion: LateFusion | None = None) -> None:
    """Fuse ``affect/physio`` estimates with ``analyzer/#`` annotations until cancelled.

    Publishes on ``affect/estimate``: one estimate per physiological window, on time, and
    revised estimates (``revised=True``) when late annotations change a window (see
    :class:`~wearsdk.affect.LateFusion`). The subscription uses the ``block`` policy, so
    nothing is lost behind a lossless replay.

    Args:
        bus: the session bus.
        config: fusion settings (used when ``fusion`` is not given).
        fusion: the fusion state to use (lets the caller read its statistics).
    """
    fuser = fusion or LateFusion(config)
    async with bus.subscribe(
        (PHYSIO_ESTIMATE_TOPIC, "analyzer/#"), maxsize=8192, policy="block"
    ) as sub:
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
