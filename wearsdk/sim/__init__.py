"""Physiology simulators that drive the virtual devices (pure numpy, no I/O)."""

from wearsdk.sim._heart import HeartSimulator
from wearsdk.sim._script import ArousalScript, Phase

__all__ = ["ArousalScript", "HeartSimulator", "Phase"]

from wearsdk.sim._eda import EdaSimulator, ScrEvent

__all__ += ["EdaSimulator", "ScrEvent"]
