"""R peaks of real recordings, this tree's detector against a git revision's.

A speed-up of the R-peak detector must not change a beat. This script runs the
``EcgPeakDetector`` of the whole ``wearsdk`` package as it was at ``--ref`` (default ``HEAD``:
what the working tree's changes do; a package exported with ``git archive`` and run in a
subprocess) and the current one on the same real recordings, and compares every beat: its
sample index, time, amplitude and class (``ectopic``; a revision without classes counts as all
normal), with exact equality, no tolerance.

Recordings (from ``../shared/data`` or ``WEARSDK_DATA``), each streamed in 1 s blocks:

- the Polar H10 strap (130 Hz, its own per-sample times) and the hour ``benchmarks.ecg_speed``
  times (the recording repeated, times ``index / fs``);
- the 30 ``qtdb_dev`` records at 250 Hz and resampled to 130 Hz (ectopic beats: search-backs
  and beat classes);
- MIT-BIH 100 and the noise-stress record 118 at 0, 6, 12 and 24 dB (360 Hz).

``--quick`` keeps the Polar recordings and the first 6 ``qtdb_dev`` records.

Usage: python -m benchmarks.ecg_unchanged [--ref REV] [--data DIR] [--quick]
Exit status 1 when any beat differs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._at_ref import export_package

ROOT = Path(__file__).resolve().parents[1]
Beats = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # index, t, amplitude, ectopic
Case = tuple[str, np.ndarray, np.ndarray | None, float]  # name, samples, times, rate


def cases(root: Path, quick: bool) -> list[Case]:
    """The recordings compared (see the module documentation)."""
    from benchmarks.ecg_accuracy import (
        NST_SNR_DB,
        QTDB_RATES_HZ,
        QTDB_RECORDS,
        load_mitbih_100,
        load_nst_118,
        load_polar_h10,
        load_qtdb,
    )
    from benchmarks.pipeline_speed import load_inputs

    polar = load_polar_h10(root)
    _t, hour, fs = load_inputs(root)["ecg"]
    out: list[Case] = [
        (polar.name, polar.ecg, polar.t, polar.fs),
        ("polar_h10 1 h", hour, None, fs),
    ]
    records = QTDB_RECORDS[:6] if quick else QTDB_RECORDS
    for rate in QTDB_RATES_HZ:
        for name in records:
            rec = load_qtdb(root, name, rate)
            out.append((rec.name, rec.ecg, None, rec.fs))
    if not quick:
        for rec in [load_mitbih_100(root), *(load_nst_118(root, snr) for snr in NST_SNR_DB)]:
            out.append((rec.name, rec.ecg, None, rec.fs))
    return out


def beats(root: Path, quick: bool) -> list[tuple[str, Beats]]:
    """Every case's beats from the ``wearsdk`` on the import path, in 1 s blocks."""
    from wearsdk.signals import EcgPeakDetector

    out: list[tuple[str, Beats]] = []
    for name, x, t, fs in cases(root, quick):
        det = EcgPeakDetector(sampling_rate_hz=fs)
        n = round(fs)
        parts = [
            det.step(x[a : a + n], None if t is None else t[a : a + n]) for a in range(0, x.size, n)
        ]
        parts.append(det.flush())
        idx = np.concatenate([p.index for p in parts])
        ectopic = [getattr(p, "ectopic", np.zeros(len(p), np.bool_)) for p in parts]
        out.append(
            (
                name,
                (
                    idx,
                    np.concatenate([p.t for p in parts]),
                    np.concatenate([p.amplitude for p in parts]),
                    np.concatenate(ectopic).astype(np.bool_),
                ),
            )
        )
    return out


def at_ref(ref: str, root: Path, quick: bool) -> list[tuple[str, Beats]]:
    """The beats of ``wearsdk`` at ``ref`` (exported to a temporary folder, run apart)."""
    with tempfile.TemporaryDirectory(prefix="ecg-at-ref-") as tmp:
        export_package(ref, Path(tmp))
        job = Path(tmp) / "job.pickle"
        code = (
            "import pickle, sys; from pathlib import Path;"
            "from benchmarks.ecg_unchanged import beats;"
            "out = beats(Path(sys.argv[1]), sys.argv[2] == '1');"
            "open(sys.argv[3], 'wb').write(pickle.dumps(out))"
        )
        env = {**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{ROOT}"}
        subprocess.run(
            [sys.executable, "-c", code, str(root), "1" if quick else "0", str(job)],
            check=True,
            env=env,
            cwd=tmp,
        )
        result: list[tuple[str, Beats]] = pickle.loads(job.read_bytes())
        return result


def compare(old: Beats, new: Beats) -> str | None:
    """None when every beat is identical, else what differs first."""
    what = ("index", "time", "amplitude", "class")
    if old[0].size != new[0].size:
        return f"{old[0].size} beats before, {new[0].size} now"
    for name, a, b in zip(what, old, new, strict=True):
        diff = np.flatnonzero(a != b)
        if diff.size:
            k = int(diff[0])
            was, now = a[k].item(), b[k].item()
            return (
                f"{diff.size} beats differ in {name}, first beat {k}: {was!r} before, {now!r} now"
            )
    return None


def main() -> int:
    from benchmarks.pipeline_speed import data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--data", default=None)
    ap.add_argument("--quick", action="store_true", help="Polar and 6 qtdb_dev records")
    args = ap.parse_args()
    root = data_dir(args.data)
    before = at_ref(args.ref, root, args.quick)
    now = beats(root, args.quick)
    failed = total = 0
    names: dict[str, Any] = dict(before)
    for name, b in now:
        total += b[0].size
        problem = "missing at the revision" if name not in names else compare(names[name], b)
        if problem:
            failed += 1
            print(f"{name}: {problem}")
    print(
        f"{len(now)} recordings, {total:,} beats: "
        + (f"{failed} recordings differ from {args.ref}" if failed else f"identical to {args.ref}")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
