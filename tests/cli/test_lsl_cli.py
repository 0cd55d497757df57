"""``wearsdk record --lsl-in ... --out FILE.xdf`` and ``wearsdk replay FILE.xdf``, as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf

from tests.io.test_lsl import outlet
from wearsdk import Consent
from wearsdk.io.lsl import ChannelSpec, push_chunk

pytestmark = pytest.mark.timeout(120)


def wearsdk(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


@pytest.mark.slow
def test_record_an_lsl_stream_then_replay_the_file(tmp_path: Path) -> None:
    sid = f"test-cli-{uuid.uuid4().hex[:10]}"
    consent = tmp_path / "consent.json"
    consent.write_text(Consent.simulated_participant().model_dump_json())
    out = tmp_path / "rec.xdf"
    eda = outlet("cli eda", "EDA", (ChannelSpec("eda", "uS", "EDA"),), 16.0, sid)
    stop = threading.Event()
    sent: list[float] = []

    def feed() -> None:
        while not stop.is_set():
            t = pylsl.local_clock() - np.arange(4)[::-1] / 16.0
            push_chunk(eda, np.full((4, 1), 2.5, dtype=np.float32), t)
            sent.extend(t.tolist())
            time.sleep(0.25)

    relayed: list[float] = []

    def read_outlet() -> None:
        # the session's own raw EDA outlet (--lsl --export raw), read by a plain inlet
        pred = f"type='EDA' and starts-with(source_id,'wearsdk:') and not(source_id='{sid}')"
        found = pylsl.resolve_bypred(pred, 1, 20.0)
        if not found:
            return
        inlet = pylsl.StreamInlet(found[0])
        while not stop.is_set():
            _, ts = inlet.pull_chunk(timeout=0.2)
            relayed.extend(ts)

    feeder = threading.Thread(target=feed)
    reader = threading.Thread(target=read_outlet)
    feeder.start()
    reader.start()
    try:
        done = wearsdk(
            "record",
            *("--lsl-in", f"source_id={sid}", "--out", str(out), "--lsl", "--export", "raw"),
            *("--duration", "6", "--consent", str(consent), "--jsonl"),
        )
    finally:
        stop.set()
        feeder.join()
        reader.join()
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    live = [x for x in lines if x.get("type") == "samples" and x["stream"] == "eda"]
    assert live
    assert all(x["unit"] == "uS" for x in live)

    streams, _ = pyxdf.load_xdf(str(out), dejitter_timestamps=False)
    (rec,) = [s for s in streams if s["info"]["type"] == ["EDA"]]
    n_live = sum(len(x["t"]) for x in live)
    assert len(rec["time_stamps"]) == n_live >= 16
    np.testing.assert_allclose(rec["time_series"][:, 0], 2.5)
    # the recorded times are the sent ones (the same machine: time_correction is ~0)
    sent_arr = np.array(sent)
    idx = np.searchsorted(sent_arr, rec["time_stamps"][0] - 1e-3)
    np.testing.assert_allclose(rec["time_stamps"], sent_arr[idx : idx + n_live], atol=1e-3)

    # the raw outlet republished the inlet's samples with their own timestamps
    assert len(relayed) >= 16
    assert set(np.round(relayed, 6)) <= set(np.round(rec["time_stamps"], 6))

    # the recording ends with its report next to the file; the event log behind it is not kept
    report = tmp_path / "rec.report.png"
    assert report.stat().st_size > 10_000, done.stderr
    assert f"report: {report}" in done.stderr
    assert "events:" not in done.stderr
    html = report.with_suffix(".html").read_text()
    assert html.lower().startswith("<!doctype html>")
    assert f"Read from {out}." in html

    replayed = wearsdk("replay", str(out), "--speed", "max", "--jsonl")
    assert replayed.returncode == 0, replayed.stderr
    again = [json.loads(x) for x in replayed.stdout.splitlines()]
    blocks = [x for x in again if x.get("type") == "samples" and x["stream"] == "eda"]
    assert [b["t"] for b in blocks] == [x["t"] for x in live]
    assert [b["source"] for b in blocks] == [x["source"] for x in live]


def test_recording_without_consent_is_refused(tmp_path: Path) -> None:
    done = wearsdk("record", "--lsl-in", "type=EDA", "--out", str(tmp_path / "x.xdf"))
    assert done.returncode == 1
    assert "consent" in done.stderr
    assert not (tmp_path / "x.xdf").exists()
    assert wearsdk("stream").returncode == 1  # neither a device nor an LSL input


@pytest.mark.slow
def test_stream_clean_publishes_and_records_the_cleaned_eda(tmp_path: Path) -> None:
    sid = f"test-clean-{uuid.uuid4().hex[:10]}"
    consent = tmp_path / "consent.json"
    consent.write_text(Consent.simulated_participant().model_dump_json())
    out = tmp_path / "rec.xdf"
    eda = outlet("cli eda", "EDA", (ChannelSpec("eda", "uS", "EDA"),), 16.0, sid)
    stop = threading.Event()
    relayed: list[float] = []

    def feed() -> None:
        while not stop.is_set():
            t = pylsl.local_clock() - np.arange(4)[::-1] / 16.0
            x = 2.5 + 0.2 * np.sin(t)[:, None]
            push_chunk(eda, x.astype(np.float32), t)
            time.sleep(0.25)

    def read_outlet() -> None:
        # the session's cleaned EDA outlet (--clean --lsl --export raw), by a plain inlet
        pred = "starts-with(source_id,'wearsdk:') and contains(source_id,':eda_clean')"
        found = pylsl.resolve_bypred(pred, 1, 20.0)
        if not found:
            return
        inlet = pylsl.StreamInlet(found[0])
        while not stop.is_set():
            _, ts = inlet.pull_chunk(timeout=0.2)
            relayed.extend(ts)

    threads = [threading.Thread(target=feed), threading.Thread(target=read_outlet)]
    for th in threads:
        th.start()
    try:
        done = wearsdk(
            "record",
            *("--lsl-in", f"source_id={sid}", "--out", str(out), "--lsl", "--export", "raw"),
            *("--clean", "--duration", "6", "--consent", str(consent), "--jsonl"),
        )
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert done.returncode == 0, done.stderr
    streams, _ = pyxdf.load_xdf(str(out), dejitter_timestamps=False)
    by_stream = {s["info"]["desc"][0]["wearsdk"][0]["stream"][0]: s for s in streams}
    raw, clean = by_stream["eda"], by_stream["eda_clean"]
    assert len(raw["time_stamps"]) > 40
    np.testing.assert_array_equal(clean["time_stamps"], raw["time_stamps"])
    assert clean["time_series"].shape == (len(raw["time_stamps"]), 3)
    assert len(relayed) > 20  # the outlet reached another consumer
    assert set(relayed) <= set(clean["time_stamps"].tolist())


@pytest.mark.data
@pytest.mark.slow
def test_replay_restreams_a_recording_on_the_lsl_clock_of_now(
    data_dir: Path, tmp_path: Path
) -> None:
    from wearsdk.io.e4 import load_e4_session

    folder = data_dir / "e4_session"
    consent = tmp_path / "consent.json"
    consent.write_text(Consent.simulated_participant().model_dump_json())
    stop = threading.Event()
    got_t: list[float] = []
    got_v: list[float] = []
    names: list[str] = []

    def read() -> None:
        # a plain pylsl consumer, as a lab pipeline under test would be
        found = pylsl.resolve_bypred("type='EDA' and starts-with(source_id,'wearsdk:e4-')", 1, 30)
        if not found:
            return
        names.append(found[0].name())
        inlet = pylsl.StreamInlet(found[0])
        while not stop.is_set():
            chunk, ts = inlet.pull_chunk(timeout=0.2)
            got_v.extend(row[0] for row in chunk)
            got_t.extend(ts)

    reader = threading.Thread(target=read)
    reader.start()
    t_start = pylsl.local_clock()
    try:
        done = wearsdk(
            "replay", str(folder), "--source", "e4", "--duration", "12", "--no-live",
            "--lsl", "--export", "raw", "--consent", str(consent),
        )  # fmt: skip
    finally:
        t_end = pylsl.local_clock()
        stop.set()
        reader.join()
    assert done.returncode == 0, done.stderr
    assert names
    assert names[0].endswith("-eda")
    assert len(got_v) >= 20  # 4 Hz, from when the consumer connected
    # the recording's own values, in order, without a gap
    eda = load_e4_session(folder).signals["eda"]
    values = eda.values[:, 0]
    n = len(got_v)
    starts = [k for k in range(values.size - n) if np.allclose(values[k : k + n], got_v)]
    assert starts
    k = starts[0]
    # re-stamped onto the LSL clock of today, keeping the recording's spacing
    assert t_start < got_t[0] < got_t[-1] < t_end
    np.testing.assert_allclose(np.diff(got_t), np.diff(eda.t_unix[k : k + len(got_t)]), atol=1e-6)

    # faster than real time or without consent: refused, with the reason
    fast = wearsdk("replay", str(folder), "--source", "e4", "--lsl", "--speed", "10",
                   "--consent", str(consent))  # fmt: skip
    assert fast.returncode == 1
    assert "--speed 1" in fast.stderr
    bare = wearsdk("replay", str(folder), "--source", "e4", "--lsl")
    assert bare.returncode == 1
    assert "consent" in bare.stderr
