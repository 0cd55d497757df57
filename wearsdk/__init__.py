"""wearsdk: wearable physiological sensors for affective-computing applications.

The public facade. Everything importable from here is stable API; modules whose names start
with an underscore are private.
"""

from __future__ import annotations

# First, before any import: Ctrl-C while the `wearsdk` command loads (`python -m wearsdk`,
# the console script) is exit 130, not a traceback; in the command's own process only (a
# program that imports wearsdk keeps Python's handling). The command's main restores it
# (wearsdk.cli._interrupts_as_usual).
import sys as _sys


def _loading_the_command() -> bool:
    """`python -m wearsdk` while Python locates the package (argv[0] is "-m" then), or the
    console script (the __main__ file, argv[0], named wearsdk)."""  # noqa: D205, D209
    argv, given = _sys.argv[:1], list(getattr(_sys, "orig_argv", []))
    if argv == ["-m"]:
        return "-m" in given and given[given.index("-m") + 1 :][:1] == ["wearsdk"]
    main_file = getattr(_sys.modules.get("__main__"), "__file__", None)
    if not isinstance(main_file, str) or not argv:
        return False
    # __file__ is absolute, argv[0] as typed: the same file name
    name = main_file.replace("\\", "/").rsplit("/", 1)[-1]
    if argv[0].replace("\\", "/").rsplit("/", 1)[-1] != name:
        return False
    return name.lower() in ("wearsdk", "wearsdk.exe", "wearsdk-script.py", "wearsdk-script.pyw")


def _interrupted_while_loading(signum: int, frame: object) -> None:
    raise SystemExit(130)  # unwinds the imports quietly


if _loading_the_command():
    import _signal  # type: ignore[import-not-found]  # the builtin behind `signal` (no enum)

    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _interrupted_while_loading)

from typing import TYPE_CHECKING  # noqa: E402

from wearsdk._errors import (  # noqa: E402
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
from wearsdk._lazy import lazy_names  # noqa: E402
from wearsdk._version import __version__  # noqa: E402

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
