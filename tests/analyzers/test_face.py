"""The MediaPipe face analyzer: mapping, real faces, edge cases, frame dropping, video timing."""

import asyncio
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.analyzers.faces import astronaut_face, frame, hopper_face, model_file, neutral, smiling
from wearsdk import Annotation, Bus, ScaledClock
from wearsdk.analyzers import (
    AnalyzerContext,
    FaceAnalyzer,
    FaceQuality,
    action_units,
    expression_prototypes,
    face_affect,
    face_confidence,
    head_pose_deg,
)
from wearsdk.analyzers._face import FACE_MODEL_ID

pytestmark = pytest.mark.timeout(90)


# -- the mapping (pure) -------------------------------------------------------------------------
def test_smile_is_positive_frown_negative_surprise_aroused() -> None:
    neutral_aus = action_units({})
    smile = action_units({"mouthSmileLeft": 0.9, "mouthSmileRight": 0.8, "cheekSquintLeft": 0.4})
    frown = action_units(
        {"browDownLeft": 0.8, "browDownRight": 0.8, "mouthFrownLeft": 0.6, "noseSneerLeft": 0.5}
    )
    surprise = action_units(
        {"browInnerUp": 0.9, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8, "eyeWideLeft": 0.7,
         "eyeWideRight": 0.7, "jawOpen": 0.8}
    )  # fmt: skip
    assert face_affect(neutral_aus) == (0.0, pytest.approx(0.1))
    assert face_affect(smile)[0] > 0.7
    assert face_affect(frown)[0] < -0.5
    assert face_affect(surprise)[1] > face_affect(neutral_aus)[1] + 0.5
    assert all(0.0 <= v <= 1.0 for v in smile.values())
    protos = expression_prototypes(smile)
    assert max(protos, key=lambda k: protos[k]) == "happiness"
    protos = expression_prototypes(surprise)
    assert max(protos, key=lambda k: protos[k]) == "surprise"


def test_confidence_falls_with_size_pose_light_and_jumps() -> None:
    good = FaceQuality(size_px=150, yaw_deg=5, pitch_deg=0, luma=120, motion=0.01, faces=1)
    assert face_confidence(good) == pytest.approx(0.6)
    for worse in (
        FaceQuality(50, 5, 0, 120, 0.01, 1),
        FaceQuality(150, 35, 0, 120, 0.01, 1),
        FaceQuality(150, 5, -35, 120, 0.01, 1),
        FaceQuality(150, 5, 0, 30, 0.01, 1),
        FaceQuality(150, 5, 0, 120, 0.2, 1),
        FaceQuality(150, 5, 0, 120, math.nan, 1),
        FaceQuality(150, 5, 0, 120, 0.01, 2),
    ):
        assert 0 < face_confidence(worse) < face_confidence(good)
    for unusable in (
        FaceQuality(20, 5, 0, 120, 0.01, 1),
        FaceQuality(150, 50, 0, 120, 0.01, 1),
        FaceQuality(150, 5, 0, 10, 0.01, 1),
    ):
        assert face_confidence(unusable) == 0.0


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(0.0, 0.0, 0.0), (30.0, 0.0, 5.0), (-20.0, 10.0, -8.0), (0, -25, 0)]
)
def test_head_pose_from_the_transformation_matrix(yaw: float, pitch: float, roll: float) -> None:
    y, p, r = math.radians(yaw), math.radians(pitch), math.radians(roll)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = ry @ rx @ rz
    got_yaw, got_pitch, got_roll = head_pose_deg(m)
    assert got_yaw == pytest.approx(yaw, abs=0.01)
    assert got_pitch == pytest.approx(pitch, abs=0.01)
    assert got_roll == pytest.approx(roll, abs=0.01)


