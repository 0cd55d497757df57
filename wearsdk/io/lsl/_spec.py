"""What a wearsdk stream looks like as an LSL/XDF stream: names, types, channels, metadata.

One mapping serves the LSL outlets, the XDF recorder and the LSL inlets (in the other
direction), so a stream recorded by wearsdk, published by it, or read back by it carries the
same XDF-convention description (``desc/channels/channel/{label,unit,type}``,
``desc/acquisition/{manufacturer,model}``, ``desc/wearsdk/{version,source,stream,topic}``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from wearsdk._events import Annotation, Estimate, Features, HeartRate
from wearsdk._types import SampleBlock
from wearsdk._version import __version__
from wearsdk.bus import BusItem
from wearsdk.signals import FEATURE_REGISTRY, EcgCleaner, EdaProcessor

__all__ = [
    "AFFECT_CHANNELS",
    "FEATURE_CHANNELS",
    "LSL_TYPES",
    "ChannelFormat",
    "ChannelSpec",
    "Route",
    "StreamSpec",
    "affect_rows",
    "affect_spec",
    "block_spec",
    "clean_filtering",
    "feature_rows",
    "marker_spec",
    "pipeline_stream",
    "route_channels",
    "rows_of",
    "spec_for",
    "unit_known",
    "unit_scale",
]

ChannelFormat = Literal["float32", "double64", "string", "int32", "int16", "int8", "int64"]
"""XDF/LSL channel formats."""

LSL_TYPES: dict[str, str] = {
    "ecg": "ECG",
    "eda": "EDA",
    "rr": "RR",
    "hr": "HR",
    "bvp": "PPG",
    "ppg": "PPG",
    "acc": "ACC",
    "temp": "Temperature",
    "resp": "Respiration",
    "ecg_clean": "ECG",
    "eda_clean": "EDA",
}
"""LSL stream (and channel) type of each wearsdk stream name."""

CLEAN_STREAMS: dict[str, str] = {"ecg_clean": "ecg", "eda_clean": "eda"}
"""Cleaned streams the pipeline can publish, and the raw stream each one is derived from."""

# LSL type (upper case) -> wearsdk stream name; the reverse of LSL_TYPES plus common synonyms
_STREAM_OF_TYPE: dict[str, str] = {
    "ECG": "ecg",
    "EKG": "ecg",
    "EDA": "eda",
    "GSR": "eda",
    "SCL": "eda",
    "RR": "rr",
    "IBI": "rr",
    "HR": "hr",
    "HEARTRATE": "hr",
    "PPG": "bvp",
    "BVP": "bvp",
    "ACC": "acc",
    "ACCELEROMETER": "acc",
    "TEMPERATURE": "temp",
    "TEMP": "temp",
    "RESPIRATION": "resp",
    "RESP": "resp",
}

# unit conversions into the units the pipeline expects: stream -> {unit as written: (unit, scale)}
_UNITS: dict[str, dict[str, tuple[str, float]]] = {
    "ecg": {"uv": ("uV", 1.0), "microvolts": ("uV", 1.0), "mv": ("uV", 1e3),
            "millivolts": ("uV", 1e3), "v": ("uV", 1e6), "volts": ("uV", 1e6)},
    "eda": {"us": ("uS", 1.0), "microsiemens": ("uS", 1.0), "µs": ("uS", 1.0),
            "ms": ("uS", 1e3), "s": ("uS", 1e6)},
    "rr": {"s": ("s", 1.0), "seconds": ("s", 1.0), "ms": ("s", 1e-3),
           "milliseconds": ("s", 1e-3)},
    "acc": {"mg": ("mG", 1.0), "millig": ("mG", 1.0), "g": ("mG", 1e3), "gravity": ("mG", 1e3),
            "m/s^2": ("mG", 1e3 / 9.80665), "m/s2": ("mG", 1e3 / 9.80665),
            "m/s²": ("mG", 1e3 / 9.80665), "ms^-2": ("mG", 1e3 / 9.80665),
            "m.s-2": ("mG", 1e3 / 9.80665), "m s-2": ("mG", 1e3 / 9.80665),
            "1/64g": ("mG", 1e3 / 64)},
    "hr": {"bpm": ("bpm", 1.0), "1/min": ("bpm", 1.0), "beats/min": ("bpm", 1.0),
           "min^-1": ("bpm", 1.0), "hz": ("bpm", 60.0)},
    "temp": {"degc": ("degC", 1.0), "°c": ("degC", 1.0), "c": ("degC", 1.0),
             "celsius": ("degC", 1.0), "deg c": ("degC", 1.0)},
}  # fmt: skip
_DEFAULT_UNIT = {"ecg": "uV", "eda": "uS", "rr": "s", "hr": "bpm", "acc": "mG", "temp": "degC"}


def pipeline_stream(lsl_type: str) -> str | None:
    """The wearsdk stream name for an LSL type (``ECG`` -> ``ecg``, ``GSR`` -> ``eda``...).

    Returns:
        The stream name, or ``None`` when the type is not a known physiological kind.
    """
    return _STREAM_OF_TYPE.get(lsl_type.strip().upper().replace(" ", ""))


def unit_scale(stream: str, unit: str) -> tuple[str, float]:
    """The unit the pipeline wants for ``stream`` and the factor from ``unit`` to it.

    Units are converted for ``ecg`` (uV, mV, V), ``eda`` (uS, mS, S), ``rr`` (s, ms), ``acc``
    (mG, g, m/s^2), ``hr`` (bpm, Hz) and ``temp`` (degC). An empty unit is taken to be the
    pipeline's unit; an unknown one is kept as is (factor 1): :func:`unit_known` tells them
    apart, so that a reader can report it.
    """
    if not unit:
        return _DEFAULT_UNIT.get(stream, ""), 1.0
    table = _UNITS.get(stream, {})
    return table.get(unit.strip().lower(), (unit, 1.0))


def unit_known(stream: str, unit: str) -> bool:
    """Whether :func:`unit_scale` knows ``unit`` for ``stream`` (an empty unit is not known).

    Streams whose processing does not depend on the unit (``ecg``, ``bvp``: beat detection
    is scale-free) know every unit.
    """
    if not unit.strip():
        return False
    if stream in ("ecg", "bvp", "ppg") or stream not in _UNITS:
        return True
    return unit.strip().lower() in _UNITS[stream]


@dataclass(frozen=True, slots=True)
class Route:
    """Which channels of an LSL/XDF stream feed which wearsdk stream, and how to scale them.

    Attributes:
        stream: the wearsdk stream name (``ecg``, ``eda``, ``rr``...).
        indices: the channel indices, in order.
        labels: the channel names on the bus.
        unit: the unit on the bus.
        scale: factor from the stream's unit to ``unit``.
    """

    stream: str
    indices: tuple[int, ...]
    labels: tuple[str, ...]
    unit: str
    scale: float = 1.0


def route_channels(stream_type: str, channels: list[ChannelSpec]) -> list[Route]:
    """Split a stream's channels by kind: the channel's own type, else the stream's type.

    A ``Physio`` stream with an ``ECG`` and an ``EDA`` channel gives an ``ecg`` and an ``eda``
    route; an ``ECG`` stream whose channels carry no type gives one ``ecg`` route. Types that
    are not physiological kinds keep their lowercased name (``eeg``...).
    """
    fallback = pipeline_stream(stream_type) or (
        re.sub(r"[^a-z0-9_]", "", stream_type.lower()) or "lsl"
    )
    groups: dict[str, list[int]] = {}
    for i, ch in enumerate(channels):
        kind = (pipeline_stream(ch.type) if ch.type else None) or fallback
        groups.setdefault(kind, []).append(i)
    routes = []
    for stream, idx in groups.items():
        unit, scale = unit_scale(stream, channels[idx[0]].unit)
        if len(idx) == 1:
            labels: tuple[str, ...] = (channels[idx[0]].label or stream,)
        else:
            labels = tuple(channels[i].label or f"{stream}_{k}" for k, i in enumerate(idx))
        if len(set(labels)) != len(labels):
            labels = tuple(f"{stream}_{k}" for k in range(len(idx)))
        routes.append(Route(stream, tuple(idx), labels, unit, scale))
    return routes


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel's XDF metadata.

    Attributes:
        label: channel label.
        unit: unit of its values.
        type: channel type (``ECG``, ``EDA``...).
    """

    label: str
    unit: str = ""
    type: str = ""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """An LSL/XDF stream's header: what an outlet announces and a recording stores.

    Attributes:
        key: the identity of the stream inside wearsdk (bus topic + kind); one stream per key.
        name: LSL stream name.
        type: LSL content type (``ECG``, ``Affect``, ``Markers``...).
        channels: per-channel metadata (their count is the channel count).
        nominal_srate: nominal rate in Hz, 0 for irregular streams.
        channel_format: XDF channel format.
        source_id: LSL source id (unique and stable: wearsdk, pseudonym, stream).
        source: pseudonymous wearsdk source id (never a raw address).
        stream: the wearsdk stream name.
        topic: the bus topic it comes from.
        manufacturer: ``desc/acquisition/manufacturer``.
        extra: additional ``desc/wearsdk`` fields.
        filtering: ``desc/filtering`` sections (``highpass``, ``lowpass``...: field to text),
            for streams that went through filters.
    """

    key: str
    name: str
    type: str
    channels: tuple[ChannelSpec, ...]
    nominal_srate: float = 0.0
    channel_format: ChannelFormat = "double64"
    source_id: str = ""
    source: str = ""
    stream: str = ""
    topic: str = ""
    manufacturer: str = "wearsdk"
    extra: dict[str, str] = field(default_factory=dict)
    filtering: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def channel_count(self) -> int:
        """Number of channels."""
        return len(self.channels)

    def desc_fields(self) -> dict[str, str]:
        """The ``desc/wearsdk`` fields: version, source pseudonym, stream, topic, extras."""
        out = {
            "version": __version__,
            "source": self.source,
            "stream": self.stream,
            "topic": self.topic,
        }
        out.update(self.extra)
        return out

    def header_xml(self, *, created_at: float, uid: str, hostname: str = "") -> str:
        """The XDF StreamHeader XML (the same ``info`` document LSL serves for an outlet)."""
        chans = "".join(
            f"<channel><label>{escape(c.label)}</label><unit>{escape(c.unit)}</unit>"
            f"<type>{escape(c.type)}</type></channel>"
            for c in self.channels
        )
        wear = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.desc_fields().items())
        filt = "".join(
            f"<{name}>"
            + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
            + f"</{name}>"
            for name, fields in self.filtering.items()
        )
        return (
            '<?xml version="1.0"?><info>'
            f"<name>{escape(self.name)}</name><type>{escape(self.type)}</type>"
            f"<channel_count>{self.channel_count}</channel_count>"
            f"<channel_format>{self.channel_format}</channel_format>"
            f"<source_id>{escape(self.source_id)}</source_id>"
            f"<nominal_srate>{_xml_float(self.nominal_srate)}</nominal_srate>"
            f"<version>1.1</version><created_at>{_xml_float(created_at)}</created_at>"
            f"<uid>{escape(uid)}</uid><session_id>default</session_id>"
            f"<hostname>{escape(hostname)}</hostname>"
            f"<desc><channels>{chans}</channels>"
            + (f"<filtering>{filt}</filtering>" if filt else "")
            + f"<acquisition><manufacturer>{escape(self.manufacturer)}</manufacturer>"
            f"<model>{escape(self.stream)}</model></acquisition>"
            f"<wearsdk>{wear}</wearsdk></desc></info>"
        )


