"""EDA accuracy and speed: wearsdk's EDA processing against NeuroKit2 on real recordings.

Recordings (from the shared data folder, never copied into the repository):

* ``neurokit/bio_eventrelated_100hz.csv`` (EDA column, 100 Hz, 2.5 min, large SCRs to images);
* ``neurokit/bio_resting_8min_100hz.csv`` (EDA column, cropped to the resting part, where the
  photosensor is low);
* Stress-Predict ``Raw_data/S??/EDA.csv`` (Empatica E4, 4 Hz, ~55 min each; row 1 start time,
  row 2 rate, then samples).

Reference: ``nk.eda_process`` with its defaults (3 Hz zero-phase low-pass, skipped below 7 Hz;
``eda_phasic`` "highpass": zero-phase 0.05 Hz Butterworth; ``eda_peaks`` "neurokit": every local
maximum of the phasic signal whose prominence is at least 10 % of the recording's largest). Both
get the same input: samples outside 0.01-100 µS are held at the last valid value and the leading
invalid samples (the E4's first 0 µS reading) are cropped, as wearsdk does.

Metrics:

* ``recall``: NeuroKit2 SCRs with amplitude >= wearsdk's ``amplitude_min_usiemens`` that have a
  wearsdk SCR peak within 1.5 s (greedy one-to-one matching).
* ``precision``: wearsdk SCRs passing NeuroKit2's own rule (amplitude >= 10 % of the largest, and
  >= ``amplitude_min_usiemens``) that have a NeuroKit2 peak within 1.5 s.
* ``amp MAE`` / ``bias`` / ``amp r``: absolute error, mean error (ours - NeuroKit2) and
  correlation of the amplitudes of the matched pairs.
* ``tonic r`` / ``tonic MAE``: over all samples (ours is causal and a baseline under responses;
  NeuroKit2's is zero-phase and a local mean).
* ``SCL err``: per 60 s window, |our mean tonic / NeuroKit2's mean tonic - 1| (median, 90th pct).
* ``count MAE``: per 60 s window, |our count - NeuroKit2's|, both under NeuroKit2's rule and
  the absolute floor (amplitude >= 10 % of the recording's largest and >= 0.03 µS).
* ``blocks``: whether the online processor fed random blocks equals the offline function.
* speed: samples per second of signal processed, as a multiple of real time, for wearsdk online
  (1 s blocks), wearsdk offline (one call) and ``nk.eda_process``.

Known gap: wearsdk detects SCRs trough to peak on the conductance itself, so a response that
only slows a steep fall of the SCL (an inflection, no rise) is not an SCR for it, whereas
NeuroKit2's high-pass shows it as a small peak: the three NeuroKit2 SCRs >= 0.03 µS of the
resting recording (0.03-0.06 µS, on a -0.03 µS/s fall) are such inflections.

Usage: python -m benchmarks.eda_accuracy [--data DIR] [--subjects S02,S05,...]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from wearsdk.signals import EdaProcessor, ScrTable, eda_offline

FloatArray = npt.NDArray[np.float64]
DEFAULT_SUBJECTS = ("S02", "S05", "S07", "S10", "S12", "S16", "S20", "S25")
MATCH_S = 1.5
WINDOW_S = 60.0


def default_data_dir() -> Path:
    env = os.environ.get("WEARSDK_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class Recording:
    name: str
    fs: float
    x: FloatArray


def bridge(x: FloatArray, lo: float = 0.01, hi: float = 100.0) -> FloatArray:
    """Hold out-of-range/NaN samples at the last valid value; crop the leading invalid ones."""
    ok = np.isfinite(x) & (x >= lo) & (x <= hi)
    first = int(np.flatnonzero(ok)[0])
    last = np.maximum.accumulate(np.where(ok, np.arange(x.size), -1))
    return np.asarray(x[last[first:]], dtype=np.float64)


def load_recordings(data: Path, subjects: tuple[str, ...]) -> list[Recording]:
    out = []
    ev = pd.read_csv(data / "neurokit" / "bio_eventrelated_100hz.csv")
    out.append(Recording("nk event-related", 100.0, bridge(ev["EDA"].to_numpy(float))))
    rest = pd.read_csv(data / "neurokit" / "bio_resting_8min_100hz.csv")
    low = np.flatnonzero(rest["PhotoSensor"].to_numpy() < 2.5)
    seg = rest["EDA"].to_numpy(float)[low[0] : low[-1] + 1]
    out.append(Recording("nk resting 8 min", 100.0, bridge(seg)))
    for s in subjects:
        raw = np.loadtxt(data / "stress_predict" / "Raw_data" / s / "EDA.csv")
        out.append(Recording(f"Stress-Predict {s}", float(raw[1]), bridge(raw[2:])))
    return out


def match(a: FloatArray, b: FloatArray, tol: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of sorted times a to b (nearest unused within tol)."""
    used = np.zeros(b.size, dtype=bool)
    pairs = []
    for i, ta in enumerate(a):
        if b.size == 0:
            break
        d = np.abs(b - ta)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tol:
            used[j] = True
            pairs.append((i, j))
    return pairs


