"""`wearsdk doctor` here: no Bluetooth adapter, LSL present, a broker absent or present."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.io.mosquitto import Mosquitto, free_port
from wearsdk._doctor import _ble_check, _data_check, broker_check

pytestmark = pytest.mark.timeout(60)


def run_doctor(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    if env_home is not None:
        env["WEARSDK_HOME"] = str(env_home)
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
    )


def checks_of(stdout: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in map(json.loads, stdout.splitlines())}


def test_broker_absent_fails_with_what_to_do(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = run_doctor("--mqtt", f"127.0.0.1:{port}", env_home=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"[FAIL] mqtt-broker  cannot reach mqtt://127.0.0.1:{port}" in result.stdout
    assert f"nothing listens on 127.0.0.1:{port}" in result.stdout
    assert "mosquitto -p" in result.stdout
    assert "1 problem(s)" in result.stdout


def test_broker_present_passes(tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker:
        result = run_doctor("--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--jsonl")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = checks_of(result.stdout)
    assert checks["mqtt-broker"]["status"] == "ok"
    assert "accepted an MQTT connection" in checks["mqtt-broker"]["summary"]
    # LSL is installed in the dev environment: the doctor finds the library and its clock
    assert checks["lsl"]["status"] == "ok"
    assert "liblsl" in checks["lsl"]["summary"]
    assert not any(c["status"] == "fail" for c in checks.values())


async def test_a_port_that_is_not_mqtt_times_out(tmp_path: Path) -> None:
    import asyncio

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # accept, never answer CONNECT
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        check = await broker_check(f"127.0.0.1:{port}", timeout_s=0.5)
    assert check.status == "fail"
    assert "no answer" in check.summary
    assert check.fix is not None


async def test_a_bad_broker_address_is_a_failed_check() -> None:
    check = await broker_check("127.0.0.1:notaport")
    assert check.status == "fail"
    assert "cannot read" in check.summary


def test_no_adapter_points_to_virtual_devices(tmp_path: Path) -> None:
    empty = tmp_path / "bluetooth"
    empty.mkdir()
    check = _ble_check(empty)
    assert check.status == "warn"
    assert "no Bluetooth adapter" in check.summary
    assert check.fix is not None
    assert "wearsdk demo" in check.fix
    assert "bumble:usb:0" in check.fix


def test_an_unwritable_data_dir_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    check = _data_check(blocker / "sessions")
    assert check.status == "fail"
    assert "WEARSDK_HOME" in (check.fix or "")
    assert _data_check(tmp_path / "new" / "sessions").status == "ok"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_this_machine_without_a_broker(tmp_path: Path) -> None:
    result = run_doctor(env_home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[skip] mqtt-broker" in result.stdout
    if not Path("/sys/class/bluetooth").is_dir() or not any(
        Path("/sys/class/bluetooth").glob("hci*")
    ):
        assert "[warn] ble" in result.stdout
        assert "virtual" in result.stdout
