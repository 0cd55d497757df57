"""The session report: one figure (PNG) and a self-contained HTML page from an event log.

Panels share one time axis (minutes from the start of the log), top to bottom: heart rate
(from RR intervals, and the device's own heart rate), skin conductance (cleaned signal and
tonic level), the phasic component with its skin conductance responses, key window
features, arousal with a confidence band over stress-level bands, valence when estimated,
and analyzer annotations. Phase markers label the top and shade lightly across every panel;
gaps, disconnections and skin-contact loss are hatched across every panel. When the log
holds raw ECG, an 8-second snippet (from the most aroused confident window) sits below on its
own time axis.

EDA tonic/phasic and SCRs are recomputed from the logged raw EDA with
:func:`wearsdk.signals.eda_offline` (the same maths the live pipeline runs). Stress levels
come from the estimates; when no estimate carries one, they are derived with
:class:`wearsdk.affect.StressLevelTracker` (default thresholds, a minimum dwell fitted to the
session's length: :func:`derived_dwell_s`) and labelled so.

Needs matplotlib (the ``plot`` extra).
"""

from wearsdk._report._data import ReportResult, derived_dwell_s
from wearsdk._report._render import render_report

__all__ = ["ReportResult", "derived_dwell_s", "render_report"]
