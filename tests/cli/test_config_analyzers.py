"""Analyzers and recording in session files: `[[analyzers]]` (file replays, WAV voice, remote
analyzers over MQTT, LSL markers) and `[session] record`, validated and run for real."""

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pylsl
import pytest
import pyxdf

from tests.analyzers.test_adapters import write_openface
from tests.analyzers.test_voice import TEXTS, espeak
from tests.cli.sessions import events as log
from tests.cli.sessions import virtual_session
from tests.io.mosquitto import Mosquitto
from wearsdk import ConfigError
from wearsdk._config import FileAnalyzer, MqttAnalyzers, VoiceAnalyzerEntry
from wearsdk._config_files import load_session_config
from wearsdk._run import run_session

pytestmark = pytest.mark.timeout(120)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = virtual_session(name="lab-07", duration_s=40, speed=10)

ANALYZERS = """
[[analyzers]]
kind = "file"
format = "openface"
path = "video/webcam.csv"
start_s = 10

[[analyzers]]
kind = "file"
format = "table"
path = "ratings.csv"
columns = { time = "t", duration_s = 5, valence = "sam", valence_range = [1, 9], modality = "text", analyzer_id = "rater" }

[[analyzers]]
kind = "voice"
path = "speech.wav"
start_s = 20
"""  # noqa: E501


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "session.toml"
    path.write_text(text)
    return path


def analyzer_files(tmp_path: Path) -> None:
    (tmp_path / "video").mkdir()
    smile = [{"AU06_r": 2.5, "AU12_r": 3.0} for _ in range(30 * 8)]  # 8 s of smiling
    write_openface(tmp_path / "video" / "webcam.csv", smile)
    (tmp_path / "ratings.csv").write_text("t,sam\n0,2\n5,2\n10,8\n15,oops\n")
    espeak(tmp_path / "speech.wav", TEXTS[1], wpm=250, pitch=80)


