"""The built-in face analyzer: MediaPipe Face Landmarker on a camera, a video file or pushed frames.

Three threads meet at a one-frame mailbox: capture (a camera or a video file, or the app's
:meth:`FaceAnalyzer.push`) puts the newest frame in; inference takes it (a frame replaced
before inference took it is dropped and counted: the newest wins); the event loop only
publishes. The mapping from blendshapes to valence, arousal and confidence is in
:mod:`wearsdk.analyzers._face_affect`.

Frames never leave the process and are never written: each is dropped once analysed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from wearsdk._clock import SessionClock
from wearsdk._errors import ConfigError, StreamClosedError, WearError
from wearsdk.analyzers._base import AnalyzerContext
from wearsdk.analyzers._face_affect import (
    FaceQuality,
    action_units,
    expression_prototypes,
    face_affect,
    face_confidence,
    head_pose_deg,
)
from wearsdk.analyzers._face_frames import (
    _FACE_EXTRA,
    Uint8Image,
    _as_image,
    _Face,
    _Frame,
    _join,
    _Judgement,
    _Landmarker,
    _Mailbox,
)
from wearsdk.analyzers._face_model import face_model_path

__all__ = ["FaceAnalyzer", "FaceStatistics"]

FACE_MODEL_ID: Final = "mediapipe-face-landmarker-v1+au-heuristic-v1"
"""The ``model`` in every face annotation's extras: the landmarker and the mapping."""


@dataclass(slots=True)
class FaceStatistics:
    """What a :class:`FaceAnalyzer` saw, dropped and published.

    Attributes:
        frames: frames offered by the camera, the video file or ``push``.
        dropped: frames replaced by a newer one before inference took them (load).
        analysed: frames run through the model.
        no_face: analysed frames without a face (no annotation).
        unusable: analysed frames whose face was too small, too dark or turned too far for
            any confidence (no annotation).
        published: annotations published.
        latency_s: the last 10,000 capture-to-bus latencies in real seconds (from the frame's
            capture, or its arrival through ``push``, to its annotation's publication).
    """

    frames: int = 0
    dropped: int = 0
    analysed: int = 0
    no_face: int = 0
    unusable: int = 0
    published: int = 0
    latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def latency_quantiles(self) -> dict[str, float]:
        """``{"p50": ..., "p95": ...}`` of :attr:`latency_s` in seconds (NaN without any)."""
        if not self.latency_s:
            return {"p50": math.nan, "p95": math.nan}
        q = np.quantile(np.fromiter(self.latency_s, dtype=np.float64), [0.5, 0.95])
        return {"p50": float(q[0]), "p95": float(q[1])}


