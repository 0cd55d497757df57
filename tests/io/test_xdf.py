"""XDF recording (crash-safe) and replay through the live pipeline, checked with pyxdf."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf

from tests.io.lsl_helpers import FAST, PhysioSource, synthetic_physio
from wearsdk import (
    ConfigError,
    Consent,
    ConsentError,
    Estimate,
    PipelineConfig,
    SampleBlock,
    Session,
)
from wearsdk.io.lsl import XdfWriter, read_xdf
from wearsdk.io.sources import XdfReplay

CONSENT = Consent.simulated_participant()


async def record(
    path: Path, duration_s: float, pipeline: PipelineConfig = FAST
) -> tuple[PhysioSource, list[Estimate]]:
    source = PhysioSource(synthetic_physio(duration_s), t0=pylsl.local_clock(), name="syn-1")
    estimates: list[Estimate] = []
    async with Session(pipeline=pipeline, consent=CONSENT, record=path) as session:
        sub = session.estimates(maxsize=4096, policy="block")
        session.add(source)
        # ends once the source has ended and the pipeline has published its last estimate
        estimates += [e async for e in sub]
    return source, estimates


async def replay(path: Path) -> list[Estimate]:
    replay = XdfReplay(path, speed=None)
    estimates: list[Estimate] = []
    async with Session(pipeline=FAST, clock=replay.clock()) as session:
        sub = session.estimates(maxsize=4096, policy="block")
        session.add(replay)
        estimates += [e async for e in sub]  # to the replay's end and the pipeline's last one
    return estimates


async def test_recording_loads_with_pyxdf_and_replay_reproduces_the_estimates(
    tmp_path: Path,
) -> None:
    path = tmp_path / "session.xdf"
    source, live = await record(path, 90.0)
    assert len(live) >= 5

    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    assert {"syn-1-ecg", "syn-1-eda", "affect", "wearer-features", "wearsdk-events"} <= set(by_name)
    for stream in ("ecg", "eda"):
        blocks = [b for b in source.published if b.stream == stream]
        got = by_name[f"syn-1-{stream}"]
        sent_t = np.concatenate([b.t for b in blocks])
        sent_x = np.concatenate([b.values for b in blocks])
        assert len(got["time_stamps"]) == sent_t.size
        np.testing.assert_allclose(got["time_stamps"], sent_t, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(got["time_series"], sent_x)
        info = got["info"]
        assert info["type"][0] == {"ecg": "ECG", "eda": "EDA"}[stream]
        chan = info["desc"][0]["channels"][0]["channel"][0]
        assert chan["unit"][0] == {"ecg": "uV", "eda": "uS"}[stream]
        assert got["footer"]["info"]["sample_count"][0] == str(sent_t.size)
    # one stream per estimate topic: the fused ones, and the physiological model's alone
    assert [s["info"]["name"][0] for s in streams].count("affect") == 1
    assert by_name["affect-physio"]["info"]["type"] == ["Affect"]
    affect = by_name["affect"]
    assert affect["info"]["type"] == ["Affect"]
    np.testing.assert_allclose(affect["time_stamps"], [e.t for e in live], rtol=0, atol=1e-9)
    np.testing.assert_allclose(affect["time_series"][:, 0], [e.arousal for e in live])
    np.testing.assert_allclose(affect["time_series"][:, 2], [e.confidence for e in live])
    events = [x[0] for x in by_name["wearsdk-events"]["time_series"]]
    assert any('"label":"go"' in e for e in events)
    # the marker source also has a stream of its own, as LabRecorder stores a marker outlet
    markers = by_name["test-markers"]
    assert markers["info"]["type"] == ["Markers"]
    assert markers["time_series"] == [["go"]]
    np.testing.assert_allclose(markers["time_stamps"], [source.t0 + 5.0], rtol=0, atol=1e-9)

    again = await replay(path)
    assert [e.model_dump() for e in again] == [e.model_dump() for e in live]


async def test_recording_needs_consent(tmp_path: Path) -> None:
    with pytest.raises(ConsentError):
        Session(record=tmp_path / "x.xdf")
    no_record = CONSENT.model_copy(update={"record": False})
    with pytest.raises(ConsentError):
        Session(record=tmp_path / "x.xdf", consent=no_record)
    assert not (tmp_path / "x.xdf").exists()


def test_an_existing_recording_is_never_replaced_without_overwrite(tmp_path: Path) -> None:
    """The API keeps the command line's promise: a recording is not replaced by accident."""
    old = tmp_path / "keep.xdf"
    old.write_bytes(b"an earlier recording")
    old.chmod(0o644)
    with pytest.raises(ConfigError, match=r"keep\.xdf exists.*overwrite=True"):
        Session(record=old, consent=CONSENT)
    with pytest.raises(ConfigError, match=r"keep\.xdf exists"):
        XdfWriter(old)
    assert old.read_bytes() == b"an earlier recording"
    writer = XdfWriter(old, overwrite=True)  # asked for: replaced, and owner-only
    writer.close()
    assert old.read_bytes() != b"an earlier recording"
    assert old.stat().st_mode & 0o777 == 0o600


