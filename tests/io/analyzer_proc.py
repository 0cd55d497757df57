"""A remote analyzer for the clock tests: its own clock is offset and drifts.

Usage: python -m tests.io.analyzer_proc URL SESSION OFFSET_S DRIFT_PPM N

It syncs with the session through an AnalyzerClient, then publishes N marker annotations,
each stamped on its own clock and carrying, in ``extras["truth_monotonic"]``, the machine's
CLOCK_MONOTONIC at the same instant (ground truth for the test, unused by the SDK).
"""

from __future__ import annotations

import asyncio
import sys
import time

from wearsdk.io.mqtt import AnalyzerClient, MqttConfig


async def main(url: str, session: str, offset_s: float, drift_ppm: float, n: int) -> None:
    origin = time.monotonic()

    def own_clock() -> float:
        return offset_s + origin + (time.monotonic() - origin) * (1 + drift_ppm * 1e-6)

    config = MqttConfig(url=url, session=session)
    async with AnalyzerClient(
        config,
        analyzer_id="remote-cam",
        modality="marker",
        clock=own_clock,
        sync_interval_s=0.1,
        burst=10,
    ) as link:
        await link.wait_synced(exchanges=30, timeout_s=30)
        for k in range(n):
            truth = time.monotonic()
            t = own_clock()
            await link.annotate(start=t, end=t, label=f"m{k}", extras={"truth_monotonic": truth})
            await asyncio.sleep(0.2)


if __name__ == "__main__":
    url, session, offset, drift, count = sys.argv[1:6]
    asyncio.run(main(url, session, float(offset), float(drift), int(count)))
