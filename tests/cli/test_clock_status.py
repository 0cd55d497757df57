"""Clock status events: their schema, the wire, and the `wearsdk stream` summary line."""

import io
import math

from wearsdk import EVENT_ADAPTER, ClockStatus, DeviceClockMap, SessionClock
from wearsdk._jsonl import message_to_dict
from wearsdk.bus import Message
from wearsdk.cli._output import Summary as _Summary
from wearsdk.io import WireMessage, encode_message


def status() -> ClockStatus:
    m = DeviceClockMap()
    m.observe(100.0, 5000.02)
    q = m.quality()
    return ClockStatus(
        t=5000.0,
        source="polar-1a2b",
        clock="sensor",
        offset_s=q.offset_s,
        drift_ppm=q.drift_ppm,
        jitter_s=math.nan,  # undefined yet: JSON null, never NaN
        resets=q.resets,
        observations=q.observations,
        converged=q.converged,
        error_bound_s=q.error_bound_s,
        drift_sd_ppm=math.inf,  # unknown: null on the wire, never Infinity
    )


def test_clock_status_round_trips_through_json_and_the_wire() -> None:
    event = status()
    assert event.jitter_s is None
    assert event.drift_sd_ppm is None
    assert event.error_bound_s is not None
    assert 0.0 < event.error_bound_s < 1.0
    again = EVENT_ADAPTER.validate_json(event.model_dump_json())
    assert again == event
    wire = encode_message(
        Message("device/polar-1a2b/clock", event), session="s", seq=0, clock=SessionClock()
    )
    parsed = WireMessage.model_validate_json(wire)
    assert isinstance(parsed.event, ClockStatus)
    assert parsed.event.offset_s == 4900.02


def test_stream_summary_prints_the_clock_state() -> None:
    out = io.StringIO()
    line = message_to_dict(Message("device/polar-1a2b/clock", status()), SessionClock())
    _Summary(out)(line)
    text = out.getvalue()
    assert text.startswith("[polar-1a2b] clock sensor: drift +0.0 ppm")
    assert "offset 4900.0200 s" in text
    assert "resets 0, learning" in text
    assert f"error bound {1000 * status().error_bound_s:.1f} ms" in text  # type: ignore[operator]


def test_a_clock_status_without_the_new_fields_still_parses() -> None:
    old = {
        "t": 1.0,
        "type": "clock_status",
        "source": "polar-1a2b",
        "clock": "sensor",
        "offset_s": 2.0,
        "drift_ppm": 3.0,
        "jitter_s": 0.01,
        "resets": 0,
        "observations": 5,
        "converged": False,
    }
    event = EVENT_ADAPTER.validate_python(old)
    assert isinstance(event, ClockStatus)
    assert event.error_bound_s is None
    assert event.drift_sd_ppm is None
