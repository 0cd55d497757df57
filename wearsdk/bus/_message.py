"""What the bus carries and counts: messages, topic filters, overflow policies, statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias

from wearsdk._errors import ConfigError
from wearsdk._events import Event
from wearsdk._types import SampleBlock

OverflowPolicy: TypeAlias = Literal["block", "drop_oldest", "error"]
"""What a subscription does when its bounded queue is full.

- ``drop_oldest``: discard the oldest queued message (counted in ``dropped``); the default.
- ``block``: producers that ``await bus.publish()`` wait for room (lossless backpressure, for
  replays and recorders); producers that cannot wait (``publish_nowait``, live devices) never
  block: the message is dropped for this subscriber and counted.
- ``error``: the subscription fails with :class:`~wearsdk.SubscriberOverflowError` at its next
  receive; the producer and the other subscribers are unaffected.
"""

BusItem: TypeAlias = Event | SampleBlock
"""What travels on the bus: a typed event or a block of samples."""


class Message(NamedTuple):
    """A published item with the topic it was published on."""

    topic: str
    payload: BusItem


class SubscriptionStatistics(NamedTuple):
    """Counters of one subscription (see :attr:`Subscription.stats`)."""

    topic_filter: str
    policy: OverflowPolicy
    maxsize: int
    queued: int
    """Messages waiting to be received."""
    received: int
    """Messages handed to the subscriber."""
    dropped: int
    """Messages that matched but were discarded because the queue was full."""
    high_water: int
    """Largest queue length seen."""
    closed: bool


class BusStatistics(NamedTuple):
    """Counters of the whole bus (see :attr:`Bus.stats`)."""

    published: int
    """Messages published."""
    unrouted: int
    """Messages that matched no subscription."""
    subscriptions: tuple[SubscriptionStatistics, ...]


def _check_filter(topic_filter: str) -> None:
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if level == "#" and i != len(levels) - 1:
            raise ConfigError(f"'#' must be the last level of a topic filter: {topic_filter!r}")
        if level not in ("#", "+") and ("#" in level or "+" in level):
            raise ConfigError(f"wildcards must fill a whole level: {topic_filter!r}")
    if not topic_filter:
        raise ConfigError("empty topic filter")


def _check_topic(topic: str) -> None:
    if not topic or "#" in topic or "+" in topic:
        raise ConfigError(f"a published topic must be non-empty and free of wildcards: {topic!r}")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Return whether ``topic`` matches ``topic_filter`` (MQTT rules: ``+`` one level, ``#`` rest).

    Args:
        topic_filter: a filter such as ``physio/+/rr`` or ``analyzer/#``.
        topic: a concrete topic such as ``physio/strap1/rr``.
    """
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    for i, f in enumerate(f_levels):
        if f == "#":
            return True
        if i >= len(t_levels):
            return False
        if f != "+" and f != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


@dataclass(slots=True)
class _Counters:
    received: int = 0
    dropped: int = 0
    high_water: int = 0
