"""The JSON line of a bus message: ``message_to_json`` against ``message_to_dict``."""

from __future__ import annotations

import json
import math

import numpy as np

from wearsdk import SessionClock
from wearsdk._events import ClockStatus, DeviceStatus, Features
from wearsdk._jsonl import encode_line, message_to_dict, message_to_json
from wearsdk._types import SampleBlock
from wearsdk.bus import Message


def _clock() -> SessionClock:
    return SessionClock(lambda: 1000.0)


def test_sample_block_line_is_the_dict_line() -> None:
    rng = np.random.default_rng(3)
    t = 5000.0 + np.arange(40) / 130.0
    values = rng.normal(size=(40, 3)).astype(np.float32).astype(np.float64) * 1e3
    values[[0, 7], 1] = [math.nan, math.inf]
    t[5] = math.nan
    block = SampleBlock(
        source="dev-1", stream="acc", unit="mG", t=t, values=values[:, ::-1],  # not contiguous
        channels=("Z", "Y", "X"), nominal_rate_hz=200.0,
    )  # fmt: skip
    message = Message("physio/dev-1/acc", block)
    clock = _clock()
    text = message_to_json(message, clock)
    as_dict = message_to_dict(message, clock)
    assert "NaN" not in text
    assert "Infinity" not in text
    assert " " not in text
    assert json.loads(text) == as_dict  # the same numbers, digit for digit in value
    assert as_dict["values"][0][1] is None
    assert as_dict["t"][5] is None
    assert list(json.loads(text)) == list(as_dict)  # the same field order
    assert text == encode_line(as_dict)


def test_event_line_is_the_dict_line() -> None:
    clock = _clock()
    status = ClockStatus(
        t=1000.5, source="dev-1", clock="sensor", drift_ppm=1e-5, jitter_s=None, offset_s=0.25,
        resets=0, observations=3, converged=False,
    )  # fmt: skip
    features = Features(
        t=1002.0, source="dev-1", window_start=942.0, window_end=1002.0,
        values={"hr_bpm": 71.25, "rmssd_ms": math.nan, "scl_us": math.inf}, flags=("no_eda",),
    )  # fmt: skip
    closed = DeviceStatus(t=1001.0, source="dev-1", state="closed", detail="é")
    for payload in (status, features, closed):
        message = Message(f"device/dev-1/{payload.type}", payload)
        text = message_to_json(message, clock)
        assert "NaN" not in text
        assert "Infinity" not in text
        assert json.loads(text) == message_to_dict(message, clock)
        assert list(json.loads(text))[:4] == ["topic", "type", "t", "t_unix"]
