"""Sessions and the contracts of their parts: sources, analyzers' context and sinks."""

from wearsdk._contracts import Sink, SinkContext, SinkReport
from wearsdk.session._pipeline import PipelineConfig
from wearsdk.session._reconnect import run_with_reconnect
from wearsdk.session._session import EstimateStream, Session
from wearsdk.session._sinks import JsonLinesSink, MessageSink
from wearsdk.session._source import Source, SourceContext, SourceStream

__all__ = [
    "EstimateStream",
    "JsonLinesSink",
    "MessageSink",
    "PipelineConfig",
    "Session",
    "Sink",
    "SinkContext",
    "SinkReport",
    "Source",
    "SourceContext",
    "SourceStream",
    "run_with_reconnect",
]
