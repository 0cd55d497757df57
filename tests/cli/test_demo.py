"""`wearsdk demo` end to end, as a user runs it (a subprocess reading its JSON lines)."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wearsdk import EVENT_ADAPTER, Estimate
from wearsdk.affect import load_arousal_params

pytestmark = pytest.mark.timeout(120)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wearsdk", *args], capture_output=True, text=True, timeout=100
    )


@pytest.fixture(scope="module")
def demo_lines() -> list[dict]:  # type: ignore[type-arg]
    result = run_cli("demo", "--duration", "30", "--speed", "10", "--jsonl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_line_has_the_envelope(demo_lines: list[dict]) -> None:  # type: ignore[type-arg]
    assert demo_lines
    for line in demo_lines:
        assert {"topic", "type", "t", "t_unix"} <= line.keys()
    events = [line for line in demo_lines if line["type"] != "samples"]
    # events parse back into their typed models
    for line in events:
        fields = {k: v for k, v in line.items() if k not in ("topic", "t_unix")}
        EVENT_ADAPTER.validate_python(fields)
    # t_unix is t on the unix clock (now-ish), the same offset for every event
    offsets = {round(line["t_unix"] - line["t"], 3) for line in events}
    assert len(offsets) == 1


def test_heart_rate_events_carry_hr_and_rr(demo_lines: list[dict]) -> None:  # type: ignore[type-arg]
    hr = [line for line in demo_lines if line["type"] == "heart_rate"]
    assert len(hr) >= 20
    assert all(40 <= line["hr_bpm"] <= 200 for line in hr)
    assert all(isinstance(line["rr_s"], list) for line in hr)
    assert sum(len(line["rr_s"]) for line in hr) >= 25
    rr_blocks = [
        line for line in demo_lines if line["type"] == "samples" and line["stream"] == "rr"
    ]
    assert rr_blocks
    assert all(len(b["t"]) == len(b["values"]) for b in rr_blocks)


def test_arousal_rises_in_the_stress_phase_and_falls_after(demo_lines: list[dict]) -> None:  # type: ignore[type-arg]
    phases = {
        line["label"]: (line["start"], line["end"])
        for line in demo_lines
        if line["type"] == "annotation" and line["modality"] == "marker"
    }
    assert list(phases) == ["calm", "stress", "recovery"]
    estimates = [
        Estimate.model_validate({k: v for k, v in line.items() if k not in ("topic", "t_unix")})
        for line in demo_lines
        if line["topic"] == "affect/estimate"
    ]
    assert len(estimates) >= 15

    def mean_arousal(start: float, end: float) -> float:
        # windows that lie entirely inside [start, end]
        sel = [e.arousal for e in estimates if e.window_start >= start and e.window_end <= end]
        assert sel, (start, end)
        return float(np.mean(sel))

    calm = mean_arousal(*phases["calm"])
    stress = mean_arousal(*phases["stress"])
    late_recovery = mean_arousal(phases["recovery"][1] - 6.0, phases["recovery"][1] + 2.0)
    # heart rate alone (no EDA band in a 30 s demo): the shipped model without EDA
    assert stress > calm + 0.15
    assert late_recovery < stress - 0.15
    assert all(not e.provisional and e.model.startswith("arousal-v4/") for e in estimates)
    assert all("missing_eda" in e.flags for e in estimates)
    in_stress = [e.stress_level for e in estimates if e.window_end <= phases["stress"][1]]
    assert in_stress[0] is None  # the first estimate is too unsure (calibrating) for a level
    assert next(x for x in in_stress if x is not None) == "low"
    assert in_stress[-1] in ("medium", "high")


def test_confidence_drops_while_the_strap_reports_no_contact(demo_lines: list[dict]) -> None:  # type: ignore[type-arg]
    hr = [line for line in demo_lines if line["type"] == "heart_rate"]
    lost = [line["t"] for line in hr if line["contact"] is False]
    assert lost
    assert all(line["contact"] is True for line in hr if line["t"] < min(lost))
    for topic, factor in (("affect/physio", 0.5), ("affect/estimate", 1.0)):
        # physiology alone: confidence at least halves against every clean window; fused with
        # the simulated camera and voice (which keep their confidence), it drops below the
        # typical clean window's (arousal-v4 weighs a contact-less window so little that the
        # fused confidence approaches the analyzers' own, about that of the first clean window)
        estimates = [line for line in demo_lines if line["topic"] == topic]
        touched = [
            e for e in estimates if any(e["window_start"] < t <= e["window_end"] for t in lost)
        ]
        clean = [e for e in estimates if e not in touched and "calibrating" not in e["flags"]]
        assert touched
        assert clean
        assert all("no_contact" in e["flags"] for e in touched)
        assert not any("no_contact" in e["flags"] for e in clean)
        confidences = sorted(e["confidence"] for e in clean)
        reference = confidences[0] if topic == "affect/physio" else confidences[len(clean) // 2]
        assert max(e["confidence"] for e in touched) < factor * reference
    # too uncertain to move the stress level: the estimates say the level is held from before
    physio = [line for line in demo_lines if line["topic"] == "affect/physio"]
    held = [e for e in physio if "stress_level_held" in e["flags"]]
    assert held
    assert all(e["confidence"] < 0.3 and e["stress_level"] is not None for e in held)
    assert all("no_contact" in e["flags"] or "calibrating" in e["flags"] for e in held)
    assert not any("stress_level_held" in e["flags"] for e in physio if e["confidence"] >= 0.3)


@pytest.mark.slow
def test_human_summary_and_out_dir(tmp_path: Path) -> None:
    result = run_cli("demo", "--duration", "15", "--speed", "15", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "--- phase: stress" in result.stdout
    assert "arousal" in result.stdout
    assert "demo finished" in result.stdout
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert any(json.loads(line)["type"] == "estimate" for line in lines)


def test_version_help_and_bad_arguments() -> None:
    version = run_cli("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("wearsdk ")
    helptext = run_cli("--help")
    assert helptext.returncode == 0
    assert "demo" in helptext.stdout
    bad = run_cli("demo", "--speed", "0")
    assert bad.returncode == 2
    assert "must be > 0" in bad.stderr
    short = run_cli("demo", "--duration", "5")
    assert short.returncode == 1
    assert "at least 15" in short.stderr
    assert "141 the output's reader went away" in " ".join(helptext.stdout.split())


def test_a_closed_pipe_stops_the_demo_quietly() -> None:
    # `wearsdk demo --jsonl | head -3`: the reader goes away after three lines
    with subprocess.Popen(
        [sys.executable, "-m", "wearsdk", "demo", "--duration", "60", "--speed", "20", "--jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = [json.loads(proc.stdout.readline()) for _ in range(3)]
        assert all("topic" in line for line in first)
        proc.stdout.close()
        code = proc.wait(timeout=60)
        stderr = proc.stderr.read().decode()
    assert code == 141, stderr
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr


def test_demo_with_a_virtual_polar_h10_streams_ecg_and_acc() -> None:
    result = run_cli("demo", "--duration", "15", "--speed", "5", "--strap", "polar-h10", "--jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    ecg = [x for x in lines if x["type"] == "samples" and x["stream"] == "ecg"]
    acc = [x for x in lines if x["type"] == "samples" and x["stream"] == "acc"]
    assert len(ecg) >= 10
    assert all(x["unit"] == "uV" and x["nominal_rate_hz"] == 130 for x in ecg)
    assert sum(len(x["t"]) for x in ecg) >= 10 * 73
    assert acc
    assert acc[0]["channels"] == ["acc_x", "acc_y", "acc_z"]
    t = [s for x in ecg for s in x["t"]]
    assert all(b > a for a, b in itertools.pairwise(t))


@pytest.mark.slow
def test_demo_with_the_eda_band_estimates_from_both_sensors() -> None:
    result = run_cli("demo", "--duration", "120", "--speed", "20", "--jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    eda = [x for x in lines if x["type"] == "samples" and x["stream"] == "eda"]
    assert eda
    assert eda[0]["unit"] == "uS"
    phases = {x["label"]: (x["start"], x["end"]) for x in lines if x.get("modality") == "marker"}
    # the physiological estimates (before fusion with the simulated camera and voice)
    est = [x for x in lines if x["topic"] == "affect/physio"]
    assert any({"hr", "rr", "eda"} <= set(x["modalities"]) for x in est)
    assert any(x["model"] == "arousal-v4/all" for x in est)
    assert len({tuple(x["sources"]) for x in est if len(x["sources"]) == 2}) == 1

    def mean(a: float, b: float) -> float:
        return float(
            np.mean([x["arousal"] for x in est if x["window_start"] >= a and x["window_end"] <= b])
        )

    assert mean(*phases["stress"]) > mean(*phases["calm"]) + 0.3
    assert mean(*phases["recovery"]) < mean(*phases["stress"]) - 0.3
    # with both sensors calibrated the confidence is higher than the strap alone could reach
    strap_alone = {m.name: m.quality for m in load_arousal_params().models}["no_eda"]
    both = [x["confidence"] for x in est if x["model"] == "arousal-v4/all"]
    assert max(both) > strap_alone + 0.1


def test_demo_fuses_simulated_camera_and_voice(demo_lines: list[dict]) -> None:  # type: ignore[type-arg]
    phases = {
        line["label"]: (line["start"], line["end"])
        for line in demo_lines
        if line["type"] == "annotation" and line["modality"] == "marker"
    }
    analyzers = {
        (x["modality"], x["analyzer_id"])
        for x in demo_lines
        if x["type"] == "annotation" and x["modality"] != "marker"
    }
    assert analyzers == {("face", "sim-face"), ("voice", "sim-voice")}
    fused = [x for x in demo_lines if x["topic"] == "affect/estimate"]
    physio = [x for x in demo_lines if x["topic"] == "affect/physio"]
    assert len([x for x in fused if not x["revised"]]) == len(physio)
    assert any(x["revised"] for x in fused)  # the analyzers deliver late: windows revised
    with_face = [x for x in fused if "face" in x["modalities"]]
    assert with_face
    assert all(x["valence"] is not None for x in with_face)

    def mean_valence(start: float, end: float) -> float:
        sel = [x["valence"] for x in with_face if start <= x["window_end"] <= end]
        assert sel
        return float(np.mean(sel))

    # the script's valence: +0.3 calm, -0.5 stress (with a transition)
    stress = phases["stress"]
    assert mean_valence(stress[0] + 4.0, stress[1]) < mean_valence(*phases["calm"]) - 0.3


def test_every_duration_from_the_minimum_on_makes_a_valid_pipeline() -> None:
    from wearsdk._demo import DemoConfig
    from wearsdk._run._parts import _pipeline

    # 275 of the 386 whole-second durations from 15 to 400 s used to be refused ("window_s
    # must be a whole number of hops"), e.g. --duration 100; fractional ones too
    for duration in [*range(15, 401), 15.5, 99.9, 1000.0, 7200.0]:
        config = _pipeline(DemoConfig(duration_s=float(duration)).pipeline())
        config.features()  # validates windows against hops
        assert 5.0 <= config.window_s <= 60.0
