"""Sessions and the source contract."""

from wearsdk.session._pipeline import PipelineConfig
from wearsdk.session._reconnect import run_with_reconnect
from wearsdk.session._session import EstimateStream, Session
from wearsdk.session._source import Source, SourceContext, SourceStream

__all__ = [
    "EstimateStream",
    "PipelineConfig",
    "Session",
    "Source",
    "SourceContext",
    "SourceStream",
    "run_with_reconnect",
]
