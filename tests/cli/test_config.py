"""Session files (`wearsdk run --config session.toml`): a two-device virtual session, and
typed, located errors for bad files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wearsdk import ConfigError
from wearsdk._config import JsonlSink
from wearsdk._config_files import load_session_config
from wearsdk._run import run_session

pytestmark = pytest.mark.timeout(120)

GOOD = """
[session]
name = "two-devices"
transport = "virtual"
duration_s = 24
speed = 12
report = "out/report.png"

[pipeline]
window_s = 5
baseline_s = 6

[[devices]]
driver = "polar-h10"
name = "Polar H10 0A1B2C3D"
options = { acc_rate_hz = 50 }

[[devices]]
driver = "bitalino"
name = "BITalino EDA"
options = { rate_hz = 10, channels = [3], publish_raw = false }

[[sinks]]
kind = "jsonl"
path = "out/events.jsonl"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "session.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_a_two_device_session_runs_from_its_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_session_config(path)
    assert isinstance(config.sinks[0], JsonlSink)
    assert config.sinks[0].path == tmp_path / "out" / "events.jsonl"  # relative to the file
    result = subprocess.run(
        [sys.executable, "-m", "wearsdk", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    assert "two-devices finished" in result.stdout
    lines = [json.loads(x) for x in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    streams = {(x["source"].split("-")[0], x["stream"]) for x in lines if x["type"] == "samples"}
    assert {("polar", "ecg"), ("polar", "acc"), ("bitalino", "eda")} <= streams
    est = [x for x in lines if x["type"] == "estimate"]
    assert est
    assert any({"rr", "eda"} <= set(x["modalities"]) for x in est)
    assert (tmp_path / "out" / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('driver = "bitalino"', 'driver = "nope"'), "devices[1].driver: unknown driver 'nope'"),
        (
            ('name = "BITalino EDA"', 'name = "B"\naddress = "AA:BB:CC:DD:EE:FF"'),
            "devices[1]: give exactly one of name or address",
        ),
        (('kind = "jsonl"', 'kind = "csv"'), "sinks[0]"),
        (("speed = 12", "speed = -1"), "session.speed: Input should be greater than 0"),
        (("window_s = 5", "window_s = 5\nwindwo = 3"), "pipeline.windwo: Extra inputs"),
        (('transport = "virtual"', 'transport = "bluetooth"'), "session.transport: transport must"),
        (
            (
                'path = "out/events.jsonl"',
                'path = "out/events.jsonl"\n[[sinks]]\nkind = "mqtt"\nurl = "tcp://x"',
            ),
            "sinks[1].url: String should match pattern",
        ),
        (("duration_s = 24", ""), "duration_s is required with transport = 'virtual'"),
        (
            ('kind = "jsonl"\npath = "out/events.jsonl"', 'kind = "mqtt"\nurl = "mqtt://h"'),
            "session.report needs a jsonl sink",
        ),
        (("[session]", "[session\n"), "is not valid TOML"),
    ],
)
def test_bad_files_are_config_errors_that_name_the_field(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    assert edit[0] in GOOD
    path = write(tmp_path, GOOD.replace(*edit, 1))
    with pytest.raises(ConfigError) as info:
        load_session_config(path)
    assert message in str(info.value)


def test_no_devices_and_cli_exit_code(tmp_path: Path) -> None:
    path = write(tmp_path, '[session]\nname = "x"\n')
    with pytest.raises(ConfigError, match="devices: Field required"):
        load_session_config(path)
    result = subprocess.run(
        [sys.executable, "-m", "wearsdk", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "wearsdk: error:" in result.stderr
    assert "devices: Field required" in result.stderr


async def test_an_option_the_driver_does_not_take(tmp_path: Path) -> None:
    from wearsdk._run import run_session

    path = write(tmp_path, GOOD.replace("acc_rate_hz = 50", "acc_rate = 50"))
    config = load_session_config(path)
    with pytest.raises(ConfigError, match=r"devices\[0\] \(polar-h10\).*acc_rate_hz"):
        await run_session(config)


@pytest.mark.looptime
async def test_publish_clean_in_the_file_publishes_the_cleaned_streams(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("baseline_s = 6", "baseline_s = 6\npublish_clean = true"))
    # the session the file describes, on the loop's virtual time: a loaded machine cannot
    # starve its 12x twins (the command itself runs a file in the test above)
    await run_session(load_session_config(path))
    lines = [json.loads(x) for x in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    samples = [x for x in lines if x["type"] == "samples"]

    def times(stream: str) -> list[float]:
        return [t for x in samples if x["stream"] == stream for t in x["t"]]

    # one cleaned sample per raw one, at the same time (the last raw blocks may come as the
    # session stops, after the pipeline)
    for stream, rate in (("ecg", 130), ("eda", 10)):
        raw, clean = times(stream), times(f"{stream}_clean")
        assert len(raw) > 100
        assert clean == raw[: len(clean)]
        assert len(raw) - len(clean) <= rate
    eda_clean = next(x for x in samples if x["stream"] == "eda_clean")
    assert eda_clean["channels"] == ["eda_clean", "eda_tonic", "eda_phasic"]
    assert eda_clean["unit"] == "uS"


def test_a_session_files_pipeline_defaults_are_the_apis() -> None:
    # `wearsdk run` without [pipeline] keys must process as `Session()` does (baseline_s was
    # 120 s in files and 180 s, the validated value, in the API)
    from wearsdk import PipelineConfig
    from wearsdk._config import PipelineSection
    from wearsdk._run._parts import _pipeline

    assert _pipeline(PipelineSection()) == PipelineConfig()
