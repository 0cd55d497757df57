"""The bleak-on-bumble backend and BLE transports against real bumble GATT peripherals.

No mocks: bumble's own Heart Rate profile is served by virtual peripherals on a ``LocalLink``
(and, in one test, by a peripheral on a controller in another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import gatt
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.host import Host
from bumble.profiles.heart_rate_service import HeartRateService
from bumble.transport import open_transport
from bumble.transport.common import Transport

from tests.conftest import other_tasks
from wearsdk._errors import ConfigError, ConnectionLostError, DeviceNotFoundError, WearError
from wearsdk.io.ble import (
    BleTransport,
    BumbleBleTransport,
    OsBleTransport,
    VirtualLink,
    parse_transport,
    start_advertising,
)

pytestmark = pytest.mark.timeout(30)

HRS = "0000180d-0000-1000-8000-00805f9b34fb"
HRM = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION = "00002a38-0000-1000-8000-00805f9b34fb"
CONTROL_POINT = "00002a39-0000-1000-8000-00805f9b34fb"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
Measurement = HeartRateService.HeartRateMeasurement


@dataclass
class Twin:
    """A bumble peripheral serving bumble's Heart Rate profile."""

    device: Device
    service: HeartRateService
    name: str
    resets: list[Connection] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(self.device.random_address)

    async def notify(self, measurement: HeartRateService.HeartRateMeasurement) -> None:
        await self.device.notify_subscribers(
            self.service.heart_rate_measurement_characteristic, measurement
        )

    async def drop_links(self) -> None:
        for connection in list(self.device.connections.values()):
            await connection.disconnect()


async def serve_heart_rate(device: Device, name: str) -> Twin:
    resets: list[Connection] = []
    service = HeartRateService(
        read_heart_rate_measurement=lambda _connection: Measurement(heart_rate=60),
        body_sensor_location=HeartRateService.BodySensorLocation.CHEST,
        reset_energy_expended=resets.append,
    )
    device.add_service(service)
    await start_advertising(device, name=name, service_uuids=["180d"])
    return Twin(device, service, name, resets)


@pytest.fixture
async def link() -> AsyncIterator[VirtualLink]:
    async with VirtualLink() as virtual_link:
        yield virtual_link


@pytest.fixture
async def twin(link: VirtualLink) -> Twin:
    device = await link.add_peripheral(name="HR twin")
    return await serve_heart_rate(device, "HR twin")


@pytest.fixture
async def transport(link: VirtualLink) -> AsyncIterator[BleTransport]:
    async with link.central() as central:
        yield central


@contextlib.asynccontextmanager
async def connected(
    transport: BleTransport, twin: Twin, **kwargs: object
) -> AsyncIterator[BleakClient]:
    device = await transport.find_device(name=twin.name, timeout_s=5)
    async with transport.client(device, **kwargs) as client:  # type: ignore[arg-type]
        yield client


def link_up(client: BleakClient) -> bool:
    return client.is_connected  # a call, so that mypy does not narrow the property


def char(client: BleakClient, uuid: str) -> BleakGATTCharacteristic:
    found = client.services.get_characteristic(uuid)
    assert found is not None, uuid
    return found


# -- discovery ----------------------------------------------------------------------------


async def test_scan_reports_name_address_rssi_and_service(
    transport: BleTransport, twin: Twin
) -> None:
    results = await transport.scan(timeout_s=0.5)
    matches = [(d, ad) for d, ad in results if ad.local_name == twin.name]
    assert len(matches) == 1
    device, adv = matches[0]
    assert device.address == twin.address
    assert device.name == twin.name
    assert device.details == twin.device.random_address  # typed bumble address kept
    assert adv.service_uuids == [HRS]
    assert isinstance(adv.rssi, int)


@pytest.mark.parametrize("uuid", ["180d", "180D", "0x180d", HRS, HRS.upper()])
async def test_scan_filters_by_service_uuid(transport: BleTransport, twin: Twin, uuid: str) -> None:
    results = await transport.scan(timeout_s=0.5, service_uuids=[uuid])
    assert [d.address for d, _ in results] == [twin.address]


async def test_scan_filter_excludes_other_services(transport: BleTransport, twin: Twin) -> None:
    assert await transport.scan(timeout_s=0.5, service_uuids=["180f"]) == []


