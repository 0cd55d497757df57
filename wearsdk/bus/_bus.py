"""The in-process event bus: topics, wildcard subscriptions, bounded queues, explicit policies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Self, get_args

from wearsdk._errors import ConfigError, StreamClosedError, SubscriberOverflowError
from wearsdk.bus._message import (
    BusItem,
    BusStatistics,
    Message,
    OverflowPolicy,
    SubscriptionStatistics,
    _check_filter,
    _check_topic,
    _Counters,
    topic_matches,
)

__all__ = [
    "Bus",
    "BusItem",
    "BusStatistics",
    "Message",
    "OverflowPolicy",
    "Subscription",
    "SubscriptionStatistics",
    "topic_matches",
]

logger = logging.getLogger("wearsdk.bus")


class Subscription:
    """A bounded, async-iterable view of the messages matching some topic filters.

    Created by :meth:`Bus.subscribe`; it receives messages from the moment it is created. Use it
    as an async context manager (it unsubscribes on exit) and iterate it::

        async with bus.subscribe("physio/#") as sub:
            async for message in sub:
                ...

    Iteration ends cleanly when the subscription or the bus is closed, after the messages
    already queued have been received.
    """

    def __init__(
        self,
        bus: Bus,
        topic_filters: tuple[str, ...],
        maxsize: int,
        policy: OverflowPolicy,
    ) -> None:
        self._bus = bus
        self.topic_filters: tuple[str, ...] = topic_filters
        """The topic filters this subscription listens to."""
        self.maxsize: int = maxsize
        """Bound of the queue."""
        self.policy: OverflowPolicy = policy
        """Overflow policy."""
        self._queue: deque[Message] = deque()
        self._counters = _Counters()
        self._closed = False
        self._overflowed = False
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()
        self._warned = False

    # -- producer side (called by the bus) -------------------------------------------------
    def _offer(self, message: Message) -> bool:
        """Queue ``message`` without waiting. Returns False when a ``block`` queue is full."""
        queue = self._queue
        if len(queue) >= self.maxsize:
            if self.policy == "drop_oldest":
                queue.popleft()
                self._counters.dropped += 1
            elif self.policy == "error":
                self._counters.dropped += 1
                self._overflowed = True
                self._bus._detach(self)
                self._wake_getter()
                return True
            else:
                return False
        queue.append(message)
        if len(queue) > self._counters.high_water:
            self._counters.high_water = len(queue)
        self._wake_getter()
        return True

    def _drop_blocked(self) -> None:
        self._counters.dropped += 1
        if not self._warned:
            self._warned = True
            logger.warning(
                "subscription %s (policy 'block') is full and a producer could not wait; "
                "dropping (counted in stats.dropped)",
                ",".join(self.topic_filters),
            )

    async def _wait_for_room(self) -> None:
        while len(self._queue) >= self.maxsize and not self._closed and not self._overflowed:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                await fut
            finally:
                if not fut.done():
                    fut.cancel()
                with contextlib.suppress(ValueError):
                    self._putters.remove(fut)

    def _wake_getter(self) -> None:
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def _wake_putter(self) -> None:
        while self._putters:
            fut = self._putters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # -- consumer side ----------------------------------------------------------------------
    def receive_nowait(self) -> Message | None:
        """Return the next queued message, or ``None`` when the queue is empty.

        Raises:
            SubscriberOverflowError: the ``error`` policy tripped.
            StreamClosedError: the subscription is closed and drained.
        """
        if self._queue:
            return self._pop()
        if self._overflowed:
            raise SubscriberOverflowError(",".join(self.topic_filters), self.maxsize)
        if self._closed:
            raise StreamClosedError("subscription closed")
        return None

    def _pop(self) -> Message:
        message = self._queue.popleft()
        self._counters.received += 1
        if self._putters:
            self._wake_putter()
        return message

    async def receive(self) -> Message:
        """Wait for and return the next message.

        Raises:
            SubscriberOverflowError: the ``error`` policy tripped.
            StreamClosedError: the subscription is closed and drained.
        """
        while not self._queue:
            if self._overflowed:
                raise SubscriberOverflowError(",".join(self.topic_filters), self.maxsize)
            if self._closed:
                raise StreamClosedError("subscription closed")
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self._pop()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.receive()
        except StreamClosedError:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving new messages; queued ones can still be received, then iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._bus._detach(self)
        self._wake_getter()
        while self._putters:
            fut = self._putters.popleft()
            if not fut.done():
                fut.set_result(None)

    @property
    def closed(self) -> bool:
        """Whether the subscription is closed."""
        return self._closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stats(self) -> SubscriptionStatistics:
        """This subscription's counters, now (a snapshot)."""
        c = self._counters
        return SubscriptionStatistics(
            topic_filter=",".join(self.topic_filters),
            policy=self.policy,
            maxsize=self.maxsize,
            queued=len(self._queue),
            received=c.received,
            dropped=c.dropped,
            high_water=c.high_water,
            closed=self._closed,
        )

    def statistics(self) -> SubscriptionStatistics:
        """Deprecated: :attr:`stats`."""
        _deprecated_statistics("Subscription")
        return self.stats


