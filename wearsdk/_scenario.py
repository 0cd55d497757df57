"""The simulated wearer's scenario around virtual devices: phase markers, a strap that slips,
simulated camera and voice analyzers (``[simulation]`` of a session, ``wearsdk demo``).
"""  # noqa: D205

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk._events import Annotation
from wearsdk.analyzers import AnalyzerContext
from wearsdk.session import Session
from wearsdk.sim import ArousalScript

__all__ = ["HeldScript", "SimulatedAnalyzer", "play_script", "simulated_analyzers"]


class HeldScript(ArousalScript):
    """A script held in its first phase until :meth:`start`: what one twin's simulators read.

    A twin's simulators read the script on their own time, 0 when the twin started, which is
    before its session starts and before anything connects to it. The session starts the
    script when the devices stream, however long they took to connect (a slow machine, a slow
    radio): until then the simulated wearer stays in the first phase, as a wearer waiting for
    the devices would.

    Args:
        script: the script to follow once started.
    """

    def __init__(self, script: ArousalScript) -> None:
        super().__init__(script.phases, transition_s=script.transition_s)
        self.start_s: float | None = None
        """The simulators' time at which the script started (``None``: not yet)."""

    def start(self, at_s: float) -> None:
        """Start the script at simulator time ``at_s`` (script time = simulator time - at_s)."""
        self.start_s = float(at_s)

    def _script_time(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        tt = np.asarray(t, dtype=np.float64)
        if self.start_s is None:  # before every phase boundary: the first phase's levels
            return np.full(tt.shape, -np.inf)
        return tt - self.start_s

    def arousal_at(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Arousal at simulator time(s) ``t``: the first phase's until the script starts."""
        return super().arousal_at(self._script_time(t))

    def valence_at(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Valence at simulator time(s) ``t``: the first phase's until the script starts."""
        return super().valence_at(self._script_time(t))

    def phase_at(self, t: float) -> str:
        """Name of the phase at simulator time ``t`` (the first until the script starts)."""
        return super().phase_at(float(self._script_time(t)))


async def play_script(
    session: Session,
    script: ArousalScript,
    script_start: float,
    twin: Any,
    *,
    markers: bool = True,
    contact_loss: bool = True,
) -> None:
    """Follow the script: publish its phases as markers on ``analyzer/marker/demo-script``;
    ``twin`` (a virtual strap with a ``contact`` knob) reports lost skin contact from 10 % to
    25 % of the way through the last phase.
    """  # noqa: D205
    clock = session.clock
    t = 0.0
    last = len(script.phases) - 1
    for i, phase in enumerate(script.phases):
        if markers:
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
