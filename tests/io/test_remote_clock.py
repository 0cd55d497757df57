"""Remote analyzer clocks over MQTT: NTP-style exchanges against a real mosquitto."""

import asyncio
import json
import sys
import time

import aiomqtt
import pytest

from tests.io.delay_proxy import DelayProxy
from tests.io.mosquitto import Mosquitto
from tests.io.test_mqtt import consent, wait_for
from wearsdk import Annotation, Bus, SessionClock
from wearsdk.io import ClockResponse
from wearsdk.io.mqtt import AnalyzerClient, ClockNotSyncedError, MqttBridge, MqttConfig

pytestmark = pytest.mark.timeout(120)


async def test_an_offset_analyzer_behind_a_slow_network_is_mapped_within_5ms(
    broker: Mosquitto,
) -> None:
    clock = SessionClock()
    # the truth: session time is CLOCK_MONOTONIC here, as time.monotonic() in the analyzer
    assert abs(clock.now() - time.monotonic()) < 1e-3
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/#")
    bridge = MqttBridge(bus, clock, MqttConfig(url=broker.url, session="s-clk"), consent=consent())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    n = 15
    # the analyzer's path to the broker: 20 ms each way plus up to 20 ms of jitter
    async with DelayProxy(broker.port, delay_s=0.02, jitter_s=0.02, seed=3) as proxy:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.io.analyzer_proc", f"mqtt://127.0.0.1:{proxy.port}"),
            *("s-clk", "3600.0", "100.0", str(n)),
            stderr=asyncio.subprocess.PIPE,
        )
        got: list[Annotation] = []
        async with asyncio.timeout(60):
            while len(got) < n:
                msg = await sub.receive()
                assert isinstance(msg.payload, Annotation)
                got.append(msg.payload)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    task.cancel()
    bus.close()
    assert proc.returncode == 0, err.decode()
    assert [a.label for a in got] == [f"m{k}" for k in range(n)]
    errors = [a.start - a.extras["truth_monotonic"] for a in got]
    # one hour of offset, 100 ppm of drift and a slow, jittery path: mapped within 5 ms
    assert max(abs(e) for e in errors) < 0.005
    sync = got[-1].extras["clock_sync"]
    assert sync["rtt_s"] >= 0.04  # the injected delay was really there, both ways
    assert bridge.stats.clock_requests >= 30


async def test_analyzer_client_before_sync_and_bad_responses(broker: Mosquitto) -> None:
    config = MqttConfig(url=broker.url, session="s-nobody")
    # nobody answers: no session time, and annotate times out instead of guessing
    async with AnalyzerClient(config, analyzer_id="a1", modality="face") as link:
        with pytest.raises(ClockNotSyncedError):
            link.session_time(1.0)
        with pytest.raises(TimeoutError):
            await link.annotate(start=0.0, end=1.0, timeout_s=0.3)
        # a forged response for a request never sent, and garbage, are counted and dropped
        async with aiomqtt.Client("127.0.0.1", broker.port) as forger:
            topic = "wearsdk/s-nobody/clock/response/a1"
            forged = ClockResponse(id="a1", seq=10_000, t1=0.0, t2=5.0, t3=5.0, unix_offset_s=0)
            await forger.publish(topic, forged.model_dump_json(by_alias=True), qos=1)
            await forger.publish(topic, b"{", qos=1)
        await wait_for(lambda: link.stats.rejected == 2)
        assert not link.synced
        assert link.stats.requests >= 1


async def test_bridge_answers_clock_requests_and_rejects_malformed_ones(
    broker: Mosquitto,
) -> None:
    clock = SessionClock()
    bus = Bus()
    bus.bind_loop()
    bridge = MqttBridge(bus, clock, MqttConfig(url=broker.url, session="s-r"), consent=consent())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe("wearsdk/s-r/clock/response/#")
        await client.publish("wearsdk/s-r/clock/request", b'{"id": "x/y", "seq": 0, "t1": 1}')
        before = clock.now()
        await client.publish(
            "wearsdk/s-r/clock/request", json.dumps({"id": "x", "seq": 7, "t1": 1.5})
        )
        async with asyncio.timeout(10):
            msg = await anext(aiomqtt_messages(client))
        after = clock.now()
    task.cancel()
    bus.close()
    assert str(msg.topic) == "wearsdk/s-r/clock/response/x"
    response = ClockResponse.model_validate_json(msg.payload)
    assert response.seq == 7
    assert response.t1 == 1.5
    assert before <= response.t2 <= response.t3 <= after
    assert response.unix_offset_s == clock.unix_offset_s
    assert bridge.stats.clock_requests == 1
    assert bridge.stats.rejected_inbound == 1  # the id with a slash


async def aiomqtt_messages(client: aiomqtt.Client):  # type: ignore[no-untyped-def]
    async for m in client.messages:
        yield m


async def test_analyzer_client_survives_a_broker_restart(broker: Mosquitto) -> None:
    clock = SessionClock()
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/#")
    config = MqttConfig(url=broker.url, session="s-restart", backoff_max_s=0.5)
    bridge = MqttBridge(bus, clock, config, consent=consent())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    async with AnalyzerClient(config, analyzer_id="cam", modality="face") as link:
        await link.wait_synced(exchanges=3)
        t = time.monotonic()
        await link.annotate(start=t - 1.0, end=t, valence=0.5, label="before")
        broker.stop()
        await wait_for(lambda: not link.connected)
        # published while the broker is down: it waits for the link, then goes out
        pending = asyncio.create_task(
            link.annotate(start=t, end=t + 1.0, valence=-0.5, label="during", timeout_s=30)
        )
        await asyncio.sleep(1.0)
        assert not pending.done()
        broker.start()  # same port
        sent = await asyncio.wait_for(pending, 30)
        await link.annotate(start=t + 1.0, end=t + 2.0, valence=0.1, label="after")
        assert link.connected
        assert link.stats.connects >= 2
        synced_before = link.stats.responses
        await wait_for(lambda: link.stats.responses > synced_before)  # exchanges resumed
    got: list[Annotation] = []
    async with asyncio.timeout(20):
        while len(got) < 3:
            msg = await sub.receive()
            assert isinstance(msg.payload, Annotation)
            got.append(msg.payload)
    task.cancel()
    bus.close()
    # every annotation arrived once, in order, still on the session clock
    assert [a.label for a in got] == ["before", "during", "after"]
    assert abs(got[1].start - sent.start) < 1e-6
    assert abs(got[1].start - t) < 0.005  # the clock model survived the outage
