"""Online signal processing: pure, synchronous, stateful; no asyncio and no I/O.

Every processor is an object with ``step(...)`` and ``reset()``; offline functions with the same
maths are named ``<modality>_<verb>``.
"""

from wearsdk.signals._filters import SosFilter, butter_sos, filter_causal
from wearsdk.signals._rr import RRWindow, RRWindower, hrv_time

__all__ = [
    "RRWindow",
    "RRWindower",
    "SosFilter",
    "butter_sos",
    "filter_causal",
    "hrv_time",
]
