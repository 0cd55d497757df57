"""The feature stage's parts: settings, window output, and the provider contract.

A :class:`FeatureProvider` turns the streams of one modality into window features: it takes the
samples of its streams (``push``), keeps what its windows need (per-hop
:class:`~wearsdk.signals._bins.BinnedStream` bins obtained from its :class:`FeatureHost`,
beats, events), and writes its features, quality indices and flags into each
:class:`WindowOutput`. The :class:`~wearsdk.signals.FeatureExtractor` owns the windows' clock
(when a window is complete), the bins' memory bound and the counters; it calls its providers
in order, so their outputs (and flags) come in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.signals._bins import BinnedStream
from wearsdk.signals._filters import FilterDescription

__all__ = [
    "HR_PLAUSIBLE_BPM",
    "CleanSignal",
    "FeatureConfig",
    "FeatureHost",
    "FeatureProvider",
    "WindowFeatures",
    "WindowOutput",
]

HR_PLAUSIBLE_BPM = (25.0, 240.0)
"""Heart rates (and RR intervals, as 60 / bpm) outside this range are treated as missing."""


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Settings of :class:`~wearsdk.signals.FeatureExtractor`.

    Attributes:
        window_s: window length, a whole number of hops.
        hop_s: hop between window ends.
        min_coverage: below this fraction of expected data a stream's features are NaN.
        stale_s: a stream silent for this long (or whose processing has fallen this far
            behind its own input) no longer holds windows back; see
            :meth:`~wearsdk.signals.FeatureExtractor.ready`.
        motion_threshold_g: ACC magnitude standard deviation that flags ``motion``.
        lf_min_window_s: shortest window for which LF/HF is computed.
        max_lead_s: how far one stream may run ahead of the windows still pending (memory
            bound); samples further ahead are dropped and counted.
        hr_flat_s: a device heart rate repeating one value this long is a frozen sensor: its
            samples from then on are treated as missing (``implausible_hr``).
    """

    window_s: float = 60.0
    hop_s: float = 1.0
    min_coverage: float = 0.6
    stale_s: float = 10.0
    motion_threshold_g: float = 0.1
    lf_min_window_s: float = 50.0
    max_lead_s: float = 3600.0
    hr_flat_s: float = 120.0

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.hop_s > 0):
            raise ConfigError("window_s and hop_s must be > 0")
        ratio = self.window_s / self.hop_s
        if abs(ratio - round(ratio)) > 1e-9:
            raise ConfigError("window_s must be a whole number of hops")
        if not 0 <= self.min_coverage <= 1:
            raise ConfigError("min_coverage must be within [0, 1]")


@dataclass(frozen=True, slots=True)
class WindowFeatures:
    """The features of one window.

    Attributes:
        start: window start (session seconds).
        end: window end.
        values: feature name to value (NaN when undefined or not covered); every name is
            registered (see :data:`~wearsdk.signals.FEATURE_REGISTRY`).
        quality: quality indices in [0, 1] (``<stream>_coverage``...).
        flags: quality flags (``low_coverage_rr``, ``motion``...).
        modalities: streams that contributed usable features.
    """

    start: float
    end: float
    values: dict[str, float]
    quality: dict[str, float]
    flags: tuple[str, ...]
    modalities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CleanSignal:
    """A block of a cleaned signal, sample for sample aligned with the raw block it comes from.

    Attributes:
        stream: ``ecg_clean`` (one channel, the input's unit) or ``eda_clean`` (channels
            ``eda_clean``, ``eda_tonic``, ``eda_phasic``, µS).
        source_stream: the raw stream it comes from (``ecg``, ``eda``).
        t: the raw samples' times.
        values: shape ``(n, channels)``.
        channels: channel names.
        filtering: how the processor that made it filtered the raw signal
            (:meth:`EcgCleaner.describe <wearsdk.signals.EcgCleaner.describe>`,
            :meth:`EdaProcessor.describe <wearsdk.signals.EdaProcessor.describe>`).
    """

    stream: str
    source_stream: str
    t: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    channels: tuple[str, ...]
    filtering: FilterDescription = field(default_factory=dict)


@dataclass(slots=True)
class WindowOutput:
    """One window being assembled: where it lies and what the providers wrote so far.

    Attributes:
        end_bin: index of the window's last hop bin.
        n_bins: hop bins per window.
        start: window start (session seconds).
        end: window end.
        values: features written so far.
        quality: quality indices written so far.
        flags: flags raised so far, in order.
        modalities: streams that gave usable features so far, in order.
    """

    end_bin: int
    n_bins: int
    start: float
    end: float
    values: dict[str, float] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)


