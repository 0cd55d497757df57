"""The first hour without surprises, what was left: errors that name no participant, a consent
file checked even when nothing is exported, an unreached broker said once, the deprecated
signal names with neurokit2's call, Ctrl-C at start-up, the face model's C++ log lines."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import wearsdk as wearsdk_package
from tests.cli.test_first_hour import closed_port, running, wearsdk
from wearsdk import Consent, ConsentError, ExportPolicy
from wearsdk._privacy import ConsentGate, require_consent

pytestmark = pytest.mark.timeout(120)

WHO = "p-7731"
"""A participant id no message may carry."""


def consent_of(
    *,
    export: ExportPolicy = ExportPolicy.ESTIMATES,
    obtained_unix: float | None = None,
    expires_unix: float | None = None,
) -> Consent:
    """A record for :data:`WHO` that allows exporting ``export``, not recording."""
    return Consent(
        participant=WHO,
        purposes=("research",),
        export=export,
        obtained_by="ra-12",
        obtained_unix=time.time() - 60 if obtained_unix is None else obtained_unix,
        expires_unix=expires_unix,
    )


def test_consent_errors_say_what_is_missing_without_the_participant() -> None:
    """Item: `participant p1 did not consent to recording` put the participant id in an error
    (and so in logs and bug reports); each refusal says what the record does not allow."""
    expired = consent_of(obtained_unix=1_700_000_000.0, expires_unix=1_700_000_060.0)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: consent_of().check(record=True), "does not allow recording"),
        (
            lambda: consent_of(export=ExportPolicy.ESTIMATES).check(export=ExportPolicy.RAW),
            "allows exporting estimates only, not raw",
        ),
        (lambda: expired.check(), "expired at 2023-11-14 22:14:20 UTC"),
        (lambda: require_consent(expired, record=True), "expired at 2023-11-14 22:14:20 UTC"),
        (
            lambda: ConsentGate(expired, clock=lambda: 1_700_000_060.0).check(),
            "expired at 2023-11-14 22:14:20 UTC",
        ),
    ]
    for refuse, says in cases:
        with pytest.raises(ConsentError) as caught:
            refuse()
        assert says in str(caught.value)
        assert WHO not in str(caught.value)
        assert "participant" not in str(caught.value)
    # what a mistaken log line would print of the record or of a session's gate
    for shown in (repr(consent_of()), str(consent_of()), repr(ConsentGate(consent_of()))):
        assert WHO not in shown, shown
        assert "ra-12" not in shown, shown  # who obtained it: a person too


def test_record_without_consent_to_record_names_no_participant(tmp_path: Path) -> None:
    consent = tmp_path / "consent.json"
    consent.write_text(consent_of().model_dump_json())
    done = wearsdk(
        "record", "--out", tmp_path / "r.xdf", "--device", "X", "--consent", consent, "-v"
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "wearsdk: error: the consent record does not allow recording (record: false)"
    )
    assert WHO not in done.stderr
    assert not (tmp_path / "r.xdf").exists()


@pytest.mark.data
def test_a_consent_file_is_read_before_a_replay_that_exports_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    """Item: `replay --consent FILE` read FILE only for an export, so a wrong path was ignored
    silently; it is checked (exists, is a consent record) before the replay starts, in one
    line as for the other commands. `run` with a session file's `consent` likewise."""
    folder = data_dir / "e4_session"
    garbage = tmp_path / "garbage.json"
    garbage.write_text("participant: p1\n")
    good = tmp_path / "consent.json"
    good.write_text(Consent.simulated_participant().model_dump_json())
    replay: list[str | Path] = ["replay", folder, "--source", "e4", "--speed", "max"]
    replay += ["--duration", "30"]
    for consent, why in (
        (tmp_path / "missing.json", "No such file or directory"),
        (garbage, "not a consent record (the file: Invalid JSON"),
    ):
        done = wearsdk(*replay, "--consent", consent, "--no-live")
        assert done.returncode == 1, done.stderr
        said = done.stderr.strip().splitlines()
        assert len(said) == 1, said
        assert said[0].startswith(
            f"wearsdk: error: cannot use consent record {str(consent)!r}: {why}"
        ), said
        assert "replay finished" not in done.stdout
    done = wearsdk(*replay, "--consent", good, "--no-live")
    assert done.returncode == 0, done.stderr
    assert "replay finished" in done.stdout
    config = tmp_path / "session.toml"
    config.write_text(
        f'devices = []\n\n[session]\nconsent = "{garbage}"\n\n'
        f'[[sources]]\nkind = "e4"\npath = "{folder}"\nspeed = 0\nduration_s = 30\n'
    )
    done = wearsdk("run", "--config", config)
    assert done.returncode == 1, done.stderr
    said = done.stderr.strip().splitlines()
    assert len(said) == 1, said
    assert said[0].startswith(f"wearsdk: error: cannot use consent record {str(garbage)!r}")


