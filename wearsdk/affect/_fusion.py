"""Late fusion of physiological estimates with camera, voice and text analyzer annotations.

Valence shows mostly in the face and the voice, arousal mostly in the body. Every analyzer
publishes :class:`~wearsdk.Annotation` events on the session clock; the physiological model
publishes one :class:`~wearsdk.Estimate` per window. :class:`LateFusion` combines them per
window (pure and synchronous: the session's fusion stage feeds it from the bus).

Alignment. An annotation belongs to a window ``[window_start, window_end]`` when its span
overlaps ``[window_end - lookback_s - tolerance_s, window_end + tolerance_s]``: the estimate
describes the state at the end of the window, and ``tolerance_s`` absorbs the residual clock
error of remote analyzers.

Per modality. Each annotation ``i`` gets a recency factor ``r_i = exp(-age_i / recency_tau_s)``,
its age being how long before the window end its span ended (0 when it reaches the end). The
modality's value is the mean of the annotations' values weighted by ``c_i r_i`` (``c_i`` the
analyzer's confidence) and its confidence is ``mean_r(c) * max(r)``: a confident but stale
judgement counts less than a fresh one.

Across modalities, for arousal and for valence separately, each modality ``m`` has a weight
``W[m]`` (:class:`ModalityWeight`); the fused value is the mean of the modalities' values
weighted by ``W[m] * conf[m]``; the fused confidence is ``sum(W[m] conf[m])`` over the modalities
present divided by ``sum(W[m])`` over the modalities expected (present ones, the configured
``expected`` ones, and by default every modality seen earlier in the session). So a camera
that stops sending lowers the confidence (and flags ``missing_face``) instead of breaking the
estimate; physiology alone, with nothing else expected, passes through unchanged.

Default weights and why (``physio`` is the physiological model's estimate):

=========  =======  =======  ==============================================================
modality   arousal  valence  rationale
=========  =======  =======  ==============================================================
physio     1.0      0.25     autonomic measures (heart rate, HRV, skin conductance) index
                             arousal well and valence poorly (Kreibig 2010, Biol. Psychol.
                             84:394; Lang et al. 1993, Psychophysiology 30:261)
face       0.35     1.0      smiling (AU12, zygomaticus) and frowning (AU4, corrugator) track
                             valence (Larsen et al. 2003, Psychophysiology 40:776); facial
                             arousal cues are weaker
voice      0.7      0.4      pitch, loudness and tempo track arousal well, valence poorly
                             (Juslin & Laukka 2003, Psychol. Bull. 129:770; Scherer 2003)
text       0.2      0.7      sentiment in words is about valence
other      0.3      0.3      an unknown modality: modest, symmetric trust
=========  =======  =======  ==============================================================

Watermark. Estimates are emitted on time, when the physiological window arrives, with the
annotations received so far. Windows stay open for revision for ``revise_within_s`` of
session time after their end (the watermark is the latest window end seen); an annotation
arriving later for an open window marks it dirty, and at the next window (or
:meth:`LateFusion.flush`) dirty windows whose fused values changed by more than
``revision_min_change`` (or whose contributing modalities changed) are emitted again with
``revised=True``. Annotations for windows already closed are counted in ``too_late``.
Memory is bounded: annotations and windows older than the horizon are forgotten, even when
no physiological window arrives (counted in ``expired``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from wearsdk._errors import ConfigError
from wearsdk._events import Annotation, Estimate

__all__ = [
    "DEFAULT_WEIGHTS",
    "FusionConfig",
    "FusionStatistics",
    "LateFusion",
    "ModalityWeight",
]

PHYSIO: Final = "physio"
"""Name of the physiological estimate as a modality in :attr:`FusionConfig.weights`."""

MODEL_ID: Final = "late-fusion-v1"
"""Appended to the physiological model's id in fused estimates."""


@dataclass(frozen=True, slots=True)
class ModalityWeight:
    """How much a modality is trusted for arousal and for valence (>= 0 each).

    Attributes:
        arousal: weight of the modality's arousal.
        valence: weight of the modality's valence.
    """

    arousal: float
    valence: float

    def __post_init__(self) -> None:
        if not (self.arousal >= 0 and self.valence >= 0):
            raise ConfigError(f"modality weights must be >= 0, got {self!r}")


DEFAULT_WEIGHTS: Final = MappingProxyType(
    {
        PHYSIO: ModalityWeight(arousal=1.0, valence=0.25),
        "face": ModalityWeight(arousal=0.35, valence=1.0),
        "voice": ModalityWeight(arousal=0.7, valence=0.4),
        "text": ModalityWeight(arousal=0.2, valence=0.7),
    }
)
"""Default weights per modality (see the module docs for the rationale)."""

