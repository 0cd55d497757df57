"""The ``[[analyzers]]`` entries of a session file (see :mod:`wearsdk._config`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wearsdk._errors import ConfigError

if TYPE_CHECKING:
    from wearsdk.analyzers import ColumnMapping

__all__ = [
    "AnalyzerEntry",
    "FaceAnalyzerEntry",
    "FileAnalyzer",
    "LslAnalyzer",
    "MqttAnalyzers",
    "VoiceAnalyzerEntry",
]


class _Strict(BaseModel):
    # a session file's NaN or 1e400 (inf) is refused: no duration, rate or offset is endless
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_ANALYZER_ID = r"^[^/+#\s]{1,64}$"


class _Timed(_Strict):
    """Where file time 0 of a recorded analysis lies on the session clock."""

    start_s: float = Field(default=0.0, ge=0)
    start_unix: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_start(self) -> _Timed:
        if self.start_unix is not None and "start_s" in self.model_fields_set:
            raise ValueError("give start_s or start_unix, not both")
        return self


class FileAnalyzer(_Timed):
    """Replay an offline analysis of the session's video (``kind = "file"``).

    The file is read through :mod:`wearsdk.analyzers` (:func:`~wearsdk.analyzers.
    read_openface_csv`, :func:`~wearsdk.analyzers.read_pyfeat_csv` or
    :func:`~wearsdk.analyzers.read_table`) and published by an
    :class:`~wearsdk.analyzers.AnnotationReplay`, each annotation when the session clock
    reaches its end, so the session fuses it like a live camera analyzer's.

    Attributes:
        kind: ``"file"``.
        format: ``openface`` (OpenFace 2.0 ``FeatureExtraction`` CSV), ``py-feat`` (a py-feat
            ``Fex`` CSV) or ``table`` (any CSV/TSV/JSONL, through ``columns``).
        path: the file.
        analyzer_id: the annotations' analyzer id (default: the format's, ``table`` for
            tables).
        window_s: OpenFace and py-feat frames are averaged over windows this long.
        fps: the video's frame rate, for py-feat files without ``approx_time``.
        columns: for ``table``: the :class:`~wearsdk.analyzers.ColumnMapping` fields
            (``time``, ``arousal``, ``valence``, ``emotions``, ``modality``...).
        start_s: session seconds after the session starts at which file time 0 lies.
        start_unix: unix time of file time 0 (when the video started); instead of ``start_s``.
    """

    kind: Literal["file"]
    format: Literal["openface", "py-feat", "table"]
    path: Path
    analyzer_id: str | None = Field(default=None, pattern=_ANALYZER_ID)
    window_s: float = Field(default=1.0, gt=0)
    fps: float | None = Field(default=None, gt=0)
    columns: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _format_options(self) -> FileAnalyzer:
        if self.format == "table":
            if self.columns is None:
                raise ValueError("format = 'table' needs columns = { time = ..., ... }")
            self.mapping()  # validates
        elif self.columns is not None:
            raise ValueError(f"columns is for format = 'table', not {self.format!r}")
        if self.fps is not None and self.format != "py-feat":
            raise ValueError("fps is for format = 'py-feat'")
        return self

    @property
    def resolved_id(self) -> str:
        """The analyzer id its annotations carry."""
        return self.analyzer_id or {"openface": "openface", "py-feat": "py-feat"}.get(
            self.format, str((self.columns or {}).get("analyzer_id", "table"))
        )

    def mapping(self) -> ColumnMapping:
        """The column mapping of a ``table`` file.

        Raises:
            ValueError: unknown fields or values the mapping refuses.
        """
        from wearsdk.analyzers import ColumnMapping

        fields = dict(self.columns or {})
        for key in ("emotions", "arousal_range", "valence_range"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(fields[key])
        if self.analyzer_id is not None:
            fields["analyzer_id"] = self.analyzer_id
        try:
            return ColumnMapping(**fields)
        except TypeError as exc:
            raise ValueError(f"columns: {exc}") from None
        except ConfigError as exc:
            raise ValueError(f"columns: {exc}") from None


class VoiceAnalyzerEntry(_Timed):
    """Analyse a recording of the wearer's voice (``kind = "voice"``, a PCM WAV file).

    Runs the built-in :class:`~wearsdk.analyzers.VoiceAnalyzer` (prosody to arousal), paced
    on the session clock as if live.

    Attributes:
        kind: ``"voice"``.
        path: the WAV file.
        analyzer_id: the analyzer's id.
        segment_s: length of the analysed segments.
        start_s: session seconds after the session starts at which the audio starts.
        start_unix: unix time of the audio's first sample; instead of ``start_s``.
    """

    kind: Literal["voice"]
    path: Path
    analyzer_id: str = Field(default="voice-prosody", pattern=_ANALYZER_ID)
    segment_s: float = Field(default=2.0, gt=0)


class FaceAnalyzerEntry(_Timed):
    """Face valence and arousal from a camera or a video file (``kind = "face"``).

    Runs the built-in :class:`~wearsdk.analyzers.FaceAnalyzer` (MediaPipe Face Landmarker;
    the ``face`` extra). A camera's frames are stamped with the session time they arrive; a
    video file's with ``start + their presentation time``, paced in session time.

    Attributes:
        kind: ``"face"``.
        camera: camera index for OpenCV (``0``), or a device path or stream URL.
        video: a video file (instead of ``camera``).
        model: the ``face_landmarker.task`` file (default: ``$WEARSDK_FACE_MODEL``, the
            cache, or a checked download).
        analyzer_id: the analyzer's id.
        max_faces: faces looked for per frame (the largest is followed).
        span_s: one annotation per span of frames this long (``0``: one per frame).
        paced: play a video file in session time; ``false`` analyses every frame at once.
        start_s: with ``video``: session seconds after the session starts at which the
            video's first frame lies.
        start_unix: with ``video``: unix time of its first frame; instead of ``start_s``.
    """

    kind: Literal["face"]
    camera: int | str | None = None
    video: Path | None = None
    model: Path | None = None
    analyzer_id: str = Field(default="face-mediapipe", pattern=_ANALYZER_ID)
    max_faces: int = Field(default=2, ge=1, le=8)
    span_s: float = Field(default=0.5, ge=0)
    paced: bool = True

    @model_validator(mode="after")
    def _one_input(self) -> FaceAnalyzerEntry:
        if (self.camera is None) == (self.video is None):
            raise ValueError("give exactly one of camera or video")
        timed = self.start_unix is not None or "start_s" in self.model_fields_set
        if self.camera is not None and timed:
            raise ValueError("start_s and start_unix are for a video file, not a camera")
        return self


class MqttAnalyzers(_Strict):
    """Accept remote analyzers over MQTT (``kind = "mqtt"``).

    Analyzers in other processes or on other machines publish annotations to
    ``wearsdk/<session>/analyzer/<modality>/<analyzer_id>`` (with
    :class:`~wearsdk.io.mqtt.AnalyzerClient`, which also maps their clocks); the session's
    bridge validates them and puts them on the bus, where they are fused. Commands
    (``wearsdk/<session>/control``) are accepted too. Without this entry an MQTT sink only
    exports.

    Attributes:
        kind: ``"mqtt"``.
        url: the broker (default: the MQTT sink's; one bridge serves both).
        session: the session id in the topics (default: ``[session] name``); with an MQTT
            sink, its topics use it too.
        ca_file: CA certificate for ``mqtts://`` (default: the sink's).
    """

    kind: Literal["mqtt"]
    url: str | None = Field(default=None, pattern=r"^mqtts?://")
    session: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    ca_file: Path | None = None


class LslAnalyzer(_Strict):
    """Read markers or analyzer annotations from an LSL string stream (``kind = "lsl"``).

    An experiment's marker stream (``query = "type=Markers"``) gives labelled markers; JSON
    annotations in the analyzer contract are fused (:class:`~wearsdk.io.sources.LslInlet`).
    Needs the ``lsl`` extra.

    Attributes:
        kind: ``"lsl"``.
        query: the stream (``"type=Markers"``, ``"name=PsychoPy,type=Markers"``).
        source_id: the id its annotations carry (default: a pseudonym of the query).
    """

    kind: Literal["lsl"]
    query: str = Field(min_length=1)
    source_id: str | None = Field(default=None, pattern=_ANALYZER_ID)


AnalyzerEntry = Annotated[
    FileAnalyzer | VoiceAnalyzerEntry | FaceAnalyzerEntry | MqttAnalyzers | LslAnalyzer,
    Field(discriminator="kind"),
]
"""One ``[[analyzers]]`` entry, by its ``kind``."""
