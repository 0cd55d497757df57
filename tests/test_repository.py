"""Repository-level checks: README's commands, packaging, lint, types and layer contracts."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_readme_gives_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands)
    assert "wearsdk demo" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci


def test_every_package_folder_is_packaged() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT / "wearsdk").parts).join(["wearsdk.", ""]).rstrip(".")
        for p in (ROOT / "wearsdk").rglob("__init__.py")
    } | {
        ".".join(("wearsdk", "drivers", *p.parent.relative_to(ROOT / "drivers").parts))
        for p in (ROOT / "drivers").rglob("__init__.py")
    }
    assert found == listed


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ruff_lint_and_format_are_clean() -> None:
    lint = _run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    # mypy cannot follow the install-time mapping of drivers/ onto wearsdk.drivers, so it checks
    # the package laid out as installed: wearsdk/ with drivers/ copied in as wearsdk/drivers/.
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "wearsdk", tree / "wearsdk", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        ROOT / "drivers", tree / "wearsdk" / "drivers", ignore=shutil.ignore_patterns("__pycache__")
    )
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")),
            *("-p", "wearsdk", "--cache-dir", str(tmp_path / "cache")),
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = result.stdout.replace("wearsdk/drivers/", "drivers/")
    assert result.returncode == 0, report + result.stderr
