"""The session pipeline's estimates: the validated model, causal end to end, gated by contact.

A synthetic wearer (1 Hz heart rate events with skin contact, 4 Hz EDA, ACC) is published on a
real bus and processed by ``run_pipeline`` exactly as in a session.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from wearsdk import Estimate, HeartRate, PipelineConfig, SampleBlock
from wearsdk._events import Command
from wearsdk.bus import Bus
from wearsdk.session._pipeline import run_pipeline

pytestmark = pytest.mark.looptime

START = 1000.0
CONFIG = PipelineConfig(window_s=30.0, hop_s=5.0, baseline_s=120.0)


async def drive(
    *,
    perturb_after: float | None = None,
    no_contact: tuple[float, float] | None = None,
    calibrate: tuple[float, float] | None = None,
) -> list[Estimate]:
    """Ten minutes of a calm wearer with a stress episode; optionally a different future."""
    bus = Bus()
    rng = np.random.default_rng(7)
    async with bus.subscribe("affect/estimate", maxsize=4096, policy="block") as out:
        pipeline = asyncio.create_task(run_pipeline(bus, CONFIG))
        await asyncio.sleep(0)  # let the pipeline subscribe
        for k in range(600):
            t = START + k
            stressed = 300 <= k < 420
            hr = (90.0 if stressed else 70.0) + 2.0 * rng.standard_normal()
            scl = (4.0 if stressed else 2.0) + 0.05 * rng.standard_normal(4)
            if perturb_after is not None and t > perturb_after:  # an unrelated future
                hr = 50.0 + 80.0 * rng.random()
                scl = 0.5 + 10.0 * rng.random(4)
            contact = not (no_contact is not None and no_contact[0] <= t < no_contact[1])
            names = ("calibrate_start", "calibrate_stop")
            for at, name in zip(calibrate or (None, None), names, strict=True):
                if at == t:
                    await bus.publish(f"control/{name}", Command(t=t, name=name))
            await bus.publish(
                "physio/hr-a/hr", HeartRate(t=t, source="hr-a", hr_bpm=hr, contact=contact)
            )
            for stream, values, unit, rate in (
                ("eda", scl[:, None], "uS", 4.0),
                (
                    "acc",
                    np.tile([0.0, 0.0, 1000.0], (4, 1)) + rng.standard_normal((4, 3)),
                    "mG",
                    4.0,
                ),
            ):
                block = SampleBlock(
                    source="band-b",
                    stream=stream,
                    unit=unit,
                    t=t + np.arange(4) / 4.0,
                    values=values,
                    nominal_rate_hz=rate,
                    channels=("eda",) if stream == "eda" else ("acc_x", "acc_y", "acc_z"),
                )
                await bus.publish(f"physio/band-b/{stream}", block)
        while True:  # let the pipeline drain its queue
            await asyncio.sleep(0.01)
            pending = [s for s in bus.subscriptions() if s is not out and s.stats.queued]
            if not pending:
                break
        pipeline.cancel()
        estimates: list[Estimate] = []
        while (m := out.receive_nowait()) is not None:
            assert isinstance(m.payload, Estimate)
            estimates.append(m.payload)
    return estimates


async def test_pipeline_estimates_come_from_the_validated_model() -> None:
    est = await drive()
    assert len(est) > 100
    assert all(e.model == "arousal-v4/all" and not e.provisional for e in est)
    assert all({"hr", "eda", "acc"} <= set(e.modalities) for e in est)
    # a strap and an EDA band have no pulse wave: not flagged as missing
    assert not any(f.startswith("missing_") for e in est for f in e.flags)
    assert all(e.window_end - e.window_start == CONFIG.window_s for e in est)
    assert all(e.sources == ("hr-a", "band-b") for e in est)
    calib = [e for e in est if "calibrating" in e.flags]
    assert calib
    assert max(e.window_end for e in calib) <= START + CONFIG.window_s + CONFIG.baseline_s + 5
    rest = [e.arousal for e in est if e.window_start >= START + 200 and e.window_end <= START + 300]
    stress = [
        e.arousal for e in est if e.window_start >= START + 330 and e.window_end <= START + 420
    ]
    assert np.mean(stress) > np.mean(rest) + 0.3
    levels = [e.stress_level for e in est if e.window_end <= START + 420]
    assert levels[-1] in ("medium", "high")
    assert "low" in levels


async def test_perturbing_the_future_leaves_past_estimates_unchanged() -> None:
    cut = START + 360.0
    ref = await drive()
    other = await drive(perturb_after=cut)
    past = [e for e in ref if e.window_end <= cut]
    assert len(past) > 50
    assert other[: len(past)] == past  # every field, the stress level included
    later = [
        (a.arousal, b.arousal) for a, b in zip(ref[len(past) :], other[len(past) :], strict=False)
    ]
    assert any(not math.isclose(a, b) for a, b in later)


async def test_lost_contact_flags_its_windows_only_and_lowers_confidence() -> None:
    lost = (START + 480.0, START + 500.0)
    est = await drive(no_contact=lost)
    lost_t = np.arange(*lost)  # the heart-rate events that reported no contact
    touched = [e for e in est if any(e.window_start < t <= e.window_end for t in lost_t)]
    before = [e for e in est if e.window_end < lost[0] and "calibrating" not in e.flags]
    assert touched
    assert all("no_contact" in e.flags for e in touched)
    assert not any("no_contact" in e.flags for e in est if e not in touched)
    assert max(e.confidence for e in touched) < 0.5 * min(e.confidence for e in before[-10:])


async def test_calibrate_commands_rebuild_the_baseline() -> None:
    """Recalibrating during the stress episode makes stress the wearer's baseline."""
    ref = await drive()
    cal = await drive(calibrate=(START + 330.0, START + 390.0))
    n = next(i for i, e in enumerate(ref) if e.window_end >= START + 330.0)
    assert cal[:n] == ref[:n]
    assert "calibrating" not in ref[n + 1].flags
    assert "calibrating" in cal[n + 1].flags
    assert cal[n + 1].confidence < 0.5 * ref[n + 1].confidence
    late = [i for i, e in enumerate(ref) if START + 400 <= e.window_end <= START + 420]
    assert late
    assert np.mean([cal[i].arousal for i in late]) < np.mean([ref[i].arousal for i in late]) - 0.2
