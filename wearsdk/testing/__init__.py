"""Reliability testing: inject faults into virtual devices and check what must still hold.

For tests and benchmarks of wearsdk and of drivers built on it (needs the ``bumble`` extra)::

    async with BusRecorder(session.bus) as rec:
        faults = FaultInjector(twin, seed=1)
        await faults.random_faults(5, ready=...)
    assert check_order(rec) + check_gaps_match_discontinuities(rec) == []

See docs/reliability.md.
"""

from wearsdk.testing._faults import FAULT_KINDS, Fault, FaultInjector
from wearsdk.testing._fuzz import FuzzResult, Mutator, fuzz, has_non_finite, mutate, mutate_json
from wearsdk.testing._invariants import (
    BeatTruth,
    BusRecorder,
    FrameTruth,
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

__all__ = [
    "FAULT_KINDS",
    "BeatTruth",
    "BusRecorder",
    "Fault",
    "FaultInjector",
    "FrameTruth",
    "FuzzResult",
    "Mutator",
    "Violation",
    "check_beats_against_truth",
    "check_bounded_queues",
    "check_confidence_after_gaps",
    "check_frames_against_truth",
    "check_gaps_match_discontinuities",
    "check_no_task_leaks",
    "check_order",
    "check_reconnection",
    "fuzz",
    "has_non_finite",
    "mutate",
    "mutate_json",
]