def test_a_broker_never_reached_is_one_error_with_the_count_not_a_warning_too() -> None:
    """Item: besides the one-line error, the session's `WARNING ... sink mqtt: N messages were
    not delivered` said the loss a second time; the count is in the error, said once."""
    url = f"mqtt://127.0.0.1:{closed_port()}"
    done = wearsdk("demo", "--speed", "30", "--no-report", "--no-live", "--mqtt", url,
                   "--duration", "15")  # fmt: skip
    assert done.returncode == 1, done.stderr
    said = done.stderr.strip().splitlines()
    assert "were not delivered" not in done.stderr
    assert said[-1].startswith("wearsdk: error: the MQTT export never reached its broker")
    lost = re.search(r"nothing was exported \((\d+) messages not delivered\)", said[-1])
    assert lost is not None, said[-1]
    assert int(lost[1]) > 0
    # said as it happened, and at the end: nothing else
    assert len(said) == 2, said
    assert "unavailable" in said[0]


def launchers() -> list[list[str]]:
    """`python -m wearsdk` and the console script (when this environment has it)."""
    found = [[sys.executable, "-m", "wearsdk"]]
    script = Path(sys.executable).parent / "wearsdk"
    if script.is_file():
        found.append([sys.executable, str(script)])
    return found


PACKAGE = Path(wearsdk_package.__file__).parent
OURS = re.compile(rf'File "{re.escape(str(PACKAGE))}/')
"""A traceback frame in the package's code."""