async def test_a_session_may_replace_a_recording_when_told_to(tmp_path: Path) -> None:
    path = tmp_path / "again.xdf"
    path.write_bytes(b"an earlier recording")
    async with Session(pipeline=FAST, consent=CONSENT, record=path, overwrite=True):
        pass
    assert path.read_bytes().startswith(b"XDF:")  # the new recording's header
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_session_that_ends_during_a_write_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = XdfWriter.write_bytes
    writing = threading.Event()

    def slow_in_the_worker(self: XdfWriter, data: bytes) -> None:
        if threading.current_thread() is not threading.main_thread():
            writing.set()
            time.sleep(0.3)  # a slow disk: the session ends while this write is under way
        original(self, data)

    monkeypatch.setattr(XdfWriter, "write_bytes", slow_in_the_worker)
    path = tmp_path / "s.xdf"

    def block(t0: float) -> SampleBlock:
        t = t0 + np.arange(100) / 10.0
        return SampleBlock(source="b", stream="eda", unit="uS", t=t, values=np.ones(100))

    async with Session(pipeline=None, fusion=None, consent=CONSENT, record=path) as session:
        await session.bus.publish("physio/b/eda", block(0.0))
        assert await asyncio.to_thread(writing.wait, 5.0)
        await session.bus.publish("physio/b/eda", block(10.0))
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    (eda,) = [s for s in streams if s["info"]["name"][0] == "b-eda"]
    np.testing.assert_allclose(eda["time_stamps"], np.arange(200) / 10.0)
    assert eda["footer"]["info"]["sample_count"][0] == "200"


async def test_a_stalled_disk_does_not_block_the_loop_and_loses_nothing(tmp_path: Path) -> None:
    # a real slow device: the recording goes into a FIFO whose reader stops reading for 1 s
    # twice (the kernel's pipe buffer fills and the writes block): once mid-recording, once as
    # the session closes with ~1 MB still to write
    path = tmp_path / "slow.xdf"
    os.mkfifo(path)
    received = bytearray()
    stalls = [threading.Event(), threading.Event()]
    closing = threading.Event()

    def slow_reader() -> None:
        with open(path, "rb", buffering=0) as fh:
            while chunk := fh.read(4096):
                received.extend(chunk)
                due = (len(received) > 200_000, closing.is_set())
                for stall, now in zip(stalls, due, strict=True):
                    if now and not stall.is_set():
                        stall.set()
                        time.sleep(1.0)
                time.sleep(0.001)

    reader = threading.Thread(target=slow_reader, daemon=True)
    reader.start()
    gaps: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last - 0.01)
            last = loop.time()

    def block(k: int) -> SampleBlock:
        t = (k * 500 + np.arange(500)) / 100.0
        return SampleBlock(source="b", stream="eda", unit="uS", t=t, values=np.sin(t)[:, None])

    tick = asyncio.create_task(ticker())
    async with Session(pipeline=None, fusion=None, consent=CONSENT, record=path) as session:
        for k in range(400):
            session.bus.publish_nowait("physio/b/eda", block(k))
            await asyncio.sleep(0.005)
        assert await asyncio.to_thread(stalls[0].wait, 10.0)  # the disk stalled meanwhile
        subs = session.bus.stats.subscriptions
        (recorder,) = [sub for sub in subs if sub.topic_filter == "#" and sub.policy == "block"]
        closing.set()
        for k in range(400, 520):  # ~1 MB the recorder still holds when the session closes
            session.bus.publish_nowait("physio/b/eda", block(k))
        closing_at = time.monotonic()
    closed_in = time.monotonic() - closing_at
    await asyncio.to_thread(reader.join, 30.0)
    tick.cancel()
    assert not reader.is_alive()
    assert stalls[1].is_set()
    assert closed_in > 0.5  # the session's end waited for the stalled disk: the file is whole
    # the loop kept running while the file could not be written (a write on the loop shows a
    # gap of about the 1 s stall)
    assert max(gaps) < 0.5, max(gaps)
    assert recorder.dropped == 0
    assert recorder.high_water > 10  # the messages waited in the queue while the disk stalled
    copy = tmp_path / "copy.xdf"
    copy.write_bytes(bytes(received))
    streams, _ = pyxdf.load_xdf(str(copy), dejitter_timestamps=False)
    (eda,) = [s for s in streams if s["info"]["name"][0] == "b-eda"]
    expected = np.arange(520 * 500) / 100.0
    np.testing.assert_allclose(eda["time_stamps"], expected)
    np.testing.assert_allclose(eda["time_series"][:, 0], np.sin(expected))
    assert eda["footer"]["info"]["sample_count"][0] == str(expected.size)


def test_reader_stops_at_a_truncated_chunk(tmp_path: Path) -> None:
    from wearsdk.io.lsl import EVENTS_STREAM

    path = tmp_path / "t.xdf"
    with XdfWriter(path) as writer:
        sid = writer.add_stream(EVENTS_STREAM, created_at=0.0)
        for i in range(10):
            writer.strings(sid, [float(i)], [f"marker {i}"])
    data = path.read_bytes()
    (tmp_path / "cut.xdf").write_bytes(data[:-200])
    full, cut = read_xdf(path), read_xdf(tmp_path / "cut.xdf")
    assert not full.truncated
    assert cut.truncated
    assert [c.values for c in full.chunks] == [[[f"marker {i}"]] for i in range(10)]
    assert 0 < len(cut.chunks) < 10
    assert cut.chunks == full.chunks[: len(cut.chunks)]


