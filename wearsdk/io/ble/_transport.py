"""BLE transports: where bleak scanners and clients get their radio from.

A transport is an async context manager that owns a radio (nothing for the OS stack, a bumble
HCI transport and central ``Device`` otherwise) and hands out bleak objects bound to it, so a
driver written against ``bleak.BleakClient`` runs unchanged on a real strap, a USB dongle
driven by bumble, or a virtual twin.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str

from wearsdk._errors import (
    ConfigError,
    DeviceNotFoundError,
    TransportUnavailableError,
    WearError,
)

if TYPE_CHECKING:
    from bumble.device import Device
    from bumble.transport.common import Transport

__all__ = ["BleTransport", "BumbleBleTransport", "OsBleTransport", "parse_transport"]

logger = logging.getLogger(__name__)

_DEFAULT_MTU = 517
_CLOSE_TIMEOUT_S = 2.0
_POWER_ON_TIMEOUT_S = 10.0


def _normalize_uuid(text: str) -> str:
    try:
        return normalize_uuid_str(text.strip().lower().removeprefix("0x"))
    except ValueError as exc:
        raise ConfigError(f"not a Bluetooth UUID: {text!r}") from exc


class BleTransport(abc.ABC):
    """A BLE radio to scan and connect with; use it as ``async with transport: ...``."""

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Human-readable description, e.g. ``"bleak (OS stack)"``."""

    async def _open(self) -> None:  # noqa: B027 - optional hook
        """Acquire the radio (default: nothing to do)."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Release the radio, even when cancelled (default: nothing to do)."""

    def _scanner_options(self) -> dict[str, Any]:
        """Extra ``BleakScanner`` arguments (``backend=`` and backend kwargs)."""
        return {}

    def _client_options(self) -> dict[str, Any]:
        """Extra ``BleakClient`` arguments (``backend=`` and backend kwargs)."""
        return {}

    async def scan(
        self, *, timeout_s: float = 5.0, service_uuids: Sequence[str] | None = None
    ) -> list[tuple[BLEDevice, AdvertisementData]]:
        """Scan for ``timeout_s`` seconds.

        Args:
            timeout_s: scan duration in seconds.
            service_uuids: only report advertisers listing one of these service UUIDs
                (16-bit ``"180d"`` or 128-bit strings).

        Returns:
            One ``(device, latest advertisement)`` pair per advertiser seen.
        """
        uuids = None if service_uuids is None else [_normalize_uuid(u) for u in service_uuids]
        scanner = BleakScanner(None, uuids, **self._scanner_options())
        async with self._scanning(scanner):
            await asyncio.sleep(timeout_s)
        return list(scanner.discovered_devices_and_advertisement_data.values())

    @contextlib.asynccontextmanager
    async def _scanning(self, scanner: BleakScanner) -> AsyncIterator[BleakScanner]:
        """Run ``scanner``; a radio that cannot scan is a :class:`TransportUnavailableError`."""
        try:
            await scanner.start()
        except (OSError, BleakError) as exc:
            raise TransportUnavailableError(self._unavailable(exc)) from exc
        try:
            yield scanner
        finally:
            await scanner.stop()

    def _unavailable(self, exc: BaseException) -> str:
        """Why scanning could not start, and what to do, in one line."""
        return (
            f"{self.description} cannot scan: {exc or type(exc).__name__}; check that "
            "Bluetooth is on (wearsdk doctor)"
        )

    async def find_device(
        self,
        *,
        address: str | None = None,
        name: str | None = None,
        service_uuid: str | None = None,
        timeout_s: float = 10.0,
    ) -> BLEDevice:
        """Return the first advertiser matching every criterion given, as soon as it is seen.

        Args:
            address: Bluetooth address (case-insensitive; a ``"/P"`` suffix is ignored).
            name: advertised local name, exact.
            service_uuid: a service UUID the advertiser lists (16- or 128-bit string).
            timeout_s: how long to scan before giving up.

        Raises:
            ConfigError: if none of ``address``, ``name`` and ``service_uuid`` is given.
            DeviceNotFoundError: if nothing matched within ``timeout_s``.
        """
        if address is None and name is None and service_uuid is None:
            raise ConfigError("find_device needs an address, a name or a service_uuid")
        wanted_address = None if address is None else address.upper().removesuffix("/P")
        wanted_uuid = None if service_uuid is None else _normalize_uuid(service_uuid)
        identifier = next(x for x in (address, name, service_uuid) if x is not None)
        found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

        def on_detection(device: BLEDevice, adv: AdvertisementData) -> None:
            # bleak callback: cheap matching, no blocking work.
            if found.done():
                return
            if wanted_address is not None and device.address.upper() != wanted_address:
                return
            if name is not None and name not in (adv.local_name, device.name):
                return
            if wanted_uuid is not None and wanted_uuid not in adv.service_uuids:
                return
            found.set_result(device)

        uuids = None if wanted_uuid is None else [wanted_uuid]
        async with self._scanning(BleakScanner(on_detection, uuids, **self._scanner_options())):
            try:
                async with asyncio.timeout(timeout_s):
                    return await found
            except TimeoutError:
                raise DeviceNotFoundError(
                    identifier, f"no device matching {identifier!r} within {timeout_s:g} s"
                ) from None

    def client(
        self,
        device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[BleakClient], None] | None = None,
        timeout_s: float = 10.0,
    ) -> BleakClient:
        """A (not yet connected) ``BleakClient`` for ``device`` on this transport's radio.

        Args:
            device: a device from ``scan``/``find_device``, or an address string.
            disconnected_callback: called with the client when the peer drops the link.
            timeout_s: connection timeout in seconds.
        """
        return BleakClient(
            device,
            disconnected_callback,
            timeout=timeout_s,
            **self._client_options(),
        )


