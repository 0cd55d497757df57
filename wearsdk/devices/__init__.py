"""Building blocks for device drivers (the layer between drivers and the session)."""

from wearsdk.devices._ble import BleSource, Notifications

__all__ = ["BleSource", "Notifications"]
