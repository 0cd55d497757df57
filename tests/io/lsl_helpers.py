"""Synthetic physiology for the LSL and XDF tests: ECG (mV, 130 Hz) and EDA (uS, 16 Hz)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from tests.signals.test_ecg import synthetic_ecg
from wearsdk import Annotation, PipelineConfig, SampleBlock, Source, SourceContext
from wearsdk.sim import ArousalScript, EdaSimulator, HeartSimulator

ECG_HZ = 130.0
EDA_HZ = 16.0
FAST = PipelineConfig(window_s=20.0, hop_s=5.0, baseline_s=30.0, stale_s=30.0)
"""Short windows and baseline so that a test gets estimates within a minute of data."""


@dataclass
class Physio:
    ecg_t: np.ndarray
    ecg_mv: np.ndarray
    eda_t: np.ndarray
    eda_us: np.ndarray


def synthetic_physio(duration_s: float, seed: int = 0) -> Physio:
    script = ArousalScript.calm_stress_recovery(duration_s)
    beats = np.cumsum(HeartSimulator(script, seed=seed).beats_until(duration_s))  # RR -> times
    ecg_t = np.arange(round(duration_s * ECG_HZ)) / ECG_HZ
    eda_t = np.arange(round(duration_s * EDA_HZ)) / EDA_HZ
    eda = EdaSimulator(script, seed=seed).sample_usiemens(eda_t)
    return Physio(ecg_t, synthetic_ecg(ECG_HZ, beats, duration_s, seed), eda_t, eda)


class PhysioSource(Source):
    """Publishes synthetic ECG and EDA in 1 s blocks (awaiting the bus), plus a marker."""

    def __init__(self, physio: Physio, *, t0: float, name: str, pace_s: float = 0.0) -> None:
        self.physio = physio
        self.t0 = t0
        self.name = name
        self.pace_s = pace_s
        self.published: list[SampleBlock] = []

    @property
    def identity(self) -> str:
        return f"synthetic:{self.name}"

    @property
    def source_id(self) -> str:
        return self.name

    async def run(self, ctx: SourceContext) -> None:
        ctx.status("connected")
        p = self.physio
        duration = float(p.ecg_t[-1]) + 1 / ECG_HZ
        for second in range(int(np.ceil(duration))):
            for stream, t, x, unit, rate in (
                ("ecg", p.ecg_t, p.ecg_mv * 1000.0, "uV", ECG_HZ),
                ("eda", p.eda_t, p.eda_us, "uS", EDA_HZ),
            ):
                sel = (t >= second) & (t < second + 1)
                block = SampleBlock(
                    source=ctx.source_id,
                    stream=stream,
                    unit=unit,
                    t=self.t0 + t[sel],
                    values=x[sel],
                    nominal_rate_hz=rate,
                )
                await ctx.bus.publish(f"physio/{ctx.source_id}/{stream}", block)
                self.published.append(block)
            if second == 5:
                at = self.t0 + 5.0
                await ctx.bus.publish(
                    f"analyzer/marker/{ctx.source_id}",
                    Annotation(
                        t=at, modality="marker", analyzer_id="test", start=at, end=at, label="go"
                    ),
                )
            await asyncio.sleep(self.pace_s)
        ctx.status("closed")