class OsBleTransport(BleTransport):
    """The operating system's Bluetooth stack through bleak's platform backend."""

    @property
    def description(self) -> str:
        """Human-readable description."""
        return "bleak (OS stack)"

    def _unavailable(self, exc: BaseException) -> str:
        if isinstance(exc, FileNotFoundError | ConnectionRefusedError):  # no system bus
            reason = "the D-Bus system bus is not reachable (is BlueZ, bluetoothd, running?)"
        else:
            reason = f"{exc or type(exc).__name__} (is Bluetooth on, BlueZ running?)"
        return (
            f"no Bluetooth through the OS stack: {reason}; `wearsdk doctor` checks it, "
            "--transport bumble:<spec> uses a controller directly"
        )


class _BumbleCentralTransport(BleTransport):
    """A transport whose radio is a bumble central ``Device`` (shared open/close logic)."""

    def __init__(self, *, mtu: int = _DEFAULT_MTU) -> None:
        self._mtu = mtu
        self._device: Device | None = None

    @property
    def device(self) -> Device:
        """The bumble central ``Device`` (only while the transport is open)."""
        if self._device is None:
            raise WearError(f"{self.description} is not open; use it as `async with`")
        return self._device

    def _scanner_options(self) -> dict[str, Any]:
        from wearsdk.io.ble._bumble_backend import BumbleBleakScanner

        return {"backend": BumbleBleakScanner, "bumble_device": self.device}

    def _client_options(self) -> dict[str, Any]:
        from wearsdk.io.ble._bumble_backend import BumbleBleakClient

        return {"backend": BumbleBleakClient, "bumble_device": self.device, "mtu": self._mtu}

    async def _release_device(self) -> None:
        """Disconnect every link and power the device off."""
        device, self._device = self._device, None
        if device is not None:
            await _shutdown_device(device)


