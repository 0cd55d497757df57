"""The versioned JSON wire format of everything wearsdk sends to or takes from other processes."""

from __future__ import annotations

import math
from typing import Annotated, Any, Final, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from wearsdk._clock import SessionClock
from wearsdk._errors import ProtocolError
from wearsdk._events import (
    Annotation,
    AnnotationValues,
    ClockStatus,
    Command,
    DeviceStatus,
    Estimate,
    Features,
    Gap,
    HeartRate,
    bounded_json,
)
from wearsdk._types import SampleBlock
from wearsdk.bus import Message

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

WIRE_SCHEMA: Final = "wearsdk.wire/1"
"""Version tag carried by every outgoing message; bumped on incompatible changes."""

MAX_INBOUND_BYTES: Final = 65_536
"""The largest inbound payload (MQTT annotation, command, clock request; LSL marker string)
that is parsed; a larger one is refused unread (``too_large``)."""

_M = TypeVar("_M", bound=BaseModel)
_UNIX_MAX = 1e11  # year 5138: a unix time beyond it is a mistake, not a date

InboundReason = Literal[
    "too_large", "non_finite", "too_long", "too_many_keys", "too_deep", "invalid"
]
"""Why an inbound payload was refused (see :class:`InboundPayloadError`)."""


class InboundPayloadError(ProtocolError, ValueError):
    """An inbound payload (MQTT, LSL marker) was refused; the receiver counts and drops it.

    Attributes:
        reason: ``too_large`` (payload bytes beyond :data:`MAX_INBOUND_BYTES`, or a free-form
            field beyond its bounds), ``non_finite`` (NaN or an infinity where a number is
            expected), ``too_long`` (a label, string or key beyond its length),
            ``too_many_keys`` (``extras``, ``emotions`` or ``args``), ``too_deep`` (nesting)
            or ``invalid`` (anything else that does not validate).
        raw: the first 256 bytes of the payload (never logged).
    """

    def __init__(self, message: str, reason: InboundReason, raw: bytes = b"") -> None:
        super().__init__(message, bytes(raw[:256]))
        self.reason: InboundReason = reason

    @classmethod
    def from_validation(cls, exc: ValidationError, raw: bytes = b"") -> InboundPayloadError:
        """The typed refusal of a payload pydantic did not validate (its first error)."""
        errors = exc.errors(include_url=False, include_input=False)
        kind = errors[0]["type"] if errors else ""
        msg = str(errors[0]["msg"]) if errors else str(exc)
        reason: InboundReason
        if kind in ("finite_number", "non_finite"):
            reason = "non_finite"
        elif kind == "string_too_long":
            reason = "too_long"
        elif kind in ("too_long", "too_many_keys"):
            reason = "too_many_keys"
        elif kind == "too_deep" or (kind == "json_invalid" and "recursion" in msg):
            reason = "too_deep"
        elif kind == "too_large":
            reason = "too_large"
        else:
            reason = "invalid"
        where = ".".join(str(p) for p in errors[0]["loc"])[:80] if errors else ""
        return cls(f"inbound payload refused ({reason}): {where or '(top)'}: {msg}", reason, raw)


def _parse_bounded(model: type[_M], data: bytes | bytearray | str) -> _M:
    """Validate ``data`` (JSON) as ``model`` within :data:`MAX_INBOUND_BYTES`.

    Raises:
        InboundPayloadError: too large, or not valid (its ``reason`` says why).
    """
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_INBOUND_BYTES:
        raise InboundPayloadError(
            f"inbound payload of {len(raw)} bytes refused (limit {MAX_INBOUND_BYTES})",
            "too_large",
            raw,
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InboundPayloadError.from_validation(exc, raw) from None


class SamplesPayload(BaseModel):
    """A sample block on the wire (``values`` per sample; non-finite values as ``null``).

    Times are finite: a sample without a finite time cannot be placed and is not sent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    type: Literal["samples"] = "samples"
    source: str
    stream: str
    unit: str
    channels: tuple[str, ...]
    nominal_rate_hz: float | None
    t: list[float]
    t_unix: list[float]
    values: list[list[float | None]]


WireEvent = Annotated[
    DeviceStatus
    | ClockStatus
    | Gap
    | HeartRate
    | Features
    | Estimate
    | Annotation
    | Command
    | SamplesPayload,
    Field(discriminator="type"),
]


class WireMessage(BaseModel):
    """One outgoing message.

    Attributes:
        schema_: the wire format version, :data:`WIRE_SCHEMA` (JSON key ``schema``).
        session: pseudonymous session id.
        seq: per-session sequence number, strictly increasing: consumers use it to drop the
            rare duplicate (QoS 1 is at-least-once) and to check order and completeness.
        topic: the bus topic the event was published on.
        t_unix: the event time on the unix clock (UTC seconds).
        event: the event itself (``t`` in session seconds, see :class:`~wearsdk.Event`).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )

    schema_: Literal["wearsdk.wire/1"] = Field(default=WIRE_SCHEMA, alias="schema")
    session: str
    seq: int = Field(ge=0)
    topic: str
    t_unix: float
    event: WireEvent


