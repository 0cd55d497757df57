"""Session reports: from a demo's event log, from a log with gaps, and from bad logs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wearsdk import SessionLogError
from wearsdk._report import render_report
from wearsdk._sessionlog import load_session_log, session_log_from_lines

pytestmark = pytest.mark.timeout(120)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", *args],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=cwd,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.slow
def test_demo_leaves_a_report_of_its_own_log(tmp_path: Path) -> None:
    result = run_cli(
        # 5x: the calm phase lasts 2 s of real time, time enough for the strap to connect on a
        # busy machine (at 15x it lasted 0.7 s, and one run's report had no calm heart rate)
        *("demo", "--duration", "30", "--speed", "5", "--strap", "polar-h10"),
        *("--out", str(tmp_path)),
    )
    assert result.returncode == 0, result.stderr
    assert f"report: {tmp_path / 'report.png'}" in result.stdout
    width, height = png_size(tmp_path / "report.png")
    assert width > 1000
    assert height > 800
    page = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in page
    for phase in ("calm", "stress", "recovery"):
        assert f"<th>{phase}</th>" in page
    assert "provisional model" not in page  # the validated model drives the demo
    # the same log drawn again through `wearsdk report`: the same panels
    log = load_session_log(tmp_path)
    again = render_report(log, tmp_path / "again.png")
    assert again.panels == ["heart", "features", "arousal", "valence", "analyzers", "ecg-snippet"]
    assert again.series["heart"] == ["beat-to-beat (60/RR)", "device HR"]  # no pulse wave
    assert "pulse (bpm)" not in again.summary["calm"]
    # the only missing data is the skin contact the virtual strap loses during recovery
    recovery = next(a for a in log.of("annotation") if a["label"] == "recovery")
    assert len(again.gaps) == 1
    assert recovery["start"] <= again.gaps[0][0] < again.gaps[0][1] <= recovery["end"] + 1
    # the estimates carry their levels: raised inside the stress phase, not before
    assert not again.stress_levels_derived
    stress = next(a for a in log.of("annotation") if a["label"] == "stress")
    stress_start, stress_end = stress["start"], stress["end"]
    # (a 30 s strap-only demo: heart rate alone reaches medium, not high)
    raised = [(s, e) for s, e, level in again.stress_levels if level != "low"]
    assert raised
    assert all(stress_start <= s <= stress_end + 10 for s, _ in raised)
    # stress makes the heart beat faster: the per-phase numbers say so
    assert again.summary["stress"]["HR (bpm)"] > again.summary["calm"]["HR (bpm)"] + 10  # type: ignore[operator]


@pytest.mark.slow
def test_report_command_and_default_paths(tmp_path: Path) -> None:
    demo = run_cli("demo", "--duration", "15", "--speed", "15", "--jsonl")
    assert demo.returncode == 0, demo.stderr
    assert "report:" not in demo.stdout + demo.stderr  # --jsonl: no report unless asked
    log = tmp_path / "session.jsonl"
    log.write_text(demo.stdout)
    result = run_cli("report", str(log))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.png").exists()
    assert (tmp_path / "report.html").exists()
    assert "stress" in result.stdout


def event(kind: str, t: float, **fields: object) -> str:
    return json.dumps({"topic": f"x/{kind}", "type": kind, "t": t, "t_unix": t + 1.7e9, **fields})


def synthetic_log() -> list[str]:
    lines = [
        event(
            "annotation",
            0.0,
            modality="marker",
            analyzer_id="m",
            start=0.0,
            end=60.0,
            label="drive",
            arousal=None,
            valence=None,
        )
    ]
    for i in range(60):
        contact = not (20 <= i < 25)
        lines.append(
            event(
                "heart_rate",
                float(i),
                source="hr-1",
                hr_bpm=70.0 + i / 10,
                rr_s=[0.85],
                contact=contact,
            )
        )
    lines.append(event("device_status", 30.0, source="hr-1", state="disconnected"))
    lines.append(event("device_status", 34.0, source="hr-1", state="connected"))
    lines.append(
        event("gap", 34.0, source="hr-1", stream="rr", start=29.5, end=34.0, reason="disconnect")
    )
    for i in range(10, 60):
        lines.append(
            event(
                "estimate",
                float(i),
                window_start=i - 10.0,
                window_end=float(i),
                arousal=min(1.0, i / 40),
                valence=0.5 - i / 60,
                confidence=0.8,
                valence_confidence=0.4,
                stress_level=None,
            )
        )
    lines.append(
        event(
            "annotation",
            40.0,
            modality="face",
            analyzer_id="cam",
            start=40.0,
            end=45.0,
            emotions={"happy": 0.7, "neutral": 0.3},
        )
    )
    lines.append("not json at all")
    lines.append(json.dumps({"no": "envelope"}))
    return lines


def test_gaps_contact_loss_valence_and_analyzers(tmp_path: Path) -> None:
    log = session_log_from_lines(synthetic_log())
    assert log.skipped == 2
    result = render_report(log, tmp_path / "r.png", html_path=tmp_path / "r.html")
    assert result.panels == ["heart", "arousal", "valence", "analyzers"]
    assert (20.0, 25.0) in result.gaps  # skin contact lost
    assert (30.0, 34.0) in result.gaps  # disconnected
    assert (29.5, 34.0) in result.gaps  # the driver's gap
    assert result.stress_levels_derived  # no estimate carried a level
    page = (tmp_path / "r.html").read_text()
    assert "2 unreadable line(s) skipped" in page
    assert "derived from arousal" in page
    png_size(tmp_path / "r.png")


def test_bad_logs_are_typed_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("garbage\n\n")
    with pytest.raises(SessionLogError, match="no wearsdk events"):
        load_session_log(empty)
    with pytest.raises(SessionLogError, match="cannot read"):
        load_session_log(tmp_path / "missing.jsonl")
    result = run_cli("report", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 1
    assert "wearsdk: error: cannot read" in result.stderr


@pytest.mark.data
@pytest.mark.slow
def test_replay_of_a_real_e4_recording_leaves_a_report(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "replay", str(data_dir / "e4_session"), "--source", "e4", "--speed", "max",
        "--duration", "900", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"report: {tmp_path / 'report.png'}" in result.stdout
    log = load_session_log(tmp_path / "events.jsonl")
    assert log.unix_offset_s is not None
    assert log.t_start + log.unix_offset_s == pytest.approx(1560279825.0, abs=1.0)  # 2019
    drawn = render_report(log, tmp_path / "again.png", html_path=tmp_path / "again.html")
    assert drawn.panels[:3] == ["heart", "eda", "phasic"]
    # the E4's own HR, its sparse beats and the pulse rate of its BVP stream, side by side
    assert drawn.series["heart"] == [
        "beat-to-beat (60/RR)",
        "device HR",
        "pulse rate (BVP, window)",
    ]
    assert "pulse RMSSD (ms, left)" in drawn.series["features"]
    # the E4 rejects many beats: its RR gaps are listed, one per gap event
    assert len(drawn.gaps) == len(log.of("gap")) > 0
    page = (tmp_path / "again.html").read_text()
    assert page.count("<li>") == len(drawn.gaps)


@pytest.mark.data
@pytest.mark.slow
def test_an_e4_session_with_tags_is_summarised_from_tag_to_tag(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = data_dir / "stress_predict" / "Raw_data" / "S05"  # tags at 674 s and 1020 s
    result = run_cli(
        "replay", str(folder), "--source", "e4", "--speed", "max", "--duration", "1100",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    log = load_session_log(tmp_path / "events.jsonl")
    tags = [a for a in log.of("annotation") if a.get("modality") == "marker"]
    assert [a["label"] for a in tags] == ["tag 1", "tag 2"]
    assert all(a["end"] == a["start"] for a in tags)
    drawn = render_report(log, tmp_path / "again.png")
    assert list(drawn.summary) == ["start-tag 1", "tag 1-tag 2", "tag 2-end"]
    for row in drawn.summary.values():
        assert row["pulse (bpm)"] is not None
        assert 40 < row["pulse (bpm)"] < 150
        assert row["arousal"] is not None
    # the printed summary says the same
    assert "tag 1-tag 2" in result.stdout


def test_the_report_draws_each_window_once_with_its_last_revision() -> None:
    def est(topic: str, t: float, arousal: float, revised: bool = False) -> str:
        line = json.loads(event("estimate", t, window_start=t - 10, window_end=t, arousal=arousal))
        return json.dumps({**line, "topic": topic, "confidence": 0.5, "revised": revised})

    lines = [
        est("affect/physio", 10.0, 0.9),  # the unfused stream is not drawn next to the fused one
        est("affect/estimate", 10.0, 0.2),
        est("affect/estimate", 11.0, 0.3),
        est("affect/estimate", 10.0, 0.25, revised=True),  # a late annotation revised t=10
        est("affect/estimate", 12.0, 0.4),
    ]
    log = session_log_from_lines(lines)
    assert [(e["t"], e["arousal"]) for e in log.estimates()] == [
        (10.0, 0.25),
        (11.0, 0.3),
        (12.0, 0.4),
    ]
    # a log without fusion holds physiological estimates only: those are the estimates
    alone = session_log_from_lines([est("affect/physio", 10.0, 0.9)])
    assert [e["arousal"] for e in alone.estimates()] == [0.9]
