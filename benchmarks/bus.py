"""Event bus benchmark: latency and throughput against plain asyncio.Queue fan-out.

For N subscribers (1, 10, 100):
- throughput: a producer publishes M messages without waiting, N consumer tasks drain them;
  messages delivered per second (M x N / elapsed). Baseline: one ``asyncio.Queue`` per
  consumer, ``put_nowait`` to each (the hand-written fan-out the bus replaces).
- latency: the producer publishes one message every ~0.5 ms of loop time; each consumer
  records receive time minus publish time (``time.perf_counter``); p50 and p99 over all
  deliveries. Same baseline.

Usage: python -m benchmarks.bus [--messages M] [--latency-messages K]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import cast

import numpy as np

from wearsdk import Bus, HeartRate, Subscription


def _payload(i: int) -> HeartRate:
    return HeartRate(t=float(i), source="bench", hr_bpm=60.0)


async def bus_throughput(n_subs: int, n_msgs: int) -> float:
    bus = Bus()
    subs = [bus.subscribe("physio/+/hr", maxsize=n_msgs + 1) for _ in range(n_subs)]
    payload = _payload(0)
    done = 0

    async def consume(sub) -> None:  # type: ignore[no-untyped-def]
        nonlocal done
        async for _ in sub:
            done += 1

    tasks = [asyncio.create_task(consume(s)) for s in subs]
    t0 = time.perf_counter()
    for i in range(n_msgs):
        bus.publish_nowait("physio/bench/hr", payload)
        if i % 256 == 255:
            await asyncio.sleep(0)
    bus.close()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    assert done == n_subs * n_msgs
    return done / elapsed


async def queue_throughput(n_subs: int, n_msgs: int) -> float:
    queues: list[asyncio.Queue[HeartRate | None]] = [
        asyncio.Queue(n_msgs + 1) for _ in range(n_subs)
    ]
    payload = _payload(0)
    done = 0

    async def consume(q: asyncio.Queue[HeartRate | None]) -> None:
        nonlocal done
        while (await q.get()) is not None:
            done += 1

    tasks = [asyncio.create_task(consume(q)) for q in queues]
    t0 = time.perf_counter()
    for i in range(n_msgs):
        for q in queues:
            q.put_nowait(payload)
        if i % 256 == 255:
            await asyncio.sleep(0)
    for q in queues:
        q.put_nowait(None)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    assert done == n_subs * n_msgs
    return done / elapsed


async def _latency(
    n_subs: int,
    n_msgs: int,
    setup: Callable[
        [], tuple[Callable[[float], None], list[Callable[[], Awaitable[float | None]]]]
    ],
) -> tuple[float, float]:
    publish, receivers = setup()
    lat: list[float] = []

    async def consume(recv: Callable[[], Awaitable[float | None]]) -> None:
        while (sent := await recv()) is not None:
            lat.append(time.perf_counter() - sent)

    tasks = [asyncio.create_task(consume(r)) for r in receivers]
    await asyncio.sleep(0)
    for _ in range(n_msgs):
        publish(time.perf_counter())
        await asyncio.sleep(0.0005)
    publish(-1.0)
    await asyncio.gather(*tasks)
    arr = np.array(lat) * 1e6
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _bus_setup(
    n_subs: int,
) -> Callable[[], tuple[Callable[[float], None], list[Callable[[], Awaitable[float | None]]]]]:
    def setup() -> tuple[Callable[[float], None], list[Callable[[], Awaitable[float | None]]]]:
        bus = Bus()
        subs = [bus.subscribe("physio/+/hr") for _ in range(n_subs)]

        def publish(ts: float) -> None:
            bus.publish_nowait("physio/bench/hr", HeartRate(t=ts, source="b", hr_bpm=60.0))

        def make(sub: Subscription) -> Callable[[], Awaitable[float | None]]:
            async def recv() -> float | None:
                ev = cast(HeartRate, (await sub.receive()).payload)
                return None if ev.t < 0 else ev.t

            return recv

        return publish, [make(s) for s in subs]

    return setup


def _queue_setup(
    n_subs: int,
) -> Callable[[], tuple[Callable[[float], None], list[Callable[[], Awaitable[float | None]]]]]:
    def setup() -> tuple[Callable[[float], None], list[Callable[[], Awaitable[float | None]]]]:
        queues: list[asyncio.Queue[HeartRate]] = [asyncio.Queue(4096) for _ in range(n_subs)]

        def publish(ts: float) -> None:
            ev = HeartRate(t=ts, source="b", hr_bpm=60.0)
            for q in queues:
                q.put_nowait(ev)

        def make(q: asyncio.Queue[HeartRate]) -> Callable[[], Awaitable[float | None]]:
            async def recv() -> float | None:
                ev = await q.get()
                return None if ev.t < 0 else ev.t

            return recv

        return publish, [make(q) for q in queues]

    return setup


async def main_async(n_msgs: int, n_lat: int, repeats: int) -> None:
    print(
        f"bus benchmark: {n_msgs} messages for throughput, {n_lat} for latency, best of {repeats}"
    )
    print(
        f"{'subs':>5} | {'bus msg/s':>11} {'queue msg/s':>11} {'ratio':>6} | "
        f"{'bus p50 us':>10} {'bus p99 us':>10} {'q p50 us':>9} {'q p99 us':>9}"
    )
    for n_subs in (1, 10, 100):
        m = max(1000, n_msgs // n_subs)
        bt = max([await bus_throughput(n_subs, m) for _ in range(repeats)])
        qt = max([await queue_throughput(n_subs, m) for _ in range(repeats)])
        bl = [await _latency(n_subs, n_lat, _bus_setup(n_subs)) for _ in range(repeats)]
        ql = [await _latency(n_subs, n_lat, _queue_setup(n_subs)) for _ in range(repeats)]
        b50, b99 = statistics.median(x[0] for x in bl), statistics.median(x[1] for x in bl)
        q50, q99 = statistics.median(x[0] for x in ql), statistics.median(x[1] for x in ql)
        print(
            f"{n_subs:>5} | {bt:>11,.0f} {qt:>11,.0f} {bt / qt:>6.2f} | "
            f"{b50:>10.1f} {b99:>10.1f} {q50:>9.1f} {q99:>9.1f}"
        )
    print("ratio = bus throughput / asyncio.Queue fan-out throughput (same process, same run)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--latency-messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.messages, args.latency_messages, args.repeats))


if __name__ == "__main__":
    main()
