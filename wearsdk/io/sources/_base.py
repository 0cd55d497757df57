"""What every file replay shares: its speed, its clock, the paced publishing, its end."""

from __future__ import annotations

import asyncio
import math
from abc import abstractmethod
from collections.abc import Iterable, Iterator

from wearsdk._clock import ReplayClock
from wearsdk._contracts import Source, SourceContext
from wearsdk._errors import ConfigError
from wearsdk.bus import BusItem

__all__ = ["ReplaySource"]

Step = tuple[float, Iterator[tuple[str, BusItem]]]
"""One step of a replay: when it is due (recording time) and the messages it publishes."""


class ReplaySource(Source):
    """A recording published as its live sources did (the base of the file replays).

    It publishes the recording in steps, each due at a recording time: with ``speed`` paced at
    ``speed`` times real time, with ``speed=None`` as fast as the subscribers take it
    (publishing awaits :meth:`Bus.publish <wearsdk.Bus.publish>`, so ``block`` subscribers
    lose nothing). On :meth:`clock` (a :class:`~wearsdk.ReplayClock`) session time follows
    the replay. It reports ``connected`` at the start and ``closed`` once the bus has carried
    the last data (:meth:`~wearsdk.Bus.drained`), then :meth:`run` returns;
    :attr:`finished` and :meth:`wait_finished` tell code that runs the session.

    Args:
        speed: recording seconds per real second, or ``None`` for as fast as possible.

    Raises:
        ConfigError: a speed that is not > 0.
    """

    def __init__(self, *, speed: float | None) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ConfigError(f"replay speed must be > 0 or None, got {speed!r}")
        self.speed = speed
        self.published = 0
        """Messages published so far."""
        self._clock: ReplayClock | None = None
        self._finished = asyncio.Event()

    @property
    @abstractmethod
    def start_unix(self) -> float:
        """Unix time of the start of the replay."""

    @property
    def finished(self) -> bool:
        """The replay has published all its data (it reported ``closed``)."""
        return self._finished.is_set()

    async def wait_finished(self) -> None:
        """Wait until the replay has published all its data (the end-of-data signal)."""
        await self._finished.wait()

    def clock(self, speed: float | None = None) -> ReplayClock:
        """The session clock of this replay (see :class:`~wearsdk.ReplayClock`).

        Session time starts at the base clock's now, follows the replay (paced at ``speed``,
        default the replay's, or standing at the data published last at full speed), and
        ``to_unix`` maps it onto the recording's unix times (from :attr:`start_unix`).
        """
        self._clock = ReplayClock(speed=speed or self.speed, unix_at_start=self.start_unix)
        return self._clock

    def _replay_clock(self, ctx: SourceContext) -> ReplayClock | None:
        """The replay clock the session runs on, or the one made by :meth:`clock`."""
        return ctx.clock if isinstance(ctx.clock, ReplayClock) else self._clock

    async def _play(
        self,
        ctx: SourceContext,
        steps: Iterable[Step],
        *,
        origin: float,
        session_offset: float = 0.0,
        detail: str,
    ) -> None:
        """Publish ``steps`` in order, then report the end.

        Args:
            ctx: the source's context.
            steps: ``(due, messages)`` in time order; ``due`` in the recording's time.
            origin: the recording time at which the replay starts (paced: due at 0 s).
            session_offset: recording time minus session time.
            detail: the ``connected`` status detail.
        """
        clock = self._replay_clock(ctx)
        ctx.status("connected", detail=detail)
        loop = asyncio.get_running_loop()
        real_start = loop.time()
        if clock is not None:
            clock.begin()
        for due, messages in steps:
            if self.speed is not None:
                ahead = (due - origin) / self.speed - (loop.time() - real_start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            else:
                await asyncio.sleep(0)  # as fast as possible, but let the subscribers run
            if clock is not None:
                clock.advance(due - session_offset)
            for topic, payload in messages:
                await ctx.bus.publish(topic, payload)
                self.published += 1
        await ctx.bus.drained()  # what the last data causes comes before the end is reported
        ctx.status("closed", detail="end of the recording")
        self._finished.set()
