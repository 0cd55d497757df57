"""An in-process virtual radio: bumble controllers on a ``LocalLink``.

Virtual twins are bumble peripherals on their own controllers; centrals are bumble devices on
theirs; everything goes through real HCI, LL, L2CAP and ATT, in the running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
import uuid
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Self

from bleak.uuids import normalize_uuid_str
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import AdvertisingType, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from wearsdk._errors import ConfigError, TransportUnavailableError, WearError
from wearsdk.io.ble._transport import (
    _POWER_ON_TIMEOUT_S,
    BleTransport,
    _BumbleCentralTransport,
    _lost,
    _shutdown_device,
    open_bumble_transport,
)

__all__ = ["ADVERTISING_INTERVAL_MS", "VirtualLink", "open_peripheral", "start_advertising"]

logger = logging.getLogger(__name__)

ADVERTISING_INTERVAL_MS = 100.0
"""Advertising interval of virtual peripherals (short, so discovery takes ~0.1 s)."""

_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_MAX_LEGACY_AD_LEN = 31
_AD = AdvertisingData.Type


def _advertising_data(name: str, service_uuids: Sequence[str]) -> bytes:
    """Flags, service UUID lists and complete local name, in one legacy advertising PDU."""
    short: list[int] = []
    long: list[bytes] = []
    for text in service_uuids:
        normalized = normalize_uuid_str(text.strip().lower().removeprefix("0x"))
        if normalized.startswith("0000") and normalized.endswith(_BASE_UUID_SUFFIX):
            short.append(int(normalized[4:8], 16))
        else:
            long.append(uuid.UUID(normalized).bytes[::-1])  # little-endian on air
    # LE General Discoverable, BR/EDR not supported.
    structures: list[tuple[int, bytes]] = [(_AD.FLAGS, bytes([0x06]))]
    if short:
        packed = b"".join(struct.pack("<H", u) for u in short)
        structures.append((_AD.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, packed))
    if long:
        structures.append((_AD.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, b"".join(long)))
    structures.append((_AD.COMPLETE_LOCAL_NAME, name.encode("utf-8")))
    data = bytes(AdvertisingData(structures))
    # bumble's virtual controller does not send scan response data, so everything a scanner
    # filters on must fit in the advertising PDU itself.
    if len(data) > _MAX_LEGACY_AD_LEN:
        raise ConfigError(
            f"advertising data for {name!r} is {len(data)} bytes, more than the 31 a legacy "
            "advertisement holds: shorten the name or list fewer service UUIDs"
        )
    return data


async def start_advertising(
    device: Device, *, name: str, service_uuids: Sequence[str] = ()
) -> None:
    """Advertise ``device`` as connectable, with its name and service UUIDs, every ~100 ms.

    Advertising restarts by itself after a connection ends, as a real sensor's does.

    Args:
        device: a powered-on bumble peripheral (e.g. from ``VirtualLink.add_peripheral``).
        name: complete local name.
        service_uuids: service UUIDs to list (16-bit ones in the 16-bit list, others 128-bit).

    Raises:
        ConfigError: if flags, UUID lists and name do not fit in one 31-byte advertisement.
    """
    await device.start_advertising(
        advertising_type=AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE,
        auto_restart=True,
        advertising_data=_advertising_data(name, service_uuids),
        scan_response_data=b"",
        advertising_interval_min=ADVERTISING_INTERVAL_MS,
        advertising_interval_max=ADVERTISING_INTERVAL_MS,
    )


class _VirtualCentral(_BumbleCentralTransport):
    """A central bumble ``Device`` on its own controller on a ``VirtualLink``."""

    def __init__(self, link: VirtualLink, index: int, *, mtu: int) -> None:
        super().__init__(mtu=mtu)
        self._link = link
        self._index = index
        self._controller: Controller | None = None

    @property
    def description(self) -> str:
        """Human-readable description."""
        return f"bumble virtual link (central {self._index})"

    async def _open(self) -> None:
        address = self._link._new_address()
        controller = Controller(
            f"central-{self._index}", link=self._link._bus, public_address=address
        )
        device = Device(
            name=f"wearsdk-central-{self._index}",
            address=Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        try:
            await device.power_on()
        except BaseException:
            self._link._bus.remove_controller(controller)
            raise
        self._controller, self._device = controller, device

    async def _close(self) -> None:
        controller, self._controller = self._controller, None
        try:
            await self._release_device()
        finally:
            bus = self._link._bus_  # None if the link was closed first
            if controller is not None and bus is not None and controller in bus.controllers:
                bus.remove_controller(controller)


class VirtualLink:
    """An in-process virtual BLE radio (bumble ``LocalLink``); enter it inside the running loop.

    Peripherals and centrals each get their own virtual controller with a unique address.

    Example:
        async with VirtualLink() as link:
            twin = await link.add_peripheral(name="HR twin")
            twin.add_service(my_service)
            await start_advertising(twin, name="HR twin", service_uuids=["180d"])
            async with link.central() as transport:
                device = await transport.find_device(name="HR twin")
                async with transport.client(device) as client:
                    ...
    """

    def __init__(self) -> None:
        self._bus_: LocalLink | None = None
        self._peripherals: list[tuple[Controller, Device]] = []
        self._addresses: set[str] = set()
        self._counter = itertools.count(1)

    @property
    def _bus(self) -> LocalLink:
        if self._bus_ is None:
            raise WearError("VirtualLink is not open; use it as `async with VirtualLink() as link`")
        return self._bus_

    async def __aenter__(self) -> Self:
        # Untyped in bumble; its controllers bind to the running loop, hence "enter in the loop".
        self._bus_ = LocalLink()  # type: ignore[no-untyped-call]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        peripherals, self._peripherals = self._peripherals, []
        try:
            for controller, device in peripherals:
                try:
                    await _shutdown_device(device)
                finally:
                    self._bus.remove_controller(controller)
        finally:
            self._bus_ = None

    def central(self, *, mtu: int = 517) -> BleTransport:
        """A transport whose central has its own controller on this link.

        Use it as ``async with link.central() as transport:``; several centrals are allowed.

        Args:
            mtu: ATT MTU that its clients request after connecting.
        """
        return _VirtualCentral(self, next(self._counter), mtu=mtu)

    async def add_peripheral(self, *, name: str, address: str | None = None) -> Device:
        """Add a powered-on bumble peripheral on its own controller; closed on link exit.

        The caller adds GATT services and then calls ``start_advertising``. The address is used
        as the controller's public address and as the static random address it advertises
        with (bumble's link routes LE data by random address).

        Args:
            name: the device (GAP) name.
            address: ``"AA:BB:CC:DD:EE:FF"``; a unique one is generated if omitted.

        Raises:
            ConfigError: if the address is malformed or already on this link.
        """
        bus = self._bus
        if address is None:
            address = self._new_address()
        else:
            address = address.upper()
            try:
                Address(address)
            except ValueError as exc:
                raise ConfigError(f"not a Bluetooth address: {address!r}") from exc
            if address in self._addresses:
                raise ConfigError(f"address {address} is already on this virtual link")
            self._addresses.add(address)
        controller = Controller(f"peripheral-{name}", link=bus, public_address=address)
        device = Device(
            name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller))
        )
        try:
            await device.power_on()
        except BaseException:
            bus.remove_controller(controller)
            raise
        self._peripherals.append((controller, device))
        logger.debug("virtual peripheral %r at %s", name, address)
        return device

    def _new_address(self) -> str:
        while True:
            # Static random addresses have their two top bits set.
            candidate = Address.generate_static_address().to_string(with_type_qualifier=False)
            if candidate not in self._addresses:
                self._addresses.add(candidate)
                return candidate


@contextlib.asynccontextmanager
async def open_peripheral(
    spec: str, *, name: str, address: str | None = None
) -> AsyncIterator[Device]:
    """A powered-on bumble peripheral on a bumble transport, for twins served out of process.

    For example, with ``python -m bumble.apps.controllers tcp-server:127.0.0.1:P1
    tcp-server:127.0.0.1:P2`` running, a twin serves on ``open_peripheral("tcp-client:
    127.0.0.1:P2", ...)`` and a central connects with ``BumbleBleTransport("tcp-client:
    127.0.0.1:P1")``. The peripheral is disconnected and powered off on exit.

    Args:
        spec: a bumble transport spec.
        name: the device (GAP) name.
        address: static random address to advertise with; generated if omitted.
    """
    from bumble.transport.common import TransportLostError

    transport = await open_bumble_transport(spec)
    try:
        addr = Address(address) if address else Address.generate_static_address()
        device = Device(name=name, address=addr, host=Host(transport.source, transport.sink))
        try:
            async with asyncio.timeout(_POWER_ON_TIMEOUT_S):
                await device.power_on()
        except TimeoutError:
            raise TransportUnavailableError(
                f"the controller of 'bumble:{spec}' did not answer within {_POWER_ON_TIMEOUT_S:g} s"
            ) from None
        except TransportLostError:
            raise TransportUnavailableError(_lost(spec)) from None
        try:
            yield device
        finally:
            await _shutdown_device(device)
    finally:
        await transport.close()
