"""Fault injection on virtual twins: link drops, vanishing, bursts, silence, clock resets."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wearsdk._errors import ConfigError
from wearsdk.driverkit._twin import VirtualPeripheral

__all__ = ["Fault", "FaultInjector"]

FAULT_KINDS = ("drop", "vanish", "burst", "silence", "clock_reset")
"""The kinds of :class:`Fault` a :class:`FaultInjector` can inject."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault injected.

    Attributes:
        kind: ``drop`` (link dropped, back at once), ``vanish`` (out of range for a while),
            ``burst`` (notifications held, then sent back to back), ``silence`` (connected
            but not notifying), ``clock_reset`` (power loss: link dropped, device clock
            restarted).
        session_start: session time the fault began.
        session_end: session time it ended (the device back, or the burst released).
        real_end: the event loop's time (``loop.time()``) when it ended (for reconnection
            deadlines; real monotonic seconds on a standard loop).
        detail: parameters (``vanish_s``, ``hold_s``, ``released``...).
    """

    kind: str
    session_start: float
    session_end: float
    real_end: float
    detail: dict[str, Any] = field(default_factory=dict)


class FaultInjector:
    """Drives one virtual twin through faults and keeps a log of them.

    Every fault method returns once the fault is over (the twin advertises again, the burst is
    released). ``silence`` needs a twin with a ``paused`` knob, ``clock_reset`` one with a
    ``reset_clock()`` method (the Polar H10 twin).

    Args:
        twin: the virtual peripheral, entered.
        seed: seed of :meth:`random_faults`.
    """

    def __init__(self, twin: VirtualPeripheral, *, seed: int = 0) -> None:
        self.twin = twin
        self.rng = random.Random(seed)
        self.log: list[Fault] = []
        """The faults injected, in order."""

    @property
    def returned_at(self) -> list[float]:
        """Event-loop times (``loop.time()``) at which the twin was reachable again after a
        fault that broke the link."""  # noqa: D205, D209
        return [f.real_end for f in self.log if f.kind in ("drop", "vanish", "clock_reset")]

    def _record(self, kind: str, start: float, **detail: Any) -> Fault:
        fault = Fault(kind, start, self.twin.clock.now(), asyncio.get_running_loop().time(), detail)
        self.log.append(fault)
        return fault

    async def drop(self, *, vanish_s: float = 0.0) -> Fault:
        """Drop the link; with ``vanish_s`` > 0 the twin stays out of range that long."""
        start = self.twin.clock.now()
        await self.twin.drop_link(vanish_s=vanish_s)
        return self._record("vanish" if vanish_s > 0 else "drop", start, vanish_s=vanish_s)

    async def burst(self, hold_s: float) -> Fault:
        """Hold the twin's notifications ``hold_s`` session seconds, then release them at once."""
        start = self.twin.clock.now()
        released = await self.twin.burst(hold_s)
        return self._record("burst", start, hold_s=hold_s, released=released)

    async def silence(self, duration_s: float) -> Fault:
        """Keep the link but stop notifying for ``duration_s`` session seconds."""
        if not hasattr(self.twin, "paused"):
            raise ConfigError(f"{type(self.twin).__name__} has no 'paused' knob")
        start = self.twin.clock.now()
        self.twin.paused = True
        try:
            await asyncio.sleep(self.twin.clock.real_delay_s(duration_s))
        finally:
            self.twin.paused = False
        return self._record("silence", start, duration_s=duration_s)

    async def clock_reset(self, *, vanish_s: float = 2.0) -> Fault:
        """Power loss: the link drops, the device clock restarts, the device returns."""
        reset = getattr(self.twin, "reset_clock", None)
        if reset is None:
            raise ConfigError(f"{type(self.twin).__name__} has no device clock to reset")
        start = self.twin.clock.now()
        reset()
        await self.twin.drop_link(vanish_s=vanish_s)
        return self._record("clock_reset", start, vanish_s=vanish_s)

    async def random_faults(
        self,
        n: int,
        *,
        kinds: Sequence[str] = ("drop", "vanish", "burst"),
        vanish_s: tuple[float, float] = (1.0, 120.0),
        hold_s: tuple[float, float] = (0.2, 2.0),
        between_s: tuple[float, float] = (1.0, 6.0),
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> list[Fault]:
        """Inject ``n`` faults of random kinds at random points.

        Args:
            n: how many.
            kinds: the kinds to draw from (see :class:`Fault`).
            vanish_s: range of ``vanish`` durations, session seconds (uniform on a log scale,
                so short and long absences are both common).
            hold_s: range of ``burst`` holds, session seconds.
            between_s: range of the session time between faults.
            ready: awaited before each fault (e.g. until data flows again), so that faults
                land on a working link; without it they land anywhere, setup included.

        Returns:
            The faults injected.
        """
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ConfigError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        out = []
        for _ in range(n):
            if ready is not None:
                await ready()
            await asyncio.sleep(self.twin.clock.real_delay_s(self.rng.uniform(*between_s)))
            kind = self.rng.choice(list(kinds))
            if kind == "drop":
                fault = await self.drop()
            elif kind == "vanish":
                lo, hi = vanish_s
                fault = await self.drop(vanish_s=lo * (hi / lo) ** self.rng.random())
            elif kind == "burst":
                fault = await self.burst(self.rng.uniform(*hold_s))
            elif kind == "silence":
                fault = await self.silence(self.rng.uniform(*hold_s))
            else:
                fault = await self.clock_reset(vanish_s=self.rng.uniform(*vanish_s))
            out.append(fault)
        return out
