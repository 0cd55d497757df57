"""What a wearsdk stream looks like as an LSL/XDF stream: names, types, channels, metadata.

One mapping serves the LSL outlets, the XDF recorder and the LSL inlets (in the other
direction), so a stream recorded by wearsdk, published by it, or read back by it carries the
same XDF-convention description (``desc/channels/channel/{label,unit,type}``,
``desc/acquisition/{manufacturer,model}``, ``desc/wearsdk/{version,source,stream,topic}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from wearsdk._events import Annotation, Estimate, Features, HeartRate
from wearsdk._types import SampleBlock
from wearsdk._version import __version__
from wearsdk.bus import BusItem
from wearsdk.io.lsl._channels import (
    CLEAN_STREAMS,
    LSL_TYPES,
    ChannelFormat,
    ChannelSpec,
    Route,
    pipeline_stream,
    route_channels,
    unit_known,
    unit_scale,
)
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
    "feature_channels",
    "feature_rows",
    "marker_spec",
    "pipeline_stream",
    "route_channels",
    "rows_of",
    "spec_for",
    "unit_known",
    "unit_scale",
]


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


def feature_channels() -> tuple[ChannelSpec, ...]:
    """Channels of a ``features`` stream created now: one per feature of
    :data:`~wearsdk.signals.FEATURE_REGISTRY`, in its order (entries are only appended, so a
    channel keeps its position across versions), features registered by plugins included.

    A stream keeps the channels it was created with: a feature registered after an outlet or
    a recording's stream exists is not in that stream.
    """  # noqa: D205
    global _feature_channels
    if len(_feature_channels) != len(FEATURE_REGISTRY):
        _feature_channels = tuple(
            ChannelSpec(spec.name, spec.unit, "Feature") for spec in FEATURE_REGISTRY.values()
        )
    return _feature_channels


_feature_channels: tuple[ChannelSpec, ...] = ()
FEATURE_CHANNELS: tuple[ChannelSpec, ...] = feature_channels()
"""The :func:`feature_channels` of the shipped features (those registered when
``wearsdk.io.lsl`` was imported); a ``features`` stream has these channels and, last, those
of features registered later by plugins."""


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
            channels=feature_channels(),
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


def feature_rows(
    features: Features, channels: tuple[ChannelSpec, ...] | None = None
) -> npt.NDArray[np.float64]:
    """One ``features`` sample: the values of ``channels`` (default :func:`feature_channels`),
    NaN where undefined."""  # noqa: D205, D209
    row = [features.values.get(c.label) for c in channels or feature_channels()]
    return np.array([[np.nan if v is None else v for v in row]], dtype=np.float64)


def affect_rows(estimate: Estimate) -> npt.NDArray[np.float64]:
    """One ``affect`` sample: arousal, valence (NaN when unknown), confidence."""
    valence = np.nan if estimate.valence is None else estimate.valence
    return np.array([[estimate.arousal, valence, estimate.confidence]], dtype=np.float64)


def rows_of(
    payload: BusItem, spec: StreamSpec | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Timestamps and values of a numeric stream message (see :func:`spec_for`), else ``None``.

    Args:
        payload: the message.
        spec: the spec the message's stream was created with; a ``features`` sample has its
            channels (default: :func:`feature_channels` now).
    """
    if isinstance(payload, SampleBlock):
        return payload.t, payload.values
    if isinstance(payload, HeartRate):
        return np.array([payload.t]), np.array([[payload.hr_bpm]], dtype=np.float64)
    if isinstance(payload, Features):
        return np.array([payload.t]), feature_rows(payload, spec.channels if spec else None)
    if isinstance(payload, Estimate):
        return np.array([payload.t]), affect_rows(payload)
    return None
