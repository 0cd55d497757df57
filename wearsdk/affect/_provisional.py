"""A provisional, heart-rate-only arousal estimate against a personal baseline.

Provisional: it exists so that the whole path (device, bus, windows, estimate) runs end to end.
It is not validated on real recordings; :attr:`Estimate.provisional` is ``True`` on its output.
The validated model replaces it.

Model: during the first ``baseline_s`` seconds of a source the window features are collected
as the person's baseline. Each window is then scored as

    arousal = sigmoid(0.9 * z_hr - 0.4 * z_lnrmssd - 1.0)

where ``z_hr`` is the mean heart rate's z-score against the baseline (standard deviation
floored at 2.5 bpm) and ``z_lnrmssd`` that of ln(RMSSD) (floored at 0.15): faster and less
variable heartbeats than the person's own baseline mean higher arousal. Only past windows enter
the baseline, so no estimate uses data from its future.
"""

from __future__ import annotations

import math

import numpy as np

from wearsdk._events import Estimate

__all__ = ["ProvisionalArousal"]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class ProvisionalArousal:
    """Heart-rate arousal against a personal baseline (provisional; see the module docs).

    Args:
        baseline_s: seconds of data, from the first window, that form the baseline.
        min_coverage: windows with less RR coverage are flagged ``low_coverage``.
    """

    model_id = "provisional-hr-baseline-v0"
    """Identifier written into :attr:`Estimate.model`."""

    def __init__(self, *, baseline_s: float = 120.0, min_coverage: float = 0.6) -> None:
        self.baseline_s = float(baseline_s)
        self.min_coverage = float(min_coverage)
        self.reset()

    def reset(self) -> None:
        """Forget the baseline."""
        self._first_end: float | None = None
        self._hr: list[float] = []
        self._lnrmssd: list[float] = []
        self._baseline_fraction_done = 0.0

    @property
    def calibrated(self) -> bool:
        """Whether the baseline period is complete."""
        return bool(self._hr) and self._baseline_fraction_done >= 1.0

    def step(
        self,
        *,
        window_start: float,
        window_end: float,
        features: dict[str, float],
        coverage: float,
        contact: bool | None = None,
    ) -> Estimate | None:
        """Score one window; ``None`` when its features are undefined (no beats).

        Args:
            window_start: window start, session seconds.
            window_end: window end, session seconds.
            features: at least ``hr_mean_bpm`` and ``rmssd_s``
                (see :func:`~wearsdk.signals.hrv_time`).
            coverage: the window's RR coverage in [0, 1].
            contact: ``False`` when the strap reported lost skin contact during the window.
        """
        hr = features.get("hr_mean_bpm", math.nan)
        rmssd = features.get("rmssd_s", math.nan)
        if not math.isfinite(hr):
            return None
        lnr = math.log(rmssd) if math.isfinite(rmssd) and rmssd > 0 else math.nan
        if self._first_end is None:
            self._first_end = window_end
        self._baseline_fraction_done = min(
            1.0, (window_end - self._first_end) / max(self.baseline_s, 1e-9)
        )
        flags: list[str] = []
        good = coverage >= self.min_coverage and contact is not False
        if self._baseline_fraction_done < 1.0:
            flags.append("calibrating")
        # score against past windows only (the baseline so far), then maybe add this one
        z = 0.0
        if self._hr:
            mu = float(np.mean(self._hr))
            sd = max(float(np.std(self._hr)), 2.5)
            z += 0.9 * (hr - mu) / sd
        if self._lnrmssd and math.isfinite(lnr):
            mu_r = float(np.mean(self._lnrmssd))
            sd_r = max(float(np.std(self._lnrmssd)), 0.15)
            z -= 0.4 * (lnr - mu_r) / sd_r
        arousal = _sigmoid(z - 1.0)
        if self._baseline_fraction_done < 1.0 and good:
            self._hr.append(hr)
            if math.isfinite(lnr):
                self._lnrmssd.append(lnr)
        confidence = 0.8  # heart rate alone: no electrodermal evidence
        confidence *= min(1.0, coverage)
        if coverage < self.min_coverage:
            flags.append("low_coverage")
        if contact is False:
            flags.append("no_contact")
            confidence *= 0.3
        if not self._hr:
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
            modalities=("hr",),
            flags=tuple(flags),
            model=self.model_id,
            provisional=True,
        )
