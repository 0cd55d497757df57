"""Device clock mapping: per-sample cost and alignment accuracy against known truth.

Cost: ``DeviceClockMap.observe`` + ``map`` per Polar H10 ECG frame (73 samples), against a
baseline run in the same process: a plain numpy affine map with a fixed, known offset and
rate (what mapping costs when there is nothing to learn). ``RoundTripClock.add`` per
exchange is timed too.

Accuracy (``wearsdk.sim.DeviceClockSim``, truth known): two devices, an ECG-like sensor clock
(130 Hz, 73-sample frames, seconds since 2000) and a sample counter (nominal 100 Hz, 10 per
notification), drifting by +-100 ppm, delivered with 7.5 ms minimum latency, up to 50 ms of
uniform jitter and 5 % retransmission delays. Reported: the cross-device alignment error p50,
p99 and max after convergence, the convergence time (error settled within 2 ms and 1 ms), a
clock reset and a 60 s disconnection, and the error at the end of a 24-hour session whose
drift wanders by 5 ppm.

Usage: python -m benchmarks.clock [--hours H] [--seeds N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wearsdk import DeviceClockMap, RoundTrip, RoundTripClock
from wearsdk.sim import DeviceClockSim, cross_device_error, settling_time

LATENCY = 0.0075


def cost(n_frames: int = 6400, repeats: int = 3) -> None:
    sim = DeviceClockSim(rate_hz=130, per_packet=73, drift_ppm=80, device_origin_s=6e8, seed=1)
    step = np.arange(73) / 130.0
    frames = [6e8 + k * 73 / 130.0 + step for k in range(n_frames)]
    truth = [sim.session_time(d) for d in frames]
    rng = np.random.default_rng(2)
    arrivals = [float(t[-1]) + LATENCY + rng.uniform(0, 0.05) for t in truth]

    def run_map() -> float:
        m = DeviceClockMap()
        t0 = time.perf_counter()
        for d, a in zip(frames, arrivals, strict=True):
            m.observe(float(d[-1]), a)
            m.map(d, stream="ecg")
        return time.perf_counter() - t0

    def run_affine() -> float:
        offset, rate = -6e8, 1 / (1 + 80e-6)
        t0 = time.perf_counter()
        for d in frames:
            _ = offset + (d - 6e8) * rate + 6e8
        return time.perf_counter() - t0

    def run_map_only() -> float:
        m = DeviceClockMap()
        for d, a in zip(frames[:200], arrivals[:200], strict=True):
            m.observe(float(d[-1]), a)
        t0 = time.perf_counter()
        for d in frames:
            m.map(d, stream="ecg")
        return time.perf_counter() - t0

    best = {
        name: min(fn() for _ in range(repeats))
        for name, fn in (
            ("affine", run_affine),
            ("map", run_map_only),
            ("observe+map", run_map),
        )
    }
    trips = []
    for k in range(20000):
        t1 = k * 0.5
        up, down = 0.02 + rng.uniform(0, 0.03), 0.02 + rng.uniform(0, 0.03)
        trips.append(RoundTrip(t1, 5 + t1 + up, 5 + t1 + up + 1e-3, t1 + up + down + 1e-3))
    rt = RoundTripClock()
    t0 = time.perf_counter()
    for trip in trips:
        rt.add(trip)
    rt_s = (time.perf_counter() - t0) / len(trips)

    n_samples = n_frames * 73
    base = best["affine"]
    print(f"\n## Cost ({n_frames} ECG frames of 73 samples, best of {repeats})\n")
    print("| operation | ns/sample | us/frame | x affine |")
    print("|---|---|---|---|")
    for name, s in best.items():
        print(f"| {name} | {1e9 * s / n_samples:.0f} | {1e6 * s / n_frames:.1f} | {s / base:.1f} |")
    print(f"\nRoundTripClock.add: {1e6 * rt_s:.1f} us per exchange (one every 2 s per analyzer)")
    print(f"Real time needs 1.8 frames/s per strap: {n_frames / best['observe+map']:,.0f} frames/s")


def alignment(seeds: int) -> None:
    print(f"\n## Cross-device alignment (+-100 ppm, 50 ms jitter, {seeds} seeds x 3 pairs)\n")
    print("| drifts (ppm) | seed | settled 2 ms (s) | 1 ms (s) | p50 (ms) | p99 (ms) | max (ms) |")
    print("|---|---|---|---|---|---|---|")
    p99s, settles = [], []
    for drift_a, drift_b in ((100, -100), (-100, 100), (100, 0)):
        for seed in range(seeds):
            a = DeviceClockSim(
                rate_hz=130,
                per_packet=73,
                drift_ppm=drift_a,
                device_origin_s=6e8,
                session_origin_s=1000,
                seed=seed,
            )
            b = DeviceClockSim(
                rate_hz=100,
                per_packet=10,
                drift_ppm=drift_b,
                session_origin_s=1000.3,
                seed=seed + 100,
            )
            ta, tb = a.run(DeviceClockMap(), until_s=2800), b.run(DeviceClockMap(), until_s=2800)
            grid, err = cross_device_error(ta, tb, start_s=1001, end_s=2799)
            s2 = settling_time(grid, err, bound_s=0.002)
            s1 = settling_time(grid, err, bound_s=0.001)
            late = np.abs(err[grid >= grid[0] + s2])
            p50, p99, mx = (1e3 * float(np.percentile(late, q)) for q in (50, 99, 100))
            p99s.append(p99)
            settles.append(s2)
            print(
                f"| {drift_a:+d} / {drift_b:+d} | {seed} | {s2:.0f} | {s1:.0f} | {p50:.2f} | "
                f"{p99:.2f} | {mx:.2f} |"
            )
    print(f"\nworst p99 {max(p99s):.2f} ms; convergence (2 ms) median {np.median(settles):.0f} s,")
    print(f"worst {max(settles):.0f} s")


def faults() -> None:
    print("\n## Reset and disconnection (ECG-like, 50 ms jitter)\n")
    dev = DeviceClockSim(rate_hz=130, per_packet=73, drift_ppm=60, device_origin_s=6e8, seed=4)
    m = DeviceClockMap()
    before = dev.run(m, until_s=300.0)
    dev.reset_clock(at_session_s=300.5, device_origin_s=5.8e8)
    after = dev.run(m, until_s=600.0)
    settle = settling_time(after.t_true, after.error - LATENCY, bound_s=0.002)
    print(
        f"clock reset: resets {m.resets}, backwards {before.backwards + after.backwards}, "
        f"worst error {1e3 * after.max_error:.1f} ms, back within 2 ms after {settle:.0f} s"
    )
    dev = DeviceClockSim(rate_hz=130, per_packet=73, drift_ppm=-100, device_origin_s=6e8, seed=5)
    m = DeviceClockMap()
    dev.run(m, until_s=600.0)
    dev.skip_to(660.0)
    after = dev.run(m, until_s=900.0)
    first = 1e3 * float(np.abs(after.error[:20] - LATENCY).max())
    print(
        f"60 s disconnection: resets {m.resets}, backwards {after.backwards}, first 20 frames "
        f"after it within {first:.2f} ms"
    )


def long_run(hours: float) -> None:
    dev = DeviceClockSim(
        rate_hz=130,
        per_packet=73,
        drift_ppm=-100,
        device_origin_s=6e8,
        wander_ppm=5.0,
        seed=7,
    )
    m = DeviceClockMap()
    t0 = time.perf_counter()
    trace = dev.run(m, until_s=hours * 3600.0)
    elapsed = time.perf_counter() - t0
    err = trace.error - LATENCY
    last = err[trace.t_true > trace.t_true[-1] - 60]
    after_1h = err[trace.t_true > 3600]
    print(f"\n## {hours:g}-hour session (-100 ppm, wandering by 5 ppm over 2 h)\n")
    print(
        f"error at the end: mean {1e3 * last.mean():+.3f} ms, max {1e3 * np.abs(last).max():.3f} "
        f"ms; max after the first hour {1e3 * np.abs(after_1h).max():.3f} ms; backwards "
        f"{trace.backwards}; simulated in {elapsed:.1f} s "
        f"({hours * 3600 / elapsed:,.0f}x real time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="length of the long session")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per drift pair")
    args = parser.parse_args()
    cost()
    alignment(args.seeds)
    faults()
    long_run(args.hours)


if __name__ == "__main__":
    main()
