"""The face analyzer's options of ``stream``/``record`` (``--camera``, ``--video``...)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wearsdk._errors import ConfigError
from wearsdk.cli._numbers import non_negative_float


def _add_face_arguments(stream: argparse.ArgumentParser) -> None:
    """``--camera``/``--video``, ``--face-model``, ``--face-span``: the face analyzer."""
    frames = stream.add_mutually_exclusive_group()
    frames.add_argument(
        "--camera",
        metavar="INDEX|URL",
        help="analyse the face in a camera's frames (OpenCV index, device path or stream "
        "URL; the face extra); frames never leave the process",
    )
    frames.add_argument(
        "--video",
        type=Path,
        metavar="FILE",
        help="analyse the face in a video file, its frames stamped by their presentation "
        "time from the session's start and played in session time; alone (no device, no "
        "--lsl-in), the command ends with the video, with a summary",
    )
    stream.add_argument(
        "--face-model",
        type=Path,
        metavar="PATH",
        help="the face_landmarker.task model (default: $WEARSDK_FACE_MODEL, the cache, or a "
        "checked download)",
    )
    stream.add_argument(
        "--face-span",
        type=non_negative_float,
        default=0.5,
        metavar="S",
        help="one face annotation per S seconds of frames (0: one per frame; default 0.5)",
    )


def _face_analyzers(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The ``[[analyzers]]`` entry of ``--camera``/``--video``, if given."""
    if args.camera is None and args.video is None:
        if args.face_model is not None:
            raise ConfigError("--face-model is for --camera or --video")
        return []
    entry: dict[str, Any] = {"kind": "face", "span_s": args.face_span}
    if args.video is not None:
        entry["video"] = args.video
    else:
        entry["camera"] = int(args.camera) if args.camera.isdigit() else args.camera
    if args.face_model is not None:
        entry["model"] = args.face_model
    return [entry]
