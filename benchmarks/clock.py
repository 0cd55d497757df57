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

The two-H10 cases (``h10``, ``delays``, ``long``) run as ``PolarH10`` does by default: ECG and
the timing-only ACC stream (``CLOCK_ACC_RATE_HZ``) feed one map; ``--acc-hz`` sets another ACC
rate, ``--ecg-only`` none. ``bound`` is ECG only unless ``--acc-hz`` is given. ``h10`` also
re-times every ECG frame 10 s and 30 s after its arrival and at the end of the session
(``DeviceClockMap.retime``: what the later arrivals know).

Usage: python -m benchmarks.clock [--hours H] [--seeds N] [--acc-hz HZ | --ecg-only]
    [--prior-ppm S] [--bound-level P] [--only PART]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk import DeviceClockMap, RoundTrip, RoundTripClock
from wearsdk.drivers.polar._driver import CLOCK_ACC_RATE_HZ
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
    print("\nA strap's map over a 20-minute session (observe + map of every frame, best of 3):\n")
    print("| frames | frames/s | us/frame | ms of CPU per second of session |")
    print("|---|---|---|---|")
    clock_acc = float(CLOCK_ACC_RATE_HZ)
    for label, acc_hz in (("ECG only", None), (f"ECG + ACC {clock_acc:g} Hz", clock_acc)):
        session = h10_arrivals(100.0, 1, 1200.0, acc_hz=acc_hz)

        def run_session(session: list[_Arrival] = session) -> float:
            m = DeviceClockMap()
            t0 = time.perf_counter()
            for k, x in enumerate(session):
                m.observe(float(x.device_t[-1]), x.arrival, detect_reset=k == 0)
                m.map(x.device_t, stream=x.stream)
            return time.perf_counter() - t0

        spent = min(run_session() for _ in range(repeats))
        print(
            f"| {label} | {len(session) / 1200:.1f} | {1e6 * spent / len(session):.0f} | "
            f"{1e3 * spent / 1200:.2f} |"
        )


H10_PER_FRAME = 73
H10_RATE_HZ = 130.0


@dataclass
class H10Trace:
    """One simulated H10 ECG stream through a map, one entry per frame (its last sample)."""

    t: npt.NDArray[np.float64]  # true session time
    error: npt.NDArray[np.float64]  # mapped minus true time, minus the minimum latency
    bound: npt.NDArray[np.float64]  # the map's error bound after the frame
    drift: npt.NDArray[np.float64]  # the map's drift estimate after the frame (ppm)
    converged: npt.NDArray[np.bool_]
    backwards: int
    hindsight: npt.NDArray[np.float64]  # the same, re-timed by the map at the end (retime)
    lagged: dict[float, npt.NDArray[np.float64]]  # re-timed that many seconds after arrival


RETIME_LAGS_S = (10.0, 30.0)


def _jitter(rng: np.random.Generator, shape: str) -> float:
    """One notification's delay above the minimum latency (2 % held 100-500 ms)."""
    if rng.random() < 0.02:
        return float(rng.uniform(0.1, 0.5))
    if shape == "uniform":
        return float(rng.uniform(0.0, 0.05))
    if shape == "exponential":
        return float(rng.exponential(0.02))
    if shape == "falling":  # density falling linearly to 0 at 50 ms
        return 0.05 * (1.0 - math.sqrt(1.0 - float(rng.random())))
    if shape == "connection-events":  # 0-50 ms in whole 7.5 ms connection intervals
        return 0.0075 * math.floor(float(rng.uniform(0.0, 0.05)) / 0.0075) + float(
            rng.uniform(0.0, 0.001)
        )
    if shape == "gamma":  # no sharp minimum: the density is 0 at 0
        return float(rng.gamma(2.0, 0.01))
    raise ValueError(shape)


DELAY_SHAPES = ("uniform", "exponential", "falling", "connection-events", "gamma")


H10_ACC_PER_FRAME = 36  # raw int16 ACC frames: 10 + 36 x 6 = 226 bytes


