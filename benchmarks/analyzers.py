"""Face and voice analyzer benchmark: frames per second, capture-to-bus latency, real-time factor.

Face (``FaceAnalyzer``, MediaPipe Face Landmarker, 640x480, one face):

- baseline: the landmarker alone in this process (``detect_for_video`` in a loop on the
  decoded frames, no threads, no bus): frames per second;
- live: a 30 fps video file played in real time (``paced=True``, as a camera delivers), frames
  dropped when inference falls behind (newest wins): analysed frames per second, dropped
  fraction, and the latency from a frame's presentation on the session clock to its
  annotation's arrival at a bus subscriber (p50, p95, max), over ``--runs`` runs;
- offline: the same file with ``paced=False`` (every frame analysed, as fast as possible).

The video shows the smiling face of ``skimage.data.astronaut()`` moving and scaling slowly on
a grey background, written with OpenCV (MJPG) to a temporary file.

Voice (``VoiceAnalyzer``, 2 s segments, ``paced=False``): real-time factor (processing time /
audio duration; below 1 keeps up with live audio) with openSMILE (eGeMAPS) and with the numpy
fallback, on espeak-ng speech.

Usage: python -m benchmarks.analyzers [--seconds S] [--runs N] [--model PATH] [--no-voice]
(run it with ``nice -n 10`` on a shared machine; the model comes from ``--model``,
``$WEARSDK_FACE_MODEL``, ``$WEARSDK_MODELS`` or ``../shared/models``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from wearsdk import Annotation, Bus, ScaledClock
from wearsdk.analyzers import AnalyzerContext, FaceAnalyzer, VoiceAnalyzer, read_wav

ROOT = Path(__file__).resolve().parents[1]
W, H, FPS = 640, 480, 30.0


def model_path(given: str | None) -> Path:
    for candidate in (
        given,
        os.environ.get("WEARSDK_FACE_MODEL"),
        os.environ.get("WEARSDK_MODELS")
        and Path(os.environ["WEARSDK_MODELS"]) / "face_landmarker.task",
        ROOT.parent / "shared" / "models" / "face_landmarker.task",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit("face model not found: give --model PATH")


def write_video(path: Path, seconds: float) -> Path:
    from skimage import data

    face = data.astronaut()[20:230, 120:330]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (W, H))
    for i in range(round(seconds * FPS)):
        t = i / FPS
        side = int(260 + 40 * np.sin(2 * np.pi * t / 7.0))
        x = int(W / 2 - side / 2 + 120 * np.sin(2 * np.pi * t / 5.0))
        y = int(H / 2 - side / 2 + 40 * np.sin(2 * np.pi * t / 3.0))
        frame = np.full((H, W, 3), 90, np.uint8)
        frame[y : y + side, x : x + side] = cv2.resize(face, (side, side))
        out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    out.release()
    return path


def baseline_fps(video: Path, model: Path, limit: int = 300) -> float:
    """The landmarker alone: decode every frame first, then time detect_for_video."""
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
    cap.release()
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO,
        num_faces=2,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    with vision.FaceLandmarker.create_from_options(options) as lm:
        for i, f in enumerate(frames[:10]):  # warm-up
            lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=f), i)
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=f), 1000 + 34 * i)
        return len(frames) / (time.perf_counter() - t0)


async def face_run(video: Path, model: Path, *, paced: bool) -> dict[str, float]:
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/face/#", maxsize=100_000)
    clock = ScaledClock(1.0)
    fa = FaceAnalyzer(video=video, model_path=model, paced=paced)
    ctx = AnalyzerContext(bus, clock, fa.analyzer_id, fa.modality)
    latencies: list[float] = []

    async def receive() -> None:
        async for msg in sub:
            assert isinstance(msg.payload, Annotation)
            latencies.append(clock.now() - msg.payload.end)

    receiver = asyncio.create_task(receive())
    t0 = time.perf_counter()
    await fa.run(ctx)
    elapsed = time.perf_counter() - t0
    bus.close()
    await receiver
    lat = np.array(latencies[5:])  # the first frames include the model's warm-up
    s = fa.stats
    return {
        "elapsed_s": elapsed,
        "frames": s.frames,
        "analysed_fps": s.analysed / elapsed,
        "published": s.published,
        "dropped_pct": 100.0 * s.dropped / max(1, s.frames),
        "no_face": s.no_face + s.unusable,
        "p50_ms": 1000 * float(np.percentile(lat, 50)),
        "p95_ms": 1000 * float(np.percentile(lat, 95)),
        "max_ms": 1000 * float(lat.max()),
    }


def speech(path: Path) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    text = (
        "I am sitting quietly by the window, reading a book about the history of the valley. "
        "Watch out, the car is coming straight at us, get out of the way right now, hurry up! "
        "We should meet again next week and talk about the plans for the garden in the spring. "
    ) * 4
    subprocess.run([exe, "-w", str(path), "-s", "160", text], check=True)
    return path


async def voice_rtf(wav: Path, extractor: str) -> tuple[float, int]:
    bus = Bus()
    bus.bind_loop()
    analyzer = VoiceAnalyzer(wav, paced=False, extractor=extractor)
    ctx = AnalyzerContext(bus, ScaledClock(1.0), analyzer.analyzer_id, analyzer.modality)
    x, rate = read_wav(wav)
    t0 = time.perf_counter()
    await analyzer.run(ctx)
    elapsed = time.perf_counter() - t0
    return elapsed / (len(x) / rate), ctx.published


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="video length (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="live runs (default 3)")
    ap.add_argument("--model", help="face_landmarker.task")
    ap.add_argument("--no-voice", action="store_true")
    args = ap.parse_args()
    model = model_path(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "face.avi", args.seconds)
        base = baseline_fps(video, model)
        print(
            f"face, 640x480, one face, {args.seconds:.0f} s at {FPS:.0f} fps, {os.cpu_count()} CPUs"
        )
        print(f"  baseline: landmarker alone            {base:6.1f} fps")
        offline = asyncio.run(face_run(video, model, paced=False))
        print(
            f"  offline (paced=False, every frame):   {offline['analysed_fps']:6.1f} fps "
            f"({offline['analysed_fps'] / base:.2f} x baseline)"
        )
        print("  live (30 fps as a camera, newest wins):")
        print("    run  analysed fps  dropped %  published  latency p50 / p95 / max ms")
        for r in range(args.runs):
            live = asyncio.run(face_run(video, model, paced=True))
            print(
                f"    {r + 1:3d}  {live['analysed_fps']:12.1f}  {live['dropped_pct']:9.1f}  "
                f"{live['published']:9.0f}  {live['p50_ms']:6.1f} / {live['p95_ms']:6.1f} / "
                f"{live['max_ms']:6.1f}"
            )
        if not args.no_voice:
            wav = speech(Path(tmp) / "speech.wav")
            x, rate = read_wav(wav)
            print(f"voice, espeak-ng speech, {len(x) / rate:.0f} s, 2 s segments, paced=False")
            for extractor in ("opensmile", "numpy"):
                rtf, n = asyncio.run(voice_rtf(wav, extractor))
                print(f"  {extractor:9s}: real-time factor {rtf:.3f} ({n} annotations)")


if __name__ == "__main__":
    main()
