"""Camera, voice and text analyzers on the session bus: the contract, adapters, replays.

- :class:`Analyzer` / :class:`AnalyzerContext`: in-process analyzers (``session.add_analyzer``).
- File adapters (:func:`read_openface_csv`, :func:`read_pyfeat_csv`, :func:`read_table`) turn
  offline analyses into annotations; :class:`AnnotationReplay` publishes them against a
  recording's clock.
- :class:`VoiceAnalyzer`: built-in voice prosody (energy, YIN pitch, speaking rate) to arousal.

Out-of-process analyzers use MQTT (:class:`wearsdk.io.AnnotationIn`) or LSL
(:func:`wearsdk.io.annotation_from_marker`); see ``docs/analyzers.md``.
"""

from wearsdk.analyzers._base import Analyzer, AnalyzerContext, annotation_topic
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
from wearsdk.analyzers._voice import MicrophoneInput, VoiceAnalyzer, read_wav

__all__ = [
    "EMOTION_CIRCUMPLEX",
    "Analyzer",
    "AnalyzerContext",
    "AnnotationFileError",
    "AnnotationReplay",
    "ColumnMapping",
    "FileAnnotations",
    "MicrophoneInput",
    "VoiceAnalyzer",
    "annotation_topic",
    "emotions_to_affect",
    "read_openface_csv",
    "read_pyfeat_csv",
    "read_table",
    "read_wav",
]
