"""Sinks of the session's own: every bus message to a function, or to a JSON-lines file."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from wearsdk._contracts import Sink, SinkContext, SinkReport
from wearsdk._files import open_private
from wearsdk._jsonl import message_to_json
from wearsdk.bus import Message, OverflowPolicy, Subscription

__all__ = ["JsonLinesSink", "MessageSink"]

if TYPE_CHECKING:
    from wearsdk.session._session import Session

logger = logging.getLogger("wearsdk.session")


def session_recorder(session: Session, path: Path) -> Sink:
    """The XDF recorder of ``Session(record=path)``: the session's bus, clock, consent,
    pipeline settings and ``overwrite``."""  # noqa: D205, D209
    from wearsdk.io.lsl import XdfRecorder  # the lsl extra, only when recording

    return XdfRecorder(
        session.bus,
        session.clock,
        path,
        consent=session.consent,
        pipeline=None if session.pipeline is None else session.pipeline.settings(),
        overwrite=session.overwrite,
    )


class MessageSink:
    """A sink that hands every bus message (``topic_filter``, default all) to ``handle``.

    It subscribes in the first step of :meth:`run`, which the session takes before any source
    runs; it ends when the bus closes, once its queue is handled. Messages are counted by
    type in :attr:`counts`; those its bounded queue dropped in :attr:`dropped`.

    Args:
        handle: called with each message and the session clock (on the event loop: keep it
            short). An exception from it fails the sink (a broken pipe, a full disk).
        topic_filter: which messages (a filter or several).
        maxsize: bound of its queue.
        policy: overflow policy of its queue (``block`` makes lossless replays wait for it).
    """

    def __init__(
        self,
        handle: Callable[[Message, SinkContext], None] | None = None,
        *,
        topic_filter: str | Sequence[str] = "#",
        maxsize: int = 65536,
        policy: OverflowPolicy = "drop_oldest",
    ) -> None:
        self._handle = handle
        self.topic_filter = topic_filter
        self.maxsize = maxsize
        self.policy: OverflowPolicy = policy
        self.counts: dict[str, int] = {}
        """Messages handled, by payload type (``samples`` for sample blocks)."""
        self._sub: Subscription | None = None
        self._done = asyncio.Event()

    @property
    def dropped(self) -> int:
        """Messages its queue dropped (it could not keep up)."""
        return 0 if self._sub is None else self._sub.stats.dropped

    def handle(self, message: Message, ctx: SinkContext) -> None:
        """Deliver one message (the function given, or a subclass's own)."""
        if self._handle is not None:
            self._handle(message, ctx)

    def open(self, ctx: SinkContext) -> None:
        """Called once at the start of :meth:`run` (before the first message)."""

    def close(self) -> None:
        """Called once at the end of :meth:`run`, also when it fails."""

    async def run(self, ctx: SinkContext) -> None:
        """Handle every message until the bus closes (or cancelled)."""
        sub = self._sub = ctx.bus.subscribe(
            self.topic_filter, maxsize=self.maxsize, policy=self.policy
        )
        try:
            self.open(ctx)
            async for message in sub:
                kind = getattr(message.payload, "type", "samples")
                self.counts[kind] = self.counts.get(kind, 0) + 1
                self.handle(message, ctx)
        finally:
            sub.close()
            try:
                self.close()
            finally:
                self._done.set()

    async def drain(self, timeout_s: float) -> int:
        """Wait until every queued message is handled; return how many were not."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._done.wait()
        except TimeoutError:
            pass
        return 0 if self._sub is None else self._sub.stats.queued


class JsonLinesSink(MessageSink):
    """Every bus message as one JSON line (the ``--jsonl`` shape) to a file or a stream.

    Args:
        target: a file path (its folder is created; the file is created readable by its
            owner only) or an open text stream (``sys.stdout``; not closed). Writing to a
            reader that went away raises ``BrokenPipeError`` out of :meth:`run`.
        topic_filter: which messages.
        policy: overflow policy of its queue.
        overwrite: replace an existing file (else :meth:`open` raises
            :class:`~wearsdk.ConfigError`).
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | TextIO,
        *,
        topic_filter: str = "#",
        policy: OverflowPolicy = "drop_oldest",
        overwrite: bool = False,
    ) -> None:
        super().__init__(topic_filter=topic_filter, policy=policy)
        self.target = target
        self.overwrite = overwrite
        self._out: TextIO | None = None
        self._owned = False
        self.lines = 0
        """Lines written."""

    def open(self, ctx: SinkContext) -> None:
        """Open the file (or take the stream)."""
        if isinstance(self.target, str | os.PathLike):
            self._out = open_private(self.target, overwrite=self.overwrite)
            self._owned = True
        else:
            self._out = self.target

    def handle(self, message: Message, ctx: SinkContext) -> None:
        """Write one line."""
        assert self._out is not None
        self._out.write(message_to_json(message, ctx.clock) + "\n")
        self.lines += 1

    def close(self) -> None:
        """Close the file (a stream is flushed, not closed)."""
        out, self._out = self._out, None
        if out is None:
            return
        if self._owned:
            out.close()
        else:
            out.flush()


class _SinkEntry:
    """A sink of the session, with its task and how it ended."""

    __slots__ = ("error", "name", "required", "sink", "task", "undelivered")

    def __init__(self, sink: Sink, name: str, required: bool) -> None:
        self.sink = sink
        self.name = name
        self.required = required
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.undelivered = 0

    def report(self) -> SinkReport:
        return SinkReport(self.name, self.undelivered, self.error)


async def drain_sinks(entries: Iterable[_SinkEntry], timeout_s: float) -> None:
    """Each sink delivers what it holds, all within one deadline; stragglers are cut."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s

    async def drain(entry: _SinkEntry) -> None:
        task = entry.task
        if task is None or entry.error is not None:
            return
        try:
            entry.undelivered = await entry.sink.drain(max(0.0, deadline - loop.time()))
        except Exception as exc:
            entry.error = exc
            logger.error("sink %s failed while draining: %s", entry.name, exc)
        if not task.done():
            await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        if not task.done():
            task.cancel()
        if entry.undelivered:
            logger.warning(  # `undelivered_sink`: what a caller that reports it may hold back
                "sink %s: %d messages were not delivered",
                entry.name,
                entry.undelivered,
                extra={"undelivered_sink": entry.name},
            )

    await asyncio.gather(*(drain(e) for e in entries))
