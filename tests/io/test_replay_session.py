"""A replay in a session: ``estimates()`` ends with the recording (the docs/lsl.md pattern)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.io.lsl_helpers import FAST
from tests.io.test_xdf import record
from wearsdk import Estimate, Session
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
