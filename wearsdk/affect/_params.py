"""The arousal model's parameter file, read and checked.

Its inputs, sub-models, baseline, stress levels and exertion rule (:func:`load_arousal_params`);
the estimator that runs it is in :mod:`wearsdk.affect._model`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from wearsdk._errors import ConfigError
from wearsdk.affect._baseline import BaselineConfig
from wearsdk.affect._exertion import ExertionConfig
from wearsdk.affect._stress import StressLevelConfig
from wearsdk.signals._feature_names import FEATURE_REGISTRY

__all__ = ["ArousalModelParams", "InputSpec", "SubModel", "load_arousal_params"]

_MODEL_FILE = "arousal_v4.json"
_PARSED = frozenset(
    ("model_id", "inputs", "baseline", "models", "stress_levels", "flag_missing", "exertion")
)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One model input.

    Attributes:
        name: input name (``hr``, ``scl``...).
        features: window feature names to read, first finite one wins.
        transform: ``identity`` or ``log`` (natural log; non-positive values are missing).
        modality: the sensor it needs (``hr``, ``eda``, ``temp``, ``acc``).
        group: feature group for importance reports (``hr``, ``hrv``, ``eda_level``...).
        min_std: floor of the baseline spread for its z-score.
        divide_by: a window feature the value is divided by before the transform (``None``:
            none); e.g. the SCL slope over the SCL is a relative slope, the same whatever the
            EDA sensor's gain.
    """

    name: str
    features: tuple[str, ...]
    transform: str
    modality: str
    group: str
    min_std: float
    divide_by: str | None = None


@dataclass(frozen=True, slots=True)
class SubModel:
    """A logistic regression over some inputs.

    Attributes:
        name: ``all``, ``no_eda``...
        requires: modalities that must be present for it to score a window.
        inputs: the input names it uses, in coefficient order.
        intercept: the intercept ``b``.
        coef: one coefficient per input (on baseline z-scores).
        threshold: probability above which a window is called "stress".
        quality: confidence factor in (0, 1] of this sub-model (its validated discrimination).
    """

    name: str
    requires: tuple[str, ...]
    inputs: tuple[str, ...]
    intercept: float
    coef: tuple[float, ...]
    threshold: float
    quality: float


@dataclass(frozen=True, slots=True)
class ArousalModelParams:
    """The shipped parameters of :class:`ArousalEstimator` (see ``arousal_v4.json``).

    Attributes:
        model_id: identifier written into :attr:`Estimate.model`.
        inputs: every input any sub-model uses.
        baseline: personal-baseline settings.
        models: sub-models, in order of preference.
        stress_levels: stress-level thresholds and timing.
        motion_threshold_g: ACC activity above which a window counts as motion.
        flag_missing: the sensors whose absence is flagged (``missing_<sensor>``); empty means
            those of the first sub-model. Optional sensors (say ``bvp``, which adds inputs when
            a wristband sends its pulse wave) are left out: their absence only selects a
            sub-model with a lower confidence factor.
        exertion: when a window counts as physical exertion (``None``: never flagged).
        extra: the rest of the JSON (training description, validation figures).
    """

    model_id: str
    inputs: tuple[InputSpec, ...]
    baseline: BaselineConfig
    models: tuple[SubModel, ...]
    stress_levels: StressLevelConfig
    motion_threshold_g: float = 0.1
    flag_missing: tuple[str, ...] = ()
    exertion: ExertionConfig | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ArousalModelParams:
        """Build from the JSON structure (raises :class:`ConfigError` when malformed)."""
        try:
            inputs = tuple(
                InputSpec(
                    name=str(i["name"]),
                    features=tuple(str(f) for f in i["features"]),
                    transform=str(i.get("transform", "identity")),
                    modality=str(i["modality"]),
                    group=str(i.get("group", i["modality"])),
                    min_std=float(i.get("min_std", 1e-6)),
                    divide_by=None if i.get("divide_by") is None else str(i["divide_by"]),
                )
                for i in d["inputs"]
            )
            b = d.get("baseline", {})
            baseline = BaselineConfig(
                calibration_s=float(b.get("calibration_s", 180.0)),
                half_life_s=float(b.get("half_life_s", 1200.0)),
                z_clip=float(b.get("z_clip", 5.0)),
                adapt_clip=None if b.get("adapt_clip") is None else float(b["adapt_clip"]),
                consistent_spread=bool(b.get("consistent_spread", False)),
            )
            models = tuple(
                SubModel(
                    name=str(m["name"]),
                    requires=tuple(str(x) for x in m["requires"]),
                    inputs=tuple(str(x) for x in m["inputs"]),
                    intercept=float(m["intercept"]),
                    coef=tuple(float(x) for x in m["coef"]),
                    threshold=float(m.get("threshold", 0.5)),
                    quality=float(m.get("quality", 1.0)),
                )
                for m in d["models"]
            )
            s = d.get("stress_levels", {})
            levels = StressLevelConfig(
                medium=float(s.get("medium", 0.5)),
                high=float(s.get("high", 0.75)),
                hysteresis=float(s.get("hysteresis", 0.1)),
                min_dwell_s=float(s.get("min_dwell_s", 60.0)),
                min_confidence=float(s.get("min_confidence", 0.3)),
            )
            ex = d.get("exertion")
            exertion = (
                None if ex is None else ExertionConfig(**{k: float(v) for k, v in ex.items()})
            )
            known = {i.name for i in inputs}
            for m in models:
                if len(m.coef) != len(m.inputs) or not set(m.inputs) <= known:
                    raise ConfigError(f"sub-model {m.name!r}: inputs and coefficients disagree")
            rest = {k: v for k, v in d.items() if k not in _PARSED}
            params = cls(
                model_id=str(d["model_id"]),
                inputs=inputs,
                baseline=baseline,
                models=models,
                stress_levels=levels,
                motion_threshold_g=float(d.get("motion_threshold_g", 0.1)),
                flag_missing=tuple(str(x) for x in d.get("flag_missing", ())),
                exertion=exertion,
                extra=rest,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed arousal model parameters: {exc!r}") from exc
        params.check_features()
        return params

    def check_features(self) -> None:
        """Check that every window feature its inputs read is registered.

        Raises:
            ConfigError: naming the unregistered features and the inputs that read them (a
                model file from a newer version, or a feature whose provider is not loaded:
                see :data:`~wearsdk.signals.FEATURE_REGISTRY`).
        """
        used: dict[str, list[str]] = {}
        for spec in self.inputs:
            for name in (*spec.features, *([spec.divide_by] if spec.divide_by else [])):
                used.setdefault(name, []).append(spec.name)
        missing = FEATURE_REGISTRY.missing(used)
        if missing:
            which = "; ".join(f"{n} (input {', '.join(used[n])})" for n in missing)
            raise ConfigError(
                f"arousal model {self.model_id!r} reads features no provider computes: {which}; "
                "register them with wearsdk.signals.register_feature"
            )


def load_arousal_params(path: str | None = None) -> ArousalModelParams:
    """Load the shipped parameters (or a JSON file at ``path``).

    Args:
        path: a JSON file; ``None`` loads ``wearsdk/affect/models/arousal_v4.json`` with
            :mod:`importlib.resources`.

    Returns:
        The parameters.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        if path is None:
            ref = resources.files("wearsdk.affect") / "models" / _MODEL_FILE
            text = ref.read_text(encoding="utf-8")
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load arousal model parameters: {exc}") from exc
    return ArousalModelParams.from_dict(data)
