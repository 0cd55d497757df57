"""A webcam and a heart-rate strap, fused: face valence beside heart-rate arousal, live.

The built-in :class:`~wearsdk.analyzers.FaceAnalyzer` (MediaPipe Face Landmarker, the ``face``
extra) reads the webcam; a Bluetooth heart-rate strap feeds the physiological pipeline; the
session fuses both into one estimate per window, listing which modalities contributed. Frames
stay in this process (each is dropped once analysed); only the face annotations reach the bus.

With the hardware (the model file is downloaded on first use, or give ``--face-model``)::

    python examples/webcam_heart_rate.py --camera 0 --strap "Polar H10 12345678"

Without it: a video file instead of the webcam (its frames stamped by their presentation
time) and a virtual strap (a bumble GATT peripheral following a calm then stressed script)::

    python examples/webcam_heart_rate.py --video clip.mp4 --virtual-strap --speed 2

At the end it prints what the face analyzer saw: frames analysed per second, frames dropped
because inference fell behind (the newest frame wins), frames without a face, and the
capture-to-bus latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

from wearsdk import PipelineConfig, ScaledClock, Session
from wearsdk.analyzers import FaceAnalyzer
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import BleTransport, OsBleTransport, VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator, Phase

STRAP = "Example strap"


@contextlib.asynccontextmanager
async def strap_transport(
    args: argparse.Namespace, clock: ScaledClock
) -> AsyncIterator[BleTransport]:
    """The real Bluetooth stack, or a virtual link with a simulated strap on it."""
    if not args.virtual_strap:
        async with OsBleTransport() as ble:
            yield ble
        return
    half = args.seconds / 2
    script = ArousalScript((Phase("calm", half, 0.15, 0.3), Phase("stress", half, 0.85, -0.5)))
    async with VirtualLink() as link:
        twin = VirtualHeartRateStrap(
            await link.add_peripheral(name=STRAP), HeartSimulator(script), clock, name=STRAP
        )
        async with twin, link.central() as ble:
            yield ble


async def main(args: argparse.Namespace) -> int:
    clock = ScaledClock(args.speed)
    face = FaceAnalyzer(camera=args.camera, video=args.video, model_path=args.face_model)
    config = PipelineConfig(window_s=10.0, baseline_s=20.0)
    async with strap_transport(args, clock) as ble, Session(clock=clock, pipeline=config) as s:
        start = clock.now()
        s.add(HeartRateStrap(ble, name=args.strap or STRAP))
        s.add(face)
        async for est in s.estimates():
            if est.revised:
                continue
            valence = "  n/a" if est.valence is None else f"{est.valence:+.2f}"
            print(
                f"t={est.window_end - start:5.1f}s  "
                f"arousal {est.arousal:.2f} (conf {est.confidence:.2f})  "
                f"valence {valence} (conf {est.valence_confidence:.2f})  "
                f"from {', '.join(est.modalities)}",
                flush=True,
            )
            if est.window_end - start >= args.seconds:
                break
        elapsed = (clock.now() - start) / args.speed
    st = face.stats
    q = st.latency_quantiles()
    print(
        f"face: {st.analysed} frames analysed ({st.analysed / elapsed:.1f}/s), "
        f"{st.dropped} dropped, {st.no_face} without a face, {st.unusable} unusable, "
        f"latency p50 {1000 * q['p50']:.0f} ms p95 {1000 * q['p95']:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="INDEX", help="webcam index (0: default)")
    source.add_argument("--video", metavar="FILE", help="a video file instead of the webcam")
    parser.add_argument("--face-model", metavar="PATH", help="face_landmarker.task")
    parser.add_argument("--strap", metavar="NAME", help="the strap's advertised name")
    parser.add_argument("--virtual-strap", action="store_true", help="simulate the strap")
    parser.add_argument("--seconds", type=float, default=60.0, help="session seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="x real time (videos only)")
    arguments = parser.parse_args()
    if arguments.camera is not None and arguments.speed != 1.0:
        parser.error("a camera runs in real time: --speed 1")
    raise SystemExit(asyncio.run(main(arguments)))
