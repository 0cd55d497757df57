"""Reliability under faults, over a day and at scale: one table of figures.

1. Fault scenarios (benchmarks/fault_scenarios.py) with their invariants: a heart-rate strap
   and a Polar H10 through ``--cycles`` random link drops, 1-120 s absences, notification
   bursts and (H10) sensor clock resets, with malformed, lost and reordered packets mixed in;
   a strap that connects but never notifies; an ATT MTU too small; estimates across a gap.
2. Soak: a 24-hour session at maximum speed (simulated RR, heart rate and EDA through the
   session's whole processing stage, lossless ``block`` publishing), RSS sampled every hour.
3. Scale, on one core (the process is pinned to CPU 0): N virtual BLE straps (bumble
   peripherals on one virtual link, real GATT, one driver each, real time) and N sources at
   the session/bus level without BLE, with CPU %, notification-to-subscriber latency p99,
   sample-to-estimate latency and memory per device.

Usage: python -m benchmarks.reliability [--cycles 100] [--soak-hours 24]
           [--ble 10,100] [--bus 10,100,500] [--window 10] [--skip faults,soak,ble,bus]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import os
import resource
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.fault_scenarios import (
    ScenarioResult,
    estimates_after_gap,
    heart_rate_faults,
    mtu_too_small,
    polar_faults,
    silent_device,
)
from wearsdk import (
    Estimate,
    HeartRate,
    PipelineConfig,
    SampleBlock,
    ScaledClock,
    Session,
    SessionClock,
    Source,
    SourceContext,
)
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator
from wearsdk.testing import check_no_task_leaks

_SCALE_PIPELINE = PipelineConfig(window_s=10.0, hop_s=1.0, baseline_s=5.0)
"""Short windows, so that estimates flow within the measurement window."""


def rss_mb() -> float:
    """Resident set size now (Linux ``/proc``; else the peak from ``getrusage``)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- 1. fault scenarios ----------------------------------------------------------------------


async def run_faults(cycles: int) -> list[ScenarioResult]:
    """The long versions of every fault scenario."""
    out = [
        await heart_rate_faults(cycles=cycles, seed=11, name=f"hr: {cycles} drops/vanish/bursts"),
        await heart_rate_faults(
            cycles=max(3, cycles // 10),
            kinds=("drop", "burst"),
            malformed_rate=0.1,
            seed=12,
            name="hr: malformed 10%",
        ),
        await polar_faults(
            cycles=cycles, seed=13, name=f"h10: {cycles} faults, 5% lost/bad/late frames"
        ),
        await silent_device(silences=3),
        await mtu_too_small(),
        await estimates_after_gap(),
    ]
    return out


def print_faults(results: Sequence[ScenarioResult]) -> None:
    """The fault table."""
    print("\nFault scenarios (invariants: order, gaps, truth, reconnect <= 5 s, confidence,")
    print("tasks, bounded queues)")
    print(f"{'scenario':<44} {'faults':>6} {'result':>6} {'real s':>7}  counts / violations")
    for r in results:
        verdict = "pass" if r.ok else "FAIL"
        counts = ", ".join(f"{k}={v}" for k, v in r.counts.items())
        print(f"{r.name:<44} {r.faults:>6} {verdict:>6} {r.seconds:>7.1f}  {counts}")
        for v in r.violations[:5]:
            print(f"{'':<68}{v.invariant}: {v.detail}")


# -- 2. soak ---------------------------------------------------------------------------------


class SimulatedWearer(Source):
    """RR, heart rate and EDA of a simulated day, published as fast as the session takes them.

    Uses ``await bus.publish`` (lossless: waits for the processing stage's ``block`` queue).
    """

    def __init__(self, seconds: float, *, seed: int = 0, eda_hz: float = 8.0) -> None:
        self.seconds = seconds
        self.heart = HeartSimulator(ArousalScript.calm_stress_recovery(seconds), seed=seed)
        self.rng = np.random.default_rng(seed)
        self.eda_hz = eda_hz
        self.t_done = 0.0
        self.done = asyncio.Event()
        """Set once the whole day is published."""
        self.rss: list[tuple[float, float]] = []
        """``(simulated hour, RSS MB)`` at every whole hour (and at the start)."""

    @property
    def identity(self) -> str:
        """A fixed identity."""
        return "simulated-wearer"

    async def run(self, ctx: SourceContext) -> None:
        """Publish one second at a time until the day is over."""
        bus, sid = ctx.bus, ctx.source_id
        last_beat = 0.0
        n_eda = round(self.eda_hz)
        for second in range(1, int(self.seconds) + 1):
            t = float(second)
            rr = self.heart.beats_until(t)
            if rr:
                beats = last_beat + np.cumsum(rr)
                last_beat = float(beats[-1])
                await bus.publish(
                    f"physio/{sid}/rr",
                    SampleBlock(
                        source=sid,
                        stream="rr",
                        unit="s",
                        t=beats,
                        values=np.asarray(rr)[:, None],
                        channels=("rr",),
                    ),
                )
                await bus.publish(
                    f"physio/{sid}/hr",
                    HeartRate(t=t, source=sid, hr_bpm=60.0 * len(rr) / sum(rr), rr_s=tuple(rr)),
                )
            te = t - 1 + np.arange(1, n_eda + 1) / self.eda_hz
            scl = 4.0 + 1.5 * np.sin(2 * np.pi * te / 1800.0) + self.rng.normal(0, 0.01, n_eda)
            await bus.publish(
                f"physio/{sid}/eda",
                SampleBlock(
                    source=sid,
                    stream="eda",
                    unit="uS",
                    t=te,
                    values=scl[:, None],
                    channels=("eda",),
                    nominal_rate_hz=self.eda_hz,
                ),
            )
            self.t_done = t
            if second % 3600 == 0 or second == 1:
                gc.collect()
                self.rss.append((round(t / 3600.0, 3), rss_mb()))
            await asyncio.sleep(0)  # let the processing keep up, as real time would
        self.done.set()


async def run_soak(hours: float) -> dict[str, Any]:
    """A simulated day through a session at maximum speed, RSS sampled every simulated hour."""
    seconds = hours * 3600.0
    source = SimulatedWearer(seconds)
    estimates = 0
    started = time.perf_counter()
    cpu0 = time.process_time()
    before = set(asyncio.all_tasks())
    async with Session(clock=SessionClock(), pipeline=PipelineConfig()) as session:
        stream = session.estimates(maxsize=100_000)
        session.add(source)

        async def count() -> None:
            nonlocal estimates
            async for _ in stream:
                estimates += 1

        counter = asyncio.create_task(count())
        await source.done.wait()
        await asyncio.sleep(0.5)
        samples = source.rss
        bus_stats = session.bus.stats
        counter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counter
    leaks = check_no_task_leaks(before)
    wall = time.perf_counter() - started
    first_hour = next((r for h, r in samples if h >= 1.0), samples[0][1])
    return {
        "hours": hours,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu0,
        "speed": seconds / wall,
        "estimates": estimates,
        "rss": samples,
        "growth_mb": samples[-1][1] - first_hour,
        "dropped": sum(s.dropped for s in bus_stats.subscriptions),
        "leaks": len(leaks),
    }


def print_soak(s: dict[str, Any]) -> None:
    """The soak table."""
    print(
        f"\nSoak: {s['hours']:g} h simulated in {s['wall_s']:.0f} s ({s['speed']:.0f}x real "
        f"time, CPU {s['cpu_s']:.0f} s), {s['estimates']} estimates, {s['dropped']} dropped, "
        f"{s['leaks']} tasks left"
    )
    every = max(1, round(s["hours"] / 8))
    marks = [row for row in s["rss"] if row[0] < 1 or round(row[0]) % every == 0]
    print("  hour   " + " ".join(f"{h:>6.0f}" for h, _ in marks))
    print("  RSS MB " + " ".join(f"{r:>6.1f}" for _, r in marks))
    print(f"  growth from hour 1 to the end: {s['growth_mb']:+.1f} MB")


# -- 3. scale --------------------------------------------------------------------------------


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) * 1e3 if values else math.nan