def neurokit(x: FloatArray, fs: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """NeuroKit2's tonic, SCR peak times and amplitudes (NaN amplitudes dropped)."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "skipping filtering" below 7 Hz, pandas notices
        sig, info = nk.eda_process(x, sampling_rate=int(fs))
    amp = np.asarray(info["SCR_Amplitude"], dtype=float)
    peaks = np.asarray(info["SCR_Peaks"], dtype=float) / fs
    ok = np.isfinite(amp)
    return sig["EDA_Tonic"].to_numpy(float), peaks[ok], amp[ok]


def online(x: FloatArray, fs: float, block: int) -> tuple[FloatArray, ScrTable]:
    p = EdaProcessor(sampling_rate_hz=fs)
    outs = [p.step(x[i : i + block]) for i in range(0, x.size, block)]
    return np.concatenate([o.tonic for o in outs]), ScrTable.concat([o.scrs for o in outs])


def blocks_equal_offline(x: FloatArray, fs: float, seed: int = 0) -> bool:
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.integers(1, max(2, int(5 * fs)), size=x.size))
    cuts = cuts[cuts < x.size]
    p = EdaProcessor(sampling_rate_hz=fs)
    parts = [p.step(x[a:b]) for a, b in zip(np.r_[0, cuts], np.r_[cuts, x.size], strict=True)]
    ref = eda_offline(x, sampling_rate_hz=fs)
    scrs = ScrTable.concat([q.scrs for q in parts])
    same_sig = all(
        np.array_equal(np.concatenate([getattr(q, f) for q in parts]), getattr(ref, f))
        for f in ("clean", "tonic", "phasic")
    )
    same_scr = all(
        np.array_equal(getattr(scrs, f), getattr(ref.scrs, f))
        for f in ("onset_index", "peak_index", "amplitude_usiemens")
    )
    return same_sig and same_scr


def best_time(fn: Callable[[], object], repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


@dataclass
class Row:
    name: str
    fs: float
    minutes: float
    n_nk: int
    n_nk_sel: int
    n_ours: int
    n_ours_sel: int
    hit_recall: int
    hit_precision: int
    amp_err: list[float]
    amp_pairs: list[tuple[float, float]]
    tonic_r: float
    tonic_mae: float
    scl_err: FloatArray
    count_err: FloatArray
    blocks_ok: bool
    speed_online: float
    speed_online60: float
    speed_offline: float
    speed_nk: float


def evaluate(rec: Recording, repeats: int) -> Row:
    x, fs = rec.x, rec.fs
    out = eda_offline(x, sampling_rate_hz=fs)
    amin = EdaProcessor(sampling_rate_hz=fs).amplitude_min_usiemens
    nk_tonic, nk_peaks, nk_amp = neurokit(x, fs)
    ours = out.scrs
    # recall: NeuroKit2's SCRs above our minimum amplitude, found by us
    pairs = match(nk_peaks, ours.peak_s, MATCH_S)
    nk_sel = nk_amp >= amin
    hit_recall = sum(1 for i, _ in pairs if nk_sel[i])
    # precision: our SCRs passing NeuroKit2's relative rule, found by NeuroKit2
    top = float(ours.amplitude_usiemens.max()) if len(ours) else 0.0
    ours_sel = ours.amplitude_usiemens >= max(amin, 0.1 * top)
    hit_precision = len(match(ours.peak_s[ours_sel], nk_peaks, MATCH_S))
    matched = [(float(nk_amp[i]), float(ours.amplitude_usiemens[j])) for i, j in pairs]
    # windows
    w = round(WINDOW_S * fs)
    nw = x.size // w
    scl_nk = nk_tonic[: nw * w].reshape(nw, w).mean(axis=1)
    scl_ours = out.tonic[: nw * w].reshape(nw, w).mean(axis=1)
    edges = np.arange(nw + 1) * WINDOW_S
    c_nk = np.histogram(nk_peaks[nk_sel], edges)[0]
    c_ours = np.histogram(ours.peak_s[ours_sel], edges)[0]
    blocks_ok = blocks_equal_offline(x, fs)
    duration = x.size / fs
    block = max(1, round(fs))
    t_on = best_time(lambda: online(x, fs, block), repeats)
    t_on60 = best_time(lambda: online(x, fs, 60 * block), repeats)
    t_off = best_time(lambda: eda_offline(x, sampling_rate_hz=fs), repeats)
    t_nk = best_time(lambda: neurokit(x, fs), repeats)
    return Row(
        name=rec.name,
        fs=fs,
        minutes=duration / 60,
        n_nk=int(nk_peaks.size),
        n_nk_sel=int(nk_sel.sum()),
        n_ours=len(ours),
        n_ours_sel=int(ours_sel.sum()),
        hit_recall=hit_recall,
        hit_precision=hit_precision,
        amp_err=[abs(a - b) for a, b in matched],
        amp_pairs=matched,
        tonic_r=float(np.corrcoef(nk_tonic, out.tonic)[0, 1]),
        tonic_mae=float(np.mean(np.abs(nk_tonic - out.tonic))),
        scl_err=np.abs(scl_ours / scl_nk - 1.0),
        count_err=np.abs(c_ours - c_nk).astype(float),
        blocks_ok=blocks_ok,
        speed_online=duration / t_on,
        speed_online60=duration / t_on60,
        speed_offline=duration / t_off,
        speed_nk=duration / t_nk,
    )


def ratio(hits: int, total: int) -> str:
    return f"{hits / total:.2f}" if total else "n/a"


def print_tables(rows: list[Row]) -> None:
    head = (
        f"{'recording':<20} {'fs':>5} {'min':>5} {'nk SCR':>9} {'ours':>9} {'recall':>6} "
        f"{'prec':>5} {'amp MAE':>7} {'bias':>6} {'amp r':>5} {'tonic r':>7} {'tonic MAE':>9} "
        f"{'SCL err med/p90':>15} {'cnt MAE':>7} {'blocks':>6}"
    )
    print("Accuracy against neurokit2.eda_process (SCR match within 1.5 s; 60 s windows)")
    print(head)
    print("-" * len(head))
    for r in rows:
        amp_r = np.corrcoef(np.array(r.amp_pairs).T)[0, 1] if len(r.amp_pairs) > 2 else float("nan")
        bias = float(np.mean([b - a for a, b in r.amp_pairs])) if r.amp_pairs else float("nan")
        print(
            f"{r.name:<20} {r.fs:>5.0f} {r.minutes:>5.1f} {r.n_nk:>4d}/{r.n_nk_sel:<4d} "
            f"{r.n_ours:>4d}/{r.n_ours_sel:<4d} {ratio(r.hit_recall, r.n_nk_sel):>6} "
            f"{ratio(r.hit_precision, r.n_ours_sel):>5} "
            f"{np.mean(r.amp_err) if r.amp_err else float('nan'):>7.3f} {bias:>6.3f} {amp_r:>5.2f} "
            f"{r.tonic_r:>7.3f} {r.tonic_mae:>9.3f} "
            f"{100 * np.median(r.scl_err):>6.1f}%/{100 * np.quantile(r.scl_err, 0.9):>6.1f}% "
            f"{r.count_err.mean():>7.2f} {'equal' if r.blocks_ok else 'DIFF':>6}"
        )
    all_scl = np.concatenate([r.scl_err for r in rows])
    all_cnt = np.concatenate([r.count_err for r in rows])
    amp = [e for r in rows for e in r.amp_err]
    pooled_bias = float(np.mean([b - a for r in rows for a, b in r.amp_pairs]))
    print("-" * len(head))
    print(
        f"{'pooled':<20} {'':>5} {sum(r.minutes for r in rows):>5.0f} "
        f"{sum(r.n_nk for r in rows):>4d}/{sum(r.n_nk_sel for r in rows):<4d} "
        f"{sum(r.n_ours for r in rows):>4d}/{sum(r.n_ours_sel for r in rows):<4d} "
        f"{sum(r.hit_recall for r in rows) / max(1, sum(r.n_nk_sel for r in rows)):>6.2f} "
        f"{sum(r.hit_precision for r in rows) / max(1, sum(r.n_ours_sel for r in rows)):>5.2f} "
        f"{np.mean(amp):>7.3f} {pooled_bias:>6.3f} {'':>5} "
        f"{np.mean([r.tonic_r for r in rows]):>7.3f} "
        f"{np.mean([r.tonic_mae for r in rows]):>9.3f} "
        f"{100 * np.median(all_scl):>6.1f}%/{100 * np.quantile(all_scl, 0.9):>6.1f}% "
        f"{all_cnt.mean():>7.2f} {'equal' if all(r.blocks_ok for r in rows) else 'DIFF':>6}"
    )
    print("nk SCR = all / amplitude >= 0.03 µS; ours = all / passing neurokit2's 10 %-of-max rule")
    print()
    print("Speed (x real time; best of repeats)")
    h2 = (
        f"{'recording':<20} {'online 1 s blocks':>17} {'online 60 s':>11} {'offline':>10} "
        f"{'neurokit2':>10} {'online 1 s/nk':>13}"
    )
    print(h2)
    print("-" * len(h2))
    for r in rows:
        print(
            f"{r.name:<20} {r.speed_online:>17,.0f} {r.speed_online60:>11,.0f} "
            f"{r.speed_offline:>10,.0f} {r.speed_nk:>10,.0f} {r.speed_online / r.speed_nk:>13.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--subjects", default=",".join(DEFAULT_SUBJECTS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    subjects = tuple(s.strip() for s in args.subjects.split(",") if s.strip())
    rows = [evaluate(r, args.repeats) for r in load_recordings(args.data, subjects)]
    print_tables(rows)


if __name__ == "__main__":
    main()
