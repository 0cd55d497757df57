"""Empatica E4 session exports replayed as a source (the loader lives in ``wearsdk.io.e4``)."""

from wearsdk.drivers.e4._replay import E4Replay
from wearsdk.io.e4 import E4FormatError, E4Ibi, E4Session, E4Signal, load_e4_session

__all__ = ["E4FormatError", "E4Ibi", "E4Replay", "E4Session", "E4Signal", "load_e4_session"]
