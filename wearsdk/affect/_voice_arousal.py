"""Voice arousal from prosody (pure): higher, more variable, louder and faster speech.

Vocal arousal raises the pitch and widens its range, raises loudness, speeds up articulation
and shifts energy to higher frequencies (Juslin & Laukka 2003, Psychol. Bull. 129:770, table
7; Scherer 2003, Speech Commun. 40:227; Banse & Scherer 1996, J. Pers. Soc. Psychol. 70:614;
Goudbeek & Scherer 2010, J. Acoust. Soc. Am. 128:1322, who found arousal carried mostly by
loudness, pitch level and spectral balance). Each cue is compared with a reference (a
population default, or the speaker's own calm speech via :meth:`VoiceArousal.calibrate`).

With openSMILE's eGeMAPS features (``voice-egemaps-v1``; Eyben et al. 2016, IEEE Trans.
Affect. Comput. 7:190, chose those parameters for these associations):

======================  ======  =========================================  =============
cue (eGeMAPS)           weight  deviation unit                             reference
======================  ======  =========================================  =============
median pitch            0.30    4 semitones above the reference            120 Hz
pitch range (20-80 %)   0.15    2 semitones above                          4 st
loudness peaks per s    0.30    1.5 per second above                       4 /s
equivalent level        0.10    6 dB above                                 -25 dB
Hammarberg index        0.15    4 dB **below** (more energy over 2 kHz)    calibrated
======================  ======  =========================================  =============

The Hammarberg index depends on the voice and the microphone and no population reference is
used: it counts only once :meth:`VoiceArousal.calibrate` has measured the speaker's. The
level depends on the microphone's gain, so it weighs least. The pitch range replaces the
numpy model's standard deviation (a percentile range is robust to the contour's outlying
frames). Without openSMILE (``voice-prosody-v1``, YIN pitch, frame energy and envelope
peaks):

=================  ======  ================================  =========
cue                weight  deviation unit                    reference
=================  ======  ================================  =========
median pitch       0.35    4 semitones above the reference   120 Hz
pitch spread (SD)  0.20    1.5 semitones above               2 st
speaking rate      0.30    1.5 syllables per second above    4 syl/s
level              0.15    6 dB above                        -25 dBFS
=================  ======  ================================  =========

In both, ``arousal = sigmoid(2 * sum(weight * deviation))``: a voice one unit above the
reference on every cue scores 0.88, one unit below 0.12. The weights and units are set by
hand from the direction and rough size of the published effects, not fitted to rated speech;
no emotional speech corpus was available to validate them.

``confidence = 0.7 * min(1, voiced_fraction / 0.3) * clarity`` (clarity: the voiced frames'
periodicity, from YIN or from eGeMAPS's harmonics-to-noise ratio): silence and noise give
little confidence; the 0.7 ceiling marks a heuristic not validated against rated speech.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wearsdk._errors import ConfigError
from wearsdk.signals._prosody import EGEMAPS_EXTRACTOR, NUMPY_EXTRACTOR, ProsodyFeatures

__all__ = ["VoiceArousal", "VoiceReference"]


@dataclass(frozen=True, slots=True)
class VoiceReference:
    """The calm reference voice of :class:`VoiceArousal`.

    Attributes:
        f0_hz: median pitch.
        f0_sd_st: pitch spread in semitones.
        rate_syl_per_s: speaking rate.
        energy_db: level in dB re full scale.
        f0_range_st: pitch range, 20th to 80th percentile (eGeMAPS).
        hammarberg_db: Hammarberg index (eGeMAPS; NaN: not used until calibrated).
    """

    f0_hz: float = 120.0
    f0_sd_st: float = 2.0
    rate_syl_per_s: float = 4.0
    energy_db: float = -25.0
    f0_range_st: float = 4.0
    hammarberg_db: float = float("nan")


class VoiceArousal:
    """Maps :class:`~wearsdk.signals.ProsodyFeatures` to arousal and confidence (module docs).

    Args:
        reference: the calm reference voice.
        min_voiced_fraction: segments with fewer voiced frames give no estimate.
        extractor: which features it scores: ``signals.EGEMAPS_EXTRACTOR`` or
            ``signals.NUMPY_EXTRACTOR`` (the cues and units differ, see the module docs).

    Raises:
        ConfigError: an unknown extractor or a voiced fraction out of [0, 1).
    """

    model_id = "voice-prosody-v1"
    """Identifier of this heuristic (per instance: ``voice-egemaps-v1`` on eGeMAPS features)."""

    def __init__(
        self,
        reference: VoiceReference | None = None,
        *,
        min_voiced_fraction: float = 0.05,
        extractor: str = NUMPY_EXTRACTOR,
    ) -> None:
        if extractor not in (NUMPY_EXTRACTOR, EGEMAPS_EXTRACTOR):
            raise ConfigError(f"unknown voice feature extractor {extractor!r}")
        self.extractor = extractor
        """The extractor whose features this scores."""
        self.model_id = "voice-egemaps-v1" if extractor == EGEMAPS_EXTRACTOR else "voice-prosody-v1"
        self.reference: VoiceReference = reference or VoiceReference()
        """The reference in use."""
        if not 0 <= min_voiced_fraction < 1:
            raise ConfigError("min_voiced_fraction must be in [0, 1)")
        self.min_voiced_fraction = float(min_voiced_fraction)

    def calibrate(self, calm: Sequence[ProsodyFeatures]) -> VoiceReference:
        """Use the median of the speaker's calm segments as the reference; return it.

        Raises:
            ConfigError: no segment with speech, or features of another extractor.
        """
        if any(f.extractor != self.extractor for f in calm):
            raise ConfigError(f"calibrate with {self.extractor} features")
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
            f0_range_st=med([f.f0_range_st for f in usable], d.f0_range_st),
            hammarberg_db=med([f.hammarberg_db for f in usable], d.hammarberg_db),
        )
        return self.reference

    def score(self, f: ProsodyFeatures) -> tuple[float, float] | None:
        """``(arousal, confidence)`` of one segment, or ``None`` without enough voice.

        Raises:
            ConfigError: features of another extractor than this model's.
        """
        if f.extractor != self.extractor:
            raise ConfigError(
                f"{self.model_id} scores {self.extractor} features, not {f.extractor}"
            )
        if f.voiced_fraction < self.min_voiced_fraction or not math.isfinite(f.f0_median_hz):
            return None
        ref = self.reference
        egemaps = self.extractor == EGEMAPS_EXTRACTOR
        cues = (
            (0.30 if egemaps else 0.35, 12.0 * math.log2(f.f0_median_hz / ref.f0_hz), 4.0),
            (0.15, f.f0_range_st - ref.f0_range_st, 2.0)
            if egemaps
            else (0.20, f.f0_sd_st - ref.f0_sd_st, 1.5),
            (0.30, f.rate_syl_per_s - ref.rate_syl_per_s, 1.5),
            (0.10 if egemaps else 0.15, f.energy_db - ref.energy_db, 6.0),
            (0.15 if egemaps else 0.0, ref.hammarberg_db - f.hammarberg_db, 4.0),
        )
        terms = [w * d / unit for w, d, unit in cues if w > 0 and math.isfinite(d)]
        arousal = 1.0 / (1.0 + math.exp(-2.0 * sum(terms)))
        confidence = 0.7 * min(1.0, f.voiced_fraction / 0.3) * f.clarity
        return arousal, min(1.0, max(0.0, confidence))
