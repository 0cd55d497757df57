"""Repository-level checks: README's commands, packaging, lint, types and layer contracts."""

import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
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


def package_files() -> set[str]:
    """Every file of the package in the tree, ``wearsdk/drivers/`` read through its link."""
    return {
        str(Path(folder, name).relative_to(ROOT))
        for folder, _, names in os.walk(ROOT / "wearsdk", followlinks=True)
        if "__pycache__" not in Path(folder).parts
        for name in names
        if not name.startswith(".") and not name.endswith("~")  # editors' files
    }


def test_the_drivers_folder_is_linked_into_the_package() -> None:
    # mypy, import-linter and editors find wearsdk.drivers by its path through this link
    link = ROOT / "wearsdk" / "drivers"
    assert link.is_symlink()
    assert os.readlink(link) == "../drivers"
    assert "wearsdk/drivers/polar/_driver.py" in package_files()


def _build(hook: str, source: Path, out: Path) -> Path:
    """Run one PEP 517 hook of setuptools (no build isolation, so no network) in ``source``."""
    result = subprocess.run(
        [
            *(sys.executable, "-c"),
            "import sys; from setuptools import build_meta as b; "
            "print(getattr(b, sys.argv[1])(sys.argv[2]))",
            *(hook, str(out)),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / result.stdout.splitlines()[-1]


@pytest.mark.slow
def test_sdist_and_wheel_carry_every_package_file(tmp_path: Path) -> None:
    # sdist from the tree, wheel from the unpacked sdist (as pip and `python -m build` do)
    setuptools = importlib.metadata.version("setuptools")
    assert int(setuptools.split(".")[0]) >= 77, f"setuptools {setuptools}: pip install -e '.[dev]'"
    sdist = _build("build_sdist", ROOT, tmp_path)
    with tarfile.open(sdist) as tar:
        members = tar.getmembers()
        # the link is resolved: the sdist holds the drivers as plain files under wearsdk/
        assert not [m.name for m in members if m.issym() or m.islnk()]
        tar.extractall(tmp_path / "src", filter="data")
    (unpacked,) = (tmp_path / "src").iterdir()
    assert (unpacked / "wearsdk" / "drivers" / "polar" / "_driver.py").is_file()
    wheel = _build("build_wheel", unpacked, tmp_path)
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        entry_points = whl.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert package_files() <= names
    assert {n.split("/")[0] for n in names if not n.startswith("wearsdk-")} == {"wearsdk"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for group in ("wearsdk.drivers", "wearsdk.twins"):
        for name, target in project["entry-points"][group].items():
            assert f"{name} = {target}" in entry_points


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ruff_lint_and_format_are_clean() -> None:
    lint = _run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    # `mypy` as a developer runs it from the root: the [tool.mypy] files (the package, the tests,
    # the benchmarks) on the tree itself, with mypy's incremental cache (.mypy_cache, ignored).
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    checked = {p for p in package_files() if p.endswith(".py")} | {
        str(p.relative_to(ROOT)) for d in ("tests", "benchmarks") for p in (ROOT / d).rglob("*.py")
    }
    assert f"no issues found in {len(checked)} source files" in result.stdout
