"""The face analyzer's moving parts: the frame mailbox between threads, the landmarker,
one frame's faces and judgement."""  # noqa: D205, D209

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError
from wearsdk.analyzers._face_affect import (
    FaceQuality,
)
from wearsdk.analyzers._face_model import ModelUnavailableError

_FACE_EXTRA = "the face analyzer needs the face extra: pip install 'wearsdk[face]'"
Uint8Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Frame:
    t: float  # session time of capture / presentation
    perf: float  # time.perf_counter() at capture
    image: Uint8Image
    bgr: bool


class _Mailbox:
    """One frame between capture and inference; a put over a waiting frame drops it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: _Frame | None = None
        self._closed = False
        self.offered = 0
        self.dropped = 0

    def put(self, item: _Frame, *, wait: bool = False) -> bool:
        """Offer a frame (``wait``: until the previous one was taken); ``False`` once closed."""
        with self._cond:
            if wait:
                self._cond.wait_for(lambda: self._item is None or self._closed)
            if self._closed:
                return False
            self.offered += 1
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()
            return True

    def take(self) -> _Frame | None:
        """The waiting frame (blocks); ``None`` once closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def close(self, *, discard: bool = False) -> None:
        """No more frames; ``discard`` also forgets the waiting one."""
        with self._cond:
            self._closed = True
            if discard:
                self._item = None
            self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class _Face:
    landmarks: npt.NDArray[np.float64]  # (n, 2), normalised image coordinates
    blendshapes: dict[str, float]
    matrix: npt.NDArray[np.float64] | None


class _Landmarker:
    """MediaPipe's Face Landmarker in video mode (tracking between frames)."""

    def __init__(self, model: Path, max_faces: int) -> None:
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as exc:
            raise ConfigError(_FACE_EXTRA) from exc
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=max_faces,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._lm = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            msg = f"{model}: not a Face Landmarker model ({exc})"
            raise ModelUnavailableError(msg, model) from exc
        self._last_ms = -1

    def detect(self, rgb: Uint8Image, t: float) -> list[_Face]:
        ms = max(self._last_ms + 1, round(t * 1000.0))  # strictly increasing, as video mode needs
        self._last_ms = ms
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        result = self._lm.detect_for_video(image, ms)
        matrices = result.facial_transformation_matrixes or []
        faces = []
        for i, marks in enumerate(result.face_landmarks):
            xy = np.array([(p.x, p.y) for p in marks], dtype=np.float64)
            shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            matrix = np.asarray(matrices[i], dtype=np.float64) if i < len(matrices) else None
            faces.append(_Face(xy, shapes, matrix))
        return faces

    def close(self) -> None:
        self._lm.close()


@dataclass(frozen=True, slots=True)
class _Judgement:
    frame: _Frame
    faces: int
    aus: dict[str, float] | None = None
    valence: float = 0.0
    arousal: float = 0.0
    confidence: float = 0.0
    quality: FaceQuality | None = None


def _as_image(frame: Any) -> Uint8Image:
    image = np.asarray(frame)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ConfigError(f"a frame must be a uint8 image (H, W) or (H, W, 3), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] != 3 or min(image.shape[:2]) < 8:
        raise ConfigError(f"a frame must be (H, W, 3) of at least 8x8 pixels, got {image.shape}")
    return np.ascontiguousarray(image)


def _join(threads: list[threading.Thread]) -> None:
    for th in threads:
        th.join(timeout=5.0)
