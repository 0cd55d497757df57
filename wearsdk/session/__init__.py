"""Sessions and the source contract."""

from wearsdk.session._pipeline import PipelineConfig
from wearsdk.session._session import EstimateStream, Session
from wearsdk.session._source import Source, SourceContext, SourceStream

__all__ = ["EstimateStream", "PipelineConfig", "Session", "Source", "SourceContext", "SourceStream"]