async def _shutdown_device(device: Device) -> None:
    """Disconnect every link of a bumble device and power it off (best effort, bounded)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT_S):
            for connection in list(device.connections.values()):
                with contextlib.suppress(Exception):
                    await connection.disconnect()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT_S):
            await device.power_off()


class BumbleBleTransport(_BumbleCentralTransport):
    """A Bluetooth controller driven by bumble's host stack instead of the OS stack.

    Args:
        spec: a bumble transport spec, e.g. ``"usb:0"``, ``"serial:/dev/ttyACM0"``,
            ``"tcp-client:127.0.0.1:19001"``.
        mtu: ATT MTU that clients request after connecting.
    """

    def __init__(self, spec: str, *, mtu: int = _DEFAULT_MTU) -> None:
        super().__init__(mtu=mtu)
        if not spec:
            raise ConfigError("a bumble transport spec is required, e.g. 'usb:0'")
        self._spec = spec
        self._transport: Transport | None = None

    @property
    def description(self) -> str:
        """Human-readable description."""
        return f"bumble {self._spec}"

    async def _open(self) -> None:
        from bumble.device import Device
        from bumble.host import Host
        from bumble.transport.common import TransportLostError

        transport = await open_bumble_transport(self._spec)
        try:
            device = Device(name="wearsdk", host=Host(transport.source, transport.sink))
            try:
                async with asyncio.timeout(_POWER_ON_TIMEOUT_S):
                    await device.power_on()
            except TimeoutError:
                raise TransportUnavailableError(
                    f"the controller of 'bumble:{self._spec}' did not answer within "
                    f"{_POWER_ON_TIMEOUT_S:g} s"
                ) from None
            except TransportLostError:
                raise TransportUnavailableError(_lost(self._spec)) from None
        except BaseException:
            await transport.close()
            raise
        self._transport, self._device = transport, device
        logger.debug("opened %s", self.description)

    async def _close(self) -> None:
        transport, self._transport = self._transport, None
        try:
            await self._release_device()
        finally:
            if transport is not None:
                await transport.close()


async def open_bumble_transport(spec: str) -> Any:
    """Open a bumble transport (``usb:0``, ``tcp-client:H:P``...) or say in one line why not.

    Raises:
        ConfigError: the spec is not one bumble reads (a port above 65535...).
        TransportUnavailableError: the transport cannot be opened (nothing listens, no USB
            dongle, a package it needs is missing).
    """
    from bumble.transport import open_transport
    from bumble.transport.common import TransportSpecError

    try:
        return await open_transport(spec)
    except (TransportSpecError, ValueError, OverflowError) as exc:  # a port > 65535
        raise ConfigError(
            f"bumble transport 'bumble:{spec}': {str(exc).rstrip('.')}; e.g. bumble:usb:0, "
            "bumble:tcp-client:127.0.0.1:19001"
        ) from None
    except ImportError as exc:  # a transport whose package is not installed (grpc...)
        raise TransportUnavailableError(
            f"the bumble transport 'bumble:{spec}' needs the Python package "
            f"{exc.name or exc}: install it, or use another transport"
        ) from None
    except Exception as exc:  # the transports raise their own (libusb, platform errors)
        raise TransportUnavailableError(
            f"cannot open the bumble transport 'bumble:{spec}': "
            f"{' '.join(str(exc).split()) or type(exc).__name__}; is the controller there "
            "(for a virtual one: python -m bumble.apps.controllers, see `wearsdk twin "
            "--help`)?"
        ) from None


def _lost(spec: str) -> str:
    """What to say when the other end of a bumble transport hangs up while it starts."""
    return (
        f"the other end of 'bumble:{spec}' closed the connection while the controller "
        "started: is it a Bluetooth (HCI) controller? For a virtual one: python -m "
        "bumble.apps.controllers, see `wearsdk twin --help`"
    )


def parse_transport(text: str) -> BleTransport:
    """Build a transport from its textual form.

    Args:
        text: ``"bleak"`` for the OS stack, or ``"bumble:<spec>"`` for a bumble transport spec
            (``"bumble:usb:0"``, ``"bumble:tcp-client:127.0.0.1:19001"``).

    Raises:
        ConfigError: for anything else.
    """
    value = text.strip()
    if value == "bleak":
        return OsBleTransport()
    if value.startswith("bumble:") and value[len("bumble:") :]:
        return BumbleBleTransport(value[len("bumble:") :])
    raise ConfigError(
        f"unknown BLE transport {text!r}: use 'bleak' for the OS Bluetooth stack or "
        "'bumble:<spec>' for a bumble transport (e.g. 'bumble:usb:0', "
        "'bumble:tcp-client:127.0.0.1:19001')"
    )
