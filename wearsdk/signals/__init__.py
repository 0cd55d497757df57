"""Online signal processing: pure, synchronous, stateful; no asyncio and no I/O.

Every processor is an object with ``step(...)`` and ``reset()``; offline functions with the same
maths are named ``<modality>_<verb>``.
"""

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
from wearsdk.signals._features import CleanSignal, FeatureConfig, FeatureExtractor, WindowFeatures
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
from wearsdk.signals._quality import AccActivity, AccUnit, EdaQuality, acc_activity, eda_quality
from wearsdk.signals._rr import RRWindow, RRWindower, hrv_time
from wearsdk.signals._voice import ProsodyFeatures, VoiceProsody, voice_prosody, yin_pitch

__all__ = [
    "ECG_CLEAN_BAND_HZ",
    "ECG_MIN_SAMPLING_RATE_HZ",
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
    "ppg_beats",
    "ppg_clean",
    "ppg_peaks",
    "ppg_sqi",
    "ppg_window_features",
    "voice_prosody",
    "yin_pitch",
]
