"""Slow consumers never stall acquisition: a slow subscriber, stuck ones, a stalled broker.

A virtual strap streams into a session while subscribers of each overflow policy fall behind
(or never read) and a real mosquitto is frozen with SIGSTOP under the MQTT bridge. The strap's
beats keep reaching the bus at the heart rate; every consumer that fell behind counts its
drops under its own policy; the bridge's outbox stays bounded and drains once the broker runs
again.
"""

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from tests.io.mosquitto import Mosquitto
from wearsdk import (
    Consent,
    ExportPolicy,
    ScaledClock,
    Session,
    SubscriberOverflowError,
)
from wearsdk.bus import Subscription
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import VirtualLink
from wearsdk.io.mqtt import MqttBridge, MqttConfig
from wearsdk.sim import ArousalScript, HeartSimulator
from wearsdk.testing import BusRecorder, check_bounded_queues, check_no_task_leaks, check_order

pytestmark = pytest.mark.timeout(90)

SPEED = 20.0
NAME = "HR backpressure twin"


async def _slow_reader(sub: Subscription, delay_s: float) -> None:
    async for _ in sub:
        await asyncio.sleep(delay_s)


async def _until(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_slow_subscribers_and_a_stalled_broker_never_stall_acquisition(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()
    assert broker.proc is not None
    pid = broker.proc.pid
    before = set(asyncio.all_tasks())
    consent = Consent(
        participant="p-rel",
        purposes=("research",),
        export=ExportPolicy.RAW,
        obtained_by="test",
        obtained_unix=1.7e9,
    )
    config = MqttConfig(
        url=broker.url,
        session="rel",
        policy=ExportPolicy.RAW,
        outbox_size=20,
        qos=dict.fromkeys(("estimate", "status", "features", "annotation", "samples"), 1),
        subscribe_inbound=False,
    )
    clock = ScaledClock(SPEED)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(3600), seed=9)
    try:
        async with VirtualLink() as link:
            peripheral = await link.add_peripheral(name=NAME)
            session = Session(clock=clock, pipeline=None)
            async with (
                link.central() as ble,
                session,
                VirtualHeartRateStrap(peripheral, heart, clock, name=NAME) as twin,
                BusRecorder(session.bus) as rec,
            ):
                bus = session.bus
                slow = bus.subscribe("physio/#", maxsize=4, policy="drop_oldest")
                never_block = bus.subscribe("physio/#", maxsize=4, policy="block")
                never_error = bus.subscribe("physio/#", maxsize=4, policy="error")
                bridge = MqttBridge(bus, clock, config, consent=consent)
                tasks = [
                    asyncio.create_task(_slow_reader(slow, 0.5)),
                    asyncio.create_task(bridge.run()),
                ]
                async with asyncio.timeout(10):
                    await bridge.connected.wait()
                strap = HeartRateStrap(ble, name=NAME)
                source = session.add(strap)
                await _until(lambda: rec.times(source, "rr").size >= 3)

                os.kill(pid, signal.SIGSTOP)  # the broker stops answering, the TCP link stays
                t_stalled = clock.now()
                n_before = rec.times(source, "rr").size
                sent_before = bridge.stats.sent
                await session.sleep(60.0)
                t_resumed = clock.now()
                # acquisition went on at the heart rate: every beat of the stall is on the bus
                beats = rec.times(source, "rr")
                during = beats[(beats > t_stalled + 2) & (beats < t_resumed - 2)]
                sent = [b for b in twin.beats if t_stalled + 2 < b.t < t_resumed - 2]
                assert abs(during.size - len(sent)) <= 2
                assert during.size >= 40
                assert rec.times(source, "rr").size > n_before + 40
                # the bridge could send (almost) nothing, kept a bounded outbox, counted drops
                assert bridge.stats.sent - sent_before <= config.inflight
                assert bridge.stats.queued <= config.outbox_size
                assert bridge.stats.dropped_overflow > 0

                os.kill(pid, signal.SIGCONT)
                await _until(lambda: bridge.stats.sent > sent_before + 10)

                stats = {s.topic_filter: s for s in bus.stats.subscriptions}
                assert slow.stats.dropped > 0
                assert never_block.stats.dropped > 0
                assert never_block.stats.high_water == 4
                assert never_error.stats.dropped > 0
                for _ in range(4):  # what it had queued, then the error
                    await never_error.receive()
                with pytest.raises(SubscriberOverflowError):
                    await never_error.receive()
                assert strap.overflowed == 0
                assert check_bounded_queues(bus, [strap]) == []
                assert stats  # the statistics name every subscription
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                slow.close()
                never_block.close()
                await rec.drain()
        assert check_order(rec) == []
        assert check_no_task_leaks(before) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        broker.stop()
