"""Parser throughput: notifications decoded per second.

Heart Rate Measurement: wearsdk's strict parser against bumble's own profile decoder
(``HeartRateService.HeartRateMeasurement.from_bytes``), on the same realistic mix of payloads
(uint8 HR with contact and 1-3 RR values, every tenth with energy expended).

Usage: python -m benchmarks.parsers [--n N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from bumble.profiles.heart_rate_service import HeartRateService

from wearsdk.drivers.heart_rate import encode_heart_rate_measurement, parse_heart_rate_measurement


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


if __name__ == "__main__":
    main()