_OTHER = ModalityWeight(arousal=0.3, valence=0.3)


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Settings of :class:`LateFusion` (see the module docs).

    Attributes:
        weights: weight per modality; ``physio`` is the physiological estimate.
        other: weight of a modality not listed in ``weights``.
        tolerance_s: clock tolerance around the window when matching annotations.
        lookback_s: how far before the window end annotations count.
        recency_tau_s: time constant of the recency weighting.
        revise_within_s: how long after its end a window can still be revised.
        revision_min_change: smallest change of a fused value that is worth a revision.
        expected: modalities always expected (their absence lowers the confidence).
        expect_seen: also expect every modality seen earlier in the session.
        ignore: modalities never fused (``marker``: labels, scripted truth, experiment events).
    """

    weights: Mapping[str, ModalityWeight] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    other: ModalityWeight = _OTHER
    tolerance_s: float = 0.5
    lookback_s: float = 10.0
    recency_tau_s: float = 5.0
    revise_within_s: float = 30.0
    revision_min_change: float = 0.01
    expected: tuple[str, ...] = ()
    expect_seen: bool = True
    ignore: tuple[str, ...] = ("marker",)

    def __post_init__(self) -> None:
        if not (
            self.tolerance_s >= 0
            and self.lookback_s >= 0
            and self.recency_tau_s > 0
            and self.revise_within_s >= 0
            and self.revision_min_change >= 0
        ):
            raise ConfigError(f"invalid fusion configuration: {self!r}")

    def weight(self, modality: str) -> ModalityWeight:
        """The weight of ``modality`` (``other`` when not listed)."""
        return self.weights.get(modality, self.other)


@dataclass
class FusionStatistics:
    """Counters of a :class:`LateFusion`."""

    windows: int = 0
    """Physiological windows fused (each gives one on-time estimate)."""
    annotations: int = 0
    """Annotations kept for fusion."""
    ignored: int = 0
    """Annotations without arousal or valence, or of an ignored modality."""
    late: int = 0
    """Annotations that arrived after an estimate they belong to was emitted."""
    too_late: int = 0
    """Annotations that arrived after every window they belong to was closed (dropped)."""
    revisions: int = 0
    """Revised estimates emitted."""
    expired: int = 0
    """Annotations forgotten, unused, because no window came within twice the horizon
    (``revise_within_s + lookback_s + tolerance_s``) of newer annotations."""


@dataclass(slots=True)
class _Window:
    physio: Estimate
    emitted: Estimate
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class _Evidence:
    value: float
    confidence: float


class LateFusion:
    """Fuses physiological estimates with analyzer annotations (see the module docs).

    Feed it with :meth:`add_annotation` and :meth:`add_physio` in arrival order; publish what
    they return.

    Args:
        config: the fusion settings.
    """

    def __init__(self, config: FusionConfig | None = None) -> None:
        self.config: FusionConfig = config or FusionConfig()
        """The fusion settings."""
        self.stats = FusionStatistics()
        """Counters."""
        self._annotations: deque[Annotation] = deque()
        self._windows: deque[_Window] = deque()
        self._seen: set[str] = set()
        self._watermark = -math.inf
        self._newest = -math.inf

    # -- input --------------------------------------------------------------------------------
    def add_annotation(self, annotation: Annotation) -> None:
        """Keep an annotation; mark emitted windows it belongs to for revision."""
        c = self.config
        if annotation.modality in c.ignore or (
            annotation.arousal is None and annotation.valence is None
        ):
            self.stats.ignored += 1
            return
        hit = False
        for w in self._windows:
            if self._belongs(annotation, w.physio):
                w.dirty = True
                hit = True
        if not hit and annotation.end < self._watermark - c.lookback_s - c.tolerance_s:
            # older than every window still open (or than the latest, when none is open)
            self.stats.too_late += 1
            return
        if hit:
            self.stats.late += 1
        self.stats.annotations += 1
        self._seen.add(annotation.modality)
        self._annotations.append(annotation)
        # bounded even when no physiological window comes: keep twice the useful horizon
        self._newest = max(self._newest, annotation.end)
        horizon = 2.0 * (c.revise_within_s + c.lookback_s + c.tolerance_s)
        while self._annotations and self._annotations[0].end < self._newest - horizon:
            self._annotations.popleft()
            self.stats.expired += 1

    def add_physio(self, estimate: Estimate) -> list[Estimate]:
        """Fuse a new physiological window; return pending revisions, then its estimate."""
        out = self._revisions()
        self._watermark = max(self._watermark, estimate.window_end)
        fused = self._fuse(estimate, revised=False)
        self._windows.append(_Window(estimate, fused))
        self.stats.windows += 1
        self._expire()
        out.append(fused)
        return out

    def flush(self) -> list[Estimate]:
        """Revisions still pending (call when the input ends)."""
        return self._revisions()

    # -- internals ----------------------------------------------------------------------------
    def _belongs(self, a: Annotation, physio: Estimate) -> bool:
        c = self.config
        lo = physio.window_end - c.lookback_s - c.tolerance_s
        return a.end >= lo and a.start <= physio.window_end + c.tolerance_s

    def _expire(self) -> None:
        c = self.config
        while self._windows and self._windows[0].physio.window_end < (
            self._watermark - c.revise_within_s
        ):
            self._windows.popleft()
        keep_after = self._watermark - c.revise_within_s - c.lookback_s - c.tolerance_s
        # annotations arrive roughly in order: drop from the left while they are too old
        while self._annotations and self._annotations[0].end < keep_after:
            self._annotations.popleft()

    def _revisions(self) -> list[Estimate]:
        out: list[Estimate] = []
        for w in self._windows:
            if not w.dirty:
                continue
            w.dirty = False
            fused = self._fuse(w.physio, revised=True)
            if self._changed(w.emitted, fused):
                w.emitted = fused
                out.append(fused)
                self.stats.revisions += 1
        return out

    def _changed(self, old: Estimate, new: Estimate) -> bool:
        eps = self.config.revision_min_change

        def moved(a: float | None, b: float | None) -> bool:
            if a is None or b is None:
                return (a is None) != (b is None)
            return abs(a - b) > eps

        return (
            old.modalities != new.modalities
            or moved(old.arousal, new.arousal)
            or moved(old.valence, new.valence)
            or moved(old.confidence, new.confidence)
            or moved(old.valence_confidence, new.valence_confidence)
        )

    def _modality_evidence(
        self, physio: Estimate, dimension: str
    ) -> tuple[dict[str, _Evidence], list[str]]:
        """Per-modality evidence for ``arousal`` or ``valence``; and contributing analyzers."""
        tau = self.config.recency_tau_s
        sums: dict[str, list[float]] = {}  # modality -> [Σ c r v, Σ c r, Σ r, max r]
        analyzers: list[str] = []
        for a in self._annotations:
            value = a.arousal if dimension == "arousal" else a.valence
            if value is None or not self._belongs(a, physio):
                continue
            age = max(0.0, physio.window_end - a.end)
            r = math.exp(-age / tau)
            s = sums.setdefault(a.modality, [0.0, 0.0, 0.0, 0.0])
            s[0] += a.confidence * r * value
            s[1] += a.confidence * r
            s[2] += r
            s[3] = max(s[3], r)
            analyzers.append(a.analyzer_id)
        evidence: dict[str, _Evidence] = {}
        for m, (cv, cw, rs, rmax) in sums.items():
            if cw > 0:
                evidence[m] = _Evidence(cv / cw, (cw / rs) * rmax)
        physio_value = physio.arousal if dimension == "arousal" else physio.valence
        physio_conf = physio.confidence if dimension == "arousal" else physio.valence_confidence
        if physio_value is not None:
            evidence[PHYSIO] = _Evidence(physio_value, physio_conf)
        return evidence, analyzers

    def _combine(
        self, evidence: dict[str, _Evidence], expected: set[str], dimension: str
    ) -> tuple[float | None, float]:
        def w(m: str) -> float:
            mw = self.config.weight(m)
            return mw.arousal if dimension == "arousal" else mw.valence

        num = sum(w(m) * e.confidence * e.value for m, e in evidence.items())
        den = sum(w(m) * e.confidence for m, e in evidence.items())
        total = sum(w(m) for m in expected | set(evidence))
        if den <= 0 or total <= 0:
            # no confident evidence: the plain mean of what there is, with no confidence
            if not evidence:
                return None, 0.0
            return sum(e.value for e in evidence.values()) / len(evidence), 0.0
        return num / den, min(1.0, den / total)

    def _fuse(self, physio: Estimate, *, revised: bool) -> Estimate:
        c = self.config
        arousal_ev, a_ids = self._modality_evidence(physio, "arousal")
        valence_ev, v_ids = self._modality_evidence(physio, "valence")
        expected = set(c.expected) | (self._seen if c.expect_seen else set())
        expected -= set(c.ignore)
        present = (set(arousal_ev) | set(valence_ev)) - {PHYSIO}
        if not present and not expected:
            # physiology alone, nothing else expected: pass it through unchanged
            return physio.model_copy(update={"revised": revised}) if revised else physio
        # physio is expected for the dimensions it provides
        arousal, arousal_conf = self._combine(arousal_ev, expected - {PHYSIO}, "arousal")
        valence_expected = {m for m in expected if c.weight(m).valence > 0}
        if physio.valence is not None:
            valence_expected.add(PHYSIO)
        valence, valence_conf = self._combine(valence_ev, valence_expected, "valence")
        missing = sorted(expected - present)
        extra_modalities = tuple(sorted(present))
        return physio.model_copy(
            update={
                "arousal": min(1.0, max(0.0, arousal if arousal is not None else physio.arousal)),
                "confidence": arousal_conf,
                "valence": None if valence is None else min(1.0, max(-1.0, valence)),
                "valence_confidence": valence_conf,
                "modalities": (*physio.modalities, *extra_modalities),
                "sources": tuple(dict.fromkeys((*physio.sources, *a_ids, *v_ids))),
                "flags": (*physio.flags, *(f"missing_{m}" for m in missing)),
                "model": f"{physio.model}+{MODEL_ID}" if physio.model else MODEL_ID,
                "revised": revised,
            }
        )
