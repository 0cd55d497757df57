"""One JSON object per bus message: the ``--jsonl`` wire shape of the CLI."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from wearsdk._clock import SessionClock
from wearsdk._types import SampleBlock
from wearsdk.bus import Message

__all__ = ["message_to_dict", "message_to_json"]


def message_to_dict(message: Message, clock: SessionClock) -> dict[str, Any]:
    """Flatten a bus message: ``topic``, ``type``, ``t`` (session s), ``t_unix``, then fields.

    Sample blocks carry ``t`` and ``t_unix`` as lists (one per sample) and ``values`` as a
    list of per-sample lists. Non-finite numbers become ``null``, so that
    :func:`message_to_json` cannot fail on a bus message.
    """
    payload = message.payload
    if isinstance(payload, SampleBlock):
        block = {"topic": message.topic, **payload.to_json_dict(clock.unix_offset_s)}
        if not np.isfinite(payload.values).all():
            block["values"] = _finite(block["values"])
        if not np.isfinite(payload.t).all():  # a time from outside (LSL, files): null
            block["t"], block["t_unix"] = _finite(block["t"]), _finite(block["t_unix"])
        return _finite(block) if not _all_finite(block) else block
    data = _finite(payload.model_dump(mode="json"))
    out: dict[str, Any] = {"topic": message.topic, "type": data.pop("type")}
    out["t"] = data.pop("t")
    out["t_unix"] = clock.to_unix(payload.t)
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


def message_to_json(message: Message, clock: SessionClock) -> str:
    """:func:`message_to_dict` as one compact JSON line (no trailing newline)."""
    return json.dumps(message_to_dict(message, clock), separators=(",", ":"), allow_nan=False)
