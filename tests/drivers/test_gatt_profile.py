"""Declarative GATT profiles: loading (TOML, JSON, shipped names), validation, payload decoding,
and the generic driver against the profile twin over real GATT (the NUS Grove GSR profile)."""

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.drivers.test_heart_rate_gatt import Collected, collect, wait_until
from wearsdk import ConfigError, DeviceStatus, Gap, ProtocolError, SampleBlock, ScaledClock, Session
from wearsdk.drivers.gatt_profile import (
    NUS_RX_UUID,
    NUS_SERVICE_UUID,
    NUS_TX_UUID,
    GattProfile,
    GattProfileDevice,
    VirtualGattProfileDevice,
    builtin_profiles,
    load_profile,
)
from wearsdk.io.ble import VirtualLink
from wearsdk.sim import ArousalScript, HeartSimulator

pytestmark = [pytest.mark.timeout(60), pytest.mark.looptime]

MINIMAL_TOML = """
name = "lab-eda"
service_uuid = "180d"
data_uuid = "0x2a37"
nominal_rate_hz = 4
channels = ["eda"]

[payload]
sample_format = "h"

[conversion]
scale = 0.01
offset = 0.5
"""


def grove_usiemens(x: float, *, bits: int = 12, calibration: float = 2048) -> float:
    """Seeed's formula, by hand: R = ((2^n + 2x) * 10000) / (cal - x) ohm; G = 1e6 / R uS."""
    resistance = ((float(2**bits) + 2 * x) * 10000) / (calibration - x)
    return 1e6 / resistance


# -- loading ----------------------------------------------------------------------------------


def test_the_nus_grove_gsr_profile_ships_and_loads_by_name() -> None:
    assert "nus-grove-gsr" in builtin_profiles()
    profile = load_profile("nus-grove-gsr")
    assert load_profile("nus_grove_gsr") == profile
    assert profile.service_uuid == NUS_SERVICE_UUID == "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    assert profile.data_uuid == NUS_TX_UUID
    assert profile.control_uuid == NUS_RX_UUID
    assert [w.data for w in profile.start_writes] == [b"start\n"]
    assert [w.data for w in profile.stop_writes] == [b"stop\n"]
    assert (profile.stream, profile.unit, profile.channels) == ("eda", "uS", ("eda",))
    assert profile.nominal_rate_hz == 10
    assert profile.payload.counter is not None
    assert profile.payload.counter.modulo == 65536
    assert profile.payload.sample_size == 2
    assert profile.payload.header_size == 2
    assert profile.conversion.transfer == "grove_gsr"
    with pytest.raises(ConfigError, match="unknown GATT profile"):
        load_profile("no-such-sensor")


