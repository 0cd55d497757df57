"""Embed wearsdk in an app: ``async with Session`` and a loop over the estimates.

Runs against a virtual heart-rate strap on an in-process virtual Bluetooth link (no hardware),
going through calm, stress and recovery. For a real strap, replace the virtual link and the
twin by ``OsBleTransport()`` and the strap's advertised name::

    async with OsBleTransport() as ble, Session() as session:
        session.add(HeartRateStrap(ble, name="Polar H10 12345678"))
        async for estimate in session.estimates(): ...

Run: ``python examples/app_embedding.py --duration 60 --speed 10``
"""

from __future__ import annotations

import argparse
import asyncio

from wearsdk import PipelineConfig, ScaledClock, Session
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator

STRAP = "Example HR strap"


async def main(duration_s: float, speed: float) -> int:
    clock = ScaledClock(speed)  # session seconds run `speed` times faster than real ones
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(duration_s), seed=1)
    # short windows so that a one-minute example shows a few estimates
    pipeline = PipelineConfig(window_s=10.0, hop_s=1.0, baseline_s=8.0)
    shown = 0
    async with VirtualLink() as link:
        twin = VirtualHeartRateStrap(
            await link.add_peripheral(name=STRAP), heart, clock, name=STRAP
        )
        async with (
            link.central() as ble,
            Session(clock=clock, pipeline=pipeline) as session,
            twin,
        ):
            session.add(HeartRateStrap(ble, name=STRAP))
            start = clock.now()
            # the app's own loop: one estimate per window hop
            async for estimate in session.estimates():
                elapsed = estimate.t - start
                state = "calibrating" if "calibrating" in estimate.flags else "ready"
                print(
                    f"t={elapsed:5.1f}s arousal={estimate.arousal:.2f} "
                    f"confidence={estimate.confidence:.2f} {state}",
                    flush=True,
                )
                shown += 1
                if elapsed >= duration_s:
                    break
    print(f"{shown} estimates", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="session seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="times faster than real time")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.duration, args.speed)))