def _xml_float(x: float) -> str:
    return repr(float(x)) if math.isfinite(x) else "0"


AFFECT_CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("arousal", "normalized", "Arousal"),
    ChannelSpec("valence", "normalized", "Valence"),
    ChannelSpec("confidence", "normalized", "Confidence"),
)
"""Channels of the ``affect`` stream (type ``Affect``); a missing valence is NaN."""

FEATURE_CHANNELS: tuple[ChannelSpec, ...] = tuple(
    ChannelSpec(spec.name, spec.unit, "Feature") for spec in FEATURE_REGISTRY.values()
)
"""Channels of the ``features`` stream (one sample per window, NaN where undefined): every
feature of :data:`~wearsdk.signals.FEATURE_REGISTRY` when this module was imported, in its
order (entries are only appended, so a channel keeps its position across versions)."""


def clean_filtering(stream: str, rate_hz: float | None) -> dict[str, dict[str, str]]:
    """The ``desc/filtering`` description of the *default* processors of a cleaned stream.

    What :meth:`EcgCleaner.describe <wearsdk.signals.EcgCleaner.describe>` (``ecg_clean``) or
    :meth:`EdaProcessor.describe <wearsdk.signals.EdaProcessor.describe>` (``eda_clean``) of
    a default processor at ``rate_hz`` says; empty for other streams or no rate. Stream specs
    do not use it: a cleaned block carries the description of the processor that made it
    (:attr:`SampleBlock.filtering <wearsdk.SampleBlock.filtering>`).
    """
    if not rate_hz or rate_hz <= 0:
        return {}
    if stream == "ecg_clean":
        return EcgCleaner(sampling_rate_hz=rate_hz).describe()
    if stream == "eda_clean":
        return EdaProcessor(sampling_rate_hz=rate_hz).describe()
    return {}


