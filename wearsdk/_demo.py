"""``wearsdk demo``: virtual devices on a virtual radio, through the real pipeline.

A virtual heart-rate strap (a bumble GATT peripheral driven by a physiology simulator that
follows a calm, stress, recovery script) advertises on an in-process virtual BLE link; the
heart-rate driver finds and connects to it through bleak over bumble, exactly as it would to a
real strap; the session windows the RR intervals and estimates arousal with the shipped model;
every bus message is handed to ``emit``. During the recovery phase the strap reports lost skin
contact for a while, and the estimates of those windows say so (``no_contact``, low confidence).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from wearsdk._clock import ScaledClock, SessionClock
from wearsdk._errors import ConfigError
from wearsdk._events import Annotation
from wearsdk._privacy import Consent
from wearsdk.affect import load_arousal_params
from wearsdk.analyzers import AnalyzerContext
from wearsdk.bus import Message
from wearsdk.drivers.bitalino import BITalino, VirtualBITalino
from wearsdk.drivers.heart_rate import HeartRateStrap, VirtualHeartRateStrap
from wearsdk.drivers.polar import PolarH10, VirtualPolarH10
from wearsdk.io.ble import VirtualLink
from wearsdk.io.mqtt import MqttBridge, MqttConfig
from wearsdk.session import MessageSink, PipelineConfig, Session, SinkReport
from wearsdk.sim import ArousalScript, HeartSimulator

__all__ = ["DemoConfig", "DemoResult", "run_demo"]

BAND_NAME = "BITalino EDA"
"""Advertised name of the demo's virtual EDA band."""

