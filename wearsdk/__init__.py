"""wearsdk: wearable physiological sensors for affective-computing applications.

The public facade. Everything importable from here is stable API; modules whose names start
with an underscore are private.
"""

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
