"""Empatica E4 exports: every real recording loads exactly (checked against the files, parsed
here independently), malformed files give typed errors, replays keep the original times and
lose nothing, and `wearsdk replay` runs one end to end."""

import asyncio
import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from wearsdk import (
    Annotation,
    ConfigError,
    DeviceStatus,
    Gap,
    Message,
    ProtocolError,
    SampleBlock,
    ScaledClock,
    Session,
)
from wearsdk.io.e4 import E4FormatError, E4Session, load_e4_session
from wearsdk.io.lsl import FEATURE_CHANNELS
from wearsdk.io.sources import E4Replay

pytestmark = [pytest.mark.data, pytest.mark.timeout(60)]

FILES = {"eda": "EDA.csv", "bvp": "BVP.csv", "hr": "HR.csv", "temp": "TEMP.csv", "acc": "ACC.csv"}


def parse_signal(path: Path) -> tuple[float, float, np.ndarray]:
    """Start, rate and samples of an E4 signal file, read without the library."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    start, rate = float(lines[0].split(",")[0]), float(lines[1].split(",")[0])
    columns = len(lines[2].split(",")) if len(lines) > 2 else 1
    values = np.array(" ".join(lines[2:]).replace(",", " ").split(), dtype=float)
    return start, rate, values.reshape(-1, columns)


def parse_ibi(path: Path) -> tuple[float, np.ndarray]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = np.array(" ".join(lines[1:]).replace(",", " ").split(), dtype=float)
    return float(lines[0].split(",")[0]), rows.reshape(-1, 2)


def check_against_files(folder: Path, session: E4Session, *, exact: bool) -> None:
    for name, fname in FILES.items():
        start, rate, values = parse_signal(folder / fname)
        signal = session.signals[name]
        assert signal.start_unix_s == start
        assert signal.rate_hz == rate
        assert len(signal) == len(values)
        expected = values * (1000 / 64) if name == "acc" else values
        if exact:
            np.testing.assert_array_equal(signal.values, expected)
        else:  # large files: the first, middle and last samples
            for i in (0, len(values) // 2, -1):
                np.testing.assert_array_equal(signal.values[i], expected[i])
        assert signal.t_unix[0] == start
        assert signal.t_unix[-1] == pytest.approx(start + (len(values) - 1) / rate)
    start, rows = parse_ibi(folder / "IBI.csv")
    assert session.ibi is not None
    assert session.ibi.start_unix_s == start
    np.testing.assert_array_equal(session.ibi.offset_s, rows[:, 0])
    np.testing.assert_array_equal(session.ibi.ibi_s, rows[:, 1])


def test_the_e4_session_loads_exactly(data_dir: Path) -> None:
    folder = data_dir / "e4_session"
    session = load_e4_session(folder)
    check_against_files(folder, session, exact=True)
    assert session.signals["eda"].unit == "uS"
    assert session.signals["acc"].unit == "mG"
    assert session.signals["acc"].channels == ("acc_x", "acc_y", "acc_z")
    assert session.signals["acc"].values[0].tolist() == [-61 * 1000 / 64, 25 * 1000 / 64, 93.75]
    assert session.signals["hr"].start_unix_s == session.signals["eda"].start_unix_s + 10
    assert session.tags_unix_s.size == 0  # tags.csv is empty
    assert session.start_unix == 1560279825.0


@pytest.mark.slow
def test_every_stress_predict_subject_loads_exactly(data_dir: Path) -> None:
    folders = sorted((data_dir / "stress_predict" / "Raw_data").glob("S*"))
    assert len(folders) >= 25
    for folder in folders:
        session = load_e4_session(folder)
        check_against_files(folder, session, exact=False)
        (tag_file,) = folder.glob("tags_*.csv")
        tags = [float(x) for x in tag_file.read_text().split()]
        np.testing.assert_array_equal(session.tags_unix_s, sorted(tags))
        assert 7 <= len(tags) <= 10
        # tags mark the protocol's tasks, mostly during the recording (some wristbands kept
        # presses from hours before it, e.g. S18; files are not always in time order)
        inside = [session.start_unix <= t <= session.end_unix for t in tags]
        assert sum(inside) >= len(tags) // 2


def test_wearable_stress_sessions_with_date_time_headers_load_exactly(data_dir: Path) -> None:
    """PhysioNet's wearable-stress exports write row 1 and the tags as UTC date-time strings."""
    root = data_dir / "wearable_stress"
    folders = [root / "STRESS" / "S01", root / "STRESS" / "f01", root / "AEROBIC" / "f05"]
    for folder in folders:
        session = load_e4_session(folder)
        lines = (folder / "EDA.csv").read_text().splitlines()
        want = datetime.strptime(lines[0].strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert session.signals["eda"].start_unix_s == want.timestamp()
        values = np.array([float(x) for x in lines[2:] if x.strip()])
        np.testing.assert_array_equal(session.signals["eda"].values[:, 0], values)
        tags = [
            datetime.strptime(x.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            for x in (folder / "tags.csv").read_text().splitlines()
            if x.strip()
        ]
        np.testing.assert_array_equal(session.tags_unix_s, sorted(tags))
        assert session.ibi is not None
        assert session.ibi.start_unix_s == want.timestamp()
    s01 = load_e4_session(root / "STRESS" / "S01")
    # the first tag of S01 is 6.2 min after the recording starts (SOURCES.md)
    assert (s01.tags_unix_s[0] - s01.start_unix) / 60 == pytest.approx(6.18, abs=0.01)


def test_unix_and_date_time_headers_are_the_same_time(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "EDA.csv").write_text("1361382919\n4.0\n0.1\n")
    (tmp_path / "b" / "EDA.csv").write_text("2013-02-20 17:55:19\n4.0\n0.1\n")
    (tmp_path / "b" / "tags.csv").write_text("2013-02-20 18:01:30\n2013-02-20 17:59:00\n")
    (tmp_path / "b" / "IBI.csv").write_text("")  # E4 Connect's export when it kept no beats
    a, b = load_e4_session(tmp_path / "a"), load_e4_session(tmp_path / "b")
    assert b.ibi is None
    assert a.start_unix == b.start_unix == 1361382919.0
    np.testing.assert_array_equal(b.tags_unix_s, [1361382919.0 + 221, 1361382919.0 + 371])


@pytest.mark.parametrize(
    ("fname", "content", "line", "message"),
    [
        ("EDA.csv", "1560279825.0\n4.0\n0.1\nabc\n0.3\n", 4, "not a number"),
        ("EDA.csv", "1560279825.0\n", None, "missing header"),
        ("EDA.csv", "", None, "missing header"),
        ("EDA.csv", "1560279825.0\nfour\n0.1\n", 2, "sampling rate"),
        ("EDA.csv", "1560279825.0\n0\n0.1\n", 2, "sampling rate must be > 0"),
        ("TEMP.csv", "1560279825.0\n4.0\n32.1\nnan\n", 4, "finite"),
        (
            "ACC.csv",
            "1560279825, 1560279825, 1560279825\n32, 32, 32\n1,2,3\n4,5\n",
            4,
            "2 values, expected 3",
        ),
        # without its two header rows, a file "starts" at its first value: 1970 (issue 26)
        ("TEMP.csv", "32.13\n32.13\n32.15\n", 1, "missing its header rows"),
        ("IBI.csv", "0.0, IBI\n1.0,0.8\n", 1, "not a recording's unix time"),
        ("EDA.csv", "4102444800\n4.0\n0.1\n", 1, "in the future"),
        ("IBI.csv", "1560279825.0, IBI\n1.0,0.8\n2.0,-0.8\n", 3, "interval must be > 0"),
        ("IBI.csv", "1560279825.0, IBI\n2.0,0.8\n1.0,0.8\n", 3, "beat times must increase"),
        ("tags.csv", "1560279900\nlater\n", 2, "not a number"),
        ("tags.csv", "2013-02-20 18:01:30\nlater\n", 2, "not a UTC date-time"),
        ("EDA.csv", "2013-02-31 18:01:30\n4.0\n0.1\n", 1, "start time is not a number"),
    ],
)
def test_malformed_files_raise_typed_errors_with_the_line(
    tmp_path: Path, fname: str, content: str, line: int | None, message: str
) -> None:
    (tmp_path / "HR.csv").write_text("1560279835.0\n1.0\n60\n")
    (tmp_path / fname).write_text(content)
    with pytest.raises(E4FormatError, match=message) as info:
        load_e4_session(tmp_path)
    assert isinstance(info.value, ProtocolError)
    assert info.value.path == tmp_path / fname
    assert info.value.line == line or (line is not None and f"line {line}" in str(info.value))


def test_missing_folders_and_empty_exports_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_e4_session(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no E4 files"):
        load_e4_session(tmp_path)
    (tmp_path / "EDA.csv").write_text("1560279825.0\n4.0\n")  # a header and no samples is fine
    session = load_e4_session(tmp_path / "EDA.csv")
    assert len(session.signals["eda"]) == 0
    with pytest.raises(ConfigError):
        E4Replay(session, speed=0)
    with pytest.raises(ConfigError):
        E4Replay(session, streams=["ecg"])


# -- replay -----------------------------------------------------------------------------------


async def replay(
    recording: E4Session, source: E4Replay, clock: ScaledClock, *, maxsize: int
) -> tuple[list[tuple[float, Message]], int]:
    """Run ``source`` to its end; return (session time at receipt, message) and drops."""
    session = Session(clock=clock, pipeline=None)
    topics = ("physio/#", "analyzer/#", "device/#")
    sub = session.bus.subscribe(topics, maxsize=maxsize, policy="block")
    got: list[tuple[float, Message]] = []
    async with session:
        sid = session.add(source)
        async with asyncio.timeout(30):
            async for message in sub:
                got.append((clock.now(), message))
                payload = message.payload
                if isinstance(payload, DeviceStatus) and payload.state == "closed":
                    assert payload.source == sid
                    break
        dropped = sub.stats.dropped
    return got, dropped


def originals(recording: E4Session, name: str, t0: float, t1: float) -> tuple[np.ndarray, ...]:
    if name == "rr":
        assert recording.ibi is not None
        t, v = recording.ibi.t_unix, recording.ibi.ibi_s[:, None]
    else:
        signal = recording.signals[name]
        t, v = signal.t_unix, signal.values
    keep = (t >= t0) & (t < t1)
    return t[keep], v[keep]


async def test_replay_as_fast_as_possible_keeps_times_and_loses_nothing(data_dir: Path) -> None:
    recording = load_e4_session(data_dir / "e4_session")
    clock = ScaledClock(1.0, unix_at_start=recording.start_unix)
    source = E4Replay(recording, speed=None, duration_s=150.0)
    got, dropped = await replay(recording, source, clock, maxsize=16)  # a tiny queue: backpressure
    assert dropped == 0
    t0, t1 = recording.start_unix, recording.start_unix + 150.0
    blocks = [m.payload for _, m in got if isinstance(m.payload, SampleBlock)]
    for name in ("eda", "bvp", "hr", "temp", "acc", "rr"):
        mine = [b for b in blocks if b.stream == name]
        t_unix = clock.to_unix_array(np.concatenate([b.t for b in mine]))
        values = np.concatenate([b.values for b in mine])
        want_t, want_v = originals(recording, name, t0, t1)
        assert values.shape == want_v.shape, name  # every sample, once
        np.testing.assert_array_equal(values, want_v)
        np.testing.assert_allclose(t_unix, want_t, rtol=0, atol=1e-6)
        assert source.samples[name] == len(want_t)
        assert len(mine) >= 1
        assert all(len(b) <= max(1, b.nominal_rate_hz or 1) for b in mine if name != "rr")
    units = {b.stream: b.unit for b in blocks}
    assert units == {
        "eda": "uS",
        "bvp": "au",
        "hr": "bpm",
        "temp": "degC",
        "acc": "mG",
        "rr": "s",
    }
    # all streams interleaved in time order: each block is due at its last sample
    due = [b.t_end for b in blocks]
    assert due == sorted(due)
    # where the E4 rejected beats, the RR stream says so
    (first_gap, *_) = [m.payload for _, m in got if isinstance(m.payload, Gap)]
    ibi = recording.ibi
    assert ibi is not None
    assert first_gap.stream == "rr"
    assert clock.to_unix(first_gap.start) == pytest.approx(ibi.t_unix[0], abs=1e-6)
    assert clock.to_unix(first_gap.end) == pytest.approx(ibi.t_unix[1] - ibi.ibi_s[1], abs=1e-6)
    assert first_gap.reason == "rejected_beats"


async def test_replay_paced_at_50x_and_tags_become_markers(data_dir: Path) -> None:
    folder = data_dir / "stress_predict" / "Raw_data" / "S01"
    recording = load_e4_session(folder)
    # S01's first tag comes 79 s after the start
    source = E4Replay(recording, speed=50, start_s=70.0, duration_s=20.0, streams=("eda", "marker"))
    assert source.start_unix == recording.start_unix + 70.0
    clock = ScaledClock(50, unix_at_start=source.start_unix)
    begin = time.perf_counter()
    got, dropped = await replay(recording, source, clock, maxsize=1024)
    elapsed = time.perf_counter() - begin
    assert dropped == 0
    assert 0.3 <= elapsed < 5.0  # 20 s of recording at 50x: 0.4 s
    eda = [(at, m.payload) for at, m in got if isinstance(m.payload, SampleBlock)]
    t0 = recording.start_unix + 70.0
    want_t, want_v = originals(recording, "eda", t0, t0 + 20.0)
    values = np.concatenate([b.values for _, b in eda])
    np.testing.assert_array_equal(values, want_v)
    t_unix = clock.to_unix_array(np.concatenate([b.t for _, b in eda]))
    np.testing.assert_allclose(t_unix, want_t, rtol=0, atol=1e-6)
    # paced: never published before its time on the session clock, chunks of about 1 s
    for at, block in eda:
        assert at >= block.t_end - 0.02 * 50
        assert len(block) <= 4
    (marker,) = [m.payload for _, m in got if isinstance(m.payload, Annotation)]
    assert marker.modality == "marker"
    assert marker.analyzer_id == "e4-tags"
    assert clock.to_unix(marker.t) == pytest.approx(recording.tags_unix_s[0], abs=1e-6)
    assert marker.label == "tag 1"


def test_cli_replays_an_e4_session_as_json_lines(data_dir: Path) -> None:
    folder = data_dir / "e4_session"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "wearsdk", "replay", str(folder), "--source", "e4"),
            *("--speed", "max", "--jsonl", "--duration", "600"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = {line["type"] for line in lines}
    assert {"samples", "features", "estimate", "device_status"} <= kinds
    estimates = [line for line in lines if line["type"] == "estimate"]
    assert len(estimates) >= 10
    assert all(0 <= e["arousal"] <= 1 for e in estimates)
    # the validated model, with its window, contributing sensors and quality flags
    assert all(e["model"].startswith("arousal-v4/") and not e["provisional"] for e in estimates)
    assert all(e["window_end"] - e["window_start"] == 60.0 for e in estimates)
    assert all({"hr", "eda"} <= set(e["modalities"]) for e in estimates)
    assert any("calibrating" in e["flags"] for e in estimates)
    assert any("calibrating" not in e["flags"] for e in estimates)
    assert all(e["stress_level"] in (None, "low", "medium", "high") for e in estimates)
    # the BVP (156 s in this export) gives pulse features while it lasts, then low coverage
    features = [line for line in lines if line["type"] == "features"]
    # every feature has its channel in the LSL/XDF features stream
    assert set().union(*(f["values"] for f in features)) <= {c.label for c in FEATURE_CHANNELS}
    with_ppg = [f for f in features if f["values"]["ppg_rate_bpm"] is not None]
    assert len(with_ppg) >= 90
    assert all(40 < f["values"]["ppg_rate_bpm"] < 150 for f in with_ppg)
    assert all(f["quality"]["bvp_coverage"] >= 0.6 for f in with_ppg)
    assert any("low_coverage_bvp" in f["flags"] for f in features)
    # while the pulse wave lasts the BVP sub-model scores the window; afterwards the heart
    # rate + EDA one takes over, and a sensor the preferred model can do without is not flagged
    by_model = {e["model"] for e in estimates}
    assert by_model == {"arousal-v4/all_bvp", "arousal-v4/all"}
    assert all("bvp" in e["modalities"] for e in estimates if e["model"].endswith("/all_bvp"))
    assert all("bvp" not in e["modalities"] for e in estimates if e["model"].endswith("/all"))
    assert not any("missing_bvp" in e["flags"] for e in estimates)
    start = 1560279825.0
    eda = [line for line in lines if line["type"] == "samples" and line["stream"] == "eda"]
    assert eda[0]["t_unix"][0] == pytest.approx(start, abs=1e-6)  # the original times
    t_unix = [t for block in eda for t in block["t_unix"]]
    assert len(t_unix) == 600 * 4
    assert max(t_unix) < start + 600
    states = [line["state"] for line in lines if line["type"] == "device_status"]
    assert states == ["connected", "closed"]
    bad = subprocess.run(
        [sys.executable, "-m", "wearsdk", "replay", str(folder / "nowhere"), "--source", "e4"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "not an E4 session folder" in bad.stderr


def test_files_of_one_session_that_start_days_apart_are_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "e4"
    shutil.copytree(data_dir / "e4_session", folder)
    lines = (folder / "TEMP.csv").read_text().splitlines()
    lines[0] = f"{float(lines[0]) + 3 * 86400:.6f}"  # three days after the other files
    (folder / "TEMP.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(E4FormatError, match="starts 72 h after the other files") as info:
        load_e4_session(folder)
    assert info.value.path == folder / "TEMP.csv"


def test_a_replay_of_an_export_missing_its_header_rows_ends_at_once_with_one_line(
    data_dir: Path, tmp_path: Path
) -> None:
    # today's main read it as starting in 1970 and replayed 49 years of empty windows,
    # growing to gigabytes without end
    folder = tmp_path / "e4"
    shutil.copytree(data_dir / "e4_session", folder)
    lines = (folder / "TEMP.csv").read_text().splitlines()
    (folder / "TEMP.csv").write_text("\n".join(lines[2:]) + "\n")
    run = subprocess.run(
        [sys.executable, "-m", "wearsdk", "replay", str(folder), "--source", "e4", "--speed",
         "max", "--jsonl"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith("wearsdk: error: ")
    assert "TEMP.csv, line 1" in line
    assert "header rows" in line
