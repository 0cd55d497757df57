"""Voice prosody per segment of audio: openSMILE's eGeMAPS, or YIN pitch and energy in numpy.

With the ``opensmile`` package (the ``voice`` extra) each segment's features are the eGeMAPS
v02 functionals (Eyben et al. 2016, IEEE Trans. Affect. Comput. 7:190), the field's standard
minimal acoustic parameter set, computed by openSMILE (Eyben, Wöllmer & Schuller 2010, ACM
Multimedia): median pitch (``F0semitoneFrom27.5Hz_sma3nz_percentile50.0``), pitch spread
(its ``amean * stddevNorm``, in semitones) and range (``pctlrange0-2``: 20th to 80th
percentile), speaking rate (``loudnessPeaksPerSec``, syllable nuclei as loudness peaks per
second of the segment), level (``equivalentSoundLevel_dBp``), spectral balance
(``hammarbergIndexV_sma3nz_amean``: the strongest peak under 2 kHz over the strongest in 2-5
kHz, in dB, voiced frames), voiced fraction (``VoicedSegmentsPerSec *
MeanVoicedSegmentLengthSec``) and clarity (the harmonic energy fraction
``1 / (1 + 10^(-HNR/10))`` of ``HNRdBACF_sma3nz_amean``). Without openSMILE (or with
``extractor="numpy"``):

- Pitch: YIN (de Cheveigné & Kawahara 2002, J. Acoust. Soc. Am. 111:1917): the cumulative
  mean normalised difference function of each frame, the first dip under ``threshold`` in the
  allowed lag range, refined by parabolic interpolation. Frames without such a dip are
  unvoiced. The default threshold, 0.25, is looser than the paper's 0.1-0.15: sped-up and
  breathy speech is less periodic, and a missed voiced frame costs more here than a pitch
  on a noisy one (the median pitch is robust to those). Its value at the dip (the
  aperiodicity) gives a clarity in [0, 1].
- Energy: RMS level of each frame in dB re full scale; frames within 30 dB of the segment's
  loudest frame (and above -60 dBFS) count as speech.
- Speaking rate: syllable nuclei counted as peaks of the smoothed energy envelope, at least
  3 dB above their surroundings, voiced within 20 ms, and 80 ms apart, per second of speech
  (the approach of de Jong & Wempe 2009, Behav. Res. Methods 41:385, on intensity peaks).

:class:`VoiceProsody` is the online form (``step(samples)`` returns the segments completed);
:func:`voice_prosody` applies it to a whole signal. Segments are cut by sample count, so any
split of the input into blocks gives the same result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = [
    "EGEMAPS_EXTRACTOR",
    "NUMPY_EXTRACTOR",
    "ProsodyFeatures",
    "VoiceProsody",
    "opensmile_available",
    "voice_prosody",
    "yin_pitch",
]

EGEMAPS_EXTRACTOR = "opensmile-egemaps-v02"
"""The ``extractor`` of features computed by openSMILE (eGeMAPS v02 functionals)."""
NUMPY_EXTRACTOR = "numpy-yin"
"""The ``extractor`` of features computed in numpy (YIN pitch, frame energy, envelope peaks)."""

FloatArray = npt.NDArray[np.float64]


def _frames(x: FloatArray, length: int, hop: int) -> FloatArray:
    n = 1 + max(0, (len(x) - length) // hop)
    if len(x) < length:
        return np.zeros((0, length))
    idx = np.arange(length)[None, :] + hop * np.arange(n)[:, None]
    out: FloatArray = x[idx]
    return out


def yin_pitch(
    x: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    fmin_hz: float = 65.0,
    fmax_hz: float = 450.0,
    window_s: float = 0.03,
    hop_s: float = 0.01,
    threshold: float = 0.25,
) -> tuple[FloatArray, FloatArray]:
    """YIN fundamental frequency of each frame.

    Frame ``i`` starts at sample ``i * hop``; it needs ``window + sampling_rate_hz / fmin_hz``
    samples.

    Returns:
        ``(f0_hz, aperiodicity)`` per frame: ``f0_hz`` is NaN for unvoiced frames;
        ``aperiodicity`` is the normalised difference at the chosen lag (lower is clearer).

    Raises:
        ConfigError: inconsistent frequency range or frame sizes.
    """
    sr = float(sampling_rate_hz)
    if not (sr > 0 and 0 < fmin_hz < fmax_hz < sr / 2 and window_s > 0 and hop_s > 0):
        raise ConfigError("invalid YIN settings")
    sig = np.asarray(x, dtype=np.float64)
    win = max(2, round(window_s * sr))
    tau_max = min(round(sr / fmin_hz), win * 4)
    tau_min = max(2, math.floor(sr / fmax_hz))
    frames = _frames(sig, win + tau_max, max(1, round(hop_s * sr)))
    if len(frames) == 0:
        return np.zeros(0), np.zeros(0)
    nfft = 1 << (win + tau_max + win - 1).bit_length()
    spec = np.fft.rfft(frames, nfft)
    head = np.fft.rfft(frames[:, :win], nfft)
    # acf[τ] = Σ_{j<win} x[j] x[j+τ]
    acf = np.fft.irfft(spec * np.conj(head), nfft)[:, : tau_max + 1]
    csum = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(tau_max + 1)
    energy = csum[:, lags + win] - csum[:, lags]  # Σ_{j<win} x[j+τ]²
    diff = energy[:, :1] + energy - 2.0 * acf
    diff[:, 0] = 0.0
    diff = np.maximum(diff, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmnd[:, 1:] = np.where(running > 0, diff[:, 1:] * lags[1:] / running, 1.0)
    f0 = np.full(len(frames), np.nan)
    aper = np.ones(len(frames))
    below = cmnd[:, tau_min:] < threshold
    has = below.any(axis=1)
    first = np.argmax(below, axis=1) + tau_min
    for i in np.flatnonzero(has):
        tau = int(first[i])
        while tau + 1 <= tau_max and cmnd[i, tau + 1] < cmnd[i, tau]:
            tau += 1  # walk down to the local minimum
        shift = 0.0
        if 1 <= tau < tau_max:
            a, b, c = cmnd[i, tau - 1], cmnd[i, tau], cmnd[i, tau + 1]
            den = a - 2 * b + c
            if den > 0:
                shift = 0.5 * (a - c) / den
        f0[i] = sr / (tau + shift)
        aper[i] = float(cmnd[i, tau])
    return f0, aper


@dataclass(frozen=True, slots=True)
class ProsodyFeatures:
    """Prosody of one segment of audio.

    Attributes:
        start_s: segment start in seconds from the start of the input.
        end_s: segment end in seconds from the start of the input.
        speech_fraction: fraction of frames loud enough to be speech.
        voiced_fraction: fraction of frames with a pitch.
        f0_median_hz: median pitch of the voiced frames (NaN without any).
        f0_sd_st: pitch spread in semitones (standard deviation; NaN with < 3 voiced frames).
        energy_db: mean level of the speech frames in dB re full scale (NaN without speech).
        rate_syl_per_s: syllable nuclei per second of speech (NaN without speech).
        clarity: mean ``1 - aperiodicity`` of the voiced frames (numpy), or the harmonic
            energy fraction from the harmonics-to-noise ratio (eGeMAPS), in [0, 1].
        f0_range_st: 20th to 80th percentile pitch range in semitones (eGeMAPS; NaN in numpy).
        hammarberg_db: Hammarberg index of the voiced frames in dB (eGeMAPS; NaN in numpy).
        extractor: :data:`EGEMAPS_EXTRACTOR` or :data:`NUMPY_EXTRACTOR`.

    ``rate_syl_per_s`` and ``energy_db`` are defined differently by the two extractors (per
    second of the segment or of speech; equivalent level or mean frame level): compare
    features of one extractor only.
    """

    start_s: float
    end_s: float
    speech_fraction: float
    voiced_fraction: float
    f0_median_hz: float
    f0_sd_st: float
    energy_db: float
    rate_syl_per_s: float
    clarity: float
    f0_range_st: float = float("nan")
    hammarberg_db: float = float("nan")
    extractor: str = NUMPY_EXTRACTOR


def _segment_features(
    x: FloatArray, sr: float, start_s: float, fmin_hz: float, fmax_hz: float
) -> ProsodyFeatures:
    hop_s = 0.01
    f0, aper = yin_pitch(x, sampling_rate_hz=sr, fmin_hz=fmin_hz, fmax_hz=fmax_hz, hop_s=hop_s)
    n = len(f0)
    end_s = start_s + len(x) / sr
    nan = float("nan")
    if n == 0:
        return ProsodyFeatures(start_s, end_s, 0.0, 0.0, nan, nan, nan, nan, 0.0)
    win = round(0.03 * sr)
    frames = _frames(x, win, round(hop_s * sr))[:n]
    db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    speech = (db > db.max() - 30.0) & (db > -60.0)
    voiced = np.isfinite(f0) & speech
    n_speech = int(speech.sum())
    if n_speech == 0:
        return ProsodyFeatures(start_s, end_s, 0.0, 0.0, nan, nan, nan, nan, 0.0)
    semitones = 12.0 * np.log2(f0[voiced] / 100.0)
    smooth = np.convolve(db, np.ones(5) / 5.0, mode="same")  # 50 ms moving average
    from scipy.signal import find_peaks  # ~0.8 s to import: only when voice is analysed

    peaks, _ = find_peaks(smooth, prominence=3.0, distance=8)
    # a nucleus is voiced within ±20 ms (fast speech shortens the periodic part of vowels)
    near_voiced = np.convolve(voiced.astype(np.float64), np.ones(5), mode="same") > 0
    nuclei = int(np.count_nonzero(near_voiced[peaks] & speech[peaks]))
    return ProsodyFeatures(
        start_s=start_s,
        end_s=end_s,
        speech_fraction=n_speech / n,
        voiced_fraction=int(voiced.sum()) / n,
        f0_median_hz=float(np.median(f0[voiced])) if voiced.any() else nan,
        f0_sd_st=float(np.std(semitones)) if len(semitones) >= 3 else nan,
        energy_db=float(np.mean(db[speech])),
        rate_syl_per_s=nuclei / (n_speech * hop_s),
        clarity=float(np.clip(1.0 - np.mean(aper[voiced]), 0.0, 1.0)) if voiced.any() else 0.0,
    )


class VoiceProsody:
    """Online prosody: feed audio blocks, get :class:`ProsodyFeatures` per segment.

    Args:
        sampling_rate_hz: the audio's sampling rate.
        segment_s: length of each analysed segment.
        fmin_hz: lowest pitch searched (numpy).
        fmax_hz: highest pitch searched (numpy).
        extractor: ``"auto"`` (openSMILE if installed, else numpy), ``"opensmile"`` or
            ``"numpy"``.

    Raises:
        ConfigError: inconsistent settings, or ``extractor="opensmile"`` without openSMILE.
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        segment_s: float = 2.0,
        fmin_hz: float = 65.0,
        fmax_hz: float = 450.0,
        extractor: str = "auto",
    ) -> None:
        if not (sampling_rate_hz >= 4 * fmax_hz and segment_s >= 0.25):
            raise ConfigError("need sampling_rate_hz >= 4 fmax_hz and segment_s >= 0.25 s")
        if extractor not in ("auto", "opensmile", "numpy"):
            raise ConfigError("extractor must be 'auto', 'opensmile' or 'numpy'")
        self._smile: Any = None
        if extractor != "numpy":
            self._smile = _egemaps_extractor()
            if self._smile is None and extractor == "opensmile":
                raise ConfigError("the opensmile extractor needs the voice extra: wearsdk[voice]")
        self.extractor = NUMPY_EXTRACTOR if self._smile is None else EGEMAPS_EXTRACTOR
        """The extractor in use (:data:`EGEMAPS_EXTRACTOR` or :data:`NUMPY_EXTRACTOR`)."""
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.segment_s = float(segment_s)
        self.fmin_hz = float(fmin_hz)
        self.fmax_hz = float(fmax_hz)
        self._seg = round(segment_s * sampling_rate_hz)
        self.reset()

    def reset(self) -> None:
        """Forget buffered audio and restart the time base at 0."""
        self._buf: list[FloatArray] = []
        self._buffered = 0
        self._consumed = 0  # samples already analysed

    def step(self, samples: npt.ArrayLike) -> list[ProsodyFeatures]:
        """Add mono samples (floats in [-1, 1]); return the segments completed by them."""
        block = np.asarray(samples, dtype=np.float64).reshape(-1)
        self._buf.append(block)
        self._buffered += len(block)
        out = []
        while self._buffered >= self._seg:
            data = np.concatenate(self._buf)
            seg, rest = data[: self._seg], data[self._seg :]
            self._buf, self._buffered = [rest], len(rest)
            out.append(self._analyse(seg))
        return out

    def flush(self, *, min_s: float = 0.5) -> list[ProsodyFeatures]:
        """Analyse what is left if it lasts at least ``min_s`` seconds."""
        data = np.concatenate(self._buf) if self._buf else np.zeros(0)
        self._buf, self._buffered = [], 0
        if len(data) < min_s * self.sampling_rate_hz:
            self._consumed += len(data)
            return []
        return [self._analyse(data)]

    def _analyse(self, seg: FloatArray) -> ProsodyFeatures:
        start = self._consumed / self.sampling_rate_hz
        self._consumed += len(seg)
        if self._smile is not None:
            return _egemaps_features(self._smile, seg, self.sampling_rate_hz, start)
        return _segment_features(seg, self.sampling_rate_hz, start, self.fmin_hz, self.fmax_hz)