async def test_file_and_voice_analyzers_from_the_session_file_are_replayed_and_fused(
    tmp_path: Path,
) -> None:
    analyzer_files(tmp_path)
    config = load_session_config(write(tmp_path, BASE + ANALYZERS))
    face, table, voice = config.analyzers
    assert isinstance(face, FileAnalyzer)
    assert face.path == tmp_path / "video" / "webcam.csv"  # relative to the file
    assert isinstance(table, FileAnalyzer)
    assert table.mapping().valence_range == (1, 9)
    assert isinstance(voice, VoiceAnalyzerEntry)

    result = await run_session(config)
    assert result.messages["annotation"] > 0
    lines = log(tmp_path)
    notes = [x for x in lines if x["type"] == "annotation"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for x in notes:
        by_id.setdefault(x["analyzer_id"], []).append(x)
    assert set(by_id) == {"openface", "rater", "voice-prosody"}
    # the video: 8 one-second windows of a smile, from 10 s into the session (start_s)
    video = by_id["openface"]
    assert len(video) == 8
    assert all(x["modality"] == "face" and x["valence"] > 0.5 for x in video)
    assert abs(video[0]["start"] - result.start - 10.0) < 1e-6
    # the rating table: 3 usable rows of 5 s (one dropped), SAM 1-9 mapped onto -1..1
    rater = by_id["rater"]
    assert [round(x["valence"], 2) for x in rater] == [-0.75, -0.75, 0.75]
    assert all(x["modality"] == "text" and x["end"] - x["start"] == 5.0 for x in rater)
    # the voice: fast, high speech from 20 s on, paced as if live
    # (openSMILE is loaded before the session starts, so the paced audio starts on time)
    assert result.start is not None
    voice_notes = by_id["voice-prosody"]
    assert voice_notes
    assert all(x["modality"] == "voice" for x in voice_notes)
    assert all(x["start"] >= result.start + 20.0 - 1e-6 for x in voice_notes)
    assert voice_notes[0]["start"] < result.start + 20.0 + 2 * voice.segment_s
    # and the fusion used them
    fused = [x for x in lines if x["type"] == "estimate" and x["topic"] == "affect/estimate"]
    assert any("face" in x["modalities"] for x in fused)
    assert any("voice" in x["modalities"] for x in fused)


async def test_a_session_file_records_xdf_under_consent(tmp_path: Path) -> None:
    consent = {
        "participant": "p-007",
        "purposes": ["research"],
        "record": True,
        "export": "estimates",
        "obtained_by": "lab",
        "obtained_unix": 1.7e9,
    }
    (tmp_path / "consent.json").write_text(json.dumps(consent))
    text = BASE.replace(
        "speed = 10", 'speed = 10\nrecord = "out/lab-07.xdf"\nconsent = "consent.json"'
    ).replace("duration_s = 40", "duration_s = 20")
    config = load_session_config(write(tmp_path, text))
    assert config.session.record == tmp_path / "out" / "lab-07.xdf"
    result = await run_session(config)
    streams, _ = pyxdf.load_xdf(str(config.session.record), dejitter_timestamps=False)
    names = {s["info"]["name"][0]: s for s in streams}
    rr = next(s for n, s in names.items() if n.endswith("-rr"))
    assert len(rr["time_stamps"]) > 15  # a beat a second or so, for 20 s
    assert len(names["affect"]["time_stamps"]) == result.messages["estimate"] // 2  # physio too

    # a consent record that does not allow recording stops the session before it starts
    consent["record"] = False
    (tmp_path / "consent.json").write_text(json.dumps(consent))
    from wearsdk import ConsentError

    with pytest.raises(ConsentError):
        await run_session(load_session_config(write(tmp_path, text)))


@pytest.mark.slow
async def test_remote_analyzers_over_mqtt_from_the_session_file(tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker:
        text = (
            BASE.replace("speed = 10", "speed = 1").replace("duration_s = 40", "duration_s = 16")
            + f'\n[[analyzers]]\nkind = "mqtt"\nurl = "{broker.url}"\n'
        )
        config = load_session_config(write(tmp_path, text))
        (remote,) = config.analyzers
        assert isinstance(remote, MqttAnalyzers)
        session = asyncio.create_task(run_session(config))
        # another process, its clock 2 hours off, publishing as "lab-07" (the session name);
        # it waits to be synced with the session's clock before it publishes
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / "mqtt_analyzer.py"),
            *("--port", str(broker.port), "--session", "lab-07", "--valence", "0.6"),
            *("--seconds", "8", "--clock-offset-s", "7200"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        await asyncio.wait_for(session, 30)
    lines = log(tmp_path)
    notes = [x for x in lines if x["type"] == "annotation" and x["analyzer_id"] == "remote-cam"]
    assert len(notes) > 10
    t_end = max(x["t"] for x in lines if x["type"] != "samples")
    # mapped onto the session clock despite the 2-hour offset
    assert all(abs(x["end"] - x["t"]) < 1.0 and x["end"] <= t_end + 1.0 for x in notes)
    fused = [x for x in lines if x["type"] == "estimate" and x["topic"] == "affect/estimate"]
    assert any("face" in x["modalities"] and x["valence"] > 0.3 for x in fused)


async def test_an_lsl_marker_stream_from_the_session_file(tmp_path: Path) -> None:
    name = f"markers-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(
        pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, name)
    )
    text = (
        BASE.replace("speed = 10", "speed = 1").replace("duration_s = 40", "duration_s = 6")
        + f'\n[[analyzers]]\nkind = "lsl"\nquery = "name={name},type=Markers"\n'
        + 'source_id = "experiment"\n'
    )
    session = asyncio.create_task(run_session(load_session_config(write(tmp_path, text))))
    assert await asyncio.to_thread(outlet.wait_for_consumers, 10.0)
    t0 = pylsl.local_clock()
    for i, label in enumerate(("fixation", "stimulus")):  # 1 s apart on the LSL clock
        outlet.push_sample([label], t0 + i)
    await asyncio.wait_for(session, 30)
    marks = [x for x in log(tmp_path) if x["type"] == "annotation"]
    assert [(x["analyzer_id"], x["label"]) for x in marks] == [
        ("experiment", "fixation"),
        ("experiment", "stimulus"),
    ]
    assert np.diff([x["t"] for x in marks])[0] == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[analyzers]]\nkind = "camera"\n', "analyzers[0]: Input tag 'camera'"),
        (
            '[[analyzers]]\nkind = "file"\nformat = "table"\npath = "ratings.csv"\n',
            "analyzers[0]: format = 'table' needs columns",
        ),
        (
            '[[analyzers]]\nkind = "file"\nformat = "table"\npath = "ratings.csv"\n'
            'columns = { time = "t", valnce = "sam" }\n',
            "analyzers[0]: columns: ",
        ),
        (
            '[[analyzers]]\nkind = "file"\nformat = "table"\npath = "ratings.csv"\n'
            'columns = { time = "t" }\n',
            "map at least one of arousal, valence or emotions",
        ),
        (
            '[[analyzers]]\nkind = "file"\nformat = "openface"\npath = "video/webcam.csv"\n'
            "fps = 30\n",
            "fps is for format = 'py-feat'",
        ),
        (
            '[[analyzers]]\nkind = "voice"\npath = "speech.wav"\nstart_s = 1\n'
            "start_unix = 1700000000\n",
            "give start_s or start_unix, not both",
        ),
        (
            '[[analyzers]]\nkind = "voice"\npath = "nope.wav"\n',
            "analyzers[0].path: no such file",
        ),
        ('[[analyzers]]\nkind = "mqtt"\n', "needs a url (or an mqtt sink)"),
        (
            '[[analyzers]]\nkind = "voice"\npath = "speech.wav"\n'
            '[[analyzers]]\nkind = "voice"\npath = "speech.wav"\n',
            "analyzer ids must differ",
        ),
        ('[[analyzers]]\nkind = "lsl"\n', "analyzers[0].query: Field required"),
    ],
)
def test_bad_analyzer_entries_are_config_errors_that_name_the_entry(
    tmp_path: Path, extra: str, message: str
) -> None:
    analyzer_files(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_session_config(write(tmp_path, BASE + extra))
    assert message in str(info.value)


def test_recording_real_devices_needs_a_consent_record_in_the_file(tmp_path: Path) -> None:
    text = BASE.replace('transport = "virtual"', 'transport = "bleak"').replace(
        "speed = 10", 'speed = 10\nrecord = "x.xdf"'
    )
    with pytest.raises(ConfigError, match=r"session\.record needs session\.consent"):
        load_session_config(write(tmp_path, text))


async def test_an_unreadable_analyzer_file_fails_before_anything_connects(tmp_path: Path) -> None:
    (tmp_path / "video").mkdir()
    (tmp_path / "video" / "webcam.csv").write_text("frame,timestamp\n1,0.0\n")
    (tmp_path / "speech.wav").write_bytes(b"RIFF....not a wav")
    text = BASE + '[[analyzers]]\nkind = "file"\nformat = "openface"\npath = "video/webcam.csv"\n'
    with pytest.raises(ConfigError, match=r"analyzers\[0\] \(openface\): .*webcam.csv"):
        await run_session(load_session_config(write(tmp_path, text)))
    text = BASE + '[[analyzers]]\nkind = "voice"\npath = "speech.wav"\n'
    with pytest.raises(ConfigError, match=r"analyzers\[0\]: .*not a PCM WAV"):
        await run_session(load_session_config(write(tmp_path, text)))
    assert not (tmp_path / "out").exists()  # nothing ran