@pytest.mark.parametrize("uuid", ["180d", HRS])
async def test_find_device_by_service_uuid(transport: BleTransport, twin: Twin, uuid: str) -> None:
    device = await transport.find_device(service_uuid=uuid, timeout_s=5)
    assert device.address == twin.address


async def test_find_device_by_name_and_address(transport: BleTransport, twin: Twin) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    by_name = await transport.find_device(name=twin.name, timeout_s=5)
    assert loop.time() - start < 2.0  # returns as soon as seen, not at the timeout
    by_address = await transport.find_device(address=twin.address.lower(), timeout_s=5)
    assert by_name.address == by_address.address == twin.address


async def test_find_device_missing_name_raises_quickly(transport: BleTransport, twin: Twin) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(DeviceNotFoundError) as info:
        await transport.find_device(name="no such strap", timeout_s=0.3)
    assert info.value.identifier == "no such strap"
    assert loop.time() - start < 2.0


async def test_find_device_needs_a_criterion(transport: BleTransport) -> None:
    with pytest.raises(ConfigError):
        await transport.find_device(timeout_s=0.1)


async def test_several_centrals_see_the_same_peripheral(link: VirtualLink, twin: Twin) -> None:
    async with link.central() as first, link.central() as second:
        found = await asyncio.gather(
            first.find_device(name=twin.name, timeout_s=5),
            second.find_device(name=twin.name, timeout_s=5),
        )
    assert [d.address for d in found] == [twin.address, twin.address]


# -- GATT ---------------------------------------------------------------------------------


async def test_services_match_the_gatt_server(transport: BleTransport, twin: Twin) -> None:
    async with connected(transport, twin) as client:
        assert client.is_connected
        assert client.name == twin.name
        service = client.services.get_service("180d")
        assert service is not None
        assert service.uuid == HRS
        assert service.handle == twin.service.handle
        expected: dict[str, tuple[gatt.Characteristic[Any], list[str]]] = {
            HRM: (twin.service.heart_rate_measurement_characteristic, ["notify"]),
            BODY_SENSOR_LOCATION: (twin.service.body_sensor_location_characteristic, ["read"]),
            CONTROL_POINT: (twin.service.heart_rate_control_point_characteristic, ["write"]),
        }
        assert [c.uuid for c in service.characteristics] == list(expected)
        for characteristic in service.characteristics:
            server_char, properties = expected[characteristic.uuid]
            assert characteristic.properties == properties
            # declaration handle, as bleak's BlueZ and CoreBluetooth backends report it
            assert characteristic.handle == server_char.handle - 1
            assert characteristic.service_uuid == HRS
        descriptors = char(client, HRM).descriptors
        assert [d.uuid for d in descriptors] == [CCCD]
        assert (
            descriptors[0].handle == twin.service.heart_rate_measurement_characteristic.handle + 1
        )


async def test_read_body_sensor_location(transport: BleTransport, twin: Twin) -> None:
    async with connected(transport, twin) as client:
        value = await client.read_gatt_char(BODY_SENSOR_LOCATION)
        assert value == bytearray([HeartRateService.BodySensorLocation.CHEST])
        assert await client.read_gatt_char(BODY_SENSOR_LOCATION, use_cached=True) == value


async def test_write_control_point(transport: BleTransport, twin: Twin) -> None:
    async with connected(transport, twin) as client:
        await client.write_gatt_char(CONTROL_POINT, b"\x01", response=True)
        assert len(twin.resets) == 1
        with pytest.raises(BleakGATTProtocolError) as info:
            await client.write_gatt_char(CONTROL_POINT, b"\x02", response=True)
        assert info.value.code == HeartRateService.CONTROL_POINT_NOT_SUPPORTED
        assert len(twin.resets) == 1


async def test_read_and_write_descriptor(transport: BleTransport, twin: Twin) -> None:
    async with connected(transport, twin) as client:
        cccd = char(client, HRM).descriptors[0]
        assert await client.read_gatt_descriptor(cccd.handle) == bytearray(b"\x00\x00")
        await client.start_notify(HRM, lambda _c, _d: None)
        assert await client.read_gatt_descriptor(cccd.handle) == bytearray(b"\x01\x00")


