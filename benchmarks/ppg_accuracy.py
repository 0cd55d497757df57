"""Accuracy of the PPG/BVP beats and window features, against ECG, a breathing belt and a wristband.

1. ``neurokit/bio_resting_5min_100hz.csv`` (ECG, PPG and RSP at 100 Hz, one person at rest):
   every PPG beat follows an R peak (:func:`wearsdk.signals.ecg_peak_times`) by the pulse
   transit time (plus, for wearsdk, the causal band-pass's group delay). For each detector the
   median delay from an R peak to the next PPG beat is measured, and each R peak is matched
   one-to-one with a PPG beat within +-0.2 s of that delay after it: sensitivity (matched R
   peaks / R peaks), PPV (matched PPG beats / PPG beats), and the beat-to-beat interval error
   (PPG interval minus RR interval, over consecutive matched beats). Side by side, in the same
   run: :func:`wearsdk.signals.ppg_beats` and neurokit2's
   ``ppg_findpeaks(ppg_clean(x, sampling_rate=100), sampling_rate=100)``; and wearsdk's beats
   after the window features' amplitude acceptance ([0.3, 3] x the median amplitude, here of
   the whole recording).
2. Same recording: ``ppg_resp_hz`` of 60 s windows (every 10 s, from
   :class:`~wearsdk.signals.FeatureExtractor`) against the belt's breathing rate (neurokit2
   ``rsp_process``'s ``RSP_Rate`` averaged over the window).
3. ``stress_predict/Raw_data/S02`` (Empatica E4 on the wrist, ~1 h of a stress protocol):
   ``ppg_rate_bpm`` of 60 s windows every 1 s against the window mean of the E4's own
   ``HR.csv``: Pearson correlation and mean absolute error. ``HR.csv`` is a smoothed estimate
   that follows the E4's own beats (``IBI.csv``, on the BVP's clock) about 45 s late (the median
   over S01-S25 of :func:`hr_delay`, which uses only the E4's files), so the same is also
   measured against ``HR.csv`` 45 s later, and, on the windows where the E4 itself reported at
   least 30 beats, against both that and the rate of the E4's beats (60 / their median
   interval). With ``--all``, the same for S01-S25 (median over subjects).
4. ``bvp_sqi`` (:func:`wearsdk.signals.ppg_sqi`) of the same E4 windows: ROC AUC for telling the
   windows where the E4 reported at least 30 beats from those where it reported none (pooled and
   per subject), the threshold maximising sensitivity + specificity (pooled, and with each
   subject left out in turn), the share of windows flagged at several thresholds, and the
   pulse-rate agreement above and below :data:`~wearsdk.signals.PPG_SQI_THRESHOLD`; on the lab
   PPG of 2., the SQI of its windows and how many are flagged.

Figures (``--all``): lab PPG sensitivity 1.000, PPV 0.968 (1.000 after the amplitude
acceptance), interval MAE 5.6 ms (neurokit2 6.3 ms); breathing MAE 4.1/min; E4 S02 r 0.29, MAE
9.5 bpm, S01-S25 median r 0.425, MAE 5.9 bpm (HR.csv 45 s later: 0.53, 5.0 bpm; windows with
at least 30 E4 beats: r 0.79, MAE 2.2 bpm, and 1.0 bpm against the E4 beats' own rate);
``bvp_sqi`` AUC 0.983 (>= 30 E4 beats vs none), Youden threshold 0.83 (0.83 leaving any
subject out); at 0.83, 46 % of the E4 windows flagged, pulse rate vs HR.csv 45 s later MAE 3.2
bpm / r 0.89 above, 9.0 bpm / r 0.39 below; lab PPG SQI min 0.990, 0/24 windows flagged.

Usage: python -m benchmarks.ppg_accuracy [--data DIR] [--all]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np

from wearsdk.io.e4 import E4Session, load_e4_session
from wearsdk.signals import PPG_SQI_THRESHOLD, ecg_peak_times, ppg_beats
from wearsdk.signals._features import FeatureConfig, FeatureExtractor, WindowFeatures

FS = 100.0
MATCH_HALF_WIDTH_S = 0.2
EDGE_S = 2.0  # R peaks this close to the ends are not scored (detector start-up, look-ahead)
# HR.csv follows the E4's own beats (IBI.csv) about this much later: the median over S01-S25
# of hr_delay() (per subject 30-50 s, S10 80 s, S22 90 s; S02 and S17 have too few E4 beats)
E4_HR_DELAY_S = 45.0
E4_CLEAN_BEATS = 30  # a window where the E4 itself reported this many beats


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("WEARSDK_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_resting(root: Path) -> dict[str, np.ndarray]:
    with open(root / "neurokit" / "bio_resting_5min_100hz.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("ECG", "PPG", "RSP")}


def match_beats(r: np.ndarray, p: np.ndarray, duration: float) -> dict[str, float]:
    """Sensitivity, PPV, delay and interval error of PPG beat times ``p`` against R peaks ``r``."""
    following = np.searchsorted(r, p, side="right") - 1
    lags = p[following >= 0] - r[following[following >= 0]]
    delay = float(np.median(lags))
    scored_r = (r >= EDGE_S) & (r <= duration - EDGE_S)
    matched = np.full(r.size, np.nan)
    used = np.zeros(p.size, dtype=bool)
    for i in np.flatnonzero(scored_r):
        centre = r[i] + delay
        lo, hi = np.searchsorted(p, (centre - MATCH_HALF_WIDTH_S, centre + MATCH_HALF_WIDTH_S))
        for j in range(lo, hi):
            if not used[j]:
                used[j] = True
                matched[i] = p[j]
                break
    n_r = int(scored_r.sum())
    tp = int(np.isfinite(matched).sum())
    lo_p = EDGE_S + delay - MATCH_HALF_WIDTH_S
    hi_p = duration - EDGE_S + delay + MATCH_HALF_WIDTH_S
    n_p = int(((p >= lo_p) & (p <= hi_p)).sum())
    both = np.isfinite(matched[1:]) & np.isfinite(matched[:-1])
    err = (np.diff(matched) - np.diff(r))[both]
    return {
        "delay_s": delay,
        "delay_iqr_s": float(np.subtract(*np.percentile(lags, [75, 25]))),
        "sensitivity": tp / n_r,
        "ppv": tp / n_p if n_p else math.nan,
        "n_r": n_r,
        "n_ppg": n_p,
        "interval_mae_ms": 1000 * float(np.mean(np.abs(err))),
        "interval_p95_ms": 1000 * float(np.percentile(np.abs(err), 95)),
        "n_intervals": int(both.sum()),
    }


def extract(t: np.ndarray, x: np.ndarray, fs: float, config: FeatureConfig) -> list[WindowFeatures]:
    """Window features of a BVP stream fed in 1 s blocks."""
    ex = FeatureExtractor(config)
    out: list[WindowFeatures] = []
    step = round(fs)
    for i in range(0, t.size, step):
        ex.push("bvp", t[i : i + step], x[i : i + step], nominal_rate_hz=fs)
        out.extend(ex.ready())
    return out


def e4_rate_vs_hr(
    folder: Path, sqi_rows: list[tuple[float, ...]] | None = None
) -> dict[str, float]:
    """``ppg_rate_bpm`` of 60 s windows against the E4's HR.csv (same window, and the window
    ``E4_HR_DELAY_S`` later) and, where the E4 itself reported beats, against its IBI.csv.

    With ``sqi_rows``, one row per window with a defined ``bvp_sqi`` is appended to it: the SQI,
    the number of E4 beats in the window, ``ppg_rate_bpm``, HR.csv's mean ``E4_HR_DELAY_S``
    later and the E4 beats' rate (NaN where undefined)."""
    session = load_e4_session(folder)
    bvp, hr = session.signals["bvp"], session.signals["hr"]
    t0 = float(bvp.t_unix[0])
    windows = extract(
        bvp.t_unix - t0, np.asarray(bvp.values).ravel(), bvp.rate_hz, FeatureConfig(60.0, 1.0)
    )
    th, xh = hr.t_unix - t0, np.asarray(hr.values).ravel()
    tb, ib = _e4_beats(session, t0)
    same: list[tuple[float, float]] = []
    late: list[tuple[float, float]] = []
    clean: list[tuple[float, float, float]] = []  # ours, HR.csv later, E4 beats' rate
    for w in windows:
        rate = w.values.get("ppg_rate_bpm", math.nan)
        if sqi_rows is not None:
            sqi_rows.append(_sqi_row(w, th, xh, tb, ib))
        if not math.isfinite(rate):
            continue
        sel = (th >= w.start) & (th < w.end)
        if sel.sum() >= 30:
            same.append((rate, float(xh[sel].mean())))
        sel = (th >= w.start + E4_HR_DELAY_S) & (th < w.end + E4_HR_DELAY_S)
        if sel.sum() >= 30:
            late.append((rate, float(xh[sel].mean())))
            k = (tb >= w.start) & (tb < w.end)
            if k.sum() >= E4_CLEAN_BEATS:
                clean.append((rate, late[-1][1], 60.0 / float(np.median(ib[k]))))
    out: dict[str, float] = {"windows": len(windows), "delay_s": hr_delay(th, xh, tb, ib)}
    for name, pairs in (("", same), ("late_", late), ("clean_", clean)):
        a = np.array([p[0] for p in pairs])
        b = np.array([p[1] for p in pairs])
        out[name + "defined"] = a.size
        out[name + "r"] = float(np.corrcoef(a, b)[0, 1]) if a.size > 2 else math.nan
        out[name + "mae_bpm"] = float(np.mean(np.abs(a - b))) if a.size else math.nan
        out[name + "bias_bpm"] = float(np.mean(a - b)) if a.size else math.nan
    c = np.array(clean).reshape(-1, 3)
    out["ibi_mae_bpm"] = float(np.mean(np.abs(c[:, 0] - c[:, 2]))) if c.size else math.nan
    return out


