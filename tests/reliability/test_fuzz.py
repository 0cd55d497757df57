"""Every parser of device and wire input against mutated valid inputs: 0 crashes.

The default run gives each target a short budget; ``python -m benchmarks.fuzz --inputs
1000000`` is the long run. Hypothesis adds arbitrary JSON to the wire inputs (the parsers'
own hypothesis tests live next to them in tests/drivers).
"""

import contextlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from benchmarks.fuzz import targets
from wearsdk import EVENT_ADAPTER, ConfigError, SessionClock, WearError
from wearsdk.io import InboundPayloadError, WireMessage
from wearsdk.io.mqtt import decode_inbound
from wearsdk.testing import fuzz, mutate

TARGETS = targets()
CLOCK = SessionClock()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
annotation_like = st.fixed_dictionaries(
    {},
    optional={
        "modality": st.text(max_size=40),
        "analyzer_id": st.text(max_size=70),
        "start_unix": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "end_unix": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "arousal": st.floats(allow_nan=False, allow_infinity=False),
        "valence": st.floats(allow_nan=False, allow_infinity=False),
        "confidence": st.floats(allow_nan=False, allow_infinity=False),
        "emotions": st.dictionaries(st.text(max_size=5), st.floats(allow_nan=False)),
        "label": st.text(max_size=10) | st.none(),
        "extras": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
        "schema": st.sampled_from(["wearsdk.wire/1", "x"]),
    },
)


@pytest.mark.parametrize("name", sorted(TARGETS))
@pytest.mark.slow
def test_no_parser_crashes_on_mutated_inputs(name: str) -> None:
    target = TARGETS[name]
    for seed in target.seeds:  # the seeds are valid: they must parse
        target.run(seed)
    result = fuzz(name, target.run, target.seeds, inputs=3000, allowed=target.allowed, seed=1)
    assert result.first_crash is None, result.first_crash[1] if result.first_crash else ""
    assert result.crashes == 0
    assert result.rejected > 0 or name in ("hr-driver", "polar-driver", "bitalino", "pmd-control")


def test_the_mutator_changes_inputs_and_is_reproducible() -> None:
    seed = bytes(range(32))
    rng_a, rng_b = random.Random(3), random.Random(3)
    a = [mutate(rng_a, seed) for _ in range(50)]
    b = [mutate(rng_b, seed) for _ in range(50)]
    assert a == b
    assert sum(x != seed for x in a) >= 45


def test_the_fuzzer_reports_a_crash_with_its_input() -> None:
    def fragile(data: bytes) -> None:
        if len(data) > 3 and data[0] == 0:
            raise IndexError("boom")
        if not data:
            raise ConfigError("empty")

    result = fuzz("fragile", fragile, [b"\x01\x02\x03\x04"], inputs=2000, seed=0)
    assert result.crashes > 0
    assert result.first_crash is not None
    assert result.first_crash[0][0] == 0
    assert "IndexError" in result.first_crash[1]
    assert result.accepted + result.rejected + result.crashes == 2000


@settings(max_examples=300, deadline=None)
@given(st.one_of(annotation_like, json_values), st.booleans())
def test_inbound_mqtt_json_is_decoded_or_refused_with_a_typed_error(
    payload: object, control: bool
) -> None:
    data = json.dumps(payload).encode()
    try:
        topic, event = decode_inbound(control, data, CLOCK)
    except (InboundPayloadError, ConfigError):  # typed refusals only, never a bare ValueError
        return
    assert topic.startswith("control/" if control else "analyzer/")
    assert event.t == event.t  # a number, not NaN


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_inbound_mqtt_bytes_are_decoded_or_refused(data: bytes, control: bool) -> None:
    with contextlib.suppress(InboundPayloadError, ConfigError):  # typed refusals only
        decode_inbound(control, data, CLOCK)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_events_and_wire_envelopes_from_arbitrary_json(payload: object) -> None:
    data = json.dumps(payload).encode()
    for parse in (EVENT_ADAPTER.validate_json, WireMessage.model_validate_json):
        with contextlib.suppress(ValidationError, WearError):
            parse(data)
