"""A replay in a session: ``estimates()`` ends with the recording (the docs/lsl.md pattern)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from tests.io.lsl_helpers import FAST
from tests.io.test_xdf import record
from wearsdk import ConfigError, Estimate, PipelineConfig, Session
from wearsdk._config import PipelineSection
from wearsdk._run._parts import _pipeline as _run_pipeline
from wearsdk.io.lsl import ChannelSpec, StreamSpec, XdfFormatError, XdfWriter, recorded_pipeline
from wearsdk.io.sources import XdfReplay


async def test_iterating_a_replays_estimates_ends_with_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "session.xdf"
    _, live = await record(path, 90.0)
    assert len(live) >= 5
    replay = XdfReplay(path, speed=None)
    got: list[Estimate] = []
    async with Session(pipeline=FAST, clock=replay.clock()) as session:
        session.add(replay)
        async with asyncio.timeout(60):  # before: waited here for ever after the last one
            async for estimate in session.estimates(maxsize=4096, policy="block"):
                got.append(estimate)
    # every estimate of the recording, the last windows included, and nothing else
    assert [e.model_dump() for e in got] == [e.model_dump() for e in live]


def _replay_command(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", "replay", str(path), "--speed", "max", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_replays_with_the_recorded_pipeline_settings(tmp_path: Path) -> None:
    # issue 26: the settings were not in the file, so the command (window 60 s) gave nothing
    # for a recording made with shorter windows
    path = tmp_path / "session.xdf"
    _, live = await record(path, 90.0)
    assert len(live) >= 5
    assert recorded_pipeline(path) == FAST.settings()
    run = await asyncio.to_thread(_replay_command, path, "--jsonl", "--topics", "affect/estimate")
    assert run.returncode == 0, run.stderr
    assert f"window_s={FAST.window_s}" in run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(x["t"], x["arousal"]) for x in lines] == [(e.t, e.arousal) for e in live]
    # the settings can be overridden: the default 60 s window is longer than this recording
    run = await asyncio.to_thread(
        _replay_command, path, "--jsonl", "--topics", "affect/#", "--pipeline", "window_s=120"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert "no estimates: the replayed recording (" in run.stderr
    assert "shorter than the pipeline's window (120 s)" in run.stderr


async def test_the_eda_settings_are_kept_with_the_recording_and_replayed(tmp_path: Path) -> None:
    # a session file's [pipeline] eda_* keys configure the EDA processor; the recording keeps
    # them, so that its replay reproduces what the session estimated
    pipeline = _run_pipeline(PipelineSection(**FAST.settings(), eda_lowpass_hz=0.5))
    assert pipeline.eda_options == {"lowpass_hz": 0.5}
    path = tmp_path / "session.xdf"
    _, live = await record(path, 90.0, pipeline)
    assert recorded_pipeline(path) == {**FAST.settings(), "eda_lowpass_hz": 0.5}
    run = await asyncio.to_thread(_replay_command, path, "--jsonl", "--topics", "affect/estimate")
    assert run.returncode == 0, run.stderr
    assert "eda_lowpass_hz=0.5" in run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(lines) >= 5
    assert [(x["t"], x["arousal"]) for x in lines] == [(e.t, e.arousal) for e in live]
    # and without them the replay differs: the setting is what made the estimates
    run = await asyncio.to_thread(
        _replay_command, path, "--jsonl", "--topics", "affect/estimate",
        "--pipeline", "eda_lowpass_hz=3.0",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    other = [json.loads(line) for line in run.stdout.splitlines()]
    assert [x["arousal"] for x in other] != [x["arousal"] for x in lines]
    run = await asyncio.to_thread(_replay_command, path, "--pipeline", "eda_nonsense=1")
    assert run.returncode == 1, run.stderr
    assert "--pipeline eda_nonsense: not a pipeline setting (one of" in run.stderr
    assert "eda_lowpass_hz" in run.stderr.splitlines()[-1]


def test_an_invalid_eda_setting_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match=r"eda_options: .*unexpected keyword"):
        PipelineConfig(eda_options={"lowpass": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="range_usiemens"):
        PipelineConfig(eda_options={"range_usiemens": (5.0, 1.0)})
    with pytest.raises(pydantic.ValidationError, match="eda_flat_s"):
        PipelineSection(eda_flat_s=-1.0)


def test_a_recording_without_settings_keeps_the_defaults_and_garbage_is_named(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "garbage.xdf"
    garbage.write_bytes(b"XDF:\x01\x07\x01\x00<info")  # a header chunk cut short
    with pytest.raises(XdfFormatError, match=r"garbage\.xdf"):
        recorded_pipeline(garbage)
    run = _replay_command(garbage)
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith("wearsdk: error: ")
    assert "garbage.xdf" in line
    (tmp_path / "noise.xdf").write_bytes(bytes(range(256)) * 4)
    run = _replay_command(tmp_path / "noise.xdf")
    assert run.returncode == 1
    assert "noise.xdf' is not an XDF file" in run.stderr
    with XdfWriter(tmp_path / "other.xdf") as writer:  # another writer's file: no settings
        writer.add_stream(
            StreamSpec("eda", "EDA", "EDA", (ChannelSpec("EDA", "uS", "EDA"),), 4.0, "float32"),
            created_at=0.0,
        )
    assert recorded_pipeline(tmp_path / "other.xdf") is None


async def test_the_command_warns_of_a_truncated_recording(tmp_path: Path) -> None:
    path = tmp_path / "session.xdf"
    await record(path, 40.0)
    data = path.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: len(data) - 1000])  # killed mid-write: its last chunk is partial
    run = await asyncio.to_thread(_replay_command, cut, "--jsonl")
    assert run.returncode == 0, run.stderr
    assert "replay: the file ends inside a chunk (an interrupted recording?)" in run.stderr
    assert run.stdout  # what is there is replayed


def test_the_sources_are_registered_and_the_old_import_paths_still_work() -> None:
    import importlib.metadata

    from wearsdk.drivers import e4, lsl
    from wearsdk.io import sources

    assert lsl.XdfReplay is sources.XdfReplay
    assert lsl.LslInlet is sources.LslInlet
    assert e4.E4Replay is sources.E4Replay
    assert issubclass(sources.XdfReplay, sources.ReplaySource)
    assert issubclass(sources.E4Replay, sources.ReplaySource)
    registered = {
        ep.name: ep.load() for ep in importlib.metadata.entry_points(group="wearsdk.sources")
    }
    assert registered == {"xdf": sources.XdfReplay, "e4": sources.E4Replay, "lsl": sources.LslInlet}