def _sqi_row(
    w: WindowFeatures, th: np.ndarray, xh: np.ndarray, tb: np.ndarray, ib: np.ndarray
) -> tuple[float, ...]:
    """SQI, E4 beats, our rate, HR.csv later, E4 beats' rate of one window (see above)."""
    k = (tb >= w.start) & (tb < w.end)
    n = int(k.sum())
    sel = (th >= w.start + E4_HR_DELAY_S) & (th < w.end + E4_HR_DELAY_S)
    late = float(xh[sel].mean()) if sel.sum() >= 30 else math.nan
    own = 60.0 / float(np.median(ib[k])) if n >= E4_CLEAN_BEATS else math.nan
    rate = w.values.get("ppg_rate_bpm", math.nan)
    return (w.quality.get("bvp_sqi", math.nan), float(n), rate, late, own)


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count a half)."""
    if not (pos.size and neg.size):
        return math.nan
    order = np.sort(neg)
    below = np.searchsorted(order, pos, side="left")
    ties = np.searchsorted(order, pos, side="right") - below
    return float((below + 0.5 * ties).sum()) / (pos.size * neg.size)


def youden_threshold(pos: np.ndarray, neg: np.ndarray) -> float:
    """The threshold (on a 0.01 grid) maximising sensitivity + specificity - 1 for ``>=``."""
    grid = np.round(np.arange(0.50, 1.0, 0.01), 2)
    j = [np.mean(pos >= g) - np.mean(neg >= g) for g in grid]
    return float(grid[int(np.argmax(j))])


def agreement(a: np.ndarray, b: np.ndarray) -> str:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return f"n {int(ok.sum())}"
    a, b = a[ok], b[ok]
    r = float(np.corrcoef(a, b)[0, 1])
    return (
        f"MAE {np.mean(np.abs(a - b)):.2f} bpm, r {r:.3f}, bias {np.mean(a - b):+.2f} (n {a.size})"
    )


def sqi_report(per_subject: dict[str, np.ndarray], lab: np.ndarray) -> None:
    """The ``bvp_sqi`` validation (section 4 of the module documentation)."""
    thr = PPG_SQI_THRESHOLD
    per_subject = {k: r[np.isfinite(r[:, 0])] for k, r in per_subject.items()}
    rows = np.concatenate(list(per_subject.values()))
    sqi, n_e4 = rows[:, 0], rows[:, 1]
    pos, neg = sqi[n_e4 >= E4_CLEAN_BEATS], sqi[n_e4 == 0]
    aucs = {
        name: roc_auc(r[r[:, 1] >= E4_CLEAN_BEATS, 0], r[r[:, 1] == 0, 0])
        for name, r in per_subject.items()
    }
    with_both = [a for a in aucs.values() if math.isfinite(a)]
    print(
        f"bvp_sqi, E4 {len(per_subject)} subjects, {sqi.size} windows (60 s every 1 s) with a "
        f"defined SQI: windows where the E4 reported >= {E4_CLEAN_BEATS} beats ({pos.size}) vs "
        f"none ({neg.size}): pooled ROC AUC {roc_auc(pos, neg):.3f}; per subject (the "
        f"{len(with_both)} with both kinds) median {np.median(with_both):.3f}, min "
        f"{min(with_both):.3f}"
    )
    print(
        f"  SQI quantiles 10/50/90 %: E4 >= {E4_CLEAN_BEATS} beats "
        f"{np.percentile(pos, [10, 50, 90]).round(3).tolist()}, no E4 beat "
        f"{np.percentile(neg, [10, 50, 90]).round(3).tolist()}"
    )
    youden = youden_threshold(pos, neg)
    loso = []
    for name in per_subject:
        rest = np.concatenate([r for k, r in per_subject.items() if k != name])
        loso.append(
            youden_threshold(rest[rest[:, 1] >= E4_CLEAN_BEATS, 0], rest[rest[:, 1] == 0, 0])
        )
    print(
        f"  threshold maximising sensitivity + specificity (Youden), pooled: {youden:.2f}; "
        f"leaving one subject out: {min(loso):.2f}-{max(loso):.2f} (median "
        f"{np.median(loso):.2f}); used: PPG_SQI_THRESHOLD = {thr:.2f}"
    )
    for g in sorted({0.80, 0.82, 0.84, 0.86, 0.88, 0.90, thr}):
        print(
            f"    at {g:.2f}: flagged {np.mean(sqi < g):.3f} of all windows, "
            f"{np.mean(pos < g):.3f} of E4 >= {E4_CLEAN_BEATS}, {np.mean(neg < g):.3f} of "
            f"no-E4-beat windows"
        )
    rate, late, own = rows[:, 2], rows[:, 3], rows[:, 4]
    for name, sel in (("above", sqi >= thr), ("below", sqi < thr)):
        print(
            f"  {name} {thr:.2f} ({np.mean(sel):.3f} of windows): ppg_rate_bpm vs HR.csv "
            f"{E4_HR_DELAY_S:.0f} s later {agreement(rate[sel], late[sel])}; vs the E4 beats' "
            f"rate {agreement(rate[sel], own[sel])}"
        )
    flagged = [float(np.mean(r[:, 0] < thr)) for r in per_subject.values()]
    print(
        f"  fraction flagged per subject: median {np.median(flagged):.3f}, "
        f"{min(flagged):.3f}-{max(flagged):.3f}"
    )
    print(
        f"  lab PPG (bio_resting_5min_100hz), 60 s windows every 10 s: SQI min "
        f"{np.nanmin(lab):.3f}, median {np.nanmedian(lab):.3f}, flagged "
        f"{int(np.sum(lab < thr))}/{lab.size} ({int(np.isnan(lab).sum())} undefined)"
    )


def _e4_beats(session: E4Session, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """The E4's own beats (IBI.csv): times from ``t0`` and intervals within (0.33, 1.5) s."""
    if session.ibi is None:
        return np.empty(0), np.empty(0)
    tb, ib = session.ibi.t_unix - t0, np.asarray(session.ibi.ibi_s)
    ok = (ib > 0.33) & (ib < 1.5)
    return tb[ok], ib[ok]


