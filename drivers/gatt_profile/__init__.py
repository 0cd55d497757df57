"""Declarative GATT profiles: sensors described as data (TOML/JSON), a generic driver and twin.

Shipped profiles (``profiles/*.toml``, loadable by name with :func:`load_profile`):
``nus-grove-gsr``, a DIY skin-conductance sensor (Seeed Grove GSR on an ESP32/nRF board)
streaming over the Nordic UART Service.
"""

from typing import TYPE_CHECKING

from wearsdk.drivers.gatt_profile._driver import GattProfileDevice
from wearsdk.drivers.gatt_profile._profile import (
    ConversionSpec,
    CounterSpec,
    DecodedNotification,
    GattProfile,
    PayloadSpec,
    TransferFunction,
    WriteSpec,
    builtin_profiles,
    load_profile,
)

__all__ = [
    "NUS_RX_UUID",
    "NUS_SERVICE_UUID",
    "NUS_TX_UUID",
    "ConversionSpec",
    "CounterSpec",
    "DecodedNotification",
    "GattProfile",
    "GattProfileDevice",
    "PayloadSpec",
    "SentNotification",
    "TransferFunction",
    "VirtualGattProfileDevice",
    "WriteSpec",
    "builtin_profiles",
    "load_profile",
]

NUS_SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
"""Nordic UART Service."""
NUS_RX_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
"""NUS RX characteristic: the central writes to it (write, write without response)."""
NUS_TX_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
"""NUS TX characteristic: the peripheral notifies on it."""


if TYPE_CHECKING:
    from wearsdk.drivers.gatt_profile._twin import SentNotification, VirtualGattProfileDevice


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name in ("SentNotification", "VirtualGattProfileDevice"):
        from wearsdk.drivers.gatt_profile import _twin

        return getattr(_twin, name)
    raise AttributeError(name)
