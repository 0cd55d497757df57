"""Fault scenarios on virtual devices, with every invariant checked (shared by tests/reliability).

Each scenario runs real drivers against virtual twins over a virtual BLE link in a Session on
a fast :class:`~wearsdk.ScaledClock`, injects faults with :class:`~wearsdk.testing.
FaultInjector`, records the bus with :class:`~wearsdk.testing.BusRecorder` and returns a
:class:`ScenarioResult` with the violations of every invariant that applies:

- ``order``: no duplicated or reordered samples per stream;
- ``gaps``: every hole in a stream has a Gap of exactly its extent, and every Gap a hole;
- ``truth``: what the bus carried against what the twin sent (every beat/frame delivered is
  there once, every lost one is under a Gap of the right size);
- ``reconnect``: ``connected`` within 5 s (real) of the peripheral advertising again;
- ``confidence``: estimates go on after a gap, with less confidence than before it;
- ``tasks``: no task left running afterwards; ``bounded``: no queue beyond its bound.

The default test run uses short versions (a handful of faults); ``python -m
benchmarks.reliability`` runs 100 cycles.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from wearsdk import PipelineConfig, ScaledClock, Session, WearError
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.drivers.polar import PolarH10
from wearsdk.drivers.polar._twin import VirtualPolarH10
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator
from wearsdk.testing import (
    BusRecorder,
    FaultInjector,
    Violation,
    check_beats_against_truth,
    check_bounded_queues,
    check_confidence_after_gaps,
    check_frames_against_truth,
    check_gaps_match_discontinuities,
    check_no_task_leaks,
    check_order,
    check_reconnection,
)

__all__ = ["SCENARIOS", "ScenarioResult"]

_2026_NS = 836_179_200_000_000_000  # 2026-07-01 in ns since 2000-01-01: a clock that was set


@dataclass
class ScenarioResult:
    """The outcome of one scenario."""

    name: str
    faults: int = 0
    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No invariant broken."""
        return not self.violations


async def _until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():  # noqa: ASYNC110 - polling observed state
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _flowing(
    rec: BusRecorder, source: str, stream: str, n: int = 2
) -> Callable[[], Awaitable[None]]:
    """An awaitable factory: returns once ``n`` more samples of the stream arrived."""

    async def ready() -> None:
        base = rec.times(source, stream).size
        await _until(lambda: rec.times(source, stream).size >= base + n, 20.0, f"{stream} data")

    return ready


async def heart_rate_faults(
    *,
    cycles: int = 4,
    kinds: tuple[str, ...] = ("drop", "vanish", "burst"),
    vanish_s: tuple[float, float] = (1.0, 120.0),
    malformed_rate: float = 0.0,
    speed: float = 40.0,
    seed: int = 0,
    name: str = "hr",
) -> ScenarioResult:
    """A standard strap through ``cycles`` random faults (and malformed notifications)."""
    result = ScenarioResult(name)
    before = set(asyncio.all_tasks())
    started = time.perf_counter()
    clock = ScaledClock(speed)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=seed)
    label = f"HR fault twin {seed}"
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=label)
        session = Session(clock=clock, pipeline=None)
        async with (
            link.central() as ble,
            session,
            VirtualHeartRateStrap(
                peripheral, heart, clock, name=label, malformed_rate=malformed_rate, seed=seed
            ) as twin,
            BusRecorder(session.bus) as rec,
        ):
            strap = HeartRateStrap(ble, name=label)
            source = session.add(strap)
            faults = FaultInjector(twin, seed=seed)
            ready = _flowing(rec, source, "rr")
            await faults.random_faults(cycles, kinds=kinds, vanish_s=vanish_s, ready=ready)
            await ready()
            result.violations += check_bounded_queues(session.bus, [strap])
            await rec.drain()
    result.violations += check_no_task_leaks(before)
    result.violations += check_order(rec) + check_gaps_match_discontinuities(rec)
    result.violations += check_reconnection(rec, source, faults.returned_at)
    result.violations += check_beats_against_truth(rec, source, list(twin.beats))
    result.faults = len(faults.log)
    result.counts = {
        "beats": int(rec.times(source, "rr").size),
        "gaps": len(rec.gaps(source)),
        "malformed": strap.malformed,
        "reconnects": sum(s.state == "connected" for _, s in rec.statuses) - 1,
    }
    result.seconds = time.perf_counter() - started
    return result


