"""Affect estimation from windowed physiological features (pure, synchronous)."""

from wearsdk.affect._baseline import BaselineConfig, PersonalBaseline
from wearsdk.affect._model import (
    ArousalEstimator,
    ArousalModelParams,
    InputSpec,
    SubModel,
    load_arousal_params,
    model_inputs,
)
from wearsdk.affect._provisional import ProvisionalArousal
from wearsdk.affect._stress import StressLevelConfig, StressLevelTracker

__all__ = [
    "ArousalEstimator",
    "ArousalModelParams",
    "BaselineConfig",
    "InputSpec",
    "PersonalBaseline",
    "ProvisionalArousal",
    "StressLevelConfig",
    "StressLevelTracker",
    "SubModel",
    "load_arousal_params",
    "model_inputs",
]
