"""One JSON object per bus message: the ``--jsonl`` wire shape of the CLI."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from wearsdk._clock import SessionClock
from wearsdk._types import SampleBlock
from wearsdk.bus import Message

__all__ = ["encode_line", "message_to_dict", "message_to_json"]


def message_to_dict(message: Message, clock: SessionClock) -> dict[str, Any]:
    """Flatten a bus message: ``topic``, ``type``, ``t`` (session s), ``t_unix``, then fields.

    Sample blocks carry ``t`` and ``t_unix`` as lists (one per sample) and ``values`` as a
    list of per-sample lists. Non-finite numbers become ``None`` (JSON ``null``), so that
    the dict is JSON as it is.
    """
    payload = message.payload
    if isinstance(payload, SampleBlock):
        block = {"topic": message.topic, **payload.to_json_dict(clock.unix_offset_s)}
        if not np.isfinite(payload.values).all():
            block["values"] = _finite(block["values"])
        if not np.isfinite(payload.t).all():  # a time from outside (LSL, files): null
            block["t"], block["t_unix"] = _finite(block["t"]), _finite(block["t_unix"])
        return _finite(block) if not _all_finite(block) else block
    return _event_dict(
        message.topic, clock.to_unix(payload.t), _finite(payload.model_dump(mode="json"))
    )


def _event_dict(topic: str, t_unix: float, data: dict[str, Any]) -> dict[str, Any]:
    """An event's line: ``topic``, ``type``, ``t``, ``t_unix``, then its other fields."""
    out: dict[str, Any] = {"topic": topic, "type": data.pop("type")}
    out["t"] = data.pop("t")
    out["t_unix"] = t_unix
    out.update(data)
    return out


def _all_finite(block: dict[str, Any]) -> bool:
    rate = block.get("nominal_rate_hz")
    return not isinstance(rate, float) or math.isfinite(rate)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (not JSON) by ``None``, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode_line(line: dict[str, Any]) -> str:
    """One compact JSON line (no trailing newline) of a :func:`message_to_dict` dict.

    Encoded by orjson (a sample block of an hour of replay is ~100 MB of JSON): compact
    separators, UTF-8 text, shortest round-trip floats; a non-finite number is ``null``,
    never ``NaN``, and numpy scalars are plain numbers.
    """
    return orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def message_to_json(message: Message, clock: SessionClock) -> str:
    """:func:`message_to_dict` as one compact JSON line (no trailing newline).

    The same line, built without the intermediate lists: a sample block's arrays go to the
    encoder as they are (float64, written with the shortest round-trip digits as
    ``ndarray.tolist`` floats are), and non-finite numbers become ``null`` in the encoder.
    """
    payload = message.payload
    if not isinstance(payload, SampleBlock):
        data = payload.model_dump(mode="json")
        return encode_line(_event_dict(message.topic, clock.to_unix(payload.t), data))
    return encode_line(
        {
            "topic": message.topic,
            "type": "samples",
            "source": payload.source,
            "stream": payload.stream,
            "unit": payload.unit,
            "channels": list(payload.channels),
            "nominal_rate_hz": payload.nominal_rate_hz,
            "t": np.ascontiguousarray(payload.t),
            "t_unix": payload.t + clock.unix_offset_s,
            "values": np.ascontiguousarray(payload.values),
        }
    )
