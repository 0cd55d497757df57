"""Session files of the CLI tests: a virtual heart-rate strap, consent, a recording and an MQTT
export (what the consent and sink-isolation tests run)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def consent_session_file(
    tmp_path: Path,
    port: int,
    *,
    mqtt_session: str,
    record: str | Path,
    seconds: int,
    speed: float | None = None,
    expires_unix: float | None = None,
    withdraw_file: str | None = None,
    sink_consent: bool = False,
) -> Path:
    """Write ``consent.json`` and ``session.toml`` in ``tmp_path``; returns the session file.

    Args:
        tmp_path: the folder of both files (relative paths in the session are relative to it).
        port: the MQTT broker's port on 127.0.0.1.
        mqtt_session: the MQTT session id the export publishes under.
        record: where the session records its XDF file.
        seconds: the session's duration.
        speed: replay speed of the virtual devices (the default one when ``None``).
        expires_unix: when the consent expires (never when ``None``).
        withdraw_file: the session's withdrawal file, if any.
        sink_consent: whether the MQTT sink names the consent file too.
    """
    consent = {
        "participant": "p-0042",
        "purposes": ["research"],
        "record": True,
        "export": "estimates",
        "obtained_by": "study nurse",
        "obtained_unix": time.time() - 60,
        "expires_unix": expires_unix,
    }
    (tmp_path / "consent.json").write_text(json.dumps(consent))
    session = [f"duration_s = {seconds}"]
    if speed is not None:
        session.append(f"speed = {speed}")
    session += [f'record = "{record}"', 'consent = "consent.json"']
    if withdraw_file is not None:
        session.append(f'withdraw_file = "{withdraw_file}"')
    sink = [f'url = "mqtt://127.0.0.1:{port}"', f'session = "{mqtt_session}"']
    if sink_consent:
        sink.append('consent = "consent.json"')
    path = tmp_path / "session.toml"
    path.write_text(
        '[session]\ntransport = "virtual"\n' + "\n".join(session) + "\n\n"
        "[pipeline]\nwindow_s = 5\nhop_s = 0.5\nbaseline_s = 2\n\n"
        '[[devices]]\ndriver = "heart-rate"\nname = "HR strap"\n\n'
        '[[sinks]]\nkind = "mqtt"\n' + "\n".join(sink) + "\n"
    )
    return path


def virtual_session(*, name: str, duration_s: float, speed: float) -> str:
    """A session file's text: a virtual heart-rate strap, 5 s windows after a 6 s baseline, the
    events written to ``out/events.jsonl`` (more sections can be appended)."""
    return f"""
[session]
name = "{name}"
transport = "virtual"
duration_s = {duration_s}
speed = {speed}

[pipeline]
window_s = 5
baseline_s = 6

[[devices]]
driver = "heart-rate"
name = "HR strap"

[[sinks]]
kind = "jsonl"
path = "out/events.jsonl"
"""


def events(folder: Path) -> list[dict[str, Any]]:
    """The events a session wrote to ``folder/out/events.jsonl``."""
    text = (folder / "out" / "events.jsonl").read_text()
    return [json.loads(x) for x in text.splitlines()]