def voice_prosody(
    x: npt.ArrayLike, *, sampling_rate_hz: float, segment_s: float = 2.0, extractor: str = "auto"
) -> list[ProsodyFeatures]:
    """Offline mirror of :class:`VoiceProsody`: every segment of a whole signal."""
    vp = VoiceProsody(sampling_rate_hz=sampling_rate_hz, segment_s=segment_s, extractor=extractor)
    return [*vp.step(x), *vp.flush()]


def opensmile_available() -> bool:
    """Whether openSMILE (the ``opensmile`` package) can be used here."""
    return _egemaps_extractor() is not None


_SMILE_CACHE: list[Any] = []


def _egemaps_extractor() -> Any:
    """OpenSMILE's eGeMAPS v02 functionals extractor, or ``None`` without openSMILE."""
    if not _SMILE_CACHE:
        try:
            import opensmile
        except (ImportError, OSError):  # OSError: its native library cannot load
            _SMILE_CACHE.append(None)
        else:
            _SMILE_CACHE.append(
                opensmile.Smile(
                    feature_set=opensmile.FeatureSet.eGeMAPSv02,
                    feature_level=opensmile.FeatureLevel.Functionals,
                )
            )
    return _SMILE_CACHE[0]


def _egemaps_features(smile: Any, x: FloatArray, sr: float, start_s: float) -> ProsodyFeatures:
    end_s = start_s + len(x) / sr
    values = smile.process_signal(x.astype(np.float32), sr).iloc[0]

    def v(name: str) -> float:
        out = float(values[name])
        return out if math.isfinite(out) else float("nan")

    voiced = min(1.0, v("VoicedSegmentsPerSec") * v("MeanVoicedSegmentLengthSec"))
    voiced = voiced if math.isfinite(voiced) else 0.0
    nan = float("nan")
    # a frame is speech when within 30 dB of the loudest and above -60 dBFS (as in numpy)
    frames = _frames(x, round(0.03 * sr), round(0.01 * sr))
    db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12) if len(frames) else np.zeros(0)
    speech = float(np.mean((db > db.max() - 30.0) & (db > -60.0))) if len(db) else 0.0
    if voiced <= 0:
        return ProsodyFeatures(
            start_s, end_s, speech, 0.0, nan, nan, nan, nan, 0.0, extractor=EGEMAPS_EXTRACTOR
        )
    f0 = "F0semitoneFrom27.5Hz_sma3nz"
    f0_st = v(f"{f0}_percentile50.0")
    hnr = v("HNRdBACF_sma3nz_amean")
    return ProsodyFeatures(
        start_s=start_s,
        end_s=end_s,
        speech_fraction=speech,
        voiced_fraction=voiced,
        f0_median_hz=27.5 * 2.0 ** (f0_st / 12.0) if f0_st > 0 else nan,
        f0_sd_st=v("F0semitoneFrom27.5Hz_sma3nz_amean")
        * v("F0semitoneFrom27.5Hz_sma3nz_stddevNorm"),
        energy_db=v("equivalentSoundLevel_dBp"),
        rate_syl_per_s=v("loudnessPeaksPerSec"),
        clarity=1.0 / (1.0 + 10.0 ** (-hnr / 10.0)) if math.isfinite(hnr) else 0.0,
        f0_range_st=v(f"{f0}_pctlrange0-2"),
        hammarberg_db=v("hammarbergIndexV_sma3nz_amean"),
        extractor=EGEMAPS_EXTRACTOR,
    )
