"""The common part of every BLE device driver: find, connect, queue, watch, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from wearsdk._clock import DeviceClockMap
from wearsdk._errors import DeviceNotFoundError
from wearsdk.io.ble import BleTransport
from wearsdk.session import Source, SourceContext, run_with_reconnect

__all__ = ["BleSource", "Notifications"]

logger = logging.getLogger("wearsdk.drivers")

NotifyCallback = Callable[[BleakGATTCharacteristic, bytearray], None]


class Notifications:
    """The bounded queue between bleak's notification callbacks and the driver's task.

    Callbacks only stamp the arrival on the session clock and append ``(kind, arrival,
    payload)``; a full queue drops the notification and counts it (``source.overflowed``).
    """

    def __init__(self, source: BleSource, ctx: SourceContext) -> None:
        self._source = source
        self._ctx = ctx
        self.queue: deque[tuple[str, float, bytes]] = deque()
        self.wake = asyncio.Event()
        self.lost = asyncio.Event()

    def callback(self, kind: str) -> NotifyCallback:
        """A bleak notification callback that queues its payloads under ``kind``."""
        queue, wake, source, clock = self.queue, self.wake, self._source, self._ctx.clock

        def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            source.notifications += 1
            if len(queue) >= source.queue_size:
                source.overflowed += 1
                return
            queue.append((kind, clock.now(), bytes(data)))
            if len(queue) > source.queue_high_water:
                source.queue_high_water = len(queue)
            wake.set()

        return on_notify

    def on_disconnect(self, _client: BleakClient) -> None:
        """The bleak disconnection callback."""
        self.lost.set()
        self.wake.set()

    def clear(self) -> None:
        """Drop what is queued (e.g. data of a previous acquisition)."""
        self.queue.clear()


class BleSource(Source):
    """Base of the drivers of Bluetooth LE devices.

    It finds the device (by address, name, or the service UUID of :meth:`_discovery`),
    connects through the transport, lets the subclass start its notifications and commands in
    :meth:`_setup`, then hands every queued notification to :meth:`_handle_notification` in
    the driver's own task. A link that stays silent for ``stale_after_s`` session seconds is
    dropped; connections are retried with capped, jittered backoff
    (:func:`~wearsdk.session.run_with_reconnect`).

    Args:
        transport: the BLE transport (OS stack via bleak, or bumble).
        address: device address to connect to.
        name: advertised name to look for (used when no address is given).
        source_id: explicit source id; default: a keyed pseudonym of the identity.
        connect_timeout_s: timeout of each discovery and connection attempt.
        reconnect: reconnect after a lost link (else the driver ends with the link).
        max_attempts: give up (raise) after this many failed attempts in a row; 0 = never.
        backoff_max_s: cap of the reconnection backoff (real seconds; the default keeps a
            device that comes back in range reconnected within a few seconds).
        queue_size: bound of the notification queue.
        stale_after_s: drop and reconnect when no notification arrived for this long.
    """

    discovery_service_uuid: str | None = None
    """Service UUID used to find the device when neither address nor name is given."""

    clock_status_every_s: float = 10.0
    """Session seconds between :class:`~wearsdk.ClockStatus` reports of each clock model
    (:meth:`_clock_models`); a reset is reported at once."""

    def __init__(
        self,
        transport: BleTransport,
        *,
        address: str | None = None,
        name: str | None = None,
        source_id: str | None = None,
        connect_timeout_s: float = 10.0,
        reconnect: bool = True,
        max_attempts: int = 0,
        backoff_max_s: float = 2.0,
        queue_size: int = 256,
        stale_after_s: float = 10.0,
    ) -> None:
        self.transport = transport
        self.address = address
        self.name = name
        self._source_id = source_id
        self.connect_timeout_s = connect_timeout_s
        self.reconnect = reconnect
        self.max_attempts = max_attempts
        self.backoff_max_s = backoff_max_s
        self.queue_size = queue_size
        self.stale_after_s = stale_after_s
        self.notifications = 0
        """Notifications received."""
        self.overflowed = 0
        """Notifications dropped because the driver fell behind (queue full)."""
        self._clocks_reported: dict[str, tuple[float, int]] = {}
        self.queue_high_water = 0
        """Longest the notification queue has been (at most ``queue_size``)."""

    @property
    def identity(self) -> str:
        """The address, else the name, else the discovery service (stays in-process)."""
        address, name, service = self._discovery()
        return address or name or service or ""

    @property
    def source_id(self) -> str | None:
        """The explicit source id, if one was given."""
        return self._source_id

    def _discovery(self) -> tuple[str | None, str | None, str | None]:
        """``(address, name, service_uuid)`` to look for; only the first one given is used."""
        return self.address, self.name, self.discovery_service_uuid

    async def run(self, ctx: SourceContext) -> None:
        """Connect, stream and reconnect until cancelled."""
        await run_with_reconnect(
            ctx,
            lambda: self._connection(ctx),
            retry_on=(DeviceNotFoundError, BleakError, TimeoutError, OSError),
            reconnect=self.reconnect,
            max_attempts=self.max_attempts,
            backoff_max_s=self.backoff_max_s,
            logger=logger,
            identity=self.identity,
        )

    async def _connection(self, ctx: SourceContext) -> None:
        address, name, service = self._discovery()
        device = await self.transport.find_device(
            address=address,
            name=None if address else name,
            service_uuid=None if address or name else service,
            timeout_s=self.connect_timeout_s,
        )
        notes = Notifications(self, ctx)
        client = self.transport.client(
            device, disconnected_callback=notes.on_disconnect, timeout_s=self.connect_timeout_s
        )
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(self.connect_timeout_s):
                await client.connect()
            stack.push_async_callback(self._disconnect, client)
            status = await self._setup(client, ctx, notes, stack) or {}
            ctx.status("connected", **status)
            self._on_connected()
            # on a fast (replay/demo) clock, a host stall of a fraction of a second would look
            # like minutes of silence: never wait less than min(stale_after_s, 2) real seconds
            watchdog_s = max(
                ctx.clock.real_delay_s(self.stale_after_s), min(self.stale_after_s, 2.0)
            )
            while True:
                try:
                    async with asyncio.timeout(watchdog_s):
                        await notes.wake.wait()
                except TimeoutError:
                    ctx.status("disconnected", detail=f"no data for {self.stale_after_s:g} s")
                    return
                notes.wake.clear()
                queue = notes.queue
                while queue:
                    kind, arrival, payload = queue.popleft()
                    self._handle_notification(ctx, kind, arrival, payload)
                self._report_clocks(ctx)
                if notes.lost.is_set():
                    ctx.status("disconnected", detail="link lost")
                    return

    @abstractmethod
    async def _setup(
        self,
        client: BleakClient,
        ctx: SourceContext,
        notes: Notifications,
        stack: contextlib.AsyncExitStack,
    ) -> dict[str, Any] | None:
        """Start notifications (``notes.callback(kind)``) and commands once connected.

        Register teardown writes on ``stack``; return extra fields of the ``connected``
        :class:`~wearsdk.DeviceStatus` (e.g. ``battery_pct``).
        """

    def _on_connected(self) -> None:
        """Hook run once per connection, after the ``connected`` status."""

    def _clock_models(self) -> dict[str, DeviceClockMap]:
        """The driver's device clock models by name (``sensor``, ``samples``...), if any."""
        return {}

    def _report_clocks(self, ctx: SourceContext) -> None:
        """Publish each ready clock model's state every ``clock_status_every_s`` and on resets."""
        now = ctx.clock.now()
        for name, model in self._clock_models().items():
            if not model.ready:
                continue
            last_t, last_resets = self._clocks_reported.get(name, (-float("inf"), 0))
            if now - last_t >= self.clock_status_every_s or model.resets != last_resets:
                ctx.clock_status(name, model.quality())
                self._clocks_reported[name] = (now, model.resets)

    @abstractmethod
    def _handle_notification(
        self, ctx: SourceContext, kind: str, arrival: float, payload: bytes
    ) -> None:
        """Decode and publish one queued notification (in the driver's task, never blocking)."""

    async def _disconnect(self, client: BleakClient) -> None:
        if client.is_connected:
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                await client.disconnect()
