"""The in-process analyzer contract (defined in :mod:`wearsdk._contracts`, re-exported here)."""

from wearsdk._contracts import Analyzer, AnalyzerContext, annotation_topic

__all__ = ["Analyzer", "AnalyzerContext", "annotation_topic"]
