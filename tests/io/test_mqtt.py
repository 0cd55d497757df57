"""The MQTT bridge against a real mosquitto started by the tests."""

import asyncio
import json
import re
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from tests.io.mosquitto import Mosquitto, make_test_ca
from wearsdk import (
    Annotation,
    Bus,
    Consent,
    ConsentError,
    DeviceStatus,
    Estimate,
    ExportPolicy,
    Features,
    HeartRate,
    Pseudonymizer,
    SampleBlock,
    SessionClock,
)
from wearsdk.io import WireMessage
from wearsdk.io.mqtt import MqttAuthError, MqttBridge, MqttConfig

pytestmark = pytest.mark.timeout(90)

ADDRESS = "C4:7C:8D:6A:2F:10"
PARTICIPANT = "p-0042"


def consent(export: ExportPolicy = ExportPolicy.ESTIMATES) -> Consent:
    return Consent(
        participant=PARTICIPANT,
        purposes=("research",),
        export=export,
        obtained_by="study nurse",
        obtained_unix=1.7e9,
    )


def estimate(i: int, t0: float = 100.0) -> Estimate:
    return Estimate(
        t=t0 + i,
        window_start=t0 + i - 60,
        window_end=t0 + i,
        arousal=(i % 10) / 10,
        confidence=0.8,
        modalities=("rr",),
    )


async def listen(
    url_port: int, topic: str, into: list[aiomqtt.Message], ready: asyncio.Event, **kw: object
) -> None:
    async with aiomqtt.Client(
        "127.0.0.1", url_port, identifier="test-listener", clean_session=False, **kw
    ) as client:
        await client.subscribe(topic, qos=1)
        ready.set()
        async for m in client.messages:
            into.append(m)


