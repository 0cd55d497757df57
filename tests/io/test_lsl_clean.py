"""Cleaned streams (``PipelineConfig(publish_clean=True)``) as LSL outlets and in XDF files."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf

from tests.io.lsl_helpers import ECG_HZ, EDA_HZ, FAST, PhysioSource, synthetic_physio
from tests.io.test_lsl import running
from wearsdk import Consent, Estimate, ExportPolicy, Features, SampleBlock, Session
from wearsdk.io.lsl import LslOutlets
from wearsdk.io.sources import XdfReplay
from wearsdk.signals import EcgCleaner, ecg_clean, eda_offline

CONSENT = Consent.simulated_participant()
CLEAN = dataclasses.replace(FAST, publish_clean=True)


def raw_of(source: PhysioSource, stream: str) -> tuple[np.ndarray, np.ndarray]:
    blocks = [b for b in source.published if b.stream == stream]
    return np.concatenate([b.t for b in blocks]), np.concatenate([b.values[:, 0] for b in blocks])


async def pull_until_quiet(inlet: pylsl.StreamInlet) -> tuple[np.ndarray, np.ndarray]:
    """Every sample until none came for a second."""
    xs: list[list[float]] = []
    ts: list[float] = []
    quiet = 0
    while quiet < 50:
        x, t = inlet.pull_chunk(timeout=0.0)
        quiet = 0 if t else quiet + 1
        xs += x
        ts += t
        await asyncio.sleep(0.02)
    return np.array(ts), np.array(xs)


@pytest.mark.slow
async def test_cleaned_outlets_carry_the_mirror_values_on_the_raw_timestamps() -> None:
    ns = uuid.uuid4().hex[:8]
    name = f"syn-{ns}"
    source = PhysioSource(synthetic_physio(60.0), t0=pylsl.local_clock(), name=name, pace_s=0.1)
    async with Session(pipeline=CLEAN, consent=CONSENT) as session:
        outlets = LslOutlets(session.bus, consent=CONSENT, policy=ExportPolicy.RAW, namespace=ns)
        async with running(outlets.run()):
            session.add(source)

            async def connect(stream: str) -> pylsl.StreamInlet:
                (info,) = await asyncio.to_thread(
                    pylsl.resolve_byprop, "source_id", f"wearsdk:{name}:{stream}@{ns}", 1, 10.0
                )
                inlet = pylsl.StreamInlet(info, processing_flags=0)
                await asyncio.to_thread(inlet.open_stream, 5.0)
                return inlet

            streams = ("ecg", "ecg_clean", "eda_clean")
            inlets = dict(zip(streams, await asyncio.gather(*map(connect, streams)), strict=True))
            got = {s: await pull_until_quiet(i) for s, i in inlets.items()}
            infos = {s: await asyncio.to_thread(i.info, 5.0) for s, i in inlets.items()}
    ecg_t, ecg_uv = raw_of(source, "ecg")
    eda_t, eda_us = raw_of(source, "eda")

    # ECG: what the inlet got is the offline mirror on the raw samples, at their timestamps
    t_raw, _ = got["ecg"]
    t, x = got["ecg_clean"]
    assert t.size > 0.3 * ecg_t.size  # the inlets connected while the source ran
    idx = np.searchsorted(ecg_t, t)
    np.testing.assert_array_equal(ecg_t[idx], t)  # exactly the raw samples' timestamps
    # the raw inlet saw the same timestamps, over the span both inlets were connected (the
    # three connect one after the other: on a busy machine a second apart)
    both = (t >= max(t[0], t_raw[0])) & (t <= min(t[-1], t_raw[-1]))
    assert both.mean() > 0.5
    assert np.isin(t[both], t_raw).mean() > 0.99
    mirror = ecg_clean(ecg_uv, sampling_rate_hz=ECG_HZ)
    np.testing.assert_allclose(x[:, 0], mirror[idx], rtol=0, atol=1e-9)
    # EDA: clean, tonic and phasic in uS
    t, x = got["eda_clean"]
    idx = np.searchsorted(eda_t, t)
    np.testing.assert_array_equal(eda_t[idx], t)
    ref = eda_offline(eda_us, sampling_rate_hz=EDA_HZ)
    for k, want in enumerate((ref.clean, ref.tonic, ref.phasic)):
        np.testing.assert_allclose(x[:, k], want[idx], rtol=0, atol=1e-9)

    ecg = infos["ecg_clean"]
    assert (ecg.name(), ecg.type(), ecg.nominal_srate()) == (f"{name}-ecg_clean", "ECG", ECG_HZ)
    assert ecg.get_channel_labels() == ["ecg_clean"]
    assert ecg.get_channel_units() == ["uV"]
    assert ecg.get_channel_types() == ["ECG"]
    filt = ecg.desc().child("filtering")
    assert filt.child("highpass").child_value("design") == "Butterworth"
    assert float(filt.child("highpass").child_value("upper")) == 0.5
    assert float(filt.child("lowpass").child_value("lower")) == 40.0
    assert filt.child("lowpass").child_value("causal") == "true"
    delay = float(filt.child("delay").child_value("group_delay_s"))
    assert delay == float(f"{EcgCleaner(sampling_rate_hz=ECG_HZ).group_delay_s():.6g}")
    assert "not shifted" in filt.child("delay").child_value("timestamps")
    assert ecg.desc().child("wearsdk").child_value("derived_from") == "ecg"
    eda = infos["eda_clean"]
    assert (eda.type(), eda.nominal_srate()) == ("EDA", EDA_HZ)
    assert eda.get_channel_labels() == ["eda_clean", "eda_tonic", "eda_phasic"]
    assert eda.get_channel_units() == ["uS"] * 3
    assert eda.get_channel_types() == ["EDA"] * 3
    assert float(eda.desc().child("filtering").child("tonic").child_value("lag_s")) > 1.0
    # the raw stream has no filtering description
    assert infos["ecg"].desc().child("filtering").empty()


async def run_session(
    publish_clean: bool, path: Path | None = None
) -> tuple[PhysioSource, list[Features], list[Estimate], dict[str, int]]:
    source = PhysioSource(synthetic_physio(90.0), t0=5000.0, name="syn-1")
    config = dataclasses.replace(FAST, publish_clean=publish_clean)
    features: list[Features] = []
    estimates: list[Estimate] = []
    blocks: dict[str, int] = {}
    async with Session(pipeline=config, consent=CONSENT, record=path) as session:
        sub = session.bus.subscribe("#", maxsize=1 << 16, policy="block")
        session.add(source)
        async for m in sub:
            p = m.payload
            if isinstance(p, Features):
                features.append(p)
            elif isinstance(p, Estimate) and m.topic == "affect/estimate":
                estimates.append(p)
            elif isinstance(p, SampleBlock):
                blocks[m.topic] = blocks.get(m.topic, 0) + len(p)
            elif getattr(p, "state", None) == "closed":
                break
        await asyncio.sleep(0.2)
        while (late := sub.receive_nowait()) is not None:
            if isinstance(late.payload, Features):
                features.append(late.payload)
            elif isinstance(late.payload, Estimate) and late.topic == "affect/estimate":
                estimates.append(late.payload)
    return source, features, estimates, blocks


async def test_features_and_estimates_do_not_change_and_the_recording_holds_the_cleaned_streams(
    tmp_path: Path,
) -> None:
    _, f_off, e_off, b_off = await run_session(False)
    path = tmp_path / "clean.xdf"
    _, f_on, e_on, b_on = await run_session(True, path)
    assert len(e_on) >= 5
    assert [f.model_dump_json() for f in f_on] == [f.model_dump_json() for f in f_off]
    assert [e.model_dump_json() for e in e_on] == [e.model_dump_json() for e in e_off]
    assert "physio/syn-1/ecg_clean" not in b_off
    assert b_on["physio/syn-1/ecg_clean"] == b_on["physio/syn-1/ecg"]
    assert b_on["physio/syn-1/eda_clean"] == b_on["physio/syn-1/eda"]

    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    for stream, rate in (("ecg", ECG_HZ), ("eda", EDA_HZ)):
        raw, clean = by_name[f"syn-1-{stream}"], by_name[f"syn-1-{stream}_clean"]
        np.testing.assert_array_equal(clean["time_stamps"], raw["time_stamps"])
        info = clean["info"]
        assert info["type"][0] == stream.upper()
        desc = info["desc"][0]
        assert desc["wearsdk"][0]["derived_from"] == [stream]
        assert "lowpass" in desc["filtering"][0]
        x = raw["time_series"][:, 0]
        if stream == "ecg":
            want = ecg_clean(x, sampling_rate_hz=rate)[:, None]
        else:
            ref = eda_offline(x, sampling_rate_hz=rate)
            want = np.column_stack((ref.clean, ref.tonic, ref.phasic))
        np.testing.assert_allclose(clean["time_series"], want, rtol=0, atol=1e-9)

    # a replay with the option on: the recorded cleaned streams are not republished, the
    # pipeline makes them again, identical, and the estimates are those of the live session
    replay = XdfReplay(path, speed=None)
    again: dict[str, list[SampleBlock]] = {}
    estimates: list[Estimate] = []
    async with Session(pipeline=CLEAN, clock=replay.clock()) as session:
        sub = session.bus.subscribe("#", maxsize=1 << 16, policy="block")
        session.add(replay)
        async for m in sub:
            if isinstance(m.payload, SampleBlock):
                again.setdefault(m.payload.stream, []).append(m.payload)
            elif isinstance(m.payload, Estimate) and m.topic == "affect/estimate":
                estimates.append(m.payload)
            elif getattr(m.payload, "state", None) == "closed":
                break
        await asyncio.sleep(0.2)
        while (late := sub.receive_nowait()) is not None:
            if isinstance(late.payload, Estimate) and late.topic == "affect/estimate":
                estimates.append(late.payload)
    for stream in ("ecg", "eda"):
        t = np.concatenate([b.t for b in again[f"{stream}_clean"]])
        np.testing.assert_array_equal(t, by_name[f"syn-1-{stream}_clean"]["time_stamps"])
        x = np.concatenate([b.values for b in again[f"{stream}_clean"]])
        np.testing.assert_array_equal(x, by_name[f"syn-1-{stream}_clean"]["time_series"])
    assert [e.model_dump_json() for e in estimates] == [e.model_dump_json() for e in e_on]


async def test_an_inlet_keeps_a_cleaned_stream_apart_from_raw_input() -> None:
    from wearsdk.io.lsl import block_spec, push_chunk, stream_info
    from wearsdk.io.sources import LslInlet

    sid = f"test-derived-{uuid.uuid4().hex[:10]}"
    block = SampleBlock(
        source="other-session",
        stream="ecg_clean",
        unit="uV",
        t=np.zeros(1),
        values=np.zeros(1),
        nominal_rate_hz=ECG_HZ,
    )
    spec = dataclasses.replace(block_spec("physio/other-session/ecg_clean", block), source_id=sid)
    out = pylsl.StreamOutlet(stream_info(spec))
    got: dict[str, int] = {}
    async with Session(pipeline=CLEAN, consent=CONSENT) as session:
        sub = session.bus.subscribe("physio/#", maxsize=4096)
        session.add(LslInlet(f"source_id={sid}", source_id="lsl-in"))
        async with asyncio.timeout(20):
            while sum(got.values()) < 260:
                t = pylsl.local_clock() - np.arange(13)[::-1] / ECG_HZ
                push_chunk(out, np.sin(t)[:, None], t)
                await asyncio.sleep(0.1)
                while (m := sub.receive_nowait()) is not None:
                    got[m.topic] = got.get(m.topic, 0) + len(m.payload)  # type: ignore[arg-type]
    # the type is ECG, but it is a cleaned stream: it keeps its name and is not cleaned again
    assert set(got) == {"physio/lsl-in/ecg_clean"}
