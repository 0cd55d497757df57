"""Write an analyzer: an in-process "camera" analyzer fused with a heart-rate strap.

A virtual heart-rate strap (a bumble GATT peripheral, found and read through the real driver)
follows a calm then stressed script; a toy face analyzer publishes a valence judgement every
second; the session fuses both into one estimate per window. Run it:

    python examples/write_an_analyzer.py

Replace ``ToyFaceAnalyzer.judge`` with a real model (run it with ``asyncio.to_thread``, never
on the event loop) and the rest stays the same.
"""

import asyncio

from wearsdk import PipelineConfig, ScaledClock, Session
from wearsdk.analyzers import AnalyzerContext
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator, Phase

SCRIPT = ArousalScript((Phase("calm", 40, 0.15, 0.4), Phase("stress", 40, 0.85, -0.6)))


class ToyFaceAnalyzer:
    """Pretends to read a face: the script's valence, one judgement per second."""

    analyzer_id = "toy-face"
    modality = "face"

    def __init__(self, start: float) -> None:
        self.start = start

    def judge(self, t: float) -> float:
        return float(SCRIPT.valence_at(t - self.start)[0])

    async def run(self, ctx: AnalyzerContext) -> None:
        while True:
            await ctx.sleep(1.0)
            now = ctx.now()
            valence = await asyncio.to_thread(self.judge, now)
            ctx.publish(now - 1.0, now, valence=valence, confidence=0.8)


async def main() -> None:
    clock = ScaledClock(20.0)  # 20 session seconds per real second
    config = PipelineConfig(window_s=10.0, baseline_s=20.0)
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name="Example strap")
        heart = HeartSimulator(SCRIPT)
        twin = VirtualHeartRateStrap(peripheral, heart, clock, name="Example strap")
        async with twin, link.central() as transport, Session(clock=clock, pipeline=config) as s:
            start = clock.now()
            s.add(HeartRateStrap(transport, name="Example strap"))
            s.add(ToyFaceAnalyzer(start))
            async for est in s.estimates():
                if est.revised:
                    continue  # a late face judgement updated an earlier window
                valence = "  n/a" if est.valence is None else f"{est.valence:+.2f}"
                print(
                    f"t={est.window_end - start:5.1f}s  "
                    f"arousal {est.arousal:.2f} (conf {est.confidence:.2f})  "
                    f"valence {valence} (conf {est.valence_confidence:.2f})  "
                    f"from {', '.join(est.modalities)}"
                )
                if est.window_end > start + SCRIPT.duration_s - 2.0:
                    break


if __name__ == "__main__":
    asyncio.run(main())