class FaceAnalyzer:
    """Face valence and arousal from MediaPipe's Face Landmarker (``session.add``).

    Every analysed frame with a usable face (or, with ``span_s``, every span of them) gives
    one ``face`` annotation at the frame's time (its capture time, or its presentation time
    in a video file) with valence,
    arousal, a confidence from the face's size, pose, lighting and tracking stability, and in
    ``extras`` the action-unit proxies, the EMFACS prototype matches, the head pose and the
    capture-to-bus latency; the mapping, its sources and limits are in docs/analyzers.md.
    Frames without a face give nothing (counted in ``stats.no_face``). With several faces,
    the largest is followed. Needs the ``face`` extra.

    Frame sources (at most one of ``camera`` and ``video``; neither: the app's frames):

    - ``camera=0``: an OpenCV camera (or a device path or stream URL), frames stamped with
      the session time they arrive; runs until cancelled; a camera that stops delivering
      frames for about a second ends it with :class:`~wearsdk.WearError`.
    - pushed frames: :meth:`push` (never waits; newest wins) or ``await`` :meth:`submit`
      (waits for room; nothing dropped), then :meth:`close`; returns once all are analysed.
    - ``video="clip.mp4"``: a video file, each frame stamped ``start + its presentation
      time``; paced in session time (as if live, dropping frames under load) or, with
      ``paced=False``, every frame analysed as fast as possible; returns at the end.

    Args:
        camera: camera index for OpenCV, or a device path or stream URL it opens
            (``/dev/video2``, ``rtsp://...``).
        video: video file path.
        model_path: the ``face_landmarker.task`` file (default: ``$WEARSDK_FACE_MODEL``, the
            cache, or a checked download, see :func:`~wearsdk.analyzers.face_model_path`).
        analyzer_id: the analyzer's id.
        max_faces: faces looked for per frame (2 lets the analyzer see it is not alone).
        start: session time of the video's first frame (default: when it starts).
        start_unix: the same as a unix time (a recording's clock), instead of ``start``.
        paced: play a video file in session time; ``False`` analyses every frame at once.
        width: requested camera frame width.
        height: requested camera frame height.
        download_model: allow downloading the model on first use.
        span_s: ``0``: one annotation per analysed frame; more: one per span of frames this
            long (session seconds), their AU proxies averaged (fewer events on the bus and
            in logs; the span's last frame is published as soon as it is analysed).
    """

    modality = "face"

    def __init__(
        self,
        *,
        camera: int | str | None = None,
        video: str | Path | None = None,
        model_path: str | Path | None = None,
        analyzer_id: str = "face-mediapipe",
        max_faces: int = 2,
        start: float | None = None,
        start_unix: float | None = None,
        paced: bool = True,
        width: int = 640,
        height: int = 480,
        download_model: bool = True,
        span_s: float = 0.0,
    ) -> None:
        if camera is not None and video is not None:
            raise ConfigError("give a camera or a video file, not both")
        if start is not None and start_unix is not None:
            raise ConfigError("give start or start_unix, not both")
        if not 1 <= max_faces <= 8:
            raise ConfigError("max_faces must be in 1..8")
        if not span_s >= 0:
            raise ConfigError("span_s must be >= 0")
        self.camera = camera
        self.video = Path(video) if video is not None else None
        self.model_path = model_path
        self.analyzer_id = analyzer_id
        self.max_faces = int(max_faces)
        self.start = start
        self.start_unix = start_unix
        self.paced = paced
        self.width = int(width)
        self.height = int(height)
        self.download_model = download_model
        self.span_s = float(span_s)
        self._span: list[_Judgement] = []
        self.stats = FaceStatistics()
        """Counts and latencies (module docs)."""
        self._box = _Mailbox()
        self._clock: SessionClock | None = None
        self._prev: npt.NDArray[np.float64] | None = None

    # -- frames an app pushes -------------------------------------------------------------------
    def push(self, frame: Any, t: float | None = None, *, bgr: bool = False) -> None:
        """Offer a frame without waiting (thread-safe); a frame still waiting is dropped.

        Args:
            frame: ``(H, W, 3)`` RGB (or ``bgr=True``: OpenCV's BGR) or grayscale ``(H, W)``
                uint8 array; not modified, not kept after analysis.
            t: its capture time on the session clock (default: now).
            bgr: the channels are in OpenCV's BGR order.

        Raises:
            ConfigError: not a uint8 image.
            StreamClosedError: ``t`` omitted before the analyzer runs (no clock yet).
        """
        self._box.put(self._frame(frame, t, bgr))

    async def submit(self, frame: Any, t: float | None = None, *, bgr: bool = False) -> None:
        """Offer a frame and wait until the analyzer takes it: nothing is dropped (offline use).

        Arguments as :meth:`push`.

        Raises:
            ConfigError: not a uint8 image.
            StreamClosedError: the analyzer was closed, or ``t`` omitted before it runs.
        """
        item = self._frame(frame, t, bgr)
        if not await asyncio.to_thread(self._box.put, item, wait=True):
            raise StreamClosedError("the face analyzer is closed")

    def _frame(self, frame: Any, t: float | None, bgr: bool) -> _Frame:
        image = _as_image(frame)
        perf = time.perf_counter()
        if t is None:
            if self._clock is None:
                raise StreamClosedError("the face analyzer is not running: give t or add it first")
            t = self._clock.now()
        return _Frame(float(t), perf, image, bgr and image.ndim == 3)

    def close(self) -> None:
        """No more pushed frames: :meth:`run` returns once the last one is analysed."""
        self._box.close()

    # -- running --------------------------------------------------------------------------------
    async def run(self, ctx: AnalyzerContext) -> None:
        """Analyse frames and publish face annotations until the source ends or cancelled.

        Raises:
            ModelUnavailableError: no model file (offline first use: give ``model_path``).
            ConfigError: the ``face`` extra is missing.
            WearError: the camera or video file cannot be opened, or stops delivering.
        """
        loop = asyncio.get_running_loop()
        self._clock = ctx.clock
        model = await asyncio.to_thread(
            face_model_path, self.model_path, download=self.download_model
        )
        engine = await asyncio.to_thread(_Landmarker, model, self.max_faces)
        capture: Any = None
        try:
            if self.camera is not None or self.video is not None:
                capture = await asyncio.to_thread(self._open_capture)
        except BaseException:
            engine.close()
            raise
        results: asyncio.Queue[_Judgement | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def post(item: _Judgement | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
                loop.call_soon_threadsafe(results.put_nowait, item)

        threads = [threading.Thread(target=self._infer, args=(engine, post), daemon=True)]
        if capture is not None:
            t0 = self._video_start(ctx)
            args = (capture, ctx.clock, t0, stop, post)
            threads.append(threading.Thread(target=self._capture, args=args, daemon=True))
        for th in threads:
            th.start()
        try:
            while (item := await results.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                self._publish(ctx, item)
            self._flush(ctx)  # the source ended: the last, partial span
        finally:
            stop.set()
            self._box.close(discard=True)
            await asyncio.to_thread(_join, threads)
            self._sync_counts()

    def _video_start(self, ctx: AnalyzerContext) -> float:
        if self.start_unix is not None:
            return ctx.clock.from_unix(self.start_unix)
        return self.start if self.start is not None else ctx.now()

    def _open_capture(self) -> Any:
        try:
            import cv2
        except ImportError as exc:
            raise ConfigError(_FACE_EXTRA) from exc
        if self.video is not None:
            if not self.video.is_file():
                raise WearError(f"{self.video}: no such video file")
            cap = cv2.VideoCapture(str(self.video))
            what = str(self.video)
        else:
            assert self.camera is not None
            cap = cv2.VideoCapture(self.camera)
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            what = f"camera {self.camera}"
        if not cap.isOpened():
            cap.release()
            raise WearError(f"{what}: cannot be opened")
        return cap

    def _capture(
        self,
        cap: Any,
        clock: SessionClock,
        t0: float,
        stop: threading.Event,
        post: Any,
    ) -> None:
        import cv2

        failures = 0
        try:
            while not stop.is_set():
                ok, frame = cap.read()
                if self.video is not None:
                    if not ok:
                        break
                    t = t0 + float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                    if self.paced:
                        delay = clock.real_delay_s(t - clock.now())
                        if delay > 0 and stop.wait(delay):
                            break
                    perf = time.perf_counter()
                else:
                    if not ok:  # a glitch: retry for about a second before giving up
                        failures += 1
                        if failures >= 50:
                            raise WearError(f"camera {self.camera} stopped delivering frames")
                        stop.wait(0.02)
                        continue
                    failures = 0
                    perf, t = time.perf_counter(), clock.now()
                item = _Frame(t, perf, np.ascontiguousarray(frame), True)
                if not self._box.put(item, wait=self.video is not None and not self.paced):
                    break
            self._box.close()
        except BaseException as exc:
            post(exc)  # before closing: the inference thread's end must not arrive first
            self._box.close(discard=True)
        finally:
            cap.release()

    def _infer(self, engine: _Landmarker, post: Any) -> None:
        try:
            while (item := self._box.take()) is not None:
                rgb: Uint8Image = item.image[:, :, ::-1] if item.bgr else item.image
                rgb = np.ascontiguousarray(rgb)
                faces = engine.detect(rgb, item.t)
                post(self._judge(item, rgb, faces))
            post(None)
        except BaseException as exc:
            post(exc)
        finally:
            engine.close()

    def _judge(self, item: _Frame, rgb: Uint8Image, faces: list[_Face]) -> _Judgement:
        if not faces:
            self._prev = None
            return _Judgement(item, 0)
        h, w = rgb.shape[:2]
        px = [f.landmarks * (w, h) for f in faces]
        widths = [float(np.ptp(p[:, 0])) for p in px]
        k = int(np.argmax(widths))
        face, pts, size = faces[k], px[k], widths[k]
        if self._prev is not None and self._prev.shape == pts.shape and size > 0:
            motion = float(np.median(np.linalg.norm(pts - self._prev, axis=1))) / size
        else:
            motion = math.nan
        self._prev = pts
        x0, y0 = np.clip(pts.min(axis=0), 0, (w - 1, h - 1)).astype(int)
        x1, y1 = np.clip(pts.max(axis=0), 0, (w - 1, h - 1)).astype(int)
        box = rgb[y0 : y1 + 1 : 2, x0 : x1 + 1 : 2].reshape(-1, 3).astype(np.float64)
        luma = float((box @ (0.299, 0.587, 0.114)).mean()) if len(box) else 0.0
        yaw, pitch, _ = head_pose_deg(face.matrix) if face.matrix is not None else (0, 0, 0)
        quality = FaceQuality(size, yaw, pitch, luma, motion, len(faces))
        aus = action_units(face.blendshapes)
        valence, arousal = face_affect(aus)
        confidence = face_confidence(quality)
        return _Judgement(item, len(faces), aus, valence, arousal, confidence, quality)

    def _sync_counts(self) -> None:
        self.stats.frames = self._box.offered
        self.stats.dropped = self._box.dropped

    def _publish(self, ctx: AnalyzerContext, j: _Judgement) -> None:
        self._sync_counts()
        self.stats.analysed += 1
        if j.aus is None or j.quality is None:
            self.stats.no_face += 1
            return
        if j.confidence <= 0:
            self.stats.unusable += 1
            return
        if self._span and j.frame.t < self._span[0].frame.t:
            self._span.clear()  # time went back (a new pushed sequence): start over
        self._span.append(j)
        if j.frame.t - self._span[0].frame.t >= self.span_s:
            self._flush(ctx)

    def _flush(self, ctx: AnalyzerContext) -> None:
        """Publish the frames gathered in the current span as one annotation."""
        span, self._span = self._span, []
        if not span:
            return
        last = span[-1]
        assert last.quality is not None
        q = last.quality
        aus = {k: float(np.mean([j.aus[k] for j in span if j.aus])) for k in last.aus or {}}
        valence, arousal = face_affect(aus)
        latency = time.perf_counter() - last.frame.perf
        ctx.publish(
            span[0].frame.t,
            last.frame.t,
            valence=valence,
            arousal=arousal,
            confidence=float(np.mean([j.confidence for j in span])),
            extras={
                "model": FACE_MODEL_ID,
                "frames": len(span),
                "faces": last.faces,
                "size_px": round(q.size_px, 1),
                "yaw_deg": round(q.yaw_deg, 1),
                "pitch_deg": round(q.pitch_deg, 1),
                "luma": round(q.luma, 1),
                "aus": {k: round(v, 3) for k, v in aus.items()},
                "prototypes": {k: round(v, 3) for k, v in expression_prototypes(aus).items()},
                "latency_ms": round(1000.0 * latency, 1),
            },
        )
        self.stats.published += 1
        self.stats.latency_s.append(latency)