def block_spec(topic: str, block: SampleBlock, *, manufacturer: str = "wearsdk") -> StreamSpec:
    """The stream spec of a sample block's stream (one per topic, unit and channel set).

    Cleaned streams (``ecg_clean``, ``eda_clean``) carry a ``desc/wearsdk/derived_from``
    field naming the raw stream and, in ``desc/filtering``, the block's own description of its
    filters (:attr:`SampleBlock.filtering <wearsdk.SampleBlock.filtering>`, written by the
    processor that made it, so the metadata is that of the pipeline actually run; none when
    the block does not say).
    """
    kind = LSL_TYPES.get(block.stream, block.stream.upper())
    channels = tuple(ChannelSpec(c, block.unit, kind) for c in block.channels)
    rate = block.nominal_rate_hz or 0.0
    derived = CLEAN_STREAMS.get(block.stream)
    return StreamSpec(
        key=f"{topic}|{block.unit}|{','.join(block.channels)}",
        name=f"{block.source}-{block.stream}",
        type=kind,
        channels=channels,
        nominal_srate=float(rate),
        source_id=f"wearsdk:{block.source}:{block.stream}",
        source=block.source,
        stream=block.stream,
        topic=topic,
        manufacturer=manufacturer,
        extra={"derived_from": derived} if derived else {},
        filtering=dict(block.filtering) if derived else {},
    )


