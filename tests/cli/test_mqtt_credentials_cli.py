"""MQTT credentials in the commands and session files, and fail-fast on refused credentials
or certificates, against a real mosquitto (a password file, a self-signed CA made here)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.io.mosquitto import Mosquitto, make_test_ca
from wearsdk._config_files import load_session_config
from wearsdk._run import run_session
from wearsdk.io.mqtt import PASSWORD_ENV, MqttAuthError

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

USER, PASSWORD = "lab7", "right horse battery"


def wearsdk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        env={**os.environ, **(env or {})},
    )


def password_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = Mosquitto(tmp_path, users={USER: PASSWORD})
    b.start()
    yield b
    b.stop()


def test_a_wrong_password_ends_the_demo_at_once(tmp_path: Path, broker: Mosquitto) -> None:
    wrong = password_file(tmp_path / "pw", "wrong horse")
    url = f"mqtt://{USER}@127.0.0.1:{broker.port}"
    began = time.monotonic()
    # a 120 s demo in real time: it must end at the first refusal, not at its end
    done = wearsdk(
        "demo", "--duration", "120", "--jsonl", "--no-report",
        "--mqtt", url, "--mqtt-password-file", str(wrong),
    )  # fmt: skip
    took = time.monotonic() - began
    assert done.returncode == 1, done.stderr
    assert took < 60, took
    errors = [x for x in done.stderr.splitlines() if x.startswith("wearsdk: error:")]
    assert len(errors) == 1, done.stderr
    assert "refused the credentials" in errors[0], errors
    assert "Traceback" not in done.stderr, done.stderr
    assert "wrong horse" not in done.stderr + done.stdout


def test_a_password_in_the_url_works_and_warns_once(tmp_path: Path, broker: Mosquitto) -> None:
    url = f"mqtt://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{broker.port}"
    done = wearsdk(
        "demo", "--duration", "15", "--speed", "10", "--jsonl", "--no-report", "--mqtt", url
    )
    assert done.returncode == 0, done.stderr
    warned = [x for x in done.stderr.splitlines() if x.startswith("wearsdk: warning:")]
    assert len(warned) == 1, done.stderr
    assert "visible to other users" in warned[0]
    assert PASSWORD not in done.stderr


@pytest.mark.slow
def test_the_password_from_the_environment_is_used(tmp_path: Path, broker: Mosquitto) -> None:
    url = f"mqtt://{USER}@127.0.0.1:{broker.port}"
    args = ("demo", "--duration", "15", "--speed", "10", "--jsonl", "--no-report", "--mqtt", url)
    done = wearsdk(*args, env={PASSWORD_ENV: PASSWORD})
    assert done.returncode == 0, done.stderr
    assert "wearsdk: warning:" not in done.stderr
    refused = wearsdk(*args, env={PASSWORD_ENV: "nope"})
    assert refused.returncode == 1
    assert "wearsdk: error:" in refused.stderr


async def test_session_file_credentials(tmp_path: Path, broker: Mosquitto) -> None:
    password_file(tmp_path / "broker.pw", PASSWORD)
    text = f"""
[session]
transport = "virtual"
duration_s = 20
speed = 10

[pipeline]
window_s = 5
baseline_s = 6

[[devices]]
driver = "heart-rate"
name = "HR strap"

[[sinks]]
kind = "mqtt"
url = "mqtt://127.0.0.1:{broker.port}"
username = "{USER}"
password_file = "broker.pw"
"""
    (tmp_path / "s.toml").write_text(text)
    config = load_session_config(tmp_path / "s.toml")
    result = await run_session(config)
    assert result.mqtt is not None
    assert result.mqtt.sent > 0
    # a wrong password in the file ends the session with the broker's refusal
    password_file(tmp_path / "broker.pw", "nope")
    (tmp_path / "s.toml").write_text(text.replace("duration_s = 20", "duration_s = 600"))
    began = time.monotonic()
    with pytest.raises(MqttAuthError):
        await run_session(load_session_config(tmp_path / "s.toml"))
    assert time.monotonic() - began < 30  # a 60 s session (at 10x): ended at the refusal
    # and a password given inline works too
    inline = text.replace('password_file = "broker.pw"', f'password = "{PASSWORD}"')
    (tmp_path / "s.toml").write_text(inline)
    config = load_session_config(tmp_path / "s.toml")
    assert PASSWORD not in repr(config)
    result = await run_session(config)
    assert result.mqtt is not None
    assert result.mqtt.sent > 0


def test_an_untrusted_certificate_ends_a_session_file_run_at_once(tmp_path: Path) -> None:
    ca, cert, key = make_test_ca(tmp_path / "pki")
    other_ca, _, _ = make_test_ca(tmp_path / "other")
    with Mosquitto(tmp_path, tls=(ca, cert, key)) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        session = tmp_path / "s.toml"
        session.write_text(
            '[session]\ntransport = "virtual"\nduration_s = 600\n\n'
            '[[devices]]\ndriver = "heart-rate"\nname = "HR strap"\n\n'
            f'[[sinks]]\nkind = "mqtt"\nurl = "{url}"\nca_file = "{other_ca}"\n'
        )
        began = time.monotonic()
        done = wearsdk("run", "--config", str(session), "--jsonl")
        assert done.returncode == 1, done.stderr
        assert time.monotonic() - began < 60
        (error,) = [x for x in done.stderr.splitlines() if x.startswith("wearsdk: error:")]
        assert "certificate verify failed" in error
