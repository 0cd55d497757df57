"""A custom GATT sensor, described as data: a TOML profile, the generic driver and its twin.

``profiles/acme_eda_band.toml`` describes a made-up EDA wristband (its service, its
characteristics, the start/stop writes, the notification layout and the conversion to µS).
The generic :class:`~wearsdk.drivers.gatt_profile.GattProfileDevice` driver reads it and
needs no code; :class:`~wearsdk.drivers.gatt_profile.VirtualGattProfileDevice` serves the
same profile byte for byte on a virtual Bluetooth link, so the profile can be tried before
the firmware exists. With a real board: ``wearsdk stream --driver gatt-profile --option
profile=examples/profiles/acme_eda_band.toml --device "ACME EDA"``, ``wearsdk run`` with
``options = { profile = "..." }`` in the session file, or
``GattProfileDevice(OsBleTransport(), "examples/profiles/acme_eda_band.toml")``.

Run: ``python examples/custom_gatt_profile.py --duration 30 --speed 5``
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import numpy as np

from wearsdk import Gap, PipelineConfig, SampleBlock, ScaledClock, Session
from wearsdk.drivers.gatt_profile import (
    GattProfileDevice,
    VirtualGattProfileDevice,
    load_profile,
)
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator

PROFILE = Path(__file__).with_name("profiles") / "acme_eda_band.toml"


async def main(duration_s: float, speed: float) -> int:
    profile = load_profile(PROFILE)  # validated: a bad profile is a ConfigError naming the field
    name = profile.advertised_name or "ACME EDA"
    clock = ScaledClock(speed)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(duration_s), seed=2)
    blocks = samples = gaps = 0
    values: list[float] = []
    async with VirtualLink() as link:
        twin = VirtualGattProfileDevice(
            await link.add_peripheral(name=name), heart, clock, name=name, profile=profile
        )
        async with (
            link.central() as ble,
            Session(clock=clock, pipeline=PipelineConfig(window_s=10.0, baseline_s=5.0)) as session,
            twin,
        ):
            source = session.add(GattProfileDevice(ble, profile, name=name))
            print(f"profile {profile.name}: {profile.description}", flush=True)
            async with session.bus.subscribe(f"physio/{source}/{profile.stream}") as sub:
                end = clock.now() + duration_s
                while clock.now() < end:
                    try:
                        async with asyncio.timeout(clock.real_delay_s(2.0)):
                            message = await sub.receive()
                    except TimeoutError:
                        continue
                    payload = message.payload
                    if isinstance(payload, Gap):
                        gaps += 1
                    elif isinstance(payload, SampleBlock):
                        blocks += 1
                        samples += len(payload)
                        values += payload.values[:, 0].tolist()
    rate = samples / duration_s
    eda = np.asarray(values)
    print(f"{blocks} notifications, {samples} samples ({rate:.1f} Hz), {gaps} gaps", flush=True)
    print(
        f"skin conductance {np.nanmin(eda):.2f}-{np.nanmax(eda):.2f} uS, "
        f"mean {np.nanmean(eda):.2f} uS",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="session seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="times faster than real time")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.duration, args.speed)))
