"""The bleak scanner backend on bumble, and what the bumble client shares with it: the
central state of a device, advertising data, link errors."""  # noqa: D205, D209

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import core
from bumble.device import Advertisement, Device

from wearsdk._errors import ConfigError, ConnectionLostError

logger = logging.getLogger("wearsdk.io.ble._bumble_backend")

_AD = core.AdvertisingData.Type


class _LinkLostError(ConnectionLostError, BleakError):
    """The link is not (or no longer) up; catchable as ``BleakError`` or ``ConnectionLostError``."""


@dataclass
class _CentralState:
    """Per-central bookkeeping shared by every client and scanner using one bumble Device."""

    connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    scan_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    scan_users: int = 0


_STATES: weakref.WeakKeyDictionary[Device, _CentralState] = weakref.WeakKeyDictionary()


def _state(device: Device) -> _CentralState:
    state = _STATES.get(device)
    if state is None:
        state = _STATES[device] = _CentralState()
    return state


def _require_device(device: Device | None, owner: str) -> Device:
    if not isinstance(device, Device):
        raise ConfigError(f"{owner} needs bumble_device=<a powered-on bumble.device.Device>")
    return device


def _spurious_cancel() -> bool:
    """True when a CancelledError was not a cancellation of the current task.

    bumble cancels pending futures (ATT responses, disconnections) when a link drops or the
    device is flushed; such a CancelledError must not be mistaken for task cancellation.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


def _uuid_str(value: core.UUID) -> str:
    """Bleak's form of a bumble UUID: lower-case 128-bit string."""
    return str(uuid.UUID(bytes=value.to_bytes(force_128=True)[::-1]))


def _advertisement_data(adv: Advertisement) -> AdvertisementData:
    """Decode bumble's raw AD structures into bleak's ``AdvertisementData``."""
    names: dict[int, str] = {}
    uuids: list[str] = []
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    tx_power: int | None = None
    sizes = {
        _AD.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
        _AD.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
        _AD.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
        _AD.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
        _AD.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
        _AD.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    }
    data_sizes = {
        _AD.SERVICE_DATA_16_BIT_UUID: 2,
        _AD.SERVICE_DATA_32_BIT_UUID: 4,
        _AD.SERVICE_DATA_128_BIT_UUID: 16,
    }
    for ad_type, payload in adv.data.ad_structures:
        try:
            if ad_type in (_AD.COMPLETE_LOCAL_NAME, _AD.SHORTENED_LOCAL_NAME):
                names.setdefault(ad_type, payload.decode("utf-8", errors="replace"))
            elif (size := sizes.get(ad_type)) is not None:
                for i in range(0, len(payload) - size + 1, size):
                    text = _uuid_str(core.UUID.from_bytes(payload[i : i + size]))
                    if text not in uuids:
                        uuids.append(text)
            elif (size := data_sizes.get(ad_type)) is not None:
                key = _uuid_str(core.UUID.from_bytes(payload[:size]))
                service_data[key] = bytes(payload[size:])
            elif ad_type == _AD.MANUFACTURER_SPECIFIC_DATA and len(payload) >= 2:
                manufacturer[int.from_bytes(payload[:2], "little")] = bytes(payload[2:])
            elif ad_type == _AD.TX_POWER_LEVEL and payload:
                tx_power = int.from_bytes(payload[:1], "little", signed=True)
        except (core.InvalidArgumentError, ValueError):
            logger.debug("dropping malformed AD structure of type %s", ad_type)
    name = names.get(_AD.COMPLETE_LOCAL_NAME, names.get(_AD.SHORTENED_LOCAL_NAME))
    return AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx_power,
        rssi=adv.rssi,
        platform_data=(adv,),
    )


class BumbleBleakScanner(BaseBleakScanner):
    """Bleak scanner backend that scans with a bumble central ``Device``.

    ``BLEDevice.details`` is the typed ``bumble.hci.Address`` (public or random) of the
    advertiser, which ``BumbleBleakClient`` uses to connect. Several scanners may share one
    bumble device; scanning stops when the last one stops.

    Args:
        detection_callback: called with ``(BLEDevice, AdvertisementData)`` per advertisement.
        service_uuids: only report advertisers listing one of these service UUIDs (16-, 32- or
            128-bit strings; normalised to 128-bit).
        scanning_mode: ``"active"`` (request scan responses) or ``"passive"``.
        bumble_device: the powered-on bumble central to scan with.
        **kwargs: other bleak backend arguments (``bluez=``, ``cb=``), ignored.
    """

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        bumble_device: Device | None = None,
        **kwargs: Any,
    ) -> None:
        normalized = (
            None if service_uuids is None else [normalize_uuid_str(u) for u in service_uuids]
        )
        super().__init__(detection_callback, normalized)
        self._device = _require_device(bumble_device, "BumbleBleakScanner")
        self._active = scanning_mode != "passive"
        self._scanning = False

    async def start(self) -> None:
        """Start scanning (resets ``seen_devices``)."""
        if self._scanning:
            return
        self.seen_devices = {}
        self._device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        state = _state(self._device)
        try:
            async with state.scan_lock:
                if state.scan_users == 0 and not self._device.is_scanning:
                    await self._device.start_scanning(active=self._active)
                state.scan_users += 1
        except BaseException:
            self._device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            raise
        self._scanning = True

    async def stop(self) -> None:
        """Stop scanning (the radio keeps scanning while another scanner still uses it)."""
        if not self._scanning:
            return
        self._scanning = False
        self._device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        state = _state(self._device)
        async with state.scan_lock:
            state.scan_users -= 1
            if state.scan_users == 0 and self._device.is_scanning:
                await self._device.stop_scanning()

    def _on_advertisement(self, adv: Advertisement) -> None:
        # Runs inside bumble's event dispatch: cheap, non-blocking, never raises into bumble.
        try:
            data = _advertisement_data(adv)
            if not self.is_allowed_uuid(data.service_uuids):
                return
            key = str(adv.address)
            previous = self.seen_devices.get(key)
            name = data.local_name or (previous[0].name if previous else None)
            device = self.create_or_update_device(
                key, adv.address.to_string(with_type_qualifier=False), name, adv.address, data
            )
            self.call_detection_callbacks(device, data)
        except Exception:
            logger.exception("detection callback failed")
