"""The docs' code runs: the driver written in docs/drivers.md parses and publishes."""

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wearsdk import Bus, ProtocolError, SampleBlock, SessionClock, SourceContext

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(doc: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / doc).read_text(), flags=re.S)


@pytest.fixture(scope="module")
def driver_doc() -> dict[str, Any]:
    (code,) = python_blocks("drivers.md")
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/drivers.md", "exec"), namespace)
    return namespace


def test_the_documented_driver_decodes_ieee_11073_floats(driver_doc: dict[str, Any]) -> None:
    parse = driver_doc["parse_temperature"]
    # 36.6 °C: mantissa 366, exponent -1, flags 0 (Celsius)
    assert parse(bytes([0x00, 0x6E, 0x01, 0x00, 0xFF])) == pytest.approx(36.6)
    # a negative mantissa: -5 x 10^0
    assert parse(bytes([0x00, 0xFB, 0xFF, 0xFF, 0x00])) == pytest.approx(-5.0)
    with pytest.raises(ProtocolError):
        parse(b"\x00\x01")
    with pytest.raises(ProtocolError):
        parse(bytes([0x01, 0x6E, 0x01, 0x00, 0xFF]))  # Fahrenheit


async def test_the_documented_driver_publishes_and_counts_bad_packets(
    driver_doc: dict[str, Any],
) -> None:
    bus = Bus()
    bus.bind_loop()
    ctx = SourceContext(bus, SessionClock(), "thermo-test")
    sub = bus.subscribe("physio/thermo-test/temp", maxsize=8)
    thermo = driver_doc["Thermometer"](None, name="ACME Thermo")
    assert thermo.kind == "thermo"
    thermo._handle_notification(ctx, "temp", 12.5, bytes([0x00, 0x6E, 0x01, 0x00, 0xFF]))
    thermo._handle_notification(ctx, "temp", 13.5, b"\x00")
    block = (await sub.receive()).payload
    assert isinstance(block, SampleBlock)
    assert block.unit == "degC"
    np.testing.assert_allclose(block.values, [[36.6]])
    assert block.t.tolist() == [12.5]
    assert thermo.malformed == 1


def test_the_quickstart_session_file_is_valid(tmp_path: Path) -> None:
    from wearsdk._config import MqttSink
    from wearsdk._config_files import load_session_config

    (toml,) = re.findall(
        r"```toml\n(.*?)```", (ROOT / "docs" / "quickstart.md").read_text(), flags=re.S
    )
    path = tmp_path / "session.toml"
    path.write_text(toml)
    for name in ("consent.json", "video/webcam.csv", "audio/mic.wav"):  # files it names
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    config = load_session_config(path)
    assert [d.driver for d in config.devices] == ["polar-h10", "bitalino"]
    assert [a.kind for a in config.analyzers] == ["file", "voice", "face", "mqtt", "lsl"]
    assert config.session.record == tmp_path / "out" / "lab-07.xdf"
    mqtt = config.sinks[1]
    assert isinstance(mqtt, MqttSink)
    assert mqtt.consent == tmp_path / "consent.json"


def test_the_api_reference_is_up_to_date_and_every_public_name_is_documented() -> None:
    from wearsdk._apidoc import MODULES, render

    text, missing = render()
    assert missing == []
    assert (ROOT / "docs" / "api.md").read_text() == text, "run: python -m wearsdk._apidoc"
    for module in MODULES:  # every public module has its section, every name its entry
        assert f"## `{module}`" in text
        for name in __import__(module, fromlist=["__all__"]).__all__:
            assert f"`{module}.{name}`" in text or f"- `{name}`: see `" in text


def test_the_cli_reference_is_up_to_date_and_covers_every_command() -> None:
    from wearsdk._apidoc import render_cli

    text = render_cli()
    assert (ROOT / "docs" / "cli.md").read_text() == text, "run: python -m wearsdk._apidoc"
    for command in ("demo", "scan", "stream", "record", "schema", "twin", "replay", "doctor"):
        assert f"## `wearsdk {command}`" in text
    assert "## `wearsdk report`" in text
    assert "## `wearsdk run`" in text
    assert "141 the output's reader went away" in " ".join(text.split())
