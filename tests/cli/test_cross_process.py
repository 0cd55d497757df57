"""Across processes, as a lab would wire it: bumble's controllers app, a twin, scan and stream.

Each piece runs as its own process over bumble's TCP HCI transports: one virtual controller
serves the twin (`wearsdk twin`), the other the central (`wearsdk scan` / `wearsdk stream`).
"""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples" / "profiles" / "acme_eda_band.toml"


@pytest.fixture
def radio(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Controllers app plus a twin (heart-rate, or the parametrised kind and options); yields
    (central spec, twin name)."""
    kind, options = getattr(request, "param", ("heart-rate", ()))
    p1, p2 = free_port(), free_port()
    log = (tmp_path / "procs.log").open("wb")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bumble.apps.controllers",
                f"tcp-server:127.0.0.1:{p1}",
                f"tcp-server:127.0.0.1:{p2}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        wait_listening(p1)
        wait_listening(p2)
        name = "remote HR twin" if kind == "heart-rate" else f"remote {kind} twin"
        twin = [sys.executable, "-m", "wearsdk", "twin", kind, "--name", name, *options]
        twin += ["--transport", f"bumble:tcp-client:127.0.0.1:{p2}", "--duration", "60"]
        served = subprocess.Popen(twin, stdout=subprocess.PIPE, stderr=log)
        procs.append(served)
        assert served.stdout is not None
        # it says so once it advertises (instead of a second's sleep to let it)
        line = served.stdout.readline().decode()
        assert line.startswith(f"serving {kind} twin"), line
        yield f"bumble:tcp-client:127.0.0.1:{p1}", name
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        log.close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_scan_then_stream_a_twin_in_another_process(radio: tuple[str, str]) -> None:
    transport, name = radio
    scan = run_cli("scan", "--transport", transport, "--timeout", "2", "--jsonl")
    assert scan.returncode == 0, scan.stderr
    devices = [json.loads(line) for line in scan.stdout.splitlines()]
    # compact, like the events (issue 26 item 12: scan --jsonl printed spaced JSON)
    assert scan.stdout.splitlines() == [json.dumps(d, separators=(",", ":")) for d in devices]
    (twin,) = [d for d in devices if d["name"] == name]
    assert "0000180d-0000-1000-8000-00805f9b34fb" in twin["services"]

    stream = run_cli(
        *("stream", "--transport", transport, "--device", twin["address"]),
        *("--duration", "4", "--jsonl"),
    )
    assert stream.returncode == 0, stream.stderr
    lines = [json.loads(line) for line in stream.stdout.splitlines()]
    states = [x["state"] for x in lines if x["type"] == "device_status"]
    assert states[:2] == ["connecting", "connected"]
    hr = [x for x in lines if x["type"] == "heart_rate"]
    assert len(hr) >= 2
    assert all(50 <= x["hr_bpm"] <= 130 and x["contact"] is True for x in hr)
    # no raw address leaves the process in the event stream: sources are pseudonyms
    assert twin["address"] not in stream.stdout
    assert twin["address"].lower() not in stream.stdout

    # the human view of the same stream: the live table (forced: stdout is a pipe here)
    live = run_cli(
        *("stream", "--transport", transport, "--device", twin["address"]),
        *("--duration", "4", "--live"),
    )
    assert live.returncode == 0, live.stderr
    (row,) = [r for r in live.stdout.splitlines() if r.startswith("hr-")]
    assert "connected" in row or "closed" in row
    assert twin["address"] not in live.stdout


def test_stream_unknown_driver_and_missing_device_fail_cleanly(radio: tuple[str, str]) -> None:
    transport, _ = radio
    bad = run_cli("stream", "--transport", transport, "--device", "x", "--driver", "nope")
    assert bad.returncode == 1
    assert "unknown driver 'nope'" in bad.stderr
    wrong = run_cli("scan", "--transport", "carrier-pigeon")
    assert wrong.returncode == 1
    assert "unknown BLE transport" in wrong.stderr


@pytest.mark.slow
def test_a_device_never_reached_says_why_within_its_timeout(radio: tuple[str, str]) -> None:
    transport, name = radio
    # the wrong driver for the device (polar-h10 for a plain heart-rate strap): what it lacks
    # and what to use, at once (retrying cannot add the service; it retried until the
    # timeout with bleak's bare "Characteristic fb005c81-... was not found!")
    wrong = run_cli(
        *("stream", "--transport", transport, "--device", name, "--driver", "polar-h10"),
        *("--connect-timeout", "20", "--jsonl"),
    )
    assert wrong.returncode == 1
    (error,) = wrong.stderr.strip().splitlines()
    assert error.startswith("wearsdk: error: the device has no Polar PMD"), error
    assert "--driver heart-rate" in error
    statuses = [json.loads(x) for x in wrong.stdout.splitlines()]
    assert not [s for s in statuses if s["state"] == "reconnecting"]
    assert not any(name in json.dumps(s) for s in statuses)  # a status may leave the process
    # nothing by that name: the scan's timeout is the reason
    missing = run_cli(
        *("stream", "--transport", transport, "--device", "Nope"),
        *("--option", "connect_timeout_s=1", "--connect-timeout", "4", "--no-live"),
    )
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    error = missing.stderr.strip().splitlines()[-1]
    assert error.startswith("wearsdk: error: heart-rate device 'Nope' not connected within 4 s")
    assert "no device matching <device> within 1 s" in error


ACME_TWIN = ("gatt-profile", ("--option", f"profile={ACME}"))


@pytest.mark.parametrize("radio", [ACME_TWIN], indirect=True)
@pytest.mark.slow
def test_driver_options_on_the_command_line(radio: tuple[str, str]) -> None:
    """A board described by a profile file: the twin serves it and stream reads it, both given
    the profile with --option (no session file needed)."""
    transport, name = radio
    stream = run_cli(
        *("stream", "--transport", transport, "--device", name, "--driver", "gatt-profile"),
        *("--option", f"profile={ACME}", "--duration", "4", "--jsonl"),
    )
    assert stream.returncode == 0, stream.stderr
    lines = [json.loads(line) for line in stream.stdout.splitlines()]
    eda = [x for x in lines if x["type"] == "samples" and x["stream"] == "eda"]
    assert eda
    # the profile's format: 8 Hz, 4 readings per notification, in microsiemens
    assert all(x["unit"] == "uS" and x["nominal_rate_hz"] == 8.0 for x in eda)
    assert all(len(x["t"]) == 4 for x in eda)
    assert all(0.05 < v[0] < 60 for x in eda for v in x["values"])

    # an option the driver does not take: a clear error that lists the ones it does
    bad = run_cli(
        *("stream", "--transport", transport, "--device", name, "--driver", "gatt-profile"),
        *("--option", "colour=blue", "--duration", "2"),
    )
    assert bad.returncode == 1
    assert "driver gatt-profile" in bad.stderr
    assert "options it takes:" in bad.stderr
    taken = bad.stderr.split("options it takes:")[1].strip().split(", ")
    assert "profile" in taken
    assert "transport" not in taken  # given positionally, not an option
    malformed = run_cli("stream", "--device", name, "--option", "no-equals-sign")
    assert malformed.returncode == 2
    assert "expected KEY=VALUE" in malformed.stderr
