"""Empatica E4 exports: kept for compatibility (deprecated).

The replay is a source in :mod:`wearsdk.io.sources` (``E4Replay``), the loader in
:mod:`wearsdk.io.e4`; import them from there.
"""

from wearsdk.io.e4 import E4FormatError, E4Ibi, E4Session, E4Signal, load_e4_session
from wearsdk.io.sources._e4 import E4Replay

__all__ = ["E4FormatError", "E4Ibi", "E4Replay", "E4Session", "E4Signal", "load_e4_session"]
