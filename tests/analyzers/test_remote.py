"""Analyzers in other processes: over MQTT (a real broker) and LSL (real outlet and inlet)."""

import asyncio
import json
import sys
from pathlib import Path

import pytest

from wearsdk import Annotation, Consent, Estimate, ExportPolicy, Session
from wearsdk.io import annotation_from_channels, annotation_from_marker
from wearsdk.io.mqtt import MqttBridge, MqttConfig

from ..io.mosquitto import Mosquitto

pytestmark = pytest.mark.timeout(60)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def physio(end: float) -> Estimate:
    return Estimate(
        t=end, window_start=end - 60, window_end=end, arousal=0.5, confidence=0.8, model="m"
    )


async def test_mqtt_analyzer_in_another_process_changes_the_fused_valence(
    broker: Mosquitto,
) -> None:
    consent = Consent(
        participant="p-1",
        purposes=("research",),
        export=ExportPolicy.FEATURES,
        obtained_by="test",
        obtained_unix=1.7e9,
    )
    async with Session(pipeline=None) as session:
        clock = session.clock
        bridge = MqttBridge(
            session.bus, clock, MqttConfig(url=broker.url, session="s-fuse"), consent=consent
        )
        bridge_task = asyncio.create_task(bridge.run())
        await asyncio.wait_for(bridge.connected.wait(), 10)
        annotations = session.bus.subscribe("analyzer/face/#")
        estimates = session.estimates()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / "mqtt_analyzer.py"),
            "--port",
            str(broker.port),
            "--session",
            "s-fuse",
            "--valence",
            "0.8",
            "--seconds",
            "3",
            # the analyzer's machine is an hour ahead and its clock runs 100 ppm fast
            "--clock-offset-s",
            "3600",
            "--drift-ppm",
            "100",
        )
        before: list[Estimate] = []
        after: list[Estimate] = []
        try:
            # before the first remote annotation: physiology alone, no valence
            session.bus.publish_nowait("affect/physio", physio(clock.now()))
            before.append(await asyncio.wait_for(estimates.__anext__(), 5))
            first = await asyncio.wait_for(annotations.receive(), 15)
            received_at = clock.now()
            ann = first.payload
            assert isinstance(ann, Annotation)
            # stamped on a clock an hour ahead, mapped onto the session clock: the frame ended
            # just before it arrived, and within a few ms of the true instant (the session
            # clock is this machine's monotonic clock, the analyzer reports it as truth)
            assert 0.0 <= received_at - ann.end < 0.5
            assert clock.source_name == "lsl"  # pylsl's clock is CLOCK_MONOTONIC on Linux
            assert abs(ann.end - ann.extras["monotonic_s"]) < 0.01
            for _ in range(5):
                await asyncio.sleep(0.3)
                session.bus.publish_nowait("affect/physio", physio(clock.now()))
            async with asyncio.timeout(5):
                while len([e for e in after if not e.revised]) < 5:
                    after.append(await estimates.__anext__())
        finally:
            assert await asyncio.wait_for(proc.wait(), 15) == 0
            bridge_task.cancel()
        errors = [abs(ann.end - ann.extras["monotonic_s"])]
        while (m := annotations.receive_nowait()) is not None:
            assert isinstance(m.payload, Annotation)
            errors.append(abs(m.payload.end - m.payload.extras["monotonic_s"]))
        print(f"alignment error over {len(errors)} annotations: max {max(errors) * 1e3:.2f} ms")
        assert len(errors) >= 5
        assert max(errors) < 0.01
    assert before[0].valence is None
    on_time = [e for e in after if not e.revised]
    assert all(e.valence == pytest.approx(0.8) for e in on_time)
    assert all("remote-cam" in e.sources and "face" in e.modalities for e in on_time)
    assert bridge.stats.received >= 5


async def test_lsl_marker_analyzer_annotations_fuse() -> None:
    """A marker outlet (another program's LSL stream) read by a real inlet; each JSON marker
    becomes an Annotation on the bus, which is all an LSL marker inlet has to do."""
    import pylsl

    info = pylsl.StreamInfo("face-markers", "Markers", 1, 0, "string", "face-markers-test")
    outlet = pylsl.StreamOutlet(info)
    found = await asyncio.to_thread(pylsl.resolve_byprop, "source_id", "face-markers-test", 1, 5.0)
    assert found
    inlet = pylsl.StreamInlet(found[0])
    await asyncio.to_thread(inlet.open_stream, 5.0)
    async with Session(pipeline=None) as session:
        estimates = session.estimates()  # the fusion stage subscribed as the session started
        t0 = pylsl.local_clock()
        markers = [
            json.dumps({"modality": "face", "valence": -0.6, "confidence": 0.9, "duration_s": 1}),
            json.dumps({"valence": -0.6, "arousal": 0.7, "confidence": 0.9, "duration_s": 1}),
            "trial_start",
        ]
        for i, m in enumerate(markers):
            outlet.push_sample([m], t0 + 0.1 * i)
        got: list[Annotation] = []
        async with asyncio.timeout(10):
            while len(got) < len(markers):
                samples, stamps = await asyncio.to_thread(inlet.pull_chunk, 1.0)
                correction = await asyncio.to_thread(inlet.time_correction, 2.0)
                for (text,), stamp in zip(samples, stamps, strict=True):
                    ann = annotation_from_marker(
                        text, stamp + correction, modality="marker", analyzer_id="face-markers"
                    )
                    session.bus.publish_nowait(f"analyzer/{ann.modality}/{ann.analyzer_id}", ann)
                    got.append(ann)
        assert [a.modality for a in got] == ["face", "marker", "marker"]
        assert got[0].end == pytest.approx(t0, abs=0.01)  # LSL time is session time
        assert got[0].start == pytest.approx(t0 - 1.0, abs=0.01)
        assert got[2].label == "trial_start"
        session.bus.publish_nowait("affect/physio", physio(t0 + 0.5))
        est = await asyncio.wait_for(estimates.__anext__(), 5)
    inlet.close_stream()
    # the face marker is fused; the marker-modality ones (label, and a marker without a
    # modality, which takes the stream's) are not
    assert est.valence == pytest.approx(-0.6)
    assert est.modalities == ("face",)


def test_numeric_lsl_channels_become_annotations() -> None:
    ann = annotation_from_channels(
        [0.7, -0.2, 0.9, 0.1, float("nan")],
        ("arousal", "valence", "confidence", "emotion_fear", "mouth_open"),
        12.0,
        modality="voice",
        analyzer_id="opensmile",
        duration_s=0.5,
    )
    assert ann is not None
    assert (ann.start, ann.end, ann.arousal, ann.valence, ann.confidence) == (
        11.5,
        12.0,
        0.7,
        -0.2,
        0.9,
    )
    assert ann.emotions == {"fear": 0.1}
    assert ann.extras == {}
    nothing = annotation_from_channels(
        [1.0], ("mouth_open",), 1.0, modality="face", analyzer_id="x"
    )
    assert nothing is None
