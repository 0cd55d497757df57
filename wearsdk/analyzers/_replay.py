"""Replaying file annotations against a session or a recording's clock."""

from __future__ import annotations

from collections.abc import Iterable

from wearsdk._errors import ConfigError
from wearsdk._events import Annotation
from wearsdk.analyzers._base import AnalyzerContext, annotation_topic
from wearsdk.analyzers._files import FileAnnotations

__all__ = ["AnnotationReplay"]


class AnnotationReplay:
    """An analyzer that publishes annotations read from a file (an offline video analysis).

    File time 0 (the start of the analysed media) is mapped onto the session clock at
    ``start`` (session seconds) or ``start_unix`` (when the media started, unix seconds; with
    a replayed recording, whose clock carries the recording's unix times, this lines the video
    up with the wearable data). Without either, file time 0 is when the replay starts.

    Args:
        annotations: annotations in file time (e.g. from :func:`read_openface_csv`).
        analyzer_id: this replay's id in the session.
        start: session time of file time 0.
        start_unix: unix time of file time 0.
        paced: publish each annotation when the session clock reaches its end (as a live
            analyzer would); ``False`` publishes everything at once (offline fusion).
        delay_s: extra delivery delay in session seconds (to test late-annotation handling).
    """

    modality = "mixed"

    def __init__(
        self,
        annotations: FileAnnotations | Iterable[Annotation],
        *,
        analyzer_id: str = "file-replay",
        start: float | None = None,
        start_unix: float | None = None,
        paced: bool = True,
        delay_s: float = 0.0,
    ) -> None:
        if start is not None and start_unix is not None:
            raise ConfigError("give start or start_unix, not both")
        if delay_s < 0:
            raise ConfigError("delay_s must be >= 0")
        items = annotations.annotations if isinstance(annotations, FileAnnotations) else annotations
        self.annotations: tuple[Annotation, ...] = tuple(sorted(items, key=lambda a: a.end))
        self.analyzer_id = analyzer_id
        self.start = start
        self.start_unix = start_unix
        self.paced = paced
        self.delay_s = float(delay_s)

    def shifted(self, offset: float) -> list[Annotation]:
        """The annotations moved by ``offset`` seconds (file time to session time)."""
        return [
            a.model_copy(
                update={"t": a.t + offset, "start": a.start + offset, "end": a.end + offset}
            )
            for a in self.annotations
        ]

    async def run(self, ctx: AnalyzerContext) -> None:
        """Publish every annotation on the session clock, then return."""
        if self.start_unix is not None:
            offset = ctx.clock.from_unix(self.start_unix)
        else:
            offset = self.start if self.start is not None else ctx.now()
        for annotation in self.shifted(offset):
            if self.paced:
                await ctx.sleep(annotation.end + self.delay_s - ctx.now())
                ctx.publish_annotation(annotation)
            else:
                await ctx.bus.publish(annotation_topic(annotation), annotation)
                ctx.published += 1
