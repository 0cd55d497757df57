"""The contract between a session and the things that feed it (drivers, inlets, replays)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from wearsdk._clock import SessionClock
from wearsdk._events import DeviceState, DeviceStatus, Event
from wearsdk._types import SampleBlock
from wearsdk.bus import Bus

__all__ = ["Source", "SourceContext"]


class SourceContext:
    """What a running source gets from its session: the clock, the bus and its identity.

    Topics used: ``physio/<source_id>/<stream>`` for sample blocks and per-stream events,
    ``device/<source_id>/status`` for :class:`~wearsdk.DeviceStatus`.

    Args:
        bus: the session's bus.
        clock: the session clock.
        source_id: the pseudonymous id of this source.
    """

    def __init__(self, bus: Bus, clock: SessionClock, source_id: str) -> None:
        self.bus = bus
        self.clock = clock
        self.source_id = source_id
        self._last_state: DeviceState | None = None

    def publish_block(self, block: SampleBlock) -> None:
        """Publish a sample block on ``physio/<source_id>/<block.stream>`` without waiting."""
        self.bus.publish_nowait(f"physio/{self.source_id}/{block.stream}", block)

    def publish_event(self, stream: str, event: Event) -> None:
        """Publish an event on ``physio/<source_id>/<stream>`` without waiting."""
        self.bus.publish_nowait(f"physio/{self.source_id}/{stream}", event)

    def status(
        self,
        state: DeviceState,
        *,
        detail: str | None = None,
        battery_pct: int | None = None,
        attempt: int | None = None,
    ) -> None:
        """Publish a :class:`~wearsdk.DeviceStatus` on ``device/<source_id>/status``."""
        self._last_state = state
        self.bus.publish_nowait(
            f"device/{self.source_id}/status",
            DeviceStatus(
                t=self.clock.now(),
                source=self.source_id,
                state=state,
                detail=detail,
                battery_pct=battery_pct,
                attempt=attempt,
            ),
        )

    @property
    def last_state(self) -> DeviceState | None:
        """The last state this source reported."""
        return self._last_state


class Source(ABC):
    """Something that feeds a :class:`~wearsdk.Session`: a device driver, an inlet, a replay.

    Subclasses implement :meth:`run`, which publishes through the context until it is cancelled
    (or the source ends by itself, e.g. a finite replay), and the two identity properties.
    """

    @property
    @abstractmethod
    def identity(self) -> str:
        """A stable identifying string (address, serial). Stays in-process: the session only
        publishes its keyed pseudonym."""  # noqa: D205, D209

    @property
    def kind(self) -> str:
        """A short lowercase label used as the pseudonym prefix (``hr``, ``ecg``, ``eda``)."""
        return "dev"

    @property
    def source_id(self) -> str | None:
        """An explicit source id chosen by the user, or ``None`` to use a pseudonym."""
        return None

    @abstractmethod
    async def run(self, ctx: SourceContext) -> None:
        """Acquire and publish until cancelled; release every resource on the way out."""
