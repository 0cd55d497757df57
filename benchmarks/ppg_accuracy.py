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
   ``HR.csv``: Pearson correlation and mean absolute error. With ``--all``, the same for
   S01-S25 (median over subjects).

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

from wearsdk.io.e4 import load_e4_session
from wearsdk.signals import ecg_peak_times, ppg_beats
from wearsdk.signals._features import FeatureConfig, FeatureExtractor, WindowFeatures

FS = 100.0
MATCH_HALF_WIDTH_S = 0.2
EDGE_S = 2.0  # R peaks this close to the ends are not scored (detector start-up, look-ahead)


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


def e4_rate_vs_hr(folder: Path) -> dict[str, float]:
    """``ppg_rate_bpm`` of 60 s windows against the window mean of the E4's HR.csv."""
    session = load_e4_session(folder)
    bvp, hr = session.signals["bvp"], session.signals["hr"]
    t0 = float(bvp.t_unix[0])
    windows = extract(
        bvp.t_unix - t0, np.asarray(bvp.values).ravel(), bvp.rate_hz, FeatureConfig(60.0, 1.0)
    )
    th, xh = hr.t_unix - t0, np.asarray(hr.values).ravel()
    ours, device = [], []
    for w in windows:
        sel = (th >= w.start) & (th < w.end)
        rate = w.values.get("ppg_rate_bpm", math.nan)
        if sel.sum() >= 30 and math.isfinite(rate):
            ours.append(rate)
            device.append(float(xh[sel].mean()))
    a, b = np.array(ours), np.array(device)
    return {
        "windows": len(windows),
        "defined": a.size,
        "r": float(np.corrcoef(a, b)[0, 1]),
        "mae_bpm": float(np.mean(np.abs(a - b))),
        "bias_bpm": float(np.mean(a - b)),
    }


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
    for folder in folders:
        m = e4_rate_vs_hr(folder)
        results.append(m)
        print(
            f"E4 {folder.name}: ppg_rate_bpm vs window mean of HR.csv: r {m['r']:.3f}, "
            f"MAE {m['mae_bpm']:.2f} bpm, bias {m['bias_bpm']:+.2f} bpm "
            f"({m['defined']}/{m['windows']} windows defined)"
        )
    if len(results) > 1:
        print(
            f"E4 S01-S25: median r {np.median([m['r'] for m in results]):.3f}, median MAE "
            f"{np.median([m['mae_bpm'] for m in results]):.2f} bpm"
        )


if __name__ == "__main__":
    main()