async def wait_for(pred, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not pred():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def start_export(
    broker: Mosquitto, bus: Bus, clock: SessionClock, session: str
) -> tuple[MqttBridge, asyncio.Task[None], list[aiomqtt.Message], asyncio.Task[None]]:
    """A listener on the session's topics, then a bridge exporting to it, connected: (bridge,
    its task, what the listener got, the listener's task)."""
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(listen(broker.port, f"wearsdk/{session}/#", got, ready))
    await asyncio.wait_for(ready.wait(), 10)
    bridge = MqttBridge(bus, clock, MqttConfig(url=broker.url, session=session), consent=consent())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    return bridge, task, got, listener


async def test_estimates_arrive_valid_and_in_order(broker: Mosquitto, session_bus) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    _, task, got, listener = await start_export(broker, bus, clock, "s-test")
    for i in range(50):
        bus.publish_nowait("affect/estimate", estimate(i))
    await wait_for(lambda: len(got) >= 50)
    task.cancel()
    listener.cancel()
    msgs = [WireMessage.model_validate_json(m.payload) for m in got]  # type: ignore[arg-type]
    assert [m.seq for m in msgs] == list(range(50))
    assert all(str(m.topic) == "wearsdk/s-test/affect/estimate" for m in got)
    assert all(isinstance(m.event, Estimate) for m in msgs)
    assert msgs[3].event.arousal == pytest.approx(0.3)  # type: ignore[union-attr]
    assert msgs[3].t_unix == pytest.approx(clock.to_unix(103.0))
    assert all(m.qos == 1 for m in got)


async def test_flush_lets_the_last_messages_leave_before_the_bridge_stops(
    broker: Mosquitto, session_bus
) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    bridge, task, got, listener = await start_export(broker, bus, clock, "s-f")
    for i in range(500):
        bus.publish_nowait("affect/estimate", estimate(i))
    assert await bridge.flush(10.0)  # right after publishing: nothing has left yet
    assert bridge.stats.sent == 500
    assert bridge.stats.queued == 0
    task.cancel()
    await wait_for(lambda: len(got) >= 500)  # the broker delivers what it acknowledged
    listener.cancel()
    seqs = [WireMessage.model_validate_json(m.payload).seq for m in got]  # type: ignore[arg-type]
    assert seqs == list(range(500))

    # no broker: the wait ends at its timeout and says what stayed behind
    away = MqttBridge(
        bus, clock, MqttConfig(url="mqtt://127.0.0.1:1", session="s-g"), consent=consent()
    )
    before = bus.subscriptions()
    stuck = asyncio.create_task(away.run())
    # until it has subscribed to the bus (a subscription that was not there before)
    await wait_for(lambda: any(all(s is not b for b in before) for s in bus.subscriptions()))
    for i in range(3):
        bus.publish_nowait("affect/estimate", estimate(i))
    assert not await away.flush(0.5)
    assert away.stats.queued == 3
    assert away.stats.sent == 0
    stuck.cancel()


async def test_drain_delivers_what_is_left_and_ends_run(broker: Mosquitto, session_bus) -> None:  # type: ignore[no-untyped-def]
    """The bridge is a sink: drain() sends what waits, then run() returns (not cancelled)."""
    bus, clock = session_bus
    bridge, task, got, listener = await start_export(broker, bus, clock, "s-d")
    for i in range(200):
        bus.publish_nowait("affect/estimate", estimate(i))
    assert await bridge.drain(10.0) == 0  # right after publishing: nothing had left yet
    await asyncio.wait_for(task, 5)  # run() returned by itself
    assert not task.cancelled()
    assert task.exception() is None
    assert not bridge.connected.is_set()
    assert bridge.stats.sent == 200
    await wait_for(lambda: len(got) >= 200)
    listener.cancel()

    # no broker: drain says how many stayed behind, and run() ends all the same
    away = MqttBridge(
        bus, clock, MqttConfig(url="mqtt://127.0.0.1:1", session="s-e"), consent=consent()
    )
    stuck = asyncio.create_task(away.run())
    await asyncio.wait_for(away.subscribed.wait(), 5)
    for i in range(3):
        bus.publish_nowait("affect/estimate", estimate(i))
    assert await away.drain(0.3) == 3
    await asyncio.wait_for(stuck, 5)
    assert not stuck.cancelled()


@pytest.mark.slow
async def test_broker_down_10s_loses_nothing_and_keeps_order(
    broker: Mosquitto, session_bus
) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()

    async def resilient_listener() -> None:
        while True:
            try:
                await listen(broker.port, "wearsdk/s-r/#", got, ready)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    listener = asyncio.create_task(resilient_listener())
    await asyncio.wait_for(ready.wait(), 10)
    bridge = MqttBridge(
        bus, clock, MqttConfig(url=broker.url, session="s-r", backoff_max_s=0.5), consent=consent()
    )
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    n = 0

    async def produce(count: int) -> None:
        nonlocal n
        for _ in range(count):
            bus.publish_nowait("affect/estimate", estimate(n))
            n += 1
            await asyncio.sleep(0.01)

    await produce(100)
    broker.stop()
    await produce(300)  # ~3 s of estimates while the broker is away...
    await asyncio.sleep(7.0)  # ...which stays away 10 s in all
    assert bridge.stats.queued > 0
    broker.start()
    await produce(100)
    await wait_for(lambda: len({json.loads(m.payload)["seq"] for m in got}) >= n, timeout=40)  # type: ignore[arg-type]
    task.cancel()
    listener.cancel()
    seqs = [json.loads(m.payload)["seq"] for m in got]  # type: ignore[arg-type]
    unique = list(dict.fromkeys(seqs))
    # every estimate exactly once after dropping the rare re-sent duplicate, in order
    assert unique == list(range(n))
    duplicates = len(seqs) - len(unique)
    assert duplicates <= bridge.config.inflight
    assert bridge.stats.dropped_overflow == 0
    assert bridge.stats.connects >= 2


async def test_tls_with_a_test_ca(tmp_path: Path, session_bus) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    ca, cert, key = make_test_ca(tmp_path)
    with Mosquitto(tmp_path, tls=(ca, cert, key)) as broker:
        got: list[aiomqtt.Message] = []
        ready = asyncio.Event()
        import ssl

        ctx = ssl.create_default_context(cafile=str(ca))
        listener = asyncio.create_task(
            listen(broker.port, "wearsdk/#", got, ready, tls_context=ctx)
        )
        await asyncio.wait_for(ready.wait(), 10)
        config = MqttConfig(
            url=f"mqtts://127.0.0.1:{broker.port}", session="s-tls", ca_file=str(ca)
        )
        bridge = MqttBridge(bus, clock, config, consent=consent())
        task = asyncio.create_task(bridge.run())
        await asyncio.wait_for(bridge.connected.wait(), 10)
        bus.publish_nowait("affect/estimate", estimate(1))
        await wait_for(lambda: len(got) >= 1)
        task.cancel()
        listener.cancel()
        assert WireMessage.model_validate_json(got[0].payload).seq == 0  # type: ignore[arg-type]


async def test_wrong_password_is_a_clear_error_not_a_loop(tmp_path: Path, session_bus) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    with Mosquitto(tmp_path, users={"car17": "right"}) as broker:
        config = MqttConfig(url=f"mqtt://car17:wrong@127.0.0.1:{broker.port}", session="s-pw")
        assert "wrong" not in repr(config)
        assert "wrong" not in config.safe_url()
        bridge = MqttBridge(bus, clock, config, consent=consent())
        with pytest.raises(MqttAuthError) as info:
            await asyncio.wait_for(bridge.run(), 10)
        assert "wrong" not in str(info.value)
        ok = MqttConfig(url=f"mqtt://car17:right@127.0.0.1:{broker.port}", session="s-pw")
        good = MqttBridge(bus, clock, ok, consent=consent())
        task = asyncio.create_task(good.run())
        await asyncio.wait_for(good.connected.wait(), 10)
        task.cancel()


async def test_no_export_without_consent_or_beyond_it(broker: Mosquitto, session_bus) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    with pytest.raises(ConsentError):
        await MqttBridge(bus, clock, MqttConfig(url=broker.url, session="s"), consent=None).run()
    raw = MqttConfig(url=broker.url, session="s", policy=ExportPolicy.RAW)
    with pytest.raises(ConsentError, match="estimates only"):
        await MqttBridge(bus, clock, raw, consent=consent(ExportPolicy.ESTIMATES)).run()


@pytest.mark.parametrize("policy", list(ExportPolicy))
async def test_policy_is_enforced_and_identities_never_leave(
    broker: Mosquitto, session_bus, policy: ExportPolicy
) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    source = Pseudonymizer(b"deployment").pseudonym(ADDRESS, prefix="hr")
    session_id = Pseudonymizer(b"deployment").pseudonym(PARTICIPANT, prefix="s")
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(listen(broker.port, "#", got, ready))
    await asyncio.wait_for(ready.wait(), 10)
    bridge = MqttBridge(
        bus,
        clock,
        MqttConfig(url=broker.url, session=session_id, policy=policy),
        consent=consent(ExportPolicy.RAW),
    )
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    t = clock.now()
    items = [
        (f"device/{source}/status", DeviceStatus(t=t, source=source, state="connected")),
        (f"physio/{source}/hr", HeartRate(t=t, source=source, hr_bpm=71, rr_s=(0.84,))),
        (
            f"physio/{source}/rr",
            SampleBlock(source=source, stream="rr", unit="s", t=[t], values=[0.84]),
        ),
        (
            f"features/{source}",
            Features(
                t=t, source=source, window_start=t - 60, window_end=t, values={"x": float("nan")}
            ),
        ),
        ("affect/estimate", estimate(0, t)),
    ]
    for topic, item in items:
        bus.publish_nowait(topic, item)
    # then one more estimate: once it arrives, everything before it was sent or refused
    bus.publish_nowait("affect/estimate", estimate(99, t))
    expected = {ExportPolicy.ESTIMATES: 2, ExportPolicy.FEATURES: 3, ExportPolicy.RAW: 5}[policy]
    await wait_for(lambda: len(got) >= expected + 1)
    task.cancel()
    listener.cancel()
    last = WireMessage.model_validate_json(got.pop().payload)  # type: ignore[arg-type]
    assert isinstance(last.event, Estimate)
    assert last.event.t == t + 99
    assert len(got) == expected
    assert bridge.stats.refused_by_policy == 5 - expected
    kinds = {WireMessage.model_validate_json(m.payload).event.type for m in got}  # type: ignore[arg-type]
    if policy is ExportPolicy.ESTIMATES:
        assert kinds == {"estimate", "device_status"}
    everything = " ".join(str(m.topic) + bytes(m.payload).decode() for m in got)  # type: ignore[arg-type]
    for secret in (ADDRESS, ADDRESS.lower(), ADDRESS.replace(":", ""), PARTICIPANT):
        assert secret.lower() not in everything.lower()
    assert re.search(r"NaN|Infinity", everything) is None


async def test_inbound_annotations_and_commands(broker: Mosquitto, session_bus) -> None:  # type: ignore[no-untyped-def]
    bus, clock = session_bus
    sub = bus.subscribe(("analyzer/#", "control/#"))
    bridge = MqttBridge(bus, clock, MqttConfig(url=broker.url, session="s-in"), consent=consent())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)  # connected and subscribed
    now_unix = clock.to_unix(clock.now())
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        ann = {
            "modality": "face",
            "analyzer_id": "cam1",
            "start_unix": now_unix - 1.0,
            "end_unix": now_unix,
            "valence": 0.6,
            "confidence": 0.9,
        }
        await client.publish("wearsdk/s-in/analyzer/face/cam1", json.dumps(ann), qos=1)
        await client.publish("wearsdk/s-in/analyzer/face/cam1", b"{not json", qos=1)
        await client.publish(
            "wearsdk/s-in/control", json.dumps({"command": "calibrate_start"}), qos=1
        )
    first = await asyncio.wait_for(sub.receive(), 10)
    second = await asyncio.wait_for(sub.receive(), 10)
    task.cancel()
    assert first.topic == "analyzer/face/cam1"
    assert isinstance(first.payload, Annotation)
    assert first.payload.end == pytest.approx(clock.from_unix(now_unix), abs=1e-6)
    assert first.payload.valence == 0.6
    assert second.topic == "control/calibrate_start"
    await wait_for(lambda: bridge.stats.rejected_inbound == 1)
    _ = np


