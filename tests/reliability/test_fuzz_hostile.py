"""The fuzzer's hostile JSON mutations, its non-finite check and its memory measurement."""

import json
import math
import random
from pathlib import Path

import pytest

from benchmarks.fuzz import finite_json, targets
from wearsdk.testing import fuzz, has_non_finite, mutate_json

TARGETS = targets()


def test_json_mutations_reach_every_hostile_shape() -> None:
    seed = json.dumps({"a": 1.5, "b": "text", "c": {"d": [1, 2]}}).encode()
    rng = random.Random(0)
    outs = [mutate_json(rng, seed, [seed]) for _ in range(3000)]
    joined = b"\n".join(outs)
    for token in (b"NaN", b"Infinity", b"1e400", b"[[[[[[[[[["):
        assert token in joined
    assert max(len(o) for o in outs) > 65_536  # beyond MAX_INBOUND_BYTES
    assert any(o.count(b'"k') > 64 for o in outs)  # many keys


def test_the_fuzzer_counts_non_finite_acceptances_and_measures_memory() -> None:
    def leaky(data: bytes) -> object:
        if data and data[0] % 2:
            return {"x": math.nan}
        return bytearray(20_000_000) if data[:1] == b"\x00" else {"x": 1.0}

    result = fuzz(
        "leaky",
        leaky,
        [b"\x00a", b"\x01b", b"\x02c"],
        inputs=200,
        check=lambda r: not has_non_finite(r),
        measure_memory=True,
    )
    assert result.unsafe > 0
    assert result.first_unsafe is not None
    assert result.first_unsafe[0] % 2 == 1
    assert result.peak_bytes >= 20_000_000  # the seed b"\x00a" is traced (input 0)
    assert result.peak_input == b"\x00a"


def test_events_from_hostile_inputs_are_refused_or_finite() -> None:
    for name in ("wire-in", "wire-event", "lsl-marker", "lsl-channels", "gatt-config"):
        t = TARGETS[name]
        assert t.check is finite_json
        result = fuzz(
            name,
            t.run,
            t.seeds,
            inputs=1500,
            allowed=t.allowed,
            seed=2,
            mutators=t.mutators,
            check=t.check,
        )
        assert result.crashes == 0, result.first_crash[1] if result.first_crash else ""
        assert result.unsafe == 0, result.first_unsafe
        assert result.rejected > 0


def test_mutated_xdf_files_are_replayed_or_refused_with_the_typed_error() -> None:
    t = TARGETS["xdf"]
    result = fuzz("xdf", t.run, t.seeds, inputs=1000, allowed=t.allowed, seed=3)
    assert result.crashes == 0, result.first_crash[1] if result.first_crash else ""
    assert result.accepted > 100  # replayed
    assert result.rejected > 100  # refused with XdfFormatError


@pytest.mark.parametrize(("name", "inputs"), [("e4-csv", 1500), ("session-toml", 600)])
def test_e4_exports_and_session_files_are_read_or_refused_with_a_typed_error(
    name: str, inputs: int
) -> None:
    t = TARGETS[name]
    result = fuzz(
        name,
        t.run,
        t.seeds,
        inputs=inputs,
        allowed=t.allowed,
        seed=5,
        mutators=t.mutators,
        check=t.check,
    )
    assert result.crashes == 0, result.first_crash[1] if result.first_crash else ""
    assert result.unsafe == 0, result.first_unsafe
    assert result.accepted > 0.05 * inputs
    assert result.rejected > 0.05 * inputs


VALID_SESSION = TARGETS["session-toml"].seeds[0]  # a virtual session that validates


@pytest.mark.parametrize(
    "text",
    [
        VALID_SESSION.replace(b'"virtual"', b'"virtual\x86"', 1),  # was a UnicodeDecodeError
        VALID_SESSION.replace(b"duration_s = 20", b"duration_s = 1e400"),  # inf: was accepted
        VALID_SESSION.replace(b"duration_s = 20", b"duration_s = nan"),
        VALID_SESSION.replace(b"speed = 10", b"speed = inf"),  # was accepted
        VALID_SESSION.replace(b"baseline_s = 6", b"baseline_s = inf"),  # was accepted
        b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n" + VALID_SESSION,  # RecursionError
    ],
)
def test_a_hostile_session_file_is_a_config_error(tmp_path: Path, text: bytes) -> None:
    from wearsdk import ConfigError
    from wearsdk._config_files import load_session_config

    path = tmp_path / "session.toml"
    path.write_bytes(VALID_SESSION)
    load_session_config(path)  # the file it is made from is valid
    path.write_bytes(text)
    with pytest.raises(ConfigError, match=str(path)):
        load_session_config(path)
