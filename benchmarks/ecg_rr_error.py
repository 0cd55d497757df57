"""Where the RR error on ``qtdb_dev`` comes from: beat classes, records, and the annotations' own
timing noise measured against a second fiducial.

Each ``qtdb_dev`` record has two leads. The streaming detector is run on each lead separately
(1 s blocks), at 250 Hz and resampled to 130 Hz, and its beats are matched one-to-one to the
reference annotations (150 ms). For every interval between two consecutive annotated beats
found on both leads (as consecutive detections on each), three RR values are compared: the
annotations' (A), the detector's on lead 0 (B, the figure ``ecg_accuracy`` reports) and on lead
1 (C). With independent errors, the variances of the pairwise differences give each source's
own RR error variance (the three-cornered hat, as for clocks):
``var(A) = (var(A-B) + var(A-C) - var(B-C)) / 2`` and likewise for B and C. The two leads see
the same heart but other noise and another projection of the QRS; their errors are not fully
independent (the same beat-to-beat changes of the QRS reach both), which makes var(B-C)
smaller and so overstates var(A): the annotations' figure is an upper estimate, and the
``ecg_accuracy`` one (successive differences) a lower bound.

Printed: pooled and per-record RR MAE of B and C against A by the classes of the interval's
two beats (N-N, with S, with V), and the three-cornered-hat RR RMS of A, B and C over the N-N
intervals (pooled, and per record with the record's share of the N-N error).

Usage: python -m benchmarks.ecg_rr_error [--data DIR]
"""

from __future__ import annotations

import argparse
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.ecg_accuracy import (
    QTDB_RATES_HZ,
    QTDB_RECORDS,
    TOLERANCE_S,
    default_data_dir,
    load_qtdb,
    quiet_third_party,
    wearsdk_stream,
)

F64 = npt.NDArray[np.float64]


def matched_times(ref_t: F64, det_t: F64, fs: float) -> tuple[F64, npt.NDArray[np.int64]]:
    """Per reference beat: the matched detection's time (NaN if none) and its index (-1)."""
    with quiet_third_party():
        from wfdb.processing import compare_annotations

        cmp = compare_annotations(
            np.round(ref_t * fs).astype(np.int64),
            np.round(det_t * fs).astype(np.int64),
            round(TOLERANCE_S * fs),
        )
    m = np.asarray(cmp.matching_sample_nums, dtype=np.int64)
    t = np.where(m >= 0, det_t[np.maximum(m, 0)], np.nan)
    return t, m


def one(job: tuple[Path, str, float]) -> tuple[str, float, dict[str, np.ndarray]]:
    """Both leads of one record at one rate: the intervals all three sources measure."""
    root, name, fs = job
    leads = [load_qtdb(root, name, fs, lead) for lead in (0, 1)]
    ref_t, cls = leads[0].ref_t, leads[0].ref_cls
    assert ref_t is not None
    assert cls is not None
    ok = np.ones(ref_t.size - 1, np.bool_)
    rr: list[F64] = [np.diff(ref_t)]
    for rec in leads:
        t, m = matched_times(ref_t, wearsdk_stream(rec, block_s=1.0).t, rec.fs)
        ok &= (m[1:] >= 0) & (m[:-1] >= 0) & (m[1:] == m[:-1] + 1)
        rr.append(np.diff(t))
    pair = np.char.add(cls[:-1], cls[1:])
    return name, fs, {"pair": pair[ok], "A": rr[0][ok], "B": rr[1][ok], "C": rr[2][ok]}


def hat(a: F64, b: F64, c: F64) -> tuple[float, float, float]:
    """Three-cornered hat: each source's RMS (about its mean), from the pairwise differences."""
    vab, vac, vbc = float(np.var(a - b)), float(np.var(a - c)), float(np.var(b - c))
    va, vb, vc = (vab + vac - vbc) / 2, (vab + vbc - vac) / 2, (vac + vbc - vab) / 2
    return math.sqrt(max(0.0, va)), math.sqrt(max(0.0, vb)), math.sqrt(max(0.0, vc))


def nn_error(row: tuple[str, dict[str, np.ndarray]]) -> float:
    """A record's summed absolute N-N RR error on lead 0 (to sort the records by)."""
    r = row[1]
    return float(np.sum(np.abs(r["B"] - r["A"])[r["pair"] == "NN"]))


def groups(pair: np.ndarray) -> dict[str, npt.NDArray[np.bool_]]:
    has_v = np.char.find(pair, "V") >= 0
    has_s = (np.char.find(pair, "S") >= 0) & ~has_v
    return {"N-N": pair == "NN", "with S": has_s, "with V": has_v, "all": np.ones_like(has_v)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    jobs = [(args.data, n, fs) for fs in QTDB_RATES_HZ for n in QTDB_RECORDS]
    with ProcessPoolExecutor(args.workers) as ex:
        results = list(ex.map(one, jobs))
    ms = 1000.0
    for fs in QTDB_RATES_HZ:
        rows = [(name, r) for name, f, r in results if f == fs]
        allr = {k: np.concatenate([r[k] for _, r in rows]) for k in ("pair", "A", "B", "C")}
        print(
            f"qtdb_dev at {fs:g} Hz: intervals found on both leads, RR MAE against the annotations"
        )
        for g, sel in groups(allr["pair"]).items():
            eb = np.abs(allr["B"][sel] - allr["A"][sel]) * ms
            ec = np.abs(allr["C"][sel] - allr["A"][sel]) * ms
            ebc = np.abs(allr["B"][sel] - allr["C"][sel]) * ms
            print(
                f"  {g:<7} n {int(sel.sum()):6d}: lead 0 {eb.mean():5.2f} ms, lead 1 "
                f"{ec.mean():5.2f} ms, lead 0 - lead 1 {ebc.mean():5.2f} ms"
            )
        nn = allr["pair"] == "NN"
        sa, sb, sc = hat(allr["A"][nn], allr["B"][nn], allr["C"][nn])
        print(
            f"  N-N three-cornered hat, RR RMS error of each source: annotations {sa * ms:4.2f}"
            f" ms, lead 0 {sb * ms:4.2f} ms, lead 1 {sc * ms:4.2f} ms (pooled; the annotations'"
            " per beat: / sqrt 2)"
        )
        tot = float(np.sum(np.abs(allr["B"][nn] - allr["A"][nn])))
        print("  per record, N-N: n, MAE lead 0 / lead 1, share of the pooled N-N error,"
              " hat RMS annotations / lead 0 / lead 1 (ms); MAE with V (n)")  # fmt: skip
        for name, r in sorted(rows, key=nn_error, reverse=True):
            by = groups(r["pair"])
            sel = by["N-N"]
            e0 = np.abs(r["B"][sel] - r["A"][sel])
            e1 = np.abs(r["C"][sel] - r["A"][sel])
            h = hat(r["A"][sel], r["B"][sel], r["C"][sel]) if sel.sum() > 10 else (np.nan,) * 3
            v = by["with V"]
            ev = np.abs(r["B"][v] - r["A"][v]).mean() * ms if v.any() else np.nan
            print(
                f"    {name:<9} {int(sel.sum()):5d} {e0.mean() * ms:5.2f} / {e1.mean() * ms:5.2f}"
                f"  {e0.sum() / tot:5.1%}  {h[0] * ms:5.2f} / {h[1] * ms:5.2f} / {h[2] * ms:5.2f}"
                f"  {ev:6.1f} ({int(v.sum())})"
            )
        print()


if __name__ == "__main__":
    main()
