"""Typed bus events (pydantic v2 models).

Every event carries ``t``, its time in seconds on the session clock, and a ``type``
discriminator so that a JSON line can be parsed back into the right model with
:data:`EVENT_ADAPTER`. Events are immutable.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "EVENT_ADAPTER",
    "JSON_LIMITS",
    "Annotation",
    "AnnotationValues",
    "AnyEvent",
    "ClockStatus",
    "Command",
    "DeviceState",
    "DeviceStatus",
    "Estimate",
    "Event",
    "Features",
    "Gap",
    "HeartRate",
    "StressLevel",
]

DeviceState = Literal[
    "searching", "connecting", "connected", "disconnected", "reconnecting", "failed", "closed"
]
"""Connection states reported in :class:`DeviceStatus`."""

StressLevel = Literal["low", "medium", "high"]
"""Discrete stress levels for alerting."""


class _JsonLimits:
    """Bounds of the free-form JSON an event may carry (``extras``, ``args``, ``label``).

    Attributes:
        depth: nesting levels of objects and arrays (the top-level object is level 1).
        keys: keys of one object.
        items: values in the whole tree (every object member and array item).
        string: characters of one string (keys included) and of ``label``.
        key: characters of one object key.
        emotions: entries of ``emotions``.
    """

    depth = 8
    keys = 64
    items = 1024
    string = 4096
    key = 64
    emotions = 32


JSON_LIMITS: Final = _JsonLimits()
"""The bounds on free-form event fields: nesting ``depth`` (8), ``keys`` per object (64),
``items`` in a tree (1024), characters per ``string`` (4096) and per ``key`` (64), ``emotions``
entries (32). Beyond them an event does not validate (``too_deep``, ``too_many_keys``,
``string_too_long`` errors), so every event serialises to bounded, finite JSON."""

_INT64 = 1 << 63


def _json_error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def bounded_json(value: Any) -> Any:
    """A copy of ``value`` that JSON represents exactly, within :data:`JSON_LIMITS`.

    Accepts ``None``, booleans, integers within 64 bits, finite floats, strings, lists/tuples
    and string-keyed dicts (numpy scalars become Python numbers). Used by the validators of
    free-form fields, so that an event that validated can always be serialised.

    Raises:
        pydantic_core.PydanticCustomError: ``non_finite``, ``not_json``, ``too_deep``,
            ``too_many_keys``, ``string_too_long`` or ``too_large`` (a ``ValueError``).
    """
    count = [0]

    def walk(v: Any, depth: int) -> Any:
        count[0] += 1
        if count[0] > JSON_LIMITS.items + 1:  # the top-level container is not an item
            raise _json_error("too_large", "more values than the limit")
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            if not -_INT64 <= v < _INT64:
                raise _json_error("not_json", "integer outside 64 bits")
            return int(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                raise _json_error("non_finite", "NaN or infinity is not allowed")
            return float(v)
        if isinstance(v, str):
            if len(v) > JSON_LIMITS.string:
                raise _json_error("string_too_long", "a string is longer than the limit")
            return v
        item = getattr(v, "item", None)
        if item is not None and type(v).__module__ == "numpy":
            return walk(item(), depth)
        if isinstance(v, dict | list | tuple):
            if depth >= JSON_LIMITS.depth:
                raise _json_error("too_deep", "nested deeper than the limit")
            if isinstance(v, dict):
                if len(v) > JSON_LIMITS.keys:
                    raise _json_error("too_many_keys", "an object has more keys than the limit")
                out: dict[str, Any] = {}
                for k, x in v.items():
                    if not isinstance(k, str):
                        raise _json_error("not_json", "object keys must be strings")
                    if len(k) > JSON_LIMITS.key:
                        raise _json_error(
                            "string_too_long", "an object key is longer than the limit"
                        )
                    out[k] = walk(x, depth + 1)
                return out
            if len(v) > JSON_LIMITS.items:
                raise _json_error("too_large", "an array has more items than the limit")
            return [walk(x, depth + 1) for x in v]
        raise _json_error("not_json", "not a JSON value")

    return walk(value, 0)


class Event(BaseModel):
    """Base of every bus event.

    Attributes:
        t: time of the event in seconds on the session clock.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    t: float


class DeviceStatus(Event):
    """A device's connection state changed, or it reports battery/link facts.

    Attributes:
        source: pseudonymous source id.
        state: the connection state.
        detail: human-readable detail (never a raw address or personal data).
        battery_pct: battery level in percent, when known.
        attempt: reconnection attempt number, when reconnecting.
    """

    type: Literal["device_status"] = "device_status"
    source: str
    state: DeviceState
    detail: str | None = None
    battery_pct: int | None = None
    attempt: int | None = None


