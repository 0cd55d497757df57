"""The ``desc/filtering`` of cleaned streams is the description of the processors actually run.

Each processor describes its own filters (``EcgCleaner.describe``, ``EdaProcessor.describe``);
the cleaned block carries the description of the one that made it, and the stream spec (what
LSL outlets announce and XDF recordings store) writes that, so a pipeline configured
differently from the defaults says so.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from tests.io.lsl_helpers import ECG_HZ, EDA_HZ, FAST, PhysioSource, synthetic_physio
from wearsdk import Consent, SampleBlock, Session
from wearsdk.io.lsl import spec_for
from wearsdk.signals import EcgCleaner, EdaOptions, EdaProcessor

CONSENT = Consent.simulated_participant()
CUSTOM_EDA: EdaOptions = {"lowpass_hz": 1.0, "tonic_window_s": 8.0, "tonic_cutoff_hz": 0.02}


def filtering_of(topic: str, block: SampleBlock) -> dict[str, dict[str, str]]:
    """The ``desc/filtering`` sections of the stream header written for ``block``."""
    spec = spec_for(topic, block)
    assert spec is not None
    info = ET.fromstring(spec.header_xml(created_at=0.0, uid="u"))
    filt = info.find("desc/filtering")
    assert filt is not None
    return {section.tag: {f.tag: f.text or "" for f in section} for section in filt}


async def cleaned_blocks(config_eda: EdaOptions | None) -> dict[str, tuple[str, SampleBlock]]:
    """The first ``ecg_clean`` and ``eda_clean`` blocks a session publishes."""
    config = dataclasses.replace(FAST, publish_clean=True, eda_options=config_eda)
    source = PhysioSource(synthetic_physio(30.0), t0=1000.0, name="syn-f")
    found: dict[str, tuple[str, SampleBlock]] = {}
    async with Session(pipeline=config, consent=CONSENT) as session:
        sub = session.bus.subscribe("physio/+/+", maxsize=1 << 14, policy="block")
        session.add(source)
        async for m in sub:
            p = m.payload
            if isinstance(p, SampleBlock) and p.stream.endswith("_clean"):
                found.setdefault(p.stream, (m.topic, p))
                if len(found) == 2:
                    break
    return found


def test_each_processor_describes_the_filters_it_was_built_with() -> None:
    ecg = EcgCleaner(sampling_rate_hz=ECG_HZ).describe()
    assert float(ecg["highpass"]["upper"]) == 0.5
    assert float(ecg["lowpass"]["lower"]) == 40.0
    cleaner = EcgCleaner(sampling_rate_hz=ECG_HZ)
    assert float(ecg["delay"]["group_delay_s"]) == pytest.approx(cleaner.group_delay_s(), rel=1e-5)
    # the delay is the filter's at this rate: another rate, another description
    assert EcgCleaner(sampling_rate_hz=500.0).describe()["delay"] != ecg["delay"]

    default = EdaProcessor(sampling_rate_hz=EDA_HZ)
    custom = EdaProcessor(sampling_rate_hz=EDA_HZ, **CUSTOM_EDA)
    d, c = default.describe(), custom.describe()
    assert float(d["lowpass"]["lower"]) == default.lowpass_hz != 1.0
    assert float(c["lowpass"]["lower"]) == 1.0
    assert float(c["tonic"]["window_s"]) == 8.0
    assert float(c["tonic"]["cutoff_hz"]) == 0.02
    assert float(c["tonic"]["lag_s"]) == pytest.approx(custom.tonic_delay_s(), rel=1e-5)
    assert c["tonic"]["lag_s"] != d["tonic"]["lag_s"]


async def test_a_non_default_pipeline_says_so_in_its_cleaned_streams_metadata() -> None:
    default = await cleaned_blocks(None)
    custom = await cleaned_blocks(CUSTOM_EDA)
    eda_default = filtering_of(*default["eda_clean"])
    eda_custom = filtering_of(*custom["eda_clean"])
    # the default pipeline's metadata is what a default processor says
    assert eda_default == EdaProcessor(sampling_rate_hz=EDA_HZ).describe()
    # the configured one's is what its processor was built with, not the defaults
    assert eda_custom == EdaProcessor(sampling_rate_hz=EDA_HZ, **CUSTOM_EDA).describe()
    assert eda_custom["lowpass"]["lower"] == "1"
    assert eda_custom["tonic"]["window_s"] == "8"
    assert eda_custom != eda_default
    # the ECG cleaner was not configured: both describe the same filters
    assert filtering_of(*custom["ecg_clean"]) == filtering_of(*default["ecg_clean"])
    assert filtering_of(*custom["ecg_clean"]) == EcgCleaner(sampling_rate_hz=ECG_HZ).describe()


def test_a_cleaned_block_that_does_not_say_how_it_was_filtered_claims_no_filters() -> None:
    import numpy as np

    block = SampleBlock(
        source="x", stream="eda_clean", unit="uS", t=np.arange(3.0), values=np.ones((3, 1)),
        nominal_rate_hz=4.0,
    )  # fmt: skip
    spec = spec_for("physio/x/eda_clean", block)
    assert spec is not None
    assert spec.filtering == {}
    assert spec.extra == {"derived_from": "eda"}