async def test_notifications_arrive_as_exact_bytes(transport: BleTransport, twin: Twin) -> None:
    measurements = [
        Measurement(heart_rate=72),
        Measurement(heart_rate=300, sensor_contact_detected=True),
        Measurement(heart_rate=65, energy_expended=1234, rr_intervals=[0.8, 0.9, 1.25]),
    ]
    received: asyncio.Queue[tuple[str, bytearray]] = asyncio.Queue()
    async with connected(transport, twin) as client:
        await client.start_notify(HRM, lambda c, data: received.put_nowait((c.uuid, data)))
        for measurement in measurements:
            await twin.notify(measurement)
        async with asyncio.timeout(5):
            got = [await received.get() for _ in measurements]
        assert got == [(HRM, bytearray(bytes(m))) for m in measurements]

        await client.stop_notify(HRM)
        await twin.notify(Measurement(heart_rate=99))
        # ATT PDUs are ordered: a notification sent before this read's response would be here.
        await client.read_gatt_char(BODY_SENSOR_LOCATION)
        assert received.empty()


async def test_async_notification_callback(transport: BleTransport, twin: Twin) -> None:
    got: asyncio.Future[bytearray] = asyncio.get_running_loop().create_future()

    async def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
        got.set_result(data)

    async with connected(transport, twin) as client:
        await client.start_notify(HRM, on_notify)
        await twin.notify(Measurement(heart_rate=80))
        async with asyncio.timeout(5):
            assert await got == bytearray(bytes(Measurement(heart_rate=80)))


@pytest.mark.parametrize(("requested", "expected"), [(517, 517), (247, 247), (23, 23)])
async def test_mtu_exchange(link: VirtualLink, twin: Twin, requested: int, expected: int) -> None:
    async with link.central(mtu=requested) as central, connected(central, twin) as client:
        assert client.mtu_size == expected
        assert char(client, HRM).max_write_without_response_size == expected - 3


async def test_peripheral_disconnect_then_reconnect(transport: BleTransport, twin: Twin) -> None:
    lost: asyncio.Queue[BleakClient] = asyncio.Queue()
    async with connected(transport, twin, disconnected_callback=lost.put_nowait) as client:
        await twin.drop_links()
        async with asyncio.timeout(5):
            assert await lost.get() is client
        assert not link_up(client)
        assert client.mtu_size == 23
        with pytest.raises(ConnectionLostError):
            await client.read_gatt_char(BODY_SENSOR_LOCATION)

        await client.connect()  # the twin advertises again after the link drops
        assert link_up(client)
        assert client.mtu_size == 517
        assert await client.read_gatt_char(BODY_SENSOR_LOCATION) == bytearray(b"\x01")
    assert lost.empty()  # a disconnect we asked for is not reported


async def test_link_lost_during_a_read(link: VirtualLink, transport: BleTransport) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_read(_connection: Connection) -> bytes:
        started.set()
        await release.wait()
        return b"late"

    device = await link.add_peripheral(name="slow")
    slow_uuid = "5e1f0001-0000-4000-8000-00805f9b34fb"
    device.add_service(
        gatt.Service(
            "5e1f0000-0000-4000-8000-00805f9b34fb",
            [
                gatt.Characteristic(
                    slow_uuid,
                    gatt.Characteristic.Properties.READ,
                    gatt.Characteristic.READABLE,
                    gatt.CharacteristicValue(read=slow_read),
                )
            ],
        )
    )
    await start_advertising(device, name="slow")
    found = await transport.find_device(name="slow", timeout_s=5)
    async with transport.client(found) as client:
        read = asyncio.create_task(client.read_gatt_char(slow_uuid))
        await started.wait()
        for connection in list(device.connections.values()):
            await connection.disconnect()
        with pytest.raises(ConnectionLostError) as info:
            await read
        assert isinstance(info.value, BleakError)
        release.set()
        await asyncio.sleep(0)


def tagged(
    queue: asyncio.Queue[tuple[int, bytearray]],
    tag: int,
    _char: BleakGATTCharacteristic,
    data: bytearray,
) -> None:
    queue.put_nowait((tag, data))


