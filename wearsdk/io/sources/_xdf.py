"""Replay an XDF recording through a session: every stream merged in time order."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from wearsdk._clock import ReplayClock
from wearsdk._contracts import SourceContext
from wearsdk._errors import ConfigError
from wearsdk._events import EVENT_ADAPTER, Annotation
from wearsdk._types import SampleBlock
from wearsdk.bus import BusItem
from wearsdk.io.lsl._spec import route_channels as _route_channels
from wearsdk.io.lsl._spec import unit_known
from wearsdk.io.lsl._xdf_format import EVENTS_STREAM
from wearsdk.io.lsl._xdf_reader import XdfRecording, XdfStream, read_xdf
from wearsdk.io.sources._base import ReplaySource, Step

__all__ = ["XdfReplay"]

logger = logging.getLogger("wearsdk.io.sources.xdf")

# recorded topics whose messages a replay publishes again (the rest is derived by the session)
_REPLAYED = ("physio/", "analyzer/")
# streams whose values the pipeline reads in one unit: an unknown unit makes them unusable
_UNIT_BOUND = ("eda", "rr", "acc", "hr", "temp")
# order of streams due at the same time (then by name): independent of the ids in the file
_RANK = {"ecg": 0, "rr": 1, "hr": 2, "bvp": 3, "eda": 4, "acc": 5, "temp": 6}


@dataclass(slots=True)
class _Feed:
    """One stream of the replay, its samples in time order on the recorder's clock."""

    rank: tuple[int, str, str, int]
    t: npt.NDArray[np.float64]
    kind: str  # "block" (routed numeric), "own" (a wearsdk stream), "event", "marker"
    topic_stream: str = ""  # the wearsdk stream name (block, own)
    values: npt.NDArray[Any] | None = None
    strings: list[str] | None = None
    source: str = ""  # own: the recorded source id
    unit: str = ""
    channels: tuple[str, ...] = ()
    rate: float = 0.0
    bounds: list[tuple[int, int]] | None = None  # own: the recorded blocks (index ranges)


def _problem(stream: str, rate: float) -> str | None:
    """Why the pipeline cannot process ``stream`` at ``rate`` (``None``: it can)."""
    from wearsdk.signals import EcgPeakDetector, EdaProcessor, PpgPeakDetector

    makers = {"ecg": EcgPeakDetector, "eda": EdaProcessor, "bvp": PpgPeakDetector}
    maker = makers.get(stream)
    if maker is None:
        return None
    if not rate > 0:
        return f"{stream} processing needs the stream's nominal rate (irregular stream)"
    try:
        maker(sampling_rate_hz=rate)
    except ConfigError as exc:
        return str(exc)
    return None


