"""Adapters for analyzer output files: OpenFace 2.0, py-feat, and any CSV/JSONL table.

Each adapter returns :class:`FileAnnotations`: annotations with times in seconds from the
start of the analysed media (file time), plus counts of the rows used and dropped. Replay them
against a session or a recording with :class:`~wearsdk.analyzers.AnnotationReplay`, which maps
file time 0 onto the session clock.

Bad rows (missing or non-numeric values, values out of range) are counted in ``dropped`` and
skipped; a file that lacks a required column raises :class:`AnnotationFileError`.

OpenFace 2.0 heuristics (``FeatureExtraction`` CSV: ``frame, face_id, timestamp, confidence,
success, ..., AU01_r ... AU45_r, AU01_c ... AU45_c``; intensities ``_r`` on 0-5). Frames with
``success == 1`` and ``confidence >= min_confidence`` are averaged per window, intensities
scaled to [0, 1] (``x = AU_r / 5``):

- positive affect ``pos = (x06 + x12) / 2``: the Duchenne smile, cheek raiser AU6 with lip
  corner puller AU12 (Ekman, Davidson & Friesen 1990, J. Pers. Soc. Psychol. 58:342);
  zygomaticus activity tracks positive valence (Larsen, Norris & Cacioppo 2003,
  Psychophysiology 40:776);
- negative affect ``neg = 0.5 x04 + 0.3 x15 + 0.2 x09``: brow lowerer AU4 (corrugator, which
  tracks negative valence, Larsen et al. 2003), lip corner depressor AU15 (sadness) and nose
  wrinkler AU9 (disgust) from the EMFACS prototypes (Friesen & Ekman 1983);
- ``valence = tanh(3 (pos - neg))``;
- arousal from the eye and mouth opening of surprise and fear prototypes, AU1, AU2 (brow
  raisers), AU5 (upper lid raiser) and AU26 (jaw drop) (EMFACS), and the overall facial
  activity: ``arousal = clip(0.1 + 2 (0.6 mean(x01, x02, x05, x26) + 0.4 mean(all x)), 0, 1)``;
- ``confidence = 0.6 * mean(frame confidence) * fraction of usable frames``: the 0.6 ceiling
  says these are coarse heuristics, not a validated model.

py-feat (``Fex`` CSV: ``frame``, ``FaceScore``, ``AU..``, ``anger, disgust, fear, happiness,
sadness, surprise, neutral``, and ``approx_time`` for videos in recent versions): emotion
probabilities are averaged per window and mapped to valence and arousal by
:func:`emotions_to_affect`; ``confidence = 0.8 * mean(FaceScore)``.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError

from wearsdk._errors import ConfigError, WearError
from wearsdk._events import Annotation

__all__ = [
    "EMOTION_CIRCUMPLEX",
    "AnnotationFileError",
    "ColumnMapping",
    "FileAnnotations",
    "emotions_to_affect",
    "read_openface_csv",
    "read_pyfeat_csv",
    "read_table",
]

EMOTION_CIRCUMPLEX: Final = MappingProxyType(
    {
        "anger": (-0.6, 0.8),
        "contempt": (-0.5, 0.45),
        "disgust": (-0.6, 0.55),
        "fear": (-0.65, 0.8),
        "happiness": (0.8, 0.6),
        "sadness": (-0.65, 0.25),
        "surprise": (0.15, 0.8),
        "neutral": (0.0, 0.3),
    }
)
"""(valence in [-1, 1], arousal in [0, 1]) of basic emotion categories: approximate positions
on Russell's circumplex (Russell 1980, J. Pers. Soc. Psychol. 39:1161, fig. 2), rescaled."""

PYFEAT_EMOTIONS: Final = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
"""py-feat's emotion columns."""

_OPENFACE_HEURISTIC_CONFIDENCE = 0.6
_PYFEAT_MAPPING_CONFIDENCE = 0.8


class AnnotationFileError(WearError, ValueError):
    """An analyzer output file cannot be read as the expected format.

    Attributes:
        path: the file.
    """

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path: Path = path


@dataclass(frozen=True, slots=True)
class FileAnnotations:
    """Annotations read from a file, in file time (seconds from the start of the media).

    Attributes:
        annotations: the annotations, in time order.
        rows: data rows read.
        dropped: rows dropped as malformed, out of range or unusable (no face found...).
    """

    annotations: tuple[Annotation, ...]
    rows: int
    dropped: int


