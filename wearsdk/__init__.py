"""wearsdk: wearable physiological sensors for affective-computing applications.

The public facade. Everything importable from here is stable API; modules whose names start
with an underscore are private.
"""

from typing import TYPE_CHECKING, Any

from wearsdk._clock import (
    ClockQuality,
    DeviceClockMap,
    RoundTrip,
    RoundTripClock,
    ScaledClock,
    SessionClock,
)
from wearsdk._errors import (
    ConfigError,
    ConnectionLostError,
    ConsentError,
    DeviceNotFoundError,
    ProtocolError,
    SessionLogError,
    StreamClosedError,
    SubscriberOverflowError,
    TransportUnavailableError,
    WearError,
)
from wearsdk._events import (
    EVENT_ADAPTER,
    JSON_LIMITS,
    Annotation,
    AnyEvent,
    ClockStatus,
    Command,
    DeviceState,
    DeviceStatus,
    Estimate,
    Event,
    Features,
    Gap,
    HeartRate,
    StressLevel,
)
from wearsdk._privacy import Consent, ConsentGate, ExportPolicy, Pseudonymizer, require_consent
from wearsdk._types import SampleBlock
from wearsdk._version import __version__
from wearsdk.bus import Bus, Message, OverflowPolicy, Subscription

if TYPE_CHECKING:
    from wearsdk.session import PipelineConfig, Session, Source, SourceContext, SourceStream

_LAZY = frozenset({"PipelineConfig", "Session", "Source", "SourceContext", "SourceStream"})
"""Imported on first use: the session layer pulls in the signal processing (scipy), which
``wearsdk --version`` or a script that only reads events should not wait for."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from wearsdk import session

        value = getattr(session, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wearsdk' has no attribute {name!r}")


__all__ = [
    "EVENT_ADAPTER",
    "JSON_LIMITS",
    "Annotation",
    "AnyEvent",
    "Bus",
    "ClockQuality",
    "ClockStatus",
    "Command",
    "ConfigError",
    "ConnectionLostError",
    "Consent",
    "ConsentError",
    "ConsentGate",
    "DeviceClockMap",
    "DeviceNotFoundError",
    "DeviceState",
    "DeviceStatus",
    "Estimate",
    "Event",
    "ExportPolicy",
    "Features",
    "Gap",
    "HeartRate",
    "Message",
    "OverflowPolicy",
    "PipelineConfig",
    "ProtocolError",
    "Pseudonymizer",
    "RoundTrip",
    "RoundTripClock",
    "SampleBlock",
    "ScaledClock",
    "Session",
    "SessionClock",
    "SessionLogError",
    "Source",
    "SourceContext",
    "SourceStream",
    "StreamClosedError",
    "StressLevel",
    "SubscriberOverflowError",
    "Subscription",
    "TransportUnavailableError",
    "WearError",
    "__version__",
    "require_consent",
]
