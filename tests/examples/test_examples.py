"""Every example runs against virtual devices (and a real mosquitto), with its output checked."""

import asyncio
import itertools
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import pylsl
import pytest
import pyxdf

from tests.io.mosquitto import Mosquitto

pytestmark = pytest.mark.timeout(120)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_app_embedding_follows_the_wearer() -> None:
    out = run_example("app_embedding.py", "--duration", "45", "--speed", "10")
    rows = [
        (float(t), float(a), float(c))
        for t, a, c in re.findall(r"t=\s*([\d.]+)s arousal=([\d.]+) confidence=([\d.]+)", out)
    ]
    assert len(rows) >= 25
    assert out.rstrip().endswith(f"{len(rows)} estimates")
    calm = [a for t, a, _ in rows if t <= 15]
    stress = [a for t, a, c in rows if 20 <= t <= 30 and c > 0]
    late = [a for t, a, _ in rows if t >= 40]
    # a strap alone: the heart-rate-only model separates by ~0.25 here (docs/estimates.md)
    assert sum(stress) / len(stress) > sum(calm) / len(calm) + 0.2
    assert sum(late) / len(late) < sum(stress) / len(stress) - 0.2
    assert "ready" in out  # the baseline calibrates and the estimates say so


def test_custom_gatt_profile_streams_what_the_profile_declares() -> None:
    out = run_example("custom_gatt_profile.py", "--duration", "20", "--speed", "5")
    assert "profile acme-eda-band" in out
    m = re.search(r"(\d+) notifications, (\d+) samples \(([\d.]+) Hz\), (\d+) gaps", out)
    assert m is not None, out
    notifications, samples, rate, gaps = int(m[1]), int(m[2]), float(m[3]), int(m[4])
    assert samples == 4 * notifications  # 4 samples per notification, as declared
    assert 6.5 <= rate <= 8.0  # 8 Hz, less the time to connect
    assert gaps == 0
    lo, hi = map(float, re.findall(r"skin conductance ([\d.]+)-([\d.]+) uS", out)[0])
    assert 0.5 < lo < hi < 30.0  # nS converted to plausible µS


