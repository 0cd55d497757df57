"""What a new user meets in the first hour: files never overwritten, every failure said once
and plainly, commands that end when they should (issue "The first hour without surprises")."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wearsdk import Consent
from wearsdk.cli import build_parser

pytestmark = pytest.mark.timeout(120)

NO_DBUS = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/wearsdk-test-bus"}
"""A machine without BlueZ: bleak finds no D-Bus system bus (what `scan` meets there)."""


def wearsdk(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@contextlib.contextmanager
def running(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    """A process that is killed when the block is left, also when the test fails or times out
    (a command that never ends must not hang the test run)."""
    # Ctrl-C as in a terminal: a test run started in the background (`nohup`, `&` in a
    # script) ignores SIGINT, and an ignored signal is inherited, so the command would never
    # see the Ctrl-C the tests send it
    inherited = signal.getsignal(signal.SIGINT)
    if inherited is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc: subprocess.Popen[str] = subprocess.Popen(args, text=True, **kwargs)
    finally:
        if inherited is signal.SIG_IGN:
            signal.signal(signal.SIGINT, inherited)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def lines_until(
    proc: subprocess.Popen[str], done: Callable[[str], bool], timeout_s: float = 60.0
) -> list[str]:
    """The lines ``proc`` prints up to the first that ``done`` accepts (the event a test waits
    for); the test fails with the process's stderr, not a hang, if the process ends first or
    the line does not come within ``timeout_s`` (the process is then killed)."""
    assert proc.stdout is not None
    got: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            got.append(line)
            if done(line):
                seen.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not seen.is_set():
        why = "the process ended" if not reader.is_alive() else f"{timeout_s:g} s passed"
        proc.kill()
        reader.join(10)
        said = proc.stderr.read()[-2000:] if proc.stderr is not None else ""
        pytest.fail(f"{why} without the line ({len(got)} lines before); stderr: {said}")
    return got


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def consent_file(tmp_path: Path) -> Path:
    path = tmp_path / "consent.json"
    path.write_text(Consent.simulated_participant().model_dump_json())
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


VIRTUAL_SESSION = """
[session]
name = "virtual"
transport = "virtual"
duration_s = {duration}
speed = {speed}
report = "out/report.png"

[pipeline]
window_s = 5
baseline_s = 6

[[devices]]
driver = "heart-rate"
name = "Strap"

