"""A lab setup: a Polar H10 strap and an EDA band to LSL and XDF, with the experiment's markers.

One session reads a Polar H10 (ECG at 130 Hz, RR intervals) and a BITalino EDA band (skin
conductance at 100 Hz), publishes everything as Lab Streaming Layer streams (raw ECG, RR,
heart rate and EDA, the window features and the ``affect`` stream) for LabRecorder, a
visualiser or the experiment itself, and records the session to a crash-safe XDF file.

The experiment software (PsychoPy, jsPsych, Unity... here a few lines of plain pylsl below)
announces its phases on an LSL marker stream, as labs do; the session reads that stream like
any other LSL source (``LslInlet("type=Markers")``, the ``--lsl-in`` path of the command
line), so the markers land on the session bus, in the XDF file as a stream of their own
(``experiment-markers``) and next to the estimates in every consumer.

Recording and publishing raw physiology need the participant's consent: ``--consent FILE``
(a consent record with ``record: true`` and ``export: raw``, see docs/privacy.md). Without
one the example uses the simulated participant's record, which only fits simulated data.

Runs against virtual devices (bumble GATT twins on an in-process virtual link, following a
calm, stress, recovery script), in real time, since LSL consumers expect LSL's clock. For the
real devices, replace the virtual link and the twins by ``OsBleTransport()``.

Run: ``python examples/lab_setup.py --duration 60 --out lab.xdf``
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections import Counter
from pathlib import Path

import pylsl

from wearsdk import (
    Annotation,
    Consent,
    DeviceStatus,
    Estimate,
    ExportPolicy,
    PipelineConfig,
    Session,
)
from wearsdk.drivers.bitalino import BITalino, VirtualBITalino
from wearsdk.drivers.polar import PolarH10, VirtualPolarH10
from wearsdk.io.ble import VirtualLink
from wearsdk.io.lsl import LslOutlets, read_xdf
from wearsdk.io.sources import LslInlet
from wearsdk.sim import ArousalScript, HeartSimulator

STRAP = "Polar H10 0A1B2C3D"
BAND = "BITalino EDA"


class ExperimentMarkers:
    """Stands in for the experiment software: an LSL marker outlet, one string per event."""

    def __init__(self, name: str) -> None:
        info = pylsl.StreamInfo(
            name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, f"experiment:{name}"
        )
        self.outlet = pylsl.StreamOutlet(info)

    async def wait_for_recorder(self, timeout_s: float) -> bool:
        """Wait (in a worker thread) until someone listens, as experiments wait for LabRecorder."""
        return bool(await asyncio.to_thread(self.outlet.wait_for_consumers, timeout_s))

    def mark(self, label: str) -> None:
        """Push one marker, stamped with LSL's clock now."""
        self.outlet.push_sample([label], pylsl.local_clock())