@pytest.mark.slow
async def test_driver_stress_monitor_publishes_levels_and_survives_a_drop(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()
    received: list[tuple[str, int, dict[str, Any]]] = []
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-cabin") as client:
            await client.subscribe("wearsdk/cabin-1/#", qos=1)

            async def collect() -> None:
                async for message in client.messages:
                    body = json.loads(bytes(message.payload))
                    received.append((str(message.topic), message.qos, body))

            collector = asyncio.create_task(collect())
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(EXAMPLES / "driver_stress_monitor.py"),
                *("--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--duration", "120"),
                *("--speed", "10", "--drop-at", "40", "--drop-for", "8"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 100)
            await asyncio.sleep(0.5)
            collector.cancel()
    finally:
        broker.stop()
    out = stdout.decode()
    assert proc.returncode == 0, stderr.decode()
    levels = [
        body["event"]["stress_level"]
        for topic, qos, body in received
        if topic == "wearsdk/cabin-1/affect/stress"
    ]
    assert all(
        qos == 1 for topic, qos, _ in received if topic.endswith("affect/stress")
    )  # QoS 1 end to end
    assert "high" in levels
    assert levels[-1] != "high"  # recovery brings it down again (to medium, then low)
    assert all(a != b for a, b in itertools.pairwise(levels))  # changes only
    printed = re.findall(r"stress level (\w+)", out)
    assert printed == levels  # every change reached the broker, in order
    # the strap dropped out and came back; the monitor kept going
    states = [body["event"]["state"] for topic, _, body in received if topic.endswith("/status")]
    assert "disconnected" in states
    assert states[-1] == "connected" or "connected" in states[states.index("disconnected") :]
    after_drop = out.split("dropping the strap's link", 1)[1]
    assert "strap connected" in after_drop
    assert re.search(r"stress level \w+", after_drop)  # estimates resumed after the drop


@pytest.mark.slow
def test_lab_setup_streams_to_lsl_and_records_xdf_with_the_experiment_markers(
    tmp_path: Path,
) -> None:
    duration = 20.0
    ns = uuid.uuid4().hex[:8]  # this run's streams only, whatever else runs on the machine
    xdf = tmp_path / "lab.xdf"
    proc = subprocess.Popen(
        [
            *(sys.executable, str(EXAMPLES / "lab_setup.py"), "--duration", str(duration)),
            *("--out", str(xdf), "--namespace", ns, "--markers", f"markers-{ns}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("LSL outlets ready"), first
        # an independent consumer: plain pylsl, as a visualiser or LabRecorder would read it
        found = pylsl.resolve_byprop("source_id", f"wearsdk:affect@{ns}", 1, 10.0)
        assert found, "the affect outlet was not found on the network"
        inlet = pylsl.StreamInlet(found[0], max_buflen=120)
        inlet.open_stream(timeout=10.0)
        assert inlet.info(5.0).type() == "Affect"
        seen_t: list[float] = []
        seen_x: list[list[float]] = []
        while True:
            running = proc.poll() is None
            chunk, stamps = inlet.pull_chunk(timeout=0.5)
            seen_x += chunk
            seen_t += stamps
            if not running:
                break
        while True:  # what was on its way when the process ended: until the stream is quiet
            chunk, stamps = inlet.pull_chunk(timeout=2.0)
            if not stamps:
                break
            seen_x += chunk
            seen_t += stamps
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    out = first + out
    assert "markers: calm, stress, recovery, end (4 received)" in out

    streams, _ = pyxdf.load_xdf(str(xdf), dejitter_timestamps=False)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for s in streams:
        by_type.setdefault(s["info"]["type"][0], []).append(s)
    (ecg,) = by_type["ECG"]
    (eda,) = by_type["EDA"]
    for stream, rate in ((ecg, 130.0), (eda, 100.0)):
        t = stream["time_stamps"]
        span = t[-1] - t[0]
        assert duration - 4 < span < duration + 6  # connected within seconds, kept going
        assert abs((t.size - 1) / span - rate) < 0.02 * rate  # its rate, no lost stretch
        assert np.all(np.diff(t) > 0)
    assert 1.0 < float(np.median(eda["time_series"])) < 30.0  # skin conductance in uS
    assert float(np.ptp(ecg["time_series"])) > 500.0  # R peaks: an ECG in uV, not noise

    # the experiment's markers: a stream of their own, at the phase boundaries
    (markers,) = [s for s in by_type["Markers"] if s["info"]["name"][0] == "experiment-markers"]
    assert [x[0] for x in markers["time_series"]] == ["calm", "stress", "recovery", "end"]
    np.testing.assert_allclose(np.diff(markers["time_stamps"]), duration / 3, atol=0.3)
    assert ecg["time_stamps"][0] < markers["time_stamps"][0]
    assert markers["time_stamps"][-1] < ecg["time_stamps"][-1] + 1.0

    # the fused estimates: recorded, and seen sample for sample by the plain LSL consumer
    (affect,) = [s for s in by_type["Affect"] if s["info"]["name"][0] == "affect"]
    n = len(affect["time_stamps"])
    assert n >= duration / 3  # one a second once the window and the baseline are full
    assert re.search(rf"LSL outlets: affect {n},", out)
    x = np.asarray(affect["time_series"])
    assert np.all((x[:, 0] >= 0) & (x[:, 0] <= 1) & (x[:, 2] >= 0) & (x[:, 2] <= 1))
    assert len(seen_t) == n
    np.testing.assert_allclose(seen_t, affect["time_stamps"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.asarray(seen_x), x, rtol=0, atol=1e-12, equal_nan=True)
