"""Automotive prototype: a driver-stress monitor publishing stress levels to MQTT (QoS 1).

A heart-rate strap feeds the session; the session's
:class:`~wearsdk.affect.StressLevelTracker` (``PipelineConfig.stress_levels``: thresholds with
hysteresis, a minimum dwell time and a confidence gate) gives each estimate a stress level, and
every change of level is published on the bus topic
``affect/stress``, which an :class:`~wearsdk.io.mqtt.MqttBridge` carries to the vehicle's
broker as ``wearsdk/<session>/affect/stress`` with QoS 1, next to the strap's connection
status (``wearsdk/<session>/<source>/status``). Only estimates and status leave the process.

It survives strap drop-outs: the driver reconnects by itself, the windows without data are
flagged and less confident, and the tracker holds the last level instead of guessing. The
bridge keeps an outbox across broker restarts.

Without hardware it drives a virtual strap through calm, stress and recovery and can drop the
strap's link on purpose (``--drop-at 40 --drop-for 8``)::

    python examples/driver_stress_monitor.py --mqtt mqtt://127.0.0.1:1883 --duration 90 \\
        --speed 10 --drop-at 40 --drop-for 8
"""

from __future__ import annotations

import argparse
import asyncio

from wearsdk import Consent, DeviceStatus, ExportPolicy, PipelineConfig, ScaledClock, Session
from wearsdk.affect import StressLevelConfig
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import VirtualLink
from wearsdk.io.mqtt import MqttBridge, MqttConfig
from wearsdk.sim import ArousalScript, HeartSimulator

STRAP = "Driver HR strap"


async def monitor(args: argparse.Namespace) -> int:
    clock = ScaledClock(args.speed)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(args.duration), seed=3)
    # A car does not want an alert that flickers: levels change only past a threshold plus
    # hysteresis and are held for a minimum dwell. A strap alone gives heart rate only, whose
    # arousal range is narrower than with EDA (docs/estimates.md: the model's "no EDA"
    # variant), so this monitor sets its thresholds lower than the defaults (0.5 / 0.75).
    levels = StressLevelConfig(medium=0.42, high=0.52, hysteresis=0.05, min_dwell_s=10.0)
    pipeline = PipelineConfig(window_s=15.0, hop_s=1.0, baseline_s=10.0, stress_levels=levels)
    mqtt = MqttConfig(
        url=args.mqtt,
        session="cabin-1",
        policy=ExportPolicy.ESTIMATES,
        qos={"estimate": 1, "status": 1, "features": 1, "annotation": 1, "samples": 0},
        subscribe_inbound=False,
    )
    # the simulated wearer's consent; a real deployment loads the driver's record
    consent = Consent.simulated_participant(export=ExportPolicy.ESTIMATES)
    changes = 0
    async with VirtualLink() as link:
        twin = VirtualHeartRateStrap(
            await link.add_peripheral(name=STRAP), heart, clock, name=STRAP
        )
        async with (
            link.central() as ble,
            Session(clock=clock, pipeline=pipeline, consent=consent) as session,
            asyncio.TaskGroup() as tasks,
            twin,
        ):
            bridge = MqttBridge(
                session.bus, clock, mqtt, consent=consent, topics=("affect/stress", "device/#")
            )
            # a sink of the session: when the session ends, the last messages leave first
            session.add_sink(bridge, name="mqtt")
            session.add(HeartRateStrap(ble, name=STRAP, stale_after_s=3.0))
            start = clock.now()

            async def link_watch() -> None:
                async with session.bus.subscribe("device/+/status") as sub:
                    async for message in sub:
                        status = message.payload
                        assert isinstance(status, DeviceStatus)
                        print(f"t={status.t - start:5.1f}s strap {status.state}", flush=True)

            async def drop_out() -> None:
                await session.sleep(args.drop_at)
                print(f"t={clock.now() - start:5.1f}s dropping the strap's link", flush=True)
                await twin.drop_link(vanish_s=args.drop_for)

            watch_task = tasks.create_task(link_watch())
            if args.drop_at is not None:
                tasks.create_task(drop_out())
            level = None
            async for estimate in session.estimates():
                if estimate.stress_level is not None and estimate.stress_level != level:
                    level = estimate.stress_level
                    changes += 1
                    session.bus.publish_nowait("affect/stress", estimate)
                    print(
                        f"t={estimate.t - start:5.1f}s stress level {level} "
                        f"(arousal {estimate.arousal:.2f}, confidence {estimate.confidence:.2f})",
                        flush=True,
                    )
                if estimate.t - start >= args.duration:
                    break
            watch_task.cancel()
    # the session has ended: the bridge delivered what it held (or says what it could not)
    for report in session.sink_reports:
        if not report.ok:
            print(f"warning: {report.describe()}", flush=True)
    print(f"published {changes} level changes; bridge sent {bridge.stats.sent}", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="the vehicle's broker")
    parser.add_argument("--duration", type=float, default=180.0, help="session seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="times faster than real time")
    parser.add_argument("--drop-at", type=float, default=None, help="drop the strap at S")
    parser.add_argument("--drop-for", type=float, default=8.0, help="strap out of range S")
    raise SystemExit(asyncio.run(monitor(parser.parse_args())))
