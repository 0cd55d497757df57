"""The Heart Rate Service (0x180D) and Battery Service codec: UUIDs, the 0x2A37 measurement."""

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
    "HeartRateMeasurement",
    "encode_heart_rate_measurement",
    "parse_heart_rate_measurement",
]