def emotions_to_affect(emotions: dict[str, float]) -> tuple[float, float] | None:
    """Valence and arousal of categorical emotion probabilities (:data:`EMOTION_CIRCUMPLEX`).

    The probability-weighted mean of the categories' positions; unknown categories are ignored.

    Returns:
        ``(valence, arousal)``, or ``None`` when no known category has a positive probability.
    """
    total = valence = arousal = 0.0
    for name, p in emotions.items():
        pos = EMOTION_CIRCUMPLEX.get(name.lower())
        if pos is None or not p > 0:
            continue
        total += p
        valence += p * pos[0]
        arousal += p * pos[1]
    if total <= 0:
        return None
    return valence / total, arousal / total


# -- reading rows -------------------------------------------------------------------------------
def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        sample = f.read(4096)
        f.seek(0)
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.DictReader(f, delimiter=delimiter, skipinitialspace=True)
        if reader.fieldnames is None:
            raise AnnotationFileError(path, "empty file")
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        yield from reader


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any] | None]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                yield None
                continue
            yield row if isinstance(row, dict) else None


def _num(row: dict[str, Any], key: str) -> float:
    """A finite number from a row (``KeyError``/``ValueError`` when missing or malformed)."""
    value = row[key]
    if value is None or value == "":
        raise ValueError(key)
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(key)
    return x


def _require(path: Path, columns: Iterable[str], needed: Iterable[str]) -> None:
    missing = sorted(set(needed) - set(columns))
    if missing:
        raise AnnotationFileError(path, f"missing column(s) {', '.join(missing)}")