[[sinks]]
kind = "jsonl"
path = "out/events.jsonl"
"""


def test_record_never_overwrites_a_recording_or_the_consent_record(
    tmp_path: Path,
) -> None:
    consent = consent_file(tmp_path)
    keep = tmp_path / "keep.xdf"
    keep.write_bytes(b"an earlier recording")
    kept = consent.read_bytes()
    # record --out onto a recording, or onto the consent record itself: refused, untouched
    for target in (keep, consent):
        done = wearsdk(
            "record", "--lsl-in", "type=Nothing", "--out", target, "--consent", consent,
            "--duration", "1",
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "exists" in done.stderr
        assert "--overwrite" in done.stderr
    assert keep.read_bytes() == b"an earlier recording"
    assert consent.read_bytes() == kept


@pytest.mark.slow
def test_a_demo_and_its_report_are_owner_only_and_never_replaced_unasked(tmp_path: Path) -> None:
    # a demo with --out DIR writes DIR/events.jsonl and the report, owner-only
    out = tmp_path / "demo"
    first = wearsdk("demo", "--duration", "15", "--speed", "30", "--out", out)
    assert first.returncode == 0, first.stderr
    log, png, html = out / "events.jsonl", out / "report.png", out / "report.html"
    for path in (log, png, html):
        assert mode(path) == 0o600, path
    before = {p: p.read_bytes() for p in (log, png, html)}
    # the same command again: refused before it starts, nothing replaced
    again = wearsdk("demo", "--duration", "15", "--speed", "30", "--out", out)
    assert again.returncode == 1
    assert again.stderr.startswith("wearsdk: error: ")
    assert str(log) in again.stderr
    assert {p: p.read_bytes() for p in before} == before
    # report onto an existing figure: refused; with --overwrite: replaced, still owner-only
    refused = wearsdk("report", log)
    assert refused.returncode == 1
    assert "--overwrite" in refused.stderr
    assert png.read_bytes() == before[png]
    redrawn = wearsdk("report", log, "--overwrite", "--title", "again")
    assert redrawn.returncode == 0, redrawn.stderr
    assert png.read_bytes() != before[png]
    assert mode(png) == mode(html) == 0o600


@pytest.mark.slow
def test_a_session_file_whose_jsonl_sink_exists_is_refused(tmp_path: Path) -> None:
    # a session file whose jsonl sink exists: refused before anything connects
    session = tmp_path / "session.toml"
    session.write_text(VIRTUAL_SESSION.format(duration=12, speed=24))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "events.jsonl").write_text("precious\n")
    ran = wearsdk("run", "--config", session)
    assert ran.returncode == 1
    assert "events.jsonl exists" in ran.stderr
    assert (tmp_path / "out" / "events.jsonl").read_text() == "precious\n"
    ran = wearsdk("run", "--config", session, "--overwrite", "--no-live")
    assert ran.returncode == 0, ran.stderr
    assert mode(tmp_path / "out" / "events.jsonl") == 0o600
    assert mode(tmp_path / "out" / "report.png") == 0o600


def mistakes(tmp_path: Path) -> list[tuple[list[str | Path], str, dict[str, str]]]:
    """(arguments, what the one line must name, environment) for each user mistake."""
    consent = consent_file(tmp_path)
    bad_consent = tmp_path / "bad-consent.json"
    bad_consent.write_text('{"participant": "p 1", "purposes": []}')
    bad_transport = tmp_path / "bad-transport.toml"
    bad_transport.write_text('[session]\ntransport = "bumble:nonsense"\n\n'
                             '[[devices]]\ndriver = "heart-rate"\nname = "Strap"\n')  # fmt: skip
    bad_record = tmp_path / "bad-record.toml"
    bad_record.write_text(
        f'[session]\ntransport = "bumble:nonsense"\nrecord = "/etc/passwd/x.xdf"\n'
        f'consent = "{consent}"\n\n[[devices]]\ndriver = "heart-rate"\nname = "Strap"\n'
    )
    port = closed_port()
    # fmt: off
    return [
        (["replay", tmp_path / "nonexistent.xdf"], "nonexistent.xdf", {}),
        (["scan", "--timeout", "1"], "D-Bus", NO_DBUS),
        (["scan", "--transport", f"bumble:tcp-client:127.0.0.1:{port}"], str(port), {}),
        (["scan", "--transport", "bumble:nonsense"], "bumble:nonsense", {}),
        (["scan", "--transport", "nonsense"], "'nonsense'", {}),
        (["stream", "--device", "X", "--transport", "bumble:nonsense"], "bumble:nonsense", {}),
        (["stream", "--device", "Nope", "--connect-timeout", "2"], "'Nope'", NO_DBUS),
        (["stream", "--lsl-in", "foo=bar"], "unknown field 'foo'", {}),
        (["stream", "--lsl-in", "type=NoSuchStream-first", "--connect-timeout", "2"],
         "no stream matches it", {}),
        (["run", "--config", bad_transport], "bumble:nonsense", {}),
        (["run", "--config", bad_record], "/etc/passwd", {}),
        (["run", "--config", tmp_path / "missing.toml"], "missing.toml", {}),
        (["record", "--out", "/etc/passwd/x.xdf", "--device", "X", "--consent", consent],
         "/etc/passwd", {}),
        (["record", "--out", tmp_path / "r.xdf", "--device", "X", "--consent", bad_consent],
         "bad-consent.json", {}),
        (["demo", "--out", "/etc/passwd"], "/etc/passwd", {}),
        (["replay", tmp_path / "nonexistent.xdf", "--out", "/etc/passwd"], "nonexistent", {}),
        (["report", "-o", "/etc/passwd/x.png", tmp_path / "events.jsonl"], "/etc/passwd", {}),
        (["report", tmp_path / "missing.jsonl"], "missing.jsonl", {}),
        (["twin", "heart-rate", "--transport", f"bumble:tcp-client:127.0.0.1:{port}"],
         str(port), {}),
        (["twin", "nope", "--transport", "bumble:tcp-client:127.0.0.1:1"], "nope", {}),
        # a port number bumble cannot connect to (an OverflowError traceback before)
        (["scan", "--transport", "bumble:tcp-client:127.0.0.1:99999"], "99999", {}),
        (["twin", "heart-rate", "--transport", "bumble:tcp-client:127.0.0.1:99999"], "99999",
         {}),
        # no connect timeout (0: keep trying), but the session ended without the device
        (["stream", "--device", "Nope", "--connect-timeout", "0", "--duration", "3"],
         "the session ended before every device connected", NO_DBUS),
        # an MQTT export whose broker is never reached: said, and the command fails
        (["demo", "--duration", "15", "--speed", "30", "--no-report", "--mqtt",
          f"mqtt://127.0.0.1:{port}"], f"never reached its broker (cannot reach "
         f"mqtt://127.0.0.1:{port}", {}),
    ]
    # fmt: on


MISTAKE_IDS = [
    "replay-missing", "scan-no-dbus", "scan-closed-port", "scan-bad-bumble", "scan-bad-transport",
    "stream-bad-bumble", "stream-no-device", "stream-bad-lsl-field", "stream-no-lsl-stream",
    "run-bad-transport", "run-bad-record", "run-missing-config", "record-bad-out",
    "record-bad-consent", "demo-bad-out", "replay-bad-out", "report-bad-out", "report-missing",
    "twin-closed-port", "twin-unknown", "scan-port-out-of-range", "twin-port-out-of-range",
    "stream-never-connected", "demo-mqtt-unreached",
]  # fmt: skip
"""One id per entry of :func:`mistakes`, in its order (each runs as its own test)."""


@pytest.mark.parametrize("case", range(len(MISTAKE_IDS)), ids=MISTAKE_IDS)
def test_every_command_says_a_mistake_in_one_line_with_the_listed_exit_code(
    tmp_path: Path, case: int
) -> None:
    args, names, env = mistakes(tmp_path)[case]
    assert str(args[0]) == MISTAKE_IDS[case].split("-")[0]
    done = wearsdk(*args, env=env, cwd=tmp_path)
    said = done.stderr.strip().splitlines()
    assert done.returncode == 1, (args, done.stderr)
    assert "Traceback" not in done.stderr, args
    assert said, args
    assert said[-1].startswith("wearsdk: error: "), (args, done.stderr)
    # one line, naming the thing (no pydantic dump, no URL to its docs)
    assert [x for x in said if x.startswith("wearsdk")] == [said[-1]], (args, said)
    assert names in said[-1], (args, said[-1])
    assert "errors.pydantic.dev" not in done.stderr


USAGE_MISTAKES = [
    ["demo", "--seed", "-1"],
    ["demo", "--duration", "inf"],
    ["twin", "heart-rate", "--transport", "bumble:tcp-client:127.0.0.1:1", "--seed", "-1"],
    ["stream", "--device", "X", "--connect-timeout", "-1"],
    ["stream", "--device", "X", "--face-span", "nan"],
    ["replay", "x.xdf", "--speed", "0"],
    ["scan", "--timeout", "inf"],
    ["doctor", "--timeout", "0"],
]
"""Numbers no command can use: argparse's usage error naming the argument (a ValueError or
pydantic traceback from the simulator or the session model before)."""


@pytest.mark.parametrize("args", USAGE_MISTAKES, ids=[" ".join(a) for a in USAGE_MISTAKES])
def test_a_number_no_command_can_use_is_a_usage_error(args: list[str]) -> None:
    done = wearsdk(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wearsdk {args[0]}: error: argument "), last
    assert args[-1] in last


def test_a_recording_replaced_with_overwrite_is_owner_only(tmp_path: Path) -> None:
    """--overwrite replaced the bytes of a recording but kept the old file's mode (0644)."""
    import pyxdf

    (tmp_path / "keep.xdf").write_bytes(b"an earlier recording")
    (tmp_path / "keep.xdf").chmod(0o644)
    session = tmp_path / "session.toml"
    session.write_text(
        '[session]\ntransport = "virtual"\nduration_s = 8\nspeed = 8\nrecord = "keep.xdf"\n\n'
        '[[devices]]\ndriver = "heart-rate"\nname = "Strap"\n'
    )
    done = wearsdk("run", "--config", session, "--overwrite", "--no-live")
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "keep.xdf") == 0o600
    streams, _ = pyxdf.load_xdf(str(tmp_path / "keep.xdf"))
    assert streams


