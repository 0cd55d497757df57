"""Parser throughput: notifications decoded per second.

Heart Rate Measurement: wearsdk's strict parser against bumble's own profile decoder
(``HeartRateService.HeartRateMeasurement.from_bytes``), on the same realistic mix of payloads
(uint8 HR with contact and 1-3 RR values, every tenth with energy expended).

Polar PMD frames: ``decode_pmd_frame`` on an H10 ECG frame (73 int24 samples, 229 bytes), a raw
int16 ACC frame (36 x 3 samples) and a delta-compressed ACC frame (72 x 3 samples, 6-bit
deltas). Polar's SDK is Kotlin/Swift, so there is no in-process reference: the ratio column is
against the heart-rate parser (bytes/s would favour the big frames). Real time needs 1.8 ECG
frames/s and 1.4-5.6 ACC frames/s per strap.

Usage: python -m benchmarks.parsers [--n N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from bumble.profiles.heart_rate_service import HeartRateService

from wearsdk.drivers.heart_rate.protocol import (
    encode_heart_rate_measurement,
    parse_heart_rate_measurement,
)
from wearsdk.drivers.polar.protocol import (
    PmdMeasurementType,
    decode_pmd_frame,
    encode_delta_frame,
    encode_pmd_frame,
)


def hr_payloads(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(1, 4))
        rr = [float(x) for x in rng.uniform(0.5, 1.1, k)]
        out.append(
            encode_heart_rate_measurement(
                int(60 / np.mean(rr)),
                rr_s=rr,
                contact=True,
                energy_kj=i % 65536 if i % 10 == 0 else None,
            )
        )
    return out


def rate(fn: Callable[[bytes], object], payloads: list[bytes], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in payloads:
            fn(p)
        best = min(best, time.perf_counter() - t0)
    return len(payloads) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    payloads = hr_payloads(args.n)
    ours = rate(parse_heart_rate_measurement, payloads)
    theirs = rate(HeartRateService.HeartRateMeasurement.from_bytes, payloads)
    print(f"{'parser':<44} {'notifications/s':>16} {'ratio':>7}")
    print(f"{'wearsdk parse_heart_rate_measurement':<44} {ours:>16,.0f} {ours / theirs:>7.2f}")
    print(f"{'bumble HeartRateMeasurement.from_bytes':<44} {theirs:>16,.0f} {1.0:>7.2f}")
    for label, payload, hz in pmd_frames():
        r = rate(partial(decode_pmd_frame, sample_rate_hz=hz), [payload] * (args.n // 10))
        print(f"{label:<44} {r:>16,.0f} {r / ours:>7.2f}")


def pmd_frames() -> list[tuple[str, bytes, float]]:
    rng = np.random.default_rng(1)
    ecg = rng.integers(-2000, 2000, (73, 1))
    acc = rng.integers(-1000, 1000, (36, 3))
    ref = rng.integers(-1000, 1000, 3)
    deltas = rng.integers(-31, 32, (71, 3))
    return [
        (
            "wearsdk decode_pmd_frame ECG 73 x int24",
            encode_pmd_frame(PmdMeasurementType.ECG, 0, 10**15, ecg),
            130.0,
        ),
        (
            "wearsdk decode_pmd_frame ACC 36 x 3 int16",
            encode_pmd_frame(PmdMeasurementType.ACC, 1, 10**15, acc),
            50.0,
        ),
        (
            "wearsdk decode_pmd_frame ACC 72 x 3 delta 6-bit",
            encode_delta_frame(ref, deltas, 6, timestamp_ns=10**15),
            50.0,
        ),
    ]


if __name__ == "__main__":
    main()
