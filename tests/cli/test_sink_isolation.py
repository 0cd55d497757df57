"""A sink that fails (a full disk under the recording) is reported once and stopped; the live
output and the MQTT export go on to the end, and the command exits 1. A real full filesystem
(a tiny tmpfs, or ``/dev/full`` where mounting is not allowed) and a real mosquitto."""

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.sessions import consent_session_file
from tests.io.mosquitto import Mosquitto, listening
from wearsdk.io import WireMessage

pytestmark = pytest.mark.timeout(120)

SECONDS = 16  # session seconds, at speed 2


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """Where the recording goes: a 64 KiB tmpfs with 4 KiB left, else ``/dev/full``."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        yield Path("/dev/full")
        return
    try:
        (mount / "ballast").write_bytes(b"\0" * 60 * 1024)
        yield mount / "session.xdf"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
async def test_a_full_disk_stops_the_recording_only(tmp_path: Path, full_disk: Path) -> None:
    with Mosquitto(tmp_path) as broker:
        async with listening(broker.port, "s-disk") as listener:
            config = consent_session_file(
                tmp_path,
                broker.port,
                mqtt_session="s-disk",
                record=full_disk,
                seconds=SECONDS,
                speed=2,
            )
            began = time.time()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wearsdk", "run", "--config", str(config), "--jsonl",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 100)
            ended = time.time()
    stderr = err.decode()
    # reported once, by name and cause; no traceback
    assert proc.returncode == 1, stderr
    said = [x for x in stderr.splitlines() if "xdf" in x]
    assert len(said) == 1, stderr
    assert "No space left on device" in said[0]
    assert "Traceback" not in stderr
    # the live output went on to the end of the session
    lines = [json.loads(x) for x in out.decode().splitlines()]
    estimates = [x for x in lines if x["type"] == "estimate"]
    assert estimates
    t0 = min(x["t"] for x in lines if isinstance(x.get("t"), float))
    assert max(x["t"] for x in estimates) - t0 > SECONDS - 3
    # and so did the MQTT export: its estimates reach the end of the session too (on the
    # session clock: the real time a loaded machine takes to shut the command down after its
    # last message is not what is checked; 3.08 s of it failed a "< 3 s" once)
    exported = [WireMessage.model_validate_json(payload).event for _, payload in listener.got]
    exported_t = [e.t for e in exported if e.type == "estimate"]
    assert exported_t, (ended - began, len(exported))
    assert max(exported_t) > max(x["t"] for x in estimates) - 3
    assert any(b"estimate" in payload or b"arousal" in payload for _, payload in listener.got)
