"""Where sessions go, and session configuration files (``--config session.toml``)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["sessions_home"]


def sessions_home() -> Path:
    """The folder for session logs and reports: ``$WEARSDK_HOME/sessions``.

    ``WEARSDK_HOME`` defaults to ``$XDG_DATA_HOME/wearsdk`` (``~/.local/share/wearsdk``).
    """
    home = os.environ.get("WEARSDK_HOME")
    if home:
        return Path(home).expanduser() / "sessions"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "wearsdk" / "sessions"
