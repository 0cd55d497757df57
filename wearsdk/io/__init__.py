"""I/O: the BLE link, the wire format, the MQTT bridge, file importers.

The wire format's names are imported on first use, so that the file readers and replays under
this package do not load its models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wearsdk._lazy import lazy_names

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_names(__name__, dict.fromkeys(__all__, "wearsdk.io._wire"), __all__)