# -- real faces through a running analyzer ------------------------------------------------------
class Running:
    """A face analyzer in push mode on a real bus, with its annotations collected."""

    def __init__(self, **kwargs: object) -> None:
        self.bus = Bus()
        self.bus.bind_loop()
        self.sub = self.bus.subscribe("analyzer/face/#")
        self.analyzer = FaceAnalyzer(model_path=model_file(), **kwargs)  # type: ignore[arg-type]
        self.ctx = AnalyzerContext(
            self.bus, ScaledClock(1.0), self.analyzer.analyzer_id, self.analyzer.modality
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Running":
        self.task = asyncio.create_task(self.analyzer.run(self.ctx))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        if not self.task.done():
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task

    async def finish(self) -> list[Annotation]:
        """Close the pushed stream, wait for the analyzer to return, and collect."""
        assert self.task is not None
        self.analyzer.close()
        await asyncio.wait_for(self.task, 60)
        self.bus.close()
        out = []
        async for msg in self.sub:
            assert isinstance(msg.payload, Annotation)
            out.append(msg.payload)
        return out


async def analyse(
    frames: list[np.ndarray], **kwargs: object
) -> tuple[list[Annotation], FaceAnalyzer]:
    """Submit each frame (t = 0.1 s apart; submit waits for room: none dropped) and collect."""
    async with Running(**kwargs) as run:
        for i, image in enumerate(frames):
            await run.analyzer.submit(image, t=0.1 * i)
        anns = await run.finish()
    assert run.analyzer.stats.dropped == 0
    assert run.analyzer.stats.analysed == len(frames)
    return anns, run.analyzer


async def test_a_smiling_face_is_positive_and_a_neutral_one_is_not() -> None:
    anns, fa = await analyse([smiling()] * 3 + [neutral()] * 3)
    assert fa.stats.published == 6
    smile, flat = anns[:3], anns[3:]
    assert [a.end for a in anns] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert all(a.valence is not None and a.valence > 0.5 for a in smile)
    assert all(a.valence is not None and abs(a.valence) < 0.3 for a in flat)
    assert all(0.3 < a.confidence <= 0.6 for a in anns)
    assert all(a.modality == "face" and a.analyzer_id == "face-mediapipe" for a in anns)
    first = smile[0].extras
    assert first["model"] == FACE_MODEL_ID
    assert first["faces"] == 1
    assert first["aus"]["AU12"] > 0.7  # lip corner puller: the smile
    assert max(first["prototypes"], key=first["prototypes"].get) == "happiness"
    assert abs(first["yaw_deg"]) < 15
    # a face's first frame is trusted less than the next, steady one
    assert smile[1].confidence > smile[0].confidence


async def test_no_face_dark_and_tiny_frames_give_no_annotation_and_are_counted() -> None:
    black = np.zeros((480, 640, 3), np.uint8)
    dark = (smiling() * 0.04).astype(np.uint8)
    tiny = smiling(side=24, x=300, y=220)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    anns, fa = await analyse([black, dark, tiny, noise, smiling()])
    assert len(anns) == 1  # only the real face
    assert anns[0].end == pytest.approx(0.4)
    assert fa.stats.analysed == 5
    assert fa.stats.no_face + fa.stats.unusable == 4


async def test_a_dim_face_is_judged_with_less_confidence() -> None:
    dim = (smiling() * 0.2).astype(np.uint8)
    anns, _ = await analyse([smiling(), smiling(), dim, dim])
    assert len(anns) == 4
    assert anns[2].extras["luma"] < 40 < anns[1].extras["luma"]
    assert 0 < anns[3].confidence < anns[1].confidence
    assert anns[3].valence is not None
    assert anns[3].valence > 0.5  # still a smile


async def test_two_faces_follow_the_larger_with_less_confidence() -> None:
    two = frame((astronaut_face(), 10, 60, 360), (hopper_face(), 390, 150, 240))
    alone = frame((astronaut_face(), 10, 60, 360))
    anns, _ = await analyse([alone, alone, two, two])
    assert len(anns) == 4
    assert anns[1].extras["faces"] == 1
    assert anns[3].extras["faces"] == 2
    assert anns[3].valence is not None
    assert anns[3].valence > 0.5  # the larger, smiling face
    assert anns[3].confidence == pytest.approx(0.8 * anns[1].confidence, rel=0.1)


async def test_under_load_the_newest_frame_wins_and_drops_are_counted() -> None:
    async with Running() as run:
        image = smiling()
        n = 200
        for i in range(n):  # far faster than inference: most frames are replaced
            run.analyzer.push(image, t=0.01 * i)
        anns = await run.finish()
    stats = run.analyzer.stats
    assert stats.frames == n
    assert stats.dropped > 0
    assert stats.analysed + stats.dropped == n
    assert anns[-1].end == pytest.approx(0.01 * (n - 1))  # the last frame is never dropped
    assert [a.end for a in anns] == sorted(a.end for a in anns)
    assert len(stats.latency_s) == stats.published == len(anns)


def test_bad_frames_and_sources_are_refused() -> None:
    fa = FaceAnalyzer(model_path=model_file())
    with pytest.raises(Exception, match="uint8"):
        fa.push(np.zeros((48, 64, 3), np.float32), t=0.0)
    with pytest.raises(Exception, match=r"\(H, W, 3\)"):
        fa.push(np.zeros((48, 64, 4), np.uint8), t=0.0)
    with pytest.raises(Exception, match="not running"):
        fa.push(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(Exception, match="not both"):
        FaceAnalyzer(camera=0, video="x.mp4")


async def test_a_missing_video_file_is_a_clear_error(tmp_path: Path) -> None:
    from wearsdk import WearError

    fa = FaceAnalyzer(video=tmp_path / "none.avi", model_path=model_file())
    ctx = AnalyzerContext(Bus(), ScaledClock(1.0), fa.analyzer_id, fa.modality)
    with pytest.raises(WearError, match="no such video file"):
        await fa.run(ctx)


# -- a video file: annotations at the frames' presentation times --------------------------------
def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (640, 480))
    assert out.isOpened()
    for image in frames:
        out.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out.release()
    return path


def video_frames() -> list[np.ndarray]:
    """10 smiling frames (the face drifting), 5 without a face, 10 neutral."""
    black = np.zeros((480, 640, 3), np.uint8)
    return (
        [smiling(x=150 + 4 * i) for i in range(10)]
        + [black] * 5
        + [neutral(x=170 - 3 * i) for i in range(10)]
    )


async def test_video_file_annotations_follow_the_frame_times(tmp_path: Path) -> None:
    fps = 12.5
    video = write_video(tmp_path / "clip.avi", video_frames(), fps)
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/face/#")
    fa = FaceAnalyzer(video=video, model_path=model_file(), start=100.0, paced=False)
    await fa.run(AnalyzerContext(bus, ScaledClock(1.0), fa.analyzer_id, fa.modality))
    bus.close()
    anns = [msg.payload async for msg in sub]
    assert all(isinstance(a, Annotation) for a in anns)
    assert fa.stats.frames == 25
    assert fa.stats.dropped == 0
    assert fa.stats.analysed == 25
    assert fa.stats.no_face == 5
    assert len(anns) == 20
    expected = [100.0 + i / fps for i in (*range(10), *range(15, 25))]
    for a, t in zip(anns, expected, strict=True):
        assert abs(a.end - t) < 1.0 / fps, (a.end, t)
    smile = [a.valence for a in anns[:10]]
    flat = [a.valence for a in anns[10:]]
    assert min(v for v in smile if v is not None) > max(v for v in flat if v is not None) + 0.3


async def test_a_paced_video_plays_in_session_time_and_drops_frames_it_cannot_keep_up_with(
    tmp_path: Path,
) -> None:
    fps = 25.0
    video = write_video(tmp_path / "clip.avi", video_frames(), fps)
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/face/#")
    clock = ScaledClock(20.0)  # 500 frames per real second: inference cannot follow
    fa = FaceAnalyzer(video=video, model_path=model_file(), start_unix=clock.to_unix(50.0))
    await fa.run(AnalyzerContext(bus, clock, fa.analyzer_id, fa.modality))
    bus.close()
    anns = [msg.payload async for msg in sub]
    assert fa.stats.frames == 25
    assert fa.stats.dropped > 0
    assert fa.stats.analysed + fa.stats.dropped == 25
    assert anns
    for a in anns:
        assert isinstance(a, Annotation)
        k = (a.end - 50.0) * fps  # on a frame's presentation time
        assert abs(k - round(k)) < 0.01
        assert 0 <= round(k) < 25


# -- the model file: a path, the cache, a checked download, a clear error offline ---------------
class ModelServer:
    """A real HTTP server on loopback serving ``body`` at /face_landmarker.task."""

    def __init__(self, body: bytes) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/face_landmarker.task"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ModelServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_the_model_is_downloaded_once_checked_and_cached(tmp_path: Path) -> None:
    from wearsdk.analyzers import FACE_LANDMARKER_SHA256, face_model_path

    body = model_file().read_bytes()
    with ModelServer(body) as server:
        got = face_model_path(url=server.url, cache_dir=tmp_path)
    assert got == tmp_path / "face_landmarker.task"
    assert got.read_bytes() == body
    # the server is gone: the cached copy is used (its checksum still checked)
    assert face_model_path(url=server.url, cache_dir=tmp_path, sha256=FACE_LANDMARKER_SHA256) == got
    assert face_model_path(cache_dir=tmp_path, download=False) == got


def test_a_download_with_another_checksum_is_refused(tmp_path: Path) -> None:
    from wearsdk.analyzers import ModelUnavailableError, face_model_path

    with (
        ModelServer(b"not the model") as server,
        pytest.raises(ModelUnavailableError, match="SHA-256"),
    ):
        face_model_path(url=server.url, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_offline_first_use_says_how_to_give_the_model(tmp_path: Path) -> None:
    import socket

    from wearsdk.analyzers import ModelUnavailableError, face_model_path

    with socket.socket() as s:  # a port nobody listens on: connection refused, as offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/face_landmarker.task"
    with pytest.raises(ModelUnavailableError, match="could not download") as err:
        face_model_path(url=url, cache_dir=tmp_path, timeout_s=5)
    assert "--face-model" in str(err.value)
    assert "WEARSDK_FACE_MODEL" in str(err.value)
    with pytest.raises(ModelUnavailableError, match="download is off"):
        face_model_path(cache_dir=tmp_path, download=False)
    with pytest.raises(ModelUnavailableError, match="not found"):
        face_model_path(tmp_path / "missing.task")


async def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    from wearsdk.analyzers import ModelUnavailableError

    bogus = tmp_path / "bogus.task"
    bogus.write_bytes(b"\x00" * 1000)
    fa = FaceAnalyzer(model_path=bogus)
    ctx = AnalyzerContext(Bus(), ScaledClock(1.0), fa.analyzer_id, fa.modality)
    with pytest.raises(ModelUnavailableError, match="not a Face Landmarker model"):
        await fa.run(ctx)


# -- the webcam + heart-rate strap example, on a video file and a virtual strap -----------------
@pytest.mark.timeout(120)
@pytest.mark.slow
def test_the_webcam_and_strap_example_fuses_the_face_with_the_heart(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    frames = [smiling(x=140 + (i % 40)) for i in range(320)]  # 32 s at 10 fps
    video = write_video(tmp_path / "clip.avi", frames, 10.0)
    example = Path(__file__).resolve().parents[2] / "examples" / "webcam_heart_rate.py"
    # in real time, as with a webcam (10 frames a second to analyse): at 2x and 3x the video
    # outran the analysis on a busy machine (load average 5-8 on 2 cores), and fused rows lost
    # the face; 24 s give 15 rows (estimates start once the 10 s window is full)
    args = ["--video", str(video), "--virtual-strap", "--seconds", "24", "--speed", "1"]
    run = subprocess.run(
        [sys.executable, str(example), *args, "--face-model", str(model_file())],
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, "WEARSDK_FACE_MODEL": ""},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = re.findall(r"valence ([+-][\d.]+) \(conf ([\d.]+)\)\s+from (.*)", run.stdout)
    assert len(rows) >= 10, run.stdout
    assert all("face" in r[2].split(", ") and "hr" in r[2].split(", ") for r in rows), run.stdout
    assert all(float(r[0]) > 0.5 for r in rows)  # the smiling face, fused
    m = re.search(r"face: (\d+) frames analysed .* (\d+) without a face", run.stdout)
    assert m is not None, run.stdout
    assert int(m[1]) > 50
    assert int(m[2]) == 0


async def test_cancelling_a_running_analyzer_ends_its_threads() -> None:
    import threading

    before = set(threading.enumerate())
    async with Running() as run:
        await run.analyzer.submit(smiling(), t=0.0)
        first = await asyncio.wait_for(run.sub.__anext__(), 30)  # running, a frame analysed
        assert isinstance(first.payload, Annotation)
        assert set(threading.enumerate()) - before  # its inference thread
    # __aexit__ cancelled it; run() joined its threads before returning
    assert not {t for t in set(threading.enumerate()) - before if t.is_alive() and t.daemon}
    with pytest.raises(Exception, match="closed"):
        await run.analyzer.submit(smiling(), t=1.0)


async def test_a_file_that_is_not_a_video_is_a_clear_error(tmp_path: Path) -> None:
    from wearsdk import WearError

    bogus = tmp_path / "notes.avi"
    bogus.write_text("not a video")
    fa = FaceAnalyzer(video=bogus, model_path=model_file())
    ctx = AnalyzerContext(Bus(), ScaledClock(1.0), fa.analyzer_id, fa.modality)
    with pytest.raises(WearError, match="cannot be opened"):
        await fa.run(ctx)


async def test_spans_of_frames_are_averaged_into_one_annotation(tmp_path: Path) -> None:
    fps = 12.5
    video = write_video(tmp_path / "clip.avi", video_frames(), fps)
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/face/#")
    fa = FaceAnalyzer(video=video, model_path=model_file(), start=0.0, paced=False, span_s=0.5)
    await fa.run(AnalyzerContext(bus, ScaledClock(1.0), fa.analyzer_id, fa.modality))
    bus.close()
    anns = [msg.payload async for msg in sub]
    assert all(isinstance(a, Annotation) for a in anns)
    assert sum(a.extras["frames"] for a in anns) == 20  # every frame with a face, once
    assert 3 <= len(anns) <= 6
    assert fa.stats.published == len(anns)
    for a in anns:
        assert a.end - a.start <= 0.5 + 1.0 / fps  # a span closes at the first frame past it
        for t in (a.start, a.end):
            assert abs(t * fps - round(t * fps)) < 0.01  # on frame times
    assert [a.start for a in anns] == sorted(a.start for a in anns)
    assert anns[0].valence is not None
    assert anns[0].valence > 0.5  # the smiling frames
    assert anns[-1].valence is not None
    assert abs(anns[-1].valence) < 0.3  # the neutral ones


async def test_a_live_stream_is_stamped_on_arrival_and_its_end_is_an_error(tmp_path: Path) -> None:
    # OpenCV opens a file like a stream URL: the live path without a camera
    from wearsdk import WearError

    video = write_video(tmp_path / "clip.avi", video_frames(), 25.0)
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/face/#")
    clock = ScaledClock(1.0)
    fa = FaceAnalyzer(camera=str(video), model_path=model_file())
    t_before = clock.now()
    with pytest.raises(WearError, match="stopped delivering frames"):
        await fa.run(AnalyzerContext(bus, clock, fa.analyzer_id, fa.modality))
    t_after = clock.now()
    bus.close()
    anns = [msg.payload async for msg in sub]
    assert fa.stats.frames == 25
    assert fa.stats.analysed + fa.stats.dropped == 25  # read faster than analysed: drops
    assert anns
    for a in anns:
        assert isinstance(a, Annotation)
        assert t_before < a.end < t_after  # stamped when they arrived, not by the file's times
    assert [a.end for a in anns] == sorted(a.end for a in anns)
