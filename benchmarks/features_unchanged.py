"""Window features of real recordings, this tree's extractor against a git revision's.

A refactoring or a speed-up of the feature stage must not change a value. This script runs the
``FeatureExtractor`` of the whole ``wearsdk`` package as it was at ``--ref`` (default ``HEAD``:
what the working tree's changes do; a package exported with ``git archive`` and run in a
subprocess) and the current one, feeds both the same real recordings in 1 s blocks, and compares
every window: start, end, values, quality, flags, modalities (NaN equals NaN; otherwise exact
equality, no tolerance). Features the current extractor adds (``--new``) are listed apart, not
counted as differences.

Recordings (from ``../shared/data`` or ``WEARSDK_DATA``):

- Stress-Predict ``S02`` (Empatica E4: EDA, BVP, IBI as ``rr``, HR, TEMP, ACC), 60 s windows,
  5 s hop (the arousal model's setting), whole session;
- the Polar H10 strap (ECG 130 Hz, with ``keep_clean``, and its HR), 60 s windows, 1 s hop.

Usage: python -m benchmarks.features_unchanged [--ref REV] [--data DIR] [--new NAME ...]
(``--ref`` a commit whose ``FeatureExtractor`` has this push/ready/flush interface.)
Exit status 1 when any window differs.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._at_ref import export_package
from wearsdk.io.e4 import load_e4_session
from wearsdk.signals._features import FeatureConfig, FeatureExtractor

ROOT = Path(__file__).resolve().parents[1]
REF = "HEAD"
Streams = dict[str, tuple[np.ndarray, np.ndarray, float | None]]


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("WEARSDK_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def plain(items: list[Any]) -> list[Any]:
    """Windows and cleaned blocks as plain values (what a subprocess can send back)."""
    out: list[Any] = []
    for x in items:
        if hasattr(x, "modalities"):
            out.append(
                ("window", x.start, x.end, dict(x.values), dict(x.quality), tuple(x.flags),
                 tuple(x.modalities))
            )  # fmt: skip
        else:
            out.append(
                ("clean", x.stream, tuple(x.channels), np.asarray(x.t), np.asarray(x.values))
            )
    return out


def at_ref(ref: str, streams: Streams, config: FeatureConfig, clean: bool) -> list[Any]:
    """The windows of ``wearsdk`` at ``ref`` (exported to a temporary folder, run apart)."""
    with tempfile.TemporaryDirectory(prefix="features-at-ref-") as tmp:
        export_package(ref, Path(tmp))
        job = Path(tmp) / "job.pickle"
        settings = {f: getattr(config, f) for f in config.__slots__}
        job.write_bytes(pickle.dumps((streams, settings, clean)))
        code = (
            "import pickle, sys; sys.path.insert(0, sys.argv[1]);"
            "from benchmarks.features_unchanged import run, plain;"
            "from wearsdk.signals._features import FeatureConfig, FeatureExtractor;"
            "s, c, k = pickle.loads(open(sys.argv[2], 'rb').read());"
            "out = plain(run(FeatureExtractor(FeatureConfig(**c), keep_clean=k), s));"
            "open(sys.argv[2], 'wb').write(pickle.dumps(out))"
        )
        env = {**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{ROOT}"}
        subprocess.run([sys.executable, "-c", code, tmp, str(job)], check=True, env=env)
        result: list[Any] = pickle.loads(job.read_bytes())
        return result


def e4_streams(folder: Path) -> Streams:
    s = load_e4_session(folder)
    out: Streams = {}
    for name in ("eda", "bvp", "hr", "temp", "acc"):
        sig = s.signals[name]
        out[name] = (sig.t_unix - s.start_unix, sig.values, sig.rate_hz)
    if s.ibi is not None and len(s.ibi):
        out["rr"] = (s.ibi.t_unix - s.start_unix, s.ibi.ibi_s[:, None], None)
    return out


def polar_streams(path: Path) -> Streams:
    import pandas as pd

    d = pd.read_csv(path)
    t = ((d["time_ns"] - d["time_ns"].iloc[0]) / 1e9).to_numpy(np.float64)
    hr = d["hr_bpm"].notna().to_numpy()
    return {
        "ecg": (t, d["ecg"].to_numpy(np.float64)[:, None], 130.0),
        "hr": (t[hr], d["hr_bpm"].to_numpy(np.float64)[hr][:, None], 1.0),
    }


def run(ex: Any, streams: Streams) -> list[Any]:
    """Feed every stream in 1 s blocks, interleaved in time order; windows then flush."""
    end = max(float(t[-1]) for t, _, _ in streams.values())
    idx = dict.fromkeys(streams, 0)
    out: list[Any] = []
    for k in range(math.ceil(end) + 2):
        for name, (t, v, rate) in streams.items():
            j = int(np.searchsorted(t, k + 1.0, side="left"))
            if j > idx[name]:
                ex.push(name, t[idx[name] : j], v[idx[name] : j], nominal_rate_hz=rate)
                idx[name] = j
        out.extend(ex.ready())
        if hasattr(ex, "take_clean"):
            out.extend(ex.take_clean())
    out.extend(ex.flush())
    return out


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def compare(old: list[Any], new: list[Any], allowed: set[str]) -> tuple[int, set[str]]:
    """Differing items and the new keys seen (items as :func:`plain` gives them)."""
    bad = 0
    added: set[str] = set()
    if len(old) != len(new):
        print(f"  {len(old)} items before, {len(new)} now")
        return max(len(old), len(new)), added
    for a, b in zip(old, new, strict=True):
        if a[0] == "window" and b[0] == "window":
            _, start, end, values, quality, flags, modalities = a
            extra = set(b[3]) - set(values)
            added |= extra
            ok = (
                (start, end, flags, modalities) == (b[1], b[2], b[5], b[6])
                and set(values) == set(b[3]) - (extra & allowed)
                and all(same(values[k], b[3][k]) for k in values)
                and set(quality) == set(b[4])
                and all(same(quality[k], b[4][k]) for k in quality)
            )
        else:  # cleaned blocks
            ok = (
                a[:3] == b[:3]
                and np.array_equal(a[3], b[3], equal_nan=True)
                and np.array_equal(a[4], b[4], equal_nan=True)
            )
        if not ok:
            bad += 1
            if bad <= 3:
                print(f"  differs: {a!r:.300}\n     now: {b!r:.300}")
    return bad, added


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=REF)
    ap.add_argument("--data", default=None)
    ap.add_argument("--new", nargs="*", default=[], help="features new since --ref")
    args = ap.parse_args()
    root = data_dir(args.data)
    cases: list[tuple[str, Callable[[], Streams], FeatureConfig, bool]] = [
        (
            "stress_predict/S02 (E4)",
            lambda: e4_streams(root / "stress_predict" / "Raw_data" / "S02"),
            FeatureConfig(window_s=60.0, hop_s=5.0),
            False,
        ),
        (
            "polar_h10 (ECG + HR, keep_clean)",
            lambda: polar_streams(root / "polar_h10" / "polar_h10.csv"),
            FeatureConfig(window_s=60.0, hop_s=1.0),
            True,
        ),
    ]
    failed = 0
    for name, load, config, clean in cases:
        streams = load()
        before = at_ref(args.ref, streams, config, clean)
        after = plain(run(FeatureExtractor(config, keep_clean=clean), streams))
        bad, added = compare(before, after, set(args.new))
        n_win = sum(1 for x in after if x[0] == "window")
        print(
            f"{name}: {n_win} windows, {len(after) - n_win} clean blocks, {bad} differ"
            + (f"; new features: {', '.join(sorted(added))}" if added else "")
        )
        failed += bad
        unexpected = added - set(args.new)
        if unexpected:
            print(f"  unexpected new features: {sorted(unexpected)}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
