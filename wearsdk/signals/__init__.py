"""Online signal processing: pure, synchronous, stateful; no asyncio and no I/O.

Every processor is an object with ``step(...)`` and ``reset()``; offline functions with the same
maths are named ``<modality>_<verb>``. Where a name is also neurokit2's (``ecg_clean``,
``eda_clean``, ``ppg_clean``), the function returns what neurokit2's does (the cleaned signal)
and takes its ``sampling_rate`` keyword; the others have names of their own
(``ecg_peak_indices``, ``eda_decompose``, ``rr_time_domain``...). The former neurokit2-like
names (``ecg_peaks``, ``hrv_time``...) still work for one release in wearsdk's form of the
call, with a ``DeprecationWarning``; neurokit2's form (``sampling_rate=``, its options) is refused
with a ``TypeError`` naming the new function (see ``wearsdk/signals/_deprecated.py``).
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
    )
    from wearsdk.signals._ecg_offline import ecg_peak_indices, ecg_peak_times
    from wearsdk.signals._eda import EdaOptions, EdaOutput, EdaProcessor
    from wearsdk.signals._eda_offline import (
        eda_clean,
        eda_decompose,
        eda_features,
        eda_offline,
        eda_scrs,
    )
    from wearsdk.signals._eda_scr import ScrTable
    from wearsdk.signals._feat_base import FeatureHost, FeatureProvider, WindowOutput
    from wearsdk.signals._feature_names import (
        FEATURE_REGISTRY,
        FeatureRegistry,
        FeatureSpec,
        register_feature,
    )
    from wearsdk.signals._features import (
        DEFAULT_PROVIDERS,
        CleanSignal,
        FeatureConfig,
        FeatureExtractor,
        WindowFeatures,
    )
    from wearsdk.signals._filters import SosFilter, butter_sos, filter_causal, group_delay_s
    from wearsdk.signals._ppg import (
        PPG_BAND_HZ,
        PpgBeats,
        PpgPeakDetector,
        ppg_beats,
        ppg_clean,
        ppg_peak_indices,
    )
    from wearsdk.signals._ppg_window import (
        PPG_FEATURES,
        PPG_SQI_THRESHOLD,
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
    from wearsdk.signals._rr import RRWindow, RRWindower, rr_time_domain

__all__ = [
    "DEFAULT_PROVIDERS",
    "ECG_CLEAN_BAND_HZ",
    "ECG_MIN_SAMPLING_RATE_HZ",
    "EGEMAPS_EXTRACTOR",
    "FEATURE_REGISTRY",
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
    "FeatureHost",
    "FeatureProvider",
    "FeatureRegistry",
    "FeatureSpec",
    "PpgBeats",
    "PpgPeakDetector",
    "ProsodyFeatures",
    "RRWindow",
    "RRWindower",
    "ScrTable",
    "SosFilter",
    "VoiceProsody",
    "WindowFeatures",
    "WindowOutput",
    "acc_activity",
    "butter_sos",
    "ecg_clean",
    "ecg_peak_indices",
    "ecg_peak_times",
    "eda_clean",
    "eda_decompose",
    "eda_features",
    "eda_offline",
    "eda_quality",
    "eda_scrs",
    "filter_causal",
    "group_delay_s",
    "opensmile_available",
    "ppg_beats",
    "ppg_clean",
    "ppg_peak_indices",
    "ppg_sqi",
    "ppg_window_features",
    "register_feature",
    "rr_time_domain",
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
    "ecg_peak_times": "wearsdk.signals._ecg_offline",
    "ecg_peak_indices": "wearsdk.signals._ecg_offline",
    "EdaOptions": "wearsdk.signals._eda",
    "EdaOutput": "wearsdk.signals._eda",
    "EdaProcessor": "wearsdk.signals._eda",
    "ScrTable": "wearsdk.signals._eda_scr",
    "eda_clean": "wearsdk.signals._eda_offline",
    "eda_features": "wearsdk.signals._eda_offline",
    "eda_scrs": "wearsdk.signals._eda_offline",
    "eda_decompose": "wearsdk.signals._eda_offline",
    "eda_offline": "wearsdk.signals._eda_offline",
    "FeatureHost": "wearsdk.signals._feat_base",
    "FeatureProvider": "wearsdk.signals._feat_base",
    "WindowOutput": "wearsdk.signals._feat_base",
    "FEATURE_REGISTRY": "wearsdk.signals._feature_names",
    "FeatureRegistry": "wearsdk.signals._feature_names",
    "FeatureSpec": "wearsdk.signals._feature_names",
    "register_feature": "wearsdk.signals._feature_names",
    "DEFAULT_PROVIDERS": "wearsdk.signals._features",
    "CleanSignal": "wearsdk.signals._features",
    "FeatureConfig": "wearsdk.signals._features",
    "FeatureExtractor": "wearsdk.signals._features",
    "WindowFeatures": "wearsdk.signals._features",
    "SosFilter": "wearsdk.signals._filters",
    "butter_sos": "wearsdk.signals._filters",
    "filter_causal": "wearsdk.signals._filters",
    "group_delay_s": "wearsdk.signals._filters",
    "PPG_BAND_HZ": "wearsdk.signals._ppg",
    "PPG_FEATURES": "wearsdk.signals._ppg_window",
    "PPG_SQI_THRESHOLD": "wearsdk.signals._ppg_window",
    "PpgBeats": "wearsdk.signals._ppg",
    "PpgPeakDetector": "wearsdk.signals._ppg",
    "ppg_beats": "wearsdk.signals._ppg",
    "ppg_clean": "wearsdk.signals._ppg",
    "ppg_peak_indices": "wearsdk.signals._ppg",
    "ppg_sqi": "wearsdk.signals._ppg_window",
    "ppg_window_features": "wearsdk.signals._ppg_window",
    "AccActivity": "wearsdk.signals._quality",
    "AccUnit": "wearsdk.signals._quality",
    "EdaQuality": "wearsdk.signals._quality",
    "acc_activity": "wearsdk.signals._quality",
    "eda_quality": "wearsdk.signals._quality",
    "RRWindow": "wearsdk.signals._rr",
    "RRWindower": "wearsdk.signals._rr",
    "rr_time_domain": "wearsdk.signals._rr",
    "EGEMAPS_EXTRACTOR": "wearsdk.signals._prosody",
    "NUMPY_EXTRACTOR": "wearsdk.signals._prosody",
    "opensmile_available": "wearsdk.signals._prosody",
    "ProsodyFeatures": "wearsdk.signals._prosody",
    "VoiceProsody": "wearsdk.signals._prosody",
    "voice_prosody": "wearsdk.signals._prosody",
    "yin_pitch": "wearsdk.signals._prosody",
}


# former names (neurokit2's, with other signatures), for one release: they warn
_LAZY.update(
    dict.fromkeys(
        ("ecg_peaks", "ppg_peaks", "eda_phasic", "eda_peaks", "eda_process", "hrv_time"),
        "wearsdk.signals._deprecated",
    )
)

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
