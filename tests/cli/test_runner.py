"""One runner for every session command: output inside the session, ends when it should."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.cli.test_first_hour import first_line_then_close
from wearsdk import Annotation, HeartRate, SessionClock
from wearsdk._config import MqttSink, SessionConfig, session_config
from wearsdk._demo import DemoConfig
from wearsdk._errors import ConfigError, DeviceNotFoundError
from wearsdk._run import run_session
from wearsdk.bus import Message
from wearsdk.io.ble import BleTransport


def test_a_reader_that_goes_away_ends_a_long_demo_at_once() -> None:
    # `wearsdk demo --jsonl | head -1` on a demo of 10 real minutes
    started = time.monotonic()
    first, code, stderr = first_line_then_close("demo", "--duration", "600", "--jsonl")
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


@pytest.mark.looptime
async def test_the_demo_script_starts_when_a_slow_strap_first_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a slow radio or a busy laptop: the strap is first seen 20 s into the session, past the
    # whole calm phase of a 30 s script (virtual time: the scan's wait is exact)
    delay_s = 20.0
    find_device = BleTransport.find_device

    async def slow_find(self: BleTransport, **kwargs: Any) -> Any:
        await asyncio.sleep(delay_s)
        return await find_device(self, **kwargs)

    monkeypatch.setattr(BleTransport, "find_device", slow_find)
    first_data: list[float] = []
    markers: dict[str, tuple[float, float]] = {}
    heart: list[HeartRate] = []

    def emit(message: Message, clock: SessionClock) -> None:
        if message.topic.startswith("physio/") and not first_data:
            first_data.append(clock.now())
        if isinstance(message.payload, Annotation) and message.payload.modality == "marker":
            assert message.payload.label is not None
            assert message.payload.end is not None
            markers[message.payload.label] = (message.payload.start, message.payload.end)
        if isinstance(message.payload, HeartRate):
            heart.append(message.payload)

    config = DemoConfig(duration_s=30, contact_loss=False).session_config()
    result = await run_session(config, emit)
    assert result.start is not None
    assert result.script_start is not None
    # the script started at the strap's first data, not at the session's start
    assert result.script_start >= result.start + delay_s
    assert first_data[0] <= result.script_start < first_data[0] + 0.5
    assert list(markers) == ["calm", "stress", "recovery"]
    assert markers["calm"][0] == result.script_start
    # and the simulated wearer follows it: calm, then stressed, in the phases the markers say

    def mean_hr(start: float, end: float) -> float:
        values = [h.hr_bpm for h in heart if start <= h.t <= end]
        assert len(values) >= 5, (start, end)
        return float(np.mean(values))

    calm, stress = markers["calm"], markers["stress"]
    assert mean_hr(calm[0] + 1.0, calm[1] - 2.0) < 75.0  # 62 + 38 x 0.15 bpm
    assert mean_hr(stress[0] + 2.0, stress[1] - 1.0) > 85.0  # 62 + 38 x 0.85 bpm


@pytest.mark.looptime
async def test_a_virtual_device_that_never_streams_ends_the_session_with_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the strap is first seen after the session's connect timeout: the script never starts,
    # and the session says which device sent nothing (as a live session does)
    find_device = BleTransport.find_device

    async def never_in_time(self: BleTransport, **kwargs: Any) -> Any:
        await asyncio.sleep(45.0)
        return await find_device(self, **kwargs)

    monkeypatch.setattr(BleTransport, "find_device", never_in_time)
    config = DemoConfig(duration_s=30).session_config()
    assert config.session.connect_timeout_s == 30.0
    started = asyncio.get_running_loop().time()
    with pytest.raises(
        DeviceNotFoundError, match="heart-rate device 'wearsdk HR strap' sent no data within 30 s"
    ):
        await run_session(config)
    assert asyncio.get_running_loop().time() - started == pytest.approx(30.0, abs=1.0)
