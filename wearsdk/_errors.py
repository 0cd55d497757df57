"""The wearsdk error hierarchy: one root, subclasses by condition, attributes not codes."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConnectionLostError",
    "ConsentError",
    "DeviceNotFoundError",
    "ProtocolError",
    "SessionLogError",
    "StreamClosedError",
    "SubscriberOverflowError",
    "TransportUnavailableError",
    "WearError",
]


class WearError(Exception):
    """Root of every error raised on purpose by wearsdk."""


class ConfigError(WearError, ValueError):
    """A configuration value is invalid (wrong type, out of range, inconsistent)."""


class SessionLogError(WearError, ValueError):
    """A session event log (JSON lines) cannot be read: missing, empty or not wearsdk's.

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path: str = path


class ProtocolError(WearError):
    """A device or peer sent bytes that do not follow its protocol.

    Attributes:
        raw: the offending payload, kept for diagnostics (never logged in full).
    """

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(message)
        self.raw: bytes = bytes(raw)


class DeviceNotFoundError(WearError):
    """No device matching ``identifier`` was found before the timeout.

    Attributes:
        identifier: the address, name or service UUID that was looked for.
    """

    def __init__(self, identifier: str, message: str | None = None) -> None:
        super().__init__(message or f"device not found: {identifier!r}")
        self.identifier: str = identifier


class ConnectionLostError(WearError):
    """The link to a device or peer went away and could not be restored."""


class TransportUnavailableError(WearError, OSError):
    """The Bluetooth radio cannot be used: no adapter, no BlueZ/D-Bus, or a bumble
    controller that cannot be reached or does not answer.

    An :class:`OSError` too: a driver retries it like any other failed connection attempt.
    """  # noqa: D205


class StreamClosedError(WearError):
    """An operation was attempted on a stream or subscription that is closed."""


class ConsentError(WearError):
    """Recording or exporting was requested without a consent record that allows it."""


class SubscriberOverflowError(WearError):
    """A bus subscription with the ``error`` overflow policy fell behind its bounded queue.

    Attributes:
        topic_filter: the subscription's topic filter.
        maxsize: the queue bound that was exceeded.
    """

    def __init__(self, topic_filter: str, maxsize: int) -> None:
        super().__init__(f"subscriber {topic_filter!r} overflowed its queue of {maxsize} items")
        self.topic_filter: str = topic_filter
        self.maxsize: int = maxsize