@pytest.mark.slow
async def test_cli_demo_exports_estimates_to_mqtt(broker: Mosquitto) -> None:
    import sys

    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(listen(broker.port, "wearsdk/demo/#", got, ready))
    await asyncio.wait_for(ready.wait(), 10)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wearsdk",
        "demo",
        "--duration",
        "15",
        "--speed",
        "10",
        "--mqtt",
        broker.url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    await wait_for(lambda: any(str(m.topic).endswith("affect/estimate") for m in got))
    listener.cancel()
    kinds = {WireMessage.model_validate_json(m.payload).event.type for m in got}  # type: ignore[arg-type]
    # the default export policy: estimates and status only, never the raw heartbeats
    assert "estimate" in kinds
    assert kinds <= {"estimate", "device_status", "clock_status", "gap"}


@pytest.mark.data
async def test_cli_replay_exports_a_recorded_session_to_mqtt(
    broker: Mosquitto, data_dir: Path, tmp_path: Path
) -> None:
    import sys

    record = tmp_path / "consent.json"
    record.write_text(consent(ExportPolicy.FEATURES).model_dump_json())
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(listen(broker.port, "wearsdk/#", got, ready))
    await asyncio.wait_for(ready.wait(), 10)
    out = tmp_path / "run"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "wearsdk", "replay", str(data_dir / "e4_session")),
        *("--source", "e4", "--duration", "150", "--speed", "30", "--no-live"),
        *("--mqtt", broker.url, "--export", "features", "--consent", str(record)),
        *("--out", str(out), "--no-report"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    text = stdout.decode()
    sent = int(re.search(r"mqtt: (\d+) sent", text).group(1))  # type: ignore[union-attr]
    assert ", 0 dropped" in text
    await wait_for(lambda: len(got) >= sent)
    listener.cancel()
    wire = [WireMessage.model_validate_json(m.payload) for m in got]  # type: ignore[arg-type]
    kinds = {w.event.type for w in wire}
    # the export policy: features and estimates leave, the raw samples stay in the process
    assert {"features", "estimate"} <= kinds
    assert "samples" not in kinds
    # every estimate of the replay arrived, the last ones too (the bridge is flushed)
    logged = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    n_est = sum(1 for x in logged if x["type"] == "estimate")
    assert sum(1 for w in wire if w.event.type == "estimate") == n_est > 0
    # stamped with the recording's own times (2019), not the replay's
    start = 1560279825.0
    assert all(start <= w.t_unix <= start + 150 for w in wire if w.event.type == "estimate")

    # as fast as possible would outrun the link: refused, with the reason
    fast = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "wearsdk", "replay", str(data_dir / "e4_session")),
        *("--source", "e4", "--speed", "max", "--mqtt", broker.url, "--consent", str(record)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(fast.communicate(), 60)
    assert fast.returncode == 1
    assert "--speed X" in err.decode()


def test_cli_stream_refuses_to_export_without_consent(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "wearsdk",
            "stream",
            "--device",
            "AA:BB:CC:DD:EE:FF",
            "--mqtt",
            "mqtt://127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "consent" in run.stderr
    bad = tmp_path / "consent.json"
    bad.write_text(consent(ExportPolicy.ESTIMATES).model_dump_json())
    raw = subprocess.run(
        [
            sys.executable,
            "-m",
            "wearsdk",
            "stream",
            "--device",
            "AA:BB:CC:DD:EE:FF",
            "--mqtt",
            "mqtt://127.0.0.1:1",
            "--consent",
            str(bad),
            "--export",
            "raw",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert raw.returncode == 1
    assert "estimates only" in raw.stderr


def test_cli_schema_prints_the_wire_schemas() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "wearsdk", "schema"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["version"] == "wearsdk.wire/1"
    assert "event" in schema["outgoing"]["properties"]
    assert "start_unix" in schema["annotation_in"]["properties"]
