"""The invariant checks catch what they are for (synthetic bus records, no devices)."""

import asyncio
import time
from typing import NamedTuple

import numpy as np

from wearsdk import Bus, DeviceStatus, Estimate, Gap, SampleBlock
from wearsdk.testing import (
    BusRecorder,
    check_beats_against_truth,
    check_bounded_queues,
    check_confidence_after_gaps,
    check_frames_against_truth,
    check_gaps_match_discontinuities,
    check_no_task_leaks,
    check_order,
    check_reconnection,
)

SRC = "hr-test"


def ecg(t: np.ndarray, values: np.ndarray | None = None) -> SampleBlock:
    v = np.arange(t.size, dtype=float) if values is None else values
    return SampleBlock(
        source=SRC,
        stream="ecg",
        unit="uV",
        t=t,
        values=v[:, None],
        channels=("ecg",),
        nominal_rate_hz=100.0,
    )


def rr(beats: list[float], intervals: list[float]) -> SampleBlock:
    return SampleBlock(
        source=SRC,
        stream="rr",
        unit="s",
        t=np.array(beats),
        values=np.array(intervals)[:, None],
        channels=("rr",),
    )


def gap(stream: str, start: float, end: float, n: int | None = None) -> Gap:
    return Gap(t=end, source=SRC, stream=stream, start=start, end=end, n_missing=n)


async def record(*items: object) -> BusRecorder:
    bus = Bus()
    bus.bind_loop()
    async with BusRecorder(bus) as rec:
        for item in items:
            topic = (
                "affect/estimate"
                if isinstance(item, Estimate)
                else (
                    f"device/{SRC}/status"
                    if isinstance(item, DeviceStatus)
                    else f"physio/{SRC}/{item.stream}"  # type: ignore[attr-defined]
                )
            )
            bus.publish_nowait(topic, item)  # type: ignore[arg-type]
    return rec


async def test_order_catches_a_repeated_and_a_reordered_block() -> None:
    t = np.arange(10) / 100
    assert check_order(await record(ecg(t), ecg(t + 0.1))) == []
    assert check_order(await record(ecg(t), ecg(t))) != []
    assert check_order(await record(ecg(t + 0.1), ecg(t))) != []


async def test_gaps_must_match_holes_exactly() -> None:
    a, b = np.arange(10) / 100, 0.5 + np.arange(10) / 100
    exact = gap("ecg", float(a[-1]), float(b[0]))
    assert check_gaps_match_discontinuities(await record(ecg(a), exact, ecg(b))) == []
    assert check_gaps_match_discontinuities(await record(ecg(a), ecg(b))) != []  # unreported
    off = gap("ecg", float(a[-1]), float(b[0]) + 0.01)
    assert check_gaps_match_discontinuities(await record(ecg(a), off, ecg(b))) != []
    phantom = gap("ecg", 0.02, 0.03)
    assert check_gaps_match_discontinuities(await record(ecg(a), phantom)) != []


async def test_rr_holes_are_between_a_beat_and_the_next_interval_start() -> None:
    first = rr([1.0, 2.0], [1.0, 1.0])
    chained = rr([3.0], [1.0])
    assert check_gaps_match_discontinuities(await record(first, chained)) == []
    after = rr([10.0], [1.0])  # its interval starts at 9.0: 7 s unexplained
    assert check_gaps_match_discontinuities(await record(first, after)) != []
    assert check_gaps_match_discontinuities(await record(first, gap("rr", 2.0, 9.0), after)) == []


async def test_reconnection_deadline() -> None:
    back = time.monotonic()
    status = DeviceStatus(t=0.0, source=SRC, state="connected")
    rec = await record(status)
    assert check_reconnection(rec, SRC, [back], within_s=5.0) == []
    assert check_reconnection(rec, SRC, [time.monotonic() + 1]) != []  # never after
    assert check_reconnection(rec, SRC, [back - 10.0], within_s=5.0) != []  # too late


def estimate(end: float, confidence: float) -> Estimate:
    return Estimate(
        t=end, window_start=end - 10, window_end=end, arousal=0.5, confidence=confidence
    )


async def test_confidence_must_drop_across_a_gap_and_estimates_resume() -> None:
    g = gap("rr", 30.0, 40.0)
    good = await record(estimate(20, 0.7), estimate(30, 0.7), g, estimate(35, 0.4))
    assert check_confidence_after_gaps(good) == []
    flat = await record(estimate(30, 0.7), g, estimate(35, 0.7))
    assert check_confidence_after_gaps(flat) != []
    stopped = await record(estimate(30, 0.7), g)
    assert check_confidence_after_gaps(stopped) != []


async def test_a_leaked_task_is_named() -> None:
    before = set(asyncio.all_tasks())
    leaked = asyncio.create_task(asyncio.sleep(10), name="leaky")
    violations = check_no_task_leaks(before)
    leaked.cancel()
    assert [v.detail for v in violations] == ["task left running: leaky"]


async def test_queue_bounds() -> None:
    bus = Bus()
    bus.subscribe("x/#", maxsize=2)

    class Driver:
        queue_size = 4
        queue_high_water = 5

    assert check_bounded_queues(bus) == []
    assert check_bounded_queues(bus, [Driver()]) != []


class Beat(NamedTuple):
    t: float
    rr_s: float
    fate: str


async def test_beats_against_the_ledger() -> None:
    ledger = [Beat(1.0 + i, 1.0, "sent") for i in range(4)]
    ledger += [Beat(5.0, 1.0, "disconnected"), Beat(6.0, 1.0, "disconnected")]
    ledger += [Beat(7.0 + i, 1.0, "sent") for i in range(3)]
    before = rr([1.0, 2.0, 3.0, 4.0], [1.0] * 4)
    after = rr([7.0, 8.0, 9.0], [1.0] * 3)
    ok = await record(before, gap("rr", 4.0, 6.0), after)
    assert check_beats_against_truth(ok, SRC, ledger) == []
    silent = await record(before, after)  # the lost beats under no Gap
    assert check_beats_against_truth(silent, SRC, ledger) != []
    invented = await record(before, rr([5.0], [0.5]), gap("rr", 5.0, 6.0), after)
    assert check_beats_against_truth(invented, SRC, ledger) != []


class Frame(NamedTuple):
    timestamps_ns: np.ndarray
    values: np.ndarray
    dropped: bool
    malformed: bool


async def test_frames_against_the_ledger() -> None:
    step = 10_000_000  # 100 Hz
    frames = [
        Frame(
            np.arange(k * 5, k * 5 + 5) * step, np.arange(k * 5, k * 5 + 5)[:, None], k == 1, False
        )
        for k in range(3)
    ]
    t = [np.arange(k * 5, k * 5 + 5) / 100 for k in range(3)]
    blocks = [ecg(t[k], np.arange(k * 5, k * 5 + 5, dtype=float)) for k in range(3)]
    ok = await record(blocks[0], gap("ecg", t[0][-1], t[2][0], 5), blocks[2])
    assert check_frames_against_truth(ok, SRC, "ecg", frames, rate_hz=100) == []
    wrong_size = await record(blocks[0], gap("ecg", t[0][-1], t[2][0], 4), blocks[2])
    assert check_frames_against_truth(wrong_size, SRC, "ecg", frames, rate_hz=100) != []
    corrupt = await record(ecg(t[0], np.full(5, 7.0)))
    assert check_frames_against_truth(corrupt, SRC, "ecg", frames, rate_hz=100) != []