async def test_two_peripherals_from_one_central(link: VirtualLink, transport: BleTransport) -> None:
    twins = [
        await serve_heart_rate(await link.add_peripheral(name=f"strap {i}"), f"strap {i}")
        for i in range(2)
    ]
    devices = [await transport.find_device(name=t.name, timeout_s=5) for t in twins]
    clients = [transport.client(d) for d in devices]
    await asyncio.gather(*(c.connect() for c in clients))  # concurrent connects are serialised
    try:
        assert [c.is_connected for c in clients] == [True, True]
        received: asyncio.Queue[tuple[int, bytearray]] = asyncio.Queue()
        for i, client in enumerate(clients):
            await client.start_notify(HRM, functools.partial(tagged, received, i))
        await twins[1].notify(Measurement(heart_rate=111))
        await twins[0].notify(Measurement(heart_rate=100))
        async with asyncio.timeout(5):
            got = sorted([await received.get(), await received.get()])
        assert got == [
            (0, bytearray(bytes(Measurement(heart_rate=100)))),
            (1, bytearray(bytes(Measurement(heart_rate=111)))),
        ]
    finally:
        for client in clients:
            await client.disconnect()
    assert not any(c.is_connected for c in clients)


async def test_client_from_an_address_string(transport: BleTransport, twin: Twin) -> None:
    async with transport.client(twin.address) as client:
        assert client.is_connected
        assert client.name == twin.name
        assert await client.read_gatt_char(BODY_SENSOR_LOCATION) == bytearray(b"\x01")


async def test_client_unknown_address(transport: BleTransport, twin: Twin) -> None:
    client = transport.client("C0:FF:EE:C0:FF:EE", timeout_s=0.5)
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()
    assert not client.is_connected


async def test_pairing_is_refused_clearly(transport: BleTransport, twin: Twin) -> None:
    async with connected(transport, twin) as client:
        with pytest.raises(NotImplementedError, match="pairing"):
            await client.pair()


async def test_no_tasks_left_behind() -> None:
    before = other_tasks()
    async with VirtualLink() as own_link:
        device = await own_link.add_peripheral(name="leak check")
        leak_twin = await serve_heart_rate(device, "leak check")
        async with own_link.central() as central:
            async with connected(central, leak_twin) as client:
                await client.start_notify(HRM, lambda _c, _d: None)
                await leak_twin.notify(Measurement(heart_rate=70))
            async with connected(central, leak_twin):
                await leak_twin.drop_links()  # advertising restarts in a bumble task
    await asyncio.sleep(0)
    assert other_tasks() - before == set()


# -- transports ---------------------------------------------------------------------------


def test_parse_transport() -> None:
    assert isinstance(parse_transport("bleak"), OsBleTransport)
    bumble = parse_transport("bumble:tcp-client:127.0.0.1:19001")
    assert isinstance(bumble, BumbleBleTransport)
    assert bumble.description == "bumble tcp-client:127.0.0.1:19001"
    assert OsBleTransport().description == "bleak (OS stack)"
    for bad in ("", "bumble:", "usb:0", "bluez"):
        with pytest.raises(ConfigError, match="bumble:<spec>"):
            parse_transport(bad)


async def test_bumble_transport_must_be_open(link: VirtualLink) -> None:
    central = link.central()
    with pytest.raises(WearError, match="not open"):
        await central.find_device(name="x", timeout_s=0.1)
    with pytest.raises(WearError, match="not open"):
        BumbleBleTransport("tcp-client:127.0.0.1:1").client("AA:BB:CC:DD:EE:FF")


async def test_add_peripheral_with_given_address(
    link: VirtualLink, transport: BleTransport
) -> None:
    device = await link.add_peripheral(name="fixed", address="c0:00:00:00:00:2a")
    custom = "5e1f0000-0000-4000-8000-00805f9b34fb"
    await start_advertising(device, name="fixed", service_uuids=[custom])
    found = await transport.find_device(address="C0:00:00:00:00:2A", timeout_s=5)
    assert found.name == "fixed"
    results = await transport.scan(timeout_s=0.3, service_uuids=[custom.upper()])
    assert [(d.address, ad.service_uuids) for d, ad in results] == [(found.address, [custom])]
    with pytest.raises(ConfigError, match="already"):
        await link.add_peripheral(name="clash", address="C0:00:00:00:00:2A")
    with pytest.raises(ConfigError, match="address"):
        await link.add_peripheral(name="bad", address="not-an-address")


