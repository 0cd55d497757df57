"""The face analyzer's options of ``stream``/``record`` (``--camera``, ``--video``...)."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
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


NATIVE_NOISE = re.compile(
    rb"^(WARNING: Logging before InitGoogle\(\) is written to STDERR"
    rb"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] .*"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)\r?\n?$"
)
"""What MediaPipe's C++ code and TFLite print on stderr while the face model loads and first
runs (absl's ``I``/``W`` lines and TFLite's delegate notice): nothing a user can act on.
Errors (``E``/``F`` lines) and everything else pass."""


@contextlib.contextmanager
def without_native_face_notices(enabled: bool = True) -> Iterator[None]:
    """Leave MediaPipe's and TFLite's informational C++ lines out of stderr while the block
    runs (the face analyzer's session); every other line written to stderr passes, in order.

    The C++ code writes to file descriptor 2 from its own threads, past Python's
    ``sys.stderr``: for the block, descriptor 2 is a pipe read by a thread that forwards
    each line but :data:`NATIVE_NOISE` to the real stderr. The command line only (it owns
    the process's stderr); a program using the face analyzer keeps its stderr as it is.
    """  # noqa: D205
    if not enabled:
        yield
        return
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                if not NATIVE_NOISE.match(line):
                    os.write(real, line)

    forwarder = threading.Thread(target=forward, name="wearsdk-stderr", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last write end closes: the forwarder reads to its end
        forwarder.join(timeout=5.0)
        os.close(real)
