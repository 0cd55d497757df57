"""Online signal processing: pure, synchronous, stateful; no asyncio and no I/O.

Every processor is an object with ``step(...)`` and ``reset()``; offline functions with the same
maths are named ``<modality>_<verb>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wearsdk._lazy import lazy_names

if TYPE_CHECKING:
    from wearsdk.signals._ecg import (
        ECG_CLEAN_BAND_HZ,
        ECG_MIN_SAMPLING_RATE_HZ,
        EcgCleaner,
        EcgPeakDetector,
        EcgPeaks,
        EcgRateError,
        ecg_clean,
        ecg_peak_times,
        ecg_peaks,
    )
    from wearsdk.signals._eda import (
        EdaOptions,
        EdaOutput,
        EdaProcessor,
        ScrTable,
        eda_clean,
        eda_features,
        eda_peaks,
        eda_phasic,
        eda_process,
    )
    from wearsdk.signals._features import (
        CleanSignal,
        FeatureConfig,
        FeatureExtractor,
        WindowFeatures,
    )
    from wearsdk.signals._filters import SosFilter, butter_sos, filter_causal, group_delay_s
    from wearsdk.signals._ppg import (
        PPG_BAND_HZ,
        PPG_FEATURES,
        PPG_SQI_THRESHOLD,
        PpgBeats,
        PpgPeakDetector,
        ppg_beats,
        ppg_clean,
        ppg_peaks,
        ppg_sqi,
        ppg_window_features,
    )
    from wearsdk.signals._prosody import (
        EGEMAPS_EXTRACTOR,
        NUMPY_EXTRACTOR,
        ProsodyFeatures,
        VoiceProsody,
        opensmile_available,
        voice_prosody,
        yin_pitch,
    )
    from wearsdk.signals._quality import AccActivity, AccUnit, EdaQuality, acc_activity, eda_quality
    from wearsdk.signals._rr import RRWindow, RRWindower, hrv_time

__all__ = [
    "ECG_CLEAN_BAND_HZ",
    "ECG_MIN_SAMPLING_RATE_HZ",
    "EGEMAPS_EXTRACTOR",
    "NUMPY_EXTRACTOR",
    "PPG_BAND_HZ",
    "PPG_FEATURES",
    "PPG_SQI_THRESHOLD",
    "AccActivity",
    "AccUnit",
    "CleanSignal",
    "EcgCleaner",
    "EcgPeakDetector",
    "EcgPeaks",
    "EcgRateError",
    "EdaOptions",
    "EdaOutput",
    "EdaProcessor",
    "EdaQuality",
    "FeatureConfig",
    "FeatureExtractor",
    "PpgBeats",
    "PpgPeakDetector",
    "ProsodyFeatures",
    "RRWindow",
    "RRWindower",
    "ScrTable",
    "SosFilter",
    "VoiceProsody",
    "WindowFeatures",
    "acc_activity",
    "butter_sos",
    "ecg_clean",
    "ecg_peak_times",
    "ecg_peaks",
    "eda_clean",
    "eda_features",
    "eda_peaks",
    "eda_phasic",
    "eda_process",
    "eda_quality",
    "filter_causal",
    "group_delay_s",
    "hrv_time",
    "opensmile_available",
    "ppg_beats",
    "ppg_clean",
    "ppg_peaks",
    "ppg_sqi",
    "ppg_window_features",
    "voice_prosody",
    "yin_pitch",
]

# Names are imported on first use (PEP 562): ``import wearsdk.signals`` loads nothing but this
# module; a processor's module (and scipy) loads when the processor is first used.
# This table says where each name not imported above lives.
_LAZY: dict[str, str] = {
    "ECG_CLEAN_BAND_HZ": "wearsdk.signals._ecg",
    "ECG_MIN_SAMPLING_RATE_HZ": "wearsdk.signals._ecg",
    "EcgRateError": "wearsdk.signals._ecg",
    "EcgCleaner": "wearsdk.signals._ecg",
    "EcgPeakDetector": "wearsdk.signals._ecg",
    "EcgPeaks": "wearsdk.signals._ecg",
    "ecg_clean": "wearsdk.signals._ecg",
    "ecg_peak_times": "wearsdk.signals._ecg",
    "ecg_peaks": "wearsdk.signals._ecg",
    "EdaOptions": "wearsdk.signals._eda",
    "EdaOutput": "wearsdk.signals._eda",
    "EdaProcessor": "wearsdk.signals._eda",
    "ScrTable": "wearsdk.signals._eda",
    "eda_clean": "wearsdk.signals._eda",
    "eda_features": "wearsdk.signals._eda",
    "eda_peaks": "wearsdk.signals._eda",
    "eda_phasic": "wearsdk.signals._eda",
    "eda_process": "wearsdk.signals._eda",
    "CleanSignal": "wearsdk.signals._features",
    "FeatureConfig": "wearsdk.signals._features",
    "FeatureExtractor": "wearsdk.signals._features",
    "WindowFeatures": "wearsdk.signals._features",
    "SosFilter": "wearsdk.signals._filters",
    "butter_sos": "wearsdk.signals._filters",
    "filter_causal": "wearsdk.signals._filters",
    "group_delay_s": "wearsdk.signals._filters",
    "PPG_BAND_HZ": "wearsdk.signals._ppg",
    "PPG_FEATURES": "wearsdk.signals._ppg",
    "PPG_SQI_THRESHOLD": "wearsdk.signals._ppg",
    "PpgBeats": "wearsdk.signals._ppg",
    "PpgPeakDetector": "wearsdk.signals._ppg",
    "ppg_beats": "wearsdk.signals._ppg",
    "ppg_clean": "wearsdk.signals._ppg",
    "ppg_peaks": "wearsdk.signals._ppg",
    "ppg_sqi": "wearsdk.signals._ppg",
    "ppg_window_features": "wearsdk.signals._ppg",
    "AccActivity": "wearsdk.signals._quality",
    "AccUnit": "wearsdk.signals._quality",
    "EdaQuality": "wearsdk.signals._quality",
    "acc_activity": "wearsdk.signals._quality",
    "eda_quality": "wearsdk.signals._quality",
    "RRWindow": "wearsdk.signals._rr",
    "RRWindower": "wearsdk.signals._rr",
    "hrv_time": "wearsdk.signals._rr",
    "EGEMAPS_EXTRACTOR": "wearsdk.signals._prosody",
    "NUMPY_EXTRACTOR": "wearsdk.signals._prosody",
    "opensmile_available": "wearsdk.signals._prosody",
    "ProsodyFeatures": "wearsdk.signals._prosody",
    "VoiceProsody": "wearsdk.signals._prosody",
    "voice_prosody": "wearsdk.signals._prosody",
    "yin_pitch": "wearsdk.signals._prosody",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
