"""One runner for every session command: output inside the session, ends when it should."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wearsdk._config import MqttSink, SessionConfig, session_config
from wearsdk._demo import DemoConfig
from wearsdk._errors import ConfigError


def test_a_reader_that_goes_away_ends_a_long_demo_at_once() -> None:
    # `wearsdk demo --jsonl | head -1` on a demo of 10 real minutes
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "wearsdk", "demo", "--duration", "600", "--jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = json.loads(proc.stdout.readline())
        proc.stdout.close()
        code = proc.wait(timeout=120)
        stderr = proc.stderr.read().decode()
    assert "topic" in first
    assert code == 141, stderr
    assert "Traceback" not in stderr
    # the session ended with its next line, not with the demo: far less than 600 s
    assert time.monotonic() - started < 120


def test_the_demo_is_a_session_config_like_a_session_file() -> None:
    config = DemoConfig(duration_s=120, speed=5, seed=3, strap="polar-h10").session_config(
        sinks=[{"kind": "mqtt", "url": "mqtt://127.0.0.1:1883", "inbound": True}]
    )
    assert isinstance(config, SessionConfig)
    assert config.session.transport == "virtual"
    assert [d.driver for d in config.devices] == ["polar-h10", "bitalino"]
    assert config.devices[0].options == {"acc_rate_hz": 50}
    assert config.simulation.markers
    assert config.simulation.analyzers
    assert config.simulation.settle_s == 4.0
    assert config.pipeline.stress_min_dwell_s == config.pipeline.window_s == 20.0
    (mqtt,) = config.sinks
    assert isinstance(mqtt, MqttSink)
    assert mqtt.session == "demo"
    # the same model a session file loads: it round-trips through its own validation
    assert SessionConfig.model_validate(config.model_dump()) == config


def test_command_arguments_are_validated_like_a_session_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stream: sinks\[0\]\.url"):
        session_config(
            {"devices": [], "sources": [{"kind": "lsl", "query": "type=ECG"}],
             "sinks": [{"kind": "mqtt", "url": "http://broker"}]},
            what="stream",
        )  # fmt: skip
    with pytest.raises(ConfigError, match="at least one device"):
        session_config({"devices": []})
    with pytest.raises(ConfigError, match="a replay is the session's only source"):
        session_config(
            {"devices": [], "sources": [
                {"kind": "xdf", "path": str(tmp_path / "a.xdf")},
                {"kind": "lsl", "query": "type=ECG"},
            ]}
        )  # fmt: skip