@dataclass(slots=True)
class _Frames:
    """Per-frame values grouped into windows of file time."""

    window_s: float
    groups: dict[int, list[tuple[float, dict[str, float]]]] = field(default_factory=dict)

    def add(self, t: float, values: dict[str, float]) -> None:
        self.groups.setdefault(math.floor(t / self.window_s), []).append((t, values))

    def frame_period(self) -> float:
        times = sorted(t for g in self.groups.values() for t, _ in g)
        steps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
        return steps[len(steps) // 2] if steps else 0.0

    def windows(self) -> Iterator[tuple[float, float, dict[str, float], int]]:
        """(start, end, mean of each value, frame count) per window, in time order."""
        dt = self.frame_period()
        for key in sorted(self.groups):
            group = self.groups[key]
            names = group[0][1].keys()
            means = {n: sum(v[n] for _, v in group) / len(group) for n in names}
            yield group[0][0], group[-1][0] + dt, means, len(group)


def _face(analyzer_id: str, start: float, end: float, **values: Any) -> Annotation:
    return Annotation(
        t=end, modality="face", analyzer_id=analyzer_id, start=start, end=end, **values
    )


# -- OpenFace -----------------------------------------------------------------------------------
def _openface_affect(x: dict[str, float]) -> tuple[float, float]:
    """(valence, arousal) of mean AU intensities scaled to [0, 1] (see the module docs)."""

    def au(n: str) -> float:
        return x.get(f"AU{n}_r", 0.0)

    pos = (au("06") + au("12")) / 2.0
    neg = 0.5 * au("04") + 0.3 * au("15") + 0.2 * au("09")
    valence = math.tanh(3.0 * (pos - neg))
    specific = (au("01") + au("02") + au("05") + au("26")) / 4.0
    intensities = [v for k, v in x.items() if k.endswith("_r")]
    overall = sum(intensities) / len(intensities) if intensities else 0.0
    arousal = min(1.0, max(0.0, 0.1 + 2.0 * (0.6 * specific + 0.4 * overall)))
    return valence, arousal


def read_openface_csv(
    path: str | Path,
    *,
    analyzer_id: str = "openface",
    window_s: float = 1.0,
    min_confidence: float = 0.75,
    face_id: int | None = 0,
) -> FileAnnotations:
    """Read an OpenFace 2.0 ``FeatureExtraction`` CSV into face annotations (module docs).

    Args:
        path: the CSV file.
        analyzer_id: the annotations' analyzer id.
        window_s: frames are averaged over windows this long (file time).
        min_confidence: frames tracked with less confidence are not used.
        face_id: the face to follow (``None``: every face, averaged together).

    Raises:
        AnnotationFileError: the file lacks ``timestamp``, ``confidence``, ``success`` or AU
            intensity columns.
        ConfigError: ``window_s`` is not positive.
    """
    path = Path(path)
    if not window_s > 0:
        raise ConfigError("window_s must be > 0")
    rows = _csv_rows(path)
    frames = _Frames(window_s)
    n = dropped = 0
    confidences: dict[int, list[float]] = {}
    aus: list[str] = []
    for row in rows:
        if not aus:
            _require(path, row.keys(), ("timestamp", "confidence", "success"))
            aus = [k for k in row if k.startswith("AU") and k.endswith("_r")]
            if not aus:
                raise AnnotationFileError(path, "no AU intensity (AU.._r) columns")
        n += 1
        try:
            if face_id is not None and "face_id" in row and int(_num(row, "face_id")) != face_id:
                continue
            t = _num(row, "timestamp")
            conf = _num(row, "confidence")
            if _num(row, "success") < 0.5 or conf < min_confidence:
                dropped += 1  # no face tracked, or tracked too poorly
                continue
            values = {k: min(1.0, max(0.0, _num(row, k) / 5.0)) for k in aus}
        except (KeyError, ValueError):
            dropped += 1
            continue
        frames.add(t, values)
        confidences.setdefault(math.floor(t / window_s), []).append(conf)
    if n == 0:
        raise AnnotationFileError(path, "no data rows")
    out = []
    expected = max(1.0, window_s / frames.frame_period()) if frames.frame_period() else 1.0
    for start, end, means, count in frames.windows():
        valence, arousal = _openface_affect(means)
        confs = confidences[math.floor(start / window_s)]
        coverage = min(1.0, count / expected)
        out.append(
            _face(
                analyzer_id,
                start,
                end,
                arousal=arousal,
                valence=valence,
                confidence=_OPENFACE_HEURISTIC_CONFIDENCE * coverage * sum(confs) / len(confs),
                extras={"frames": count, **{k: round(5.0 * v, 3) for k, v in means.items()}},
            )
        )
    return FileAnnotations(tuple(out), n, dropped)


# -- py-feat ------------------------------------------------------------------------------------
def read_pyfeat_csv(
    path: str | Path,
    *,
    analyzer_id: str = "py-feat",
    window_s: float = 1.0,
    fps: float | None = None,
    min_face_score: float = 0.5,
) -> FileAnnotations:
    """Read a py-feat ``Fex`` CSV (``detector.detect_video(...).to_csv``) into face annotations.

    Times come from ``approx_time`` when present, else ``frame / fps``.

    Args:
        path: the CSV file.
        analyzer_id: the annotations' analyzer id.
        window_s: frames are averaged over windows this long (file time).
        fps: the video's frame rate (needed when the file has no ``approx_time`` column).
        min_face_score: faces detected with a lower ``FaceScore`` are not used.

    Raises:
        AnnotationFileError: emotion columns missing, or no time base (``approx_time`` or
            ``frame`` with ``fps``).
        ConfigError: ``window_s`` or ``fps`` is not positive.
    """
    path = Path(path)
    if not window_s > 0 or (fps is not None and not fps > 0):
        raise ConfigError("window_s and fps must be > 0")
    frames = _Frames(window_s)
    n = dropped = 0
    checked = False
    for row in _csv_rows(path):
        if not checked:
            _require(path, row.keys(), PYFEAT_EMOTIONS)
            if "approx_time" not in row and ("frame" not in row or fps is None):
                raise AnnotationFileError(path, "no approx_time column: give fps for frame")
            checked = True
        n += 1
        try:
            if "approx_time" in row and row["approx_time"] not in ("", None):
                t = _num(row, "approx_time")
            else:
                assert fps is not None
                t = _num(row, "frame") / fps
            score = _num(row, "FaceScore") if "FaceScore" in row else 1.0
            probs = {e: _num(row, e) for e in PYFEAT_EMOTIONS}
        except (KeyError, ValueError):
            dropped += 1  # py-feat writes empty cells for frames without a face
            continue
        if score < min_face_score or any(not 0.0 <= p <= 1.0 for p in probs.values()):
            dropped += 1
            continue
        frames.add(t, {**probs, "_score": score})
    if n == 0:
        raise AnnotationFileError(path, "no data rows")
    out = []
    for start, end, means, count in frames.windows():
        score = means.pop("_score")
        affect = emotions_to_affect(means)
        if affect is None:
            continue
        out.append(
            _face(
                analyzer_id,
                start,
                end,
                valence=affect[0],
                arousal=affect[1],
                confidence=_PYFEAT_MAPPING_CONFIDENCE * score,
                emotions={k: min(1.0, v) for k, v in means.items()},
                extras={"frames": count},
            )
        )
    return FileAnnotations(tuple(out), n, dropped)


# -- any table ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which columns of a CSV or JSONL file hold what, and on which scales.

    Attributes:
        time: column with the span start (or the instant) in file time.
        end: column with the span end; without it each span lasts ``duration_s``.
        duration_s: span length when there is no ``end`` column.
        time_scale: seconds per time unit (``0.001`` for milliseconds).
        arousal: arousal column, on ``arousal_range``.
        valence: valence column, on ``valence_range``.
        confidence: confidence column in [0, 1] (default confidence 1).
        emotions: emotion probability columns (their names become the emotion names).
        label: label column.
        arousal_range: the arousal column's scale (mapped linearly onto [0, 1]).
        valence_range: the valence column's scale (mapped linearly onto [-1, 1]).
        modality: the annotations' modality.
        analyzer_id: the annotations' analyzer id.
    """

    time: str
    end: str | None = None
    duration_s: float = 0.0
    time_scale: float = 1.0
    arousal: str | None = None
    valence: str | None = None
    confidence: str | None = None
    emotions: tuple[str, ...] = ()
    label: str | None = None
    arousal_range: tuple[float, float] = (0.0, 1.0)
    valence_range: tuple[float, float] = (-1.0, 1.0)
    modality: str = "other"
    analyzer_id: str = "table"

    def __post_init__(self) -> None:
        if not (self.time_scale > 0 and self.duration_s >= 0):
            raise ConfigError("time_scale must be > 0 and duration_s >= 0")
        for lo, hi in (self.arousal_range, self.valence_range):
            if not hi > lo:
                raise ConfigError(f"invalid range ({lo}, {hi})")
        if self.arousal is None and self.valence is None and not self.emotions:
            raise ConfigError("map at least one of arousal, valence or emotions")

    def columns(self) -> tuple[str, ...]:
        """The columns this mapping reads."""
        named = (self.time, self.end, self.arousal, self.valence, self.confidence, self.label)
        return tuple(c for c in named if c is not None) + self.emotions

    def annotation(self, row: dict[str, Any]) -> Annotation:
        """One row as an annotation (``KeyError``/``ValueError``/``ValidationError`` if bad)."""
        start = _num(row, self.time) * self.time_scale
        end = _num(row, self.end) * self.time_scale if self.end else start + self.duration_s
        fields: dict[str, Any] = {}
        if self.arousal is not None and row.get(self.arousal) not in ("", None):
            lo, hi = self.arousal_range
            fields["arousal"] = (_num(row, self.arousal) - lo) / (hi - lo)
        if self.valence is not None and row.get(self.valence) not in ("", None):
            lo, hi = self.valence_range
            fields["valence"] = -1.0 + 2.0 * (_num(row, self.valence) - lo) / (hi - lo)
        if self.confidence is not None:
            fields["confidence"] = _num(row, self.confidence)
        emotions = {e: _num(row, e) for e in self.emotions if row.get(e) not in ("", None)}
        if emotions and "valence" not in fields and "arousal" not in fields:
            affect = emotions_to_affect(emotions)
            if affect is not None:
                fields["valence"], fields["arousal"] = affect
        if "valence" not in fields and "arousal" not in fields:
            raise ValueError("no value in this row")
        label = row.get(self.label) if self.label else None
        return Annotation(
            t=end,
            modality=self.modality,
            analyzer_id=self.analyzer_id,
            start=start,
            end=end,
            emotions=emotions,
            label=None if label in ("", None) else str(label),
            **fields,
        )


def read_table(path: str | Path, mapping: ColumnMapping) -> FileAnnotations:
    """Read a CSV/TSV (``.csv``, ``.tsv``, ``.txt``) or JSON-lines (``.jsonl``, ``.ndjson``)
    file of per-span values into annotations, through a :class:`ColumnMapping`.

    Raises:
        AnnotationFileError: the file lacks a mapped column, or has no data rows.
    """  # noqa: D205
    path = Path(path)
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    rows: Iterator[dict[str, Any] | None] = _jsonl_rows(path) if jsonl else _csv_rows(path)
    out: list[Annotation] = []
    n = dropped = 0
    checked = jsonl
    for row in rows:
        n += 1
        if row is None:
            dropped += 1
            continue
        if not checked:
            _require(path, row.keys(), mapping.columns())
            checked = True
        try:
            out.append(mapping.annotation(row))
        except (KeyError, ValueError, TypeError, ValidationError):
            dropped += 1
    if n == 0:
        raise AnnotationFileError(path, "no data rows")
    out.sort(key=lambda a: a.end)
    return FileAnnotations(tuple(out), n, dropped)
