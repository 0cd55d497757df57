"""Per-window signal-quality indices: EDA artifacts and wrist motion (vectorised numpy).

:func:`eda_quality` applies transparent rules in the spirit of Kleckner et al. (2018), "Simple,
Transparent, and Flexible Automated Quality Assessment Procedures for Ambulatory Electrodermal
Activity Data", IEEE Trans. Biomed. Eng. 65(7):1460-1467: a sample is invalid when it is
missing, out of a plausible range (their rule 1: 0.05-60 µS for the Q Sensor), changing faster
than a physiological response can (their rule 2: ±10 µS/s), part of a flat line (a frozen or
disconnected sensor) or part of a plateau at the window's extreme (clipping). Kleckner et al.
also invalidate 5 s around invalid data (``margin_s``, off by default so that fractions stay
fractions of samples).

:func:`acc_activity` summarises wrist acceleration: the mean and standard deviation of the
magnitude, ENMO (Euclidean norm minus one, negatives clipped to zero; van Hees et al. 2013,
PLoS ONE 8(4):e61691) and MAD (mean amplitude deviation; Vähä-Ypyä et al. 2015, Clin. Physiol.
Funct. Imaging 35:64-70). Motion, which spoils EDA through electrode pressure and contact, is
flagged when the standard deviation of the magnitude exceeds ``motion_threshold_g``. The
default 0.1 g is the window feature extractor's ``motion_threshold_g``; on the seated
Stress-Predict recordings (Empatica E4) it lies near the 90th percentile of 60 s windows
(medians 0.02-0.06 g).
"""

from __future__ import annotations

import math
from typing import Literal, TypedDict

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError

__all__ = ["AccActivity", "AccUnit", "EdaQuality", "acc_activity", "eda_quality"]

AccUnit = Literal["g", "mG", "1/64g"]
"""Accelerometer units: g, milli-g (Polar) or the Empatica E4's 1/64 g."""

_G_PER_UNIT: dict[str, float] = {"g": 1.0, "mG": 1e-3, "1/64g": 1.0 / 64.0}


class EdaQuality(TypedDict):
    """Quality of one EDA window (see :func:`eda_quality`).

    Attributes:
        quality: fraction of valid samples, in [0, 1] (0 for an empty window).
        nan_fraction: samples that are not finite.
        out_of_range_fraction: finite samples outside the plausible range.
        flat_fraction: samples in runs of identical values lasting ``flat_s`` or more.
        clipping_fraction: samples in plateaus at the window's maximum or minimum lasting
            ``clip_run_s`` or more.
        jump_fraction: samples on either side of a change faster than
            ``max_slope_usiemens_per_s``.
        flags: the names (``nan``, ``out_of_range``, ``flat``, ``clipping``, ``jump``) whose
            fraction exceeds ``flag_fraction``, and ``empty`` for an empty window.
    """

    quality: float
    nan_fraction: float
    out_of_range_fraction: float
    flat_fraction: float
    clipping_fraction: float
    jump_fraction: float
    flags: tuple[str, ...]


class AccActivity(TypedDict):
    """Activity in one accelerometer window (see :func:`acc_activity`).

    Attributes:
        n_samples: finite samples used.
        acc_magnitude_mean_g: mean of the magnitude, g (about 1 at rest).
        acc_magnitude_sd_g: standard deviation of the magnitude, g.
        enmo_mean_g: mean of ``max(|a| - 1, 0)``, g.
        mad_g: mean absolute deviation of the magnitude from its mean, g.
        motion_fraction: fraction of whole 1 s epochs whose magnitude standard deviation
            exceeds the threshold (the window's own flag if it is shorter than 1 s).
        motion: the window's magnitude standard deviation exceeds the threshold.
    """

    n_samples: int
    acc_magnitude_mean_g: float
    acc_magnitude_sd_g: float
    enmo_mean_g: float
    mad_g: float
    motion_fraction: float
    motion: bool


