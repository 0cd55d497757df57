"""ECG R-peak detection: the beats' type, the supported rates and the algorithm's constants.

The algorithm is described in :mod:`wearsdk.signals._ecg`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["ECG_MIN_SAMPLING_RATE_HZ", "EcgPeaks", "EcgRateError"]

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

ECG_MIN_SAMPLING_RATE_HZ = 100.0
"""The lowest ECG sampling rate the R-peak detector and the cleaner accept, Hz: below it the
QRS band (10-40 Hz) and its morphology band no longer fit under Nyquist. A pipeline checks a
stream's rate against it and refuses the stream (warning, gap) rather than catching
:class:`EcgRateError`."""


class EcgRateError(ConfigError):
    """An ECG sampling rate the detector does not support (below
    :data:`ECG_MIN_SAMPLING_RATE_HZ`, or not finite).

    Attributes:
        sampling_rate_hz: the rate that was refused.
        min_sampling_rate_hz: the lowest supported rate.
    """  # noqa: D205

    def __init__(self, what: str, sampling_rate_hz: float) -> None:
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.min_sampling_rate_hz = ECG_MIN_SAMPLING_RATE_HZ
        super().__init__(
            f"{what} sampling rate must be at least {ECG_MIN_SAMPLING_RATE_HZ:g} Hz "
            f"(got {sampling_rate_hz})"
        )


def _check_rate(what: str, sampling_rate_hz: float) -> float:
    fs = float(sampling_rate_hz)
    if not (math.isfinite(fs) and fs >= ECG_MIN_SAMPLING_RATE_HZ):
        raise EcgRateError(what, sampling_rate_hz)
    return fs


# Algorithm constants (seconds unless named otherwise); see the module docstring.
_DETECT_BAND_HZ = (10.0, 40.0)
_WIDE_BAND_HZ = (5.0, 15.0)  # energy of wide (ventricular) complexes, as in Pan-Tompkins
_WIDE_MWI_S = 0.15
_WIDE_LEVEL = 0.4  # search-back takes any shape at this fraction of the beats' wide energy
_MORPH_BAND_HZ = (20.0, 50.0)
_BAND_TOP_FRACTION = 0.4  # upper band edges are capped at 0.4 fs
_MWI_S = 0.10  # moving-window integration
_LOCAL_MAX_S = 0.10  # candidates: envelope maxima over +-this
_FID_BACK_S = 0.05  # fiducial search reaches this far before the integration window
_TMPL_PRE_S, _TMPL_POST_S = 0.08, 0.10  # morphology window around the fiducial
_TMPL_LAG_S = 0.03  # +-alignment search for the template correlation
_PEAK_PRE_S, _PEAK_POST_S = 0.04, 0.025  # R-peak search in the raw signal around the fiducial
_NAN_GUARD_S = 0.25  # candidates this close after a NaN are dropped (filter transients)
_LEARN_S = 2.0
_REFRACTORY_S = 0.20
_CONFLICT_RR = 0.55  # candidates closer than this x median RR compete
_SEARCHBACK_RR = 1.66
_RR_HISTORY = 8
_RR_TOLERANCE = 0.12  # |log(RR / recent RR)| still "on rhythm"
_RR_PENALTY_SPAN = 0.28  # rhythm factor falls linearly to _RR_FLOOR over this much more
_RR_FLOOR = 0.3
_NCC_ZERO, _NCC_ONE = 0.5, 0.9  # morphology factor: 0 at/below, 1 at/above
_NCC_MIN_FACTOR = 0.05
_NCC_SURE = 0.8  # early or off-rhythm beats need this correlation; below it: ectopic shape
_NCC_ALIGN = 0.5  # beats correlating this well with the average beat are timed on it
_CENTROID_S = 0.1  # slope-energy centroid over +-this around fid
_OFFSET_INIT = 5  # beats whose median starts the aligned-point-to-centroid offset
_OFFSET_TOL_S = 0.01  # offsets further than this from the tracked one are not learnt
_OFFSET_ALPHA = 0.05
_ECTOPIC_PREMATURE = 0.84  # a beat before this x the median RR is premature (ectopic)
_NCC_UPDATE = 0.85  # beats this similar update the template
_MORPH_MIN_FACTOR = 0.5  # off-rhythm beats need at least this morphology factor
_TMPL_MIN_BEATS = 5  # morphology is used once the template has seen this many beats
_TMPL_MEMORY = 16  # template = running mean over about this many beats
_AMP_GAMMA = 0.3  # weight of amplitude in the competition score
_POLARITY_SWITCH = 0.0  # running vote above this: the negative extremum is the sharper one
_POLARITY_ALPHA = 0.1
_FLOOR_REL = 1e-12  # envelope floor relative to the squared signal scale (flat lines)


@dataclass(frozen=True, slots=True)
class EcgPeaks:
    """R peaks, in time order.

    Attributes:
        index: sample index of each R peak since the start of the stream (int64), the
            sample nearest ``t``.
        t: sub-sample time of each beat in seconds (float64), on one feature for every beat
            shape: the centroid of the QRS slope energy (near the R peak of a narrow QRS,
            inside a wide one; see the module documentation), interpolated on the per-sample
            session times when they were given, else ``index / sampling_rate_hz``.
        amplitude: signal value at the refined R peak (the parabola's vertex), in the input's
            unit.
        ectopic: whether each beat was classified ectopic when it was found (bool): its
            shape does not match the running average beat (normalised correlation below
            0.5, or below 0.8 off the rhythm) or it comes early (before 0.84 x the median of
            the last 8 RR intervals).
            Heart rate counts every beat; HRV should use only the intervals between two
            normal beats (NN).
    """

    index: _I64
    t: _F64
    amplitude: _F64
    ectopic: npt.NDArray[np.bool_] = dataclasses.field(
        default_factory=lambda: np.empty(0, np.bool_)
    )

    def __post_init__(self) -> None:
        if self.ectopic.shape != self.index.shape:
            raise ConfigError("EcgPeaks.ectopic must have one flag per peak")

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @staticmethod
    def empty() -> EcgPeaks:
        """No peaks."""
        return EcgPeaks(
            np.empty(0, np.int64),
            np.empty(0, np.float64),
            np.empty(0, np.float64),
            np.empty(0, np.bool_),
        )

    @staticmethod
    def concat(parts: list[EcgPeaks]) -> EcgPeaks:
        """Concatenate peaks in order (e.g. the outputs of successive ``step`` calls)."""
        if not parts:
            return EcgPeaks.empty()
        return EcgPeaks(
            np.concatenate([p.index for p in parts]).astype(np.int64, copy=False),
            np.concatenate([p.t for p in parts]).astype(np.float64, copy=False),
            np.concatenate([p.amplitude for p in parts]).astype(np.float64, copy=False),
            np.concatenate([p.ectopic for p in parts]).astype(np.bool_, copy=False),
        )


_Template = tuple[_F64, float, int]  # average beat (centred), its energy, its version


@dataclass(slots=True)
class _Candidate:
    """An envelope maximum and everything measured on it when it was found (state-free), then
    its scores against the detector's state and a cache of its template correlation.
    """  # noqa: D205

    i: int  # envelope maximum
    amp: float  # envelope value
    win: _F64  # morphology-band window around the fiducial, with +-lag margin
    # raw samples and their session times (NaN outside the stream) around fid (centroid
    # span, R-peak search): row `row` of the candidates measured with it
    xrows: _F64
    trows: _F64
    row: int
    fid: int  # the morphology-band fiducial sample
    amp2: float | None = None  # wide-band envelope maximum around it (measured when needed)
    # measured when accepted (the R peaks, the polarity vote, fid's time and sample period)
    peaks: tuple[tuple[int, float, float], tuple[int, float, float]] = ((0, 0.0, 0.0),) * 2
    vote: float = 0.0  # (c- - c+) / (c- + c+), c = |second difference| at each extremum
    side: int = 0  # 0: positive R peak, 1: negative (set when accepted)
    ectopic: bool = False  # set when accepted
    t_fid: float = 0.0
    dt_fid: float = 0.0
    corr_delta: float = 0.0  # sub-sample refinement of corr_lag (parabola on the correlation)
    t_out: float = 0.0  # the beat's time (set when accepted)
    ncc: float = 1.0
    morph_deferred: _Template | None = None  # morph (and ncc) are to be measured on this
    segs: _F64 | None = None  # the win's template-sized windows, each centred (cached)
    segs_ss: _F64 | None = None  # their energies
    segs_ss_min: float = 0.0
    corr: float = 0.0  # best correlation with the template of version corr_version, and lag
    corr_lag: int = 0
    corr_version: int = -1
    morph: float = 1.0
    rhythm: float = 1.0
    quality: float = 0.0