def test_ctrl_c_while_the_package_loads_is_exit_130_without_a_traceback(tmp_path: Path) -> None:
    """Item: Ctrl-C in the first ~50 ms (the package imported by runpy or by the console
    script, before any code of the command line could catch it) printed a KeyboardInterrupt
    traceback. A real SIGINT, sent by the first module the package imports (typing, here a
    stand-in that signals the process), ends the command with 130 and nothing on stderr."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "typing.py").write_text(
        "import os, signal\n"
        "open(os.environ['SIGNALLED'], 'w').close()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "while True:\n    pass\n"  # the handler runs at the next instruction
    )
    for launcher in launchers():
        flag = tmp_path / "signalled"
        flag.unlink(missing_ok=True)
        done = subprocess.run(
            [*launcher, "doctor"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(shim), "SIGNALLED": str(flag)},
        )
        assert flag.exists(), launcher  # the signal came while the package loaded
        assert (done.returncode, done.stderr) == (130, ""), launcher
    # a program that imports wearsdk keeps Python's Ctrl-C
    kept = subprocess.run(
        [sys.executable, "-c", "import signal, wearsdk.cli; "
         "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert kept.stdout.strip() == "True", kept.stderr


def test_ctrl_c_right_after_start_never_shows_a_traceback_of_ours() -> None:
    """A real Ctrl-C at moments from 0 to 285 ms after start, repeated: exit 130 (or the
    process killed by SIGINT before Python could handle it), never a traceback from the
    package. Python's own start-up (its site module, runpy) can still print one before
    any code of ours runs; those are counted apart, not blamed on the command."""
    outcomes: dict[str, int] = {}
    for launcher in launchers():
        for i in range(20):
            with running([*launcher, "doctor"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE) as proc:  # fmt: skip
                time.sleep(i * 0.015)  # the moment of the Ctrl-C is what is tested
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=60)
            assert not OURS.search(err), err
            if "Traceback" in err:
                kind = "python start-up"
            else:
                assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
                kind = str(proc.returncode)
            outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes.get("130", 0) >= 1, outcomes  # some came while our code ran


def test_stream_video_prints_none_of_mediapipes_cpp_log_lines(tmp_path: Path) -> None:
    """Item: `stream --video`/`--camera` printed ~5 lines of MediaPipe's and TFLite's C++
    logging on stderr (`WARNING: Logging before InitGoogle()...`, `W0000 ... .cc:181] ...`,
    `INFO: Created TensorFlow Lite XNNPACK delegate`); the command prints none of them."""
    from tests.analyzers.faces import model_file
    from tests.cli.test_face_wiring import clip

    video = clip(tmp_path / "clip.avi")  # 7 s at 10 fps
    args: list[str | Path] = ["stream", "--video", video, "--face-model", model_file()]
    args.append("--no-live")
    done = wearsdk(*args)
    assert done.returncode == 0, done.stderr
    assert "video finished: " in done.stdout
    assert done.stderr == ""
    # with -v they are shown (what a bug report about the model needs)
    verbose = wearsdk(*args, "-v")
    assert "TensorFlow Lite" in verbose.stderr or NATIVE_LINE.search(verbose.stderr)


NATIVE_LINE = re.compile(r"^[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ", re.MULTILINE)


def test_only_the_native_notices_are_left_out_of_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """Every other line written to descriptor 2 while the filter is on passes, in order,
    also errors of the C++ code, also lines from other threads."""
    from wearsdk.cli._face_args import without_native_face_notices

    with without_native_face_notices():
        os.write(2, b"WARNING: Logging before InitGoogle() is written to STDERR\n")
        os.write(2, b"wearsdk: first\n")  # what sys.stderr writes, in the command
        os.write(2, b"W0000 00:00:1796687785.943042   28812 face_landmarker_graph.cc:181] x\n")
        os.write(2, b"E0000 00:00:1796687785.943042   28812 graph.cc:12] a real error\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        thread = threading.Thread(target=lambda: os.write(2, b"from a thread\n"))
        thread.start()
        thread.join()
        os.write(2, b"wearsdk: last\n")
    assert capfd.readouterr().err.splitlines() == [
        "wearsdk: first",
        "E0000 00:00:1796687785.943042   28812 graph.cc:12] a real error",
        "from a thread",
        "wearsdk: last",
    ]
    os.write(2, b"after\n")  # descriptor 2 is back
    assert capfd.readouterr().err == "after\n"


def test_a_session_file_with_a_face_analyzer_prints_none_of_them_either(tmp_path: Path) -> None:
    from tests.analyzers.faces import model_file
    from tests.cli.sessions import virtual_session
    from tests.cli.test_face_wiring import clip

    clip(tmp_path / "clip.avi")
    session = virtual_session(name="face-lab", duration_s=10, speed=5)
    session += f'\n[[analyzers]]\nkind = "face"\nvideo = "clip.avi"\nmodel = "{model_file()}"\n'
    (tmp_path / "session.toml").write_text(session + "paced = false\n")
    done = wearsdk("run", "--config", tmp_path / "session.toml", "--no-live", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "InitGoogle" not in done.stderr
    assert "TensorFlow Lite" not in done.stderr
    assert not NATIVE_LINE.search(done.stderr), done.stderr