def _runs(change: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and length of the runs of a sequence, given where each new run starts."""
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, change.size))
    return starts, lengths


def _mark_runs(
    same_as_prev: npt.NDArray[np.bool_], keep: npt.NDArray[np.bool_], min_len: int
) -> npt.NDArray[np.bool_]:
    """Mark the samples of runs (of ``same_as_prev``) that are ``keep`` and ``min_len`` long."""
    n = same_as_prev.size
    starts, lengths = _runs(~same_as_prev)
    good = (lengths >= min_len) & keep[starts]
    # +1 at each kept run's start, -1 after its end, then a running sum
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, starts[good], 1)
    np.add.at(edges, starts[good] + lengths[good], -1)
    out: npt.NDArray[np.bool_] = np.cumsum(edges[:n]) > 0
    return out


def eda_quality(
    x: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    range_usiemens: tuple[float, float] = (0.01, 100.0),
    max_slope_usiemens_per_s: float = 10.0,
    flat_s: float = 10.0,
    clip_run_s: float = 5.0,
    margin_s: float = 0.0,
    flag_fraction: float = 0.05,
) -> EdaQuality:
    """Signal-quality indices of one window of raw EDA.

    Args:
        x: raw skin conductance, µS.
        sampling_rate_hz: the sampling rate.
        range_usiemens: plausible (low, high) conductance. The default 0.01-100 µS is wider
            than Kleckner et al.'s 0.05-60 µS: some Stress-Predict subjects (E4, wrist) have a
            genuine SCL near 0.04 µS.
        max_slope_usiemens_per_s: faster changes are artifacts (Kleckner et al.: 10 µS/s).
        flat_s: identical consecutive values lasting this long are a flat line (the E4's
            quantised 4 Hz signal holds a value at most ~4 s on the Stress-Predict recordings).
        clip_run_s: a plateau at the window's maximum or minimum this long is clipping
            (at least 3 samples). Shorter plateaus are common in quantised signals: the E4
            holds a value for up to ~4 s at a window's extreme on Stress-Predict.
        margin_s: invalidate this much data on both sides of every invalid sample
            (Kleckner et al. use 5 s).
        flag_fraction: a kind of artifact is flagged above this fraction of the window.

    Returns:
        The fractions of each kind of invalid sample, the overall quality (fraction of samples
        with no problem, after the margin) and the flags.

    Raises:
        ConfigError: a non-positive rate or duration, or an empty range.
    """
    fs = float(sampling_rate_hz)
    lo, hi = (float(v) for v in range_usiemens)
    if not (
        fs > 0
        and math.isfinite(fs)
        and lo < hi
        and max_slope_usiemens_per_s > 0
        and flat_s > 0
        and clip_run_s > 0
        and margin_s >= 0
    ):
        raise ConfigError("eda_quality: rate, durations and slope must be > 0 and low < high")
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    n = a.size
    if n == 0:
        nan = math.nan
        return EdaQuality(
            quality=0.0,
            nan_fraction=nan,
            out_of_range_fraction=nan,
            flat_fraction=nan,
            clipping_fraction=nan,
            jump_fraction=nan,
            flags=("empty",),
        )
    finite = np.isfinite(a)
    bad_nan = ~finite
    with np.errstate(invalid="ignore"):
        bad_range = finite & ((a < lo) | (a > hi))
    same = np.zeros(n, dtype=np.bool_)
    same[1:] = a[1:] == a[:-1]  # NaN never equals: NaNs break runs
    bad_flat = _mark_runs(same, finite, max(2, round(flat_s * fs)))
    if finite.any():
        vmax, vmin = float(a[finite].max()), float(a[finite].min())
        at_edge = (a == vmax) | (a == vmin)
        bad_clip = (
            _mark_runs(same, at_edge, max(3, round(clip_run_s * fs)))
            if vmax > vmin
            else np.zeros(n, dtype=np.bool_)
        )
    else:
        bad_clip = np.zeros(n, dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        steep = np.abs(np.diff(a)) * fs > max_slope_usiemens_per_s
    bad_jump = np.zeros(n, dtype=np.bool_)
    bad_jump[1:] |= steep
    bad_jump[:-1] |= steep
    kinds = {
        "nan": bad_nan,
        "out_of_range": bad_range,
        "flat": bad_flat,
        "clipping": bad_clip,
        "jump": bad_jump,
    }
    bad = bad_nan | bad_range | bad_flat | bad_clip | bad_jump
    m = round(margin_s * fs)
    if m > 0 and bad.any():
        # dilate by m samples on both sides: a window sum over the bad mask
        c = np.concatenate(([0], np.cumsum(bad, dtype=np.int64)))
        idx = np.arange(n)
        bad = (c[np.minimum(idx + m + 1, n)] - c[np.maximum(idx - m, 0)]) > 0
    fractions = {k: float(v.mean()) for k, v in kinds.items()}
    return EdaQuality(
        quality=1.0 - float(bad.mean()),
        nan_fraction=fractions["nan"],
        out_of_range_fraction=fractions["out_of_range"],
        flat_fraction=fractions["flat"],
        clipping_fraction=fractions["clipping"],
        jump_fraction=fractions["jump"],
        flags=tuple(k for k, f in fractions.items() if f > flag_fraction),
    )


def acc_activity(
    acc_xyz: npt.ArrayLike,
    *,
    sampling_rate_hz: float,
    unit: AccUnit,
    motion_threshold_g: float = 0.1,
) -> AccActivity:
    """Activity indices of one window of 3-axis acceleration.

    Args:
        acc_xyz: samples, shape ``(n, 3)``; rows with a non-finite value are left out.
        sampling_rate_hz: the sampling rate (32 Hz for the E4), for the 1 s epochs.
        unit: ``g``, ``mG`` (milli-g, e.g. Polar) or ``1/64g`` (the E4's raw ACC.csv).
        motion_threshold_g: magnitude standard deviation above which there is motion.

    Returns:
        Magnitude statistics, ENMO and MAD in g, the fraction of 1 s epochs in motion and the
        motion flag. Statistics of a window without samples are NaN, and it has no motion.

    Raises:
        ConfigError: an unknown unit, a shape other than ``(n, 3)``, or a non-positive rate or
            threshold.
    """
    if unit not in _G_PER_UNIT:
        raise ConfigError(f"acc_activity: unit must be one of {sorted(_G_PER_UNIT)} ({unit!r})")
    fs = float(sampling_rate_hz)
    if not (fs > 0 and math.isfinite(fs) and motion_threshold_g > 0):
        raise ConfigError("acc_activity: sampling_rate_hz and motion_threshold_g must be > 0")
    a = np.asarray(acc_xyz, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ConfigError(f"acc_activity: expected shape (n, 3), got {a.shape}")
    a = a[np.isfinite(a).all(axis=1)] * _G_PER_UNIT[unit]
    n = int(a.shape[0])
    if n == 0:
        nan = math.nan
        return AccActivity(
            n_samples=0,
            acc_magnitude_mean_g=nan,
            acc_magnitude_sd_g=nan,
            enmo_mean_g=nan,
            mad_g=nan,
            motion_fraction=nan,
            motion=False,
        )
    mag = np.sqrt(np.einsum("ij,ij->i", a, a))
    mean = float(mag.mean())
    sd = float(mag.std())
    motion = sd > motion_threshold_g
    per = max(1, round(fs))
    k = n // per
    if k:
        epoch_sd = mag[: k * per].reshape(k, per).std(axis=1)
        motion_fraction = float(np.mean(epoch_sd > motion_threshold_g))
    else:
        motion_fraction = float(motion)
    return AccActivity(
        n_samples=n,
        acc_magnitude_mean_g=mean,
        acc_magnitude_sd_g=sd,
        enmo_mean_g=float(np.clip(mag - 1.0, 0.0, None).mean()),
        mad_g=float(np.abs(mag - mean).mean()),
        motion_fraction=motion_fraction,
        motion=bool(motion),
    )
