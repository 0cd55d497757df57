"""Replay of XDF files written by other tools: time order, clock offsets, units, unusable
streams, malformed and truncated files, the replay's clock and its end.

The files are written by ``tests/io/xdfwrite.py``, a writer independent of wearsdk's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import math
import struct
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import pyxdf

from tests.io.lsl_helpers import ECG_HZ, EDA_HZ, FAST, synthetic_physio
from tests.io.xdfwrite import Stream, chunk, varlen, write
from wearsdk import DeviceStatus, Estimate, Features, Message, SampleBlock, Session
from wearsdk._jsonl import message_to_dict
from wearsdk.io.lsl import XdfFormatError, read_xdf
from wearsdk.io.sources import XdfReplay

T0 = 7000.0  # the other tool's clock at the start of the recording
ACC_HZ = 50.0
G = 9.80665


def physio_streams(duration_s: float = 150.0, *, acc_unit: str = "g") -> list[Stream]:
    """ECG (mV), EDA (uS) and ACC (``acc_unit``) as another tool would record them."""
    p = synthetic_physio(duration_s)
    t_acc = np.arange(round(duration_s * ACC_HZ)) / ACC_HZ
    rng = np.random.default_rng(3)
    acc_g = np.column_stack(
        (0.05 * np.sin(2 * np.pi * 1.5 * t_acc), 0.02 * np.cos(t_acc), np.ones_like(t_acc))
    ) + rng.normal(0, 0.01, (t_acc.size, 3))
    scale = {"g": 1.0, "m/s^2": G, "mG": 1000.0, "furlong": 1.0}[acc_unit]
    return [
        Stream(1, "BioAmp", "ECG", ECG_HZ, T0 + p.ecg_t, p.ecg_mv, channels=[("ecg", "mV", "ECG")]),
        Stream(2, "Band", "GSR", EDA_HZ, T0 + p.eda_t, p.eda_us, channels=[("gsr", "uS", "GSR")]),
        Stream(
            3,
            "Motion",
            "ACC",
            ACC_HZ,
            T0 + t_acc,
            acc_g * scale,
            channels=[(c, acc_unit, "ACC") for c in ("x", "y", "z")],
        ),
    ]


async def replay_all(path: Path, **kwargs: object) -> tuple[XdfReplay, list[Message]]:
    """Replay ``path`` as fast as possible through the pipeline; every bus message, in order."""
    replay = XdfReplay(path, speed=None, source_id="lab", **kwargs)  # type: ignore[arg-type]
    got: list[Message] = []
    async with Session(pipeline=FAST, clock=replay.clock()) as session:
        sub = session.bus.subscribe("#", maxsize=1 << 16, policy="block")
        session.add(replay)
        async for message in sub:
            got.append(message)
            p = message.payload
            if isinstance(p, DeviceStatus) and p.state == "closed":
                break
        await replay.wait_finished()
        while (message := sub.receive_nowait()) is not None:
            got.append(message)
    return replay, got


T = TypeVar("T")


def of_type(messages: list[Message], kind: type[T]) -> list[T]:
    return [m.payload for m in messages if isinstance(m.payload, kind)]


def estimates_by_topic(messages: list[Message]) -> list[Estimate]:
    """The estimates, topic by topic (``affect/estimate``, then ``affect/physio``), each topic
    in order: how two stages' outputs interleave depends on the event loop, not the data.
    """
    found = (m for m in messages if isinstance(m.payload, Estimate))
    return [m.payload for m in sorted(found, key=lambda m: m.topic)]  # type: ignore[misc]


def blocks(messages: list[Message], stream: str) -> list[SampleBlock]:
    return [b for b in of_type(messages, SampleBlock) if b.stream == stream]


# -- 1. time order, whatever the layout ------------------------------------------------------
async def test_every_layout_of_the_same_data_gives_identical_estimates(tmp_path: Path) -> None:
    streams = physio_streams()
    layouts = {
        "interleaved": {"layout": "interleaved", "chunk_s": 1.0},
        "sequential": {"layout": "sequential", "chunk_s": 1.0},
        "odd chunks": {"layout": "interleaved", "chunk_s": [0.37, 2.9, 0.05, 7.0]},
        "sequential, one chunk per stream": {"layout": "sequential", "chunk_s": 1000.0},
    }
    results = {}
    for name, how in layouts.items():
        path = write(tmp_path / f"{name}.xdf", streams, **how)  # type: ignore[arg-type]
        _, got = await replay_all(path)
        results[name] = got
    # timestamps left out (LabRecorder-style chunks: only the first sample has one) are deduced
    # from the rate, as pyxdf deduces them: the same estimates up to the float rounding of t
    path = write(tmp_path / "deduced.xdf", streams, layout="sequential", stamps="first")
    _, deduced = await replay_all(path)
    loaded, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    ecg_t = np.concatenate([b.t for b in blocks(deduced, "ecg")])
    np.testing.assert_array_equal(ecg_t, loaded[0]["time_stamps"])
    reference = results["interleaved"]
    estimates = estimates_by_topic(reference)
    assert len(estimates) >= 10
    # every estimate saw the EDA (a stream-after-stream file used to give only no-EDA ones)
    assert all("eda" in e.modalities for e in estimates)
    assert all("no_eda" not in e.flags and "missing_eda" not in e.flags for e in estimates)
    for name, got in results.items():
        assert [e.model_dump() for e in estimates_by_topic(got)] == [
            e.model_dump() for e in estimates
        ], name
        assert [f.model_dump_json() for f in of_type(got, Features)] == [
            f.model_dump_json() for f in of_type(reference, Features)
        ], name
    ref = [(e.arousal, e.confidence, e.modalities, e.flags) for e in estimates]
    got_deduced = [
        (e.arousal, e.confidence, e.modalities, e.flags) for e in estimates_by_topic(deduced)
    ]
    assert [r[2:] for r in got_deduced] == [r[2:] for r in ref]
    np.testing.assert_allclose([r[:2] for r in got_deduced], [r[:2] for r in ref], rtol=1e-9)
    # blocks of 1 s (a paced replay's) instead of 8 s (full speed's): the same estimates, but
    # for the float rounding of sums over other block boundaries
    _, one_s = await replay_all(tmp_path / "interleaved.xdf", block_s=1.0)
    got_1s = [(e.arousal, e.confidence, e.modalities, e.flags) for e in estimates_by_topic(one_s)]
    assert [r[2:] for r in got_1s] == [r[2:] for r in ref]
    np.testing.assert_allclose([r[:2] for r in got_1s], [r[:2] for r in ref], rtol=1e-12)
    # published in time order: no block is due (its last sample) before an earlier one
    dues = [float(b.t[-1]) for b in of_type(results["sequential"], SampleBlock)]
    assert dues == sorted(dues)


async def test_clock_offsets_are_applied_as_pyxdf_applies_them(tmp_path: Path) -> None:
    streams = physio_streams(60.0)
    rng = np.random.default_rng(1)
    for s in streams:  # the other computer's clock: 2.5 s off, drifting 40 ppm, with jitter
        s.offsets = [
            (at, 2.5 + 40e-6 * (at - T0) + float(rng.normal(0, 2e-4)))
            for at in np.arange(T0 - 5.0, T0 + 70.0, 5.0)
        ]
    path = write(tmp_path / "offsets.xdf", streams, layout="sequential")
    _, got = await replay_all(path)
    loaded, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by_name = {x["info"]["name"][0]: x["time_stamps"] for x in loaded}
    for name, stream in (("BioAmp", "ecg"), ("Band", "eda"), ("Motion", "acc")):
        t = np.concatenate([b.t for b in blocks(got, stream)])
        np.testing.assert_allclose(t, by_name[name], rtol=0, atol=1e-9)
    assert abs(float(by_name["BioAmp"][0]) - (T0 + 2.5)) < 0.01


# -- 2. malformed and truncated files --------------------------------------------------------
def header_with(**fields: str) -> bytes:
    xml = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return chunk(2, struct.pack("<I", 1) + f"<info>{xml}</info>".encode())


GOOD = {"name": "x", "type": "EEG", "channel_count": "1", "nominal_srate": "100",
        "channel_format": "float32"}  # fmt: skip
MALFORMED = {
    "empty channel_count": header_with(**{**GOOD, "channel_count": ""}),
    "zero channel_count": header_with(**{**GOOD, "channel_count": "0"}),
    "huge channel_count": header_with(**{**GOOD, "channel_count": str(2**40)}),
    "non-numeric nominal_srate": header_with(**{**GOOD, "nominal_srate": "fast"}),
    "NaN nominal_srate": header_with(**{**GOOD, "nominal_srate": "nan"}),
    "unknown channel_format": header_with(**{**GOOD, "channel_format": "complex128"}),
    "2^40 samples": header_with(**GOOD)
    + chunk(3, struct.pack("<I", 1) + varlen(2**40) + b"\x08" + bytes(12)),
    "samples before the header": chunk(3, struct.pack("<I", 9) + varlen(1) + bytes(13)),
    "broken XML": chunk(2, struct.pack("<I", 1) + b"<info><name>x</nam"),
    "bad length width": b"\x03\x00\x00\x00",
    "chunk shorter than its content": header_with(**GOOD)
    + chunk(3, struct.pack("<I", 1) + varlen(5) + b"\x08" + bytes(12)),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_is_a_typed_error_naming_the_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad file.xdf"
    path.write_bytes(b"XDF:" + chunk(1, b"<info/>") + MALFORMED[case])
    with pytest.raises(XdfFormatError) as err:
        XdfReplay(path, speed=None)
    assert str(path) in str(err.value)
    assert err.value.path == str(path)


@pytest.mark.parametrize("content", [b"", b"garbage, not XDF at all", b"XD", bytes(range(256))])
def test_a_file_that_is_not_xdf_is_a_typed_error_naming_the_file(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.xdf"
    path.write_bytes(content)
    with pytest.raises(XdfFormatError, match=r"notes\.xdf"):
        read_xdf(path)


async def test_a_truncated_file_replays_what_is_there_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full = write(tmp_path / "full.xdf", physio_streams(60.0))
    cut = tmp_path / "cut.xdf"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3 + 7])  # inside a chunk
    with caplog.at_level(logging.WARNING, logger="wearsdk"):
        replay, got = await replay_all(cut)
    assert replay.truncated
    assert any("ends inside a chunk" in r.getMessage() and "cut.xdf" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert any("ends inside a chunk" in n for n in replay.notes)
    connected = next(p for p in of_type(got, DeviceStatus) if p.state == "connected")
    assert connected.detail is not None
    assert "ends inside a chunk" in connected.detail
    # what the complete chunks hold is replayed: the same samples as the full file's start
    _, whole = await replay_all(full)
    n = sum(len(b) for b in blocks(got, "ecg"))
    assert 0 < n < sum(len(b) for b in blocks(whole, "ecg"))
    np.testing.assert_array_equal(
        np.concatenate([b.values for b in blocks(got, "ecg")]),
        np.concatenate([b.values for b in blocks(whole, "ecg")])[:n],
    )


async def test_non_finite_times_are_dropped_and_counted_and_every_line_is_valid_json(
    tmp_path: Path,
) -> None:
    streams = physio_streams(40.0)
    ecg = streams[0]
    ecg.t = ecg.t.copy()
    ecg.t[[10, 500, 501]] = [math.nan, math.inf, -math.inf]
    markers = Stream(4, "Markers", "Markers", 0.0, np.array([T0 + 1.0, math.nan]), ["a", "b"],
                     fmt="string")  # fmt: skip
    path = write(
        tmp_path / "nan.xdf",
        [*streams, markers],
        header="<info><version>1.0</version><unix_offset_s>nan</unix_offset_s></info>",
    )
    replay = XdfReplay(path, speed=None)
    assert replay.unix_offset_s == 0.0
    replay, got = await replay_all(path)
    assert replay.dropped_samples == 4
    assert sum(len(b) for b in blocks(got, "ecg")) == ecg.t.size - 3
    clock = replay.clock()
    for message in got:  # what the CLI's --jsonl and event log write: nothing may raise
        json.dumps(message_to_dict(message, clock), allow_nan=False)


# -- 3. a stream the pipeline cannot use -----------------------------------------------------
async def test_an_ecg_below_the_detectors_rate_is_dropped_flagged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    streams = physio_streams(150.0)
    slow = streams[0]
    keep = np.arange(0, slow.t.size, 8)  # 130 / 8 = 16.25 Hz
    slow.t, slow.rate = slow.t[keep], 15.5
    assert not isinstance(slow.x, list)
    slow.x = slow.x[keep]
    beat = np.round(72.0 + 3.0 * np.sin(2 * np.pi * np.arange(150.0) / 30.0))  # not frozen
    hr = Stream(5, "Strap HR", "HR", 1.0, T0 + np.arange(150.0), beat,
                channels=[("hr", "bpm", "HR")])  # fmt: skip
    path = write(tmp_path / "slow-ecg.xdf", [*streams, hr])
    with caplog.at_level(logging.WARNING, logger="wearsdk"):
        replay, got = await replay_all(path)
    assert list(replay.unusable) == ["BioAmp/ecg"]
    assert "at least 100 Hz" in replay.unusable["BioAmp/ecg"]
    assert any("BioAmp" in r.getMessage() and "100 Hz" in r.getMessage() for r in caplog.records)
    features = of_type(got, Features)
    estimates = of_type(got, Estimate)
    assert len(estimates) >= 10  # the rest of the recording is processed
    assert all("unusable_ecg" in f.flags for f in features)
    assert all({"eda", "hr"} <= set(e.modalities) for e in estimates[2:])
    # the raw samples are still published (and recorded by a session that records)
    assert sum(len(b) for b in blocks(got, "ecg")) == slow.t.size


# -- 4. units ---------------------------------------------------------------------------------
async def test_acc_in_g_m_s2_and_mg_give_the_same_blocks_and_features(tmp_path: Path) -> None:
    acc: dict[str, np.ndarray] = {}
    features: dict[str, list[str]] = {}
    for unit in ("g", "m/s^2", "mG"):
        path = write(tmp_path / f"acc-{unit.replace('/', '_')}.xdf", physio_streams(80.0,
                     acc_unit=unit))  # fmt: skip
        replay, got = await replay_all(path)
        assert replay.unusable == {}
        assert {b.unit for b in blocks(got, "acc")} == {"mG"}
        acc[unit] = np.concatenate([b.values for b in blocks(got, "acc")])
        features[unit] = [f.model_dump_json() for f in of_type(got, Features)]
    assert abs(float(np.median(acc["g"][:, 2])) - 1000.0) < 5.0  # gravity: 1,000 mG
    np.testing.assert_allclose(acc["m/s^2"], acc["g"], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(acc["mG"], acc["g"], rtol=1e-5, atol=1e-3)
    assert features["g"]
    acc_of = [json.loads(f)["values"]["acc_activity_g"] for f in features["g"]]
    for unit in ("m/s^2", "mG"):
        other = [json.loads(f)["values"]["acc_activity_g"] for f in features[unit]]
        np.testing.assert_allclose(other, acc_of, rtol=1e-4)


async def test_an_unknown_unit_is_reported_and_kept_out_of_the_pipeline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    streams = physio_streams(60.0, acc_unit="furlong")
    streams[1].channels = [("gsr", "", "GSR")]  # no unit: taken as uS, and said so
    path = write(tmp_path / "units.xdf", streams)
    with caplog.at_level(logging.WARNING, logger="wearsdk"):
        replay, got = await replay_all(path)
    assert set(replay.unusable) == {"Motion/acc"}
    assert "furlong" in replay.unusable["Motion/acc"]
    assert blocks(got, "acc") == []
    assert len(blocks(got, "acc_unconverted")) > 0
    assert any("no unit" in n and "uS" in n for n in replay.notes)
    assert any("furlong" in r.getMessage() for r in caplog.records)
    assert all("acc_activity_g" not in f.values for f in of_type(got, Features))


# -- 5. the replay's clock and its end ------------------------------------------------------
async def test_at_full_speed_every_event_is_on_the_recordings_time_line(tmp_path: Path) -> None:
    path = write(tmp_path / "clock.xdf", physio_streams(90.0), layout="sequential")
    replay, got = await replay_all(path)
    statuses = of_type(got, DeviceStatus)
    first = min(float(b.t[0]) for b in of_type(got, SampleBlock))
    last = max(float(b.t[-1]) for b in of_type(got, SampleBlock))
    assert replay.finished
    assert [s.state for s in statuses] == ["connected", "closed"]
    assert statuses[0].t == pytest.approx(first)
    assert statuses[1].t == pytest.approx(last)  # not a 1x wall clock
    for m in got:
        t = m.payload.t
        lo, hi = (float(t[0]), float(t[-1])) if isinstance(t, np.ndarray) else (t, t)
        assert first - 1e-9 <= lo <= hi <= last + 1e-9, m.topic
    # the pipeline's output for the last data is published before the end is reported
    end_index = next(i for i, m in enumerate(got) if m.payload is statuses[1])
    assert not any(isinstance(m.payload, Features) for m in got[end_index + 1 :])


@pytest.mark.slow
def test_mutated_files_are_replayed_or_refused_with_the_typed_error(tmp_path: Path) -> None:
    t = T0 + np.arange(300) / 100.0
    streams = [
        Stream(1, "BioAmp", "ECG", 100.0, t, np.sin(t), channels=[("e", "mV", "ECG")]),
        Stream(2, "Markers", "Markers", 0.0, t[::50], [f"m{i}" for i in range(6)], fmt="string"),
        Stream(3, "Motion", "ACC", 50.0, t[::2], np.ones((150, 3)), fmt="int16",
               channels=[(c, "g", "ACC") for c in "xyz"]),
    ]  # fmt: skip
    base = write(tmp_path / "base.xdf", streams, chunk_s=0.5).read_bytes()
    rng = np.random.default_rng(7)
    path = tmp_path / "mutated.xdf"
    outcomes = {"replayed": 0, "refused": 0}
    paths: set[str] = set()
    for _ in range(1500):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 5))):
            pos = int(rng.integers(0, max(1, len(data))))
            op = rng.random()
            if op < 0.5 and data:
                data[min(pos, len(data) - 1)] = int(rng.integers(0, 256))
            elif op < 0.7:
                data[pos : pos + 8] = rng.bytes(8)
            elif op < 0.85:
                del data[pos:]
            else:
                data[pos:pos] = rng.bytes(int(rng.integers(1, 17)))
        path.write_bytes(bytes(data))
        try:
            XdfReplay(path, speed=None)
        except XdfFormatError as exc:  # the only exception: a traceback would fail the test
            paths.add(exc.path)
            outcomes["refused"] += 1
        else:
            outcomes["replayed"] += 1
    assert outcomes["replayed"] > 100
    assert outcomes["refused"] > 100
    assert paths == {str(path)}  # each error names the file


@pytest.mark.parametrize(
    ("stream", "unit", "want"),
    [
        ("acc", "g", ("mG", 1000.0)),
        ("acc", "m/s^2", ("mG", 1000.0 / G)),
        ("acc", "mg", ("mG", 1.0)),
        ("acc", "1/64g", ("mG", 1000.0 / 64)),
        ("ecg", "mV", ("uV", 1000.0)),
        ("eda", "microsiemens", ("uS", 1.0)),
        ("rr", "ms", ("s", 1e-3)),
        ("hr", "Hz", ("bpm", 60.0)),
        ("temp", "°C", ("degC", 1.0)),
    ],
)
def test_every_stream_kind_has_its_units_converted(
    stream: str, unit: str, want: tuple[str, float]
) -> None:
    from wearsdk.io.lsl import unit_known, unit_scale

    got = unit_scale(stream, unit)
    assert got[0] == want[0]
    assert got[1] == pytest.approx(want[1])
    assert unit_known(stream, unit)
    assert not unit_known(stream, "")
    assert unit_known(stream, "furlong") == (stream not in ("acc", "eda", "rr", "hr", "temp"))


def test_replay_clock_stands_at_the_data_at_full_speed_and_paces_otherwise() -> None:
    from wearsdk import ConfigError, ReplayClock

    real = [100.0]
    fast = ReplayClock(5000.0, speed=None, unix_at_start=1.7e9, source=lambda: real[0])
    assert fast.now() == 5000.0
    real[0] += 30.0  # real time passes: the full-speed clock waits for the data
    assert fast.now() == 5000.0
    fast.advance(5012.5)
    fast.advance(5010.0)  # never back
    assert fast.now() == 5012.5
    assert fast.to_unix(5012.5) == pytest.approx(1.7e9 + 12.5)
    assert fast.real_delay_s(60.0) == 0.0
    paced = ReplayClock(5000.0, speed=10.0, source=lambda: real[0])
    real[0] += 2.0
    assert paced.now() == pytest.approx(5020.0)
    paced.advance(5100.0)  # data ahead of the pace: the clock is not behind the data
    assert paced.now() == 5100.0
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ConfigError):
            ReplayClock(0.0, speed=bad)


async def test_the_last_windows_of_a_recording_are_published_when_it_ends(tmp_path: Path) -> None:
    path = write(tmp_path / "x.xdf", physio_streams(), layout="interleaved", chunk_s=1.0)
    replay = XdfReplay(path, speed=None, source_id="lab")
    pipeline = dataclasses.replace(FAST, hop_s=1.0)  # a window a second: each one counts
    async with Session(pipeline=pipeline, clock=replay.clock()) as session:
        sub = session.bus.subscribe(("features/#", "physio/#"), maxsize=1 << 16, policy="block")
        session.add(replay)
        async with asyncio.timeout(60):
            estimates = [e async for e in session.estimates(maxsize=4096, policy="block")]
        got: list[Message] = []
        while (message := sub.receive_nowait()) is not None:
            got.append(message)
    last_sample = max(float(b.t[-1]) for b in of_type(got, SampleBlock))
    windows = of_type(got, Features)
    assert estimates
    # every window the data reaches, the last ones included: the ECG detector and the RR stage
    # hold the newest beats back until the end of the data decides them
    assert windows[-1].window_end > last_sample - pipeline.hop_s
    assert estimates[-1].window_end == windows[-1].window_end


def test_the_command_prints_chosen_topics_and_says_what_it_did_not_use(tmp_path: Path) -> None:
    streams = physio_streams(120.0)
    slow = streams[0]
    keep = np.arange(0, slow.t.size, 8)  # an "ECG" at 15.5 Hz, as in a real drive recording
    slow.t, slow.rate = slow.t[keep], 15.5
    assert not isinstance(slow.x, list)
    slow.x = slow.x[keep]
    path = write(tmp_path / "slow-ecg.xdf", streams)
    command = ["replay", str(path), "--speed", "max", "--jsonl", "--topics", "affect/#"]
    run = subprocess.run(
        [sys.executable, "-m", "wearsdk", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in run.stdout.splitlines()]
    assert lines
    assert all(x["topic"].startswith("affect/") for x in lines)
    assert any(x["type"] == "estimate" for x in lines)
    # what was not used is said, on stderr (stdout is the JSON)
    assert "1 stream(s) not used" in run.stderr
    assert "BioAmp/ecg" in run.stderr
    assert "at least 100 Hz" in run.stderr
    # --topics without --jsonl is a usage error, said in one line
    bad = subprocess.run(
        [sys.executable, "-m", "wearsdk", "replay", str(path), "--topics", "affect/#"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert bad.stderr.startswith("wearsdk: error: --topics")
    assert "Traceback" not in bad.stderr


def test_reader_decodes_chunks_with_and_without_timestamps_as_pyxdf(tmp_path: Path) -> None:
    """Chunks with every timestamp are decoded together, per stream; chunks that leave
    timestamps out (deduced from the one before, across chunks) come between them: the same
    times and values as pyxdf.
    """
    rng = np.random.default_rng(3)
    n = 600
    ecg = Stream(1, "ECG", "ECG", 130.0, 10.0 + np.arange(n) / 130.0 + rng.normal(0, 1e-4, n),
                 rng.normal(0, 300, n), channels=[("ECG", "uV", "ECG")])  # fmt: skip
    acc = Stream(2, "ACC", "ACC", 50.0, 10.0 + np.arange(n) / 50.0, rng.normal(0, 1, (n, 3)),
                 fmt="double64", channels=[(c, "g", "ACC") for c in "XYZ"])  # fmt: skip
    cuts = [0, 100, 230, 231, 400, 520, n]
    header = b'<?xml version="1.0"?><info><version>1.0</version></info>'
    body = bytearray(b"XDF:" + chunk(1, header))
    for s in (ecg, acc):
        body += chunk(2, struct.pack("<I", s.sid) + s.header())
    for i, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        for s in (ecg, acc):
            if s is ecg and i == 3:  # no timestamp at all: deduced from the chunk before's last
                rows = [b"\x00" + np.float32(v).tobytes() for v in s.x[lo:hi]]
                body += chunk(3, struct.pack("<I", 1) + varlen(hi - lo) + b"".join(rows))
            else:  # the fifth ECG chunk stamps only its first sample
                body += s.samples(lo, hi, stamps="first" if s is ecg and i == 4 else "all")
    path = tmp_path / "mixed.xdf"
    path.write_bytes(bytes(body))
    ref, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False, synchronize_clocks=False)
    rec = read_xdf(path)
    for stream in ref:
        sid = int(stream["info"]["stream_id"])
        chunks = [c for c in rec.chunks if c.stream_id == sid]
        assert [c.t.size for c in chunks] == [b - a for a, b in itertools.pairwise(cuts)]
        t = np.concatenate([c.t for c in chunks])
        values = np.concatenate([np.asarray(c.values) for c in chunks])
        assert np.array_equal(t, stream["time_stamps"])
        assert np.array_equal(values, stream["time_series"])
        assert values.dtype == stream["time_series"].dtype
    # the ECG's deduced times follow the chunk before, not the times the writer had
    t = np.concatenate([c.t for c in rec.chunks if c.stream_id == 1])
    assert t[231] == ecg.t[230] + 1 / 130.0
    assert np.allclose(np.diff(t[230:400]), 1 / 130.0, rtol=0, atol=1e-9)
    assert t[400] == ecg.t[400]
