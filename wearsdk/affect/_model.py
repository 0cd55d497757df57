"""The validated arousal (stress probability) estimator for wristband physiology.

Model (parameters in ``wearsdk/affect/models/arousal_v4.json``, trained and validated by
``python -m benchmarks.train_arousal`` on Stress-Predict S02-S25 and the stress sessions of the
PhysioNet wearable-stress dataset, 59 people, Empatica E4, two laboratory protocols):

1. **Inputs** from each 60 s window of :class:`~wearsdk.signals.FeatureExtractor`, chosen to
   mean the same whatever the device: heart rate in bpm (the device's ``hr_device_mean_bpm``,
   else the RR-based ``hr_mean_bpm`` of a strap or ECG R-peaks, else the pulse rate of the
   BVP/PPG stream), ln skin conductance level (a sensor's gain becomes an offset that the
   baseline removes), the SCL slope and the phasic mean *relative to the SCL* (gain-free), the
   SCR rate, ACC activity in g, and four pulse-wave inputs from the BVP stream
   (``ppg_rate_bpm``, its 90th percentile ``ppg_rate_p90_bpm``, ln ``ppg_rmssd_ms`` and the
   respiratory fraction of the pulse-rate variability ``ppg_resp_fraction``). Left out on
   purpose: skin temperature (a wristband warms up over a session, which makes its level a
   proxy for elapsed time), RR-based HRV (the E4's beat-to-beat series is too sparse to learn
   from), the heart-rate slope (no gain; a 1 Hz stream and beats give it different noise).
   Implausible samples never reach these inputs: the feature stage treats them as missing.
2. **Personal baseline**: each input becomes a z-score against the wearer's own
   :class:`~wearsdk.affect.PersonalBaseline` (equal-weight calibration over the first 180 s of
   windows, then slow, winsorised exponential adaptation: an episode of stress is not learnt as
   the new normal), computed from *past windows only*. Elapsed time, the position in the
   session or statistics of the whole session are never inputs. A missing input counts as "at
   baseline" (z = 0) and lowers the confidence.
3. **Logistic regression** on the z-scores: ``arousal = sigmoid(b + w . z)``, the calibrated
   probability that the window belongs to a mental stress task (Stroop, interview,
   hyperventilation, mental arithmetic, speaking for and against an opinion) rather than
   rest, as labelled in the training data. Several sub-models are shipped, tried in order:
   ``all_bvp`` (heart rate, EDA and BVP), ``all`` (heart rate and EDA), ``no_eda_bvp`` (heart
   rate and BVP), ``no_eda`` and ``no_hr``; the first whose sensors are present scores the
   window (a chest strap plus an EDA band uses ``all``, an E4 uses ``all_bvp``).
   ``missing_<sensor>`` flags are raised only for the sensors in ``flag_missing`` (heart rate
   and EDA): a strap without a BVP stream is not flagged as lacking one.
4. **Exertion** (:class:`~wearsdk.affect.ExertionDetector`): flagged windows get a lower
   confidence and a stress level below ``high``; their arousal measures activation.
5. **Confidence** in [0, 1]: the sub-model's validated discrimination (EDA-less models are
   weaker), times penalties for low stream coverage, ``eda_invalid``, motion, exertion, lost
   skin contact, missing inputs and a baseline shorter than the calibration.

Limits: trained on 59 young adults, two laboratory protocols, one device (E4 wrist);
"arousal" here means task stress vs rest, not emotion intensity in general. The
cross-dataset, leave-one-person-out and reordered-replay figures are stored in the JSON
(``validation``) and in ``docs/estimates.md``.

Valence: physiology from the wrist (heart rate, EDA, movement) tracks arousal, not whether a
state is pleasant; the literature finds valence from these signals near chance, and the
training data has no valence labels. The estimate carries only a prior: neutral (0) until
stress becomes likely, then leaning negative (down to -0.5 at arousal 1), with
``valence_confidence`` at most :data:`VALENCE_MAX_CONFIDENCE` (0.1) times the arousal
confidence, so that any face or voice analyzer dominates it in fusion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from wearsdk._events import Estimate
from wearsdk.affect._baseline import BaselineConfig, PersonalBaseline
from wearsdk.affect._exertion import ExertionDetector, level_input
from wearsdk.affect._params import (
    ArousalModelParams,
    InputSpec,
    SubModel,
    load_arousal_params,
)
from wearsdk.affect._stress import StressLevelConfig, StressLevelTracker

__all__ = [
    "VALENCE_MAX_CONFIDENCE",
    "ArousalEstimator",
    "ArousalModelParams",
    "InputSpec",
    "SubModel",
    "load_arousal_params",
    "model_inputs",
]

VALENCE_MAX_CONFIDENCE = 0.1
"""Ceiling of :attr:`Estimate.valence_confidence` from physiology (see the module docs)."""


def model_inputs(
    features: Mapping[str, float | None], inputs: Sequence[InputSpec]
) -> dict[str, float]:
    """Read and transform the model inputs from one window's features.

    Args:
        features: window features (NaN or ``None`` when undefined).
        inputs: the input specifications.

    Returns:
        Input name to value (NaN when missing).
    """
    out: dict[str, float] = {}
    for spec in inputs:
        value = math.nan
        for name in spec.features:
            v = features.get(name)
            if v is not None and math.isfinite(v):
                value = float(v)
                break
        if spec.divide_by is not None:
            d = features.get(spec.divide_by)
            value = value / float(d) if d is not None and math.isfinite(d) and d > 0 else math.nan
        if spec.transform == "log":
            value = math.log(value) if value > 0 else math.nan
        out[spec.name] = value
    return out


# the quality index that measures each heart-rate feature's source: the strap's HR stream, the
# beats (RR or ECG R-peaks), the pulse wave
_HR_SOURCE_COVERAGE = {
    "hr_device_mean_bpm": "hr_coverage",
    "hr_mean_bpm": "rr_coverage",
    "ppg_rate_bpm": "bvp_coverage",
}


def _coverage(
    modality: str,
    features: Mapping[str, float | None],
    specs: Sequence[InputSpec],
    quality: Mapping[str, float],
) -> float | None:
    """The coverage of the stream a modality's input was read from in this window.

    Heart rate comes from the first of its features present (a strap's HR stream, else the
    beats, else the pulse wave), so its coverage is that source's, not the HR stream's: a
    window whose HR stream has ended but whose beats go on is covered by the beats.
    """
    if modality == "hr":
        for spec in specs:
            if spec.modality != "hr":
                continue
            for name in spec.features:
                v = features.get(name)
                if v is not None and math.isfinite(v):
                    key = _HR_SOURCE_COVERAGE.get(name, "hr_coverage")
                    return quality.get(key)
    return quality.get(f"{modality}_coverage")


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class ArousalEstimator:
    """Arousal (stress probability) with confidence and stress level, per window.

    The session pipeline runs one per wearer; see the module docs for the model and its
    limits. Pure numpy at run time.

    Args:
        params: model parameters; default: the shipped ``arousal_v4.json``.
        baseline: overrides the baseline settings of ``params`` (e.g. ``calibration_s``).
        stress_levels: overrides the stress-level settings of ``params``; ``False`` disables
            the tracker (``stress_level`` stays ``None``).
    """

    def __init__(
        self,
        params: ArousalModelParams | None = None,
        *,
        baseline: BaselineConfig | None = None,
        stress_levels: StressLevelConfig | bool | None = None,
    ) -> None:
        self.params = params or load_arousal_params()
        self.model_id: str = self.params.model_id
        """Identifier written into :attr:`Estimate.model`."""
        specs = self.params.inputs
        self.baseline = PersonalBaseline(
            [s.name for s in specs],
            min_std={s.name: s.min_std for s in specs},
            config=baseline or self.params.baseline,
        )
        self.levels: StressLevelTracker | None = None
        if stress_levels is not False:
            cfg = stress_levels if isinstance(stress_levels, StressLevelConfig) else None
            self.levels = StressLevelTracker(cfg or self.params.stress_levels)
        self._modality_of = {s.name: s.modality for s in specs}
        self._coef: dict[str, npt.NDArray[np.float64]] = {
            m.name: np.asarray(m.coef, dtype=np.float64) for m in self.params.models
        }
        # per sub-model, what every window would recompute: the modalities it requires, the
        # absolute coefficients and their sum, whether it reads an HRV input
        self._requires = [(m, frozenset(m.requires)) for m in self.params.models]
        self._weights = {name: np.abs(c) for name, c in self._coef.items()}
        self._weight_sums = {name: w.sum() for name, w in self._weights.items()}
        self._uses_hrv = {
            m.name: "hrv" in {s.group for s in specs if s.name in m.inputs}
            for m in self.params.models
        }
        self.exertion: ExertionDetector | None = (
            None if self.params.exertion is None else ExertionDetector(self.params.exertion)
        )
        """The exertion detector of ``params.exertion`` (``None``: never flagged)."""
        self.last_z: dict[str, float] = {}
        """Baseline z-scores of the inputs of the last window (NaN when missing): what the
        model saw; for diagnostics and training."""

    def reset(self) -> None:
        """Forget the baseline and the stress level (a new wearer or session)."""
        self.baseline.reset()
        if self.levels is not None:
            self.levels.reset()
        if self.exertion is not None:
            self.exertion.reset()
        self.last_z = {}

    def start_calibration(self) -> None:
        """Recalibrate the baseline from the next window (see :class:`PersonalBaseline`)."""
        self.baseline.start_calibration()

    def stop_calibration(self) -> None:
        """End an explicit calibration."""
        self.baseline.stop_calibration()

    @property
    def calibrated(self) -> bool:
        """Whether the baseline covers a full calibration period."""
        return self.baseline.progress >= 1.0 and not self.baseline.calibrating

    def _choose(self, present: set[str]) -> SubModel | None:
        for m, requires in self._requires:
            if requires <= present:
                return m
        return None

    def step(
        self,
        *,
        window_start: float,
        window_end: float,
        features: Mapping[str, float | None],
        coverage: float,
        contact: bool | None = None,
        modalities: tuple[str, ...] = (),
        flags: Sequence[str] = (),
        quality: Mapping[str, float] | None = None,
    ) -> Estimate | None:
        """Score one window against the baseline, then add it to the baseline.

        Args:
            window_start: window start, session seconds.
            window_end: window end, session seconds.
            features: window features (see :class:`~wearsdk.signals.FeatureExtractor`).
            coverage: the window's RR coverage in [0, 1] (lowers confidence only when ln
                RMSSD is used and RR is sparse).
            contact: ``False`` when a device reported lost skin contact during the window.
            modalities: the streams that gave usable features in the window.
            flags: the window's quality flags (``eda_invalid``, ``motion``...), when known.
            quality: the window's quality indices (``eda_valid``, ``hr_coverage``...).

        Returns:
            The estimate, or ``None`` when neither heart rate nor EDA can be scored.
        """
        specs = self.params.inputs
        x = model_inputs(features, specs)
        q = quality if quality is not None else {}
        flag_set = set(flags)
        activity = features.get("acc_activity_g")
        motion = "motion" in flag_set or (
            activity is not None
            and math.isfinite(activity)
            and activity > self.params.motion_threshold_g
        )
        eda_bad = "eda_invalid" in flag_set or q.get("eda_valid", 1.0) < 0.5
        z = self.baseline.normalise(x)
        self.last_z = z
        present = {self._modality_of[n] for n, v in x.items() if math.isfinite(v)}
        model = self._choose(present)
        # learn from this window after scoring it; motion, lost contact or invalid EDA would
        # corrupt the baseline, so such windows (or their EDA) do not update it
        if not motion and contact is not False:
            upd = {n: v for n, v in x.items() if not (eda_bad and self._modality_of[n] == "eda")}
            self.baseline.update(window_end, upd)
        if model is None:
            return None
        zz = np.array([z[n] for n in model.inputs], dtype=np.float64)
        missing = ~np.isfinite(zz)
        zz[missing] = 0.0
        arousal = _sigmoid(model.intercept + float(self._coef[model.name] @ zz))

        # the preferred (first) sub-model's sensors that this window lacks
        watched = self.params.flag_missing or self.params.models[0].requires
        out_flags = [f"missing_{m}" for m in watched if m not in present]
        confidence = model.quality
        weights, weight_sum = self._weights[model.name], self._weight_sums[model.name]
        if weight_sum > 0 and missing.any():
            # inputs the sub-model expects but could not read (e.g. SCR amplitude)
            confidence *= 1.0 - 0.5 * float(weights[missing].sum() / weight_sum)
        covs = [c for m in model.requires if (c := _coverage(m, features, specs, q)) is not None]
        if covs:
            confidence *= min(1.0, max(0.0, min(covs)))
        if self._uses_hrv[model.name] and coverage < 0.6:
            out_flags.append("low_coverage")
        if eda_bad and "eda" in present:
            out_flags.append("eda_invalid")
            confidence *= 0.4
        if motion:
            out_flags.append("motion")
            confidence *= 0.5
        if contact is False:
            out_flags.append("no_contact")
            confidence *= 0.3
        if "acc" not in present:
            confidence *= 0.9  # motion cannot be ruled out
        exertion = False
        if self.exertion is not None:
            calibrated = self.baseline.progress >= 1.0 and "hr" in self._modality_of
            exertion = self.exertion.update(
                window_end,
                x.get("hr", math.nan),
                self.baseline.mean("hr") if calibrated else math.nan,
                z.get("ln_scl", math.nan),
                activity,
                features.get("acc_periodicity"),
            )
        if exertion:
            out_flags.append("exertion")
            confidence *= self.exertion.config.confidence_factor if self.exertion else 1.0
        progress = self.baseline.progress
        if self.baseline.calibrating or progress < 1.0:
            out_flags.append("calibrating")
        confidence *= 0.2 + 0.8 * progress
        confidence = min(1.0, max(0.0, confidence))
        arousal = min(1.0, max(0.0, arousal))
        level = None
        if self.levels is not None:
            # exertion never makes or keeps the level high: it is held below that threshold
            lc = self.levels.config
            p_level = level_input(arousal, exertion, lc.high, lc.hysteresis)
            level = self.levels.update(window_end, p_level, confidence)
        if self.levels is not None and self.levels.held:
            # too uncertain to move the level: it is the one from before (say so)
            out_flags.append("stress_level_held")
        # valence: a prior leaning negative as stress becomes likely, never a measurement
        valence = -0.5 * (2.0 * arousal - 1.0) if arousal > 0.5 else 0.0
        used = tuple(m for m in ("hr", "eda", "bvp", "rr", "temp", "acc") if m in present)
        return Estimate(
            t=window_end,
            window_start=window_start,
            window_end=window_end,
            arousal=arousal,
            valence=valence,
            confidence=confidence,
            valence_confidence=VALENCE_MAX_CONFIDENCE * confidence,
            stress_level=level,
            modalities=tuple(dict.fromkeys((*used, *modalities))),
            flags=tuple(out_flags),
            model=f"{self.model_id}/{model.name}",
            provisional=False,
        )
