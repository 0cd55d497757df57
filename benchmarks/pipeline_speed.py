"""Speed of the whole online processing for one hour of a strap and a wristband, with a baseline.

Input: one hour of ECG at 130 Hz (the real Polar H10 recording in ``polar_h10/``, repeated),
accelerometer at 200 Hz x 3 (synthetic: gravity, gait-like motion, noise) and EDA at 32 Hz (the
real lab recording in ``neurokit/bio_resting_8min_100hz.csv`` resampled, repeated) and BVP at
64 Hz (the real Empatica E4 recording ``stress_predict/Raw_data/S02/BVP.csv``, repeated), fed in
1 s blocks to :class:`~wearsdk.signals.FeatureExtractor`: ECG cleaning and R peaks, RR artifact
classification, EDA cleaning, decomposition and SCRs, accelerometer activity, PPG beats, and
every feature of 60 s windows every 1 s (3,600 windows). The ``windows`` stage is all the
window features; ``--no-bvp`` leaves the BVP stream out, to see what it adds there.

Baseline, in the same process: neurokit2 recomputing the same features from scratch on each
60 s window (``ecg_process`` + ``hrv_time`` + ``hrv_frequency`` + ``eda_process`` + the magnitude
SD of the accelerometer + ``ppg_process``), the way a windowed offline toolbox is used online. It
is timed on a sample of windows spread over the hour and scaled to 3,600 windows. The ECG stage
alone is also compared with neurokit2's ``ecg_clean`` + ``ecg_peaks`` on the whole hour in one
offline call (same process, best of 3), a yardstick for that stage across machines.

Both are timed in CPU time of this process (the cost on one core, robust to other processes
sharing the machine); the wearsdk runs alternate CPU-time and wall-clock timing and the best
and median of each are printed, with the per-stage costs of the best run.

With ``--clean``, the runs alternate between the default extractor and one that keeps the
cleaned signals (``keep_clean=True``, what ``PipelineConfig(publish_clean=True)`` uses: the
ECG band-pass and the EDA clean/tonic/phasic taken after every block), and the session
pipeline itself (bus, ``run_pipeline``, one subscriber draining ``physio/#`` as the LSL
outlets do) is timed over 10 minutes of the same input with the option off and on.

Usage: python -m benchmarks.pipeline_speed [--data DIR] [--baseline-windows 40] [--repeat 5]
       [--clean] [--no-baseline] [--no-bvp]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from wearsdk.signals._features import FeatureConfig, FeatureExtractor

HOUR = 3600.0


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("WEARSDK_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_inputs(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    with open(root / "polar_h10" / "polar_h10.csv") as f:
        ecg = np.array([float(r["ecg"]) for r in csv.DictReader(f)])
    fs_ecg = 130.0
    reps = int(np.ceil(HOUR * fs_ecg / ecg.size))
    ecg = np.tile(ecg, reps)[: int(HOUR * fs_ecg)]
    with open(root / "neurokit" / "bio_resting_8min_100hz.csv") as f:
        eda100 = np.array([float(r["EDA"]) for r in csv.DictReader(f)])
    eda32 = resample_poly(eda100, 8, 25)
    eda32 = np.tile(eda32, int(np.ceil(HOUR * 32 / eda32.size)))[: int(HOUR * 32)]
    fs_acc = 200.0
    t_acc = np.arange(int(HOUR * fs_acc)) / fs_acc
    rng = np.random.default_rng(0)
    acc = np.stack(
        (
            50 * np.sin(2 * np.pi * 1.8 * t_acc),
            30 * np.cos(2 * np.pi * 0.9 * t_acc),
            1000 + 80 * np.sin(2 * np.pi * 1.8 * t_acc),
        ),
        axis=1,
    ) + rng.normal(0, 15, (t_acc.size, 3))
    bvp = np.loadtxt(root / "stress_predict" / "Raw_data" / "S02" / "BVP.csv", skiprows=2)
    bvp = np.tile(bvp, int(np.ceil(HOUR * 64 / bvp.size)))[: int(HOUR * 64)]
    return {
        "ecg": (np.arange(ecg.size) / fs_ecg, ecg, fs_ecg),
        "acc": (t_acc, acc, fs_acc),
        "eda": (np.arange(eda32.size) / 32.0, eda32, 32.0),
        "bvp": (np.arange(bvp.size) / 64.0, bvp, 64.0),
    }


def run_wearsdk(
    inputs: dict[str, tuple[np.ndarray, np.ndarray, float]],
    block_s: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
    keep_clean: bool = False,
) -> tuple[float, int, dict[str, float]]:
    ex = FeatureExtractor(FeatureConfig(window_s=60, hop_s=1), keep_clean=keep_clean)
    stage: dict[str, float] = dict.fromkeys(inputs, 0.0)
    stage["windows"] = 0.0
    n_windows = 0
    t0 = clock()
    for k in range(int(np.ceil(HOUR / block_s))):
        for name, (t, x, fs) in inputs.items():
            lo, hi = int(k * block_s * fs), int((k + 1) * block_s * fs)
            s = clock()
            ex.push(name, t[lo:hi], x[lo:hi], nominal_rate_hz=fs)
            if keep_clean:
                ex.take_clean()
            stage[name] += clock() - s
        s = clock()
        n_windows += len(ex.ready())
        stage["windows"] += clock() - s
    return clock() - t0, n_windows, stage


async def _session_pipeline(
    inputs: dict[str, tuple[np.ndarray, np.ndarray, float]], seconds: int, publish_clean: bool
) -> tuple[float, int]:
    """CPU time of ``run_pipeline`` over ``seconds`` of input on a bus, and the samples a
    ``physio/#`` subscriber (``drop_oldest``, as the LSL outlets) received.
    """
    import asyncio

    from wearsdk import SampleBlock
    from wearsdk.bus import Bus
    from wearsdk.session._pipeline import PipelineConfig, run_pipeline

    units = {"ecg": "uV", "acc": "mG", "eda": "uS", "bvp": "au"}
    blocks = []
    for k in range(seconds):
        for name, (t, x, fs) in inputs.items():
            lo, hi = int(k * fs), int((k + 1) * fs)
            block = SampleBlock(
                source="bench", stream=name, unit=units[name], t=t[lo:hi], values=x[lo:hi],
                nominal_rate_hz=fs,
            )  # fmt: skip
            blocks.append((f"physio/bench/{name}", block))
    bus = Bus()
    bus.bind_loop()
    received = 0

    async def drain() -> None:
        nonlocal received
        async with bus.subscribe("physio/#", maxsize=8192, policy="drop_oldest") as sub:
            async for m in sub:
                received += len(m.payload)  # type: ignore[arg-type]

    config = PipelineConfig(window_s=60.0, hop_s=1.0, publish_clean=publish_clean)
    sink = asyncio.create_task(drain())
    task = asyncio.create_task(run_pipeline(bus, config))
    await asyncio.sleep(0)
    s = time.process_time()
    for topic, block in blocks:
        await bus.publish(topic, block)
    # until the pipeline and the subscriber have taken everything queued
    while any(sub.queued for sub in bus.stats.subscriptions):  # noqa: ASYNC110 (a counter)
        await asyncio.sleep(0)
    cost = time.process_time() - s
    task.cancel()
    sink.cancel()
    await asyncio.gather(task, sink, return_exceptions=True)
    return cost, received


def run_neurokit_window(nk, inputs, end: float) -> None:  # type: ignore[no-untyped-def]
    _tc, ecg, fs = inputs["ecg"]
    seg = ecg[int((end - 60) * fs) : int(end * fs)]
    _signals, info = nk.ecg_process(seg, sampling_rate=int(fs))
    peaks = info["ECG_R_Peaks"]
    nk.hrv_time(peaks, sampling_rate=int(fs))
    nk.hrv_frequency(peaks, sampling_rate=int(fs))
    _te, eda, fs_e = inputs["eda"]
    nk.eda_process(eda[int((end - 60) * fs_e) : int(end * fs_e)], sampling_rate=int(fs_e))
    _t, acc, fs_a = inputs["acc"]
    a = acc[int((end - 60) * fs_a) : int(end * fs_a)]
    np.std(np.linalg.norm(a, axis=1))
    if "bvp" in inputs:
        _tb, bvp, fs_b = inputs["bvp"]
        nk.ppg_process(bvp[int((end - 60) * fs_b) : int(end * fs_b)], sampling_rate=int(fs_b))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=None)
    parser.add_argument("--baseline-windows", type=int, default=40)
    parser.add_argument("--block-s", type=float, default=1.0, help="block length fed per stream")
    parser.add_argument("--repeat", type=int, default=5, help="wearsdk runs (best and median)")
    parser.add_argument(
        "--clean", action="store_true", help="also time keep_clean / publish_clean (see above)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the neurokit2 runs")
    parser.add_argument("--no-bvp", action="store_true", help="leave the BVP stream out")
    args = parser.parse_args()
    inputs = load_inputs(data_dir(args.data))
    if args.no_bvp:
        del inputs["bvp"]
    clocks = {"cpu": time.process_time, "wall": time.perf_counter}
    runs: dict[str, list[tuple[float, int, dict[str, float]]]] = {c: [] for c in clocks}
    clean_runs: list[float] = []
    for i in range(args.repeat):
        clock = "cpu" if i % 2 == 0 or args.clean else "wall"  # both see the same load
        runs[clock].append(run_wearsdk(inputs, args.block_s, clocks[clock]))
        if args.clean:  # interleaved with the default runs
            clean_runs.append(run_wearsdk(inputs, args.block_s, time.process_time, True)[0])
    n_windows = runs["cpu"][0][1]
    print(
        "wearsdk online: 1 h of ECG 130 Hz + ACC 200 Hz x3 + EDA 32 Hz"
        f"{'' if args.no_bvp else ' + BVP 64 Hz'} in "
        f"{args.block_s:g} s blocks, {n_windows} windows of 60 s every 1 s; "
        f"{args.repeat} runs, CPU time of this process and wall time (best / median)"
    )
    for name, rs in runs.items():
        if not rs:
            continue
        totals = sorted(r[0] for r in rs)
        best, median = totals[0], statistics.median(totals)
        print(
            f"  {name:<5} best {best:.2f} s ({HOUR / best:,.0f} x real time), "
            f"median {median:.2f} s ({HOUR / median:,.0f} x real time)"
        )
    best_run = min(runs["cpu"], key=lambda r: r[0])
    print("  per stage (CPU, best run):")
    for name, cost in best_run[2].items():
        print(f"    {name:<8} {cost:6.3f} s  ({HOUR / cost:,.0f} x real time)")
    if args.clean:
        off = sorted(r[0] for r in runs["cpu"])
        on = sorted(clean_runs)
        print(
            f"  keep_clean (CPU): best {on[0]:.2f} s, median {statistics.median(on):.2f} s; "
            f"default best {off[0]:.2f} s, median {statistics.median(off):.2f} s; "
            f"cost of the option (best) {100 * (on[0] / off[0] - 1):+.1f} %"
        )
        import asyncio

        seconds = 600
        pipe: dict[bool, list[float]] = {False: [], True: []}
        got: dict[bool, int] = {}
        for _ in range(3):
            for flag in (False, True):
                cost, got[flag] = asyncio.run(_session_pipeline(inputs, seconds, flag))
                pipe[flag].append(cost)
        print(
            f"session pipeline on a bus, {seconds} s of input, a physio/# subscriber (CPU, best "
            f"of 3): publish_clean off {min(pipe[False]):.3f} s ({got[False]:,} samples "
            f"delivered), on {min(pipe[True]):.3f} s ({got[True]:,} samples); cost "
            f"{100 * (min(pipe[True]) / min(pipe[False]) - 1):+.1f} %"
        )
    if args.no_baseline:
        return
    import neurokit2 as nk

    ends = np.linspace(120, HOUR, args.baseline_windows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = time.process_time()
        for end in ends:
            run_neurokit_window(nk, inputs, float(end))
        per_window = (time.process_time() - s) / len(ends)
    nk_total = per_window * n_windows
    print(
        f"neurokit2 recompute per window (CPU): {per_window * 1000:.1f} ms/window x {n_windows} "
        f"= {nk_total:.0f} s  ->  {HOUR / nk_total:,.1f} x real time"
    )
    print(f"ratio wearsdk (best CPU) / neurokit2 recompute: {nk_total / best_run[0]:,.0f} x faster")
    # the ECG stage against neurokit2's R peaks on the same hour in one offline call, so the
    # stage's cost can be compared across machines and versions (a ratio, same process)
    _t, ecg, fs_ecg = inputs["ecg"]
    nk_ecg = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            s = time.process_time()
            nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=int(fs_ecg)), sampling_rate=int(fs_ecg))
            nk_ecg.append(time.process_time() - s)
    print(
        f"ECG stage (CPU, best run) {best_run[2]['ecg']:.3f} s = "
        f"{best_run[2]['ecg'] / min(nk_ecg):.2f} x neurokit2 ecg_clean + ecg_peaks on the whole "
        f"hour in one offline call ({min(nk_ecg):.3f} s, best of 3)"
    )


if __name__ == "__main__":
    main()
