"""The layer rules of docs/architecture.md: import-linter's contracts in pyproject.toml.

`lint-imports` checks them on the source tree (``wearsdk/drivers`` links to ``drivers/``, so the
drivers are part of the package it reads). The second test breaks each rule once, in a copy of
the package, and checks that every contract notices.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), "import-linter is missing: pip install -e '.[dev]'"
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},  # one line per import in the report
    )


def contract_names() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return [c["name"] for c in config["contracts"]]


def test_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in contract_names():
        assert f"{name} KEPT" in result.stdout
    # the drivers are in the graph it checked
    assert "Contracts: 5 kept, 0 broken." in result.stdout


# one violation of each rule: (file in the copied package, its text)
VIOLATIONS = {
    "signals/_bad_layer.py": "from wearsdk.session import Session\n",
    "bus/_bad_facade.py": "import wearsdk\n",
    "testing/_bad_driver.py": "import wearsdk.drivers.polar\n",
    "drivers/bitalino/_bad_internals.py": "from wearsdk.drivers.heart_rate import _protocol\n",
    "affect/_bad_pure.py": "import asyncio\n",
    "_bad_unlayered.py": "",
}


def test_every_contract_catches_its_violation(tmp_path: Path) -> None:
    package = tmp_path / "wearsdk"
    shutil.copytree(ROOT / "wearsdk", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for name, text in VIOLATIONS.items():
        (package / name).write_text(text)
    result = lint_imports(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    for name in contract_names():
        assert f"{name} BROKEN" in out, out
    # the copy was analysed, not the installed package
    assert "wearsdk.signals._bad_layer -> wearsdk.session" in out, out
    assert "wearsdk._bad_unlayered" in out  # exhaustive: a module without a layer
    assert "wearsdk.bus._bad_facade -> wearsdk" in out
    assert "wearsdk.testing._bad_driver -> wearsdk.drivers.polar" in out
    assert "wearsdk.drivers.bitalino._bad_internals -> wearsdk.drivers.heart_rate._protocol" in out
    assert "wearsdk.affect._bad_pure -> asyncio" in out


def test_modules_stay_small_enough_to_read() -> None:
    """The layout rule of docs/architecture.md: a command's module under 250 lines, no module of
    the package or its drivers over 500 (a module that grows past it is split, not tolerated)."""
    too_long = []
    for folder, limit in ((ROOT / "wearsdk", 500), (ROOT / "drivers", 500)):
        for path in sorted(folder.rglob("*.py")):
            if path.is_relative_to(ROOT / "wearsdk" / "drivers"):
                continue  # the link to drivers/, counted there
            cap = 249 if path.parent == ROOT / "wearsdk" / "cli" else limit
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > cap:
                too_long.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {cap})")
    assert not too_long, "\n".join(too_long)
