"""Short versions of every fault scenario, with every invariant asserted.

The scenarios (benchmarks/fault_scenarios.py) run real drivers against virtual twins over a
virtual BLE link on a fast clock; ``python -m benchmarks.reliability`` runs the long versions.
"""

import pytest

from benchmarks.fault_scenarios import (
    estimates_after_gap,
    heart_rate_faults,
    mtu_too_small,
    polar_faults,
    silent_device,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.looptime]


async def test_heart_rate_strap_through_random_drops_vanishing_and_bursts() -> None:
    result = await heart_rate_faults(cycles=5, vanish_s=(1.0, 120.0), seed=1)
    assert result.violations == []
    assert result.faults == 5
    assert result.counts["gaps"] >= 1
    assert result.counts["beats"] > 10


async def test_heart_rate_strap_with_malformed_notifications_mixed_in() -> None:
    result = await heart_rate_faults(
        cycles=3, kinds=("drop", "burst"), malformed_rate=0.15, seed=7, name="hr-malformed"
    )
    assert result.violations == []
    assert result.counts["malformed"] >= 1


async def test_polar_through_drops_clock_resets_and_lost_late_corrupt_frames() -> None:
    result = await polar_faults(
        cycles=4, kinds=("drop", "vanish", "clock_reset"), vanish_s=(1.0, 30.0), seed=1
    )
    assert result.violations == []
    assert result.counts["ecg_samples"] > 1000
    assert result.counts["gaps"] >= 4


async def test_polar_bursts_and_reordered_frames() -> None:
    result = await polar_faults(
        cycles=3,
        kinds=("burst", "drop"),
        hold_s=(2.0, 3.0),  # deliveries later than the clock map's reset threshold
        reorder_probability=0.2,
        seed=2,
        name="polar-order",
    )
    assert result.violations == []
    assert result.counts["late"] >= 1  # late frames were dropped, their samples under Gaps


async def test_a_device_that_connects_but_never_notifies() -> None:
    result = await silent_device(silences=2)
    assert result.violations == []
    assert result.counts["stale_drops"] >= 2
    assert result.counts["beats"] >= 2


async def test_an_mtu_too_small_is_a_typed_error_and_leaves_nothing_running() -> None:
    result = await mtu_too_small()
    assert result.violations == []
    assert result.counts["error"] == "PmdError"


async def test_estimates_resume_with_lower_confidence_after_a_gap() -> None:
    result = await estimates_after_gap()
    assert result.violations == []
    assert result.counts["estimates"] >= 8
