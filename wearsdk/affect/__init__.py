"""Affect estimation from windowed physiological features (pure, synchronous)."""

from wearsdk.affect._baseline import BaselineConfig, PersonalBaseline
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

__all__ = [
    "VALENCE_MAX_CONFIDENCE",
    "ArousalEstimator",
    "ArousalModelParams",
    "BaselineConfig",
    "InputSpec",
    "PersonalBaseline",
    "StressLevelConfig",
    "StressLevelTracker",
    "SubModel",
    "load_arousal_params",
    "model_inputs",
]
