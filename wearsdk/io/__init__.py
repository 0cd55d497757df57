"""I/O: the BLE link, the wire format, the MQTT bridge, file importers."""

from wearsdk.io._wire import (
    WIRE_SCHEMA,
    AnnotationIn,
    ClockRequest,
    ClockResponse,
    CommandIn,
    MarkerAnnotation,
    SamplesPayload,
    WireMessage,
    annotation_from_channels,
    annotation_from_marker,
    encode_message,
    wire_json_schema,
)

__all__ = [
    "WIRE_SCHEMA",
    "AnnotationIn",
    "ClockRequest",
    "ClockResponse",
    "CommandIn",
    "MarkerAnnotation",
    "SamplesPayload",
    "WireMessage",
    "annotation_from_channels",
    "annotation_from_marker",
    "encode_message",
    "wire_json_schema",
]
