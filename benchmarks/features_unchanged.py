"""Window features of real recordings, this tree's extractor against a git revision's.

A refactoring of the feature stage must not change a value. This script loads
``wearsdk/signals/_features.py`` as it was at ``--ref`` (by default the commit before the feature
stage was split into providers) next to the current :class:`~wearsdk.signals.FeatureExtractor`,
feeds both the same real recordings in 1 s blocks, and compares every window: start, end,
values, quality, flags, modalities (NaN equals NaN; otherwise exact equality, no tolerance).
Features the current extractor adds (``--new``) are listed apart, not counted as differences.

Recordings (from ``../shared/data`` or ``WEARSDK_DATA``):

- Stress-Predict ``S02`` (Empatica E4: EDA, BVP, IBI as ``rr``, HR, TEMP, ACC), 60 s windows,
  5 s hop (the arousal model's setting), whole session;
- the Polar H10 strap (ECG 130 Hz, with ``keep_clean``, and its HR), 60 s windows, 1 s hop.

Usage: python -m benchmarks.features_unchanged [--ref REV] [--data DIR] [--new NAME ...]
Exit status 1 when any window differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from wearsdk.io.e4 import load_e4_session
from wearsdk.signals._features import FeatureConfig, FeatureExtractor

ROOT = Path(__file__).resolve().parents[1]
REF = "5e336bc"  # main before the feature stage became providers
Streams = dict[str, tuple[np.ndarray, np.ndarray, float | None]]


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("WEARSDK_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def old_module(ref: str) -> ModuleType:
    """``wearsdk/signals/_features.py`` at ``ref``, imported under another name."""
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:wearsdk/signals/_features.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("_features_at_ref", loader=None)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    exec(compile(src, f"{ref}:_features.py", "exec"), mod.__dict__)
    return mod


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
    """Differing items and the new keys seen."""
    bad = 0
    added: set[str] = set()
    if len(old) != len(new):
        print(f"  {len(old)} items before, {len(new)} now")
        return max(len(old), len(new)), added
    for a, b in zip(old, new, strict=True):
        if hasattr(a, "values") and isinstance(a.values, dict):
            extra = set(b.values) - set(a.values)
            added |= extra
            ok = (
                a.start == b.start
                and a.end == b.end
                and set(a.values) == set(b.values) - (extra & allowed)
                and all(same(a.values[k], b.values[k]) for k in a.values)
                and set(a.quality) == set(b.quality)
                and all(same(a.quality[k], b.quality[k]) for k in a.quality)
                and a.flags == b.flags
                and a.modalities == b.modalities
            )
        else:  # a CleanSignal
            ok = (
                a.stream == b.stream
                and a.channels == b.channels
                and np.array_equal(a.t, b.t, equal_nan=True)
                and np.array_equal(a.values, b.values, equal_nan=True)
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
    ap.add_argument("--new", nargs="*", default=["ecg_ectopic_count"])
    args = ap.parse_args()
    root = data_dir(args.data)
    old = old_module(args.ref)
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
        cfg_old = old.FeatureConfig(**{f: getattr(config, f) for f in config.__slots__})
        before = run(old.FeatureExtractor(cfg_old, keep_clean=clean), streams)
        after = run(FeatureExtractor(config, keep_clean=clean), streams)
        bad, added = compare(before, after, set(args.new))
        n_win = sum(1 for x in after if hasattr(x, "modalities"))
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
