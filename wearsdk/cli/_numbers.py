"""Number types of the ``wearsdk`` commands' arguments (argparse ``type=``): a mistake is a
usage error (exit 2) naming the value, never a traceback."""  # noqa: D205, D209

from __future__ import annotations

import argparse
import math

__all__ = ["non_negative_float", "non_negative_int", "positive_float", "replay_speed"]


def positive_float(text: str) -> float:
    """A finite number > 0 (argparse type): else a usage error naming the value."""
    value = _finite(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (argparse type): else a usage error naming the value."""
    value = _finite(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (argparse type; a simulator seed): else a usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def replay_speed(text: str) -> float | None:
    """``max`` (as fast as the data allows: ``None``) or a speed-up factor > 0 (argparse type)."""
    if text.strip().lower() == "max":
        return None
    return positive_float(text)
