"""Voice arousal from prosody (pure): higher, more variable, louder and faster speech.

Vocal arousal raises the pitch and widens its range, raises loudness and speeds up
articulation (Juslin & Laukka 2003, Psychol. Bull. 129:770, table 7; Scherer 2003, Speech
Commun. 40:227; Banse & Scherer 1996, J. Pers. Soc. Psychol. 70:614). Each cue is compared
with a reference (a population default, or the speaker's own calm speech via
:meth:`VoiceArousal.calibrate`):

=================  ======  ================================  =========
cue                weight  deviation unit                    reference
=================  ======  ================================  =========
median pitch       0.35    4 semitones above the reference   120 Hz
pitch spread (SD)  0.20    1.5 semitones above               2 st
speaking rate      0.30    1.5 syllables per second above    4 syl/s
level              0.15    6 dB above                        -25 dBFS
=================  ======  ================================  =========

``arousal = sigmoid(2 * sum(weight * deviation))``: a voice one unit above the reference on
every cue scores 0.88, one unit below 0.12. The level depends on the microphone's gain, so it
weighs least and the speaker's calibration is advised for it.

``confidence = 0.7 * min(1, voiced_fraction / 0.3) * clarity``: silence and noise give little
confidence; the 0.7 ceiling marks a heuristic not validated against rated speech.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wearsdk._errors import ConfigError
from wearsdk.signals._voice import ProsodyFeatures

__all__ = ["VoiceArousal", "VoiceReference"]


@dataclass(frozen=True, slots=True)
class VoiceReference:
    """The calm reference voice of :class:`VoiceArousal`.

    Attributes:
        f0_hz: median pitch.
        f0_sd_st: pitch spread in semitones.
        rate_syl_per_s: speaking rate.
        energy_db: level in dB re full scale.
    """

    f0_hz: float = 120.0
    f0_sd_st: float = 2.0
    rate_syl_per_s: float = 4.0
    energy_db: float = -25.0


class VoiceArousal:
    """Maps :class:`~wearsdk.signals.ProsodyFeatures` to arousal and confidence (module docs).

    Args:
        reference: the calm reference voice.
        min_voiced_fraction: segments with fewer voiced frames give no estimate.
    """

    model_id = "voice-prosody-v1"
    """Identifier of this heuristic."""

    def __init__(
        self, reference: VoiceReference | None = None, *, min_voiced_fraction: float = 0.05
    ) -> None:
        self.reference: VoiceReference = reference or VoiceReference()
        """The reference in use."""
        if not 0 <= min_voiced_fraction < 1:
            raise ConfigError("min_voiced_fraction must be in [0, 1)")
        self.min_voiced_fraction = float(min_voiced_fraction)

    def calibrate(self, calm: Sequence[ProsodyFeatures]) -> VoiceReference:
        """Use the median of the speaker's calm segments as the reference; return it.

        Raises:
            ConfigError: no segment with speech.
        """
        usable = [f for f in calm if f.voiced_fraction >= self.min_voiced_fraction]
        if not usable:
            raise ConfigError("no voiced segment to calibrate on")

        def med(values: list[float], default: float) -> float:
            finite = [v for v in values if math.isfinite(v)]
            return float(np.median(finite)) if finite else default

        d = VoiceReference()
        self.reference = VoiceReference(
            f0_hz=med([f.f0_median_hz for f in usable], d.f0_hz),
            f0_sd_st=med([f.f0_sd_st for f in usable], d.f0_sd_st),
            rate_syl_per_s=med([f.rate_syl_per_s for f in usable], d.rate_syl_per_s),
            energy_db=med([f.energy_db for f in usable], d.energy_db),
        )
        return self.reference

    def score(self, f: ProsodyFeatures) -> tuple[float, float] | None:
        """``(arousal, confidence)`` of one segment, or ``None`` without enough voice."""
        if f.voiced_fraction < self.min_voiced_fraction or not math.isfinite(f.f0_median_hz):
            return None
        ref = self.reference
        terms = [0.35 * 12.0 * math.log2(f.f0_median_hz / ref.f0_hz) / 4.0]
        if math.isfinite(f.f0_sd_st):
            terms.append(0.20 * (f.f0_sd_st - ref.f0_sd_st) / 1.5)
        if math.isfinite(f.rate_syl_per_s):
            terms.append(0.30 * (f.rate_syl_per_s - ref.rate_syl_per_s) / 1.5)
        if math.isfinite(f.energy_db):
            terms.append(0.15 * (f.energy_db - ref.energy_db) / 6.0)
        arousal = 1.0 / (1.0 + math.exp(-2.0 * sum(terms)))
        confidence = 0.7 * min(1.0, f.voiced_fraction / 0.3) * f.clarity
        return arousal, min(1.0, max(0.0, confidence))
