"""Consent is a live condition for the LSL outlets too: a withdrawal or the expiry instant
closes them at once (a real pylsl consumer sees nothing after it), as it stops MQTT and XDF."""

from __future__ import annotations

import asyncio
import time
import uuid

import pylsl
import pytest
from pylsl.util import LostError

from tests.io.test_consent_live import consent as live_consent
from wearsdk import Bus, Consent, ConsentGate, Estimate
from wearsdk.io.lsl import LslOutlets

pytestmark = pytest.mark.timeout(60)


def consent(expires_unix: float | None = None) -> Consent:
    return live_consent(expires_unix, record=False)


def estimate(i: int) -> Estimate:
    return Estimate(
        t=100.0 + i, window_start=40.0 + i, window_end=100.0 + i, arousal=0.5, confidence=0.8
    )


async def pull_until_lost(inlet: pylsl.StreamInlet) -> list[float]:
    """What the consumer still gets until it sees the stream gone (``LostError``)."""
    got: list[float] = []
    async with asyncio.timeout(10.0):
        while True:
            try:
                _, t = await asyncio.to_thread(inlet.pull_chunk, 0.2)
            except LostError:
                return got
            got += t


async def test_a_withdrawal_closes_the_outlets_at_once() -> None:
    bus = Bus()
    gate = ConsentGate(consent())
    ns = uuid.uuid4().hex[:8]
    outlets = LslOutlets(bus, consent=gate, namespace=ns)
    (info,) = await asyncio.to_thread(
        pylsl.resolve_byprop, "source_id", f"wearsdk:affect@{ns}", 1, 10.0
    )
    inlet = pylsl.StreamInlet(info, max_buflen=60, recover=False)
    await asyncio.to_thread(inlet.open_stream, 10.0)
    task = asyncio.create_task(outlets.run())
    for i in range(10):
        bus.publish_nowait("affect/estimate", estimate(i))
    stamps: list[float] = []
    async with asyncio.timeout(10.0):
        while len(stamps) < 10:  # the consumer has every estimate before the withdrawal
            _, t = await asyncio.to_thread(inlet.pull_chunk, 0.2)
            stamps += t
    assert stamps == [100.0 + i for i in range(10)]

    gate.withdraw("test")
    await asyncio.wait_for(task, 5.0)  # no message needed: the outlets stop at the withdrawal
    assert outlets.stop_reason == "withdrawn"
    assert outlets.outlets == {}
    for i in range(10, 20):  # the session goes on; nothing of it reaches LSL
        bus.publish_nowait("affect/estimate", estimate(i))
    outlets.push("affect/estimate", estimate(20))  # nor by a direct push
    assert outlets.pushed == {"affect": 10}
    assert outlets.refused_by_consent == 1

    # the consumer sees the stream gone, and nothing after the withdrawal
    assert await pull_until_lost(inlet) == []


async def test_nothing_is_pushed_at_or_after_the_expiry_instant() -> None:
    now = [time.time()]
    expires = now[0] + 60.0
    bus = Bus()
    gate = ConsentGate(consent(expires_unix=expires), clock=lambda: now[0])
    outlets = LslOutlets(bus, consent=gate)
    outlets.push("affect/estimate", estimate(0))
    now[0] = expires  # the expiry instant, on the gate's controlled clock
    outlets.push("affect/estimate", estimate(1))
    assert outlets.pushed == {"affect": 1}
    assert outlets.stop_reason == "expired"
    assert outlets.refused_by_consent == 1
    assert outlets.outlets == {}
