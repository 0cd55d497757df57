"""Face blendshapes to action-unit proxies, valence, arousal and confidence (pure).

MediaPipe's Face Landmarker scores 52 blendshapes in [0, 1]: the ARKit set, which is
modelled on FACS action units (Ekman, Friesen & Hager 2002, *Facial Action Coding System*).
Each AU proxy below is the mean of the blendshapes of its muscle movement (left and right
averaged); :data:`BLENDSHAPE_AU` is the table. ARKit does not separate every AU: AU6 (cheek
raiser) has only ``cheekSquint``, which the model rarely scores high, and lid tightening
(AU7, ``eyeSquint``) comes with smiles and frowns alike, so it only enters overall activity.
The 17 proxies are the 17 AUs OpenFace 2.0 reports, with AU24 (``mouthPress``, lip presser)
in place of AU23 and AU16 (``mouthLowerDown``) in place of AU25, which ARKit lacks.

Valence and arousal use the same heuristic as :func:`~wearsdk.analyzers.read_openface_csv`
(sources in :mod:`wearsdk.analyzers._files`): positive affect from AU6 + AU12 (the smile:
Ekman, Davidson & Friesen 1990; zygomaticus tracks valence, Larsen, Norris & Cacioppo
2003), negative affect from AU4 (corrugator), AU15 and AU9 (EMFACS prototypes of sadness and
disgust, Friesen & Ekman 1983), ``valence = tanh(3 (pos - neg))``; arousal from the brow
raisers, upper lid raiser and jaw drop of surprise and fear (AU1, AU2, AU5, AU26) and overall
facial activity. Valence and arousal are the two axes of Russell's circumplex (Russell 1980,
J. Pers. Soc. Psychol. 39:1161).

Categorical emotions are **not** published as probabilities: facial configurations are
neither reliable nor specific signs of felt emotions (Barrett et al. 2019, Psychol. Sci.
Public Interest 20:1). :func:`expression_prototypes` scores how closely the face matches the
posed EMFACS prototypes, as a description of the expression only.

Limits: the blendshape model was trained on posed and acted faces; expressions are
culture- and person-dependent; a smile is not happiness (social smiles, grimaces). Never
judge a person by these estimates alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from wearsdk.analyzers._files import _OPENFACE_HEURISTIC_CONFIDENCE, _openface_affect

__all__ = [
    "BLENDSHAPE_AU",
    "EXPRESSION_PROTOTYPES",
    "FaceQuality",
    "action_units",
    "expression_prototypes",
    "face_affect",
    "face_confidence",
    "head_pose_deg",
]

BLENDSHAPE_AU: Final = MappingProxyType(
    {
        "AU01": ("browInnerUp",),
        "AU02": ("browOuterUpLeft", "browOuterUpRight"),
        "AU04": ("browDownLeft", "browDownRight"),
        "AU05": ("eyeWideLeft", "eyeWideRight"),
        "AU06": ("cheekSquintLeft", "cheekSquintRight"),
        "AU07": ("eyeSquintLeft", "eyeSquintRight"),
        "AU09": ("noseSneerLeft", "noseSneerRight"),
        "AU10": ("mouthUpperUpLeft", "mouthUpperUpRight"),
        "AU12": ("mouthSmileLeft", "mouthSmileRight"),
        "AU14": ("mouthDimpleLeft", "mouthDimpleRight"),
        "AU15": ("mouthFrownLeft", "mouthFrownRight"),
        "AU16": ("mouthLowerDownLeft", "mouthLowerDownRight"),
        "AU17": ("mouthShrugLower",),
        "AU20": ("mouthStretchLeft", "mouthStretchRight"),
        "AU24": ("mouthPressLeft", "mouthPressRight"),
        "AU26": ("jawOpen",),
        "AU45": ("eyeBlinkLeft", "eyeBlinkRight"),
    }
)
"""FACS action unit → the MediaPipe (ARKit) blendshapes whose mean is its proxy."""

EXPRESSION_PROTOTYPES: Final = MappingProxyType(
    {
        "happiness": ("AU06", "AU12"),
        "surprise": ("AU01", "AU02", "AU05", "AU26"),
        "sadness": ("AU01", "AU04", "AU15"),
        "anger": ("AU04", "AU05", "AU07", "AU24"),
        "disgust": ("AU09", "AU15", "AU16"),
        "fear": ("AU01", "AU02", "AU04", "AU05", "AU07", "AU20", "AU26"),
    }
)
"""EMFACS prototype configurations (Friesen & Ekman 1983; AU23 read as the AU24 proxy)."""


def action_units(blendshapes: Mapping[str, float]) -> dict[str, float]:
    """The AU proxies in [0, 1] of one face's blendshape scores (:data:`BLENDSHAPE_AU`).

    Missing blendshapes count as 0.
    """
    out = {}
    for au, names in BLENDSHAPE_AU.items():
        value = sum(float(blendshapes.get(n, 0.0)) for n in names) / len(names)
        out[au] = min(1.0, max(0.0, value))
    return out


def face_affect(aus: Mapping[str, float]) -> tuple[float, float]:
    """``(valence in [-1, 1], arousal in [0, 1])`` of AU proxies (module docs)."""
    return _openface_affect({f"{k}_r": v for k, v in aus.items()})


def expression_prototypes(aus: Mapping[str, float]) -> dict[str, float]:
    """How closely the face matches each EMFACS prototype: the mean of its AU proxies.

    A description of the expression, not the probability of a felt emotion (module docs).
    """
    return {
        name: sum(aus.get(a, 0.0) for a in units) / len(units)
        for name, units in EXPRESSION_PROTOTYPES.items()
    }


def head_pose_deg(matrix: npt.ArrayLike) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of a 4x4 face transformation matrix (0 = frontal).

    The rotation is read as ``Ry(yaw) @ Rx(pitch) @ Rz(roll)`` (yaw about the vertical axis).
    """
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    yaw = math.degrees(math.atan2(float(r[0, 2]), float(r[2, 2])))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -float(r[1, 2])))))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[1, 1])))
    return yaw, pitch, roll


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """What the confidence of one face judgement rests on.

    Attributes:
        size_px: face width in pixels (landmark extent).
        yaw_deg: head yaw, 0 frontal.
        pitch_deg: head pitch, 0 frontal.
        luma: mean luma (0-255) of the face's box.
        motion: median landmark displacement since the previous frame, in face widths
            (NaN on a face's first frame).
        faces: faces found in the frame.
    """

    size_px: float
    yaw_deg: float
    pitch_deg: float
    luma: float
    motion: float
    faces: int


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi``, linear between (either direction)."""
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def face_confidence(q: FaceQuality) -> float:
    """Confidence in [0, 0.6] of a face judgement; 0 means the face is unusable.

    ``0.6 * size * pose * light * stability * single``: size ramps from 0 at 24 px to 1 at
    80 px of face width (the landmark model sees a 192 px crop: smaller faces are upsampled
    and their mouth and eyes blurred); pose from 1 within
    20° of frontal to 0 at 45° of yaw or pitch; light from 0 at a face luma of 12 to 1 at
    60; stability from 1 at a landmark motion of 5 % of the face width per frame down to 0.5
    at 25 % or more (jumps: tracking lost, another face), 0.75 on a face's first frame;
    ``single`` is 0.8 when several faces are in view (which one is the wearer's?). The 0.6
    ceiling is the one of the OpenFace heuristic: a coarse mapping, not a validated model.
    """
    size = _ramp(q.size_px, 24.0, 80.0)
    pose = _ramp(max(abs(q.yaw_deg), abs(q.pitch_deg)), 45.0, 20.0)
    light = _ramp(q.luma, 12.0, 60.0)
    moved = _ramp(q.motion, 0.05, 0.25) if math.isfinite(q.motion) else 0.5
    stability = 1.0 - 0.5 * moved
    single = 1.0 if q.faces <= 1 else 0.8
    return _OPENFACE_HEURISTIC_CONFIDENCE * size * pose * light * stability * single
