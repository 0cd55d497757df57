"""Sources that are not devices: file replays and LSL inlets, registered like the drivers.

- :class:`XdfReplay`: an XDF file (a wearsdk recording, LabRecorder's, any writer's), every
  stream merged in time order (the ``lsl`` extra only for its channel metadata helpers);
- :class:`E4Replay`: an Empatica E4 export folder;
- :class:`LslInlet`: any live Lab Streaming Layer stream (the ``lsl`` extra: pylsl);
- :class:`ReplaySource`: what the replays share (speed, clock, end of data).

They are in the ``wearsdk.sources`` entry-point group (``xdf``, ``e4``, ``lsl``), which the
session runner looks a replay up in. Names load on first use: importing this package needs
no extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wearsdk._lazy import lazy_names

if TYPE_CHECKING:
    from wearsdk.io.sources._base import ReplaySource
    from wearsdk.io.sources._e4 import E4Replay
    from wearsdk.io.sources._lsl import LslInlet
    from wearsdk.io.sources._xdf import XdfReplay

__all__ = ["E4Replay", "LslInlet", "ReplaySource", "XdfReplay"]

_LAZY: dict[str, str] = {
    "E4Replay": "wearsdk.io.sources._e4",
    "LslInlet": "wearsdk.io.sources._lsl",
    "ReplaySource": "wearsdk.io.sources._base",
    "XdfReplay": "wearsdk.io.sources._xdf",
}

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
