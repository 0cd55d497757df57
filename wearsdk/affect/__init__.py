"""Affect estimation from windowed physiological features (pure, synchronous)."""

from wearsdk.affect._baseline import BaselineConfig, PersonalBaseline
from wearsdk.affect._exertion import ExertionConfig, ExertionDetector
from wearsdk.affect._fusion import (
    DEFAULT_WEIGHTS,
    FusionConfig,
    FusionStatistics,
    LateFusion,
    ModalityWeight,
)
from wearsdk.affect._model import (
    VALENCE_MAX_CONFIDENCE,
    ArousalEstimator,
    ArousalModelParams,
    InputSpec,
    SubModel,
    load_arousal_params,
    model_inputs,
)
from wearsdk.affect._stress import StressLevelConfig, StressLevelTracker
from wearsdk.affect._voice_arousal import VoiceArousal, VoiceReference

__all__ = [
    "DEFAULT_WEIGHTS",
    "VALENCE_MAX_CONFIDENCE",
    "ArousalEstimator",
    "ArousalModelParams",
    "BaselineConfig",
    "ExertionConfig",
    "ExertionDetector",
    "FusionConfig",
    "FusionStatistics",
    "InputSpec",
    "LateFusion",
    "ModalityWeight",
    "PersonalBaseline",
    "StressLevelConfig",
    "StressLevelTracker",
    "SubModel",
    "VoiceArousal",
    "VoiceReference",
    "load_arousal_params",
    "model_inputs",
]
