"""Lab Streaming Layer sources: kept for compatibility (deprecated).

``LslInlet`` and ``XdfReplay`` are sources in :mod:`wearsdk.io.sources`; import them from
there (the building blocks are in :mod:`wearsdk.io.lsl`).
"""

from wearsdk.io.sources._lsl import LslInlet
from wearsdk.io.sources._xdf import XdfReplay

__all__ = ["LslInlet", "XdfReplay"]
