"""The face analyzer wired into the session file (``kind = "face"``), ``wearsdk stream --video``,
the live view and the report, on a video written from real face images."""

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.analyzers.faces import model_file, neutral, smiling
from tests.analyzers.test_face import write_video
from tests.cli.sessions import events, virtual_session
from wearsdk import ConfigError
from wearsdk._config import FaceAnalyzerEntry, session_config
from wearsdk._config_files import load_session_config
from wearsdk._live import LiveState, render_live
from wearsdk._run import run_session
from wearsdk.cli._output import write_report

pytestmark = pytest.mark.timeout(180)

FPS = 10.0


def clip(path: Path) -> Path:
    """3 s of a smiling face (drifting), 1 s without a face, 3 s of a neutral face, at 10 fps."""
    black = np.zeros((480, 640, 3), np.uint8)
    frames = (
        [smiling(x=150 + 2 * i) for i in range(30)]
        + [black] * 10
        + [neutral(x=170 - 2 * i) for i in range(30)]
    )
    return write_video(path, frames, FPS)


SESSION = (
    # 30 s at 2x: 15 s to analyse the 70 frames (on a busy machine, load average 7-8 on 2
    # cores, 2 of them were analysed before the session ended at 10x, 5 at 4x)
    virtual_session(name="face-lab", duration_s=30, speed=2)
    + """
[[analyzers]]
kind = "face"
video = "clip.avi"
model = "{model}"
start_s = 5
span_s = 0.5
paced = false
"""
)


@pytest.mark.slow
async def test_a_face_analyzer_from_the_session_file_is_fused_and_reported(
    tmp_path: Path,
) -> None:
    clip(tmp_path / "clip.avi")
    (tmp_path / "session.toml").write_text(SESSION.format(model=model_file()))
    config = load_session_config(tmp_path / "session.toml")
    (face,) = config.analyzers
    assert isinstance(face, FaceAnalyzerEntry)
    assert face.video == tmp_path / "clip.avi"  # relative to the file

    result = await run_session(config)
    assert result.start is not None
    lines = events(tmp_path)
    notes = [x for x in lines if x["type"] == "annotation" and x["modality"] == "face"]
    # spans of the frames within half a second (6 frames): 5 of each face; the second
    # without a face gives nothing
    assert len(notes) == 10, [(n["start"] - result.start) for n in notes]
    assert all(n["analyzer_id"] == "face-mediapipe" for n in notes)
    # stamped by the frames' presentation times, from start_s = 5 on the session clock
    starts = [n["start"] - result.start for n in notes]
    assert abs(starts[0] - 5.0) < 1 / FPS
    assert abs(starts[5] - 9.0) < 1 / FPS  # the neutral face, after 1 s without one
    assert all(n["end"] - result.start <= 12.0 for n in notes)
    smile, flat = [n["valence"] for n in notes[:5]], [n["valence"] for n in notes[5:]]
    assert min(smile) > max(flat) + 0.3
    # fused with the physiology
    fused = [x for x in lines if x["type"] == "estimate" and x["topic"] == "affect/estimate"]
    assert any("face" in x["modalities"] for x in fused)
    # the report draws the face track in its analyzers panel
    drawn = write_report(tmp_path / "out" / "events.jsonl", tmp_path / "report.png")
    assert "analyzers" in " ".join(drawn.panels).lower(), drawn.panels
    # and the live view shows the latest face annotation
    state = LiveState()
    for line in lines:
        state.update(line)
    assert state.face is not None
    assert state.face["start"] == notes[-1]["start"]
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(render_live(state))
    text = console.export_text()
    assert re.search(r"face\s+valence [+-]\d\.\d\d  arousal \d\.\d\d  confidence", text), text


def test_face_entries_are_checked_before_anything_runs(tmp_path: Path) -> None:
    base: dict[str, Any] = {"devices": [], "analyzers": []}
    with pytest.raises(ConfigError, match="exactly one of camera or video"):
        session_config({**base, "analyzers": [{"kind": "face"}]})
    with pytest.raises(ConfigError, match="exactly one of camera or video"):
        session_config({**base, "analyzers": [{"kind": "face", "camera": 0, "video": "x"}]})
    with pytest.raises(ConfigError, match="for a video file"):
        session_config({**base, "analyzers": [{"kind": "face", "camera": 0, "start_s": 3}]})
    with pytest.raises(ConfigError, match=r"analyzers\[0\].max_faces"):
        session_config({**base, "analyzers": [{"kind": "face", "camera": 0, "max_faces": 9}]})
    # a camera alone is a session (no device needed)
    config = session_config({**base, "analyzers": [{"kind": "face", "camera": 0}]})
    assert isinstance(config.analyzers[0], FaceAnalyzerEntry)
    text = '[session]\nduration_s = 1\n[[analyzers]]\nkind = "face"\nvideo = "missing.avi"\n'
    (tmp_path / "s.toml").write_text("devices = []\n" + text)
    with pytest.raises(ConfigError, match=r"analyzers\[0\]\.video: no such file"):
        load_session_config(tmp_path / "s.toml")


@pytest.mark.slow
def test_stream_video_shows_the_face_track_and_draws_the_report(tmp_path: Path) -> None:
    video = clip(tmp_path / "clip.avi")
    png = tmp_path / "report.png"
    args = ["stream", "--video", str(video), "--face-model", str(model_file())]
    args += ["--duration", "9", "--no-live", "--report", str(png)]
    done = subprocess.run(
        [sys.executable, "-m", "wearsdk", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    faces = re.findall(r"^face valence ([+-]\d\.\d\d)  arousal", done.stdout, re.M)
    # played in real time: spans of half a second, a few lost while the model loads
    assert len(faces) >= 6, done.stdout
    values = [float(v) for v in faces]
    assert values[0] > 0.5  # the smile first
    assert values[-1] < values[0] - 0.3  # the neutral face last
    assert png.is_file()
    assert png.with_suffix(".html").is_file()
    assert f"report: {png}" in done.stdout


def test_stream_refuses_a_face_model_without_frames_and_two_frame_sources(
    tmp_path: Path,
) -> None:
    from wearsdk.cli import main

    assert main(["stream", "--lsl-in", "type=ECG", "--face-model", "m.task"]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["stream", "--camera", "0", "--video", "x.avi"])
    assert usage.value.code == 2
