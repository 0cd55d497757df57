"""The live view: rendered to a string console from real demo lines, and its plain fallback."""

import io
import json
import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console

from wearsdk._live import LiveState, LiveView, render_live

pytestmark = pytest.mark.timeout(120)


def render(state: LiveState, width: int = 120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_live(state))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


@pytest.fixture(scope="module")
def demo_lines() -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wearsdk",
            "demo",
            "--duration",
            "20",
            "--speed",
            "10",
            "--strap",
            "polar-h10",
            "--jsonl",
        ],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_view_shows_device_and_wearer_state(demo_lines: list[dict[str, Any]]) -> None:
    state = LiveState(title="wearsdk demo", total_s=40.0)
    for line in demo_lines:
        state.update(line)
    source = next(x["source"] for x in demo_lines if x["type"] == "device_status")
    battery = next(
        x["battery_pct"] for x in demo_lines if x["type"] == "device_status" and x["battery_pct"]
    )
    last_hr = [x["hr_bpm"] for x in demo_lines if x["type"] == "heart_rate"][-1]
    last_est = [x for x in demo_lines if x["type"] == "estimate"][-1]
    text = render(state)
    row = next(r for r in text.splitlines() if r.startswith(source))
    assert "connected" in row
    assert f"{battery}%" in row
    assert f" {last_hr:.0f} " in row
    assert "acc,ecg,hr,rr" in row
    assert "phase recovery" in text
    assert f"arousal           {last_est['arousal']:4.2f}" in text
    assert f"confidence {last_est['confidence']:4.2f}" in text
    assert last_est["model"] in text
    # elapsed over 40 s expected: the progress bar shows the fraction
    pct = round(100 * min(1.0, state.elapsed_s / 40.0))
    assert f"{pct:3d}%" in text


def test_gaps_contact_loss_and_valence_are_shown() -> None:
    state = LiveState()
    state.update({"type": "device_status", "t": 1.0, "source": "hr-a", "state": "reconnecting"})
    state.update(
        {"type": "heart_rate", "t": 2.0, "source": "hr-a", "hr_bpm": 81.0, "contact": False}
    )
    state.update(
        {
            "type": "gap",
            "t": 3.0,
            "source": "hr-a",
            "stream": "rr",
            "start": 0.5,
            "end": 3.0,
            "n_missing": 3,
            "reason": "disconnect",
        }
    )
    state.update(
        {
            "type": "estimate",
            "t": 4.0,
            "arousal": 0.8,
            "confidence": 0.6,
            "valence": -0.5,
            "valence_confidence": 0.3,
            "stress_level": "high",
            "flags": ["low_coverage_rr"],
            "model": "m",
            "provisional": False,
        }
    )
    text = render(state)
    row = next(r for r in text.splitlines() if r.startswith("hr-a"))
    assert "reconnecting" in row
    assert "NO" in row
    assert "1 (2.5 s), 3" in row
    assert "-0.50" in text
    assert "confidence 0.30" in text
    assert "stress level      high" in text
    assert "low_coverage_rr" in text


def test_not_a_terminal_falls_back_to_plain_lines() -> None:
    seen: list[dict[str, Any]] = []
    console = Console(file=io.StringIO(), width=100)  # a StringIO is not a terminal
    line = {"type": "heart_rate", "t": 1.0, "source": "hr-a", "hr_bpm": 60.0}
    with LiveView(seen.append, console=console) as view:
        view(line)
    assert seen == [line]
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]
    forced: list[dict[str, Any]] = []
    with LiveView(forced.append, console=console, live=True, title="T") as view:
        view(line)
    assert forced == []
    assert "hr-a" in console.file.getvalue()  # type: ignore[attr-defined]


def test_cli_live_view_when_asked() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wearsdk",
            "demo",
            "--duration",
            "15",
            "--speed",
            "15",
            "--live",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    assert "wearsdk demo" in result.stdout
    assert "device" in result.stdout
    source = next(line.split()[0] for line in result.stdout.splitlines() if line.startswith("hr-"))
    assert source.startswith("hr-")
    assert "--- phase" not in result.stdout  # the plain lines are not printed under the view
    assert "\ndemo finished" in result.stdout