RECORDER = """
import asyncio, sys
from tests.io.lsl_helpers import PhysioSource, synthetic_physio
from wearsdk import Consent, PipelineConfig, Session
import pylsl

async def main():
    src = PhysioSource(synthetic_physio(600.0), t0=pylsl.local_clock(), name="syn-k", pace_s=1.0)
    async with Session(consent=Consent.simulated_participant(), record=sys.argv[1]) as s:
        s.add(src)
        print("recording", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_sigkill_mid_recording_leaves_a_file_pyxdf_reads(tmp_path: Path) -> None:
    path = tmp_path / "killed.xdf"
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(path)],
        stdout=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"recording"
            time.sleep(4.2)
            killed_at = pylsl.local_clock()
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
    streams, _ = pyxdf.load_xdf(str(path))
    ecg = next(s for s in streams if s["info"]["name"][0] == "syn-k-ecg")
    t = ecg["time_stamps"]
    assert t.size >= 3 * 130
    assert np.all(np.diff(t) > 0)
    assert "footer" not in ecg or not ecg["footer"]
    # one block per second, flushed at least every second: at most ~2 s of data are missing
    first = t[0]
    assert t[-1] - first >= (killed_at - first) - 2.5
    assert read_xdf(path).chunks


async def test_a_foreign_xdf_file_is_routed_by_metadata_with_its_clock_offsets(
    tmp_path: Path,
) -> None:
    import struct

    from wearsdk import Annotation, SampleBlock
    from wearsdk.io.lsl import ChannelSpec, StreamSpec

    path = tmp_path / "labrecorder.xdf"
    ecg = StreamSpec(  # no wearsdk topic: a stream recorded from some other LSL source
        key="e",
        name="ExG",
        type="Physio",
        channels=(ChannelSpec("chest", "mV", "ECG"), ChannelSpec("hand", "microsiemens", "GSR")),
        nominal_srate=100.0,
        channel_format="float32",
        source_id="amp-1",
    )
    markers = StreamSpec(
        key="m",
        name="Markers",
        type="Markers",
        channels=(ChannelSpec("m"),),
        channel_format="string",
        source_id="psychopy",
    )
    t = 50.0 + np.arange(200) / 100.0
    x = np.column_stack([np.sin(t), np.full(200, 4.0)]).astype(np.float32)
    with XdfWriter(path) as writer:
        e = writer.add_stream(ecg, created_at=0.0)
        m = writer.add_stream(markers, created_at=0.0)
        writer.clock_offset(e, 40.0, 0.5)
        writer.clock_offset(m, 40.0, 0.5)
        writer.samples(e, t[:100], x[:100])
        writer.strings(m, [50.5], ["stimulus"])
        # LabRecorder style: only the first sample carries a timestamp, the rest follow srate
        body = struct.pack("<IBB", e, 1, 100)
        body += b"".join(
            (struct.pack("<Bd", 8, t[100]) if i == 0 else b"\x00") + x[100 + i].tobytes()
            for i in range(100)
        )
        # a Samples chunk (tag 3) with a 4-byte length, written as LabRecorder would
        writer._pending += struct.pack("<BIH", 4, len(body) + 2, 3) + body
        writer.clock_offset(e, 60.0, 0.5)
    replay = XdfReplay(path, speed=None, source_id="lab")
    got: list[object] = []
    async with Session(pipeline=None, clock=replay.clock()) as session:
        sub = session.bus.subscribe(("physio/#", "analyzer/#"), maxsize=1024, policy="block")
        status = session.bus.subscribe("device/+/status", maxsize=64)
        session.add(replay)
        async for message in status:
            if getattr(message.payload, "state", None) == "closed":
                break
        while (msg := sub.receive_nowait()) is not None:
            got.append(msg.payload)
    ecg_blocks = [p for p in got if isinstance(p, SampleBlock) and p.stream == "ecg"]
    eda_blocks = [p for p in got if isinstance(p, SampleBlock) and p.stream == "eda"]
    marks = [p for p in got if isinstance(p, Annotation)]
    ecg_t = np.concatenate([b.t for b in ecg_blocks])
    np.testing.assert_allclose(ecg_t, t + 0.5, atol=1e-9)
    np.testing.assert_allclose(
        np.concatenate([b.values for b in ecg_blocks])[:, 0], x[:, 0] * 1000.0, rtol=1e-6
    )
    assert {b.unit for b in ecg_blocks} == {"uV"}
    assert {b.unit for b in eda_blocks} == {"uS"}
    assert sum(len(b) for b in eda_blocks) == 200
    assert [(a.label, a.t) for a in marks] == [("stimulus", pytest.approx(51.0))]
    assert {b.source for b in ecg_blocks} == {"lab"}
