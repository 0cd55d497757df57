"""liblsl's own log: errors only, unless the user configured liblsl.

liblsl logs every configuration load and its build at INFO level on stderr, between a program's
own lines (``api_config.cpp:126 INFO| Loaded default config``). wearsdk asks it for errors
only, but only when no liblsl configuration file would be read: one named by ``LSLAPICFG``, or
``lsl_api.cfg`` in the working directory, ``~/lsl_api/`` or ``/etc/lsl_api/`` (liblsl's search
order) is left to decide, including its ``[log] level``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pylsl

__all__ = ["QUIET_CONFIG", "quiet_liblsl", "user_config"]

QUIET_CONFIG = "[log]\nlevel = -2\n"
"""The configuration wearsdk gives liblsl when the user gave none (-2: errors only)."""


def user_config() -> Path | None:
    """The liblsl configuration file liblsl would read, if any (``LSLAPICFG`` first)."""
    named = os.environ.get("LSLAPICFG")
    if named:
        return Path(named)
    for candidate in (
        Path("lsl_api.cfg"),
        Path.home() / "lsl_api" / "lsl_api.cfg",
        Path("/etc/lsl_api/lsl_api.cfg"),
    ):
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # an unreadable home or cwd: liblsl would not read it either
            continue
    return None


def quiet_liblsl() -> bool:
    """Give liblsl :data:`QUIET_CONFIG` unless the user has a configuration of their own.

    It takes effect only if liblsl has not loaded its configuration yet (it does when the
    first stream info is made), hence it runs when ``wearsdk.io.lsl`` is imported.

    Returns:
        Whether the quiet configuration was set.
    """
    if user_config() is not None:
        return False
    set_content = getattr(pylsl, "set_config_content", None)  # pylsl >= 1.16
    if set_content is None:
        return False
    set_content(QUIET_CONFIG)
    return True