class AnnotationIn(AnnotationValues):
    """An analyzer annotation arriving from another process (times on the unix clock).

    The receiver maps ``start_unix``/``end_unix`` onto the session clock.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal["wearsdk.wire/1"] = Field(default=WIRE_SCHEMA, alias="schema")
    modality: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    analyzer_id: str = Field(pattern=r"^[^/+#]{1,64}$")
    start_unix: float = Field(ge=0.0, le=_UNIX_MAX)
    end_unix: float = Field(ge=0.0, le=_UNIX_MAX)

    @field_validator("end_unix")
    @classmethod
    def _ordered(cls, v: float, info: Any) -> float:
        start = info.data.get("start_unix")
        if start is not None and v < start:
            raise ValueError("end_unix is before start_unix")
        return v

    def to_annotation(self, clock: SessionClock) -> Annotation:
        """The annotation on the session clock."""
        start = clock.from_unix(self.start_unix)
        return Annotation(
            t=clock.from_unix(self.end_unix),
            modality=self.modality,
            analyzer_id=self.analyzer_id,
            start=start,
            end=clock.from_unix(self.end_unix),
            **self.values(),
        )


class MarkerAnnotation(AnnotationValues):
    """An annotation carried as a JSON string in an LSL marker stream.

    LSL timestamps are on the LSL clock, which is the session clock, so no mapping is needed:
    the marker's own timestamp is the end of the span unless ``end`` is given, and the span
    starts ``duration_s`` earlier unless ``start`` is given. ``modality`` and ``analyzer_id``
    default to the inlet's (usually the stream's type and name). Example marker string::

        {"modality": "face", "valence": 0.4, "arousal": 0.6, "confidence": 0.8, "duration_s": 1}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    modality: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    analyzer_id: str | None = Field(default=None, pattern=r"^[^/+#]{1,64}$")
    start: float | None = None
    end: float | None = None
    duration_s: float = Field(default=0.0, ge=0.0)

    def to_annotation(self, t: float, *, modality: str, analyzer_id: str) -> Annotation:
        """The annotation for a marker stamped ``t`` (session clock).

        Raises:
            pydantic.ValidationError: the fields do not make a valid :class:`Annotation`.
        """
        end = self.end if self.end is not None else t
        start = self.start if self.start is not None else end - self.duration_s
        return Annotation(
            t=t,
            modality=self.modality or modality,
            analyzer_id=self.analyzer_id or analyzer_id,
            start=start,
            end=end,
            **self.values(),
        )


def annotation_from_marker(text: str, t: float, *, modality: str, analyzer_id: str) -> Annotation:
    """Parse one LSL marker string into an :class:`Annotation` (see :class:`MarkerAnnotation`).

    A marker that is not a JSON object becomes a plain label (``modality`` as given, e.g. a
    ``marker`` stream of experiment events), so existing marker streams keep working. Markers
    are bounded like MQTT payloads: at most :data:`MAX_INBOUND_BYTES`, finite numbers, a label
    of at most 4096 characters, bounded ``extras``.

    Args:
        text: the marker string.
        t: the marker's timestamp on the session (LSL) clock.
        modality: default modality (the stream's type, lowercased).
        analyzer_id: default analyzer id (the stream's name).

    Raises:
        InboundPayloadError: a marker too large, a JSON object whose fields are out of range,
            non-finite or unknown, or a non-finite ``t`` (a ``ValueError``; its ``reason``
            says which).
    """
    if len(text) > MAX_INBOUND_BYTES:
        raise InboundPayloadError(
            f"marker of {len(text)} characters refused (limit {MAX_INBOUND_BYTES})",
            "too_large",
            text[:256].encode("utf-8", "replace"),
        )
    stripped = text.strip()
    try:
        if not stripped.startswith("{"):
            return Annotation(
                t=t, modality=modality, analyzer_id=analyzer_id, start=t, end=t, label=text
            )
        marker = _parse_bounded(MarkerAnnotation, stripped)
        return marker.to_annotation(t, modality=modality, analyzer_id=analyzer_id)
    except ValidationError as exc:
        raise InboundPayloadError.from_validation(
            exc, text[:256].encode("utf-8", "replace")
        ) from None


_CHANNEL_FIELDS = ("arousal", "valence", "confidence")


