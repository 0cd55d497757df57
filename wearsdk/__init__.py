"""wearsdk: wearable physiological sensors for affective-computing applications.

The public facade. Everything importable from here is stable API; modules whose names start
with an underscore are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from wearsdk._lazy import lazy_names
from wearsdk._version import __version__

if TYPE_CHECKING:
    from wearsdk._clock import (
        ClockQuality,
        DeviceClockMap,
        ReplayClock,
        RoundTrip,
        RoundTripClock,
        ScaledClock,
        SessionClock,
    )
    from wearsdk._contracts import Sink, SinkContext, SinkReport
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
    from wearsdk.bus import Bus, Message, OverflowPolicy, Subscription
    from wearsdk.session import PipelineConfig, Session, Source, SourceContext, SourceStream

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
    "ReplayClock",
    "RoundTrip",
    "RoundTripClock",
    "SampleBlock",
    "ScaledClock",
    "Session",
    "SessionClock",
    "SessionLogError",
    "Sink",
    "SinkContext",
    "SinkReport",
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

# Names are imported on first use (PEP 562), so ``import wearsdk.signals`` or the command
# line's help does not load the session, the bus or pydantic.
# This table says where each name not imported above lives.
_LAZY: dict[str, str] = {
    "ClockQuality": "wearsdk._clock",
    "DeviceClockMap": "wearsdk._clock",
    "ReplayClock": "wearsdk._clock",
    "RoundTrip": "wearsdk._clock",
    "RoundTripClock": "wearsdk._clock",
    "ScaledClock": "wearsdk._clock",
    "SessionClock": "wearsdk._clock",
    "EVENT_ADAPTER": "wearsdk._events",
    "JSON_LIMITS": "wearsdk._events",
    "Annotation": "wearsdk._events",
    "AnyEvent": "wearsdk._events",
    "ClockStatus": "wearsdk._events",
    "Command": "wearsdk._events",
    "DeviceState": "wearsdk._events",
    "DeviceStatus": "wearsdk._events",
    "Estimate": "wearsdk._events",
    "Event": "wearsdk._events",
    "Features": "wearsdk._events",
    "Gap": "wearsdk._events",
    "HeartRate": "wearsdk._events",
    "StressLevel": "wearsdk._events",
    "Consent": "wearsdk._privacy",
    "ConsentGate": "wearsdk._privacy",
    "ExportPolicy": "wearsdk._privacy",
    "Pseudonymizer": "wearsdk._privacy",
    "require_consent": "wearsdk._privacy",
    "SampleBlock": "wearsdk._types",
    "Sink": "wearsdk._contracts",
    "SinkContext": "wearsdk._contracts",
    "SinkReport": "wearsdk._contracts",
    "Bus": "wearsdk.bus",
    "Message": "wearsdk.bus",
    "OverflowPolicy": "wearsdk.bus",
    "Subscription": "wearsdk.bus",
    "PipelineConfig": "wearsdk.session",
    "Session": "wearsdk.session",
    "Source": "wearsdk.session",
    "SourceContext": "wearsdk.session",
    "SourceStream": "wearsdk.session",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
