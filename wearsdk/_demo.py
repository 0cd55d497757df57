"""``wearsdk demo``: virtual devices on a virtual radio, through the real pipeline.

A virtual heart-rate strap (a bumble GATT peripheral driven by a physiology simulator that
follows a calm, stress, recovery script) advertises on an in-process virtual BLE link; the
heart-rate driver finds and connects to it through bleak over bumble, exactly as it would to a
real strap; the session windows the RR intervals and estimates arousal with the shipped model;
every bus message is handed to ``emit``. During the recovery phase the strap reports lost skin
contact for a while, and the estimates of those windows say so (``no_contact``, low confidence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wearsdk._clock import SessionClock
from wearsdk._config import (
    DeviceEntry,
    PipelineSection,
    SessionConfig,
    SessionSection,
    SimulationSection,
    session_config,
)
from wearsdk._errors import ConfigError
from wearsdk._run import RunResult, run_session
from wearsdk.bus import Message

__all__ = ["DemoConfig", "run_demo"]

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

    def pipeline(self) -> PipelineSection:
        """Windows sized to the demo (a sixth of it, 5 to 60 s); the baseline takes the windows
        that end inside the calm third, before the transition to stress begins; stress levels
        keep the shipped thresholds but dwell one window instead of a minute.
        """  # noqa: D205
        # whole seconds, so that the windows are a whole number of 1 s hops, whatever the duration
        window = float(round(min(60.0, max(5.0, self.duration_s / 6.0))))
        calm = self.duration_s / 3.0
        transition = min(20.0, 0.08 * self.duration_s)
        baseline = max(2.0, calm - window - transition / 2.0 - 1.0)
        return PipelineSection(
            window_s=window,
            hop_s=1.0,
            baseline_s=min(120.0, baseline),
            min_coverage=0.6,
            stress_min_dwell_s=window,
        )

    def session_config(self, *, sinks: Sequence[dict[str, Any]] = ()) -> SessionConfig:
        """The demo as a session: virtual twins on an in-process link, the script's markers,
        a strap that slips, simulated camera and voice analyzers, and ``sinks`` (``[[sinks]]``
        tables; exports go under the simulated wearer's consent; MQTT as session ``demo``
        unless the sink names one).

        Raises:
            ConfigError: a sink that does not validate.
        """  # noqa: D205
        name = STRAPS[self.strap]
        strap = DeviceEntry(
            driver=self.strap,
            name=name,
            options={"acc_rate_hz": 50} if self.strap == "polar-h10" else {},
            twin_options={"seed": self.seed} if self.strap == "polar-h10" else {},
        )
        devices = [strap]
        if self.duration_s >= 90 if self.eda_band is None else self.eda_band:
            # its own beat generator on the same script (seed + 1): it follows the arousal
            devices.append(
                DeviceEntry(
                    driver="bitalino",
                    name=BAND_NAME,
                    options={"rate_hz": 10, "channels": [3], "publish_raw": False},
                    twin_options={"seed": self.seed},
                )
            )
        demo_sinks = [
            {"session": "demo", **sink} if sink.get("kind") == "mqtt" else dict(sink)
            for sink in sinks
        ]
        return session_config(
            {
                "session": SessionSection(
                    name="demo",
                    transport="virtual",
                    duration_s=self.duration_s,
                    speed=self.speed,
                    seed=self.seed,
                ),
                "pipeline": self.pipeline(),
                "devices": devices,
                "sinks": demo_sinks,
                # let the last windows land: beats are classified two beats late, and
                # notifications come once per second
                "simulation": SimulationSection(
                    markers=True, contact_loss=self.contact_loss, analyzers=True, settle_s=4.0
                ),
            },
            what="demo",
        )


async def run_demo(
    config: DemoConfig,
    emit: Callable[[Message, SessionClock], None],
    *,
    sinks: Sequence[dict[str, Any]] = (),
) -> RunResult:
    """Run the demo through the session runner; ``emit(message, clock)`` sees every message.

    Exports (``sinks``) go under the consent of the simulated wearer
    (:meth:`~wearsdk.Consent.simulated_participant`) and each sink's export policy.
    """
    return await run_session(config.session_config(sinks=sinks), emit)