async def _latency_probe(
    session: Session, into: list[float], est: list[float], clock: SessionClock
) -> None:
    """Notification arrival (HeartRate.t) to subscriber, and window end to estimate."""
    async with session.bus.subscribe(("physio/+/hr", "affect/estimate"), maxsize=100_000) as sub:
        async for message in sub:
            now = clock.now()
            payload = message.payload
            if isinstance(payload, HeartRate):
                into.append(now - payload.t)
            elif isinstance(payload, Estimate):
                est.append(now - payload.window_end)


async def _first_estimate(est: list[float], timeout_s: float = 40.0) -> None:
    """Wait until estimates flow (the windows filled), at most ``timeout_s``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while not est:  # noqa: ASYNC110 - polling a list the probe fills
                await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


async def scale_ble(n: int, window_s: float) -> dict[str, Any]:
    """N virtual straps and N drivers in one session, at real time."""
    clock = ScaledClock(1.0)
    lat: list[float] = []
    est: list[float] = []
    gc.collect()
    tracemalloc.start()  # memory per device: the Python heap traced while devices are added
    t_setup = time.perf_counter()
    async with VirtualLink() as link, contextlib.AsyncExitStack() as stack:
        twins = []
        for i in range(n):
            peripheral = await link.add_peripheral(name=f"scale strap {i:04d}")
            heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=i)
            twins.append(
                await stack.enter_async_context(
                    VirtualHeartRateStrap(peripheral, heart, clock, name=f"scale strap {i:04d}")
                )
            )
        ble = await stack.enter_async_context(link.central())
        session = await stack.enter_async_context(Session(clock=clock, pipeline=_SCALE_PIPELINE))
        probe = asyncio.create_task(_latency_probe(session, lat, est, clock))
        drivers = [
            HeartRateStrap(ble, name=f"scale strap {i:04d}", connect_timeout_s=60.0)
            for i in range(n)
        ]
        for d in drivers:
            session.add(d)
        while sum(d.notifications > 0 for d in drivers) < n:
            await asyncio.sleep(0.2)
            if time.perf_counter() - t_setup > 900:
                break
        connected = sum(d.notifications > 0 for d in drivers)
        setup_s = time.perf_counter() - t_setup
        await _first_estimate(est)
        lat.clear()
        gc.collect()
        heap = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        notes = sum(d.notifications for d in drivers)
        overflowed = sum(d.overflowed for d in drivers)
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
    return {
        "n": n,
        "connected": connected,
        "setup_s": setup_s,
        "cpu": cpu,
        "p99_ms": _p99(lat),
        "p50_ms": float(np.median(lat)) * 1e3 if lat else math.nan,
        "estimate_ms": float(np.median(est)) * 1e3 if est else math.nan,
        "kb_per_device": heap / 1024 / n,
        "notifications": notes,
        "overflowed": overflowed,
    }


class _BusSource(Source):
    """A source without BLE: RR and heart rate once a (real) second, like a strap."""

    def __init__(self, i: int) -> None:
        self.i = i
        self.heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=i)

    @property
    def identity(self) -> str:
        return f"bus-source-{self.i}"

    async def run(self, ctx: SourceContext) -> None:
        t0 = ctx.clock.now()
        await asyncio.sleep(self.i % 100 / 100)  # spread the sources over the second
        last = ctx.clock.now()
        while True:
            now = ctx.clock.now()
            rr = self.heart.beats_until(now - t0) or [now - last]
            last = now
            beats = now - np.cumsum(rr[::-1])[::-1] + np.asarray(rr)
            ctx.publish_event(
                "hr", HeartRate(t=now, source=ctx.source_id, hr_bpm=70.0, rr_s=tuple(rr))
            )
            ctx.publish_block(
                SampleBlock(
                    source=ctx.source_id,
                    stream="rr",
                    unit="s",
                    t=beats,
                    values=np.asarray(rr)[:, None],
                    channels=("rr",),
                )
            )
            await asyncio.sleep(1.0)


async def scale_bus(n: int, window_s: float) -> dict[str, Any]:
    """N sources at the session/bus level (no BLE), at real time."""
    clock = SessionClock()
    lat: list[float] = []
    est: list[float] = []
    gc.collect()
    tracemalloc.start()
    async with Session(clock=clock, pipeline=_SCALE_PIPELINE) as session:
        probe = asyncio.create_task(_latency_probe(session, lat, est, clock))
        for i in range(n):
            session.add(_BusSource(i))
        await _first_estimate(est)
        lat.clear()
        gc.collect()
        heap = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
    return {
        "n": n,
        "connected": n,
        "setup_s": 0.0,
        "cpu": cpu,
        "p99_ms": _p99(lat),
        "p50_ms": float(np.median(lat)) * 1e3 if lat else math.nan,
        "estimate_ms": float(np.median(est)) * 1e3 if est else math.nan,
        "kb_per_device": heap / 1024 / n,
        "notifications": len(lat),
        "overflowed": 0,
    }


def print_scale(title: str, rows: Sequence[dict[str, Any]]) -> None:
    """A scale table."""
    print(f"\n{title}")
    print("(latency: notification arrival -> bus subscriber; sample->estimate: window end ->")
    print(" estimate received, median; kB/device: Python heap traced while the devices started)")
    print(
        f"{'N':>5} {'live':>5} {'setup s':>8} {'CPU %':>6} {'latency p50 ms':>15} "
        f"{'p99 ms':>8} {'sample->estimate ms':>20} {'kB/device':>10} {'overflowed':>10}"
    )
    for r in rows:
        print(
            f"{r['n']:>5} {r['connected']:>5} {r['setup_s']:>8.1f} {r['cpu']:>6.1f} "
            f"{r['p50_ms']:>15.2f} {r['p99_ms']:>8.2f} {r['estimate_ms']:>20.0f} "
            f"{r['kb_per_device']:>10.1f} {r['overflowed']:>10}"
        )


async def main_async(args: argparse.Namespace) -> None:
    """Run the selected parts and print their tables."""
    skip = set(args.skip.split(",")) if args.skip else set()
    if "faults" not in skip:
        print_faults(await run_faults(args.cycles))
    if "soak" not in skip:
        print_soak(await run_soak(args.soak_hours))
    if "ble" not in skip:
        rows = [await scale_ble(int(n), args.window) for n in args.ble.split(",") if n]
        print_scale("N virtual BLE straps on one core (bumble peripherals, real GATT, 1x)", rows)
    if "bus" not in skip:
        rows = [await scale_bus(int(n), args.window) for n in args.bus.split(",") if n]
        print_scale("N sources on one core at the session/bus level (no BLE, 1x)", rows)


def main() -> None:
    """Command line entry."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cycles", type=int, default=100, help="faults per long scenario")
    p.add_argument("--soak-hours", type=float, default=24.0)
    p.add_argument("--ble", default="10,100", help="numbers of virtual BLE straps (500: see docs)")
    p.add_argument("--bus", default="10,100,500", help="numbers of bus-level sources")
    p.add_argument("--window", type=float, default=10.0, help="measurement window, s")
    p.add_argument("--skip", default="", help="comma-separated: faults,soak,ble,bus")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})  # one core
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
