"""The source contract (defined in :mod:`wearsdk._contracts`, re-exported here)."""

from wearsdk._contracts import Source, SourceContext, SourceStream

__all__ = ["Source", "SourceContext", "SourceStream"]