class ClockStatus(Event):
    """State and quality of a source's clock model (published periodically and on resets).

    Attributes:
        source: pseudonymous source id (or analyzer id).
        clock: which clock of the source (``sensor``, ``samples``, ``beats``...).
        offset_s: session time minus source time, as applied now (``None`` before the first
            observation).
        drift_ppm: how fast the source's clock runs relative to the session clock (+: fast).
        jitter_s: mean arrival delay above the latency-free envelope that the model removes
            (for round-trip clocks: the best round-trip delay).
        resets: times the source's clock jumped and the model re-anchored.
        observations: observations since the last (re-)anchoring.
        converged: the model's own quality test passed: for device clocks, the error bound is
            at most 1 ms (two converged devices agree within 2 ms); for round-trip clocks,
            drift is estimated. See docs/clock.md.
        error_bound_s: estimated bound of the error of times mapped now, seconds (device
            clocks: the 99 % credible radius, excluding the link's constant minimum latency,
            for delays whose density is above zero at their minimum, as a notification's wait
            for the next connection event; delays that rise gradually from their minimum make
            it too small, see docs/clock.md; round-trip clocks: the worst-case half width).
            ``None`` when the model has none (or the publisher is older).
        drift_sd_ppm: standard deviation of the drift estimate, ppm (``None`` when unknown).
    """

    type: Literal["clock_status"] = "clock_status"
    source: str
    clock: str
    offset_s: float | None
    drift_ppm: float
    jitter_s: float | None
    resets: int = Field(ge=0)
    observations: int = Field(ge=0)
    converged: bool
    error_bound_s: float | None = None
    drift_sd_ppm: float | None = None

    @field_validator("offset_s", "jitter_s", "error_bound_s", "drift_sd_ppm", mode="before")
    @classmethod
    def _undefined_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v


class Gap(Event):
    """An interval of a stream for which data is missing, with its exact extent.

    Attributes:
        source: pseudonymous source id.
        stream: the stream with the gap.
        start: session time of the last sample received before the gap.
        end: session time of the first sample received after the gap.
        n_missing: number of samples (or beats) known to be missing, when known.
        reason: why (``disconnect``, ``sequence``, ``dropped``...).
    """

    type: Literal["gap"] = "gap"
    source: str
    stream: str
    start: float
    end: float
    n_missing: int | None = None
    reason: str = "unknown"


class HeartRate(Event):
    """One heart-rate measurement, as a strap notifies it.

    Attributes:
        source: pseudonymous source id.
        hr_bpm: heart rate in beats per minute.
        rr_s: RR intervals in seconds carried by this notification (oldest first).
        energy_kj: cumulative energy expended in kJ, when the strap reports it.
        contact: skin contact; ``None`` when the strap does not support contact detection.
    """

    type: Literal["heart_rate"] = "heart_rate"
    source: str
    hr_bpm: float
    rr_s: tuple[float, ...] = ()
    energy_kj: int | None = None
    contact: bool | None = None


class Features(Event):
    """Features computed over one time window of one or more streams.

    Attributes:
        source: pseudonymous source id (or ``"session"`` for multi-source windows).
        window_start: session time where the window starts.
        window_end: session time where the window ends (``t`` equals it).
        values: feature name to value (``hr_mean_bpm``, ``rmssd_s``...); ``None`` when
            undefined (NaN and infinities given are stored as ``None``, so JSON stays valid).
        quality: quality indices in [0, 1] (``coverage``...); ``None`` when undefined (e.g.
            ``bvp_sqi`` of a window without pulse waves).
        flags: quality flags raised for this window (``low_coverage``...).
    """

    type: Literal["features"] = "features"
    source: str
    window_start: float
    window_end: float
    values: dict[str, float | None]
    quality: dict[str, float | None] = Field(default_factory=dict)
    flags: tuple[str, ...] = ()

    @field_validator("values", "quality", mode="before")
    @classmethod
    def _undefined_is_none(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: (None if isinstance(x, float) and not math.isfinite(x) else x)
                for k, x in v.items()
            }
        return v


