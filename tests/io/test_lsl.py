"""LSL inlets and outlets with real liblsl outlets/inlets on loopback (machine scope)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pylsl
import pylsl.util
import pytest

from tests.io.lsl_helpers import ECG_HZ, EDA_HZ, FAST, synthetic_physio
from wearsdk import (
    Annotation,
    Consent,
    ConsentError,
    DeviceStatus,
    Estimate,
    ExportPolicy,
    Features,
    Gap,
    PipelineConfig,
    SampleBlock,
    Session,
    __version__,
)
from wearsdk.bus import Bus
from wearsdk.io.lsl import (
    AdaptivePoll,
    ChannelSpec,
    LslClockMap,
    LslOutlets,
    StreamQuery,
    StreamSpec,
    feature_channels,
    push_chunk,
    route_channels,
    spec_for,
    stream_info,
)
from wearsdk.io.lsl._spec import rows_of
from wearsdk.io.sources import LslInlet
from wearsdk.signals import FEATURE_REGISTRY, FeatureSpec

CONSENT = Consent.simulated_participant()


def unique(tag: str) -> str:
    return f"test-{tag}-{uuid.uuid4().hex[:10]}"


def outlet(
    name: str, kind: str, channels: tuple[ChannelSpec, ...], rate: float, source_id: str
) -> pylsl.StreamOutlet:
    spec = StreamSpec(
        key=source_id,
        name=name,
        type=kind,
        channels=channels,
        nominal_srate=rate,
        source_id=source_id,
        channel_format="float32" if kind != "Markers" else "string",
    )
    return pylsl.StreamOutlet(stream_info(spec))


# ------------------------------------------------------------------------------- pure parts


def test_queries_parse_into_xpath() -> None:
    assert StreamQuery.parse("type=ECG").xpath() == "type='ECG'"
    assert StreamQuery.parse("name=H10 ecg, type=ECG").xpath() == "name='H10 ecg' and type='ECG'"
    q = StreamQuery.parse("starts-with(name,'H10')")
    assert q.predicate == "starts-with(name,'H10')"
    assert q.xpath() == "(starts-with(name,'H10'))"


def test_channel_metadata_chooses_the_pipeline_stream_and_unit() -> None:
    mixed = [
        ChannelSpec("chest", "mV", "ECG"),
        ChannelSpec("palm", "microsiemens", "GSR"),
        ChannelSpec("x", "", "ACC"),
        ChannelSpec("y", "", "ACC"),
    ]
    routes = {r.stream: r for r in route_channels("Physio", mixed)}
    assert set(routes) == {"ecg", "eda", "acc"}
    assert routes["ecg"].indices == (0,)
    assert routes["ecg"].unit == "uV"
    assert routes["ecg"].scale == 1000.0
    assert routes["eda"].unit == "uS"
    assert routes["eda"].scale == 1.0
    assert routes["acc"].indices == (2, 3)
    assert routes["acc"].labels == ("x", "y")
    (rr,) = route_channels("IBI", [ChannelSpec("ibi", "ms", "")])
    assert (rr.stream, rr.unit, rr.scale) == ("rr", "s", 1e-3)
    (eeg,) = route_channels("EEG", [ChannelSpec("", "", "")])
    assert eeg.stream == "eeg"


def test_clock_map_follows_offset_and_drift_and_never_goes_back() -> None:
    cmap = LslClockMap()
    with pytest.raises(Exception, match="time correction"):
        cmap.map(np.array([1.0]))
    drift = 80e-6
    for k in range(10):  # a measurement every 5 s, like LabRecorder
        local = 1000.0 + 5.0 * k
        cmap.update(local, 2.5 + drift * local)
    assert cmap.measurements == 10
    assert cmap.drift_ppm == pytest.approx(80.0, rel=1e-6)
    remote = np.array([1040.0, 1041.0])
    expected = remote + 2.5 + drift * remote
    np.testing.assert_allclose(cmap.map(remote), expected, atol=1e-6)
    earlier = cmap.map(np.array([1000.0]))  # older than what was mapped: clamped forward
    assert earlier[0] > expected[-1]


def test_adaptive_poll_waits_longer_on_slow_streams_and_not_at_all_when_full() -> None:
    poll = AdaptivePoll(100, min_s=0.001, max_s=0.05)
    assert poll.next_delay(100) == 0.0
    delays = [poll.next_delay(80) for _ in range(10)]
    assert delays[-1] == pytest.approx(0.001)
    delays = [poll.next_delay(0) for _ in range(40)]
    assert delays[-1] == pytest.approx(0.05)


def test_outlets_need_consent_for_what_they_publish() -> None:
    bus = Bus()
    with pytest.raises(ConsentError):
        LslOutlets(bus, consent=None)
    estimates_only = CONSENT.model_copy(update={"export": ExportPolicy.ESTIMATES})
    with pytest.raises(ConsentError):
        LslOutlets(bus, consent=estimates_only, policy=ExportPolicy.RAW)


# ------------------------------------------------------------------------ live LSL streams


READER = """
import json, sys, pylsl
infos = pylsl.resolve_byprop("source_id", sys.argv[1], 1, 10.0)
inlet = pylsl.StreamInlet(infos[0])
info = inlet.info(5.0)
inlet.open_stream(5.0)
print("ready", flush=True)
d = info.desc()
ch = d.child("channels").child("channel")
chans = []
while not ch.empty():
    chans.append([ch.child_value("label"), ch.child_value("unit"), ch.child_value("type")])
    ch = ch.next_sibling("channel")
