"""Labels and sessions of the PhysioNet wearable-stress dataset, for the arousal model.

Hongn et al. 2025, "Wearable Device Dataset from Induced Stress and Structured Exercise
Sessions" (PhysioNet, ODC-By 1.0), read from ``wearable_stress/`` under the data folder
(``--data DIR``, ``$WEARSDK_DATA`` or ``../shared/data``; never copied into the repository).
Empatica E4 exports whose row 1 is a UTC date-time string (``wearsdk.io.e4`` reads both forms).

The tags are the experimenters' button presses at stage changes; their mapping to stages is in
no file of the dataset. The one used here (derived and checked as described in
docs/estimates.md, "Labels of the wearable-stress sessions"), with segment k the time between
the k-th and (k+1)-th distinct tag (segment 0 before the first tag, the last one after the last
tag):

* protocol v1 (S01-S18, 13 distinct tags, 14 segments): 1 Baseline (rest), 2-3 Stroop (two
  press-delimited parts), 4 First Rest, 5 TMCT, 6 Second Rest, 7-12 Real Opinion, Opposite
  Opinion and Subtract (six short segments; no rest between them in the protocol). Segment 0
  (before the protocol) and 13 (after the last press) are left out.
* protocol v2 (f01-f18, 9 distinct tags, 10 segments): 2 TMCT, 3 First Rest, 4-6 Real and
  Opposite Opinion, 7 Second Rest. Left out: 0 (a lead-in of 4-39 min whose baseline part is
  not marked), 1 (1.3-2.7 min before the TMCT: baseline or instructions, not decidable), 8
  (0.4-1.1 min after the second rest) and 9 (until the end): where the Subtract task lies in
  them is not decidable from the presses.

Sessions left out: S02 (its export holds duplicated signal tails and a second IBI header:
``data_constraints.txt``; ``load_e4_session`` refuses its IBI file), f14_a (baseline only, no
tags); sessions with another number of distinct tags. f07's pulse wave and heart rate are invalid
(the protective dock covered the PPG sensor): only its EDA and ACC are used.

Exercise sessions (``AEROBIC``, ``ANAEROBIC``) carry no stress labels: every window is physical
arousal without a mental stressor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from wearsdk.io.e4 import load_e4_session

FloatArray = npt.NDArray[np.float64]

# segment index -> 1 stress task / 0 rest; segments not listed are left out (unlabelled)
V1_SEGMENTS = {1: 0, 2: 1, 3: 1, 4: 0, 5: 1, 6: 0, 7: 1, 8: 1, 9: 1, 10: 1, 11: 1, 12: 1}
V2_SEGMENTS = {2: 1, 3: 0, 4: 1, 5: 1, 6: 1, 7: 0}
TAGS = {"v1": 13, "v2": 9}
SKIP = {"S02": "duplicated signal tails and a second IBI header", "f14_a": "baseline only, no tags"}
NO_PULSE = {"f07": "protective dock left on: PPG and temperature invalid"}
UNLABELLED = -1.0


def protocol(session: str) -> str:
    """``v1`` for the S sessions, ``v2`` for the f sessions."""
    return "v1" if session.startswith("S") else "v2"


def person(session: str) -> str:
    """The person of a session (f14_b -> ws_f14; S01 -> ws_S01)."""
    return "ws_" + session.split("_")[0]


def stress_sessions(data: Path) -> list[str]:
    """The stress sessions with a usable tag sequence, in name order."""
    root = data / "wearable_stress" / "STRESS"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in SKIP)


def distinct_tags(tags: FloatArray) -> FloatArray:
    """Sorted tags with repeats (presses within 1 s, duplicated rows) removed."""
    t = np.sort(tags)
    if t.size == 0:
        return t
    keep = np.concatenate(([True], np.diff(t) > 1.0))
    return t[keep]


def second_labels(
    tags: FloatArray, start: float, end: float, proto: str
) -> tuple[FloatArray, FloatArray] | None:
    """Per-second label times and values (1 stress, 0 rest, -1 left out), or ``None`` when
    the session's distinct tags do not match its protocol's count.
    """
    t = distinct_tags(tags)
    t = t[(t >= start) & (t <= end)]
    if t.size != TAGS[proto]:
        return None
    mapping = V1_SEGMENTS if proto == "v1" else V2_SEGMENTS
    lt = np.arange(np.ceil(start), np.floor(end), dtype=np.float64) + 0.5
    seg = np.searchsorted(t, lt, side="right")
    ly = np.array([mapping.get(int(k), UNLABELLED) for k in seg], dtype=np.float64)
    return lt, ly


def session_streams(
    folder: Path, drop_pulse: bool = False
) -> tuple[dict[str, tuple[FloatArray, FloatArray, float | None]], float, float, FloatArray]:
    """Streams (as ``train_arousal.load_streams``), start, end and tags of one session."""
    s = load_e4_session(folder)
    streams: dict[str, tuple[FloatArray, FloatArray, float | None]] = {}
    for name in ("eda", "bvp", "hr", "temp", "acc"):
        if name in s.signals and not (drop_pulse and name in ("bvp", "hr", "temp")):
            sig = s.signals[name]
            streams[name] = (sig.t_unix, sig.values, sig.rate_hz)
    if s.ibi is not None and len(s.ibi) and not drop_pulse:
        streams["rr"] = (s.ibi.t_unix, s.ibi.ibi_s[:, None], None)
    return streams, s.start_unix, s.end_unix, s.tags_unix_s


def exercise_sessions(data: Path) -> list[tuple[str, str]]:
    """(kind, session) of every exercise session: ``AEROBIC`` and ``ANAEROBIC``."""
    out = []
    for kind in ("AEROBIC", "ANAEROBIC"):
        root = data / "wearable_stress" / kind
        out += [(kind, p.name) for p in sorted(root.iterdir()) if p.is_dir()]
    return out
