"""Lab Streaming Layer in and out, and XDF files.

- inlets: :class:`StreamQuery`, :func:`resolve_streams`, :class:`LslClockMap` (remote LSL
  clocks onto the session clock from periodic ``time_correction()``), :class:`ChunkPuller`
  (non-blocking pulls into preallocated buffers), :class:`AdaptivePoll`; the source that uses
  them is :class:`wearsdk.io.sources.LslInlet`;
- outlets: :class:`LslOutlets` (every session stream as an LSL stream with XDF metadata);
- files: :class:`XdfRecorder`, :class:`XdfWriter`, :func:`read_xdf`; replay is
  :class:`wearsdk.io.sources.XdfReplay`.

Needs the ``lsl`` extra (pylsl). Importing it sets liblsl's own log to errors only, unless a
liblsl configuration file (``LSLAPICFG``, ``lsl_api.cfg``) says otherwise.
"""

from wearsdk.io.lsl._inlet import (
    AdaptivePoll,
    ChunkPuller,
    LslClockMap,
    StreamQuery,
    channels_of,
    push_chunk,
    resolve_streams,
)
from wearsdk.io.lsl._liblsl import quiet_liblsl
from wearsdk.io.lsl._outlet import LslOutlets, stream_info
from wearsdk.io.lsl._spec import (
    AFFECT_CHANNELS,
    FEATURE_CHANNELS,
    LSL_TYPES,
    ChannelSpec,
    Route,
    StreamSpec,
    affect_spec,
    block_spec,
    feature_channels,
    marker_spec,
    pipeline_stream,
    route_channels,
    spec_for,
    unit_known,
    unit_scale,
)
from wearsdk.io.lsl._xdf_format import EVENTS_STREAM, XdfFormatError
from wearsdk.io.lsl._xdf_reader import (
    XdfChunk,
    XdfRecording,
    XdfStream,
    read_xdf,
    recorded_pipeline,
)
from wearsdk.io.lsl._xdf_recorder import XdfRecorder
from wearsdk.io.lsl._xdf_writer import XdfWriter

quiet_liblsl()  # before any stream info is made: liblsl reads its configuration once

__all__ = [
    "AFFECT_CHANNELS",
    "EVENTS_STREAM",
    "FEATURE_CHANNELS",
    "LSL_TYPES",
    "AdaptivePoll",
    "ChannelSpec",
    "ChunkPuller",
    "LslClockMap",
    "LslOutlets",
    "Route",
    "StreamQuery",
    "StreamSpec",
    "XdfChunk",
    "XdfFormatError",
    "XdfRecorder",
    "XdfRecording",
    "XdfStream",
    "XdfWriter",
    "affect_spec",
    "block_spec",
    "channels_of",
    "feature_channels",
    "marker_spec",
    "pipeline_stream",
    "push_chunk",
    "read_xdf",
    "recorded_pipeline",
    "resolve_streams",
    "route_channels",
    "spec_for",
    "stream_info",
    "unit_known",
    "unit_scale",
]
