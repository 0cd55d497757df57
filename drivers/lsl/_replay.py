"""Replay an XDF recording through a session, with its original timestamps."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pylsl
from pydantic import ValidationError

from wearsdk import (
    EVENT_ADAPTER,
    Annotation,
    ConfigError,
    SampleBlock,
    ScaledClock,
    Source,
    SourceContext,
)
from wearsdk.bus import BusItem
from wearsdk.io.lsl import EVENTS_STREAM, XdfChunk, XdfRecording, XdfStream, read_xdf
from wearsdk.io.lsl import route_channels as _route_channels

__all__ = ["XdfReplay"]

logger = logging.getLogger("wearsdk.drivers.lsl")

# recorded topics whose messages a replay publishes again (the rest is derived by the session)
_REPLAYED = ("physio/", "analyzer/")


class XdfReplay(Source):
    """Publishes an XDF recording as the live sources did, through the same pipeline.

    A recording made by wearsdk (:class:`~wearsdk.io.lsl.XdfRecorder`) is replayed message
    for message, in file order (the order the session's bus carried them), with the original
    source ids and timestamps: sample blocks on their ``physio/<source>/<stream>`` topics and
    the recorded heart-rate events, gaps and annotations from the ``wearsdk-events`` stream.
    Features, estimates and device status are not replayed: the session derives them again,
    so a replay reproduces the original estimates. Any other XDF file (LabRecorder) works too:
    numeric streams are routed by their channel metadata (:func:`~wearsdk.io.lsl.route_channels`)
    onto ``physio/<source>/<stream>`` with their clock offsets applied, and string streams
    become marker annotations.

    Run the session on :meth:`clock` so that session time follows the replay and
    ``clock.to_unix`` gives the recording's wall-clock times back. With ``speed`` the replay is
    paced at ``speed`` times real time; with ``speed=None`` it goes as fast as the subscribers
    take it (publishing awaits :meth:`Bus.publish <wearsdk.Bus.publish>`, so ``block``
    subscribers lose nothing). Reports ``connected`` at the start and ``closed`` at the end,
    then :meth:`run` returns.

    Args:
        recording: an :class:`~wearsdk.io.lsl.XdfRecording` or the path of an ``.xdf`` file.
        speed: recording seconds per real second, or ``None`` for as fast as possible.
        source_id: explicit source id for streams that were not recorded by wearsdk.
        duration_s: replay only the first ``duration_s`` seconds.

    Raises:
        ConfigError: a non-positive speed.
        XdfFormatError: the file is not valid XDF.
    """

    def __init__(
        self,
        recording: XdfRecording | str | os.PathLike[str],
        *,
        speed: float | None = 1.0,
        source_id: str | None = None,
        duration_s: float | None = None,
    ) -> None:
        if duration_s is not None and not duration_s > 0:
            raise ConfigError(f"duration_s must be > 0, got {duration_s!r}")
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ConfigError(f"replay speed must be > 0 or None, got {speed!r}")
        self.path = None if isinstance(recording, XdfRecording) else Path(recording)
        self.recording = recording if isinstance(recording, XdfRecording) else read_xdf(recording)
        self.speed = speed
        self._source_id = source_id
        self.published = 0
        """Messages published so far."""
        starts = [float(c.t[0]) for c in self.recording.chunks if c.t.size]
        self.start_t: float = min(starts) if starts else 0.0
        """The earliest timestamp of the recording (recorder clock)."""
        self.end_t: float = math.inf if duration_s is None else self.start_t + duration_s
        """Chunks that start at or after this time are not replayed."""

    @property
    def identity(self) -> str:
        """The file (stays in-process)."""
        return f"xdf:{self.path}"

    @property
    def kind(self) -> str:
        """Pseudonym prefix: ``xdf``."""
        return "xdf"

    @property
    def source_id(self) -> str | None:
        """The explicit source id, if one was given."""
        return self._source_id

    @property
    def span_s(self) -> float:
        """Seconds of recording that the replay covers (``duration_s`` at most)."""
        ends = [float(c.t[-1]) for c in self.recording.chunks if c.t.size]
        return max(0.0, min(max(ends, default=self.start_t), self.end_t) - self.start_t)

    @property
    def unix_offset_s(self) -> float:
        """Recorder clock to unix time, from the file header (0 when the file has none)."""
        text = self.recording.header.findtext("unix_offset_s")
        try:
            return float(text) if text else 0.0
        except ValueError:
            return 0.0

    def clock(self, speed: float | None = None) -> ScaledClock:
        """A session clock that starts at the recording's first timestamp and runs at ``speed``.

        Its ``to_unix`` maps recorded times onto the recording's wall-clock times.
        """
        shift = self.start_t - pylsl.local_clock()

        def source() -> float:
            return float(pylsl.local_clock() + shift)

        return ScaledClock(
            speed or self.speed or 1.0,
            source,
            unix_at_start=self.start_t + self.unix_offset_s,
        )

    def _messages(self, ctx: SourceContext, chunk: XdfChunk) -> Iterator[tuple[str, BusItem]]:
        stream = self.recording.streams[chunk.stream_id]
        topic = stream.text("desc/wearsdk/topic")
        if stream.text("source_id") == EVENTS_STREAM.source_id and isinstance(chunk.values, list):
            yield from self._events(chunk.values)
        elif topic:
            # derived streams (ecg_clean...) are the pipeline's output: it makes them again
            if (
                topic.startswith("physio/")
                and stream.text("desc/wearsdk/stream") != "heartrate"
                and not stream.text("desc/wearsdk/derived_from")
            ):
                assert not isinstance(chunk.values, list)
                chans = stream.channels
                yield (
                    topic,
                    SampleBlock(
                        source=stream.text("desc/wearsdk/source"),
                        stream=stream.text("desc/wearsdk/stream"),
                        unit=chans[0].unit if chans else "",
                        t=chunk.t,
                        values=chunk.values,
                        channels=tuple(c.label for c in chans),
                        nominal_rate_hz=stream.nominal_srate or None,
                    ),
                )
        else:
            yield from self._foreign(ctx, stream, chunk)

    def _events(self, lines: list[list[str]]) -> Iterator[tuple[str, BusItem]]:
        for sample in lines:
            try:
                data = json.loads(sample[0])
                topic = data.pop("topic")
                data.pop("t_unix", None)
                if not str(topic).startswith(_REPLAYED) or data.get("type") == "samples":
                    continue
                yield str(topic), EVENT_ADAPTER.validate_python(data)
            except (ValueError, KeyError, IndexError, ValidationError) as exc:
                logger.warning("skipping an unreadable recorded event: %s", exc)

    def _foreign(
        self, ctx: SourceContext, stream: XdfStream, chunk: XdfChunk
    ) -> Iterator[tuple[str, BusItem]]:
        t = stream.to_local(chunk.t)
        sid = ctx.source_id
        if isinstance(chunk.values, list):
            for at, sample in zip(t.tolist(), chunk.values, strict=True):
                yield (
                    f"analyzer/marker/{sid}",
                    Annotation(
                        t=at,
                        modality="marker",
                        analyzer_id=sid,
                        start=at,
                        end=at,
                        label=sample[0] if sample else "",
                    ),
                )
            return
        rate = stream.nominal_srate
        for route in _route_channels(stream.type, stream.channels):
            yield (
                f"physio/{sid}/{route.stream}",
                SampleBlock(
                    source=sid,
                    stream=route.stream,
                    unit=route.unit,
                    t=t,
                    values=chunk.values[:, route.indices].astype(np.float64) * route.scale,
                    channels=route.labels,
                    nominal_rate_hz=rate or None,
                ),
            )

    async def run(self, ctx: SourceContext) -> None:
        """Publish the recording (paced, or as fast as possible), then report ``closed``."""
        chunks = self.recording.chunks
        ctx.status("connected", detail=f"replaying an XDF recording ({len(chunks)} chunks)")
        real_start = ctx.clock.now() / ctx.clock.speed
        due = self.start_t
        for chunk in chunks:
            if chunk.t.size and chunk.t[0] >= self.end_t:
                continue
            if chunk.t.size:
                due = max(due, float(chunk.t[-1]))
            if self.speed is not None:
                ahead = (due - self.start_t) / self.speed - (
                    ctx.clock.now() / ctx.clock.speed - real_start
                )
                if ahead > 0:
                    await asyncio.sleep(ahead)
            else:
                await asyncio.sleep(0)
            for topic, payload in self._messages(ctx, chunk):
                await ctx.bus.publish(topic, payload)
                self.published += 1
        logger.debug("%s: XDF replay finished (%d messages)", ctx.source_id, self.published)
        ctx.status("closed", detail="end of the recording")