def hr_delay(th: np.ndarray, xh: np.ndarray, tb: np.ndarray, ib: np.ndarray) -> float:
    """How much later HR.csv follows the E4's own beats: the shift (0-90 s in 5 s steps) of
    HR.csv maximising its correlation with the IBI.csv rate over 20 s windows every 10 s that
    hold at least 15 E4 beats (NaN with fewer than 20 such windows). No wearsdk output is used.
    """
    best, best_r = math.nan, -math.inf
    for lag in range(0, 91, 5):
        ours, device = [], []
        for end in np.arange(20.0, th[-1] - lag, 10.0):
            k = (tb >= end - 20) & (tb < end)
            sel = (th >= end - 20 + lag) & (th < end + lag)
            if k.sum() >= 15 and sel.sum() >= 15:
                ours.append(60.0 / float(np.median(ib[k])))
                device.append(float(xh[sel].mean()))
        if len(ours) < 20:
            return math.nan
        r = float(np.corrcoef(ours, device)[0, 1])
        if r > best_r:
            best, best_r = float(lag), r
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=None)
    parser.add_argument("--all", action="store_true", help="also S01-S25 of stress_predict")
    args = parser.parse_args()
    root = data_dir(args.data)
    import neurokit2 as nk

    rec = load_resting(root)
    duration = rec["PPG"].size / FS
    r = ecg_peak_times(rec["ECG"], sampling_rate_hz=FS)
    beats = ppg_beats(rec["PPG"], sampling_rate_hz=FS)
    ours = beats.t
    # the window features' acceptance (amplitude within [0.3, 3] x the median), whole recording
    med = float(np.median(beats.amplitude))
    accepted = ours[(beats.amplitude >= 0.3 * med) & (beats.amplitude <= 3 * med)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nk_idx = nk.ppg_findpeaks(nk.ppg_clean(rec["PPG"], sampling_rate=100), sampling_rate=100)
    theirs = np.asarray(nk_idx["PPG_Peaks"], dtype=np.float64) / FS
    print(
        f"PPG beats vs ECG R peaks, neurokit bio_resting_5min_100hz ({duration:.0f} s, "
        f"{r.size} R peaks; one-to-one within +-{MATCH_HALF_WIDTH_S} s of the median delay)"
    )
    for name, p in (
        ("wearsdk ppg_beats", ours),
        ("wearsdk, accepted beats", accepted),
        ("neurokit2 ppg_findpeaks", theirs),
    ):
        m = match_beats(r, p, duration)
        print(
            f"  {name:<24} sensitivity {m['sensitivity']:.4f} ({m['n_r']} R), "
            f"PPV {m['ppv']:.4f} ({m['n_ppg']} beats), delay R->beat {m['delay_s']:.3f} s "
            f"(IQR {m['delay_iqr_s'] * 1000:.0f} ms), interval error vs RR: MAE "
            f"{m['interval_mae_ms']:.1f} ms, p95 {m['interval_p95_ms']:.1f} ms "
            f"({m['n_intervals']} intervals)"
        )

    # breathing rate against the belt
    t = np.arange(rec["PPG"].size) / FS
    windows = extract(t, rec["PPG"], FS, FeatureConfig(window_s=60.0, hop_s=10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rsp, _info = nk.rsp_process(rec["RSP"], sampling_rate=100)
    belt_rate = rsp["RSP_Rate"].to_numpy()
    errs, rows = [], []
    for w in windows:
        sel = (t >= w.start) & (t < w.end)
        belt = float(np.mean(belt_rate[sel]))
        est = 60.0 * w.values["ppg_resp_hz"]
        rows.append((w.end, est, belt, w.values["ppg_resp_fraction"]))
        if math.isfinite(est):
            errs.append(est - belt)
    e = np.abs(np.array(errs))
    print(
        f"ppg_resp_hz vs the belt (60 s windows every 10 s): {e.size}/{len(windows)} defined, "
        f"MAE {e.mean():.2f} breaths/min, within 2/min {np.mean(e <= 2):.2f}, "
        f"belt mean {np.mean([b for _w, _e, b, _f in rows]):.1f}/min"
    )
    for end, est, belt, frac in rows:
        print(f"    window end {end:5.0f} s: PPG {est:5.1f}/min, belt {belt:5.1f}/min, "
              f"band fraction {frac:.2f}")  # fmt: skip

    folders = (
        [root / "stress_predict" / "Raw_data" / f"S{k:02d}" for k in range(1, 26)]
        if args.all
        else [root / "stress_predict" / "Raw_data" / "S02"]
    )
    results = []
    per_subject: dict[str, np.ndarray] = {}
    for folder in folders:
        sqi_rows: list[tuple[float, ...]] = []
        m = e4_rate_vs_hr(folder, sqi_rows)
        per_subject[folder.name] = np.array(sqi_rows).reshape(-1, 5)
        results.append(m)
        print(
            f"E4 {folder.name}: ppg_rate_bpm vs window mean of HR.csv: r {m['r']:.3f}, "
            f"MAE {m['mae_bpm']:.2f} bpm, bias {m['bias_bpm']:+.2f} bpm "
            f"({m['defined']}/{m['windows']} windows defined); HR.csv {E4_HR_DELAY_S:.0f} s "
            f"later: r {m['late_r']:.3f}, MAE {m['late_mae_bpm']:.2f} bpm; "
            f"{m['clean_defined']} windows with >= {E4_CLEAN_BEATS} E4 beats: r "
            f"{m['clean_r']:.3f}, MAE {m['clean_mae_bpm']:.2f} bpm, vs the E4 beats' rate MAE "
            f"{m['ibi_mae_bpm']:.2f} bpm; HR.csv delay vs IBI.csv {m['delay_s']:.0f} s"
        )
    if len(results) > 1:

        def over(key: str) -> float:
            return float(np.nanmedian([m[key] for m in results]))

        print(
            f"E4 S01-S25, median over subjects: same window r {over('r'):.3f}, MAE "
            f"{over('mae_bpm'):.2f} bpm; HR.csv {E4_HR_DELAY_S:.0f} s later r "
            f"{over('late_r'):.3f}, MAE {over('late_mae_bpm'):.2f} bpm; windows with >= "
            f"{E4_CLEAN_BEATS} E4 beats r "
            f"{over('clean_r'):.3f}, MAE {over('clean_mae_bpm'):.2f} bpm, vs the E4 beats' rate "
            f"MAE {over('ibi_mae_bpm'):.2f} bpm; HR.csv delay vs IBI.csv {over('delay_s'):.0f} s"
        )
    sqi_report(per_subject, np.array([w.quality["bvp_sqi"] for w in windows]))


if __name__ == "__main__":
    main()
