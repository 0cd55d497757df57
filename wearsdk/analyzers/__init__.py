"""Camera, voice and text analyzers on the session bus: the contract, adapters, replays.

- :class:`Analyzer` / :class:`AnalyzerContext`: in-process analyzers (``session.add``).
- File adapters (:func:`read_openface_csv`, :func:`read_pyfeat_csv`, :func:`read_table`) turn
  offline analyses into annotations; :class:`AnnotationReplay` publishes them against a
  recording's clock.
- :class:`FaceAnalyzer`: built-in face valence and arousal from MediaPipe's Face Landmarker
  (blendshapes to action-unit proxies) on a camera, a video file or pushed frames.
- :class:`VoiceAnalyzer`: built-in voice prosody (openSMILE eGeMAPS, or energy, YIN pitch and
  speaking rate without it) to arousal.

Out-of-process analyzers use MQTT (:class:`wearsdk.io.AnnotationIn`) or LSL
(:func:`wearsdk.io.annotation_from_marker`); see ``docs/analyzers.md``.
"""

from wearsdk.analyzers._base import Analyzer, AnalyzerContext, annotation_topic
from wearsdk.analyzers._face import FaceAnalyzer, FaceStatistics
from wearsdk.analyzers._face_affect import (
    BLENDSHAPE_AU,
    EXPRESSION_PROTOTYPES,
    FaceQuality,
    action_units,
    expression_prototypes,
    face_affect,
    face_confidence,
    head_pose_deg,
)
from wearsdk.analyzers._face_model import (
    FACE_LANDMARKER_SHA256,
    FACE_LANDMARKER_URL,
    ModelUnavailableError,
    face_model_path,
    model_cache_dir,
)
from wearsdk.analyzers._files import (
    EMOTION_CIRCUMPLEX,
    AnnotationFileError,
    ColumnMapping,
    FileAnnotations,
    emotions_to_affect,
    read_openface_csv,
    read_pyfeat_csv,
    read_table,
)
from wearsdk.analyzers._replay import AnnotationReplay
from wearsdk.analyzers._voice_analyzer import MicrophoneInput, VoiceAnalyzer, read_wav

__all__ = [
    "BLENDSHAPE_AU",
    "EMOTION_CIRCUMPLEX",
    "EXPRESSION_PROTOTYPES",
    "FACE_LANDMARKER_SHA256",
    "FACE_LANDMARKER_URL",
    "Analyzer",
    "AnalyzerContext",
    "AnnotationFileError",
    "AnnotationReplay",
    "ColumnMapping",
    "FaceAnalyzer",
    "FaceQuality",
    "FaceStatistics",
    "FileAnnotations",
    "MicrophoneInput",
    "ModelUnavailableError",
    "VoiceAnalyzer",
    "action_units",
    "annotation_topic",
    "emotions_to_affect",
    "expression_prototypes",
    "face_affect",
    "face_confidence",
    "face_model_path",
    "head_pose_deg",
    "model_cache_dir",
    "read_openface_csv",
    "read_pyfeat_csv",
    "read_table",
    "read_wav",
]


def __getattr__(name: str) -> object:
    if name == "FaceStats":  # the name before every counter class was a ``...Statistics``
        import warnings

        warnings.warn(
            "wearsdk.analyzers.FaceStats is deprecated: use FaceStatistics",
            DeprecationWarning,
            stacklevel=2,
        )
        return FaceStatistics
    raise AttributeError(name)
