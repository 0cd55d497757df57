"""Hostile inbound MQTT payloads against a real mosquitto: typed refusals, counted and dropped;
what passes serialises to finite JSON in every sink."""

import asyncio
import json
import math

import aiomqtt
import pytest
from pydantic import ValidationError

from tests.io.mosquitto import Mosquitto
from wearsdk import (
    EVENT_ADAPTER,
    Annotation,
    Bus,
    Consent,
    Estimate,
    ExportPolicy,
    HeartRate,
    SessionClock,
)
from wearsdk._jsonl import message_to_json
from wearsdk.bus import Message
from wearsdk.io import MAX_INBOUND_BYTES, InboundPayloadError, annotation_from_marker
from wearsdk.io._wire import encode_message
from wearsdk.io.mqtt import MqttBridge, MqttConfig, decode_inbound

pytestmark = pytest.mark.timeout(90)


def consent() -> Consent:
    return Consent(
        participant="p-0042",
        purposes=("research",),
        export=ExportPolicy.FEATURES,
        obtained_by="study nurse",
        obtained_unix=1.7e9,
    )


def annotation(now_unix: float, **over: object) -> bytes:
    body: dict[str, object] = {
        "modality": "face",
        "analyzer_id": "cam1",
        "start_unix": now_unix - 1.0,
        "end_unix": now_unix,
        "valence": 0.5,
    }
    body.update(over)
    return json.dumps(body).encode()


def hostile(now_unix: float) -> list[tuple[bytes, str]]:
    """(payload, expected reason): the attacks of the issue and their neighbours."""
    ok = annotation(now_unix).decode()
    nested: object = 1
    for _ in range(20):
        nested = {"a": nested}
    return [
        (ok.replace(f'"end_unix": {now_unix}', '"end_unix": NaN').encode(), "non_finite"),
        (ok.replace(f'"end_unix": {now_unix}', '"end_unix": Infinity').encode(), "non_finite"),
        (
            ok.replace(f'"start_unix": {now_unix - 1.0}', '"start_unix": -Infinity').encode(),
            "non_finite",
        ),
        (ok.replace('"valence": 0.5', '"valence": 1e400').encode(), "non_finite"),
        (annotation(now_unix, extras={"x": [1.0, "NaN"]}).replace(b'"NaN"', b"NaN"), "non_finite"),
        (annotation(now_unix, label="x" * 5000), "too_long"),
        (annotation(now_unix, extras={"k" * 100: 1}), "too_long"),
        (annotation(now_unix, extras={f"k{i}": i for i in range(1000)}), "too_many_keys"),
        (annotation(now_unix, emotions={f"e{i}": 0.01 for i in range(100)}), "too_many_keys"),
        (annotation(now_unix, extras={"n": nested}), "too_deep"),
        (b"[" * 100_000, "too_large"),
        (annotation(now_unix, label="x" * (MAX_INBOUND_BYTES + 1)), "too_large"),
        (annotation(now_unix, extras={"big": 10**30}), "invalid"),
        (b"{not json", "invalid"),
    ]


async def test_hostile_annotations_are_counted_by_reason_and_the_session_goes_on(
    broker: Mosquitto, session_bus: tuple[Bus, SessionClock]
) -> None:
    bus, clock = session_bus
    sub = bus.subscribe(("analyzer/#", "control/#"))
    config = MqttConfig(url=broker.url, session="s-hostile", policy=ExportPolicy.FEATURES)
    bridge = MqttBridge(bus, clock, config, consent=consent())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    now_unix = clock.to_unix(clock.now())
    attacks = hostile(now_unix)
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for payload, _ in attacks:
            await client.publish("wearsdk/s-hostile/analyzer/face/cam1", payload, qos=1)
        await client.publish(
            "wearsdk/s-hostile/control", b'{"command": "mark", "args": {"x": NaN}}', qos=1
        )
        await client.publish("wearsdk/s-hostile/analyzer/face/cam1", annotation(now_unix), qos=1)
    good = await asyncio.wait_for(sub.receive(), 10)  # the only one that passes
    assert not task.done()
    assert isinstance(good.payload, Annotation)
    assert good.payload.valence == 0.5
    assert bridge.stats.received == 1
    assert bridge.stats.rejected_inbound == len(attacks) + 1
    expected: dict[str, int] = {}
    for _, reason in attacks:
        expected[reason] = expected.get(reason, 0) + 1
    expected["non_finite"] += 1  # the command
    assert bridge.stats.rejected_by_reason == expected
    # what passed is exported and logged as finite JSON
    line = message_to_json(good, clock)
    assert "NaN" not in line
    assert "Infinity" not in line
    wire = encode_message(good, session="s", seq=0, clock=clock)
    assert EVENT_ADAPTER.validate_json(json.dumps(json.loads(wire)["event"])) == good.payload
    task.cancel()


