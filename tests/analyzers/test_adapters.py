"""File adapters on files generated here in each tool's documented format, and their replay."""

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from wearsdk import Annotation, ScaledClock, Session
from wearsdk.analyzers import (
    AnnotationFileError,
    AnnotationReplay,
    ColumnMapping,
    emotions_to_affect,
    read_openface_csv,
    read_pyfeat_csv,
    read_table,
)

pytestmark = pytest.mark.looptime

# OpenFace 2.0 FeatureExtraction: 17 AU intensities (_r, 0-5) and 18 presences (_c)
AU_R = ["01", "02", "04", "05", "06", "07", "09", "10", "12", "14", "15", "17", "20", "23"]
AU_R += ["25", "26", "45"]
AU_C = sorted([*AU_R, "28"])


def write_openface(path: Path, rows: list[dict[str, float]], fps: float = 30.0) -> None:
    """Columns as OpenFace 2.0 writes them: ', '-separated, gaze/pose columns included."""
    header = ["frame", "face_id", "timestamp", "confidence", "success"]
    header += ["gaze_0_x", "gaze_0_y", "gaze_0_z", "pose_Tx", "pose_Rx"]
    header += [f"AU{a}_r" for a in AU_R] + [f"AU{a}_c" for a in AU_C]
    lines = [", ".join(header)]
    for i, r in enumerate(rows):
        values = [i + 1, 0, round(i / fps, 3), r.get("confidence", 0.98), r.get("success", 1)]
        values += [0.1, 0.2, -0.9, 12.0, 0.05]
        values += [r.get(f"AU{a}_r", 0.0) for a in AU_R]
        values += [1 if r.get(f"AU{a}_r", 0.0) > 1 else 0 for a in AU_C]
        lines.append(", ".join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")


def test_openface_smile_is_positive_frown_is_negative(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    smile = [{"AU06_r": 2.5 + rng.normal(0, 0.2), "AU12_r": 3.0} for _ in range(60)]
    frown = [{"AU04_r": 3.0, "AU15_r": 2.0 + rng.normal(0, 0.2)} for _ in range(60)]
    surprise = [{"AU01_r": 3.5, "AU02_r": 3.5, "AU05_r": 3.0, "AU26_r": 3.0} for _ in range(60)]
    lost = [{"success": 0, "confidence": 0.0} for _ in range(15)]
    poor = [{"AU12_r": 5.0, "confidence": 0.3} for _ in range(15)]
    path = tmp_path / "video.csv"
    write_openface(path, smile + frown + surprise + lost + poor)
    result = read_openface_csv(path)
    assert result.rows == 210
    assert result.dropped == 30  # frames without a face or tracked poorly
    anns = result.annotations
    assert [a.modality for a in anns] == ["face"] * 6  # 6 one-second windows of usable frames
    valence = [a.valence for a in anns]
    arousal = [a.arousal for a in anns]
    assert all(v is not None and v > 0.5 for v in valence[:2])
    assert all(v is not None and v < -0.5 for v in valence[2:4])
    assert all(a is not None for a in arousal)
    assert min(arousal[4:]) > max(arousal[:4]) + 0.2  # type: ignore[type-var]
    assert anns[0].start == 0.0
    assert anns[0].end == pytest.approx(1.0, abs=0.01)
    assert all(0.5 < a.confidence <= 0.6 for a in anns)
    assert anns[0].extras["AU12_r"] == pytest.approx(3.0)


def test_openface_without_its_columns_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("frame, timestamp\n1, 0.0\n")
    with pytest.raises(AnnotationFileError, match="confidence"):
        read_openface_csv(path)


def write_pyfeat(path: Path, probs: list[dict[str, float] | None], fps: float = 10.0) -> None:
    """A Fex CSV: frame, face box and score, landmarks, AUs, emotions, input, approx_time."""
    emotions = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]
    header = ["", "frame", "FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight"]
    header += ["FaceScore", "x_0", "y_0", "AU01", "AU12", *emotions, "input", "approx_time"]
    lines = [",".join(header)]
    for i, p in enumerate(probs):
        if p is None:  # no face found in this frame: py-feat leaves the cells empty
            cells = [str(i), str(i), "", "", "", "", "", "", "", "", ""] + [""] * 7
        else:
            cells = [str(i), str(i), "10", "20", "100", "120", "0.99", "30", "40", "0.1", "0.8"]
            cells += [str(p.get(e, 0.0)) for e in emotions]
        lines.append(",".join([*cells, "clip.mp4", f"{i / fps:.2f}"]))
    path.write_text("\n".join(lines) + "\n")


def test_pyfeat_emotions_map_onto_valence_and_arousal(tmp_path: Path) -> None:
    happy = {"happiness": 0.85, "neutral": 0.1, "surprise": 0.05}
    sad = {"sadness": 0.8, "neutral": 0.15, "fear": 0.05}
    path = tmp_path / "fex.csv"
    write_pyfeat(path, [happy] * 10 + [None] * 3 + [sad] * 7)
    result = read_pyfeat_csv(path)
    assert (result.rows, result.dropped) == (20, 3)
    first, second = result.annotations
    assert first.valence is not None
    assert first.valence > 0.5
    assert second.valence is not None
    assert second.valence < -0.4
    assert first.arousal is not None
    assert second.arousal is not None
    assert first.arousal > second.arousal
    assert first.emotions["happiness"] == pytest.approx(0.85)
    assert first.confidence == pytest.approx(0.8 * 0.99)
    assert second.start == pytest.approx(1.3)  # the first frame with a face in that second


def test_pyfeat_needs_a_time_base(tmp_path: Path) -> None:
    path = tmp_path / "fex.csv"
    path.write_text(
        "frame,anger,disgust,fear,happiness,sadness,surprise,neutral\n0,0,0,0,1,0,0,0\n"
    )
    with pytest.raises(AnnotationFileError, match="fps"):
        read_pyfeat_csv(path)
    assert read_pyfeat_csv(path, fps=25).annotations[0].valence == pytest.approx(0.8)


def test_emotions_to_affect() -> None:
    assert emotions_to_affect({"happiness": 1.0}) == (0.8, 0.6)
    assert emotions_to_affect({"unknown": 1.0}) is None
    v, a = emotions_to_affect({"anger": 0.5, "sadness": 0.5})  # type: ignore[misc]
    assert v == pytest.approx(-0.625)
    assert a == pytest.approx(0.525)


def test_generic_csv_with_a_column_mapping(tmp_path: Path) -> None:
    # a rating tool: milliseconds, SAM scales 1-9, a confidence, one broken row
    path = tmp_path / "ratings.csv"
    path.write_text(
        "t_ms,t_end_ms,sam_valence,sam_arousal,conf\n"
        "0,2000,9,1,0.9\n"
        "2000,4000,1,9,0.8\n"
        "4000,6000,oops,5,0.8\n"
        "6000,8000,5,5,1.5\n"
    )
    mapping = ColumnMapping(
        time="t_ms",
        end="t_end_ms",
        time_scale=0.001,
        valence="sam_valence",
        arousal="sam_arousal",
        confidence="conf",
        valence_range=(1, 9),
        arousal_range=(1, 9),
        modality="text",
        analyzer_id="rater",
    )
    result = read_table(path, mapping)
    assert (result.rows, result.dropped) == (4, 2)  # non-numeric and out-of-range confidence
    a, b = result.annotations
    assert (a.start, a.end, a.valence, a.arousal, a.confidence) == (0.0, 2.0, 1.0, 0.0, 0.9)
    assert (b.valence, b.arousal) == (-1.0, 1.0)
    assert a.modality == "text"
    assert a.analyzer_id == "rater"


def test_generic_jsonl_with_emotions_only(tmp_path: Path) -> None:
    path = tmp_path / "voice.jsonl"
    rows = [
        json.dumps({"time": 0.5, "anger": 0.9, "happiness": 0.1}),
        json.dumps("not an object"),
        json.dumps({"time": 1.5, "anger": 0.1, "happiness": 0.9}),
        "{broken",
    ]
    path.write_text("\n".join(rows) + "\n")
    mapping = ColumnMapping(time="time", duration_s=1.0, emotions=("anger", "happiness"))
    result = read_table(path, mapping)
    assert (result.rows, result.dropped) == (4, 2)
    angry, happy = result.annotations
    assert angry.valence is not None
    assert happy.valence is not None
    assert angry.valence < 0 < happy.valence
    assert angry.emotions == {"anger": 0.9, "happiness": 0.1}
    assert angry.end - angry.start == 1.0
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(AnnotationFileError, match="no data rows"):
        read_table(tmp_path / "empty.jsonl", mapping)


async def test_replay_lines_a_video_analysis_up_with_a_recording_clock(tmp_path: Path) -> None:
    # a recording that started at a known unix time, replayed 20x faster than real time
    recording_start_unix = 1_700_000_000.0
    clock = ScaledClock(20.0, unix_at_start=recording_start_unix)
    video_start_unix = recording_start_unix + 3.0  # the camera started 3 s after the strap
    path = tmp_path / "video.csv"
    write_openface(path, [{"AU06_r": 2.0, "AU12_r": 3.0}] * 90)
    replay = AnnotationReplay(read_openface_csv(path), start_unix=video_start_unix)
    got: list[Annotation] = []
    async with Session(clock=clock, pipeline=None) as session:
        sub = session.bus.subscribe("analyzer/#")
        session.add(replay)
        async with asyncio.timeout(10):
            while len(got) < 3:
                msg = await sub.receive()
                assert isinstance(msg.payload, Annotation)
                got.append(msg.payload)
                # published when the session clock reaches the annotation's end
                assert clock.now() >= msg.payload.end - 1e-6
    assert [round(clock.to_unix(a.start) - recording_start_unix, 3) for a in got] == [3, 4, 5]
