"""Affect estimation from windowed physiological features (pure, synchronous)."""

from wearsdk.affect._provisional import ProvisionalArousal

__all__ = ["ProvisionalArousal"]