async def main(duration_s: float, out: Path, consent: Consent, marker_name: str, ns: str) -> int:
    script = ArousalScript.calm_stress_recovery(duration_s)
    # short windows so that a one-minute example has estimates; lab sessions keep the defaults
    # (60 s windows, a 2-minute resting baseline)
    pipeline = PipelineConfig(window_s=10.0, hop_s=1.0, baseline_s=8.0)
    experiment = ExperimentMarkers(marker_name)
    labels: list[str] = []
    estimates: list[Estimate] = []
    session = Session(pipeline=pipeline, consent=consent, record=out)
    clock = session.clock  # LSL's clock: shared by the LSL streams and the XDF file
    start = clock.now()

    async def watch() -> None:
        async for message in session.bus.subscribe("#", maxsize=65536):
            item = message.payload
            if isinstance(item, Annotation) and item.modality == "marker":
                labels.append(item.label or "")
                print(f"marker {item.label!r} at {item.start - start:.2f} s", flush=True)
            elif message.topic == "affect/estimate" and isinstance(item, Estimate):
                estimates.append(item)
            elif isinstance(item, DeviceStatus) and item.state == "connected":
                print(f"{item.source} connected", flush=True)

    async with VirtualLink() as link:
        strap = VirtualPolarH10(
            await link.add_peripheral(name=STRAP), HeartSimulator(script, seed=1), clock, name=STRAP
        )
        band = VirtualBITalino(
            await link.add_peripheral(name=BAND), HeartSimulator(script, seed=2), clock, name=BAND
        )
        async with link.central() as ble, session:
            watcher = asyncio.create_task(watch())
            # LSL outlets for LabRecorder and other consumers (raw data needs that consent)
            outlets = LslOutlets(
                session.bus, consent=consent, policy=ExportPolicy.RAW, namespace=ns
            )
            session.add_sink(outlets, name="lsl")  # pushes the last windows as the session ends
            session.add(PolarH10(ble, name=STRAP))
            session.add(BITalino(ble, name=BAND, rate_hz=100, channels=(3,), publish_raw=False))
            # the experiment's marker stream, read like any LSL stream (`--lsl-in type=Markers`)
            session.add(LslInlet(f"name={marker_name},type=Markers", source_id="experiment"))
            print(f"LSL outlets ready (namespace {ns!r}); recording to {out}", flush=True)
            async with strap, band:  # the participant wears the devices: they advertise
                if not await experiment.wait_for_recorder(15.0):
                    raise SystemExit("nobody reads the experiment's marker stream")
                # the experiment's timeline: a marker as each phase starts, and at the end
                begin = clock.now()
                for phase, at in zip((*script.phases, None), phase_starts(script), strict=True):
                    await session.sleep(begin + at - clock.now())
                    experiment.mark("end" if phase is None else phase.name)
                await asyncio.sleep(1.0)  # the last marker and samples reach the recorder
        # the session has closed: the bus drained, the file has its footers
        await watcher
    summary(out, consent, labels, estimates, outlets.pushed, script, begin)
    return 0


def phase_starts(script: ArousalScript) -> list[float]:
    """Seconds from the script's start to each phase's start, and to its end."""
    starts = [0.0]
    for phase in script.phases:
        starts.append(starts[-1] + phase.duration_s)
    return starts


def summary(
    out: Path,
    consent: Consent,
    labels: list[str],
    estimates: list[Estimate],
    pushed: dict[str, int],
    script: ArousalScript,
    begin: float,
) -> None:
    """What the session did and what the XDF file holds."""
    print(
        f"consent: participant {consent.participant}, record {consent.record}, "
        f"export {consent.export.value}"
    )
    print(f"markers: {', '.join(labels)} ({len(labels)} received)")
    bounds = phase_starts(script)
    parts = []
    for phase, lo, hi in zip(script.phases, bounds, bounds[1:], strict=False):
        a = [e.arousal for e in estimates if lo <= e.window_end - begin < hi and e.confidence > 0]
        if a:
            parts.append(f"{phase.name} {sum(a) / len(a):.2f}")
    print(f"estimates: {len(estimates)} (mean arousal {', '.join(parts)})")
    print("LSL outlets: " + ", ".join(f"{k} {v}" for k, v in sorted(pushed.items())))
    recording = read_xdf(out)
    counts: Counter[int] = Counter()
    for chunk in recording.chunks:
        counts[chunk.stream_id] += int(chunk.t.size)
    print(f"XDF {out} ({os.path.getsize(out) / 1e6:.2f} MB, {len(recording.streams)} streams):")
    for sid, stream in sorted(recording.streams.items()):
        print(f"  {stream.name} ({stream.type}): {counts[sid]} samples")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (real time)")
    parser.add_argument("--out", type=Path, default=Path("lab_session.xdf"), help="XDF file")
    parser.add_argument("--consent", type=Path, help="the participant's consent record (JSON)")
    parser.add_argument("--markers", default="ExperimentMarkers", help="marker stream name")
    parser.add_argument(
        "--namespace", default="", help="appended to the outlets' source ids (several sessions)"
    )
    args = parser.parse_args()
    record = Consent.load(args.consent) if args.consent else Consent.simulated_participant()
    raise SystemExit(
        asyncio.run(main(args.duration, args.out, record, args.markers, args.namespace))
    )
