"""MQTT settings: the broker URL, credentials, TLS, QoS and outbox; the bridge's errors."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, quote, unquote, urlsplit

from wearsdk._errors import ConfigError, ConnectionLostError, WearError
from wearsdk._privacy import ExportPolicy

PASSWORD_ENV = "WEARSDK_MQTT_PASSWORD"
"""The environment variable :func:`resolve_mqtt_config` reads the broker password from."""


class MqttAuthError(WearError):
    """The broker refused the credentials or the client certificate (not retried)."""


class MqttTlsError(ConnectionLostError):
    """TLS with the broker failed for a reason retrying will not change (not retried).

    The certificate does not verify (untrusted CA, wrong host name, expired), or the broker
    does not speak TLS on that port. The message gives the cause, e.g. ``certificate verify
    failed: Hostname mismatch, certificate is not valid for '127.0.0.1'``.
    """


class CredentialsWarning(UserWarning):
    """A broker password was given where other users of the machine can read it."""


class ClockNotSyncedError(WearError):
    """A remote clock was used before any clock-offset exchange succeeded."""


@dataclass(frozen=True, slots=True, repr=False)
class MqttConfig:
    """Where and how the bridge talks MQTT.

    Attributes:
        url: ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, port 8883).
        session: pseudonymous session id used in topics and payloads.
        prefix: first topic level.
        policy: what may leave the process (checked against the consent record).
        username: broker user (overrides the URL's).
        password: broker password (overrides the URL's); never logged.
        ca_file: CA certificate to verify the broker (TLS).
        cert_file: client certificate (TLS client authentication).
        key_file: client private key.
        client_id: MQTT client id; default ``wearsdk-<session>`` (stable, for the persistent
            session).
        qos: QoS per message class (``estimate``, ``status``, ``features``, ``annotation``,
            ``samples``).
        outbox_size: messages held while the broker is away.
        outbox_policy: ``drop_oldest`` or ``drop_newest`` when the outbox is full.
        inflight: messages sent before waiting for their acknowledgements. 1 (the default)
            was fastest on loopback with aiomqtt 2.5 (batches stall on its write path) and
            bounds the duplicates after a broken link to one.
        subscribe_inbound: take analyzer annotations and commands from the broker.
        clock_responder: answer clock-offset requests on ``<prefix>/<session>/clock/request``
            (with ``subscribe_inbound``), so remote analyzers map their clocks onto the
            session clock (see :class:`AnalyzerClient`).
        backoff_max_s: cap of the reconnection backoff.
    """

    url: str
    session: str
    prefix: str = "wearsdk"
    policy: ExportPolicy = ExportPolicy.ESTIMATES
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str | None = None
    qos: dict[str, int] = field(
        default_factory=lambda: {
            "estimate": 1,
            "status": 1,
            "features": 1,
            "annotation": 1,
            "samples": 0,
        }
    )
    outbox_size: int = 10_000
    outbox_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    inflight: int = 1
    subscribe_inbound: bool = True
    clock_responder: bool = True
    backoff_max_s: float = 10.0

    def __post_init__(self) -> None:
        _split_url(self.url)  # raises ConfigError
        if not self.session or "/" in self.session or "+" in self.session or "#" in self.session:
            raise ConfigError(f"invalid MQTT session id {self.session!r}")
        if self.outbox_size < 1 or self.inflight < 1:
            raise ConfigError("outbox_size and inflight must be >= 1")
        if any(q not in (0, 1, 2) for q in self.qos.values()):
            raise ConfigError("QoS must be 0, 1 or 2")

    @property
    def host(self) -> str:
        """Broker host."""
        host = _split_url(self.url).hostname
        assert host is not None
        return host

    @property
    def port(self) -> int:
        """Broker port (1883, or 8883 for mqtts)."""
        parts = _split_url(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        """Whether TLS is used."""
        return urlsplit(self.url).scheme == "mqtts" or self.ca_file is not None

    def credentials(self) -> tuple[str | None, str | None]:
        """The user name and password (explicit ones win over the URL's)."""
        parts = urlsplit(self.url)
        user = self.username or (unquote(parts.username) if parts.username else None)
        password = self.password or (unquote(parts.password) if parts.password else None)
        return user, password

    def __repr__(self) -> str:
        user = self.credentials()[0]
        return (
            f"MqttConfig(url={self.safe_url()!r}, user={user!r}, session={self.session!r}, "
            f"policy={self.policy.value!r}, tls={self.tls})"
        )

    def safe_url(self) -> str:
        """The URL without credentials, for logs."""
        parts = urlsplit(self.url)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{parts.scheme}://{host}:{self.port}"


def _split_url(url: str) -> SplitResult:
    """``url`` split and checked: scheme, host, port in 1..65535.

    Raises:
        ConfigError: anything else (also a malformed IPv6 host or a port out of range).
    """
    usage = "MQTT URL must look like mqtt://host:1883 or mqtts://host:8883"
    try:
        parts = urlsplit(url)
        port = parts.port  # parsed lazily: raises ValueError when out of range
    except ValueError as exc:
        raise ConfigError(f"{usage} ({exc})") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(usage)
    if port == 0:
        raise ConfigError(f"{usage} (port 0)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{usage} (no path, query or fragment)")
    return parts


def resolve_mqtt_config(
    url: str,
    session: str,
    *,
    password_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> MqttConfig:
    """An :class:`MqttConfig` with the broker password taken from where it is safest.

    The password comes from the first of: ``password_file`` (its first line), the
    ``WEARSDK_MQTT_PASSWORD`` environment variable, ``options["password"]`` (e.g. a session
    or settings file), the URL. A password in the URL still works but warns
    (:class:`CredentialsWarning`): a command line is visible to every user of the machine
    (``ps``) for the whole session. So does a password file that other users may read. The
    returned config's ``url`` carries no password.

    Args:
        url: ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``.
        session: pseudonymous session id.
        password_file: a file whose first line is the password.
        environ: the environment (default ``os.environ``).
        **options: the other :class:`MqttConfig` fields (``username``, ``password``,
            ``ca_file``, ``policy``...).

    Returns:
        The config; its ``password`` set when one was found.

    Raises:
        ConfigError: a malformed URL, an unreadable or empty password file, or a password
            without a user name.
    """
    env = os.environ if environ is None else environ
    parts = _split_url(url)
    url_password = unquote(parts.password) if parts.password is not None else None
    if url_password is not None:
        warnings.warn(
            "the MQTT password in the URL is visible to other users of this machine (ps); "
            f"use {PASSWORD_ENV} or a password file",
            CredentialsWarning,
            stacklevel=2,
        )
    password: str | None
    if password_file is not None:
        password, origin = _read_password_file(Path(password_file)), "the password file"
    elif env.get(PASSWORD_ENV):
        password, origin = env[PASSWORD_ENV], PASSWORD_ENV
    elif options.get("password"):
        password, origin = options["password"], "the settings"
    else:
        password, origin = url_password, "the URL"
    user = options.get("username") or (unquote(parts.username) if parts.username else None)
    if password is not None and not user:
        raise ConfigError(
            f"an MQTT password (from {origin}) needs a user name: mqtt://USER@host or username"
        )
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{quote(unquote(parts.username), safe='')}@{netloc}"
    options = {**options, "username": user, "password": password}
    return MqttConfig(url=f"{parts.scheme}://{netloc}", session=session, **options)


def _read_password_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        with path.open(encoding="utf-8") as f:
            line = f.readline(4096)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the MQTT password file {path}: {exc}") from None
    password = line.rstrip("\r\n")
    if not password:
        raise ConfigError(f"the MQTT password file {path} is empty")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(
            f"the MQTT password file {path} is readable by other users (chmod 600 it)",
            CredentialsWarning,
            stacklevel=3,
        )
    return password
