"""The ``wearsdk`` package as it was at a git revision, for benchmarks that compare against it."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_package(ref: str, into: Path) -> Path:
    """Write the ``wearsdk`` package at git revision ``ref`` into ``into`` (``git archive``).

    Returns:
        ``into``, to put first on ``PYTHONPATH`` of a process that runs that version.
    """
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "wearsdk"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into
