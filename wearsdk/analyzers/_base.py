"""The in-process analyzer contract: an object with ``async def run(ctx)`` that publishes."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable

from wearsdk._clock import SessionClock
from wearsdk._events import Annotation
from wearsdk.bus import Bus

__all__ = ["Analyzer", "AnalyzerContext", "annotation_topic"]


def annotation_topic(annotation: Annotation) -> str:
    """The bus topic of an annotation: ``analyzer/<modality>/<analyzer_id>``."""
    return f"analyzer/{annotation.modality}/{annotation.analyzer_id}"


class AnalyzerContext:
    """What a running analyzer gets from its session: the bus, the clock, a publish helper.

    Args:
        bus: the session's bus.
        clock: the session clock.
        analyzer_id: the analyzer's id (default for :meth:`publish`).
        modality: the analyzer's modality (default for :meth:`publish`).
    """

    def __init__(self, bus: Bus, clock: SessionClock, analyzer_id: str, modality: str) -> None:
        self.bus = bus
        self.clock = clock
        self.analyzer_id = analyzer_id
        self.modality = modality
        self.published = 0
        """Annotations published through this context."""

    def now(self) -> float:
        """The current session time."""
        return self.clock.now()

    async def sleep(self, session_seconds: float) -> None:
        """Sleep for ``session_seconds`` of session time (shorter on a fast clock)."""
        await asyncio.sleep(max(0.0, self.clock.real_delay_s(session_seconds)))

    def publish(
        self,
        start: float,
        end: float,
        *,
        arousal: float | None = None,
        valence: float | None = None,
        confidence: float = 1.0,
        emotions: dict[str, float] | None = None,
        label: str | None = None,
        extras: dict[str, Any] | None = None,
    ) -> Annotation:
        """Build an :class:`~wearsdk.Annotation` of this analyzer and publish it.

        Args:
            start: session time where the judged span starts.
            end: session time where it ends (also the annotation's ``t``).
            arousal: arousal in [0, 1].
            valence: valence in [-1, 1].
            confidence: the analyzer's confidence in [0, 1].
            emotions: categorical emotion probabilities.
            label: a free text label.
            extras: free-form JSON-serialisable extras.

        Returns:
            The published annotation.

        Raises:
            pydantic.ValidationError: a value out of its documented range.
        """
        annotation = Annotation(
            t=end,
            modality=self.modality,
            analyzer_id=self.analyzer_id,
            start=start,
            end=end,
            arousal=arousal,
            valence=valence,
            confidence=confidence,
            emotions=emotions or {},
            label=label,
            extras=extras or {},
        )
        self.publish_annotation(annotation)
        return annotation

    def publish_annotation(self, annotation: Annotation) -> None:
        """Publish a ready annotation on ``analyzer/<modality>/<analyzer_id>`` without waiting."""
        self.bus.publish_nowait(annotation_topic(annotation), annotation)
        self.published += 1


@runtime_checkable
class Analyzer(Protocol):
    """An in-process analyzer (camera, voice, text...): add it with ``session.add_analyzer``.

    The session runs ``await analyzer.run(ctx)`` in its task group; the analyzer publishes
    :class:`~wearsdk.Annotation` events through ``ctx.publish`` (times on ``ctx.clock``) until
    it returns or is cancelled when the session ends. Blocking work (a model's inference)
    belongs in ``asyncio.to_thread``, never on the event loop.
    """

    analyzer_id: str
    """Which analyzer this is (used in topics and in fused estimates' ``sources``)."""
    modality: str
    """``face``, ``voice``, ``text`` or another modality name."""

    async def run(self, ctx: AnalyzerContext) -> None:
        """Analyse and publish until done or cancelled."""
        ...