def test_profiles_load_from_toml_and_json_text_and_files(tmp_path: Path) -> None:
    profile = GattProfile.from_toml(MINIMAL_TOML)
    assert profile.service_uuid == "0000180d-0000-1000-8000-00805f9b34fb"
    assert profile.data_uuid == "00002a37-0000-1000-8000-00805f9b34fb"
    assert profile.payload.counter is None
    as_json = profile.model_dump_json()
    assert GattProfile.from_json(as_json) == profile
    (tmp_path / "p.toml").write_text(MINIMAL_TOML)
    (tmp_path / "p.json").write_text(as_json)
    assert load_profile(tmp_path / "p.toml") == profile
    assert load_profile(str(tmp_path / "p.json")) == profile
    shipped = load_profile("nus-grove-gsr")
    assert GattProfile.from_json(json.dumps(shipped.model_dump(mode="json"))) == shipped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"channels": ["eda", "extra"]}, "2 channel names"),
        ({"service_uuid": "not-a-uuid"}, "service_uuid"),
        ({"start_writes": [{"text": "go"}]}, "control_uuid"),
        ({"start_writes": [{"text": "go", "hex": "01"}], "control_uuid": "2a39"}, "exactly one"),
        ({"stop_writes": [{"hex": "zz"}], "control_uuid": "2a39"}, "stop_writes"),
        ({"payload": {"sample_format": "<h"}}, "sample_format"),
        ({"payload": {"sample_format": "4s"}}, "sample_format"),
        ({"payload": {"sample_format": "h", "samples_per_notification": 0}}, "samples_per"),
        ({"conversion": {"transfer": "grove_gsr"}}, "adc_bits"),
        ({"conversion": {"transfer": "magic"}}, "transfer"),
        ({"conversion": {"scale": 0}}, "scale"),
        ({"nominal_rate_hz": 0}, "nominal_rate_hz"),
        ({"stream": "EDA"}, "stream"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_profiles_are_config_errors_that_say_why(
    change: dict[str, object], message: str
) -> None:
    import tomllib

    data = tomllib.loads(MINIMAL_TOML)
    data.update(change)
    with pytest.raises(ConfigError, match=message):
        GattProfile.from_dict(data)


def test_unparsable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        GattProfile.from_toml("name = ")
    with pytest.raises(ConfigError, match="not valid JSON"):
        GattProfile.from_json("{")
    with pytest.raises(ConfigError, match="JSON object"):
        GattProfile.from_json("[]")
    (tmp_path / "p.yaml").write_text("name: x")
    with pytest.raises(ConfigError, match=r"\.toml or \.json"):
        load_profile(tmp_path / "p.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "missing.toml")


# -- payloads ---------------------------------------------------------------------------------


def test_nus_grove_gsr_payload_decodes_to_hand_computed_microsiemens() -> None:
    profile = load_profile("nus-grove-gsr")
    payload = struct.pack("<6H", 65535, 1024, 1800, 0, 2047, 2048)
    note = profile.decode(payload)
    assert note.counter == 65535
    assert note.raw[:, 0].tolist() == [1024, 1800, 0, 2047, 2048]
    g = profile.convert(note.raw)[:, 0]
    # 100 (2048 - x) / (4096 + 2x): 102400 / 6144, 24800 / 7696, 204800 / 4096, 100 / 8190
    np.testing.assert_allclose(g[:4], [102400 / 6144, 24800 / 7696, 50.0, 100 / 8190], rtol=1e-12)
    np.testing.assert_allclose(g[:4], [grove_usiemens(x) for x in (1024, 1800, 0, 2047)])
    assert np.isnan(g[4])  # open electrodes: no conductance to report
    assert profile.encode(note.raw, counter=65535) == payload
    back = profile.conversion.inverse(g[:4])
    np.testing.assert_allclose(back, [1024, 1800, 0, 2047], atol=1e-9)


def test_malformed_payloads_are_protocol_errors() -> None:
    profile = load_profile("nus-grove-gsr")
    for bad in (b"", b"\x01", struct.pack("<5H", 0, 1, 2, 3, 4), struct.pack("<7H", *range(7))):
        with pytest.raises(ProtocolError) as info:
            profile.decode(bad)
        assert info.value.raw == bad
    free = GattProfile.from_toml(MINIMAL_TOML)  # any whole number of samples
    assert free.decode(struct.pack("<3h", -100, 0, 250)).raw[:, 0].tolist() == [-100, 0, 250]
    np.testing.assert_allclose(free.convert([[-100], [0], [250]])[:, 0], [-0.5, 0.5, 3.0])
    with pytest.raises(ProtocolError):
        free.decode(b"\x01\x02\x03")


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=64))
def test_fuzz_profile_decoder_raises_only_protocol_errors(data: bytes) -> None:
    for profile in (load_profile("nus-grove-gsr"), GattProfile.from_toml(MINIMAL_TOML)):
        try:
            note = profile.decode(data)
        except ProtocolError:
            continue
        assert note.raw.shape[1] == len(profile.channels)
        values = profile.convert(note.raw)
        assert values.shape == note.raw.shape


# -- driver against the twin over GATT ---------------------------------------------------------


@pytest.fixture
async def link() -> AsyncIterator[VirtualLink]:
    async with VirtualLink() as vl:
        yield vl


def eda_blocks(got: Collected) -> list[SampleBlock]:
    return [b for b in got.of(SampleBlock) if b.stream == "eda"]


async def test_nus_grove_gsr_against_its_twin(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(300), seed=1)
    peripheral = await link.add_peripheral(name="GSR-NUS")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualGattProfileDevice(peripheral, heart, clock, seed=2) as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        driver = GattProfileDevice(ble, "nus-grove-gsr")  # finds "GSR-NUS" by the profile
        sid = session.add(driver)
        await wait_until(lambda: sum(len(b) for b in eda_blocks(got)) >= 60)
        assert twin.streaming
        task.cancel()
    assert sid.startswith("gsr-")
    assert list(twin.writes) == [b"start\n", b"stop\n"]  # started, and stopped on the way out
    blocks = eda_blocks(got)
    assert blocks[0].unit == "uS"
    assert blocks[0].channels == ("eda",)
    assert blocks[0].nominal_rate_hz == 10
    values = np.concatenate([b.values[:, 0] for b in blocks])
    raw = np.concatenate([n.raw[:, 0] for n in twin.sent])[: values.size]
    np.testing.assert_allclose(values, [grove_usiemens(x) for x in raw], rtol=1e-12)
    truth = np.concatenate([n.usiemens for n in twin.sent])[: values.size]
    assert np.max(np.abs(values - truth)) < 0.05  # 12-bit quantisation
    assert 0.5 < values.mean() < 20
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    assert np.median(np.diff(t)) == pytest.approx(0.1, rel=1e-3)
    counters = [n.counter for n in twin.sent]
    assert counters[:3] == [0, 5, 10]
    assert not got.of(Gap)
    assert driver.malformed == 0
    assert [s.state for s in got.of(DeviceStatus)][:2] == ["connecting", "connected"]