@pytest.mark.parametrize(
    "bad",
    [
        {"t": math.nan},
        {"start": -math.inf},
        {"extras": {"x": {"y": [math.inf]}}},
        {"extras": {"x": object()}},
        {"extras": {str(i): i for i in range(65)}},
        {"label": "x" * 4097},
    ],
)
def test_events_refuse_what_json_cannot_carry_at_construction(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "t": 1.0,
        "modality": "face",
        "analyzer_id": "a",
        "start": 0.0,
        "end": 1.0,
    }
    with pytest.raises(ValidationError):
        Annotation(**{**fields, **bad})


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (
            Estimate,
            {
                "t": math.inf,
                "window_start": 0.0,
                "window_end": 1.0,
                "arousal": 0.5,
                "confidence": 0.5,
            },
        ),
        (
            Estimate,
            {
                "t": 1.0,
                "window_start": math.nan,
                "window_end": 1.0,
                "arousal": 0.5,
                "confidence": 0.5,
            },
        ),
        (HeartRate, {"t": 1.0, "source": "hr-1", "hr_bpm": math.nan}),
        (HeartRate, {"t": 1.0, "source": "hr-1", "hr_bpm": 60.0, "rr_s": (math.inf,)}),
    ],
)
def test_estimates_and_heart_rates_refuse_non_finite_values(
    model: type[Estimate | HeartRate], fields: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model(**fields)


def test_an_annotation_that_validated_always_serialises() -> None:
    import numpy as np

    clock = SessionClock()
    ann = Annotation(
        t=1.0,
        modality="face",
        analyzer_id="a",
        start=0.0,
        end=1.0,
        extras={"f32": np.float32(0.25), "i64": np.int64(7), "nested": [{"a": [1, 2.5, None]}]},
    )
    assert ann.extras["f32"] == 0.25
    assert type(ann.extras["i64"]) is int
    message = Message(topic="analyzer/face/a", payload=ann)
    json.loads(message_to_json(message, clock))
    json.loads(encode_message(message, session="s", seq=0, clock=clock))


def test_markers_are_bounded_like_mqtt_payloads() -> None:
    with pytest.raises(InboundPayloadError) as info:
        annotation_from_marker('{"end": NaN}', 5.0, modality="marker", analyzer_id="m")
    assert info.value.reason == "non_finite"
    with pytest.raises(InboundPayloadError) as info:
        annotation_from_marker("x" * (MAX_INBOUND_BYTES + 1), 5.0, modality="m", analyzer_id="m")
    assert info.value.reason == "too_large"
    with pytest.raises(InboundPayloadError) as info:
        annotation_from_marker("label", math.nan, modality="marker", analyzer_id="m")
    assert info.value.reason == "non_finite"
    plain = annotation_from_marker("stimulus onset", 5.0, modality="marker", analyzer_id="m")
    assert plain.label == "stimulus onset"


def test_decode_inbound_refuses_a_nan_end_with_a_typed_error() -> None:
    clock = SessionClock()
    data = b'{"modality":"face","analyzer_id":"a","start_unix":1.7e9,"end_unix":NaN}'
    with pytest.raises(InboundPayloadError) as info:
        decode_inbound(False, data, clock)
    assert info.value.reason == "non_finite"
    assert isinstance(info.value, ValueError)


def test_sample_blocks_with_non_finite_times_serialise_in_every_sink() -> None:
    import numpy as np

    from wearsdk import SampleBlock
    from wearsdk.io import WireMessage

    clock = SessionClock()
    block = SampleBlock(
        source="eda-1",
        stream="eda",
        unit="uS",
        t=np.array([1.0, math.nan, math.inf, 2.0]),
        values=np.array([1.0, 2.0, math.nan, 4.0]),
        nominal_rate_hz=math.nan,
    )
    message = Message(topic="physio/eda-1/eda", payload=block)
    line = json.loads(message_to_json(message, clock))
    assert line["t"] == [1.0, None, None, 2.0]
    assert line["values"] == [[1.0], [2.0], [None], [4.0]]
    assert line["nominal_rate_hz"] is None
    wire = WireMessage.model_validate_json(encode_message(message, session="s", seq=0, clock=clock))
    assert wire.event.t == [1.0, 2.0]  # type: ignore[union-attr]  # samples without a time stay
    assert wire.event.values == [[1.0], [4.0]]  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        WireMessage.model_validate_json(
            json.dumps(
                {**json.loads(wire.model_dump_json(by_alias=True)), "t_unix": "NaN"}
            ).replace('"NaN"', "NaN")
        )


def test_undefined_feature_values_and_quality_are_none_not_an_error() -> None:
    from wearsdk import Features

    clock = SessionClock()
    window = Features(
        t=60.0,
        source="session",
        window_start=0.0,
        window_end=60.0,
        values={"ppg_amplitude_au": math.nan, "hr_mean_bpm": 71.0},
        quality={"bvp_sqi": math.nan, "bvp_beats_accepted": math.inf, "rr_coverage": 0.9},
    )
    assert window.quality == {"bvp_sqi": None, "bvp_beats_accepted": None, "rr_coverage": 0.9}
    line = json.loads(message_to_json(Message(topic="features/session", payload=window), clock))
    assert line["quality"]["bvp_sqi"] is None
