"""What a session hands out: the stream of its estimates."""

from __future__ import annotations

import asyncio

from wearsdk._errors import StreamClosedError
from wearsdk._events import Estimate
from wearsdk.bus import BusItem, Subscription
from wearsdk.session._source import SourceStream

__all__ = ["EstimateStream"]


class EstimateStream(SourceStream):
    """Async iterator over the session's :class:`~wearsdk.Estimate` events.

    Ends when the session closes, or once the session's sources have all ended by themselves
    (a finite replay) and the processing has published its last estimate. Usable directly
    (``async for est in session.estimates()``) or as an async context manager that
    unsubscribes on exit.

    Args:
        subscription: the subscription to ``affect/estimate``.
        finished: set when the session's outputs are complete (no estimate will follow).
    """

    def __init__(self, subscription: Subscription, finished: asyncio.Event | None = None) -> None:
        super().__init__(subscription)
        self._finished = finished

    async def __anext__(self) -> Estimate:
        while True:
            payload = await self._next()
            if isinstance(payload, Estimate):
                return payload

    async def _next(self) -> BusItem:
        sub = self.subscription
        finished = self._finished
        if finished is None:
            return await super().__anext__()
        while True:
            try:
                message = sub.receive_nowait()
            except StreamClosedError:
                raise StopAsyncIteration from None
            if message is not None:
                return message.payload
            if finished.is_set():
                raise StopAsyncIteration
            receive = asyncio.ensure_future(sub.receive())
            ended = asyncio.ensure_future(finished.wait())
            try:
                await asyncio.wait({receive, ended}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
                if not receive.done():
                    receive.cancel()
            if receive.done() and not receive.cancelled():
                try:
                    return receive.result().payload
                except StreamClosedError:
                    raise StopAsyncIteration from None