def test_a_device_name_is_taken_out_of_a_reason_as_a_word_only() -> None:
    """A strap named "S" made the reason read "no Bluetooth through the O<device> stack"."""
    from wearsdk import DeviceNotFoundError
    from wearsdk.session._reconnect import public_reason

    assert public_reason(OSError("no Bluetooth through the OS stack"), "S") == (
        "no Bluetooth through the OS stack"
    )
    gone = DeviceNotFoundError("H10 a", "no device matching 'H10 a' within 10 s")
    assert public_reason(gone, "H10 a") == "no device matching <device> within 10 s"
    assert public_reason(OSError("H10 a went away (H10 ab)"), "H10 a") == (
        "<device> went away (H10 ab)"
    )


def test_a_usage_mistake_exits_2_and_a_failed_doctor_check_3() -> None:
    # a usage mistake is argparse's exit code 2; doctor's failed check is 3
    usage = wearsdk("schema", "--nonsense")
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr
    doctor = wearsdk("doctor", "--mqtt", f"127.0.0.1:{closed_port()}", "--timeout", "1")
    assert doctor.returncode == 3
    assert "Traceback" not in doctor.stderr


def test_every_command_of_the_help_is_driven_with_a_mistake(tmp_path: Path) -> None:
    cases = mistakes(tmp_path)
    assert len(cases) == len(MISTAKE_IDS)
    commands = {str(args[0]) for args, _, _ in cases} | {"schema", "doctor"}
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices or ()) == commands
    assert "exit codes: 0 success, 1 a wearsdk error" in parser.format_help()


