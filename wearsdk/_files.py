"""Files wearsdk writes: never replaced unless asked, created readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

from wearsdk._errors import ConfigError

__all__ = ["check_output", "open_private"]

OVERWRITE_HINT = "choose another path, or pass --overwrite to replace it"
"""What to do about an output file that exists (the command line's wording)."""

API_OVERWRITE_HINT = "choose another path, or pass overwrite=True to replace it"
"""What to do about an output file that exists (the Python API's wording)."""


def check_output(path: str | os.PathLike[str], *, overwrite: bool = False, what: str = "") -> Path:
    """Check, before anything starts, that ``path`` can be written as a new file.

    Its folder may be missing (it is created), but the nearest existing ancestor must be a
    writable folder; the file itself must not exist unless ``overwrite``.

    Args:
        path: the file to write.
        overwrite: an existing file may be replaced.
        what: what the file is, for the message (``"the recording"``).

    Returns:
        The path.

    Raises:
        ConfigError: the file exists (without ``overwrite``), is a folder, or cannot be
            created (an ancestor is a file, a folder is not writable).
    """
    p = Path(path)
    label = f"{what} {p}".strip()
    if p.is_dir():
        raise ConfigError(f"cannot write {label}: it is a folder; give a file name")
    if p.exists() or p.is_symlink():
        if not overwrite:
            raise ConfigError(f"{label} exists: {OVERWRITE_HINT}")
        if not os.access(p, os.W_OK):
            raise ConfigError(f"cannot replace {label}: permission denied")
        return p
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"cannot create {label}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create {label}: the folder {parent} is not writable")
    return p


@overload
def open_private(
    path: str | os.PathLike[str], mode: Literal["w"] = "w", *, overwrite: bool = False
) -> TextIO: ...


@overload
def open_private(
    path: str | os.PathLike[str], mode: Literal["wb"], *, overwrite: bool = False
) -> BinaryIO: ...


def open_private(
    path: str | os.PathLike[str], mode: str = "w", *, overwrite: bool = False
) -> IO[Any]:
    """Open a new file for writing, readable and writable by its owner only (``0600``).

    The file holds personal data (events, reports, recordings). Its folder is created.

    Args:
        path: the file.
        mode: ``"w"`` (text, UTF-8) or ``"wb"``.
        overwrite: replace an existing file (its permissions become ``0600`` too); else an
            existing file is an error and is left as it is.

    Raises:
        ConfigError: the file exists and ``overwrite`` is false.
        OSError: the file cannot be created.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    p = Path(path)
    p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder: owner-only
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise ConfigError(f"{p} exists: {OVERWRITE_HINT}") from None
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    if mode == "wb":
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8")