def _link_frames(
    rng: np.random.Generator, rate: float, seconds: float, acc_hz: float | None
) -> tuple[list[tuple[str, npt.NDArray[np.float64]]], float, float]:
    """The frames a strap sends in ``seconds``: (stream, device times), in sending order.

    ECG frames (73 samples at 130 Hz) and, with ``acc_hz``, ACC frames (36 samples) whose
    first frame starts at a random phase; all on one sensor clock ``rate`` times fast.
    """
    d_origin = 6e8 + rng.uniform(0, 1e4)  # seconds since 2000 on the sensor clock
    t_origin = rng.uniform(0, 0.5)
    frames: list[tuple[float, str, npt.NDArray[np.float64]]] = []
    streams = [("ecg", H10_RATE_HZ, H10_PER_FRAME, 0.0)]
    if acc_hz is not None:
        streams.append(("acc", acc_hz, H10_ACC_PER_FRAME, float(rng.uniform(0, 1))))
    for name, hz, per, phase in streams:
        frame_s = per / hz
        step = np.arange(per)[::-1] / hz
        n = int(((seconds - t_origin) * rate - phase * frame_s) / frame_s)
        for k in range(n):
            d = d_origin + (k + 1 + phase) * frame_s - step
            frames.append((float(d[-1]), name, d))
    frames.sort(key=lambda f: f[0])
    return [(name, d) for _, name, d in frames], d_origin, t_origin


@dataclass
class _Arrival:
    """One notification of a simulated strap: what the map sees, and the truth."""

    stream: str
    device_t: npt.NDArray[np.float64]  # the frame's samples on the sensor clock
    truth: npt.NDArray[np.float64]  # their true session times
    arrival: float  # when the notification reached the session


def h10_arrivals(
    drift_ppm: float,
    seed: int,
    seconds: float,
    delays: str = "uniform",
    *,
    acc_hz: float | None = None,
) -> list[_Arrival]:
    """An H10-like strap's notifications: 73-sample ECG frames at 130 Hz, ``drift_ppm`` fast.

    Each notification is delayed by the minimum latency plus 0-50 ms (uniform); 2 % of the
    frames are held 100-500 ms instead, and notifications arrive in order (a held frame
    holds back the ones behind it). The session starts at 0; the strap's first frame ends
    0-0.5 s later. ``delays`` picks another shape of the 0-50 ms part (``DELAY_SHAPES``).
    With ``acc_hz``, the strap also streams ACC frames (36 samples) over the same link, each
    delayed the same way.
    """
    rng = np.random.default_rng(seed)
    rate = 1 + drift_ppm * 1e-6
    frames, d_origin, t_origin = _link_frames(rng, rate, seconds, acc_hz)
    if acc_hz is not None:
        # the ECG-only case keeps its original random draws (the same seeds as before)
        rng = np.random.default_rng([seed, int(acc_hz)])
    out = []
    last_arrival = -np.inf
    for name, d in frames:
        truth = t_origin + (d - d_origin) / rate
        arrival = max(float(truth[-1]) + LATENCY + _jitter(rng, delays), last_arrival)
        last_arrival = arrival
        out.append(_Arrival(name, d, truth, arrival))
    return out


