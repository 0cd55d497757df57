"""The analyzer guide's runnable example does what docs/analyzers.md says it does."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "write_an_analyzer.py"


@pytest.mark.timeout(90)
def test_write_an_analyzer_example_runs_and_fuses() -> None:
    run = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=80)
    assert run.returncode == 0, run.stderr
    rows = [
        (float(m[1]), float(m[2]), float(m[3]), m[4])
        for m in re.finditer(
            r"t=\s*([\d.]+)s\s+arousal ([\d.]+).*valence ([+-][\d.]+).*from (.*)", run.stdout
        )
    ]
    assert len(rows) >= 20
    assert all({"rr", "face"} <= set(r[3].split(", ")) for r in rows)
    calm = [r for r in rows if r[0] < 38]
    stress = [r for r in rows if r[0] > 52]
    assert calm
    assert stress
    assert all(r[2] > 0.2 for r in calm)
    assert all(r[2] < -0.4 for r in stress)
    assert min(r[1] for r in stress) > max(r[1] for r in calm)