async def test_drop_outs_and_malformed_notifications(link: VirtualLink) -> None:
    clock = ScaledClock(20)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(300), seed=3)
    peripheral = await link.add_peripheral(name="GSR-NUS")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualGattProfileDevice(
            peripheral, heart, clock, seed=4, drop_probability=0.15, malformed_probability=0.15
        ) as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        driver = GattProfileDevice(ble, name="GSR-NUS")
        session.add(driver)
        await wait_until(lambda: sum(len(b) for b in eda_blocks(got)) >= 150, timeout=20)
        await session.sleep(0.3)
        task.cancel()
    sent = list(twin.sent)
    good = [n for n in sent if not n.dropped and not n.malformed]
    values = np.concatenate([b.values[:, 0] for b in eda_blocks(got)])
    raw = np.concatenate([n.raw[:, 0] for n in good])[: values.size]
    np.testing.assert_allclose(values, [grove_usiemens(x) for x in raw], rtol=1e-12)
    n_good = values.size // 5
    last = sent.index(good[n_good - 1])
    window = sent[: last + 1]
    assert sum(n.malformed for n in window) >= 3
    assert sum(n.dropped for n in window) >= 3
    # every malformed notification before the last one published was counted (later ones may
    # or may not have been processed when the session closed)
    assert sum(n.malformed for n in window) <= driver.malformed <= sum(n.malformed for n in sent)
    gaps = [g for g in got.of(Gap) if g.stream == "eda"]
    lost = sum(n.dropped or n.malformed for n in window[sent.index(good[0]) :])
    assert sum(g.n_missing or 0 for g in gaps) == 5 * lost
    # each gap spans from the last sample before it to the first after it; its length follows
    # the sample count up to the clock map's warm-up slew (0.1 s/s x 0.5 s per notification)
    t = np.concatenate([b.t for b in eda_blocks(got)])
    for g in gaps:
        assert g.reason == "sequence"
        i = int(np.flatnonzero(t == g.start)[0])
        assert t[i + 1] == g.end
        assert g.end - g.start == pytest.approx((g.n_missing + 1) / 10, abs=0.06)


async def test_a_profile_without_counter_or_writes_streams_on_connection(
    link: VirtualLink,
) -> None:
    profile = GattProfile.from_toml(
        MINIMAL_TOML.replace('name = "lab-eda"', 'name = "lab-eda"\nkind = "lab"')
    )
    clock = ScaledClock(20)
    heart = HeartSimulator(ArousalScript.calm_stress_recovery(300), seed=5)
    peripheral = await link.add_peripheral(name="LabEDA")
    got = Collected()
    session = Session(clock=clock, pipeline=None)
    async with (
        link.central() as ble,
        session,
        VirtualGattProfileDevice(peripheral, heart, clock, name="LabEDA", profile=profile) as twin,
    ):
        task = asyncio.create_task(collect(session, got))
        sid = session.add(GattProfileDevice(ble, profile, name="LabEDA"))
        await wait_until(lambda: sum(len(b) for b in eda_blocks(got)) >= 12)
        task.cancel()
    assert sid.startswith("lab-")
    assert twin.samples_per_notification == 2  # half a second at 4 Hz
    values = np.concatenate([b.values[:, 0] for b in eda_blocks(got)])
    assert all(n.counter is None for n in twin.sent)
    raw = np.concatenate([n.raw[:, 0] for n in twin.sent])
    assert np.all(raw == np.rint(raw))  # int16 codes
    expected = raw * 0.01 + 0.5  # linear: value = raw * scale + offset
    # the first notifications may go out before the central subscribes: align on the values
    matches = [
        k
        for k in range(raw.size - values.size + 1)
        if np.allclose(expected[k : k + values.size], values, rtol=0, atol=1e-12)
    ]
    assert matches