class XdfReplay(ReplaySource):
    """Publishes an XDF recording as the live sources did, through the same pipeline.

    Every stream of the file is merged by timestamp, whatever the order of its chunks (a
    LabRecorder file interleaves the streams, other writers put one stream after the other):
    the replay publishes what is due first, first. A recording made by wearsdk
    (:class:`~wearsdk.io.lsl.XdfRecorder`) is replayed message for message, with the
    original source ids, timestamps and blocks: sample blocks on their
    ``physio/<source>/<stream>`` topics and the recorded heart-rate events, gaps and
    annotations from the ``wearsdk-events`` stream. Features, estimates and device status are
    not replayed: the session derives them again, so a replay reproduces the original
    estimates.

    Any other XDF file works too. Numeric streams are routed by their channel metadata
    (:func:`~wearsdk.io.lsl.route_channels`) onto ``physio/<source>/<stream>``, in the units
    the pipeline uses (:func:`~wearsdk.io.lsl.unit_scale`), with their clock offsets applied
    as pyxdf applies them (:meth:`~wearsdk.io.lsl.XdfStream.clock_fit`), in blocks of
    ``block_s`` seconds on one time grid: so the same data gives the same blocks, hence the
    same estimates, however the file chunks it. String streams become marker annotations.

    What the replay cannot use is said, never dropped silently: a file that ends inside a
    chunk is replayed up to there; samples with a non-finite timestamp are dropped and
    counted (:attr:`dropped_samples`); a stream in a unit wearsdk does not know is published
    as ``<stream>_unconverted`` (outside the pipeline) and a stream the pipeline cannot
    process (an ECG below 100 Hz) is published as it is (the pipeline drops it and flags the
    windows ``unusable_<stream>``): both are listed in :attr:`unusable`. Each goes to the
    log as a warning and into :attr:`notes`.

    Run the session on :meth:`clock`: session time then follows the replay (at ``speed=None``
    it stands at the time of the data published last, so every event, device status
    included, is on the recording's time line), and ``clock.to_unix`` gives the recording's
    wall-clock times back. With ``speed`` the replay is paced at ``speed`` times real time;
    with ``speed=None`` it goes as fast as the subscribers take it (publishing awaits
    :meth:`Bus.publish <wearsdk.Bus.publish>`, so ``block`` subscribers lose nothing).
    Reports ``connected`` at the start and ``closed`` at the end of the data (stamped with
    its last timestamp), then :meth:`run` returns; :meth:`wait_finished` waits for that.

    Args:
        recording: an :class:`~wearsdk.io.lsl.XdfRecording` or the path of an ``.xdf`` file.
        speed: recording seconds per real second, or ``None`` for as fast as possible.
        source_id: explicit source id for streams that were not recorded by wearsdk.
        duration_s: replay only the first ``duration_s`` seconds.
        block_s: seconds per published block of a stream not recorded by wearsdk (default
            1 s when paced, like a live source; 8 s as fast as possible: fewer, larger blocks
            cost the bus and the pipeline less, and the estimates agree with those of 1 s
            blocks to within 1e-12). Keep it below the pipeline's ``stale_s`` (10 s by
            default): a stream whose next block is further away is taken for a silent one.

    Raises:
        ConfigError: a non-positive speed, duration or block.
        XdfFormatError: the file is not valid XDF (the error names the file).
    """

    def __init__(
        self,
        recording: XdfRecording | str | os.PathLike[str],
        *,
        speed: float | None = 1.0,
        source_id: str | None = None,
        duration_s: float | None = None,
        block_s: float | None = None,
    ) -> None:
        if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
            raise ConfigError(f"duration_s must be > 0, got {duration_s!r}")
        super().__init__(speed=speed)
        if block_s is None:
            block_s = 1.0 if speed is not None else 8.0
        if not (math.isfinite(block_s) and block_s > 0):
            raise ConfigError(f"block_s must be > 0, got {block_s!r}")
        self.path = None if isinstance(recording, XdfRecording) else Path(recording)
        self.recording = recording if isinstance(recording, XdfRecording) else read_xdf(recording)
        self.block_s = float(block_s)
        self._source_id = source_id
        self.notes: list[str] = []
        """What the replay could not use as it is, in words (also logged as warnings)."""
        self.unusable: dict[str, str] = {}
        """Streams the pipeline cannot use (``"<file stream>/<stream>"``), with the reason."""
        self.dropped_samples = 0
        """Samples (and recorded events) dropped for a non-finite timestamp."""
        self.truncated = self.recording.truncated
        """The file ends inside a chunk (an interrupted recording): replayed up to there."""
        if self.truncated:  # read_xdf has logged it
            self.notes.append(f"{self._name} ends inside a chunk: replaying its complete chunks")
        self._feeds = self._prepare()
        starts = [float(f.t[0]) for f in self._feeds if f.t.size]
        self.start_t: float = min(starts) if starts else 0.0
        """The earliest timestamp of the recording (recorder clock, clock offsets applied)."""
        self.end_t: float = math.inf if duration_s is None else self.start_t + duration_s
        """Data at or after this time is not replayed."""

    # -- what the file holds ------------------------------------------------------------------
    @property
    def _name(self) -> str:
        return str(self.path) if self.path is not None else "the recording"

    def _note(self, text: str) -> None:
        self.notes.append(text)
        logger.warning("%s", text)

    def _finite(self, t: npt.NDArray[np.float64], what: str) -> npt.NDArray[np.bool_] | None:
        """A mask of the finite timestamps, or ``None`` when all are (and notes the rest)."""
        ok = np.isfinite(t)
        if bool(ok.all()):
            return None
        bad = int(t.size - np.count_nonzero(ok))
        self.dropped_samples += bad
        self._note(f"{self._name}: {bad} samples of {what} have no finite timestamp: dropped")
        return ok

    def _prepare(self) -> list[_Feed]:
        rec = self.recording
        by_stream: dict[int, list[int]] = {sid: [] for sid in rec.streams}
        for i, chunk in enumerate(rec.chunks):
            by_stream[chunk.stream_id].append(i)
        feeds: list[_Feed] = []
        for sid, stream in rec.streams.items():
            chunks = [rec.chunks[i] for i in by_stream[sid]]
            if not chunks:
                continue
            t = np.concatenate([c.t for c in chunks])
            if stream.channel_format == "string":
                events = stream.text("source_id") == EVENTS_STREAM.source_id
                if not events and stream.text("desc/wearsdk/topic"):
                    continue  # wearsdk's marker streams: wearsdk-events holds the annotations
                strings = [s[0] if s else "" for c in chunks for s in c.values]
                if not events:
                    t = stream.to_local(t)
                rank = (-1 if events else 7, stream.name, stream.text("source_id"), sid)
                ok = self._finite(t, f"stream {stream.name!r}")
                if ok is not None:
                    t, strings = t[ok], [s for s, k in zip(strings, ok.tolist(), strict=True) if k]
                order = np.argsort(t, kind="stable")
                feeds.append(
                    _Feed(
                        rank,
                        t[order],
                        "event" if events else "marker",
                        strings=[strings[i] for i in order.tolist()],
                    )
                )
                continue
            values = np.concatenate([np.asarray(c.values) for c in chunks])
            topic = stream.text("desc/wearsdk/topic")
            if topic:
                feed = self._own(sid, stream, topic, chunks, t, values)
                if feed is not None:
                    feeds.append(feed)
                continue
            feeds.extend(self._foreign(sid, stream, stream.to_local(t), values))
        return feeds

    def _own(
        self,
        sid: int,
        stream: XdfStream,
        topic: str,
        chunks: list[Any],
        t: npt.NDArray[np.float64],
        values: npt.NDArray[Any],
    ) -> _Feed | None:
        """A stream wearsdk recorded: replayed in its recorded blocks."""
        name = stream.text("desc/wearsdk/stream")
        # derived streams (ecg_clean...) are the pipeline's output: it makes them again
        if (
            not topic.startswith("physio/")
            or name == "heartrate"
            or stream.text("desc/wearsdk/derived_from")
        ):
            return None
        sizes = np.array([c.t.size for c in chunks])
        ends = np.cumsum(sizes)
        bounds = list(zip((ends - sizes).tolist(), ends.tolist(), strict=True))
        ok = self._finite(t, f"stream {stream.name!r}")
        if ok is not None:  # recount the blocks without the dropped samples
            kept = np.concatenate(([0], np.cumsum(ok)))
            bounds = [(int(kept[a]), int(kept[b])) for a, b in bounds]
            t, values = t[ok], values[ok]
        chans = stream.channels
        return _Feed(
            (_RANK.get(name, 8), stream.name, stream.text("source_id"), sid),
            t,
            "own",
            topic_stream=name,
            values=values,
            source=stream.text("desc/wearsdk/source"),
            unit=chans[0].unit if chans else "",
            channels=tuple(c.label for c in chans),
            rate=stream.nominal_srate,
            bounds=[(a, b) for a, b in bounds if b > a],
        )

    def _foreign(
        self, sid: int, stream: XdfStream, t: npt.NDArray[np.float64], values: npt.NDArray[Any]
    ) -> Iterator[_Feed]:
        """A stream of another writer: routed by its metadata, converted, in time order."""
        what = f"stream {stream.name!r}"
        ok = self._finite(t, what)
        if ok is not None:
            t, values = t[ok], values[ok]
        if t.size > 1 and bool((np.diff(t) < 0).any()):
            order = np.argsort(t, kind="stable")
            t, values = t[order], values[order]
        rate = stream.nominal_srate
        chans = stream.channels
        for route in _route_channels(stream.type, chans):
            given = chans[route.indices[0]].unit
            name = route.stream
            key = f"{stream.name}/{name}"
            if not unit_known(name, given):
                if not given.strip():
                    self._note(f"{self._name}: {what} ({name}) has no unit: taken as {route.unit}")
                elif name in _UNIT_BOUND:
                    reason = f"unit {given!r} of {name} is not one wearsdk converts"
                    self.unusable[key] = reason
                    self._note(
                        f"{self._name}: {what}: {reason}; published as {name}_unconverted, "
                        "outside the pipeline"
                    )
                    name = f"{name}_unconverted"
            problem = _problem(name, rate)
            if problem is not None:
                self.unusable[key] = problem
                self._note(f"{self._name}: {what} ({name}) cannot be processed: {problem}")
            with np.errstate(invalid="ignore"):  # a signalling NaN stays a NaN
                scaled = values[:, route.indices].astype(np.float64)
            if route.scale != 1.0:
                scaled *= route.scale
            yield _Feed(
                (_RANK.get(name, 8), stream.name, stream.text("source_id"), sid),
                t,
                "block",
                topic_stream=name,
                values=scaled,
                unit=route.unit,
                channels=route.labels,
                rate=rate,
            )

    # -- identity -----------------------------------------------------------------------------
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
        ends = [float(f.t[-1]) for f in self._feeds if f.t.size]
        return max(0.0, min(max(ends, default=self.start_t), self.end_t) - self.start_t)

    @property
    def unix_offset_s(self) -> float:
        """Recorder clock to unix time, from the file header (0 when it has none or no number)."""
        text = self.recording.header.findtext("unix_offset_s")
        try:
            value = float(text) if text else 0.0
        except ValueError:
            return 0.0
        return value if math.isfinite(value) else 0.0

    @property
    def start_unix(self) -> float:
        """Unix time of the recording's first timestamp (by the file header's offset)."""
        return self.start_t + self.unix_offset_s

    def clock(self, speed: float | None = None) -> ReplayClock:
        """The session clock of this replay (see :class:`~wearsdk.ReplayClock`).

        It starts at the recording's first timestamp and follows the replay: paced at
        ``speed`` (default: the replay's), or standing at the data published last when the
        replay runs as fast as possible. Its ``to_unix`` maps recorded times onto the
        recording's wall-clock times.
        """
        self._clock = ReplayClock(
            self.start_t, speed=speed or self.speed, unix_at_start=self.start_unix
        )
        return self._clock

    # -- publishing ---------------------------------------------------------------------------
    def _plan(self) -> list[tuple[float, tuple[int, str, str, int], int, int, int, int]]:
        """Everything to publish, in time order: (due, rank, feed, first, end, seq)."""
        plan = []
        for k, feed in enumerate(self._feeds):
            t = feed.t
            stop = int(np.searchsorted(t, self.end_t, side="left"))
            if feed.kind == "own":
                assert feed.bounds is not None
                ranges = [(a, b) for a, b in feed.bounds if t[a] < self.end_t]
            elif feed.kind == "block":
                if stop == 0:
                    continue
                cell = np.floor((t[:stop] - self.start_t) / self.block_s).astype(np.int64)
                starts = np.flatnonzero(np.diff(cell, prepend=cell[0] - 1))
                ranges = list(zip(starts.tolist(), [*starts[1:].tolist(), stop], strict=True))
            else:
                ranges = [(i, i + 1) for i in range(stop)]
            for seq, (a, b) in enumerate(ranges):
                plan.append((float(t[b - 1]), feed.rank, k, a, b, seq))
        plan.sort(key=lambda item: (item[0], item[1], item[5]))
        return plan

    def _messages(
        self, ctx: SourceContext, feed: _Feed, a: int, b: int
    ) -> Iterator[tuple[str, BusItem]]:
        sid = ctx.source_id
        if feed.kind == "event":
            assert feed.strings is not None
            yield from self._events(feed.strings[a:b])
        elif feed.kind == "marker":
            assert feed.strings is not None
            for at, label in zip(feed.t[a:b].tolist(), feed.strings[a:b], strict=True):
                yield (
                    f"analyzer/marker/{sid}",
                    Annotation(
                        t=at, modality="marker", analyzer_id=sid, start=at, end=at, label=label
                    ),
                )
        else:
            assert feed.values is not None
            source = feed.source if feed.kind == "own" else sid
            yield (
                f"physio/{source}/{feed.topic_stream}",
                SampleBlock(
                    source=source,
                    stream=feed.topic_stream,
                    unit=feed.unit,
                    t=feed.t[a:b],
                    values=feed.values[a:b],
                    channels=feed.channels,
                    nominal_rate_hz=feed.rate or None,
                ),
            )

    def _events(self, lines: list[str]) -> Iterator[tuple[str, BusItem]]:
        for line in lines:
            try:
                data = json.loads(line)
                topic = data.pop("topic")
                data.pop("t_unix", None)
                if not str(topic).startswith(_REPLAYED) or data.get("type") == "samples":
                    continue
                event = EVENT_ADAPTER.validate_python(data)
            except (ValueError, KeyError, IndexError, TypeError, AttributeError,
                    ValidationError) as exc:  # fmt: skip
                logger.warning("skipping an unreadable recorded event: %s", exc)
                continue
            if not math.isfinite(event.t):
                self.dropped_samples += 1
                logger.warning("skipping a recorded event without a finite time")
                continue
            yield str(topic), event

    async def run(self, ctx: SourceContext) -> None:
        """Publish the recording in time order (paced, or as fast as possible), then end."""
        plan = self._plan()
        detail = f"replaying an XDF recording ({len(plan)} blocks)"
        if self.notes:
            detail += "; " + "; ".join(self.notes)
        steps: Iterator[Step] = (
            (due, self._messages(ctx, self._feeds[k], a, b)) for due, _, k, a, b, _ in plan
        )
        await self._play(ctx, steps, origin=self.start_t, detail=detail)
        logger.debug("%s: XDF replay finished (%d messages)", ctx.source_id, self.published)