def annotation_from_channels(
    values: list[float],
    channels: tuple[str, ...],
    t: float,
    *,
    modality: str,
    analyzer_id: str,
    duration_s: float = 0.0,
) -> Annotation | None:
    """One sample of a numeric LSL analyzer stream as an :class:`Annotation`.

    Channels are matched by label: ``arousal`` ([0, 1]), ``valence`` ([-1, 1]) and
    ``confidence`` ([0, 1]) fill those fields; ``emotion_<name>`` channels become emotion
    probabilities; other channels go to ``extras``. NaN means "no value" for that sample.

    Returns:
        The annotation, or ``None`` when the sample carries neither arousal, valence nor
        emotions (nothing to fuse).

    Raises:
        InboundPayloadError: a value out of its range, a non-finite ``t``, a channel label
            longer than 64 characters or more than 64 extra channels.
    """
    fields: dict[str, float] = {}
    emotions: dict[str, float] = {}
    extras: dict[str, float] = {}
    for name, value in zip(channels, values, strict=True):
        if not math.isfinite(value):
            continue
        key = name.lower()
        if key in _CHANNEL_FIELDS:
            fields[key] = float(value)
        elif key.startswith("emotion_"):
            emotions[key.removeprefix("emotion_")] = float(value)
        else:
            extras[name] = float(value)
    if "arousal" not in fields and "valence" not in fields and not emotions:
        return None
    try:
        return Annotation(
            t=t,
            modality=modality,
            analyzer_id=analyzer_id,
            start=t - duration_s,
            end=t,
            emotions=emotions,
            extras=extras,
            **fields,
        )
    except ValidationError as exc:
        raise InboundPayloadError.from_validation(exc) from None


class ClockRequest(BaseModel):
    """A clock-offset request from another process (NTP-style, see ``docs/clock.md``).

    Attributes:
        id: the requester's id; the response goes to ``<prefix>/<session>/clock/response/<id>``.
        seq: the requester's sequence number, echoed.
        t1: the requester's clock when it sent the request (opaque to the SDK, echoed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["wearsdk.wire/1"] = Field(default=WIRE_SCHEMA, alias="schema")
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    seq: int = Field(ge=0)
    t1: float = Field(allow_inf_nan=False)


class ClockResponse(BaseModel):
    """The SDK's answer to a :class:`ClockRequest`.

    Attributes:
        id: the requester's id.
        seq: the request's sequence number.
        t1: the request's ``t1``, echoed.
        t2: session time (seconds) when the SDK received the request.
        t3: session time when the SDK sent this response.
        unix_offset_s: seconds to add to a session time to get the unix time the SDK uses
            (``AnnotationIn.start_unix`` is read with it).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )

    schema_: Literal["wearsdk.wire/1"] = Field(default=WIRE_SCHEMA, alias="schema")
    id: str
    seq: int = Field(ge=0)
    t1: float
    t2: float
    t3: float
    unix_offset_s: float


class CommandIn(BaseModel):
    """A control command arriving from another process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal["wearsdk.wire/1"] = Field(default=WIRE_SCHEMA, alias="schema")
    command: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("args")
    @classmethod
    def _bounded_args(cls, v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = bounded_json(v)
        return out


def _finite(values: list[list[float]]) -> list[list[float | None]]:
    return [[v if math.isfinite(v) else None for v in row] for row in values]


def encode_message(message: Message, *, session: str, seq: int, clock: SessionClock) -> bytes:
    """Serialise a bus message as a :class:`WireMessage` (compact JSON, UTF-8)."""
    payload = message.payload
    event: Any
    if isinstance(payload, SampleBlock):
        t, values = payload.t, payload.values
        placed = np.isfinite(t)
        if not placed.all():  # samples without a time cannot be placed: not sent
            t, values = t[placed], values[placed]
        rate = payload.nominal_rate_hz
        event = SamplesPayload(
            source=payload.source,
            stream=payload.stream,
            unit=payload.unit,
            channels=payload.channels,
            nominal_rate_hz=rate if rate is not None and math.isfinite(rate) else None,
            t=t.tolist(),
            t_unix=clock.to_unix_array(t).tolist(),
            values=_finite(values.tolist()),
        )
        t_unix = clock.to_unix(float(t[0])) if t.size else clock.to_unix(clock.now())
    else:
        event = payload
        t_unix = clock.to_unix(payload.t)
    wire = WireMessage(session=session, seq=seq, topic=message.topic, t_unix=t_unix, event=event)
    return wire.model_dump_json(by_alias=True).encode()


def wire_json_schema() -> dict[str, Any]:
    """The JSON Schemas of the wire format and of the analyzer contract.

    Keys: ``outgoing`` (messages wearsdk sends), ``annotation_in`` (analyzer annotations over
    MQTT, unix times), ``command_in``, the clock-sync messages, ``annotation`` (the bus event
    every analyzer publishes, session-clock times) and ``marker_annotation`` (JSON strings in
    LSL marker streams).
    """
    return {
        "version": WIRE_SCHEMA,
        "annotation": TypeAdapter(Annotation).json_schema(),
        "marker_annotation": TypeAdapter(MarkerAnnotation).json_schema(),
        "outgoing": TypeAdapter(WireMessage).json_schema(by_alias=True),
        "annotation_in": TypeAdapter(AnnotationIn).json_schema(by_alias=True),
        "command_in": TypeAdapter(CommandIn).json_schema(by_alias=True),
        "clock_request": TypeAdapter(ClockRequest).json_schema(by_alias=True),
        "clock_response": TypeAdapter(ClockResponse).json_schema(by_alias=True),
    }