async def test_scan_decodes_manufacturer_and_service_data(
    link: VirtualLink, transport: BleTransport
) -> None:
    device = await link.add_peripheral(name="beacon")
    battery = "0000180f-0000-1000-8000-00805f9b34fb"
    await device.start_advertising(
        advertising_data=bytes(
            AdvertisingData(
                [
                    (AdvertisingData.Type.SHORTENED_LOCAL_NAME, b"bcn"),
                    (AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA, b"\x6b\x00\x01\x02"),
                    (AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID, b"\x0f\x18\x5a"),
                    (AdvertisingData.Type.TX_POWER_LEVEL, b"\xf8"),
                ]
            )
        ),
        advertising_interval_min=100,
        advertising_interval_max=100,
    )
    results = await transport.scan(timeout_s=0.3, service_uuids=None)
    [(found, adv)] = [(d, ad) for d, ad in results if ad.local_name == "bcn"]
    assert found.name == "bcn"
    assert adv.manufacturer_data == {0x006B: b"\x01\x02"}
    assert adv.service_data == {battery: b"\x5a"}
    assert adv.tx_power == -8
    assert adv.service_uuids == []


async def test_advertising_data_must_fit(link: VirtualLink) -> None:
    device = await link.add_peripheral(name="long")
    with pytest.raises(ConfigError, match="31"):
        await start_advertising(
            device,
            name="a rather long name",
            service_uuids=["5e1f0000-0000-4000-8000-00805f9b34fb"],
        )


async def wait_until_unconnected(device: Device) -> None:
    async with asyncio.timeout(5):
        for connection in list(device.connections.values()):
            gone = asyncio.Event()
            connection.once(Connection.EVENT_DISCONNECTION, lambda _reason, g=gone: g.set())
            if device.connections.get(connection.handle) is connection:
                await gone.wait()


async def hold_connection(transport: BleTransport, name: str, ready: asyncio.Event) -> None:
    """Open the transport, connect (no client context) and wait to be cancelled."""
    async with transport:
        device = await transport.find_device(name=name, timeout_s=10)
        await transport.client(device).connect()
        ready.set()
        await asyncio.Event().wait()


async def test_central_drops_its_links_when_cancelled(link: VirtualLink, twin: Twin) -> None:
    central, ready = link.central(), asyncio.Event()
    task = asyncio.create_task(hold_connection(central, twin.name, ready))
    async with asyncio.timeout(5):
        await ready.wait()
    assert len(twin.device.connections) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until_unconnected(twin.device)
    with pytest.raises(WearError, match="not open"):
        central.client("AA:BB:CC:DD:EE:FF")


# -- across processes ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def controllers(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """Two virtual controllers on one link in a separate process (bumble's own app)."""
    central_port, peripheral_port = _free_port(), _free_port()
    log = (tmp_path / "controllers.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bumble.apps.controllers",
            f"tcp-server:127.0.0.1:{central_port}",
            f"tcp-server:127.0.0.1:{peripheral_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield central_port, peripheral_port
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


async def _open_when_listening(spec: str) -> Transport:
    async with asyncio.timeout(15):
        while True:
            try:
                return await open_transport(spec)
            except OSError:  # the subprocess is not listening yet
                await asyncio.sleep(0.1)


async def test_across_processes(controllers: tuple[int, int]) -> None:
    central_port, peripheral_port = controllers
    # The controllers app opens the central's port first, so once the peripheral's is up
    # both are.
    hci = await _open_when_listening(f"tcp-client:127.0.0.1:{peripheral_port}")
    try:
        device = Device(name="remote twin", host=Host(hci.source, hci.sink))
        await device.power_on()
        twin = await serve_heart_rate(device, "remote twin")
        spec = f"tcp-client:127.0.0.1:{central_port}"

        # A session cancelled while connected still releases the link and the transport.
        ready = asyncio.Event()
        task = asyncio.create_task(hold_connection(BumbleBleTransport(spec), twin.name, ready))
        async with asyncio.timeout(10):
            await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until_unconnected(device)

        transport = BumbleBleTransport(spec)
        assert transport.description == f"bumble {spec}"
        async with transport:
            found = await transport.find_device(service_uuid="180d", timeout_s=10)
            assert found.name == "remote twin"
            received: asyncio.Queue[bytearray] = asyncio.Queue()
            async with transport.client(found) as client:
                assert client.mtu_size == 517
                assert await client.read_gatt_char(BODY_SENSOR_LOCATION) == bytearray(b"\x01")
                await client.start_notify(HRM, lambda _c, data: received.put_nowait(data))
                measurement = Measurement(heart_rate=66, rr_intervals=[0.9])
                await twin.notify(measurement)
                async with asyncio.timeout(5):
                    assert await received.get() == bytearray(bytes(measurement))
        await device.power_off()
    finally:
        await hci.close()
