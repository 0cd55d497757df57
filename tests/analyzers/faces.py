"""Real face images shipped by installed packages, placed on 640x480 frames, and the model file.

- ``skimage.data.astronaut()``: Eileen Collins, smiling (NASA portrait, public domain).
- matplotlib's ``grace_hopper.jpg``: Grace Hopper, a formal portrait with a neutral face.
"""

import functools
import os
from pathlib import Path

import cv2
import matplotlib.cbook as cbook
import matplotlib.image as mpimg
import numpy as np
import pytest
from skimage import data

W, H = 640, 480


def model_file() -> Path:
    """``face_landmarker.task`` from ``WEARSDK_MODELS`` or ``../shared/models``; skip if absent."""
    env = os.environ.get("WEARSDK_MODELS")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "models"
    path = root / "face_landmarker.task"
    if not path.is_file():
        pytest.skip(f"face model not found at {path} (set WEARSDK_MODELS)")
    return path


@functools.cache
def astronaut_face() -> np.ndarray:
    """The smiling face, cropped around it (the face ~90 px wide in a 210 px square)."""
    return np.ascontiguousarray(data.astronaut()[20:230, 120:330])


@functools.cache
def hopper_face() -> np.ndarray:
    """The neutral face, cropped around it (the face ~185 px wide in a 400 px square)."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = mpimg.imread(f, format="jpg")
    return np.ascontiguousarray(image[60:460, 56:456])


def frame(*faces: tuple[np.ndarray, int, int, int]) -> np.ndarray:
    """A black 640x480 RGB frame with each ``(image, x, y, side)`` pasted as a square."""
    out = np.zeros((H, W, 3), np.uint8)
    for image, x, y, side in faces:
        out[y : y + side, x : x + side] = cv2.resize(image, (side, side))[: H - y, : W - x]
    return out


def smiling(side: int = 320, x: int = 160, y: int = 80) -> np.ndarray:
    return frame((astronaut_face(), x, y, side))


def neutral(side: int = 320, x: int = 160, y: int = 80) -> np.ndarray:
    return frame((hopper_face(), x, y, side))