class FeatureHost(Protocol):
    """What a provider may use of the extractor that runs it."""

    config: FeatureConfig
    keep_clean: bool
    dropped: int
    implausible: dict[str, int]

    def binned(self, name: str, rate: float | None, channels: int = 1) -> BinnedStream:
        """The per-hop bins named ``name`` (created on first use, owned by the caller)."""
        ...

    def refuse(self, stream: str, reason: str, n: int) -> None:
        """Declare ``stream`` unusable (its ``n`` samples dropped, and all that follow)."""
        ...

    def emit_clean(self, signal: CleanSignal) -> None:
        """Keep a cleaned block for :meth:`~wearsdk.signals.FeatureExtractor.take_clean`."""
        ...


class FeatureProvider:
    """Window features of one modality (subclass it to add a modality or a feature).

    A subclass names the bus streams it takes in :attr:`streams` and the registered features
    it writes in :attr:`features`; the extractor refuses one that names an unregistered
    feature. Bins it creates with :meth:`FeatureHost.binned` count for the windows' clock:
    a window is complete when every active stream's bins have passed it (see
    :meth:`watermark`).

    Args:
        host: the extractor that runs it.
    """

    streams: ClassVar[tuple[str, ...]] = ()
    """Bus stream names it takes (``rr``, ``ecg``...)."""
    features: ClassVar[tuple[str, ...]] = ()
    """The registered feature names it writes."""

    def __init__(self, host: FeatureHost) -> None:
        self.host = host
        self.config = host.config

    def push(
        self,
        stream: str,
        t: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        rate: float | None,
    ) -> None:
        """Take a block of one of its streams (``values`` shape ``(n, channels)``)."""
        raise NotImplementedError

    def watermark(self, name: str, binned: BinnedStream, *, final: bool) -> float:
        """How far the windows of its bins ``name`` are complete (default: their data).

        ``final`` is true at the end of the data (:meth:`flush` has run).
        """
        return binned.watermark

    def window(self, w: WindowOutput) -> None:
        """Write its features, quality indices, flags and modalities of one window."""
        raise NotImplementedError

    def forget(self, before: float) -> None:
        """Drop what no pending window (all start after ``before``) needs."""

    def flush(self) -> None:
        """End of the data: decide what it was waiting for (last beats...)."""


def nominal_rate(kind: str, rate: float | None) -> float:
    """The nominal rate a processor needs (a ConfigError without one)."""
    if not rate or rate <= 0:
        raise ConfigError(f"{kind} processing needs the stream's nominal rate (irregular stream)")
    return rate


class Rows:
    """Rows in time order (column 0: time), added at the end, dropped from the front, in one
    contiguous array (grown or compacted when full), so a window's rows are a slice.
    """  # noqa: D205

    __slots__ = ("_data", "_hi", "_lo")

    def __init__(self, width: int) -> None:
        self._data = np.empty((64, width))
        self._lo = self._hi = 0

    def extend(self, m: int) -> npt.NDArray[np.float64]:
        """Append ``m`` rows; return them, for the caller to fill."""
        if self._hi + m > self._data.shape[0]:
            live = self._hi - self._lo
            data = self._data
            if 2 * (live + m) > data.shape[0]:
                data = np.empty((2 * (live + m), data.shape[1]))
            data[:live] = self._data[self._lo : self._hi]
            self._data, self._lo, self._hi = data, 0, live
        self._hi += m
        return self._data[self._hi - m : self._hi]

    def forget(self, before: float) -> None:
        """Drop the rows at or before ``before``."""
        t = self._data[self._lo : self._hi, 0]
        self._lo += int(np.searchsorted(t, before, side="right"))

    def window(
        self, start: float, end: float, *, closed: Literal["right", "left"] = "right"
    ) -> npt.NDArray[np.float64]:
        """The rows with ``start < t <= end`` (``closed="left"``: ``start <= t < end``)."""
        live = self._data[self._lo : self._hi]
        a, b = np.searchsorted(live[:, 0], (start, end), side=closed).tolist()
        return live[a:b]


def before_or_at(t: float) -> float:
    """The float just below ``t`` (windows of ``[start, end)`` rows forget up to it)."""
    return math.nextafter(t, -math.inf)
