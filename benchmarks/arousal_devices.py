"""Arousal under other sensors: the same sessions as other devices would deliver them.

Every wearable-stress session (original order, the labels of ``benchmarks.arousal_wearable``)
is replayed through the online feature pipeline again with its streams changed as another
device would deliver them, and scored by the model trained on Stress-Predict only (people and
protocol it never saw: the cross-dataset direction of ``benchmarks.train_arousal``):

* ``as recorded``: E4, EDA at 4 Hz, the 1 Hz ``HR.csv``, the pulse wave and its beats;
* ``EDA gain x3`` / ``EDA gain x0.3``: a sensor reading three times higher or lower (another
  electrode size or gain; the range stays inside 0.01-100 µS);
* ``EDA at 8 Hz`` / ``EDA at 32 Hz``: the EDA resampled (linear interpolation) to another
  rate, which every EDA filter and the SCR detector must absorb;
* ``1 Hz HR stream only``: heart rate from the 1 Hz stream alone, no pulse wave and no beats
  (a BLE strap's heart-rate characteristic; the ``all`` sub-model scores it);
* ``beats only``: heart rate from the E4's own beats (``IBI.csv``, sparse) instead of the 1 Hz
  stream and no pulse wave (a strap's RR or ECG R-peaks; sparse here, so many windows fall back
  to the EDA-only sub-model).

Usage: python -m benchmarks.arousal_devices [--data DIR]   (about 5 minutes; nice -n 10)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

import benchmarks.arousal_wearable as aw
import benchmarks.train_arousal as ta

Transform = Callable[[ta.Streams], ta.Streams]


def _eda_gain(g: float) -> Transform:
    def f(s: ta.Streams) -> ta.Streams:
        t, v, r = s["eda"]
        return {**s, "eda": (t, v * g, r)}

    return f


def _eda_rate(hz: float) -> Transform:
    def f(s: ta.Streams) -> ta.Streams:
        t, v, _ = s["eda"]
        tn = np.arange(t[0], t[-1], 1.0 / hz)
        return {**s, "eda": (tn, np.interp(tn, t, v[:, 0])[:, None], hz)}

    return f


def _only(*names: str) -> Transform:
    def f(s: ta.Streams) -> ta.Streams:
        return {k: v for k, v in s.items() if k in names}

    return f


TRANSFORMS: dict[str, Transform] = {
    "as recorded": lambda s: s,
    "EDA gain x3": _eda_gain(3.0),
    "EDA gain x0.3": _eda_gain(0.3),
    "EDA at 8 Hz": _eda_rate(8.0),
    "EDA at 32 Hz": _eda_rate(32.0),
    "1 Hz HR stream only": _only("eda", "hr", "acc", "temp"),
    "beats only": _only("eda", "rr", "acc", "temp"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ta.default_data_dir())
    args = ap.parse_args()
    sp, _, _ = ta.load_subjects(args.data, True)
    params = ta.params_dict(ta.train_submodels(sp))
    print("model trained on Stress-Predict S02-S25; scored on wearable-stress (never seen)")
    print(f"{'streams':<22} AUC pooled  per-person mean  min    ECE    windows by sub-model")
    for label, change in TRANSFORMS.items():
        subs = []
        for name in aw.stress_sessions(args.data):
            folder = args.data / "wearable_stress" / "STRESS" / name
            streams, start, end, tags = aw.session_streams(folder, drop_pulse=name in aw.NO_PULSE)
            labels = aw.second_labels(tags, start, end, aw.protocol(name))
            if labels is None:
                continue
            changed = change(streams)
            key = f"dev_{label.replace(' ', '_')}_{name}"
            table = ta.variant_tables(
                key, lambda s=changed, a=start, b=end: (s, a, b), *labels, True, ("original",)
            )
            subs.append(ta.make_subj(key, table))
        sc = ta.evaluate(subs, {s.name: params for s in subs}, "original")
        f = sc.figures()
        print(
            f"{label:<22} {f['auc_pooled']:.3f}       {f['auc_subject_mean']:.3f}            "
            f"{f['auc_subject_min']:.3f}  {f['ece_confidence_weighted']:.3f}  {sc.usage}"
        )


if __name__ == "__main__":
    main()
