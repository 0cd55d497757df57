"""A bleak backend implemented on bumble: real GATT over a bumble ``Device`` acting as central.

The backend is selected with bleak's ``backend=`` argument and receives the bumble central
through bleak's extra keyword arguments::

    client = BleakClient(device, backend=BumbleBleakClient, bumble_device=central)
    scanner = BleakScanner(backend=BumbleBleakScanner, bumble_device=central)

Errors follow bleak's contract (``BleakError``, ``BleakGATTProtocolError``,
``BleakDeviceNotFoundError``) so that a driver handles a virtual twin and a real strap the same
way; a link that is gone raises an error that is both a ``BleakError`` and a wearsdk
``ConnectionLostError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy, ServiceProxy

from wearsdk._errors import ConfigError
from wearsdk.io.ble._bumble_scanner import (
    BumbleBleakScanner,
    _LinkLostError,
    _require_device,
    _spurious_cancel,
    _state,
    _uuid_str,
)

__all__ = ["DEFAULT_MTU", "BumbleBleakClient", "BumbleBleakScanner"]

logger = logging.getLogger(__name__)

DEFAULT_MTU = 517
"""ATT MTU requested after connecting (the largest the ATT protocol allows)."""

_MIN_MTU = att.ATT_DEFAULT_MTU
_T = TypeVar("_T")


class BumbleBleakClient(BaseBleakClient):
    """Bleak client backend speaking GATT through a bumble central ``Device``.

    Characteristic handles are declaration handles (value handle - 1), as on BlueZ and
    CoreBluetooth; all ATT traffic goes through the bumble proxy kept in each GATT object's
    ``obj``. Pairing is not supported.

    Args:
        address_or_ble_device: a ``BLEDevice`` from ``BumbleBleakScanner`` (its typed address is
            used directly) or an address string (``"AA:BB:CC:DD:EE:FF"`` is looked up by
            scanning; a ``"/P"`` suffix forces a public address without scanning).
        disconnected_callback: called (soon, in the loop) when the peer drops the link.
        services: normalised service UUIDs to discover, or ``None`` for all.
        timeout: seconds allowed for connecting, MTU exchange and discovery.
        bumble_device: the powered-on bumble central to connect with.
        mtu: ATT MTU to request after connecting (23 skips the exchange).
        **kwargs: other bleak backend arguments (``bluez=``, ``winrt=``), ignored.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        services: set[str] | None = None,
        timeout: float = 10.0,
        bumble_device: Device | None = None,
        mtu: int = DEFAULT_MTU,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        if not _MIN_MTU <= mtu <= 0xFFFF:
            raise ConfigError(f"mtu must be within {_MIN_MTU}..65535, got {mtu}")
        self._device = _require_device(bumble_device, "BumbleBleakClient")
        self._mtu = mtu
        self._services_filter = services
        self._ble_device = (
            address_or_ble_device if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The advertised name if known, else the address with dashes."""
        if self._ble_device is not None and self._ble_device.name:
            return self._ble_device.name
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU (23 before the exchange or when disconnected)."""
        return self._connection.att_mtu if self._connection is not None else _MIN_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover services into ``self.services``.

        Raises:
            NotImplementedError: if ``pair`` is true.
            BleakDeviceNotFoundError: if an address string is not seen advertising.
            TimeoutError: if it takes longer than the client's timeout.
        """
        if pair:
            raise NotImplementedError("pairing is not supported by the bumble backend")
        if self._connection is not None:
            return
        address: hci.Address | None = None
        try:
            async with asyncio.timeout(self._timeout):
                address = await self._resolve_address()
                connection = await self._open_link(address)
                peer = Peer(connection)
                self._connection, self._peer, self._closing = connection, peer, False
                self._subscribers.clear()
                connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
                logger.debug("connected to %s", self.address)
                try:
                    if self._mtu > _MIN_MTU:
                        await self._att(peer.request_mtu(self._mtu))
                    self.services = await self._discover(peer)
                except BaseException:
                    await self._drop_link()
                    raise
        except TimeoutError:
            if address is None:
                raise BleakDeviceNotFoundError(self.address, "not seen advertising") from None
            raise

    async def disconnect(self) -> None:
        """Disconnect (no-op if not connected); the disconnected callback is not called."""
        await self._drop_link()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Not supported by this backend."""
        raise NotImplementedError("pairing is not supported by the bumble backend")

    async def unpair(self) -> None:
        """Not supported by this backend."""
        raise NotImplementedError("unpairing is not supported by the bumble backend")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (``use_cached`` returns the last value read, if any)."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        return await self._read(proxy, use_cached)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        proxy: DescriptorProxy = descriptor.obj
        return await self._read(proxy, use_cached)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic value, as a request (``response``) or a command."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        self._require_link()
        await self._att(proxy.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (with response)."""
        proxy: DescriptorProxy = descriptor.obj
        self._require_link()
        await self._att(proxy.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Subscribe (notifications preferred over indications); bumble writes the CCCD."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        self._require_link()
        if characteristic.handle in self._subscribers:
            await self.stop_notify(characteristic)

        def on_value(value: bytes) -> None:
            # Called inside bumble's ATT dispatch: hand the bytes over and never raise into it.
            try:
                callback(bytearray(value))
            except Exception:
                logger.exception("notification callback failed")

        self._subscribers[characteristic.handle] = on_value
        try:
            await self._att(proxy.subscribe(on_value, prefer_notify=True))
        except BaseException:
            self._subscribers.pop(characteristic.handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe (writes 0 to the CCCD when no subscriber is left)."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        subscriber = self._subscribers.pop(characteristic.handle, None)
        if subscriber is not None and self._connection is not None:
            await self._att(proxy.unsubscribe(subscriber))

    # -- internals ---------------------------------------------------------------------------

    async def _resolve_address(self) -> hci.Address:
        if self._ble_device is not None and isinstance(self._ble_device.details, hci.Address):
            return self._ble_device.details
        text = self.address.strip().upper()
        if text.endswith("/P"):
            return hci.Address(text)
        target = text.replace("-", ":")
        found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

        def on_detection(device: BLEDevice, _adv: AdvertisementData) -> None:
            if device.address.upper() == target and not found.done():
                found.set_result(device)

        scanner = BumbleBleakScanner(on_detection, None, bumble_device=self._device)
        await scanner.start()
        try:
            self._ble_device = await found
        finally:
            await scanner.stop()
        details: hci.Address = self._ble_device.details
        return details

    async def _open_link(self, address: hci.Address) -> Connection:
        async with _state(self._device).connect_lock:
            try:
                return await self._device.connect(
                    address, own_address_type=hci.OwnAddressType.RANDOM, timeout=None
                )
            except asyncio.CancelledError:
                if _spurious_cancel():  # bumble aborts pending connects when powered off
                    raise _LinkLostError("the bumble central was reset while connecting") from None
                # Abandoning a pending LE Create Connection: tell the controller too (bumble's
                # own cancel_connection() is a no-op once connect() has unwound).
                with contextlib.suppress(Exception):
                    await self._device.send_sync_command(
                        hci.HCI_LE_Create_Connection_Cancel_Command()
                    )
                raise
            except core.ConnectionError as exc:
                raise BleakError(f"connection failed: {exc}") from exc

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        uuids = [core.UUID(u) for u in self._services_filter or ()]
        services: list[ServiceProxy] = await self._att(peer.discover_services(uuids))
        collection = BleakGATTServiceCollection()
        for service_proxy in services:
            service = BleakGATTService(
                service_proxy, service_proxy.handle, _uuid_str(service_proxy.uuid)
            )
            collection.add_service(service)
            for char_proxy in await self._att(peer.discover_characteristics(service=service_proxy)):
                properties = [
                    name
                    for bit, name in CHARACTERISTIC_PROPERTIES.items()
                    if int(char_proxy.properties) & bit
                ]
                char = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle - 1,  # declaration handle, as bleak's other backends
                    _uuid_str(char_proxy.uuid),
                    properties,
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(char)
                descriptors: list[DescriptorProxy] = await self._att(
                    peer.discover_descriptors(characteristic=char_proxy)
                )
                for desc_proxy in descriptors:
                    desc = BleakGATTDescriptor(
                        desc_proxy, desc_proxy.handle, _uuid_str(desc_proxy.type), char
                    )
                    collection.add_descriptor(desc)
        return collection

    async def _read(
        self, proxy: CharacteristicProxy[bytes] | DescriptorProxy, use_cached: bool
    ) -> bytearray:
        peer = self._require_link()
        if use_cached and (cached := peer.gatt_client.cached_values.get(proxy.handle)) is not None:
            return bytearray(cached[1])
        value: bytes = await self._att(proxy.read_value())
        return bytearray(value)

    def _require_link(self) -> Peer:
        if self._peer is None:
            raise _LinkLostError(f"not connected to {self.address}")
        return self._peer

    async def _att(self, operation: Awaitable[_T]) -> _T:
        """Await a bumble ATT operation, translating its errors to bleak's and wearsdk's."""
        try:
            return await operation
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except core.TimeoutError as exc:
            raise TimeoutError(f"ATT request to {self.address} timed out") from exc
        except asyncio.CancelledError:
            # bumble cancels the pending ATT response when the link drops; that is not a
            # cancellation of this task, so surface it as a lost link.
            if _spurious_cancel() and self._connection is None:
                raise _LinkLostError(
                    f"link to {self.address} lost during a GATT operation"
                ) from None
            raise

    async def _drop_link(self) -> None:
        connection, self._closing = self._connection, True
        if connection is None:
            return
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:  # e.g. the link went down meanwhile
            logger.debug("disconnect of %s: %s", self.address, exc)
        except asyncio.CancelledError:
            if not _spurious_cancel():
                raise
        finally:
            self._forget(connection)

    def _forget(self, connection: Connection) -> None:
        if self._connection is connection:
            connection.remove_listener(Connection.EVENT_DISCONNECTION, self._on_disconnection)
            self._connection = self._peer = None
            self._subscribers.clear()

    def _on_disconnection(self, reason: int) -> None:
        # Runs inside bumble's event dispatch: update state and schedule the user callback.
        connection = self._connection
        if connection is None:
            return
        unsolicited = not self._closing
        self._forget(connection)
        logger.debug("link to %s down (reason 0x%02X)", self.address, reason)
        if unsolicited and self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)
