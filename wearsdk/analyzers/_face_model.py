"""The MediaPipe Face Landmarker model file: a path given, or a checked download into the cache."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

from wearsdk._errors import WearError

__all__ = [
    "FACE_LANDMARKER_SHA256",
    "FACE_LANDMARKER_URL",
    "ModelUnavailableError",
    "face_model_path",
    "model_cache_dir",
]

FACE_LANDMARKER_URL: Final = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
    "float16/1/face_landmarker.task"
)
"""Where Google publishes the Face Landmarker bundle (float16, version 1; Apache 2.0)."""

FACE_LANDMARKER_SHA256: Final = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
"""SHA-256 of that bundle: a download with another checksum is refused."""

_FILE_NAME = "face_landmarker.task"


class ModelUnavailableError(WearError):
    """A model file is missing, cannot be downloaded, or is not the expected file.

    Attributes:
        path: where the model was looked for or would be stored.
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path: Path | None = path


def model_cache_dir() -> Path:
    """Where downloaded models are kept: ``$WEARSDK_CACHE/models``, else
    ``$XDG_CACHE_HOME/wearsdk/models``, else ``~/.cache/wearsdk/models``.
    """  # noqa: D205
    if os.environ.get("WEARSDK_CACHE"):
        return Path(os.environ["WEARSDK_CACHE"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wearsdk" / "models"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def face_model_path(
    path: str | Path | None = None,
    *,
    download: bool = True,
    url: str = FACE_LANDMARKER_URL,
    sha256: str = FACE_LANDMARKER_SHA256,
    cache_dir: Path | None = None,
    timeout_s: float = 30.0,
) -> Path:
    """Find the Face Landmarker model file, downloading it on first use.

    In order: ``path`` if given; else ``$WEARSDK_FACE_MODEL``; else the cached copy in
    :func:`model_cache_dir` if its SHA-256 matches; else (``download=True``) a download
    from ``url``, kept only if its SHA-256 is ``sha256``. Blocking (file and network I/O):
    call it off the event loop.

    Returns:
        The model file.

    Raises:
        ModelUnavailableError: the given file does not exist; the download failed (offline:
            the message says how to give the file instead) or its checksum differs.
    """
    given = path if path is not None else os.environ.get("WEARSDK_FACE_MODEL") or None
    if given is not None:
        p = Path(given).expanduser()
        if not p.is_file():
            raise ModelUnavailableError(f"face model file not found: {p}", p)
        return p
    target = (cache_dir or model_cache_dir()) / _FILE_NAME
    if target.is_file() and _sha256(target) == sha256:
        return target
    how = (
        f"give the model file with model_path= (command line: --face-model PATH) or "
        f"WEARSDK_FACE_MODEL, or place it at {target} (SHA-256 {sha256}); it is published at "
        f"{url}"
    )
    if not download:
        msg = f"face model not in the cache and download is off: {how}"
        raise ModelUnavailableError(msg, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout_s) as response:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise ModelUnavailableError(
                    f"could not download the face model ({exc}); offline? {how}", target
                ) from exc
        got = _sha256(tmp)
        if got != sha256:
            raise ModelUnavailableError(
                f"the downloaded face model has SHA-256 {got}, expected {sha256}: refused", target
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
