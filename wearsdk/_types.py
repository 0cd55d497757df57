"""Sample blocks: the unit of signal data that flows through wearsdk.

A BLE notification, an LSL chunk or a slice of a file becomes one :class:`SampleBlock`, a
numpy batch with per-sample timestamps on the session clock. Per-sample Python objects are never
created on the data path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["SampleBlock"]


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """A batch of samples from one stream of one source.

    Attributes:
        source: pseudonymous source id (never a raw device address).
        stream: lowercase stream name (``ecg``, ``rr``, ``eda``, ``acc``...).
        unit: unit of ``values`` (``uV``, ``s``, ``uS``, ``mG``...).
        t: per-sample timestamps, float64 seconds on the session clock, shape ``(n,)``,
            non-decreasing.
        values: samples, shape ``(n, channels)``.
        channels: channel names, one per column of ``values``.
        nominal_rate_hz: the nominal sampling rate, or ``None`` for irregular streams (RR).
        filtering: for a cleaned stream, how the processor that made it filtered the raw one
            (XDF ``desc/filtering`` sections; empty for raw streams). Not serialised.
    """

    source: str
    stream: str
    unit: str
    t: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    channels: tuple[str, ...] = field(default=())
    nominal_rate_hz: float | None = None
    filtering: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        t = np.asarray(self.t, dtype=np.float64)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if t.ndim != 1 or values.ndim != 2 or values.shape[0] != t.shape[0]:
            raise ConfigError(
                f"SampleBlock {self.source}/{self.stream}: t has shape {t.shape} and values "
                f"{values.shape}; expected (n,) and (n, channels)"
            )
        channels = self.channels or ((self.stream,) if values.shape[1] == 1 else ())
        if not channels:
            channels = tuple(f"{self.stream}_{i}" for i in range(values.shape[1]))
        if len(channels) != values.shape[1]:
            raise ConfigError(
                f"SampleBlock {self.source}/{self.stream}: {len(channels)} channel names for "
                f"{values.shape[1]} columns"
            )
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "channels", tuple(channels))

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def t_start(self) -> float:
        """Timestamp of the first sample (``nan`` for an empty block)."""
        return float(self.t[0]) if len(self) else float("nan")

    @property
    def t_end(self) -> float:
        """Timestamp of the last sample (``nan`` for an empty block)."""
        return float(self.t[-1]) if len(self) else float("nan")

    def to_json_dict(self, unix_offset_s: float) -> dict[str, Any]:
        """A JSON-ready dict: ``type``, ``source``, ``stream``, ``unit``, ``channels``, ``t``,
        ``t_unix`` (lists) and ``values`` (a list of per-sample lists).
        """  # noqa: D205
        return {
            "type": "samples",
            "source": self.source,
            "stream": self.stream,
            "unit": self.unit,
            "channels": list(self.channels),
            "nominal_rate_hz": self.nominal_rate_hz,
            "t": self.t.tolist(),
            "t_unix": (self.t + unix_offset_s).tolist(),
            "values": self.values.tolist(),
        }