class Bus:
    """An in-process, topic-based publish/subscribe bus.

    Topics are ``/``-separated (``physio/<source>/<stream>``, ``affect/estimate``,
    ``analyzer/<modality>/<id>``, ``device/<source>/status``); subscriptions take MQTT-style
    filters (``+`` matches one level, ``#`` the rest). Publishing never blocks a producer that
    cannot wait: each subscriber has its own bounded queue and :data:`OverflowPolicy`.

    Args:
        default_maxsize: queue bound for subscriptions that do not give one.
        default_policy: overflow policy for subscriptions that do not give one.
    """

    def __init__(
        self, *, default_maxsize: int = 4096, default_policy: OverflowPolicy = "drop_oldest"
    ) -> None:
        if default_maxsize < 1:
            raise ConfigError("default_maxsize must be >= 1")
        if default_policy not in get_args(OverflowPolicy):
            raise ConfigError(f"unknown overflow policy {default_policy!r}")
        self.default_maxsize = default_maxsize
        self.default_policy: OverflowPolicy = default_policy
        self._subscriptions: list[Subscription] = []
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._published = 0
        self._unrouted = 0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(
        self,
        topic_filter: str | Iterable[str],
        *,
        maxsize: int | None = None,
        policy: OverflowPolicy | None = None,
    ) -> Subscription:
        """Subscribe to one or more topic filters.

        Args:
            topic_filter: a filter (``physio/+/rr``) or several.
            maxsize: queue bound (default: the bus's ``default_maxsize``).
            policy: overflow policy (default: the bus's ``default_policy``).

        Returns:
            A :class:`Subscription`, already receiving; use it with ``async with``.

        Raises:
            ConfigError: a malformed filter, bound or policy.
            StreamClosedError: the bus is closed.
        """
        if self._closed:
            raise StreamClosedError("bus is closed")
        filters = (topic_filter,) if isinstance(topic_filter, str) else tuple(topic_filter)
        if not filters:
            raise ConfigError("at least one topic filter is required")
        for f in filters:
            _check_filter(f)
        size = self.default_maxsize if maxsize is None else maxsize
        if size < 1:
            raise ConfigError(f"maxsize must be >= 1, got {size}")
        pol = self.default_policy if policy is None else policy
        if pol not in get_args(OverflowPolicy):
            raise ConfigError(f"unknown overflow policy {pol!r}")
        sub = Subscription(self, filters, size, pol)
        self._subscriptions.append(sub)
        self._routes.clear()
        return sub

    def _detach(self, sub: Subscription) -> None:
        try:
            self._subscriptions.remove(sub)
        except ValueError:
            return
        self._routes.clear()

    def _route(self, topic: str) -> tuple[Subscription, ...]:
        route = self._routes.get(topic)
        if route is None:
            _check_topic(topic)
            route = tuple(
                s
                for s in self._subscriptions
                if any(topic_matches(f, topic) for f in s.topic_filters)
            )
            if len(self._routes) > 65536:  # bound the cache under topic churn
                self._routes.clear()
            self._routes[topic] = route
        return route

    def publish_nowait(self, topic: str, payload: BusItem) -> int:
        """Publish without ever waiting.

        Full ``drop_oldest`` queues lose their oldest message, full ``error`` queues fail their
        subscriber, full ``block`` queues drop this message for that subscriber; all counted.

        Args:
            topic: a concrete topic (no wildcards).
            payload: an event or a sample block.

        Returns:
            The number of subscriptions that queued the message.

        Raises:
            StreamClosedError: the bus is closed.
            ConfigError: the topic contains wildcards or is empty.
        """
        route = self._count(topic)
        return self._deliver(route, Message(topic, payload)) if route else 0

    def publish_nowait_lazy(self, topic: str, make: Callable[[], BusItem]) -> int:
        """:meth:`publish_nowait` of ``make()``, built only when a subscription takes ``topic``.

        A payload no one subscribes to is not built (the pipeline's window features when only
        estimates are read); it counts in :attr:`stats` as published and unrouted all the same.

        Raises:
            StreamClosedError: the bus is closed.
            ConfigError: the topic contains wildcards or is empty.
        """
        route = self._count(topic)
        return self._deliver(route, Message(topic, make())) if route else 0

    def _count(self, topic: str) -> tuple[Subscription, ...]:
        """The route of a message being published, counted (published, unrouted)."""
        if self._closed:
            raise StreamClosedError("bus is closed")
        self._published += 1
        route = self._route(topic)
        if not route:
            self._unrouted += 1
        return route

    @staticmethod
    def _deliver(route: tuple[Subscription, ...], message: Message) -> int:
        n = 0
        for sub in route:
            if sub._offer(message):
                n += 1
            else:
                sub._drop_blocked()
        return n

    async def publish(self, topic: str, payload: BusItem) -> int:
        """Publish, waiting for room in full ``block`` subscriptions (lossless backpressure).

        Subscriptions with other policies behave as in :meth:`publish_nowait`.

        Returns:
            The number of subscriptions that queued the message.
        """
        route = self._count(topic)
        if not route:
            return 0
        message = Message(topic, payload)
        n = 0
        for sub in route:
            while not sub._offer(message):
                await sub._wait_for_room()
                if sub.closed:
                    break
            else:
                n += 1
        return n

    def publish_threadsafe(self, topic: str, payload: BusItem) -> None:
        """Publish from another thread (a device SDK callback, a pylsl worker) without waiting.

        The bus must have been used from its event loop first (see :meth:`bind_loop`).
        """
        loop = self._loop
        if loop is None:
            raise StreamClosedError("bus is not bound to an event loop; call bind_loop() first")
        loop.call_soon_threadsafe(self._publish_quiet, topic, payload)

    def _publish_quiet(self, topic: str, payload: BusItem) -> None:
        if not self._closed:
            self.publish_nowait(topic, payload)

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Remember the event loop that owns this bus, for :meth:`publish_threadsafe`."""
        self._loop = loop or asyncio.get_running_loop()

    def close(self) -> None:
        """Close the bus: every subscription ends after draining; publishing raises afterwards."""
        self._closed = True
        for sub in list(self._subscriptions):
            sub.close()
        self._subscriptions.clear()
        self._routes.clear()

    @property
    def closed(self) -> bool:
        """Whether the bus is closed."""
        return self._closed

    @property
    def stats(self) -> BusStatistics:
        """The bus's counters and those of every open subscription, now (a snapshot)."""
        return BusStatistics(
            published=self._published,
            unrouted=self._unrouted,
            subscriptions=tuple(s.stats for s in self._subscriptions),
        )

    def statistics(self) -> BusStatistics:
        """Deprecated: :attr:`stats`."""
        _deprecated_statistics("Bus")
        return self.stats

    def subscriptions(self) -> Sequence[Subscription]:
        """The open subscriptions."""
        return tuple(self._subscriptions)

    async def drained(self, timeout_s: float = 5.0) -> bool:
        """Wait until every ``block`` subscription has taken what is queued for it.

        A finite source (a replay) awaits it before reporting its end, so that what its last
        messages cause (the pipeline's last windows and cleaned blocks) is published before
        the end is. Subscriptions with a dropping policy are not waited for.

        Args:
            timeout_s: the longest wait, in real seconds (a subscriber that does not read).

        Returns:
            Whether they all drained within ``timeout_s``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while any(s.policy == "block" and s._queue for s in self._subscriptions):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0)
        return True


def _deprecated_statistics(owner: str) -> None:
    warnings.warn(
        f"{owner}.statistics() is deprecated: use {owner}.stats (every counter of the package "
        "is a `stats` attribute)",
        DeprecationWarning,
        stacklevel=3,
    )