async def polar_faults(
    *,
    cycles: int = 4,
    kinds: tuple[str, ...] = ("drop", "vanish", "burst", "clock_reset"),
    vanish_s: tuple[float, float] = (1.0, 120.0),
    drop_probability: float = 0.05,
    malformed_probability: float = 0.05,
    reorder_probability: float = 0.05,
    hold_s: tuple[float, float] = (0.2, 3.0),
    speed: float = 20.0,
    seed: int = 0,
    name: str = "polar",
) -> ScenarioResult:
    """A Polar H10 (ECG + HR) through random faults, lost/corrupted/reordered frames."""
    result = ScenarioResult(name)
    before = set(asyncio.all_tasks())
    started = time.perf_counter()
    clock = ScaledClock(speed)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=seed)
    label = f"Polar H10 F{seed:07d}"
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=label)
        session = Session(clock=clock, pipeline=None)
        async with (
            link.central() as ble,
            session,
            VirtualPolarH10(
                peripheral,
                heart,
                clock,
                name=label,
                seed=seed,
                clock_origin_ns=_2026_NS,
                drop_probability=drop_probability,
                malformed_probability=malformed_probability,
                reorder_probability=reorder_probability,
                history=1_000_000,
            ) as twin,
            BusRecorder(session.bus) as rec,
        ):
            h10 = PolarH10(ble, name=label)
            source = session.add(h10)
            faults = FaultInjector(twin, seed=seed)
            ready = _flowing(rec, source, "ecg", n=150)
            await faults.random_faults(
                cycles, kinds=kinds, vanish_s=vanish_s, hold_s=hold_s, ready=ready
            )
            await ready()
            result.violations += check_bounded_queues(session.bus, [h10])
            await rec.drain()
    result.violations += check_no_task_leaks(before)
    result.violations += check_order(rec) + check_gaps_match_discontinuities(rec)
    result.violations += check_reconnection(rec, source, faults.returned_at)
    ecg = [f for f in twin.sent if f.measurement_type == 0]
    result.violations += check_frames_against_truth(rec, source, "ecg", ecg, rate_hz=130)
    result.faults = len(faults.log)
    result.counts = {
        "ecg_samples": int(rec.times(source, "ecg").size),
        "gaps": len(rec.gaps(source)),
        "malformed": h10.malformed_frames,
        "late": h10.late_frames,
        "reconnects": sum(s.state == "connected" for _, s in rec.statuses) - 1,
    }
    result.seconds = time.perf_counter() - started
    return result


async def silent_device(*, silences: int = 2, speed: float = 20.0, seed: int = 0) -> ScenarioResult:
    """A strap that accepts the connection but never notifies: dropped, retried, recovered."""
    result = ScenarioResult("silent")
    before = set(asyncio.all_tasks())
    started = time.perf_counter()
    clock = ScaledClock(speed)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=seed)
    label = f"HR silent twin {seed}"
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=label)
        session = Session(clock=clock, pipeline=None)
        async with (
            link.central() as ble,
            session,
            VirtualHeartRateStrap(peripheral, heart, clock, name=label) as twin,
            BusRecorder(session.bus) as rec,
        ):
            twin.paused = True  # from the start: connects, then nothing
            strap = HeartRateStrap(ble, name=label, stale_after_s=4.0)
            source = session.add(strap)

            def stale() -> int:
                return sum(
                    s.state == "disconnected" and (s.detail or "").startswith("no data")
                    for _, s in rec.statuses
                )

            await _until(lambda: stale() >= silences, 30.0, "silent links dropped")
            resumed = time.monotonic()
            twin.paused = False
            await _flowing(rec, source, "rr")()
            waited = time.monotonic() - resumed
            if waited > 5.0 + strap.stale_after_s / speed:
                result.violations.append(
                    Violation("reconnect", f"data {waited:.1f} s after the strap spoke again")
                )
            result.violations += check_bounded_queues(session.bus, [strap])
            await rec.drain()
    result.violations += check_no_task_leaks(before)
    result.violations += check_order(rec) + check_gaps_match_discontinuities(rec)
    result.faults = silences
    result.counts = {"stale_drops": stale(), "beats": int(rec.times(source, "rr").size)}
    result.seconds = time.perf_counter() - started
    return result


