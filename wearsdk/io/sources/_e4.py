"""Replay an Empatica E4 export through a session, at its original times."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from wearsdk._contracts import SourceContext
from wearsdk._errors import ConfigError
from wearsdk._events import Annotation, Gap
from wearsdk._types import SampleBlock
from wearsdk.io.e4 import E4Session, load_e4_session
from wearsdk.io.sources._base import ReplaySource, Step

__all__ = ["E4Replay"]

logger = logging.getLogger("wearsdk.io.sources.e4")

_STREAMS = ("eda", "bvp", "hr", "temp", "acc", "rr", "marker")
_RR_GAP_TOLERANCE_S = 0.05


class E4Replay(ReplaySource):
    """Publishes an E4 session as a wearable would have, stamped with its original times.

    Streams (``physio/<source>/<stream>``, :class:`~wearsdk.SampleBlock`): ``eda`` (``uS``),
    ``bvp`` (``au``), ``hr`` (``bpm``), ``temp`` (``degC``), ``acc`` (``mG``, channels
    ``acc_x``, ``acc_y``, ``acc_z``) and ``rr`` (unit ``s``, one value per beat the E4
    detected, stamped at the beat, like a chest strap's RR stream, so the session's HRV
    pipeline uses it), plus a :class:`~wearsdk.Gap` on ``rr`` where the E4 rejected beats
    (``reason="rejected_beats"``). Button presses become
    :class:`~wearsdk.Annotation` markers (``modality="marker"``, ``analyzer_id="e4-tags"``) on
    ``analyzer/marker/<source>``.

    Run the session on :meth:`clock` (a :class:`~wearsdk.ReplayClock` that follows the
    replay: at ``speed=None`` it stands at the time of the data published last, so every
    event, device status included, is on the recording's time line) and ``clock.to_unix``
    gives the recording's times back. Every timestamp is ``ctx.clock.from_unix(original unix
    time)`` on that clock, or on any clock made for the recording (whose ``to_unix`` of now is
    within a day of :attr:`start_unix`, as ``ScaledClock(..., unix_at_start=...)``); on a live
    clock (a plain ``Session()``) the recording starts at the session's now instead of years in
    the past.

    Data goes out in chunks of ``chunk_s`` seconds of recording per stream (a chunk is due at
    its last sample), all streams interleaved in time order. With ``speed`` it is paced at
    ``speed`` times real time; with ``speed=None`` it goes as fast as the subscribers take it.
    Publishing awaits :meth:`Bus.publish <wearsdk.Bus.publish>`, so subscribers with the
    ``block`` policy slow the replay down instead of losing data. The source reports
    ``connected`` when it starts and ``closed`` when the data ends (once the ``block``
    subscribers took it: :meth:`~wearsdk.Bus.drained`), then :meth:`run` returns;
    :meth:`wait_finished` waits for that.

    Args:
        session: an :class:`~wearsdk.io.e4.E4Session` or the export folder to load.
        speed: recording seconds per real second, or ``None`` for as fast as possible.
        chunk_s: recording seconds per published block.
        start_s: skip the first ``start_s`` seconds after the session start.
        duration_s: replay only this many seconds (from ``start_s``).
        streams: the streams to publish (default all: ``eda``, ``bvp``, ``hr``, ``temp``,
            ``acc``, ``rr``, ``marker``).
        source_id: explicit source id (default: a pseudonym of the folder path).

    Raises:
        ConfigError: a non-positive speed, chunk or duration, or an unknown stream.
        E4FormatError: the folder's files are malformed (when a path is given).
    """

    def __init__(
        self,
        session: E4Session | str | Path,
        *,
        speed: float | None = 1.0,
        chunk_s: float = 1.0,
        start_s: float = 0.0,
        duration_s: float | None = None,
        streams: Collection[str] | None = None,
        source_id: str | None = None,
    ) -> None:
        super().__init__(speed=speed)
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise ConfigError(f"chunk_s must be > 0, got {chunk_s!r}")
        if duration_s is not None and not duration_s > 0:
            raise ConfigError(f"duration_s must be > 0, got {duration_s!r}")
        if not (math.isfinite(start_s) and start_s >= 0):
            raise ConfigError(f"start_s must be >= 0, got {start_s!r}")
        wanted = tuple(_STREAMS if streams is None else streams)
        unknown = sorted(set(wanted) - set(_STREAMS))
        if unknown:
            raise ConfigError(f"unknown E4 streams {unknown}; known: {list(_STREAMS)}")
        self.session = session if isinstance(session, E4Session) else load_e4_session(session)
        self.chunk_s = float(chunk_s)
        self.start_s = float(start_s)
        self.duration_s = duration_s
        self.streams = wanted
        self._source_id = source_id
        self.samples: dict[str, int] = {}
        """Samples (beats for ``rr``, tags for ``marker``) published so far, by stream."""
        ibi = self.session.ibi
        self._ibi_t_unix = ibi.t_unix if ibi is not None else np.empty(0)
        self._offset = 0.0  # unix time minus session time, fixed when the replay starts

    @property
    def identity(self) -> str:
        """The export folder (stays in-process)."""
        return f"e4:{self.session.path}"

    @property
    def kind(self) -> str:
        """Pseudonym prefix: ``e4``."""
        return "e4"

    @property
    def source_id(self) -> str | None:
        """The explicit source id, if one was given."""
        return self._source_id

    @property
    def start_unix(self) -> float:
        """Unix time at which the replay starts (the session start + ``start_s``)."""
        return self.session.start_unix + self.start_s

    @property
    def span_s(self) -> float:
        """Seconds of recording that the replay covers."""
        t0, t1 = self.window_unix
        return max(0.0, t1 - t0)

    @property
    def window_unix(self) -> tuple[float, float]:
        """The unix time span replayed: ``[start, end)``."""
        t0 = self.start_unix
        t1 = self.session.end_unix + 1e-6
        if self.duration_s is not None:
            t1 = min(t1, t0 + self.duration_s)
        return t0, t1

    def _plan(self) -> list[tuple[float, int, str, int, int]]:
        """Every chunk to publish: (due unix time, stream order, stream, first, end index)."""
        t0, t1 = self.window_unix
        origin = self.session.start_unix
        plan: list[tuple[float, int, str, int, int]] = []
        for order, name in enumerate(_STREAMS):
            if name not in self.streams:
                continue
            if name == "rr":
                if self.session.ibi is None:
                    continue
                times = self._ibi_t_unix
            elif name == "marker":
                times = self.session.tags_unix_s
            elif name in self.session.signals:
                times = self.session.signals[name].t_unix
            else:
                continue
            lo = int(np.searchsorted(times, t0, side="left"))
            hi = int(np.searchsorted(times, t1, side="left"))
            if hi <= lo:
                continue
            chunk = np.floor((times[lo:hi] - origin) / self.chunk_s).astype(np.int64)
            starts = np.flatnonzero(np.diff(chunk, prepend=chunk[0] - 1)) + lo
            ends = np.append(starts[1:], hi)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                plan.append((float(times[b - 1]), order, name, a, b))
        plan.sort(key=lambda item: (item[0], item[1]))
        return plan

    def _messages(
        self, ctx: SourceContext, name: str, lo: int, hi: int
    ) -> Iterator[tuple[str, Annotation | Gap | SampleBlock]]:
        offset = self._offset  # session time == unix time - offset, for whole arrays
        sid = ctx.source_id
        if name == "marker":
            for i in range(lo, hi):
                at = float(self.session.tags_unix_s[i]) - offset
                yield (
                    f"analyzer/marker/{sid}",
                    Annotation(
                        t=at,
                        modality="marker",
                        analyzer_id="e4-tags",
                        start=at,
                        end=at,
                        label=f"tag {i + 1}",
                    ),
                )
            return
        topic = f"physio/{sid}/{name}"
        if name == "rr":
            ibi = self.session.ibi
            assert ibi is not None
            all_t = self._ibi_t_unix
            beat_t = all_t[lo:hi] - offset
            rr = ibi.ibi_s[lo:hi]
            # the beat before each one, if it was replayed too (NaN compares false: no gap)
            first = int(np.searchsorted(all_t, self.window_unix[0], side="left"))
            previous = np.full(hi - lo, np.nan)
            j = np.arange(lo, hi)
            has_previous = j - 1 >= first
            previous[has_previous] = all_t[j[has_previous] - 1] - offset
            starts = beat_t - rr
            missing = np.flatnonzero(starts > previous + _RR_GAP_TOLERANCE_S)
            if missing.size:
                typical = float(np.median(ibi.ibi_s))
                for i in missing.tolist():
                    yield (
                        topic,
                        Gap(
                            t=float(beat_t[i]),
                            source=sid,
                            stream="rr",
                            start=float(previous[i]),
                            end=float(starts[i]),
                            n_missing=max(0, round(float(starts[i] - previous[i]) / typical)),
                            reason="rejected_beats",
                        ),
                    )
            yield (
                topic,
                SampleBlock(
                    source=sid,
                    stream="rr",
                    unit="s",
                    t=beat_t,
                    values=rr[:, None],
                    channels=("rr",),
                ),
            )
            return
        signal = self.session.signals[name]
        t = signal.start_unix_s + np.arange(lo, hi, dtype=np.float64) / signal.rate_hz - offset
        yield (
            topic,
            SampleBlock(
                source=sid,
                stream=name,
                unit=signal.unit,
                t=t,
                values=signal.values[lo:hi],
                channels=signal.channels,
                nominal_rate_hz=signal.rate_hz,
            ),
        )

    def _steps(
        self, ctx: SourceContext, plan: list[tuple[float, int, str, int, int]]
    ) -> Iterator[Step]:
        for due, _, name, lo, hi in plan:
            yield due, self._messages(ctx, name, lo, hi)
            self.samples[name] = self.samples.get(name, 0) + (hi - lo)

    async def run(self, ctx: SourceContext) -> None:
        """Publish the session (paced, or as fast as possible), then report ``closed``."""
        plan = self._plan()
        t0, _ = self.window_unix
        now = ctx.clock.now()
        if self._replay_clock(ctx) is not None or abs(ctx.clock.to_unix(now) - t0) < 86400.0:
            self._offset = ctx.clock.unix_offset_s  # a clock made for this recording
        else:  # a live clock: the recording starts now (not years before the session)
            self._offset = t0 - now
            logger.info("%s: not on the replay's clock: the recording starts now", ctx.source_id)
        await self._play(
            ctx,
            self._steps(ctx, plan),
            origin=t0,
            session_offset=self._offset,
            detail=f"replaying an E4 session ({len(plan)} chunks)",
        )
        logger.debug("%s: E4 replay finished (%d messages)", ctx.source_id, self.published)