def test_a_device_never_reached_says_why_and_exits_1(tmp_path: Path) -> None:
    done = wearsdk("stream", "--device", "Nope", "--connect-timeout", "3", "--jsonl", env=NO_DBUS)
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("wearsdk: error: heart-rate device 'Nope' not connected within 3 s")
    assert "D-Bus" in line
    statuses = [json.loads(x) for x in done.stdout.splitlines()]
    retries = [s for s in statuses if s["type"] == "device_status" and s["attempt"] > 1]
    assert retries
    # the reason travels in DeviceStatus.detail, without the device's name
    assert all("D-Bus" in s["detail"] for s in retries)
    assert not any("Nope" in s["detail"] for s in retries)


def test_a_device_never_reached_is_said_once_as_it_happens() -> None:
    # without -v: said once as it happens (not per attempt), and in the final error
    plain = wearsdk("stream", "--device", "Nope", "--connect-timeout", "3", "--no-live",
                    env=NO_DBUS)  # fmt: skip
    assert plain.returncode == 1
    warned, error = plain.stderr.strip().splitlines()
    assert warned.startswith("WARNING")
    assert "cannot connect (retrying): no Bluetooth" in warned
    assert "Nope" not in warned  # a log line carries no device name
    assert error.startswith("wearsdk: error: ")