class Estimate(Event):
    """An affect estimate for one window.

    Attributes:
        window_start: session time where the estimated window starts.
        window_end: session time where it ends.
        arousal: arousal in [0, 1] (0 calm, 1 highly aroused).
        valence: valence in [-1, 1], or ``None`` when nothing supports an estimate.
        confidence: confidence in [0, 1] of the arousal estimate.
        valence_confidence: confidence in [0, 1] of the valence estimate.
        stress_level: discrete stress level, when a level tracker runs.
        modalities: modalities that contributed (``hr``, ``eda``, ``face``...).
        sources: pseudonymous ids of the sources that contributed.
        flags: quality flags that lowered the confidence.
        model: identifier of the model that produced the estimate.
        provisional: ``True`` for placeholder models not validated on real data.
        revised: ``True`` when this estimate supersedes one published earlier for the same
            window (same ``window_start`` and ``window_end``), because annotations arrived late.
    """

    type: Literal["estimate"] = "estimate"
    window_start: float
    window_end: float
    arousal: float = Field(ge=0.0, le=1.0)
    valence: float | None = Field(default=None, ge=-1.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    valence_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    stress_level: StressLevel | None = None
    modalities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    model: str = ""
    provisional: bool = False
    revised: bool = False


class AnnotationValues(BaseModel):
    """What an analyzer judged, shared by :class:`Annotation` and its wire forms.

    Attributes:
        arousal: arousal in [0, 1] (0 calm, 1 highly aroused), when the analyzer estimates it.
        valence: valence in [-1, 1] (negative to positive), when the analyzer estimates it.
        confidence: analyzer confidence in [0, 1].
        emotions: categorical emotion probabilities in [0, 1] (name to probability).
        label: a free text label.
        extras: free-form JSON-serialisable extras.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    arousal: float | None = Field(default=None, ge=0.0, le=1.0)
    valence: float | None = Field(default=None, ge=-1.0, le=1.0)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    emotions: dict[str, float] = Field(default_factory=dict, max_length=JSON_LIMITS.emotions)
    label: str | None = Field(default=None, max_length=JSON_LIMITS.string)
    extras: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extras")
    @classmethod
    def _bounded_extras(cls, v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = bounded_json(v)
        return out

    @field_validator("emotions")
    @classmethod
    def _probabilities(cls, v: dict[str, float]) -> dict[str, float]:
        for name, p in v.items():
            if len(name) > JSON_LIMITS.key:
                raise _json_error("string_too_long", "an emotion name is longer than the limit")
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"emotion probability {name}={p} is outside [0, 1]")
        return v

    def values(self) -> dict[str, Any]:
        """The judged values as keyword arguments (for building an :class:`Annotation`)."""
        return {name: getattr(self, name) for name in AnnotationValues.model_fields}


class Annotation(Event, AnnotationValues):
    """An analyzer's judgement over a time span (face, voice, text, markers...).

    The analyzer contract (see ``docs/analyzers.md``): times are on the session clock, ``t``
    is when the judgement was made (usually ``end``); ``arousal`` and ``valence`` are on the
    same scales as :class:`Estimate`; ``confidence`` says how much the analyzer trusts this
    judgement (face found, speech present...), not how strong the emotion is. Published on
    ``analyzer/<modality>/<analyzer_id>``.

    Attributes:
        modality: ``face``, ``voice``, ``text``, ``marker`` or another modality name
            (lowercase letters, digits, ``_`` and ``-``; markers are never fused).
        analyzer_id: which analyzer produced it (no ``/``, ``+`` or ``#``).
        start: session time where the annotated span starts.
        end: session time where it ends (``>= start``).
        arousal: arousal in [0, 1] (0 calm, 1 highly aroused), when the analyzer estimates it.
        valence: valence in [-1, 1] (negative to positive), when the analyzer estimates it.
        confidence: analyzer confidence in [0, 1].
        emotions: categorical emotion probabilities in [0, 1] (name to probability; names
            lowercase, e.g. ``anger``, ``disgust``, ``fear``, ``happiness``, ``sadness``,
            ``surprise``, ``neutral``).
        label: a free text label (marker streams).
        extras: free-form JSON-serialisable extras.
    """

    type: Literal["annotation"] = "annotation"
    modality: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    analyzer_id: str = Field(pattern=r"^[^/+#]{1,64}$")
    start: float
    end: float

    @field_validator("end")
    @classmethod
    def _ordered(cls, v: float, info: Any) -> float:
        start = info.data.get("start")
        if start is not None and v < start:
            raise ValueError("end is before start")
        return v


class Command(Event):
    """A control command for the session (from an app, a dashboard, another process).

    Attributes:
        name: the command (``calibrate_start``, ``calibrate_stop``...).
        args: JSON-serialisable arguments.
        origin: where it came from (``mqtt``, ``local``...).
    """

    type: Literal["command"] = "command"
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    args: dict[str, Any] = Field(default_factory=dict)
    origin: str = "local"

    @field_validator("args")
    @classmethod
    def _bounded_args(cls, v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = bounded_json(v)
        return out


AnyEvent = Annotated[
    DeviceStatus | ClockStatus | Gap | HeartRate | Features | Estimate | Annotation | Command,
    Field(discriminator="type"),
]
"""Union of every event model, discriminated by ``type``."""

EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
"""Parses a dict or JSON into the right event model: ``EVENT_ADAPTER.validate_json(line)``."""
