"""LSL stream types, channels and units: how a stream's channels map onto the pipeline's
streams (its type, unit conversions, routes)."""  # noqa: D205, D209

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

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