def test_ctrl_c_still_draws_the_report_a_session_file_promises(tmp_path: Path) -> None:
    session = tmp_path / "session.toml"
    session.write_text(VIRTUAL_SESSION.format(duration=3600, speed=4))
    with running(
        [sys.executable, "-m", "wearsdk", "run", "--config", str(session), "--jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        # until the first estimate: something worth a report
        lines_until(proc, lambda line: json.loads(line)["type"] == "estimate")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        code = proc.returncode
    assert code == 130, stderr
    png = tmp_path / "out" / "report.png"
    assert png.stat().st_size > 10_000, stderr
    assert f"report: {png}" in stderr
    assert "Traceback" not in stderr


def test_small_ones(tmp_path: Path) -> None:
    parser = build_parser()
    # -v after the subcommand, as before it
    assert parser.parse_args(["demo", "-v"]).verbose == 1
    assert parser.parse_args(["-v", "demo"]).verbose == 1
    assert parser.parse_args(["demo"]).verbose == 0
    # doctor --jsonl is compact JSON, like the events
    doctor = wearsdk("doctor", "--jsonl")
    lines = doctor.stdout.splitlines()
    assert lines
    for line in lines:
        assert line == json.dumps(json.loads(line), separators=(",", ":"))
    # `wearsdk --version` does not load the signal processing (scipy: seconds on a cold start)
    version = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "wearsdk", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.startswith("wearsdk ")
    imported = {line.split("|")[-1].strip() for line in version.stderr.splitlines()}
    assert "wearsdk" in imported
    assert not {m for m in imported if m.startswith(("scipy", "wearsdk.session"))}
    # twin takes the transport as scan and stream do (bumble:...), and says its duration
    help_text = wearsdk("twin", "--help").stdout
    assert "bumble:tcp-client" in help_text
    assert "600" in help_text


def test_the_readme_snippet_says_why_it_waits_without_bluetooth() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "OsBleTransport" in snippet
    with running(
        [sys.executable, "-c", snippet],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **NO_DBUS},
    ) as proc:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first thing it says, not silence
    assert "cannot connect (retrying)" in first
    assert "D-Bus system bus is not reachable" in first
    assert "Polar H10 12345678" not in first


def test_small_ones_in_process() -> None:
    from rich.console import Console

    from wearsdk._errors import ConfigError
    from wearsdk._live import LiveState, render_live
    from wearsdk.cli._args import export_sinks
    from wearsdk.io.lsl import StreamQuery

    # the live view does not show "t = 34.2 s / 30 s" while the last windows come in
    def shown(elapsed: float) -> str:
        state = LiveState(title="wearsdk demo", total_s=30.0)
        state.update({"type": "device_status", "t": 100.0, "source": "hr-a", "state": "connected"})
        state.update(
            {"type": "device_status", "t": 100.0 + elapsed, "source": "hr-a", "state": "connected"}
        )
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(render_live(state))
        return console.export_text()

    assert "/ 30 s" in shown(12.0)
    late = shown(34.2)
    assert "34.2 s" in late
    assert "/ 30 s" not in late
    assert "finishing" in late
    # an LSL query with a field LSL does not have is refused, not searched for forever
    with pytest.raises(ConfigError, match="unknown field 'foo'"):
        StreamQuery.parse("foo=bar")
    assert StreamQuery.parse("channel_count=2").xpath() == "(channel_count=2)"
    # the MQTT session id can be set from the command line
    args = build_parser().parse_args(
        ["demo", "--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-session", "lab-7"]
    )
    (sink,) = export_sinks(args)
    assert sink["session"] == "lab-7"


def test_ctrl_c_still_draws_the_report_record_promises(tmp_path: Path) -> None:
    import time
    import uuid

    import numpy as np
    import pylsl
    import pyxdf

    from tests.io.test_lsl import outlet
    from wearsdk.io.lsl import ChannelSpec, push_chunk

    sid = f"test-first-{uuid.uuid4().hex[:10]}"
    eda = outlet("first eda", "EDA", (ChannelSpec("eda", "uS", "EDA"),), 16.0, sid)
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            t = pylsl.local_clock() - np.arange(4)[::-1] / 16.0
            push_chunk(eda, np.full((4, 1), 2.5, dtype=np.float32), t)
            time.sleep(0.25)

    feeder = threading.Thread(target=feed)
    feeder.start()
    out = tmp_path / "rec.xdf"
    try:
        with running(
            [sys.executable, "-m", "wearsdk", "record", "--lsl-in", f"source_id={sid}",
             "--out", str(out), "--consent", str(consent_file(tmp_path)), "--jsonl"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            ) as proc:  # fmt: skip
            blocks: list[bool] = []

            def twelfth_block(line: str) -> bool:
                blocks.append(json.loads(line)["type"] == "samples")
                return sum(blocks) >= 12

            lines_until(proc, twelfth_block)  # a few seconds of samples: worth a report
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
            code = proc.returncode
    finally:
        stop.set()
        feeder.join()
    assert code == 130, stderr
    report = tmp_path / "rec.report.png"
    assert report.stat().st_size > 10_000, stderr
    assert f"report: {report}" in stderr
    assert mode(report) == mode(out) == 0o600
    streams, _ = pyxdf.load_xdf(str(out))
    assert any(s["info"]["type"] == ["EDA"] for s in streams)


def test_the_mqtt_analyzer_example_without_a_session_says_so(tmp_path: Path) -> None:
    from tests.io.mosquitto import Mosquitto

    with Mosquitto(tmp_path) as broker:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).parents[2] / "examples" / "mqtt_analyzer.py"),
             "--port", str(broker.port), "--session", "nobody-here", "--sync-timeout", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mqtt_analyzer: error: no wearsdk session 'nobody-here' answered")
    assert "--mqtt-session nobody-here" in line


