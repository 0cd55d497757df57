"""The session clock: one time base for every sample and event.

Session time is float seconds on the Lab Streaming Layer clock (``pylsl.local_clock()``) when
pylsl is installed, so that wearsdk events line up with every LSL stream recorded next to them
(EEG, eye tracking, markers) without conversion. Without pylsl it is ``time.monotonic()``. Both
are monotonic clocks with an arbitrary origin; on Linux both read ``CLOCK_MONOTONIC``.

Wall-clock (unix) time only appears at the edges: files, JSON lines, MQTT payloads. The mapping
is fixed when the clock is created::

    t_unix = t_session + (unix_at_origin - session_at_origin)

so converted times never jump when the system clock is adjusted during a session.
"""

from wearsdk._clock._device import DeviceClockMap
from wearsdk._clock._roundtrip import RoundTrip, RoundTripClock
from wearsdk._clock._session import (
    ClockQuality,
    ReplayClock,
    ScaledClock,
    SessionClock,
    monotonic_source,
)

__all__ = [
    "ClockQuality",
    "DeviceClockMap",
    "ReplayClock",
    "RoundTrip",
    "RoundTripClock",
    "ScaledClock",
    "SessionClock",
    "monotonic_source",
]