def h10_stream(
    drift_ppm: float,
    seed: int,
    seconds: float,
    delays: str = "uniform",
    *,
    acc_hz: float | None = None,
    prior_ppm: float | None = None,
    bound_level: float | None = None,
) -> H10Trace:
    """:func:`h10_arrivals` through a ``DeviceClockMap``; the trace holds the ECG frames.

    All streams feed the one map (as ``PolarH10`` does); ``prior_ppm`` sets its drift prior,
    ``bound_level`` the credibility of its error bound.
    """
    default = DeviceClockMap()
    m = DeviceClockMap(
        drift_prior_ppm=default.drift_prior_ppm if prior_ppm is None else prior_ppm,
        bound_level=default.bound_level if bound_level is None else bound_level,
    )
    t: list[float] = []
    err: list[float] = []
    bound: list[float] = []
    drift: list[float] = []
    conv: list[bool] = []
    backwards = 0
    previous: dict[str, float] = {}
    last_ecg: list[float] = []
    # ECG frames waiting to be re-timed: (due arrival time, index, device time), per lag
    pending: dict[float, list[tuple[float, int, float]]] = {lag: [] for lag in RETIME_LAGS_S}
    lagged: dict[float, dict[int, float]] = {lag: {} for lag in RETIME_LAGS_S}

    def retime_due(before: float) -> None:
        for lag, queue in pending.items():
            while queue and queue[0][0] < before:
                _, i, d = queue.pop(0)
                lagged[lag][i] = float(m.retime(d))

    for k, x in enumerate(h10_arrivals(drift_ppm, seed, seconds, delays, acc_hz=acc_hz)):
        retime_due(x.arrival)  # with the fit of every arrival up to `lag` after the frame's
        m.observe(float(x.device_t[-1]), x.arrival, detect_reset=k == 0)
        mapped = m.map(x.device_t, stream=x.stream)
        backwards += int(mapped[0] <= previous.get(x.stream, -np.inf))
        backwards += int(np.count_nonzero(np.diff(mapped) <= 0))
        previous[x.stream] = float(mapped[-1])
        if x.stream != "ecg":
            continue
        q = m.quality()
        for lag, queue in pending.items():
            queue.append((x.arrival + lag, len(t), float(x.device_t[-1])))
        t.append(float(x.truth[-1]))
        last_ecg.append(float(x.device_t[-1]))
        err.append(float(mapped[-1] - x.truth[-1] - LATENCY))
        bound.append(q.error_bound_s)
        drift.append(q.drift_ppm)
        conv.append(q.converged)
    retime_due(math.inf)  # the frames whose lag outlasts the session: at its end
    truth = np.asarray(t)
    return H10Trace(
        np.asarray(t),
        np.asarray(err),
        np.asarray(bound),
        np.asarray(drift),
        np.asarray(conv, dtype=bool),
        backwards,
        m.retime(last_ecg) - truth - LATENCY,
        {
            lag: np.asarray([got[i] for i in range(truth.size)]) - truth - LATENCY
            for lag, got in lagged.items()
        },
    )


