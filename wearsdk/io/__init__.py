"""I/O: the BLE link, the wire format, the MQTT bridge, file importers."""

from wearsdk.io._wire import (
    MAX_INBOUND_BYTES,
    WIRE_SCHEMA,
    AnnotationIn,
    ClockRequest,
    ClockResponse,
    CommandIn,
    InboundPayloadError,
    MarkerAnnotation,
    SamplesPayload,
    WireMessage,
    annotation_from_channels,
    annotation_from_marker,
    encode_message,
    wire_json_schema,
)

__all__ = [
    "MAX_INBOUND_BYTES",
    "WIRE_SCHEMA",
    "AnnotationIn",
    "ClockRequest",
    "ClockResponse",
    "CommandIn",
    "InboundPayloadError",
    "MarkerAnnotation",
    "SamplesPayload",
    "WireMessage",
    "annotation_from_channels",
    "annotation_from_marker",
    "encode_message",
    "wire_json_schema",
]
