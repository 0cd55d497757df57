"""MQTT bridge benchmark against a local mosquitto (started here), with a plain aiomqtt baseline.

1. Throughput: N estimates published on the bus, carried by the bridge, counted by a subscriber
   on the broker; QoS 0 and QoS 1. Baseline: a plain aiomqtt loop publishing the same JSON
   payloads one by one (``await client.publish``), measured in the same run.
2. CPU per 100 devices: 100 sources each publishing one estimate and one device status per
   second for 10 s through one bridge; CPU time of this process / wall time (% of one core).

Usage: python -m benchmarks.mqtt [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import aiomqtt

from tests.io.mosquitto import Mosquitto
from wearsdk import Bus, Consent, DeviceStatus, Estimate, SessionClock
from wearsdk.io.mqtt import MqttBridge, MqttConfig


def _estimate(i: int) -> Estimate:
    return Estimate(
        t=float(i), window_start=i - 60.0, window_end=float(i), arousal=0.5, confidence=0.7
    )


async def _count(port: int, topic: str, n: int, done: asyncio.Future[float]) -> None:
    got = 0
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"bench-{topic}") as client:
        await client.subscribe(topic, qos=1)
        done.get_loop().call_soon(lambda: None)
        async for _ in client.messages:
            got += 1
            if got >= n:
                done.set_result(time.perf_counter())
                return


async def bridge_rate(broker: Mosquitto, n: int, qos: int) -> float:
    bus = Bus()
    bus.bind_loop()
    clock = SessionClock()
    session = f"bq{qos}"
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    counter = asyncio.create_task(_count(broker.port, f"wearsdk/{session}/#", n, done))
    await asyncio.sleep(0.3)
    qos_map = {"estimate": qos, "status": qos, "features": qos, "annotation": qos, "samples": 0}
    config = MqttConfig(url=broker.url, session=session, qos=qos_map, outbox_size=n + 10)
    bridge = MqttBridge(bus, clock, config, consent=Consent.simulated_participant())
    task = asyncio.create_task(bridge.run())
    await bridge.connected.wait()
    t0 = time.perf_counter()
    for i in range(n):
        bus.publish_nowait("affect/estimate", _estimate(i))
        if i % 500 == 499:
            await asyncio.sleep(0)
    t1 = await asyncio.wait_for(done, 120)
    task.cancel()
    counter.cancel()
    bus.close()
    return n / (t1 - t0)


async def plain_rate(broker: Mosquitto, n: int, qos: int) -> float:
    payload = _estimate(0).model_dump_json().encode()
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    counter = asyncio.create_task(_count(broker.port, f"plain/{qos}", n, done))
    await asyncio.sleep(0.3)
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"plain{qos}") as client:
        t0 = time.perf_counter()
        for _ in range(n):
            await client.publish(f"plain/{qos}", payload, qos=qos)
        t1 = await asyncio.wait_for(done, 120)
    counter.cancel()
    return n / (t1 - t0)


async def cpu_per_100_devices(broker: Mosquitto, seconds: float = 10.0) -> float:
    bus = Bus()
    bus.bind_loop()
    clock = SessionClock()
    config = MqttConfig(url=broker.url, session="fleet", subscribe_inbound=False)
    bridge = MqttBridge(bus, clock, config, consent=Consent.simulated_participant())
    task = asyncio.create_task(bridge.run())
    await bridge.connected.wait()
    c0, w0 = time.process_time(), time.perf_counter()
    k = 0
    while time.perf_counter() - w0 < seconds:
        tick = time.perf_counter()
        for d in range(100):
            bus.publish_nowait("affect/estimate", _estimate(k))
            bus.publish_nowait(
                f"device/dev{d}/status",
                DeviceStatus(t=float(k), source=f"dev{d}", state="connected"),
            )
        k += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))
    cpu = time.process_time() - c0
    wall = time.perf_counter() - w0
    task.cancel()
    bus.close()
    return 100.0 * cpu / wall


async def main_async(n: int) -> None:
    logging.getLogger("mqtt").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp))
        broker.start()
        try:
            print(f"MQTT benchmark, {n} estimates each, local mosquitto")
            print(f"{'':<30} {'msg/s':>10}")
            for qos in (0, 1):
                b = await bridge_rate(broker, n, qos)
                p = await plain_rate(broker, n, qos)
                print(f"{f'bridge QoS {qos}':<30} {b:>10,.0f}")
                print(f"{f'plain aiomqtt loop QoS {qos}':<30} {p:>10,.0f}   ratio {b / p:.2f}")
            cpu = await cpu_per_100_devices(broker)
            print(
                f"bridge CPU for 100 devices (1 estimate + 1 status /s each): {cpu:.1f} % of a core"
            )
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(main_async(args.n))


if __name__ == "__main__":
    main()