def oracle_stream(
    drift_ppm: float,
    seed: int,
    seconds: float,
    *,
    acc_hz: float | None = None,
    know_drift: bool = False,
    prior_ppm: float | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A reference for what the same arrivals allow: an estimator told what a map cannot know.

    It knows the delays are uniform on exactly [0, 50 ms] above the minimum latency and which
    notifications were held (or held back) beyond that: every line through
    ``arrival - device_t`` lies in the band ``[y - 50 ms, y]`` of every other point, and the
    posterior (a Student-t drift prior of scale ``prior_ppm``, by default the map's; uniform
    in offset within the band) is exact. Its mean at the newest frame is applied at once (no
    slew limit). With ``know_drift`` it is also told the true drift. Returns the ECG frames'
    true times and errors (as ``h10_stream``). A posterior mean, not a bound: another
    estimator may have a lower p99 of the difference between two straps.
    """
    edge = 0.05
    grid = np.linspace(-400e-6, 400e-6, 1601)  # d(arrival - device)/d(device)
    s = (DeviceClockMap().drift_prior_ppm if prior_ppm is None else prior_ppm) * 1e-6
    log_prior = -2.0 * np.log1p((grid / s) ** 2 / 3.0)
    true_slope = 1.0 / (1.0 + drift_ppm * 1e-6) - 1.0
    arrivals = h10_arrivals(drift_ppm, seed, seconds, acc_hz=acc_hz)
    d = np.array([float(x.device_t[-1]) for x in arrivals])
    y = np.array([x.arrival for x in arrivals]) - d
    excess = np.array([x.arrival - float(x.truth[-1]) - LATENCY for x in arrivals])
    inlier = excess <= edge
    t, err = [], []
    for k, x in enumerate(arrivals):
        if x.stream != "ecg":
            continue
        rel = d[: k + 1] - d[k]
        inl = inlier[: k + 1]
        if not inl.any():
            continue  # every point so far held: nothing bounds the line from below
        truth_offset = float(x.truth[-1]) + LATENCY - d[k]
        if know_drift:
            upper = float(np.min(y[: k + 1] - true_slope * rel))
            lower = float(np.max(y[: k + 1][inl] - edge - true_slope * rel[inl]))
            estimate = 0.5 * (upper + lower)
        else:
            ys = y[: k + 1] - grid[:, None] * rel[None, :]
            upper_b = ys.min(axis=1)
            lower_b = (ys[:, inl] - edge).max(axis=1)
            width = upper_b - lower_b
            lp = log_prior + np.log(np.maximum(width, 1e-300))
            w = np.exp(lp - lp.max())
            estimate = float(w @ (0.5 * (upper_b + lower_b)) / w.sum())
        t.append(float(x.truth[-1]))
        err.append(estimate - truth_offset)
    return np.asarray(t), np.asarray(err)


def information_bound(seeds: int, acc_hz: float | None = None) -> None:
    """The 3-minute two-H10 case through :func:`oracle_stream`: what the arrivals allow."""
    streams = "ECG only" if acc_hz is None else f"ECG and ACC at {acc_hz:g} Hz"
    print(f"\n## Told the delay edge and the held frames (3 minutes, {streams}, {seeds} seeds)\n")
    print("| estimator | p99 from 30 s (ms) | p99 from 60 s (ms) | seeds < 3 ms / < 2 ms |")
    print("|---|---|---|---|")
    prior = DeviceClockMap().drift_prior_ppm
    for label, know_drift, prior_ppm in (
        (f"edge and held frames known, the map's prior ({prior:g} ppm)", False, prior),
        ("edge and held frames known, a nearly flat prior (3000 ppm)", False, 3000.0),
        ("edge, held frames and drift known", True, prior),
    ):
        p30, p60 = [], []
        for seed in range(seeds):
            ta, ea, tb, eb = (
                x
                for drift, base in ((100.0, 1000), (-100.0, 2000))
                for x in oracle_stream(
                    drift,
                    base + seed,
                    180.0,
                    acc_hz=acc_hz,
                    know_drift=know_drift,
                    prior_ppm=prior_ppm,
                )
            )
            grid = np.arange(0.6, 179.4, 0.05)
            cross = np.abs(np.interp(grid, ta, ea) - np.interp(grid, tb, eb))
            p30.append(1e3 * float(np.percentile(cross[grid >= 30], 99)))
            p60.append(1e3 * float(np.percentile(cross[grid >= 60], 99)))
        print(
            f"| {label} | {_dist(p30)} | {_dist(p60)} | {sum(v < 3 for v in p30)}/{seeds} / "
            f"{sum(v < 2 for v in p60)}/{seeds} |"
        )


def _first(t: npt.NDArray[np.float64], flags: npt.NDArray[np.bool_]) -> float:
    return float(t[np.argmax(flags)]) if flags.any() else math.inf


def two_h10(
    seeds: int,
    seconds: float,
    *,
    per_seed: bool = True,
    acc_hz: float | None = None,
    prior_ppm: float | None = None,
    bound_level: float | None = None,
) -> dict[str, list[float]]:
    """Two H10s at +100 and -100 ppm in one session; cross-device error from fixed points."""
    rows: dict[str, list[float]] = {}
    if per_seed:
        print(
            "| seed | p50/p99/max from 30 s (ms) | p50/p99/max from 60 s (ms) | within 2 ms from "
            "(s) | drift error 60 s / end (ppm) | bound covers | converged at (s), cross "
            "error after it (max ms) |"
        )
        print("|---|---|---|---|---|---|---|")
    for seed in range(seeds):
        a, b = (
            h10_stream(
                drift,
                base + seed,
                seconds,
                acc_hz=acc_hz,
                prior_ppm=prior_ppm,
                bound_level=bound_level,
            )
            for drift, base in ((100.0, 1000), (-100.0, 2000))
        )
        grid = np.arange(0.6, seconds - 0.6, 0.05)
        signed = np.interp(grid, a.t, a.error) - np.interp(grid, b.t, b.error)
        cross = np.abs(signed)
        stats = {}
        for start in (30.0, 60.0):
            late = cross[grid >= start]
            stats[start] = [1e3 * float(np.percentile(late, q)) for q in (50, 99, 100)]
        within = settling_time(grid, cross, bound_s=0.002) + float(grid[0])
        d60 = max(
            abs(float(np.interp(60.0, x.t, x.drift)) - x_true)
            for x, x_true in ((a, 100.0), (b, -100.0))
        )
        dend = max(abs(float(x.drift[-1]) - x_true) for x, x_true in ((a, 100.0), (b, -100.0)))
        covered = np.concatenate([np.abs(x.error) <= x.bound for x in (a, b)])
        conv_t = max(_first(a.t, a.converged), _first(b.t, b.converged))
        conv_err = np.concatenate([np.abs(x.error[x.converged]) for x in (a, b)])
        n_conv = sum(int(x.converged.sum()) for x in (a, b))
        after = cross[grid >= conv_t]
        after_max = 1e3 * float(after.max()) if after.size else math.nan
        row = {
            "p99_30": stats[30.0][1],
            "max_30": stats[30.0][2],
            "p99_60": stats[60.0][1],
            "max_60": stats[60.0][2],
            "p50_30": stats[30.0][0],
            "p50_60": stats[60.0][0],
            "shift_60": 1e3 * float(np.median(signed[grid >= 60.0])),
            "within_2ms": within,
            "drift_60": d60,
            "drift_end": dend,
            "coverage": float(covered.mean()),
            "converged_at": conv_t,
            "after_converged_max": after_max,
            "backwards": float(a.backwards + b.backwards),
            "converged_frames": float(n_conv),
            "converged_beyond_1ms": float(np.count_nonzero(conv_err > 1e-3)),
            **{
                f"lag{lag:g}_p99_{start:g}": 1e3
                * float(
                    np.percentile(
                        np.abs(
                            np.interp(grid, a.t, a.lagged[lag])
                            - np.interp(grid, b.t, b.lagged[lag])
                        )[grid >= start],
                        99,
                    )
                )
                for lag in RETIME_LAGS_S
                for start in (30.0, 60.0)
            },
            # re-timed at the end of the session (retime): from the first frame on
            "hindsight_p99": 1e3
            * float(
                np.percentile(
                    np.abs(np.interp(grid, a.t, a.hindsight) - np.interp(grid, b.t, b.hindsight)),
                    99,
                )
            ),
        }
        for key, value in row.items():
            rows.setdefault(key, []).append(value)
        if per_seed:
            s30, s60 = ("/".join(f"{v:.2f}" for v in stats[s]) for s in (30.0, 60.0))
            print(
                f"| {seed} | {s30} | {s60} | {within:.0f} | {d60:.1f} / {dend:.1f} | "
                f"{100 * covered.mean():.1f} % | {conv_t:.0f}, {after_max:.2f} |"
            )
    return rows


def _dist(values: list[float], fmt: str = ".2f") -> str:
    v = np.asarray(values)
    finite = v[np.isfinite(v)]
    never = int(np.count_nonzero(~np.isfinite(v)))
    if finite.size == 0:
        return "never"
    text = (
        f"{np.median(finite):{fmt}} [{np.percentile(finite, 5):{fmt}}-"
        f"{np.percentile(finite, 95):{fmt}}], max {finite.max():{fmt}}"
    )
    return text + (f" ({never} never)" if never else "")


def two_h10_summary(
    seeds: int,
    acc_hz: float | None = None,
    prior_ppm: float | None = None,
    bound_level: float | None = None,
) -> None:
    streams = "ECG only" if acc_hz is None else f"ECG and ACC at {acc_hz:g} Hz"
    if prior_ppm is not None:
        streams += f", drift prior {prior_ppm:g} ppm"
    if bound_level is not None:
        streams += f", error bound at {100 * bound_level:g} %"
    print(
        f"\n## Two H10s, +100 / -100 ppm, 0-50 ms delays, 2 % held 100-500 ms: "
        f"3-minute sessions, {streams}, {seeds} seeds\n"
    )
    rows = two_h10(seeds, 180.0, acc_hz=acc_hz, prior_ppm=prior_ppm, bound_level=bound_level)
    n = len(rows["p99_60"])
    print("\n| figure (median [5-95 %], max over seeds) | value | target |")
    print("|---|---|---|")
    print(f"| cross-device p50 from 30 s (ms) | {_dist(rows['p50_30'])} | |")
    print(f"| cross-device p99 from 30 s (ms) | {_dist(rows['p99_30'])} | < 3 |")
    print(f"| cross-device max from 30 s (ms) | {_dist(rows['max_30'])} | |")
    print(f"| cross-device p50 from 60 s (ms) | {_dist(rows['p50_60'])} | |")
    print(f"| cross-device p99 from 60 s (ms) | {_dist(rows['p99_60'])} | < 2 |")
    print(f"| cross-device max from 60 s (ms) | {_dist(rows['max_60'])} | |")
    shift = _dist(rows["shift_60"])
    print(f"| signed difference (+100 minus -100 ppm strap), median from 60 s (ms) | {shift} | |")
    print(f"| within 2 ms from (s) | {_dist(rows['within_2ms'], '.0f')} | |")
    print(f"| drift error at 60 s, worse strap (ppm) | {_dist(rows['drift_60'], '.1f')} | |")
    drift_end = _dist(rows["drift_end"], ".1f")
    print(f"| drift error at 180 s, worse strap (ppm) | {drift_end} | < 10 |")
    coverage = _dist([100 * c for c in rows["coverage"]], ".1f")
    print(f"| bound coverage, per seed (%) | {coverage} | >= 95 |")
    print(f"| converged (both) at (s) | {_dist(rows['converged_at'], '.0f')} | |")
    print(f"| cross max after both converged (ms) | {_dist(rows['after_converged_max'])} | |")
    conv = int(sum(rows["converged_frames"]))
    beyond = int(sum(rows["converged_beyond_1ms"]))
    print(f"| frames flagged converged, error beyond 1 ms | {beyond} of {conv} | 0 |")
    for lag in RETIME_LAGS_S:
        for start, target in ((30.0, 3), (60.0, 2)):
            values = rows[f"lag{lag:g}_p99_{start:g}"]
            print(
                f"| re-timed {lag:g} s after arrival (`retime`): cross-device p99 from "
                f"{start:g} s (ms) | {_dist(values)}; {sum(v < target for v in values)}/{n} "
                f"seeds < {target} | < {target} |"
            )
    hindsight = _dist(rows["hindsight_p99"])
    print(
        f"| re-timed at the end (`retime`): cross-device p99 over the whole session (ms) | "
        f"{hindsight} | |"
    )
    ecg_bps = (10 + 3 * H10_PER_FRAME) * H10_RATE_HZ / H10_PER_FRAME
    acc_bps = 0.0 if acc_hz is None else (10 + 6 * H10_ACC_PER_FRAME) * acc_hz / H10_ACC_PER_FRAME
    print(
        f"| PMD payload per strap (bytes/s, ATT/L2CAP headers not counted) | ECG {ecg_bps:.0f}"
        f" + ACC {acc_bps:.0f} = {ecg_bps + acc_bps:.0f} | |"
    )
    ok60 = sum(v < 2 for v in rows["p99_60"])
    ok30 = sum(v < 3 for v in rows["p99_30"])
    okd = sum(v < 10 for v in rows["drift_end"])
    print(
        f"\nseeds meeting: p99 < 2 ms from 60 s {ok60}/{n}; p99 < 3 ms from 30 s {ok30}/{n}; "
        f"drift within 10 ppm at 180 s {okd}/{n}; re-timed at the end, p99 < 2 ms over the "
        f"whole session {sum(v < 2 for v in rows['hindsight_p99'])}/{n}; pooled coverage "
        f"{100 * np.mean(rows['coverage']):.1f} %; backwards {int(sum(rows['backwards']))}"
    )


def _streams_label(acc_hz: float | None) -> str:
    return "ECG only" if acc_hz is None else f"ECG and ACC at {acc_hz:g} Hz"


def delay_shapes(seeds: int, acc_hz: float | None = None, bound_level: float | None = None) -> None:
    """The 3-minute two-H10 case with other delay shapes: is the bounded model kept out?"""
    print(
        f"\n## Two H10s, 3 minutes, other delay shapes (2 % held as above), "
        f"{_streams_label(acc_hz)}, {seeds} seeds\n"
    )
    print(
        "| delays | p99 from 30 s (ms) | p99 from 60 s (ms) | drift error at 180 s (ppm) | "
        "coverage per seed (%) |"
    )
    print("|---|---|---|---|---|")
    for shape in DELAY_SHAPES:
        rows: dict[str, list[float]] = {}
        for seed in range(seeds):
            a, b = (
                h10_stream(drift, base + seed, 180.0, shape, acc_hz=acc_hz, bound_level=bound_level)
                for drift, base in ((100.0, 5000), (-100.0, 6000))
            )
            grid = np.arange(0.6, 179.4, 0.05)
            cross = np.abs(np.interp(grid, a.t, a.error) - np.interp(grid, b.t, b.error))
            for start in (30.0, 60.0):
                rows.setdefault(f"p99_{start:.0f}", []).append(
                    1e3 * float(np.percentile(cross[grid >= start], 99))
                )
            rows.setdefault("drift", []).append(
                max(abs(float(a.drift[-1]) - 100.0), abs(float(b.drift[-1]) + 100.0))
            )
            for x in (a, b):
                rows.setdefault("coverage", []).append(
                    100 * float(np.mean(np.abs(x.error) <= x.bound))
                )
        print(
            f"| {shape} | {_dist(rows['p99_30'])} | {_dist(rows['p99_60'])} | "
            f"{_dist(rows['drift'], '.1f')} | {_dist(rows['coverage'], '.1f')} |"
        )


def two_h10_long(seeds: int, minutes: float = 30.0, acc_hz: float | None = None) -> None:
    print(
        f"\n## Two H10s as above, {minutes:g}-minute sessions, {_streams_label(acc_hz)}, "
        f"{seeds} seeds\n"
    )
    rows: dict[str, list[float]] = {}
    for seed in range(seeds):
        a = h10_stream(100.0, 3000 + seed, 60 * minutes, acc_hz=acc_hz)
        b = h10_stream(-100.0, 4000 + seed, 60 * minutes, acc_hz=acc_hz)
        grid = np.arange(0.6, 60 * minutes - 0.6, 0.05)
        cross = np.abs(np.interp(grid, a.t, a.error) - np.interp(grid, b.t, b.error))
        for start in (60.0, 300.0):
            rows.setdefault(f"p99_{start:.0f}", []).append(
                1e3 * float(np.percentile(cross[grid >= start], 99))
            )
            rows.setdefault(f"max_{start:.0f}", []).append(1e3 * float(cross[grid >= start].max()))
        rows.setdefault("drift_end", []).append(
            max(abs(float(x.drift[-1]) - v) for x, v in ((a, 100.0), (b, -100.0)))
        )
        covered = np.concatenate([np.abs(x.error) <= x.bound for x in (a, b)])
        rows.setdefault("coverage", []).append(100 * float(covered.mean()))
    print("| figure (median [5-95 %], max over seeds) | value |")
    print("|---|---|")
    for key, label in (
        ("p99_60", "cross-device p99 from 60 s (ms)"),
        ("max_60", "cross-device max from 60 s (ms)"),
        ("p99_300", "cross-device p99 from 300 s (ms)"),
        ("max_300", "cross-device max from 300 s (ms)"),
        ("drift_end", "drift error at the end, worse strap (ppm)"),
        ("coverage", "bound coverage, per seed (%)"),
    ):
        print(f"| {label} | {_dist(rows[key])} |")


def counter_pair(seeds: int, minutes: float = 30.0) -> None:
    print(
        f"\n## H10-like sensor clock and a 100 Hz counter (10 per notification), "
        f"{minutes:g} minutes, 7.5 ms + up to 50 ms + 5 % retransmissions, {seeds} seeds\n"
    )
    rows: dict[str, list[float]] = {}
    end = 1000.0 + 60 * minutes
    for seed in range(seeds):
        drift_a, drift_b = ((100, -100), (-100, 100), (100, 0))[seed % 3]
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
        ma, mb = DeviceClockMap(), DeviceClockMap()
        ta, tb = a.run(ma, until_s=end), b.run(mb, until_s=end)
        grid, err = cross_device_error(ta, tb, start_s=1001, end_s=end - 1)
        err = np.abs(err)
        for start in (30.0, 60.0, 300.0):
            late = err[grid >= 1000 + start]
            rows.setdefault(f"p99_{start:.0f}", []).append(1e3 * float(np.percentile(late, 99)))
        rows.setdefault("max_60", []).append(1e3 * float(err[grid >= 1060].max()))
        rows.setdefault("within", []).append(settling_time(grid, err, bound_s=0.002))
        rows.setdefault("drift_end", []).append(
            max(abs(ma.drift_ppm - drift_a), abs(mb.drift_ppm - drift_b))
        )
    print("| figure (median [5-95 %], max over seeds) | value |")
    print("|---|---|")
    for key, label in (
        ("p99_30", "cross-device p99 from 30 s (ms)"),
        ("p99_60", "cross-device p99 from 60 s (ms)"),
        ("max_60", "cross-device max from 60 s (ms)"),
        ("p99_300", "cross-device p99 from 300 s (ms)"),
        ("within", "within 2 ms from (s)"),
        ("drift_end", "drift error at the end, worse device (ppm)"),
    ):
        print(f"| {label} | {_dist(rows[key])} |")


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
    parser.add_argument("--seeds", type=int, default=20, help="seeds of the 3-minute case")
    parser.add_argument(
        "--acc-hz",
        type=float,
        choices=(25.0, 50.0, 100.0, 200.0),
        help=f"ACC rate of the two-H10 cases (default {CLOCK_ACC_RATE_HZ}, as PolarH10 starts it)",
    )
    parser.add_argument(
        "--ecg-only",
        action="store_true",
        help="the two-H10 cases (h10, delays, long) with ECG frames only",
    )
    parser.add_argument(
        "--prior-ppm", type=float, help="the 3-minute case with this drift prior scale"
    )
    parser.add_argument(
        "--bound-level",
        type=float,
        help="the 3-minute cases (h10, delays) with this error-bound credibility",
    )
    parser.add_argument("--long-seeds", type=int, default=5, help="seeds of the 30-minute cases")
    parser.add_argument(
        "--only",
        choices=("h10", "bound", "delays", "long", "counter", "faults", "cost"),
        help="one part only",
    )
    args = parser.parse_args()
    if args.only in (None, "cost"):
        cost()
    acc_hz = None if args.ecg_only else (args.acc_hz or float(CLOCK_ACC_RATE_HZ))
    if args.only in (None, "h10"):
        two_h10_summary(args.seeds, acc_hz, args.prior_ppm, args.bound_level)
    if args.only in (None, "bound"):
        information_bound(args.seeds, args.acc_hz)
    if args.only in (None, "delays"):
        delay_shapes(args.seeds, acc_hz, args.bound_level)
    if args.only in (None, "long"):
        two_h10_long(args.long_seeds, acc_hz=acc_hz)
    if args.only in (None, "counter"):
        counter_pair(args.long_seeds)
    if args.only in (None, "faults"):
        faults()
        long_run(args.hours)


if __name__ == "__main__":
    main()
