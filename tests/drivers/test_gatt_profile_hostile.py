"""Hostile GATT profiles: refused promptly with a ConfigError, in bounded memory."""

import json
import resource
import sys
from pathlib import Path

import pytest

from wearsdk import ConfigError
from wearsdk.drivers.gatt_profile import GattProfile, load_profile

pytestmark = pytest.mark.timeout(60)

MINIMAL = {
    "name": "lab-eda",
    "service_uuid": "180d",
    "data_uuid": "2a37",
    "nominal_rate_hz": 4,
    "channels": ["eda"],
    "payload": {"sample_format": "h"},
}


def with_format(fmt: str) -> dict[str, object]:
    return {**MINIMAL, "payload": {"sample_format": fmt}}


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("999999999H", "1 to 64 values"),
        ("9999999999H", "1 to 64 values"),
        ("9" * 200 + "H", "1 to 64 values"),
        ("0H", "1 to 64 values"),
        ("h0H", "1 to 64 values"),
        ("65B", "1 to 64 values"),
        ("32h33h", "1 to 64 values"),
        ("H" * 300, "struct codes"),
        ("4", "struct codes"),
        ("h ", "struct codes"),
        ("", "struct codes"),
    ],
)
def test_sample_formats_are_bounded_before_struct_sees_them(fmt: str, message: str) -> None:
    before = max_rss_mb()
    with pytest.raises(ConfigError, match=message):
        GattProfile.from_dict(with_format(fmt))
    assert max_rss_mb() - before < 100  # the old check took 7.7 GB for "999999999H"


def test_the_largest_allowed_format_decodes() -> None:
    channels = [f"c{i}" for i in range(64)]
    profile = GattProfile.from_dict({**with_format("64B"), "channels": channels})
    assert profile.payload.n_fields == 64
    decoded = profile.decode(bytes(range(64)))
    assert decoded.raw.shape == (1, 64)


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deep_nesting_is_a_config_error_not_a_recursion_error(tmp_path: Path, depth: int) -> None:
    deep_json = '{"name": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ConfigError):
        GattProfile.from_json(deep_json)
    deep_toml = "name = " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ConfigError):
        GattProfile.from_toml(deep_toml)
    nested: object = 1
    for _ in range(min(depth, sys.getrecursionlimit() * 2)):
        nested = {"a": nested}
    with pytest.raises(ConfigError):
        GattProfile.from_dict({**MINIMAL, "payload": nested})
    (tmp_path / "deep.json").write_text(deep_json)
    with pytest.raises(ConfigError):
        load_profile(tmp_path / "deep.json")


def test_a_huge_profile_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (4 << 20) + "\n" + "name = 'x'\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_profile(big)
    with pytest.raises(ConfigError, match="larger than"):
        GattProfile.from_json(" " * (2 << 20) + json.dumps(MINIMAL))
    assert GattProfile.from_toml(tomllib_dumps_minimal()).name == "lab-eda"


def tomllib_dumps_minimal() -> str:
    return (
        'name = "lab-eda"\nservice_uuid = "180d"\ndata_uuid = "2a37"\nnominal_rate_hz = 4\n'
        'channels = ["eda"]\n[payload]\nsample_format = "h"\n'
    )