async def mtu_too_small(*, seed: int = 0) -> ScenarioResult:
    """A link whose ATT MTU cannot carry a PMD frame: a typed error, nothing left running."""
    result = ScenarioResult("mtu")
    before = set(asyncio.all_tasks())
    started = time.perf_counter()
    clock = ScaledClock(10.0)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(600), seed=seed)
    label = f"Polar H10 M{seed:07d}"
    error: BaseException | None = None
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=label)
        async with (
            link.central(mtu=23) as ble,
            VirtualPolarH10(peripheral, heart, clock, name=label),
        ):
            try:
                async with Session(clock=clock, pipeline=None) as session:
                    session.add(PolarH10(ble, name=label))
                    await asyncio.sleep(30)
            except WearError as exc:
                error = exc
    if error is None or "MTU" not in str(error):
        result.violations.append(Violation("typed-error", f"expected an MTU error, got {error!r}"))
    result.violations += check_no_task_leaks(before)
    result.faults = 1
    result.counts = {"error": type(error).__name__}
    result.seconds = time.perf_counter() - started
    return result


async def estimates_after_gap(
    *, vanish_s: float = 25.0, speed: float = 40.0, seed: int = 3
) -> ScenarioResult:
    """Estimates before, across and after an absence: confidence drops, then they go on."""
    result = ScenarioResult("estimates")
    before = set(asyncio.all_tasks())
    started = time.perf_counter()
    clock = ScaledClock(speed)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=seed)
    label = f"HR estimate twin {seed}"
    config = PipelineConfig(window_s=30.0, hop_s=5.0, baseline_s=10.0)
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=label)
        session = Session(clock=clock, pipeline=config)
        async with (
            link.central() as ble,
            session,
            VirtualHeartRateStrap(peripheral, heart, clock, name=label) as twin,
            BusRecorder(session.bus) as rec,
        ):
            source = session.add(HeartRateStrap(ble, name=label))
            await _until(
                lambda: sum(e.confidence > 0 for e in rec.estimates) >= 6, 30.0, "estimates"
            )
            faults = FaultInjector(twin, seed=seed)
            await faults.drop(vanish_s=vanish_s)
            await _until(lambda: bool(rec.gaps(source)), 20.0, "the gap")
            gap_end = rec.gaps(source)[0].end
            await _until(
                lambda: any(e.window_start >= gap_end for e in rec.estimates),
                30.0,
                "estimates after the gap",
            )
            await rec.drain()
    result.violations += check_no_task_leaks(before)
    result.violations += check_confidence_after_gaps(rec)
    result.violations += check_order(rec) + check_gaps_match_discontinuities(rec)
    gap = rec.gaps(source)[0]
    around = [e.confidence for e in rec.estimates if e.window_end > gap.start - 10][:12]
    result.faults = 1
    result.counts = {"estimates": len(rec.estimates), "confidence": [round(c, 2) for c in around]}
    result.seconds = time.perf_counter() - started
    return result


SCENARIOS: dict[str, Callable[..., Awaitable[ScenarioResult]]] = {
    "hr-link": heart_rate_faults,
    "polar": polar_faults,
    "silent": silent_device,
    "mtu": mtu_too_small,
    "estimates": estimates_after_gap,
}
"""The scenarios by name; each takes keyword options and returns a :class:`ScenarioResult`."""
