"""E4 replays on their own clock: every event on the recording's time line, an end signal,
and a plain ``Session()`` that does not put the recording years in the past."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from wearsdk import DeviceStatus, Message, ReplayClock, SampleBlock, Session, SessionClock
from wearsdk.io.e4 import load_e4_session
from wearsdk.io.sources import E4Replay

pytestmark = [pytest.mark.data, pytest.mark.timeout(120)]


async def run(source: E4Replay, clock: SessionClock | None) -> list[Message]:
    got: list[Message] = []
    session = Session(clock=clock, pipeline=None) if clock else Session(pipeline=None)
    async with session:
        sub = session.bus.subscribe("#", maxsize=1 << 14, policy="block")
        session.add(source)
        async for message in sub:
            got.append(message)
            p = message.payload
            if isinstance(p, DeviceStatus) and p.state == "closed":
                break
        await source.wait_finished()
    return got


async def test_at_full_speed_status_events_are_on_the_recordings_time_line(
    data_dir: Path,
) -> None:
    source = E4Replay(load_e4_session(data_dir / "e4_session"), speed=None, duration_s=300.0)
    clock = source.clock()
    assert isinstance(clock, ReplayClock)
    wall = time.monotonic()
    got = await run(source, clock)
    took = time.monotonic() - wall
    blocks = [m.payload for m in got if isinstance(m.payload, SampleBlock)]
    statuses = [m.payload for m in got if isinstance(m.payload, DeviceStatus)]
    first = min(float(b.t[0]) for b in blocks)
    last = max(float(b.t[-1]) for b in blocks)
    assert source.finished
    assert [s.state for s in statuses] == ["connected", "closed"]
    assert statuses[0].t == pytest.approx(first, abs=1.0)  # the first sample: within its chunk
    assert statuses[1].t == pytest.approx(last)
    assert last - first > 250.0 > 10 * took  # 5 minutes of data, stamped in far less real time
    assert clock.to_unix(first) == pytest.approx(source.start_unix, abs=1.0)


async def test_a_plain_session_starts_the_recording_at_its_now(data_dir: Path) -> None:
    source = E4Replay(load_e4_session(data_dir / "e4_session"), speed=None, duration_s=30.0)
    before = SessionClock().now()
    got = await run(source, None)
    t = np.concatenate([m.payload.t for m in got if isinstance(m.payload, SampleBlock)])
    assert t.min() >= before - 1.0  # not ~-2e8 s (the recording's unix time, years ago)
    assert t.max() - t.min() == pytest.approx(30.0, abs=1.0)


def test_the_command_at_full_speed_stamps_status_on_the_recordings_time_line(
    data_dir: Path,
) -> None:
    import json
    import subprocess
    import sys

    command = ["replay", str(data_dir / "e4_session"), "--source", "e4", "--speed", "max"]
    run_ = subprocess.run(
        [sys.executable, "-m", "wearsdk", *command, "--duration", "120", "--jsonl"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run_.returncode == 0, run_.stderr
    lines = [json.loads(x) for x in run_.stdout.splitlines()]
    last_data = max(x["t"][-1] for x in lines if x["type"] == "samples")
    first_data = min(x["t"][0] for x in lines if x["type"] == "samples")
    status = [x for x in lines if x["type"] == "device_status"]
    assert [x["state"] for x in status][-1] == "closed"
    # on the replay's clock, not a 1x wall clock: 'closed' comes with the last data
    assert abs(status[-1]["t"] - last_data) < 5.0
    assert last_data - first_data > 100.0
