"""Lab Streaming Layer sources: live LSL inlets and XDF replay (building blocks in
``wearsdk.io.lsl``)."""  # noqa: D205, D209

from wearsdk.drivers.lsl._inlet import LslInlet
from wearsdk.drivers.lsl._replay import XdfReplay

__all__ = ["LslInlet", "XdfReplay"]
