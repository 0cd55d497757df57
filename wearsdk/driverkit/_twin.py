"""The common part of every virtual twin: a bumble peripheral that advertises, serves GATT and
comes back after its link drops.
"""  # noqa: D205

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import abstractmethod
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Self

from bumble import gatt
from bumble.att import ATT_Error
from bumble.device import Connection, Device
from bumble.gatt import Characteristic

from wearsdk._clock import SessionClock
from wearsdk._errors import ConfigError
from wearsdk.io.ble import start_advertising

__all__ = ["VirtualPeripheral"]

logger = logging.getLogger(__name__)


class VirtualPeripheral:
    """Base of the virtual twins of BLE devices.

    As an async context manager it adds the twin's GATT services to the bumble device,
    advertises (name and service UUIDs, or the name alone when both do not fit in 31 bytes),
    runs the twin's background work (:meth:`_started`), advertises again whenever a link drops,
    and cancels everything on exit. Subclasses declare their services in
    :meth:`_gatt_services` and react to lost links in :meth:`_link_closed`.

    Args:
        device: a powered-on bumble device (e.g. from ``VirtualLink.add_peripheral``).
        clock: the session clock that paces the twin.
        name: advertised local name.
        service_uuids: service UUIDs to advertise.
    """

    role = "twin"
    """Label of the twin's task names (``wearsdk[<role>].<task>``)."""

    def __init__(
        self, device: Device, clock: SessionClock, *, name: str, service_uuids: Sequence[str]
    ) -> None:
        self.device = device
        self.clock = clock
        self.name = name
        self._service_uuids = tuple(service_uuids)
        self._tasks: set[asyncio.Task[None]] = set()
        self._advertising = True
        self._t0 = 0.0
        self._held: list[tuple[Characteristic[Any], bytes, Connection | None]] | None = None
        self.bursts = 0
        """Bursts released so far (:meth:`burst`)."""
        self._supervision_s: float | None = None
        self.links_dropped_silent = 0
        """Links dropped because the central stopped answering (:meth:`supervise_links`)."""

    @property
    def started_at(self) -> float:
        """Session time at which the twin started (entered its context): its simulators' 0."""
        return self._t0

    @property
    def connected(self) -> bool:
        """Whether a central is connected."""
        return bool(self.device.connections)

    @abstractmethod
    def _gatt_services(self) -> Sequence[gatt.Service]:
        """The GATT services the twin serves."""

    async def _started(self) -> None:
        """Hook: start the twin's background work (with :meth:`_spawn`) once it advertises."""

    def _stopping(self) -> None:
        """Hook: the twin is leaving (before its tasks are cancelled)."""

    def _link_closed(self, connection: Connection) -> None:
        """Hook: a central's link dropped (a real device stops its streams)."""

    async def __aenter__(self) -> Self:
        self._t0 = self.clock.now()
        self.device.add_services(list(self._gatt_services()))
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        await self._advertise()
        await self._started()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._advertising = False
        self._stopping()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _advertise(self) -> None:
        try:
            await start_advertising(self.device, name=self.name, service_uuids=self._service_uuids)
        except ConfigError:  # a long name and a 128-bit UUID do not fit in 31 bytes
            await start_advertising(self.device, name=self.name)

    def _on_connection(self, connection: Connection) -> None:
        connection.on(
            connection.EVENT_DISCONNECTION, lambda _reason: self._on_disconnection(connection)
        )
        if self._supervision_s is not None:
            self._spawn(self._supervise(connection, self._supervision_s), "supervise")

    def supervise_links(self, timeout_s: float = 2.0) -> None:
        """Drop a link whose central stops answering, and advertise again.

        A real radio ends a link whose peer falls silent after the supervision timeout. Between
        bumble controllers (e.g. ``bumble.apps.controllers``) a central process killed without
        disconnecting leaves its controller holding the link, so the twin would stay
        "connected", never advertise again and no new central could find it. Once this is on,
        the twin asks each central for an attribute every ``timeout_s`` real seconds; a central
        that does not answer within ``timeout_s`` (an error response is an answer) is
        disconnected, which restarts advertising.

        Args:
            timeout_s: real seconds between probes and to wait for an answer.

        Raises:
            ConfigError: if ``timeout_s`` is not positive.
        """
        if not timeout_s > 0:
            raise ConfigError(f"supervision timeout must be positive, not {timeout_s!r}")
        first = self._supervision_s is None
        self._supervision_s = timeout_s
        if first:
            for connection in list(self.device.connections.values()):
                self._spawn(self._supervise(connection, timeout_s), "supervise")

    async def _supervise(self, connection: Connection, timeout_s: float) -> None:
        def linked() -> bool:  # handles are reused: the same handle may be a newer link
            return self.device.connections.get(connection.handle) is connection

        while linked():
            await asyncio.sleep(timeout_s)
            if not linked():
                return
            try:
                # handle 1 exists on every GATT server; an ATT error response is an answer too
                await asyncio.wait_for(connection.gatt_client.read_value(1), timeout_s)
            except ATT_Error:
                continue
            except TimeoutError:
                if not linked():
                    return
                logger.info("%s: central stopped answering; dropping the link", self.name)
                self.links_dropped_silent += 1
                with contextlib.suppress(Exception):  # gone meanwhile: nothing left to drop
                    await connection.disconnect()
                return
            except Exception as exc:  # the link went down during the probe
                logger.debug("%s: link probe ended: %r", self.name, exc)

    def _on_disconnection(self, connection: Connection) -> None:
        self._link_closed(connection)
        if self._advertising:
            self._spawn(self._advertise(), "advertise")

    def _spawn(self, coro: Coroutine[Any, Any, None], task: str) -> asyncio.Task[None]:
        created = asyncio.get_running_loop().create_task(coro, name=f"wearsdk[{self.role}].{task}")
        self._tasks.add(created)
        created.add_done_callback(self._tasks.discard)
        return created

    def subscribed(self, characteristic: Characteristic[Any]) -> bool:
        """Whether a connected central has turned on notifications of ``characteristic``."""
        for cccds in self.device.gatt_server.subscribers.values():
            value = cccds.get(characteristic.handle)
            if value and value[0] & 0x01:
                return True
        return False

    async def notify(
        self,
        characteristic: Characteristic[Any],
        payload: bytes,
        *,
        connection: Connection | None = None,
    ) -> None:
        """Notify ``payload`` to one connection, or to every subscriber (the twins' only path).

        While a :meth:`burst` holds notifications, they are queued (in order) instead.
        """
        if self._held is not None:
            self._held.append((characteristic, payload, connection))
            return
        await self._deliver(characteristic, payload, connection)

    async def _deliver(
        self, characteristic: Characteristic[Any], payload: bytes, connection: Connection | None
    ) -> None:
        if connection is None:
            await self.device.notify_subscribers(characteristic, payload)
        else:
            await self.device.notify_subscriber(connection, characteristic, payload)

    async def burst(self, hold_s: float) -> int:
        """Hold every notification for ``hold_s`` session seconds, then send them back to back.

        What a radio does after a stretch of missed connection events: nothing arrives, then
        everything at once, in order. Notifications made while the burst is being released
        queue behind it, so the order never changes.

        Returns:
            The number of notifications released in the burst.
        """
        held: list[tuple[Characteristic[Any], bytes, Connection | None]] = []
        self._held = held
        try:
            await asyncio.sleep(self.clock.real_delay_s(hold_s))
            released = 0
            while held:
                characteristic, payload, connection = held.pop(0)
                with contextlib.suppress(Exception):  # the link went away meanwhile: lost
                    await self._deliver(characteristic, payload, connection)
                released += 1
        finally:
            self._held = None
        self.bursts += 1
        return released

    async def drop_link(self, *, vanish_s: float = 0.0) -> None:
        """Drop every connection from the device's side, optionally staying silent a while.

        Args:
            vanish_s: session seconds during which the device does not advertise (out of
                range); 0 advertises again at once.
        """
        self._advertising = vanish_s <= 0
        for connection in list(self.device.connections.values()):
            await connection.disconnect()
        if vanish_s > 0:
            await self.device.stop_advertising()
            await asyncio.sleep(self.clock.real_delay_s(vanish_s))
            self._advertising = True
            await self._advertise()
