"""Building blocks for device drivers and their virtual twins (between drivers and session).

``VirtualPeripheral`` needs the ``bumble`` extra and is imported on first use.
"""

from typing import TYPE_CHECKING, Any

from wearsdk.driverkit._ble import BleSource, Notifications

if TYPE_CHECKING:
    from wearsdk.driverkit._twin import VirtualPeripheral

__all__ = ["BleSource", "Notifications", "VirtualPeripheral"]


def __getattr__(name: str) -> Any:
    """Import the bumble-based names on first use."""
    if name == "VirtualPeripheral":
        from wearsdk.driverkit._twin import VirtualPeripheral

        return VirtualPeripheral
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
