"""CPU cost of the streaming R-peak detector against the detector before the ectopy work.

Input: one hour of the real Polar H10 recording (``polar_h10/``, 130 Hz, repeated), fed in
1 s blocks to :class:`~wearsdk.signals.EcgPeakDetector` and, in the same process and
alternating with it, to the detector as it was before the ectopy work (commit 591431d,
``benchmarks/_ecg_before_ectopy.py``). Times are CPU time of this process, best of
``--repeat`` runs of each; the printed ratio (today / before) is the figure to compare across
machines. ``--qtdb`` adds the same comparison on the ``qtdb_dev`` records at 250 Hz (ectopic
beats: more candidates, search-backs and beat classes), whole records in 1 s blocks.

For an instruction count, which other processes do not change: ``--count today`` (or
``before``) runs one detector once, after a 20 s warm-up, over the first ``--seconds`` of the
Polar recording (or of the ``qtdb_dev`` record ``--record NAME`` at 250 Hz), and nothing else;
run it under ``OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind`` with ``--seconds 0`` and
``--seconds N``: the difference of the two counts is the detector's over N s.

Usage: python -m benchmarks.ecg_speed [--data DIR] [--repeat 7] [--qtdb]
       python -m benchmarks.ecg_speed --count today|before --seconds N [--record NAME]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from benchmarks import _ecg_before_ectopy as before
from benchmarks.pipeline_speed import HOUR, data_dir, load_inputs
from wearsdk.signals._ecg import EcgPeakDetector


class _Detector(Protocol):
    def step(self, x: np.ndarray, t: np.ndarray | None = None) -> object: ...
    def flush(self) -> object: ...


def run_blocks(make: Callable[..., _Detector], x: np.ndarray, fs: float) -> tuple[float, int]:
    """CPU time of one detector over ``x`` in 1 s blocks (with times), and its beat count."""
    t = np.arange(x.size) / fs
    n = round(fs)
    det = make(sampling_rate_hz=fs)
    beats = 0
    s = time.process_time()
    for lo in range(0, x.size, n):
        beats += len(det.step(x[lo : lo + n], t[lo : lo + n]))  # type: ignore[arg-type]
    beats += len(det.flush())  # type: ignore[arg-type]
    return time.process_time() - s, beats


def compare(
    signals: list[tuple[np.ndarray, float]], repeat: int
) -> tuple[list[float], list[float], int, int]:
    """Alternated runs of both detectors over ``signals``: CPU times (today, before), beats."""
    now: list[float] = []
    old: list[float] = []
    beats_now = beats_old = 0
    for _ in range(repeat):
        for which, times in (("now", now), ("old", old)):
            total, beats = 0.0, 0
            for x, fs in signals:
                cls = EcgPeakDetector if which == "now" else before.EcgPeakDetector
                cost, b = run_blocks(cls, x, fs)
                total += cost
                beats += b
            times.append(total)
            if which == "now":
                beats_now = beats
            else:
                beats_old = beats
    return now, old, beats_now, beats_old


def report(label: str, now: list[float], old: list[float], bn: int, bo: int) -> None:
    import statistics

    med_now, med_old = statistics.median(now), statistics.median(old)
    print(
        f"{label}: today best {min(now):.3f} s (median {statistics.median(now):.3f}), "
        f"before the ectopy work best {min(old):.3f} s (median {statistics.median(old):.3f}); "
        f"ratio best {min(now) / min(old):.3f} x, median {med_now / med_old:.3f} x; "
        f"beats {bn:,} / {bo:,}"
    )


def count(root: Path, which: str, seconds: float, record: str | None) -> None:
    """One detector, once, over ``seconds`` of a recording after a 20 s warm-up (for callgrind)."""
    if record is None:
        from benchmarks.ecg_accuracy import load_polar_h10

        x, fs = load_polar_h10(root).ecg, 130.0
    else:
        from benchmarks.ecg_accuracy import load_qtdb

        rec = load_qtdb(root, record)
        x, fs = rec.ecg, rec.fs
    cls = EcgPeakDetector if which == "today" else before.EcgPeakDetector
    run_blocks(cls, x[: round(20 * fs)], fs)
    if seconds > 0:
        n = round(seconds * fs)
        x = np.tile(x, -(-n // x.size))[:n]
        print(f"{which}: {run_blocks(cls, x, fs)[1]} beats in {seconds:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=None)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each detector")
    parser.add_argument("--qtdb", action="store_true", help="also on qtdb_dev at 250 Hz")
    parser.add_argument("--count", choices=("today", "before"), help="one run, for callgrind")
    parser.add_argument("--seconds", type=float, default=600.0, help="with --count")
    parser.add_argument("--record", default=None, help="with --count: a qtdb_dev record")
    args = parser.parse_args()
    root = data_dir(args.data)
    if args.count:
        count(root, args.count, args.seconds, args.record)
        return
    _t, ecg, fs = load_inputs(root)["ecg"]
    print(f"R-peak detector, CPU time of this process, {args.repeat} alternated runs of each")
    report(
        f"Polar H10 1 h at {fs:g} Hz in 1 s blocks",
        *compare([(ecg, fs)], args.repeat),
    )
    assert ecg.size == int(HOUR * fs)
    if args.qtdb:
        from benchmarks.ecg_accuracy import QTDB_RECORDS, load_qtdb

        recs = [(rec.ecg, rec.fs) for rec in (load_qtdb(root, n) for n in QTDB_RECORDS)]
        report(f"qtdb_dev ({len(recs)} records) at 250 Hz", *compare(recs, args.repeat))


if __name__ == "__main__":
    main()
