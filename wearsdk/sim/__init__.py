"""Physiology simulators that drive the virtual devices (pure numpy, no I/O)."""

from wearsdk.sim._clock import ClockTrace, DeviceClockSim, cross_device_error, settling_time
from wearsdk.sim._eda import EdaSimulator, ScrEvent
from wearsdk.sim._heart import HeartSimulator
from wearsdk.sim._script import ArousalScript, Phase

__all__ = [
    "ArousalScript",
    "ClockTrace",
    "DeviceClockSim",
    "EdaSimulator",
    "HeartSimulator",
    "Phase",
    "ScrEvent",
    "cross_device_error",
    "settling_time",
]