t, x = [], []
while True:
    sample, ts = inlet.pull_sample(timeout=float(sys.argv[2]))
    if sample is None:
        break
    t.append(ts + inlet.time_correction())
    x.append(sample)
print(json.dumps({
    "name": info.name(), "type": info.type(), "channels": chans,
    "manufacturer": d.child("acquisition").child_value("manufacturer"),
    "version": d.child("wearsdk").child_value("version"),
    "source": d.child("wearsdk").child_value("source"),
    "t": t, "x": x,
}), flush=True)
"""


async def push_physio(
    ecg: pylsl.StreamOutlet, eda: pylsl.StreamOutlet, duration_s: float, speed: float
) -> float:
    """Push synthetic ECG (mV) and EDA at ``speed`` times real time; return the time origin."""
    p = synthetic_physio(duration_s)
    t0: float = pylsl.local_clock()
    step = 0.25  # recording seconds per push
    for k in range(int(duration_s / step)):
        a, b = k * step, (k + 1) * step
        for out, t, x in ((ecg, p.ecg_t, p.ecg_mv), (eda, p.eda_t, p.eda_us)):
            sel = (t >= a) & (t < b)
            push_chunk(out, x[sel, None].astype(np.float32), t0 + t[sel])
        await asyncio.sleep(step / speed)
    return t0


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.slow
async def test_ecg_and_eda_streams_feed_the_pipeline_and_affect_reaches_another_process() -> None:
    ecg_id, eda_id, ns = unique("ecg"), unique("eda"), uuid.uuid4().hex[:8]
    ecg = outlet("syn ecg", "ECG", (ChannelSpec("ecg", "mV", "ECG"),), ECG_HZ, ecg_id)
    eda = outlet("syn eda", "GSR", (ChannelSpec("palm", "microsiemens", "GSR"),), EDA_HZ, eda_id)
    estimates: list[Estimate] = []
    blocks: dict[str, int] = {}
    async with Session(pipeline=FAST, consent=CONSENT) as session:
        sub = session.bus.subscribe("#", maxsize=65536, policy="block")
        outlets = LslOutlets(session.bus, consent=CONSENT, namespace=ns)
        session.add(LslInlet(f"source_id={ecg_id}", source_id="lsl-ecg"))
        session.add(LslInlet(f"source_id={eda_id}", source_id="lsl-eda"))
        reader = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            READER,
            f"wearsdk:affect@{ns}",
            "4.0",
            stdout=subprocess.PIPE,
        )
        assert reader.stdout is not None
        async with running(outlets.run()):
            assert (await reader.stdout.readline()).strip() == b"ready"
            connected = 0
            while connected < 2:  # both inlets connected before data flows
                m = await sub.receive()
                if isinstance(m.payload, DeviceStatus) and m.payload.state == "connected":
                    connected += 1

            async def collect() -> None:
                async for m in sub:
                    if isinstance(m.payload, Estimate):
                        if m.topic == "affect/estimate":  # not the unfused affect/physio
                            estimates.append(m.payload)
                    elif isinstance(m.payload, SampleBlock):
                        key = f"{m.payload.source}/{m.payload.stream}/{m.payload.unit}"
                        blocks[key] = blocks.get(key, 0) + len(m.payload)

            async with running(collect()):
                await push_physio(ecg, eda, 90.0, speed=10.0)
                # the reader stops 4 s after the last estimate it got
                out, _ = await asyncio.wait_for(reader.communicate(), 60.0)
    got = json.loads(out)
    assert blocks.get("lsl-ecg/ecg/uV", 0) > 0.9 * 90 * ECG_HZ
    assert blocks.get("lsl-eda/eda/uS", 0) > 0.9 * 90 * EDA_HZ
    assert len(estimates) >= 5
    assert {e.sources for e in estimates} >= {("lsl-ecg", "lsl-eda")}
    assert got["name"] == "affect"
    assert got["type"] == "Affect"
    assert got["channels"] == [
        ["arousal", "normalized", "Arousal"],
        ["valence", "normalized", "Valence"],
        ["confidence", "normalized", "Confidence"],
    ]
    assert got["manufacturer"] == "wearsdk"
    assert got["version"] == __version__
    assert got["source"] == "session"
    # every estimate crossed, with its own timestamp (not the push time)
    assert len(got["t"]) == len(estimates)
    np.testing.assert_allclose(got["t"], [e.t for e in estimates], atol=1e-3)
    x = np.array(got["x"])
    np.testing.assert_allclose(x[:, 0], [e.arousal for e in estimates], atol=1e-12)
    np.testing.assert_allclose(x[:, 2], [e.confidence for e in estimates], atol=1e-12)


async def test_a_lost_stream_is_resolved_again_and_the_gap_reported() -> None:
    sid = unique("loss")
    rate = 100.0
    pushed: list[float] = []

    async def feed(out: pylsl.StreamOutlet, seconds: float) -> None:
        for _ in range(int(seconds / 0.05)):
            t = pylsl.local_clock() - np.arange(5)[::-1] / rate
            push_chunk(out, np.ones((5, 1), dtype=np.float32), t)
            pushed.extend(t.tolist())
            await asyncio.sleep(0.05)

    first = outlet("lossy", "ECG", (ChannelSpec("ecg", "uV", "ECG"),), rate, sid)
    inlet = LslInlet(f"source_id={sid}", source_id="lsl-lossy", resolve_timeout_s=0.5)
    async with inlet:
        ecg = inlet.stream("ecg", maxsize=4096)
        status = inlet.status_stream()
        await feed(first, 1.0)
        last_before = pushed[-1]
        del first
        gc.collect()
        async with asyncio.timeout(15):
            async for s in status:
                assert isinstance(s, DeviceStatus)
                if s.state == "disconnected":
                    break
        await asyncio.sleep(0.5)
        second = outlet("lossy", "ECG", (ChannelSpec("ecg", "uV", "ECG"),), rate, sid)
        async with asyncio.timeout(15):
            async for s in status:
                assert isinstance(s, DeviceStatus)
                if s.state == "connected":
                    break
        n_before = len(pushed)
        async with running(feed(second, 3.0)):
            gap: Gap | None = None
            async with asyncio.timeout(15):
                async for item in ecg:
                    if isinstance(item, Gap):
                        gap = item
                        break
        first_after = pushed[n_before]
    assert gap is not None
    assert gap.reason == "stream_lost"
    assert gap.source == "lsl-lossy"
    assert gap.stream == "ecg"
    assert gap.start == pytest.approx(last_before, abs=2e-3)
    assert gap.end == pytest.approx(first_after, abs=2e-3)
    assert gap.n_missing == round((gap.end - gap.start) * rate) - 1
    assert inlet.losses >= 1


async def test_time_correction_is_measured_again_and_timestamps_kept() -> None:
    sid = unique("clock")
    out = outlet("clocked", "EDA", (ChannelSpec("eda", "uS", "EDA"),), 32.0, sid)
    inlet = LslInlet(f"source_id={sid}", source_id="lsl-clock", clock_correction_s=0.25)
    sent: list[float] = []
    got: list[float] = []
    async with inlet:
        eda = inlet.stream("eda", maxsize=4096)
        for _ in range(40):
            t = pylsl.local_clock() - np.arange(2)[::-1] / 32.0
            push_chunk(out, np.full((2, 1), 3.0, dtype=np.float32), t)
            sent.extend(t.tolist())
            await asyncio.sleep(1 / 16)
        await asyncio.sleep(0.3)
        while (m := eda.subscription.receive_nowait()) is not None:
            assert isinstance(m.payload, SampleBlock)
            got.extend(m.payload.t.tolist())
    assert inlet.clock_map.measurements >= 5
    # one machine: the remote clock is the local one, the correction must keep it (< 1 ms)
    assert abs(inlet.clock_map.offset_s) < 1e-3
    assert len(got) == len(sent)
    np.testing.assert_allclose(got, sent, atol=1e-3)


async def test_marker_strings_become_annotations() -> None:
    sid = unique("markers")
    spec = StreamSpec(
        key=sid,
        name="markers",
        type="Markers",
        channels=(ChannelSpec("marker"),),
        channel_format="string",
        source_id=sid,
    )
    out = pylsl.StreamOutlet(stream_info(spec))
    inlet = LslInlet(f"source_id={sid}", source_id="lsl-markers")
    async with inlet:
        assert inlet.context is not None
        sub = inlet.context.bus.subscribe("analyzer/#", maxsize=64)
        stamps = []
        face = '{"modality": "face", "analyzer_id": "cam-1", "valence": 0.4, "duration_s": 1}'
        bad = '{"modality": "face", "valence": 7}'  # out of range: counted and dropped
        for label in ("baseline", "stroop", bad, face, "rest"):
            stamps.append(pylsl.local_clock())
            out.push_sample([label], stamps[-1])
            await asyncio.sleep(0.05)
        got: list[tuple[str, Annotation]] = []
        async with asyncio.timeout(5):
            while len(got) < 4:
                m = await sub.receive()
                assert isinstance(m.payload, Annotation)
                got.append((m.topic, m.payload))
    assert inlet.malformed == 1
    markers = [a for topic, a in got if topic == "analyzer/marker/lsl-markers"]
    assert [a.label for a in markers] == ["baseline", "stroop", "rest"]
    assert all(a.modality == "marker" and a.analyzer_id == "lsl-markers" for a in markers)
    np.testing.assert_allclose([a.t for a in markers], [stamps[0], stamps[1], stamps[4]], atol=1e-3)
    # a JSON marker in the analyzer contract is that analyzer's annotation, ready for fusion
    ((topic, note),) = [(topic, a) for topic, a in got if a.modality == "face"]
    assert topic == "analyzer/face/cam-1"
    assert note.valence == 0.4
    assert note.end == pytest.approx(stamps[3], abs=1e-3)
    assert note.end - note.start == pytest.approx(1.0)


async def test_raw_outlets_carry_the_blocks_with_their_timestamps_and_metadata() -> None:
    ns = uuid.uuid4().hex[:8]
    bus = Bus()
    bus.bind_loop()
    outlets = LslOutlets(bus, consent=CONSENT, policy=ExportPolicy.RAW, namespace=ns)
    t0 = pylsl.local_clock() - 100.0  # explicit, far from the push time
    first = SampleBlock(
        source="eda-0a1b2c3d4e5f",
        stream="eda",
        unit="uS",
        t=t0 + np.arange(8) / 4.0,
        values=np.linspace(1.0, 2.0, 8),
        nominal_rate_hz=4.0,
    )
    outlets.push("physio/eda-0a1b2c3d4e5f/eda", first)  # creates the outlet
    (info,) = await asyncio.to_thread(
        pylsl.resolve_byprop, "source_id", f"wearsdk:eda-0a1b2c3d4e5f:eda@{ns}", 1, 10.0
    )
    inlet = pylsl.StreamInlet(info)
    full = await asyncio.to_thread(inlet.info, 5.0)
    await asyncio.to_thread(inlet.open_stream, 5.0)
    second = SampleBlock(
        source=first.source,
        stream="eda",
        unit="uS",
        t=first.t + 2.0,
        values=first.values[:, 0] + 1.0,
        nominal_rate_hz=4.0,
    )
    async with running(outlets.run()):
        await bus.publish("physio/eda-0a1b2c3d4e5f/eda", second)
        got_t: list[float] = []
        got_x: list[float] = []
        async with asyncio.timeout(10):
            while len(got_t) < 8:
                x, t = inlet.pull_chunk(timeout=0.0)
                got_t += list(t)
                got_x += [v[0] for v in x]
                await asyncio.sleep(0.02)
        offset = await asyncio.to_thread(inlet.time_correction, 5.0)
    np.testing.assert_allclose(np.array(got_t) + offset, second.t, atol=1e-3)
    np.testing.assert_allclose(got_x, second.values[:, 0])
    assert (full.name(), full.type(), full.nominal_srate()) == ("eda-0a1b2c3d4e5f-eda", "EDA", 4.0)
    assert full.get_channel_labels() == ["eda"]
    assert full.get_channel_units() == ["uS"]
    assert full.get_channel_types() == ["EDA"]
    assert full.desc().child("wearsdk").child_value("source") == "eda-0a1b2c3d4e5f"
    assert full.desc().child("acquisition").child_value("manufacturer") == "wearsdk"
    assert outlets.pushed["eda-0a1b2c3d4e5f-eda"] == 16


async def test_a_ppg_stream_gives_pulse_features(data_dir: Path) -> None:
    bvp = np.loadtxt(
        data_dir / "stress_predict" / "Raw_data" / "S02" / "BVP.csv", skiprows=2, max_rows=64 * 75
    )
    sid = unique("ppg")
    ppg = outlet("wrist ppg", "PPG", (ChannelSpec("ppg", "", "PPG"),), 64.0, sid)
    config = PipelineConfig(window_s=30.0, hop_s=5.0, baseline_s=30.0, stale_s=30.0)
    features: list[Features] = []
    async with Session(pipeline=config, consent=CONSENT) as session:
        sub = session.bus.subscribe("#", maxsize=65536, policy="block")
        session.add(LslInlet(f"source_id={sid}", source_id="lsl-ppg"))
        while True:
            m = await sub.receive()
            if isinstance(m.payload, DeviceStatus) and m.payload.state == "connected":
                break
        t0 = pylsl.local_clock()
        t = np.arange(bvp.size) / 64.0
        for k in range(0, bvp.size, 16):  # 0.25 s chunks at 10 x real time
            push_chunk(ppg, bvp[k : k + 16, None].astype(np.float32), t0 + t[k : k + 16])
            await asyncio.sleep(0.025)
        async with asyncio.timeout(20):
            while len(features) < 8:
                m = await sub.receive()
                if isinstance(m.payload, Features):
                    features.append(m.payload)
    defined = [f for f in features if f.values.get("ppg_rate_bpm") is not None]
    assert len(defined) >= 6
    for f in defined:
        assert 50 < f.values["ppg_rate_bpm"] < 140  # type: ignore[operator]
        assert f.values["ppg_amplitude_au"] is not None
        coverage = f.quality["bvp_coverage"]
        assert coverage is not None
        assert coverage >= 0.6
    # the first window may start before the stream (windows end on multiples of the hop)
    assert all((f.quality["bvp_coverage"] or 0.0) > 0.95 for f in defined[1:])


async def test_the_last_samples_reach_a_connected_consumer_when_the_session_ends() -> None:
    """The pipeline's final windows are pushed as the session closes; LSL drops what is unsent
    when an outlet is destroyed, so the outlets stay open briefly for connected consumers."""
    ns = uuid.uuid4().hex[:8]
    bus = Bus()
    bus.bind_loop()
    outlets = LslOutlets(bus, consent=CONSENT, policy=ExportPolicy.RAW, namespace=ns)
    source = "eda-1a2b3c4d5e6f"
    t0 = pylsl.local_clock() - 50.0

    def block(k: int) -> SampleBlock:
        return SampleBlock(
            source=source,
            stream="eda",
            unit="uS",
            t=t0 + k + np.arange(4) / 4.0,
            values=np.full(4, 1.0 + k),
            nominal_rate_hz=4.0,
        )

    outlets.push(f"physio/{source}/eda", block(0))  # creates the outlet
    (info,) = await asyncio.to_thread(
        pylsl.resolve_byprop, "source_id", f"wearsdk:{source}:eda@{ns}", 1, 10.0
    )
    inlet = pylsl.StreamInlet(info, max_buflen=60, recover=False)
    await asyncio.to_thread(inlet.open_stream, 5.0)
    want = 40 * 4
    got: list[float] = []

    def consume() -> None:  # the consumer reads on while the session ends
        with contextlib.suppress(pylsl.util.LostError):  # the outlet is gone: all was read
            while len(got) < want:
                got.extend(v[0] for v in inlet.pull_chunk(timeout=0.2)[0])

    consumer = asyncio.create_task(asyncio.to_thread(consume))
    runner = asyncio.create_task(outlets.run())
    for k in range(1, 41):  # a burst at the very end, then the session closes
        await bus.publish(f"physio/{source}/eda", block(k))
    bus.close()
    await runner  # the outlets are gone now
    await consumer
    assert outlets.pushed[f"{source}-eda"] == 41 * 4
    assert got == [1.0 + k for k in range(1, 41) for _ in range(4)]


def test_a_plugin_feature_is_a_channel_of_features_streams_created_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = uuid.uuid4().hex[:8]
    bus = Bus()
    before = LslOutlets(bus, consent=CONSENT, policy=ExportPolicy.FEATURES, namespace=f"a{ns}")
    window = Features(
        t=60.0, source="wearer", window_start=0.0, window_end=60.0, values={"hr_mean_bpm": 71.0}
    )
    before.push("features/wearer", window)  # this stream exists before the plugin
    plugin = FeatureSpec("hr_plugin_ratio", "ratio", "hr", "a plugin's feature")
    registry = dict(FEATURE_REGISTRY.items())
    monkeypatch.setattr(FEATURE_REGISTRY, "_specs", {**registry, plugin.name: plugin})
    names = [c.label for c in feature_channels()]
    assert names == [*registry, "hr_plugin_ratio"]  # appended last
    after = LslOutlets(bus, consent=CONSENT, policy=ExportPolicy.FEATURES, namespace=f"b{ns}")
    with_plugin = Features(
        t=61.0,
        source="wearer",
        window_start=1.0,
        window_end=61.0,
        values={"hr_mean_bpm": 72.0, "hr_plugin_ratio": 0.5},
    )
    after.push("features/wearer", with_plugin)
    before.push("features/wearer", with_plugin)  # the old stream keeps its channels
    (new,) = [o for k, o in after.outlets.items() if k.endswith("|features")]
    (old,) = [o for k, o in before.outlets.items() if k.endswith("|features")]
    assert new.get_info().channel_count() == len(registry) + 1
    assert new.get_info().get_channel_labels()[-1] == "hr_plugin_ratio"
    assert old.get_info().channel_count() == len(registry)
    assert before.pushed["wearer-features"] == 2
    assert after.pushed["wearer-features"] == 1
    spec = spec_for("features/wearer", with_plugin)
    assert spec is not None
    rows = rows_of(with_plugin, spec)
    assert rows is not None
    assert rows[1][0, -1] == 0.5
    before.close()
    after.close()
