"""The BLE link layer: transports that hand out bleak scanners and clients.

Drivers talk to a ``bleak.BleakClient``; a :class:`BleTransport` decides which radio is behind
it:

- :class:`OsBleTransport`: the operating system's Bluetooth stack (bleak's platform backend);
- :class:`BumbleBleTransport`: a controller driven by bumble's host stack (``"usb:0"``,
  ``"tcp-client:127.0.0.1:19001"``...), through :class:`BumbleBleakClient` and
  :class:`BumbleBleakScanner`, a bleak backend implemented on bumble;
- ``VirtualLink().central()``: an in-process virtual radio (bumble ``LocalLink``) on which
  virtual twins (bumble peripherals) advertise and serve GATT.

:func:`parse_transport` turns ``"bleak"`` or ``"bumble:<spec>"`` into a transport.

The bumble-based names need the ``wearsdk[bumble]`` extra and are imported on first use, so
``OsBleTransport`` works with bleak alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wearsdk._lazy import lazy_names
from wearsdk.io.ble._transport import (
    BleTransport,
    BumbleBleTransport,
    OsBleTransport,
    parse_transport,
)

if TYPE_CHECKING:
    from wearsdk.io.ble._bumble_backend import DEFAULT_MTU, BumbleBleakClient, BumbleBleakScanner
    from wearsdk.io.ble._virtual import (
        ADVERTISING_INTERVAL_MS,
        VirtualLink,
        open_peripheral,
        start_advertising,
    )

__all__ = [
    "ADVERTISING_INTERVAL_MS",
    "DEFAULT_MTU",
    "BleTransport",
    "BumbleBleTransport",
    "BumbleBleakClient",
    "BumbleBleakScanner",
    "OsBleTransport",
    "VirtualLink",
    "open_peripheral",
    "parse_transport",
    "start_advertising",
]

_LAZY = {
    "DEFAULT_MTU": "wearsdk.io.ble._bumble_backend",
    "BumbleBleakClient": "wearsdk.io.ble._bumble_backend",
    "BumbleBleakScanner": "wearsdk.io.ble._bumble_backend",
    "ADVERTISING_INTERVAL_MS": "wearsdk.io.ble._virtual",
    "VirtualLink": "wearsdk.io.ble._virtual",
    "open_peripheral": "wearsdk.io.ble._virtual",
    "start_advertising": "wearsdk.io.ble._virtual",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
