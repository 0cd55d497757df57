"""Consent as a live condition: expiry at its instant and withdrawal stop the MQTT export of a
running session (real mosquitto); non-finite or past expiry is refused."""

import asyncio
import json
import math
import time
from pathlib import Path

import aiomqtt
import pytest
from pydantic import ValidationError

from tests.io.mosquitto import Listener, Mosquitto
from wearsdk import Bus, Consent, ConsentError, ConsentGate, Estimate, ExportPolicy, SessionClock
from wearsdk.io.mqtt import MqttBridge, MqttConfig

pytestmark = pytest.mark.timeout(90)


def consent(expires_unix: float | None = None, *, record: bool = True) -> Consent:
    """A participant's consent to export estimates (and to record, unless ``record=False``)."""
    return Consent(
        participant="p-0042",
        purposes=("research",),
        record=record,
        export=ExportPolicy.ESTIMATES,
        obtained_by="study nurse",
        obtained_unix=time.time() - 60,
        expires_unix=expires_unix,
    )


def estimate(i: int) -> Estimate:
    return Estimate(
        t=float(i), window_start=i - 60.0, window_end=float(i), arousal=0.5, confidence=0.8
    )


async def publish_until(bus: Bus, stop: asyncio.Event, after: int = 20) -> int:
    """Estimates every 20 ms (a fast analyzer) until ``stop``, then ``after`` more."""
    i = 0
    while not stop.is_set():
        bus.publish_nowait("affect/estimate", estimate(i))
        i += 1
        await asyncio.sleep(0.02)
    for _ in range(after):
        bus.publish_nowait("affect/estimate", estimate(i))
        i += 1
        await asyncio.sleep(0.02)
    return i


async def test_nothing_is_exported_at_or_after_the_expiry_instant(
    broker: Mosquitto, session_bus: tuple[Bus, SessionClock]
) -> None:
    bus, clock = session_bus
    listener = Listener(broker.port, "s-exp")
    listening = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.ready.wait(), 10)
    expires = time.time() + 1.5
    bridge = MqttBridge(
        bus, clock, MqttConfig(url=broker.url, session="s-exp"), consent=consent(expires)
    )
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    inbound = bus.subscribe("analyzer/#")
    sent = await asyncio.wait_for(publish_until(bus, bridge.export_stopped), 20)
    assert bridge.stop_reason == "expired"
    assert time.time() >= expires
    # the session goes on: the bridge still runs and still takes annotations in
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        now_unix = clock.to_unix(clock.now())
        ann = {
            "modality": "face",
            "analyzer_id": "cam1",
            "start_unix": now_unix - 1,
            "end_unix": now_unix,
            "valence": 0.2,
        }
        await client.publish("wearsdk/s-exp/analyzer/face/cam1", json.dumps(ann), qos=1)
    await asyncio.wait_for(inbound.receive(), 10)
    assert not task.done()
    task.cancel()
    listening.cancel()
    estimates = [(t, p) for t, p in listener.got if b'"estimate"' in p]
    assert estimates, "estimates before the expiry must have been exported"
    assert max(t for t, _ in estimates) < expires + 0.25  # broker latency only
    assert len(estimates) + bridge.stats.refused_by_consent == sent
    assert bridge.stats.refused_by_consent >= 20


async def test_withdrawal_by_api_and_by_file_stops_export_at_once(
    broker: Mosquitto, session_bus: tuple[Bus, SessionClock], tmp_path: Path
) -> None:
    bus, clock = session_bus
    for how in ("api", "file"):
        session = f"s-wd-{how}"
        listener = Listener(broker.port, session)
        listening = asyncio.create_task(listener.run())
        await asyncio.wait_for(listener.ready.wait(), 10)
        gate = ConsentGate(consent())
        closed: list[str] = []
        gate.on_close(closed.append)
        bridge = MqttBridge(bus, clock, MqttConfig(url=broker.url, session=session), consent=gate)
        task = asyncio.create_task(bridge.run())
        await asyncio.wait_for(bridge.connected.wait(), 10)
        bus.publish_nowait("affect/estimate", estimate(0))
        async with asyncio.timeout(10):
            while not listener.got:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        flag = tmp_path / f"withdraw-{how}"
        watcher = asyncio.create_task(gate.watch(flag, poll_s=0.05))
        if how == "api":
            gate.withdraw("participant asked")
        else:
            flag.touch()
        await asyncio.wait_for(bridge.export_stopped.wait(), 5)
        assert await asyncio.wait_for(watcher, 5) == "withdrawn"
        assert closed == ["withdrawn"]
        for i in range(1, 11):
            bus.publish_nowait("affect/estimate", estimate(i))
        await asyncio.sleep(0)  # let the bridge's queue take them
        assert await bridge.flush(5)
        assert bridge.stop_reason == "withdrawn"
        assert not gate.allows(export=ExportPolicy.ESTIMATES)
        with pytest.raises(ConsentError, match="withdrawn"):
            gate.check(export=ExportPolicy.ESTIMATES)
        task.cancel()
        listening.cancel()
        assert [json.loads(p)["seq"] for _, p in listener.got] == [0]


def test_a_gate_closes_at_the_expiry_instant_on_a_controlled_clock() -> None:
    now = [1_000.0]
    gate = ConsentGate(
        consent(expires_unix=time.time() + 3600).model_copy(
            update={"expires_unix": 1_010.0, "obtained_unix": 900.0}
        ),
        clock=lambda: now[0],
    )
    assert gate.allows(export=ExportPolicy.ESTIMATES, record=True)
    assert not gate.allows(export=ExportPolicy.RAW)
    assert gate.remaining_s() == 10.0
    now[0] = 1_009.999
    assert gate.closed_reason() is None
    now[0] = 1_010.0
    assert gate.closed_reason() == "expired"
    assert not gate.allows(record=True)
    assert gate.remaining_s() == 0.0
    assert ConsentGate(None).closed_reason() == "no consent"


@pytest.mark.parametrize("expiry", [math.nan, math.inf, -math.inf])
def test_non_finite_expiry_is_refused(expiry: float) -> None:
    with pytest.raises(ValidationError):
        consent(expiry)


def test_expiry_before_it_was_obtained_is_refused() -> None:
    with pytest.raises(ValidationError, match="after obtained_unix"):
        consent(time.time() - 3600)


def test_a_past_or_nan_expiry_in_a_file_is_refused(tmp_path: Path) -> None:
    record = consent(time.time() + 3600).model_dump(mode="json")
    path = tmp_path / "consent.json"
    path.write_text(json.dumps({**record, "obtained_unix": 1.0e9, "expires_unix": 1.1e9}))
    with pytest.raises(ConsentError, match="expired"):
        Consent.load(path)
    path.write_text(json.dumps(record).replace(str(record["expires_unix"]), "NaN"))
    with pytest.raises(ConsentError, match="finite"):
        Consent.load(path)
    path.write_text(json.dumps(record))
    assert Consent.load(path).expires_unix == record["expires_unix"]
