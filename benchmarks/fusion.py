"""Fusion and voice analyzer cost, as multiples of real time.

- LateFusion: one hour of 1 Hz physiological windows fused with a camera analyzer that
  publishes one annotation per video frame (30 fps, delivered 1.5 s late) and a voice analyzer
  (2 s segments, 2.5 s late), so most windows are revised. Baseline, in the same process: the
  same hour with physiology alone (pass-through). Prints CPU seconds per session hour and how
  many times faster than real time each runs.
- Voice prosody: seconds of audio analysed per CPU second (``voice_prosody``: YIN, energy,
  syllable peaks) on espeak-ng speech when espeak-ng is installed, else on a harmonic tone.

Usage: python -m benchmarks.fusion [--hours H] [--fps F]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from wearsdk import Annotation, Estimate
from wearsdk.affect import LateFusion
from wearsdk.analyzers import read_wav
from wearsdk.signals import voice_prosody


def _physio(end: float) -> Estimate:
    return Estimate(
        t=end, window_start=end - 60, window_end=end, arousal=0.5, confidence=0.8, model="m"
    )


def run_fusion(hours: float, fps: float, analyzers: bool) -> tuple[float, LateFusion]:
    rng = np.random.default_rng(0)
    fusion = LateFusion()
    events: list[tuple[float, int, object]] = []
    seconds = int(hours * 3600)
    for s in range(1, seconds + 1):
        events.append((float(s), 1, _physio(float(s))))
    if analyzers:
        for i in range(int(seconds * fps)):
            end = (i + 1) / fps
            ann = Annotation(
                t=end,
                modality="face",
                analyzer_id="cam",
                start=end - 1 / fps,
                end=end,
                valence=float(rng.uniform(-1, 1)),
                confidence=0.8,
            )
            events.append((end + 1.5, 0, ann))
        for i in range(seconds // 2):
            end = 2.0 * (i + 1)
            ann = Annotation(
                t=end,
                modality="voice",
                analyzer_id="mic",
                start=end - 2,
                end=end,
                arousal=float(rng.uniform(0, 1)),
                confidence=0.6,
            )
            events.append((end + 2.5, 0, ann))
    events.sort(key=lambda e: (e[0], e[1]))
    start = time.process_time()
    for _, _, item in events:
        if isinstance(item, Annotation):
            fusion.add_annotation(item)
        else:
            assert isinstance(item, Estimate)
            fusion.add_physio(item)
    fusion.flush()
    return time.process_time() - start, fusion


def voice_rtf(seconds: float) -> tuple[str, float]:
    exe = shutil.which("espeak-ng")
    sr = 22050.0
    if exe:
        text = "The quick brown fox jumps over the lazy dog, and then it runs away. " * 12
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            subprocess.run([exe, "-w", str(wav), text], check=True)
            x, sr = read_wav(wav)
        kind = "espeak-ng speech"
    else:
        t = np.arange(int(seconds * sr)) / sr
        x = sum((np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 6)), np.zeros_like(t))
        kind = "harmonic tone"
    x = x[: int(seconds * sr)]
    start = time.process_time()
    voice_prosody(x, sampling_rate_hz=sr)
    cpu = time.process_time() - start
    return kind, (len(x) / sr) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    base, _ = run_fusion(args.hours, args.fps, analyzers=False)
    cpu, fusion = run_fusion(args.hours, args.fps, analyzers=True)
    session_s = args.hours * 3600
    s = fusion.stats
    print(f"{'fusion':<34} {'CPU s/h':>9} {'x real time':>12}")
    print(f"{'physiology alone (baseline)':<34} {base / args.hours:9.2f} {session_s / base:12.0f}")
    print(
        f"{f'+ face {args.fps:g} fps + voice, late':<34} {cpu / args.hours:9.2f} "
        f"{session_s / cpu:12.0f}"
    )
    print(
        f"  {s.windows} windows, {s.annotations} annotations ({s.late} late), "
        f"{s.revisions} revisions, {s.too_late} too late"
    )
    kind, rtf = voice_rtf(60.0)
    print(f"voice prosody on {kind}: {rtf:.0f}x real time (audio s per CPU s)")


if __name__ == "__main__":
    main()
