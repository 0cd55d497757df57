"""ECG R-peak accuracy and speed on real recordings: wearsdk against neurokit2, same process.

Recordings (from the shared data folder, never copied into the repository):

- ``mitbih_100``: MIT-BIH Arrhythmia record 100, lead MLII, 360 Hz, 30 min; reference = the
  expert beat annotations (beat symbols only; rhythm and other non-beat marks are dropped).
- ``ecg_noise/118eXX``: MIT-BIH Noise Stress Test record 118 with electrode-motion noise at
  0, 6, 12 and 24 dB SNR (2 min, 360 Hz); reference = the ``*_ann.csv`` peak indices.
- ``polar_h10``: 10 min of Polar H10 strap ECG (~130 Hz, real premature beats); reference =
  the strap's own RR intervals (``rr_ms``), a device reference, not an expert annotation.

Metrics: sensitivity and positive predictivity with a 150 ms matching window (wfdb's
``compare_annotations``, one-to-one); timing error of the matched peaks against the
reference (mean and 95th percentile of the absolute error, ms); RR MAE (ms) over the RR
intervals whose two beats were both matched to consecutive detections.

Polar H10 alignment: the strap's RR list is a sequence without beat times, so its beats are
rebuilt by cumulative sums of RR and aligned on ours: a global offset is picked that matches
the most strap beats (within 50 ms) among the first 200; then the strap beats are walked in
order, each expected at the previous *matched* beat + its RR (re-anchored on every match, so
neither the strap's 1 ms rounding nor clock drift accumulate) and matched to the nearest
detection within 50 ms. An RR interval is compared when both its beats matched consecutive
detections (no extra detection inside). "beats matched" = matched strap beats / strap beats
inside the ECG recording (the first RRs end before the ECG export starts).

Baselines: neurokit2 ``ecg_peaks`` with its default method (``neurokit``) and the
``pantompkins1985`` and ``hamilton2002`` methods, each after ``ecg_clean`` with the matching
cleaning method; "+parabola" = neurokit2's default peaks refined by the same 3-point parabola
on the raw signal as wearsdk (timing only: counting is neurokit2's).

Speed: wearsdk's streaming detector fed in blocks (0.25 s) and in one call (= ``ecg_peak_indices``),
and neurokit2's ``ecg_clean`` + ``ecg_peaks`` (offline, vectorised) on the same signal, best of
3 runs, in multiples of real time (single-threaded code).

``qtdb_dev`` (30 QT Database records, 22 with ventricular/supraventricular/fusion ectopy), at
250 Hz and resampled to 130 Hz: wearsdk and neurokit2 (``ecg_clean`` + ``ecg_peaks``, default
method) side by side, pooled over the records (beats summed) and the worst record; the
reference keeps its exact 250 Hz times at 130 Hz. "t_err p95" is the 95th percentile of the
timing error around its median (the annotations sit on a database-specific point of the QRS,
so only the spread, not the offset, tells the timing's consistency).

Usage: python -m benchmarks.ecg_accuracy [--data DIR] [--qtdb-only]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from wearsdk.signals import EcgPeakDetector, EcgPeaks

REPO = Path(__file__).resolve().parents[1]
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")  # MIT-BIH beat annotation codes
TOLERANCE_S = 0.150
RR_MATCH_S = 0.050
NST_SNR_DB = (0, 6, 12, 24)


# ---------------------------------------------------------------------------- data


@dataclass
class Recording:
    name: str
    ecg: npt.NDArray[np.float64]
    fs: float
    t: npt.NDArray[np.float64] | None = None  # per-sample times (s), when the file has them
    ref: npt.NDArray[np.int64] | None = None  # reference peak sample indices
    ref_t: npt.NDArray[np.float64] | None = None  # reference peak times (s), when resampled
    rr_ms: npt.NDArray[np.float64] | None = None  # device RR sequence
    ref_cls: npt.NDArray[np.str_] | None = None  # reference beat class: N, V, S or O


@contextmanager
def quiet_third_party() -> Iterator[None]:
    """Silence the deprecation chatter of wfdb/neurokit2 on recent pandas (not ours to fix)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The inplace keyword")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def default_data_dir() -> Path:
    env = os.environ.get("WEARSDK_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def load_mitbih_100(root: Path) -> Recording:
    with quiet_third_party():
        import wfdb

        rec = wfdb.rdrecord(str(root / "mitbih_100" / "100"))
        ann = wfdb.rdann(str(root / "mitbih_100" / "100"), "atr")
    lead = list(rec.sig_name).index("MLII")
    ref = np.array(
        [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEAT_SYMBOLS],
        dtype=np.int64,
    )
    return Recording("mitbih_100", rec.p_signal[:, lead].astype(np.float64), float(rec.fs), ref=ref)


def load_nst_118(root: Path, snr_db: int) -> Recording:
    folder = root / "ecg_noise"
    ecg = np.loadtxt(folder / f"118e{snr_db:02d}.csv", dtype=np.float64)
    ref = np.loadtxt(folder / f"118e{snr_db:02d}_ann.csv").astype(np.int64)
    return Recording(f"118e{snr_db:02d}", ecg, 360.0, ref=ref)


def load_polar_h10(root: Path) -> Recording:
    import pandas as pd

    d = pd.read_csv(root / "polar_h10" / "polar_h10.csv")
    t = ((d["time_ns"] - d["time_ns"].iloc[0]) / 1e9).to_numpy(np.float64)
    fs = float(1.0 / np.median(np.diff(t)))
    rr = d["rr_ms"].dropna().to_numpy(np.float64)
    return Recording("polar_h10", d["ecg"].to_numpy(np.float64), fs, t=t, rr_ms=rr)


QTDB_RECORDS = [
    "sel14046",
    "sel14157",
    "sel15814",
    "sel308",
    "sel803",
    "sel808",
    "sel811",
    "sel820",
    "sel821",
    "sel847",
    "sel853",
    "sel871",
    "sel872",
    "sel873",
    "sel883",
    "sel891",
    "sele0114",
    "sele0121",
    "sele0411",
    "sele0509",
    "sele0606",
    "sele0609",
    "sel302",
    "sel306",
    "sele0106",
    "sele0110",
    "sele0124",
    "sele0129",
    "sele0133",
    "sele0704",
]
"""The ``qtdb_dev`` records (22 with ventricular/supraventricular/fusion ectopy, 8 sinus)."""


def load_qtdb(root: Path, name: str, fs: float = 250.0, lead: int = 0) -> Recording:
    """A ``qtdb_dev`` record, lead 0 (or ``lead``), resampled from 250 Hz to ``fs`` (polyphase,
    scipy).

    The reference keeps its exact times (``ref_t``, annotation sample / 250 Hz); ``ref`` holds
    them rounded to the output rate's samples, for the one-to-one matching.
    """
    from fractions import Fraction

    from scipy.signal import resample_poly

    with quiet_third_party():
        import wfdb

        rec = wfdb.rdrecord(str(root / "qtdb_dev" / name), channels=[lead])
        ann = wfdb.rdann(str(root / "qtdb_dev" / name), "atr")
    fs0 = float(rec.fs)
    x = rec.p_signal[:, 0].astype(np.float64)
    ref0 = np.array(
        [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEAT_SYMBOLS],
        dtype=np.int64,
    )
    if fs != fs0:
        q = Fraction(fs / fs0).limit_denominator(1000)
        x = resample_poly(x, q.numerator, q.denominator)
        fs = fs0 * q.numerator / q.denominator
    ref_t = ref0 / fs0
    ref = np.round(ref_t * fs).astype(np.int64)
    cls = np.array([beat_class(sym) for sym in ann.symbol if sym in BEAT_SYMBOLS], dtype=np.str_)
    return Recording(f"{name}@{fs:g}", x, fs, ref=ref, ref_t=ref_t, ref_cls=cls)


def beat_class(symbol: str) -> str:
    """An annotation's beat class: N (normal, bundle branch block, escape), V (ventricular,
    fusion), S (supraventricular) or O (paced, unclassified)."""
    if symbol in "NLRBej":
        return "N"
    if symbol in "VrFE":
        return "V"
    if symbol in "SAaJn":
        return "S"
    return "O"


# ---------------------------------------------------------------------------- scoring


def parabolic_times(
    x: npt.NDArray[np.float64], idx: npt.NDArray[np.int64], t: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Refine peak indices by a 3-point parabola on ``x`` (sign of the peak), times on ``t``."""
    out = np.empty(idx.size)
    for k, p in enumerate(idx):
        if not 0 < p < x.size - 1:
            out[k] = t[p]
            continue
        y0, y1, y2 = x[p - 1], x[p], x[p + 1]
        den = y0 - 2 * y1 + y2
        delta = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5)) if den != 0 else 0.0
        out[k] = t[p] + delta * ((t[p + 1] - t[p]) if delta >= 0 else (t[p] - t[p - 1]))
    return out


@dataclass
class Scores:
    se: float = float("nan")
    ppv: float = float("nan")
    t_mean_ms: float = float("nan")
    t_p95_ms: float = float("nan")
    rr_mae_ms: float = float("nan")
    matched: float = float("nan")  # device reference: fraction of its beats matched
    n_rr: int = 0


def score_annotated(
    ref: npt.NDArray[np.int64],
    idx: npt.NDArray[np.int64],
    times_s: npt.NDArray[np.float64],
    fs: float,
) -> Scores:
    """Se/PPV (wfdb, one-to-one, 150 ms), timing error and RR MAE against annotations."""
    with quiet_third_party():
        from wfdb.processing import compare_annotations

        cmp = compare_annotations(ref, idx, round(TOLERANCE_S * fs))
    m = np.asarray(cmp.matching_sample_nums)  # index into idx for each ref, -1 if none
    ok = m >= 0
    err_ms = (times_s[m[ok]] - ref[ok] / fs) * 1000.0
    pair = ok[1:] & ok[:-1]
    pair[pair] &= m[1:][pair] == m[:-1][pair] + 1
    rr_ours = np.diff(times_s[np.maximum(m, 0)])[pair]
    rr_ref = np.diff(ref / fs)[pair]
    return Scores(
        se=float(cmp.sensitivity),
        ppv=float(cmp.positive_predictivity),
        t_mean_ms=float(np.mean(np.abs(err_ms))),
        t_p95_ms=float(np.percentile(np.abs(err_ms), 95)),
        rr_mae_ms=float(np.mean(np.abs(rr_ours - rr_ref)) * 1000.0),
        n_rr=int(pair.sum()),
    )


@dataclass
class Counts:
    """Beat counts and RR errors of one record, to pool over records."""

    tp: int
    fn: int
    fp: int
    rr_err_s: npt.NDArray[np.float64]
    t_err_s: npt.NDArray[np.float64]
    rr_pair: npt.NDArray[np.str_] | None = None  # the two beats' classes of each RR error
    # successive differences of N-N intervals (three matched consecutive N beats), s:
    sd_ref: npt.NDArray[np.float64] | None = None  # of the reference's intervals
    sd_det: npt.NDArray[np.float64] | None = None  # of the detector's, on the same beats
    # per reference class: (matched beats the detector classed ectopic, matched beats)
    flagged: dict[str, tuple[int, int]] = field(default_factory=dict)


def score_times(
    ref_t: npt.NDArray[np.float64],
    det_t: npt.NDArray[np.float64],
    fs: float,
    ref_cls: npt.NDArray[np.str_] | None = None,
    det_ectopic: npt.NDArray[np.bool_] | None = None,
) -> tuple[Scores, Counts]:
    """Se/PPV (wfdb, one-to-one, 150 ms, at the detection rate ``fs``), timing and RR errors
    against reference beat *times* (so a resampled record keeps its exact reference).
    """
    ref_t = np.asarray(ref_t, dtype=np.float64)
    det_t = np.asarray(det_t, dtype=np.float64)
    with quiet_third_party():
        from wfdb.processing import compare_annotations

        cmp = compare_annotations(
            np.round(ref_t * fs).astype(np.int64),
            np.round(det_t * fs).astype(np.int64),
            round(TOLERANCE_S * fs),
        )
    m = np.asarray(cmp.matching_sample_nums)
    ok = m >= 0
    err = det_t[m[ok]] - ref_t[ok]
    pair = ok[1:] & ok[:-1]
    pair[pair] &= m[1:][pair] == m[:-1][pair] + 1
    rr_err = (np.diff(det_t[np.maximum(m, 0)]) - np.diff(ref_t))[pair]
    tp = int(ok.sum())
    pairs = sd_ref = sd_det = None
    if ref_cls is not None:
        pc = np.char.add(ref_cls[:-1], ref_cls[1:])
        pairs = pc[pair]
        nn = pair & (pc == "NN")
        tri = nn[1:] & nn[:-1]
        sd_ref = np.diff(np.diff(ref_t))[tri]
        sd_det = np.diff(np.diff(det_t[np.maximum(m, 0)]))[tri]
    counts = Counts(
        tp, int(ref_t.size - tp), int(det_t.size - tp), rr_err, err, pairs, sd_ref, sd_det
    )
    if ref_cls is not None and det_ectopic is not None:
        for k in "NVS":
            sel = ok & (ref_cls == k)
            counts.flagged[k] = (int(det_ectopic[m[sel]].sum()), int(sel.sum()))
    return Scores(
        se=float(cmp.sensitivity),
        ppv=float(cmp.positive_predictivity),
        t_mean_ms=float(np.mean(np.abs(err)) * 1000.0) if err.size else float("nan"),
        t_p95_ms=float(np.percentile(np.abs(err), 95) * 1000.0) if err.size else float("nan"),
        rr_mae_ms=float(np.mean(np.abs(rr_err)) * 1000.0) if rr_err.size else float("nan"),
        n_rr=int(pair.sum()),
    ), counts


def match_device_rr(
    beat_t: npt.NDArray[np.float64],
    rr_ms: npt.NDArray[np.float64],
    *,
    span: tuple[float, float],
    tol_s: float = RR_MATCH_S,
) -> tuple[float, npt.NDArray[np.float64]]:
    """Align a device RR sequence with detected beat times (see the module docstring).

    Returns:
        The fraction of device beats inside ``span`` matched to a detection, and the RR errors
        (detected - device, ms) of the device intervals whose beats matched consecutive
        detections.
    """
    beat_t = np.asarray(beat_t, dtype=np.float64)
    rr_s = np.asarray(rr_ms, dtype=np.float64) / 1000.0
    cum = np.concatenate(([0.0], np.cumsum(rr_s)))  # device beat times, up to an offset
    best, t0 = -1, 0.0
    head = cum[:200]
    for i in range(min(beat_t.size, 20)):
        for j in range(min(cum.size, 20)):
            off = beat_t[i] - cum[j]
            exp = off + head
            k = np.clip(np.searchsorted(beat_t, exp), 1, beat_t.size - 1)
            d = np.minimum(np.abs(beat_t[k] - exp), np.abs(beat_t[k - 1] - exp))
            n = int(np.sum(d < tol_s))
            if n > best:
                best, t0 = n, off
    anchor = t0
    prev: int | None = None
    matched = inside = 0
    errs: list[float] = []
    for j in range(cum.size):
        expect = anchor if j == 0 else anchor + rr_s[j - 1]
        k = int(np.searchsorted(beat_t, expect))
        near = min(
            (c for c in (k - 1, k) if 0 <= c < beat_t.size), key=lambda c: abs(beat_t[c] - expect)
        )
        if span[0] <= expect <= span[1]:
            inside += 1
        if abs(beat_t[near] - expect) < tol_s:
            matched += span[0] <= expect <= span[1]
            if prev is not None and near == prev + 1:
                errs.append((beat_t[near] - beat_t[prev]) * 1000.0 - rr_ms[j - 1])
            prev, anchor = near, float(beat_t[near])
        else:
            prev, anchor = None, expect
    return matched / max(inside, 1), np.asarray(errs)


def score_device(rec: Recording, times_s: npt.NDArray[np.float64]) -> Scores:
    assert rec.rr_ms is not None
    assert rec.t is not None
    frac, errs = match_device_rr(times_s, rec.rr_ms, span=(float(rec.t[0]), float(rec.t[-1])))
    return Scores(rr_mae_ms=float(np.mean(np.abs(errs))), matched=frac, n_rr=int(errs.size))


# ---------------------------------------------------------------------------- detectors


def wearsdk_stream(rec: Recording, block_s: float = 0.25) -> EcgPeaks:
    """The streaming detector fed in blocks of ``block_s`` (its output equals the offline one)."""
    det = EcgPeakDetector(sampling_rate_hz=rec.fs)
    n = max(1, round(block_s * rec.fs))
    parts = [
        det.step(rec.ecg[a : a + n], None if rec.t is None else rec.t[a : a + n])
        for a in range(0, rec.ecg.size, n)
    ]
    parts.append(det.flush())
    return EcgPeaks.concat(parts)


def neurokit_peaks(x: npt.NDArray[np.float64], fs: float, method: str) -> npt.NDArray[np.int64]:
    with quiet_third_party():
        import neurokit2 as nk

    clean_method = method if method in ("pantompkins1985", "hamilton2002") else "neurokit"
    with quiet_third_party():
        cleaned = nk.ecg_clean(x, sampling_rate=fs, method=clean_method)
        _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, method=method)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------------------- main


def fmt(v: float, spec: str) -> str:
    return "-" if not np.isfinite(v) else format(v, spec)


QTDB_RATES_HZ = (250.0, 130.0)


def _qtdb_one(job: tuple[Path, str, float]) -> tuple[str, float, dict[str, tuple[Scores, Counts]]]:
    """Both detectors on one ``qtdb_dev`` record at one rate (a process-pool job)."""
    root, name, fs = job
    rec = load_qtdb(root, name, fs)
    assert rec.ref_t is not None
    ours = wearsdk_stream(rec)
    nk = neurokit_peaks(rec.ecg, rec.fs, "neurokit")
    return (
        name,
        fs,
        {
            "wearsdk": score_times(rec.ref_t, ours.t, rec.fs, rec.ref_cls, ours.ectopic),
            "neurokit2": score_times(rec.ref_t, nk / rec.fs, rec.fs, rec.ref_cls),
        },
    )


def qtdb_table(root: Path, workers: int = 2) -> None:
    """Print pooled and worst-record Se/PPV and RR MAE on ``qtdb_dev`` for both detectors."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(root, n, fs) for fs in QTDB_RATES_HZ for n in QTDB_RECORDS]
    with ProcessPoolExecutor(workers) as ex:
        results = list(ex.map(_qtdb_one, jobs))
    print(
        f"qtdb_dev ({len(QTDB_RECORDS)} records, lead 0; 130 Hz = polyphase resampling of the"
        " 250 Hz signal; reference = the source database's beat annotations)"
    )
    head = (
        f"{'rate':>5} {'detector':<10} {'Se':>7} {'PPV':>7} {'RR MAE':>7} {'t_err':>6} "
        f"{'FN':>4} {'FP':>4}  {'worst Se':<18} {'worst PPV':<18} {'worst RR MAE':<18}"
    )
    print(head)
    print(f"{'(Hz)':>5} {'':<10} {'':>7} {'':>7} {'(ms)':>7} {'p95 ms':>6}")
    print("-" * len(head))
    for fs in QTDB_RATES_HZ:
        for det in ("wearsdk", "neurokit2"):
            rows = [(name, r[det]) for name, f, r in results if f == fs]
            tp = sum(c.tp for _, (_, c) in rows)
            fn = sum(c.fn for _, (_, c) in rows)
            fp = sum(c.fp for _, (_, c) in rows)
            rr = np.concatenate([c.rr_err_s for _, (_, c) in rows])
            te = np.concatenate([c.t_err_s for _, (_, c) in rows])
            w_se = min(rows, key=lambda r: r[1][0].se)
            w_ppv = min(rows, key=lambda r: r[1][0].ppv)
            w_rr = max(rows, key=lambda r: r[1][0].rr_mae_ms)
            print(
                f"{fs:5.0f} {det:<10} {tp / (tp + fn):7.4f} {tp / max(tp + fp, 1):7.4f} "
                f"{np.mean(np.abs(rr)) * 1000:7.2f} "
                f"{np.percentile(np.abs(te - np.median(te)), 95) * 1000:6.1f} {fn:4d} {fp:4d}  "
                f"{w_se[0] + ' ' + format(w_se[1][0].se, '.4f'):<18} "
                f"{w_ppv[0] + ' ' + format(w_ppv[1][0].ppv, '.4f'):<18} "
                f"{w_rr[0] + ' ' + format(w_rr[1][0].rr_mae_ms, '.1f'):<18}"
            )
    print()
    print(
        "RR MAE (ms) by the classes of the interval's two annotated beats (N normal, V"
        " ventricular/fusion, S supraventricular; n = intervals, wearsdk):"
    )
    groups = {"N-N": {"NN"}, "N-S/S-N/S-S": {"NS", "SN", "SS"}, "with V": None}
    print(f"{'rate':>5} {'detector':<10} " + " ".join(f"{g:>17}" for g in groups))
    for fs in QTDB_RATES_HZ:
        for det in ("wearsdk", "neurokit2"):
            cs = [r[det][1] for _, f, r in results if f == fs]
            err = np.concatenate([c.rr_err_s for c in cs])
            pr = np.concatenate([c.rr_pair for c in cs if c.rr_pair is not None])
            cells = []
            for want in groups.values():
                sel = np.char.find(pr, "V") >= 0 if want is None else np.isin(pr, list(want))
                cells.append(f"{np.mean(np.abs(err[sel])) * 1000:7.2f} (n {int(sel.sum()):5d})")
            print(f"{fs:5.0f} {det:<10} " + " ".join(f"{c:>17}" for c in cells))
    print()
    print(
        "EcgPeaks.ectopic by annotated class (matched beats classed ectopic / matched beats):"
        " sensitivity on V and S, specificity on N"
    )
    for fs in QTDB_RATES_HZ:
        cs = [r["wearsdk"][1] for _, f, r in results if f == fs]
        tot = {k: [sum(c.flagged[k][i] for c in cs) for i in (0, 1)] for k in "NVS"}
        (fn_, nn_), (fv, nv), (fs_, ns) = tot["N"], tot["V"], tot["S"]
        print(
            f"  {fs:5.0f} V {fv}/{nv} = {fv / max(nv, 1):.3f}, S {fs_}/{ns} = "
            f"{fs_ / max(ns, 1):.3f}, V+S {(fv + fs_) / max(nv + ns, 1):.3f}; N classed normal "
            f"{nn_ - fn_}/{nn_} = {1 - fn_ / max(nn_, 1):.4f}; of the beats classed ectopic "
            f"{(fv + fs_) / max(fv + fs_ + fn_, 1):.3f} are annotated V or S"
        )
    print()
    print(
        "annotation jitter: successive differences of N-N intervals (|.| < 100 ms), mean square"
        " of the reference's minus the detector's, / 6 = sigma_ann^2 - sigma_det^2, a lower"
        " bound of the reference's own per-beat timing noise; sqrt(2) sigma_ann bounds the RR"
        " RMS error of a detector exact on the true beats:"
    )
    for fs in QTDB_RATES_HZ:
        for det in ("wearsdk", "neurokit2"):
            cs = [r[det][1] for _, f, r in results if f == fs]
            a = np.concatenate([c.sd_ref for c in cs if c.sd_ref is not None])
            b = np.concatenate([c.sd_det for c in cs if c.sd_det is not None])
            keep = (np.abs(a) < 0.1) & (np.abs(b) < 0.1)
            sig = np.sqrt(max(0.0, float(np.mean(a[keep] ** 2) - np.mean(b[keep] ** 2)) / 6))
            nn = np.concatenate(
                [c.rr_err_s[c.rr_pair == "NN"] for c in cs if c.rr_pair is not None]
            )
            print(
                f"  {fs:5.0f} {det:<10} sigma_ann >= {sig * 1000:4.2f} ms -> RR RMS floor "
                f"{np.sqrt(2) * sig * 1000:4.2f} ms; the detector's N-N RR RMS error "
                f"{np.sqrt(np.mean(nn**2)) * 1000:4.2f} ms, MAE {np.mean(np.abs(nn)) * 1000:4.2f}"
            )
    print()
    print("per record (Se / PPV / RR MAE ms), wearsdk | neurokit2:")
    for fs in QTDB_RATES_HZ:
        for name, f, r in results:
            if f != fs:
                continue
            a, b = r["wearsdk"][0], r["neurokit2"][0]
            print(
                f"  {fs:5.0f} {name:<9} {a.se:.4f} {a.ppv:.4f} {a.rr_mae_ms:5.1f} | "
                f"{b.se:.4f} {b.ppv:.4f} {b.rr_mae_ms:5.1f}"
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="shared data dir")
    parser.add_argument(
        "--qtdb-only", action="store_true", help="only the qtdb_dev table (both detectors)"
    )
    args = parser.parse_args()
    root: Path = args.data
    if not root.is_dir():
        raise SystemExit(f"data folder not found: {root} (use --data or WEARSDK_DATA)")
    qtdb_table(root)
    if args.qtdb_only:
        return
    recs = [load_mitbih_100(root)] + [load_nst_118(root, s) for s in NST_SNR_DB]
    recs.append(load_polar_h10(root))

    head = (
        f"{'recording':<11} {'detector':<32} {'Se':>7} {'PPV':>7} {'t_err mean':>10} "
        f"{'t_err p95':>9} {'RR MAE':>7} {'beats':>7} {'n RR':>5}"
    )
    print(head)
    print(f"{'':<11} {'':<32} {'':>7} {'':>7} {'(ms)':>10} {'(ms)':>9} {'(ms)':>7} {'matched':>7}")
    print("-" * len(head))
    for rec in recs:
        t = rec.t if rec.t is not None else np.arange(rec.ecg.size) / rec.fs
        rows: list[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []
        ours = wearsdk_stream(rec)
        rows.append(("wearsdk EcgPeakDetector", ours.index, ours.t))
        for method in ("neurokit", "pantompkins1985", "hamilton2002"):
            idx = neurokit_peaks(rec.ecg, rec.fs, method)
            rows.append((f"neurokit2 {method}", idx, t[idx]))
            if method == "neurokit":
                rows.append(("neurokit2 neurokit +parabola", idx, parabolic_times(rec.ecg, idx, t)))
        for label, idx, times in rows:
            if rec.ref is not None:
                s = score_annotated(rec.ref, idx, times, rec.fs)
            else:
                s = score_device(rec, times)
            print(
                f"{rec.name:<11} {label:<32} {fmt(s.se, '.4f'):>7} {fmt(s.ppv, '.4f'):>7} "
                f"{fmt(s.t_mean_ms, '.1f'):>10} {fmt(s.t_p95_ms, '.1f'):>9} "
                f"{fmt(s.rr_mae_ms, '.2f'):>7} {fmt(s.matched, '.4f'):>7} {s.n_rr:>5}"
            )
        print()

    print(
        "t_err: |detected - reference| time of matched beats; RR MAE: over RR intervals whose two"
        " beats matched consecutive detections;\nbeats matched: strap beats with a detection"
        " within 50 ms (cumulative-RR alignment, see the module docstring).\n"
    )
    print("speed (x real time, one core, best of 3)")
    for rec in (recs[0], recs[-1]):
        dur = rec.ecg.size / rec.fs
        stream_s = timed(lambda rec=rec: wearsdk_stream(rec))
        whole_s = timed(lambda rec=rec, dur=dur: wearsdk_stream(rec, block_s=dur + 1.0))
        nk_s = timed(lambda rec=rec: neurokit_peaks(rec.ecg, rec.fs, "neurokit"))
        print(
            f"  {rec.name:<11} {dur:5.0f} s at {rec.fs:5.1f} Hz: wearsdk streaming (0.25 s blocks) "
            f"{dur / stream_s:6.0f}x, wearsdk one call {dur / whole_s:6.0f}x, "
            f"neurokit2 ecg_clean+ecg_peaks {dur / nk_s:6.0f}x"
        )


if __name__ == "__main__":
    main()
