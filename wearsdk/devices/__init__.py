"""Deprecated: the driver framework is :mod:`wearsdk.driverkit` (the same names)."""

import warnings
from typing import Any

from wearsdk.driverkit import BleSource, Notifications

warnings.warn(
    "wearsdk.devices is deprecated: import BleSource, Notifications and VirtualPeripheral "
    "from wearsdk.driverkit",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["BleSource", "Notifications", "VirtualPeripheral"]


def __getattr__(name: str) -> Any:
    """``VirtualPeripheral`` (bumble) on first use, as :mod:`wearsdk.driverkit` does."""
    if name == "VirtualPeripheral":
        from wearsdk.driverkit import VirtualPeripheral

        return VirtualPeripheral
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
