"""The timestamped event bus shared by devices, processing, analyzers and sinks."""

from wearsdk.bus._bus import (
    Bus,
    BusItem,
    BusStatistics,
    Message,
    OverflowPolicy,
    Subscription,
    SubscriptionStatistics,
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