@pytest.mark.slow
def test_a_twin_advertises_again_after_its_central_is_killed(tmp_path: Path) -> None:
    """Item 9: `stream` killed with SIGKILL never disconnects; its controller (in the
    controllers app) keeps the link, so the twin must notice the silent central, drop it and
    advertise again for the next `stream` to find it."""
    from tests.cli.test_cross_process import free_port, wait_listening

    p1, p2 = free_port(), free_port()
    controllers = [sys.executable, "-m", "bumble.apps.controllers"]
    controllers += [f"tcp-server:127.0.0.1:{p1}", f"tcp-server:127.0.0.1:{p2}"]
    twin = [sys.executable, "-m", "wearsdk", "twin", "polar-h10", "--name", "H10 twin"]
    twin += ["--transport", f"bumble:tcp-client:127.0.0.1:{p2}", "--duration", "120"]
    central = f"bumble:tcp-client:127.0.0.1:{p1}"
    stream = [sys.executable, "-m", "wearsdk", "stream", "--transport", central]
    stream += ["--device", "H10 twin", "--driver", "polar-h10", "--jsonl"]
    log = (tmp_path / "controllers.log").open("wb")
    with (
        running(controllers, stdout=log, stderr=subprocess.STDOUT),
        contextlib.closing(log),
    ):
        wait_listening(p1)
        wait_listening(p2)
        with running(twin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as served:
            assert served.stdout is not None
            assert served.stdout.readline().startswith("serving polar-h10 twin 'H10 twin'")
            with running(stream, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as first:
                # streaming ECG: the twin is connected and busy
                lines_until(first, lambda line: '"stream":"ecg"' in line)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
            # the next stream finds it: until its first ECG samples (an event, not a duration
            # that a loaded machine spends connecting), then Ctrl-C
            with running(
                [*stream, "--connect-timeout", "15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            ) as again:
                ecg = lines_until(again, lambda line: '"stream":"ecg"' in line)
                again.send_signal(signal.SIGINT)
                _, stderr = again.communicate(timeout=30)
                code = again.returncode
            lines = [json.loads(x) for x in ecg]
            assert served.poll() is None  # the twin still serves
    states = [x["state"] for x in lines if x["type"] == "device_status"]
    assert "connected" in states
    assert any(x["type"] == "samples" and x["stream"] == "ecg" for x in lines), stderr
    assert code == 130, stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_liblsl_says_nothing_between_the_lab_setup_lines(tmp_path: Path) -> None:
    """Item 12: liblsl's INFO lines (`Loaded default config`, its git build) no longer leak
    into a program's output; a user's own liblsl configuration still decides."""
    import uuid

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "LSLAPICFG"}  # no user config...
    env["HOME"] = str(tmp_path)  # ...in ~/lsl_api either (nor in the working directory)
    ns = uuid.uuid4().hex[:8]
    lab = subprocess.run(
        [
            *(sys.executable, str(root / "examples" / "lab_setup.py"), "--duration", "3"),
            *("--out", "lab.xdf", "--namespace", ns, "--markers", f"markers-{ns}"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=env,
    )
    assert lab.returncode == 0, lab.stderr
    assert lab.stdout.startswith("LSL outlets ready")
    assert "INFO|" not in lab.stderr
    assert lab.stderr == ""

    # a user's own configuration (here: liblsl's INFO level) is left to decide
    cfg = tmp_path / "mine.cfg"
    cfg.write_text("[log]\nlevel = 0\n\n[multicast]\nResolveScope = machine\n")
    code = "import wearsdk.io.lsl, pylsl; "
    code += "pylsl.StreamOutlet(pylsl.StreamInfo('x', 'EEG', 1, 10, pylsl.cf_float32, 'x'))"
    mine = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**env, "LSLAPICFG": str(cfg)},
    )
    assert mine.returncode == 0, mine.stderr
    assert f"Configuration loaded from {cfg}" in mine.stderr


def test_stream_video_alone_ends_with_the_video_and_says_so(tmp_path: Path) -> None:
    """A review leftover: `stream --video FILE` without --duration ends when the video ends
    (like a replay), with a summary, instead of running on with nothing left to analyse."""
    from tests.analyzers.faces import model_file
    from tests.cli.test_face_wiring import clip

    video = clip(tmp_path / "clip.avi")  # 7 s at 10 fps
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wearsdk",
            "stream",
            "--video",
            str(video),
            "--face-model",
            str(model_file()),
            "--no-live",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    (summary,) = [x for x in done.stdout.splitlines() if x.startswith("video finished: ")]
    assert re.search(r"\b\d+ annotation\b", summary), summary


def test_a_missing_face_extra_is_named_before_the_model_is_fetched(tmp_path: Path) -> None:
    """Without mediapipe (here: an import that fails, as on a machine without the extra),
    `stream --camera 0` said it could not download the model; the extra comes first."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "mediapipe.py").write_text("raise ImportError('No module named mediapipe')\n")
    env = {"PYTHONPATH": str(shim), "HOME": str(tmp_path), "WEARSDK_FACE_MODEL": ""}
    done = wearsdk("stream", "--camera", "0", "--duration", "3", "--no-live", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "wearsdk: error: the face analyzer needs the face extra: pip install 'wearsdk[face]'"
    )


def test_ctrl_c_while_the_commands_load_is_an_interrupt_not_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C in the first second (Python still importing the commands) printed a
    KeyboardInterrupt traceback; it is exit 130 like any interrupt. The interrupt is raised
    by a module the commands import (deterministic, instead of a signal at a lucky time)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "annotated_types.py").write_text("raise KeyboardInterrupt\n")  # pydantic's
    env = {"PYTHONPATH": str(shim)}
    for args in (["doctor"], ["demo", "--duration", "5"], ["replay", "x.xdf"]):
        done = wearsdk(*args, env=env)
        assert (done.returncode, done.stderr) == (130, ""), args
    script = "import sys; from wearsdk.cli import main; sys.exit(main(['doctor']))"
    console = subprocess.run(  # what the `wearsdk` console script runs
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert (console.returncode, console.stderr) == (130, "")


def test_a_port_that_is_not_a_controller_is_said_in_one_line(tmp_path: Path) -> None:
    """`scan`/`twin`/`stream` pointed at a port where something else listens (here a server
    that answers like a web server and hangs up) ended with bumble's TransportLostError
    traceback, logged twice; it is one line naming the port and what to check."""

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    spec = f"bumble:tcp-client:127.0.0.1:{port}"
    try:
        for args in (
            ["scan", "--transport", spec, "--timeout", "2"],
            ["twin", "heart-rate", "--transport", spec, "--duration", "3"],
            ["stream", "--transport", spec, "--device", "X", "--connect-timeout", "5"],
        ):
            done = wearsdk(*args)
            assert done.returncode == 1, args
            assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
            assert done.stderr.startswith(f"wearsdk: error: the other end of '{spec}' closed")
            assert "HCI" in done.stderr
    finally:
        server.close()


def test_plain_lines_go_forward_in_time_and_say_a_held_stress_level() -> None:
    """Item 10: piped, the demo reprinted each revised window as a new line whose `t` stepped
    back (101 of 178 lines, time backwards 25 times), and printed `stress high` beside
    arousal 0.1 with only a `stress_level_held` flag. One line per window in time order, the
    revisions said once; a held level reads as held."""
    from wearsdk.cli._output import Summary

    out = io.StringIO()
    summary = Summary(out)

    def estimate(t: float, arousal: float, *, revised: bool = False, held: bool = False) -> None:
        flags = ["no_contact", "stress_level_held"] if held else []
        summary({"type": "estimate", "topic": "affect/estimate", "t": t, "arousal": arousal,
                 "confidence": 0.5, "stress_level": "high", "flags": flags,
                 "revised": revised})  # fmt: skip

    estimate(19.0, 0.20)
    estimate(20.0, 0.22)
    estimate(19.0, 0.21, revised=True)  # a late annotation for t = 19
    estimate(20.0, 0.21, revised=True)
    estimate(21.0, 0.12, held=True)
    lines = out.getvalue().splitlines()
    times = [float(m.group(1)) for x in lines if (m := re.match(r"t=\s*([\d.]+)s", x))]
    assert times == [0.0, 1.0, 2.0]  # from the first event's t
    assert summary.revisions == 2
    assert len([x for x in lines if "revised" in x]) == 1  # said once
    held = lines[-1]
    assert "stress high (held) no_contact" in held
    assert "stress_level_held" not in held


def first_line_then_close(*args: str) -> tuple[dict[str, Any], int, str]:
    """``wearsdk ARGS | head -1``: the first JSON line, then the reader goes away.

    Returns:
        The first line, the command's exit code and its stderr.
    """
    command = [sys.executable, "-m", "wearsdk", *args]
    with running(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first: dict[str, Any] = json.loads(proc.stdout.readline())
        proc.stdout.close()
        code = proc.wait(timeout=120)
        stderr = proc.stderr.read()
    return first, code, stderr


def test_a_reader_that_goes_away_ends_a_session_file_run_at_once(tmp_path: Path) -> None:
    """Item 6, its second half: `wearsdk run --jsonl | head -1` ran to the session's end."""
    import time

    session = tmp_path / "session.toml"
    session.write_text(VIRTUAL_SESSION.format(duration=600, speed=1))
    started = time.monotonic()
    first, code, stderr = first_line_then_close("run", "--config", str(session), "--jsonl")
    assert "topic" in first
    assert code == 141, stderr
    assert "Traceback" not in stderr
    assert time.monotonic() - started < 120  # not the session's 600 s


def test_a_twin_whose_controller_never_answers_says_so_within_its_timeout() -> None:
    """`twin` on a port where something accepts and never answers waited silently forever
    (the central's side already gave up after 10 s); it is the same one line now."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            held.append(server.accept()[0])  # accepted, never answered

    threading.Thread(target=accept, daemon=True).start()
    spec = f"bumble:tcp-client:127.0.0.1:{port}"
    try:
        done = wearsdk("twin", "heart-rate", "--transport", spec, "--duration", "30")
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"wearsdk: error: the controller of '{spec}' did not answer within 10 s\n"
    assert done.stdout == ""  # it never said it was serving


def test_a_twin_says_when_it_stops_serving(tmp_path: Path) -> None:
    """Item 9: the twin exited silently after an undocumented 600 s; it says that it served
    its --duration (documented in its help and the quickstart) and exits 0."""
    from tests.cli.test_cross_process import free_port, wait_listening

    p1, p2 = free_port(), free_port()
    controllers = [sys.executable, "-m", "bumble.apps.controllers"]
    controllers += [f"tcp-server:127.0.0.1:{p1}", f"tcp-server:127.0.0.1:{p2}"]
    log = (tmp_path / "controllers.log").open("wb")
    with running(controllers, stdout=log, stderr=subprocess.STDOUT), contextlib.closing(log):
        wait_listening(p1)
        wait_listening(p2)
        done = wearsdk(
            "twin", "heart-rate", "--transport", f"bumble:tcp-client:127.0.0.1:{p2}",
            "--duration", "2", "--name", "short twin",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"serving heart-rate twin 'short twin' on bumble:tcp-client:127.0.0.1:{p2}",
        "twin 'short twin': served 2 s (--duration), exiting",
    ]


def test_the_readme_lists_every_driver() -> None:
    """Item 12: the README's command block listed two of the four drivers."""
    from wearsdk.cli._args import entry_points

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (listed,) = re.findall(r"wearsdk stream --device ADDRESS\|NAME \[--driver ([\w|-]+)\]", readme)
    assert set(listed.split("|")) == set(entry_points("wearsdk.drivers"))
