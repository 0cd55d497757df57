"""Standard Heart Rate Service (0x180D) straps: protocol, driver and virtual twin."""

from typing import TYPE_CHECKING

from wearsdk.drivers.heart_rate._driver import BeatTimeline, HeartRateStrap
from wearsdk.drivers.heart_rate._protocol import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    BODY_SENSOR_LOCATION_UUID,
    HEART_RATE_CONTROL_POINT_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    HeartRateMeasurement,
    encode_heart_rate_measurement,
    parse_heart_rate_measurement,
)

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "BODY_SENSOR_LOCATION_UUID",
    "HEART_RATE_CONTROL_POINT_UUID",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "BeatTimeline",
    "HeartRateMeasurement",
    "HeartRateStrap",
    "VirtualHeartRateStrap",
    "encode_heart_rate_measurement",
    "parse_heart_rate_measurement",
]


if TYPE_CHECKING:
    from wearsdk.drivers.heart_rate._twin import VirtualHeartRateStrap


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name == "VirtualHeartRateStrap":
        from wearsdk.drivers.heart_rate._twin import VirtualHeartRateStrap

        return VirtualHeartRateStrap
    raise AttributeError(name)