def spec_for(topic: str, payload: BusItem, *, manufacturer: str = "wearsdk") -> StreamSpec | None:
    """The numeric stream a bus message belongs to, or ``None`` (other events).

    Sample blocks give one stream per topic; :class:`~wearsdk.HeartRate` events the
    ``<source>-heartrate`` stream (``HR``, bpm); :class:`~wearsdk.Features` the ``features``
    stream; :class:`~wearsdk.Estimate` the ``affect`` stream (type ``Affect``).
    """
    if isinstance(payload, SampleBlock):
        return block_spec(topic, payload, manufacturer=manufacturer)
    if isinstance(payload, HeartRate):
        return StreamSpec(
            key=f"{topic}|heartrate",
            name=f"{payload.source}-heartrate",
            type="HR",
            channels=(ChannelSpec("hr", "bpm", "HR"),),
            source_id=f"wearsdk:{payload.source}:heartrate",
            source=payload.source,
            stream="heartrate",
            topic=topic,
            manufacturer=manufacturer,
        )
    if isinstance(payload, Features):
        return StreamSpec(
            key=f"{topic}|features",
            name=f"{payload.source}-features",
            type="Features",
            channels=FEATURE_CHANNELS,
            source_id=f"wearsdk:{payload.source}:features",
            source=payload.source,
            stream="features",
            topic=topic,
        )
    if isinstance(payload, Estimate):
        return affect_spec(topic)
    return None


def marker_spec(topic: str, annotation: Annotation) -> StreamSpec | None:
    """The string stream of a marker source (``<analyzer id>-markers``, type ``Markers``).

    Marker annotations (``modality="marker"``: experiment markers read from an LSL marker
    stream, E4 tags, the demo's phase markers) get a stream of their own in a recording,
    one label per sample, as LabRecorder would store the experiment's marker stream; other
    annotations give ``None``.
    """
    if annotation.modality != "marker":
        return None
    return StreamSpec(
        key=f"{topic}|markers",
        name=f"{annotation.analyzer_id}-markers",
        type="Markers",
        channels=(ChannelSpec("marker", "", "Marker"),),
        channel_format="string",
        source_id=f"wearsdk:{annotation.analyzer_id}:markers",
        source=annotation.analyzer_id,
        stream="markers",
        topic=topic,
    )


def affect_spec(topic: str = "affect/estimate") -> StreamSpec:
    """The ``affect`` stream: type ``Affect``, channels ``arousal``, ``valence``, ``confidence``.

    The fused estimates (``affect/estimate``) are the stream ``affect`` (source id
    ``wearsdk:affect``); estimates on another topic get a name of their own, so that a
    recording tells them apart: ``affect/physio`` (the physiological model alone, when fusion
    runs) is ``affect-physio``.
    """
    name = "affect" if topic == "affect/estimate" else topic.replace("/", "-")
    return StreamSpec(
        key=f"{topic}|affect",
        name=name,
        type="Affect",
        channels=AFFECT_CHANNELS,
        source_id=f"wearsdk:{name}",
        source="session",
        stream=name,
        topic=topic,
    )


def feature_rows(features: Features) -> npt.NDArray[np.float64]:
    """One ``features`` sample: the :data:`FEATURE_CHANNELS` values (NaN where undefined)."""
    row = [features.values.get(c.label) for c in FEATURE_CHANNELS]
    return np.array([[np.nan if v is None else v for v in row]], dtype=np.float64)


def affect_rows(estimate: Estimate) -> npt.NDArray[np.float64]:
    """One ``affect`` sample: arousal, valence (NaN when unknown), confidence."""
    valence = np.nan if estimate.valence is None else estimate.valence
    return np.array([[estimate.arousal, valence, estimate.confidence]], dtype=np.float64)


def rows_of(payload: BusItem) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Timestamps and values of a numeric stream message (see :func:`spec_for`), else ``None``."""
    if isinstance(payload, SampleBlock):
        return payload.t, payload.values
    if isinstance(payload, HeartRate):
        return np.array([payload.t]), np.array([[payload.hr_bpm]], dtype=np.float64)
    if isinstance(payload, Features):
        return np.array([payload.t]), feature_rows(payload)
    if isinstance(payload, Estimate):
        return np.array([payload.t]), affect_rows(payload)
    return None