STRAPS = {"heart-rate": "wearsdk HR strap", "polar-h10": "Polar H10 0A1B2C3D"}
"""Demo strap kinds and the names their twins advertise."""


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Settings of a demo run.

    Attributes:
        duration_s: session seconds to simulate (the script is split into thirds).
        speed: session seconds per real second (10 runs 30 s in about 3 s).
        seed: seed of the simulators.
        strap: ``heart-rate`` (a standard Heart Rate Service strap) or ``polar-h10`` (adds
            raw ECG at 130 Hz and accelerometer at 50 Hz over Polar's PMD service).
        eda_band: also run a virtual BITalino EDA band (skin conductance at 10 Hz); ``None``
            (the default) runs it when the demo lasts at least 90 s: the skin conductance
            level follows arousal over tens of seconds, so in a shorter demo its lag would
            outlast each phase.
        contact_loss: the strap reports lost skin contact from 10 % to 25 % of the way
            through the recovery phase (its beats keep coming, as from a strap that slipped).
    """

    duration_s: float = 180.0
    speed: float = 1.0
    seed: int = 0
    strap: str = "heart-rate"
    eda_band: bool | None = None
    contact_loss: bool = True

    def __post_init__(self) -> None:
        if not self.duration_s >= 15:
            raise ConfigError(f"demo duration must be at least 15 s, got {self.duration_s}")
        if not self.speed > 0:
            raise ConfigError(f"demo speed must be > 0, got {self.speed}")
        if self.strap not in STRAPS:
            raise ConfigError(f"demo strap must be one of {sorted(STRAPS)}, got {self.strap!r}")

    def pipeline(self) -> PipelineConfig:
        """Windows sized to the demo (a sixth of it, 5 to 60 s); the baseline takes the windows
        that end inside the calm third, before the transition to stress begins; stress levels
        keep the shipped thresholds but dwell one window instead of a minute.
        """  # noqa: D205
        window = min(60.0, max(5.0, self.duration_s / 6.0))
        calm = self.duration_s / 3.0
        transition = min(20.0, 0.08 * self.duration_s)
        baseline = max(2.0, calm - window - transition / 2.0 - 1.0)
        levels = dataclasses.replace(load_arousal_params().stress_levels, min_dwell_s=window)
        return PipelineConfig(
            window_s=window, hop_s=1.0, baseline_s=min(120.0, baseline), stress_levels=levels
        )


@dataclass(slots=True)
class DemoResult:
    """What a demo run did.

    Attributes:
        messages: bus messages seen, by type.
        dropped: messages the demo's subscriber dropped (0 unless the output stalls).
        script_start: session time at which the script started.
        sinks: how the session's sinks ended (the output, MQTT).
    """

    messages: dict[str, int]
    dropped: int
    script_start: float
    sinks: list[SinkReport] = field(default_factory=list)


async def run_demo(
    config: DemoConfig,
    emit: Callable[[Message, SessionClock], None],
    *,
    mqtt: MqttConfig | None = None,
) -> DemoResult:
    """Run the demo; call ``emit(message, clock)`` for every bus message; return counts.

    With ``mqtt``, a bridge exports the session under the consent of the simulated wearer
    (:meth:`~wearsdk.Consent.simulated_participant`) and the configured export policy.
    """
    clock = ScaledClock(config.speed)
    script = ArousalScript.calm_stress_recovery(config.duration_s)
    heart = HeartSimulator(script, seed=config.seed)
    session = Session(clock=clock, pipeline=config.pipeline())
    # the terminal output is a sink of the session: a reader that goes away ends the demo
    output = MessageSink(lambda message, ctx: emit(message, ctx.clock))
    session.add_sink(output, name="output", required=True)
    if mqtt is not None:
        consent = Consent.simulated_participant(export=mqtt.policy)
        session.add_sink(MqttBridge(session.bus, clock, mqtt, consent=consent), name="mqtt")

    name = STRAPS[config.strap]
    async with VirtualLink() as link:
        peripheral = await link.add_peripheral(name=name)
        twin: VirtualHeartRateStrap | VirtualPolarH10
        if config.strap == "polar-h10":
            twin = VirtualPolarH10(peripheral, heart, clock, name=name, seed=config.seed)
        else:
            twin = VirtualHeartRateStrap(peripheral, heart, clock, name=name)
        band_twin: VirtualBITalino | None = None
        eda_band = config.duration_s >= 90 if config.eda_band is None else config.eda_band
        if eda_band:
            band = await link.add_peripheral(name=BAND_NAME)
            # its own beat generator on the same script: the band only follows the arousal
            band_heart = HeartSimulator(script, seed=config.seed + 1)
            band_twin = VirtualBITalino(band, band_heart, clock, name=BAND_NAME, seed=config.seed)
        async with link.central() as transport, session:
            driver = (
                PolarH10(transport, name=name, acc_rate_hz=50)
                if config.strap == "polar-h10"
                else HeartRateStrap(transport, name=name)
            )
            session.add(driver)
            if band_twin is not None:
                session.add(
                    BITalino(
                        transport, name=BAND_NAME, rate_hz=10, channels=(3,), publish_raw=False
                    )
                )
            async with twin, band_twin or contextlib.nullcontext():
                script_start = clock.now()
                for analyzer in simulated_analyzers(script, script_start, config.seed):
                    session.add_analyzer(analyzer)
                await _play_script(session, script, script_start, twin, config.contact_loss)
                # let the last windows land: beats are classified two beats late, and
                # notifications come once per second (session time: part of the script)
                await session.sleep(4.0)
        # leaving the session stopped the devices, flushed the pipeline and drained the sinks
    return DemoResult(
        messages=dict(output.counts),
        dropped=output.dropped,
        script_start=script_start,
        sinks=session.sink_reports,
    )


async def _play_script(
    session: Session,
    script: ArousalScript,
    script_start: float,
    twin: VirtualHeartRateStrap | VirtualPolarH10,
    contact_loss: bool,
) -> None:
    """Publish the phase markers and follow the script; the strap slips in the last phase."""
    clock = session.clock
    t = 0.0
    last = len(script.phases) - 1
    for i, phase in enumerate(script.phases):
        session.bus.publish_nowait(
            "analyzer/marker/demo-script",
            Annotation(
                t=script_start + t,
                modality="marker",
                analyzer_id="demo-script",
                start=script_start + t,
                end=script_start + t + phase.duration_s,
                label=phase.name,
                arousal=phase.arousal,
                valence=phase.valence,
            ),
        )
        if contact_loss and i == last:
            lost = script_start + t + 0.1 * phase.duration_s
            await session.sleep(lost - clock.now())
            twin.contact = False
            await session.sleep(lost + 0.15 * phase.duration_s - clock.now())
            twin.contact = True
        await session.sleep(script_start + t + phase.duration_s - clock.now())
        t += phase.duration_s


class SimulatedAnalyzer:
    """A camera or voice analyzer that follows the demo's script, with its own imperfections.

    Every ``every_s`` it judges the span that just ended: valence and arousal from the script
    plus noise (a face shows valence better, a voice arousal), stamped with a residual clock
    error ``clock_error_s`` (what is left after mapping a remote analyzer's clock) and
    delivered ``delay_s`` late (inference and transport), so fusion has to revise estimates.
    """

    def __init__(
        self,
        modality: str,
        script: ArousalScript,
        script_start: float,
        *,
        every_s: float,
        delay_s: float,
        clock_error_s: float,
        noise: tuple[float, float],
        confidence: float,
        seed: int,
    ) -> None:
        self.modality = modality
        self.analyzer_id = f"sim-{modality}"
        self.script = script
        self.script_start = script_start
        self.every_s = every_s
        self.delay_s = delay_s
        self.clock_error_s = clock_error_s
        self.noise = noise  # (arousal sd, valence sd)
        self.confidence = confidence
        self.rng = np.random.default_rng(seed)

    async def run(self, ctx: AnalyzerContext) -> None:
        """Publish one judgement per ``every_s`` until the script ends."""
        end = self.script_start + self.every_s
        while end <= self.script_start + self.script.duration_s:
            await ctx.sleep(end + self.delay_s - ctx.now())
            mid = end - self.every_s / 2 - self.script_start
            arousal = float(self.script.arousal_at(mid)[0]) + self.rng.normal(0, self.noise[0])
            valence = float(self.script.valence_at(mid)[0]) + self.rng.normal(0, self.noise[1])
            stamp = end + self.clock_error_s
            ctx.publish(
                stamp - self.every_s,
                stamp,
                arousal=float(np.clip(arousal, 0.0, 1.0)),
                valence=float(np.clip(valence, -1.0, 1.0)),
                confidence=self.confidence,
            )
            end += self.every_s


def simulated_analyzers(
    script: ArousalScript, script_start: float, seed: int
) -> tuple[SimulatedAnalyzer, SimulatedAnalyzer]:
    """The demo's camera (1 s frames, 1.5 s late, clock 50 ms fast) and voice (3 s segments,
    2 s late, clock 120 ms slow) analyzers."""  # noqa: D205, D209
    face = SimulatedAnalyzer(
        "face",
        script,
        script_start,
        every_s=1.0,
        delay_s=1.5,
        clock_error_s=0.05,
        noise=(0.25, 0.1),
        confidence=0.8,
        seed=seed + 10,
    )
    voice = SimulatedAnalyzer(
        "voice",
        script,
        script_start,
        every_s=3.0,
        delay_s=2.0,
        clock_error_s=-0.12,
        noise=(0.08, 0.3),
        confidence=0.6,
        seed=seed + 11,
    )
    return face, voice
