"""A provisional arousal estimate against a personal baseline, from heart rate and EDA.

Provisional: it exists so that the whole path (devices, bus, windows, estimate) runs end to
end. It is not validated on real recordings; :attr:`Estimate.provisional` is ``True`` on its
output. The validated model replaces it.

Model: during the first ``baseline_s`` seconds of windows the features are collected as the
person's baseline. Each window is then scored with z-scores against that baseline (past windows
only, so no estimate uses its future), each with a floor on the spread:

=========================  =========  ================  ======
feature                    weight     spread floor      needs
=========================  =========  ================  ======
heart rate (mean of NN)    +0.9       2.5 bpm           rr or the device's hr
ln RMSSD                   -0.4       0.15              rr
skin conductance level     +0.4       0.3 µS            eda
SCL slope                  +0.6       0.3 µS/min        eda
SCR rate                   +0.5       1 per minute      eda
=========================  =========  ================  ======

The level of skin conductance recovers slowly after arousal (minutes); its slope turns
negative as soon as the wearer calms down, so the slope carries more weight than the level.

``arousal = sigmoid(sum(w z) / sqrt(sum(w²) / 1.81) - 1.0)``: faster, less variable heartbeats,
a higher skin conductance and more responses than the wearer's own baseline mean higher
arousal; the normalisation keeps the scale whichever sensors are present.
"""

from __future__ import annotations

import math

import numpy as np

from wearsdk._events import Estimate

__all__ = ["ProvisionalArousal"]

# feature, weight, spread floor, log-transform, modality
_TERMS = (
    ("hr", 0.9, 2.5, False, "rr"),
    ("lnrmssd", -0.4, 0.15, False, "rr"),
    ("scl", 0.4, 0.3, False, "eda"),
    ("scl_slope", 0.6, 0.3, False, "eda"),
    ("scr_rate", 0.5, 1.0, False, "eda"),
)
_REF = math.sqrt(0.9**2 + 0.4**2)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


class ProvisionalArousal:
    """Arousal against a personal baseline (provisional; see the module docs).

    Args:
        baseline_s: seconds of data, from the first window, that form the baseline.
        min_coverage: windows with less RR coverage are flagged ``low_coverage``.
    """

    model_id = "provisional-baseline-v1"
    """Identifier written into :attr:`Estimate.model`."""

    def __init__(self, *, baseline_s: float = 120.0, min_coverage: float = 0.6) -> None:
        self.baseline_s = float(baseline_s)
        self.min_coverage = float(min_coverage)
        self.reset()

    def reset(self) -> None:
        """Forget the baseline."""
        self._first_end: float | None = None
        self._base: dict[str, list[float]] = {name: [] for name, *_ in _TERMS}
        self._baseline_fraction_done = 0.0

    @property
    def calibrated(self) -> bool:
        """Whether the baseline period is complete."""
        return self._baseline_fraction_done >= 1.0

    @staticmethod
    def _values(features: dict[str, float]) -> dict[str, float]:
        hr = features.get("hr_mean_bpm", math.nan)
        if not _finite(hr):
            hr = features.get("hr_device_mean_bpm", math.nan)
        rmssd = features.get("rmssd_s", math.nan)
        return {
            "hr": hr,
            "lnrmssd": math.log(rmssd) if _finite(rmssd) and rmssd > 0 else math.nan,
            "scl": features.get("scl_mean_usiemens", math.nan),
            "scl_slope": features.get("scl_slope_usiemens_per_min", math.nan),
            "scr_rate": features.get("scr_rate_per_min", math.nan),
        }

    def step(
        self,
        *,
        window_start: float,
        window_end: float,
        features: dict[str, float],
        coverage: float,
        contact: bool | None = None,
        modalities: tuple[str, ...] = (),
    ) -> Estimate | None:
        """Score one window; ``None`` when nothing in it can be scored.

        Args:
            window_start: window start, session seconds.
            window_end: window end, session seconds.
            features: window features (see :class:`~wearsdk.signals.FeatureExtractor`).
            coverage: the window's RR coverage in [0, 1].
            contact: ``False`` when the strap reported lost skin contact during the window.
            modalities: the streams that gave usable features in the window.
        """
        values = self._values(features)
        present = {k for k, v in values.items() if _finite(v)}
        if not present:
            return None
        if self._first_end is None:
            self._first_end = window_end
        self._baseline_fraction_done = min(
            1.0, (window_end - self._first_end) / max(self.baseline_s, 1e-9)
        )
        flags: list[str] = []
        if self._baseline_fraction_done < 1.0:
            flags.append("calibrating")
        # score against past windows only (the baseline so far), then maybe add this one
        z_sum, w_sq = 0.0, 0.0
        used: list[str] = []
        for name, weight, floor, _log, modality in _TERMS:
            base = self._base[name]
            if name in present and base:
                mu = float(np.mean(base))
                sd = max(float(np.std(base)), floor)
                z_sum += weight * (values[name] - mu) / sd
                w_sq += weight * weight
                if modality not in used:
                    used.append(modality)
        arousal = _sigmoid(z_sum / math.sqrt(w_sq / _REF**2) - 1.0) if w_sq else _sigmoid(-1.0)
        good = contact is not False and (
            "rr" not in modalities or coverage >= self.min_coverage or "eda" in present
        )
        if self._baseline_fraction_done < 1.0 and good:
            for name in present:
                self._base[name].append(values[name])
        # heart rate alone 0.7, EDA alone 0.75, both 0.9: each sensor narrows the uncertainty
        has_hr = "hr" in present
        has_eda = "scl" in present
        confidence = 0.9 if has_hr and has_eda else (0.75 if has_eda else 0.7)
        if "rr" in modalities or "hr" in present:
            confidence *= min(1.0, max(coverage, 0.5 if "hr_device_mean_bpm" in features else 0))
        if "rr" in modalities and coverage < self.min_coverage:
            flags.append("low_coverage")
        if contact is False:
            flags.append("no_contact")
            confidence *= 0.3
        if not used:
            confidence = 0.0
        else:
            confidence *= 0.25 + 0.75 * self._baseline_fraction_done
        return Estimate(
            t=window_end,
            window_start=window_start,
            window_end=window_end,
            arousal=min(1.0, max(0.0, arousal)),
            valence=None,
            confidence=min(1.0, max(0.0, confidence)),
            modalities=tuple(m for m in ("rr", "eda") if m in used or m in modalities),
            flags=tuple(flags),
            model=self.model_id,
            provisional=True,
        )
