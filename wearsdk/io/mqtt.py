"""MQTT bridge: the bus to and from an MQTT broker (aiomqtt), under an export policy.

Out: selected bus topics become JSON :class:`~wearsdk.io.WireMessage` payloads on
``<prefix>/<session>/...`` topics (``affect/estimate``, ``<source>/status``, ``<source>/features``,
``<source>/<stream>``), with a QoS per class of message. In: ``<prefix>/<session>/analyzer/#``
(:class:`~wearsdk.io.AnnotationIn`, mapped onto the session clock) and
``<prefix>/<session>/control`` (:class:`~wearsdk.io.CommandIn`) become bus events.

Delivery: messages wait in a bounded, ordered outbox (overflow policy and size configurable,
drops counted) and leave it only once the broker acknowledged them, so a broker restart loses
nothing the outbox could hold; after a reconnect they are sent again in order. QoS 1 is
at-least-once: a message in flight when the link broke may arrive twice, with the same ``seq``,
which consumers use to drop it. The client keeps a persistent session (``clean_session=False``,
a stable client id) so the broker queues what its subscriptions miss.

Nothing leaves without a :class:`~wearsdk.Consent` that allows the bridge's
:class:`~wearsdk.ExportPolicy`; credentials never appear in logs or reprs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import ssl
import stat
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, quote, unquote, urlsplit

from pydantic import ValidationError

from wearsdk._clock import RoundTrip, RoundTripClock, SessionClock
from wearsdk._contracts import SinkContext
from wearsdk._errors import ConfigError, ConnectionLostError, WearError
from wearsdk._events import (
    Annotation,
    ClockStatus,
    Command,
    DeviceStatus,
    Estimate,
    Features,
    Gap,
    HeartRate,
)
from wearsdk._privacy import Consent, ConsentGate, ExportPolicy
from wearsdk._types import SampleBlock
from wearsdk.bus import Bus, BusItem, Message, Subscription
from wearsdk.io._wire import (
    AnnotationIn,
    ClockRequest,
    ClockResponse,
    CommandIn,
    InboundPayloadError,
    _parse_bounded,
    encode_message,
)

__all__ = [
    "PASSWORD_ENV",
    "AnalyzerClient",
    "AnalyzerStatistics",
    "ClockNotSyncedError",
    "CredentialsWarning",
    "MqttAuthError",
    "MqttBridge",
    "MqttConfig",
    "MqttStatistics",
    "MqttTlsError",
    "decode_inbound",
    "resolve_mqtt_config",
]

logger = logging.getLogger("wearsdk.mqtt")

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")

_CLASS_POLICY = {
    "estimate": ExportPolicy.ESTIMATES,
    "status": ExportPolicy.ESTIMATES,
    "features": ExportPolicy.FEATURES,
    "annotation": ExportPolicy.FEATURES,
    "samples": ExportPolicy.RAW,
}


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


@dataclass
class MqttStatistics:
    """Counters of a bridge."""

    sent: int = 0
    """Messages acknowledged by the broker (QoS 0: handed to the socket)."""
    refused_by_policy: int = 0
    """Bus messages the export policy kept in the process."""
    dropped_overflow: int = 0
    """Messages dropped because the outbox was full."""
    received: int = 0
    """Inbound annotations and commands put on the bus."""
    rejected_inbound: int = 0
    """Inbound payloads that did not validate (dropped)."""
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    """``rejected_inbound`` by :attr:`~wearsdk.io.InboundPayloadError.reason` (``too_large``,
    ``non_finite``, ``too_long``, ``too_many_keys``, ``too_deep``, ``invalid``)."""
    connects: int = 0
    """Successful connections (the first one included)."""
    queued: int = 0
    """Messages waiting in the outbox."""
    clock_requests: int = 0
    """Clock-offset requests answered."""
    refused_by_consent: int = 0
    """Messages not sent because the consent expired or was withdrawn (the ones waiting in
    the outbox at that instant included)."""


@dataclass(slots=True)
class _Outgoing:
    seq: int
    topic: str
    payload: bytes
    qos: int


class MqttBridge:
    """Bridges a session's bus and an MQTT broker until cancelled (see the module docs).

    Args:
        bus: the session bus.
        clock: the session clock (for ``t_unix`` and inbound times).
        config: broker and policy settings.
        consent: the participant's consent record, or the session's
            :class:`~wearsdk.ConsentGate` (so that a withdrawal reaches every sink); it must
            allow ``config.policy``. Consent is a live condition: at the expiry instant or on
            withdrawal the bridge stops exporting at once (nothing is published from then on,
            what waits in the outbox is dropped and counted in ``stats.refused_by_consent``),
            sets :attr:`export_stopped` and logs why; it keeps receiving (annotations,
            commands and clock requests come in, nothing of the participant's goes out).
        topics: bus topic filters to export (the policy still filters them); ``()`` exports
            nothing: a bridge that only receives (remote analyzers, commands, clock requests)
            needs no consent record.

    Raises:
        ConsentError: (from :meth:`run`) no consent record, or one that does not allow the
            policy (or expired, or withdrawn), for a bridge that exports.
    """

    def __init__(
        self,
        bus: Bus,
        clock: SessionClock,
        config: MqttConfig,
        *,
        consent: Consent | ConsentGate | None,
        topics: tuple[str, ...] = ("affect/#", "device/#", "features/#", "physio/#", "analyzer/#"),
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.config = config
        self.gate = consent if isinstance(consent, ConsentGate) else ConsentGate(consent)
        """The consent as a live condition (expiry, withdrawal)."""
        self.consent = self.gate.consent
        self.topics = topics
        self.export_stopped = asyncio.Event()
        """Set when the consent expired or was withdrawn and export stopped for good."""
        self.stop_reason: str | None = None
        """``expired`` or ``withdrawn`` once :attr:`export_stopped` is set."""
        self.stats = MqttStatistics()
        self._outbox: deque[_Outgoing] = deque()
        self._sub: Subscription | None = None
        self._seq = 0
        self._ready = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while connected to the broker (and subscribed to the inbound topics)."""

    def __repr__(self) -> str:
        return f"MqttBridge({self.config.safe_url()}, session={self.config.session!r})"

    # -- outbound -----------------------------------------------------------------------------
    @staticmethod
    def _class_of(payload: BusItem) -> str | None:
        if isinstance(payload, Estimate):
            return "estimate"
        if isinstance(payload, DeviceStatus | ClockStatus | Gap):
            return "status"
        if isinstance(payload, Features):
            return "features"
        if isinstance(payload, Annotation):
            return "annotation"
        if isinstance(payload, SampleBlock | HeartRate):
            return "samples"
        return None

    def _mqtt_topic(self, bus_topic: str) -> str:
        c = self.config
        parts = bus_topic.split("/")
        if (parts[0] == "physio" and len(parts) == 3) or (parts[0] == "device" and len(parts) == 3):
            tail = f"{parts[1]}/{parts[2]}"
        elif parts[0] == "features" and len(parts) >= 2:
            tail = f"{parts[1]}/features"
        else:
            tail = bus_topic
        return f"{c.prefix}/{c.session}/{tail}"

    def _enqueue(self, message: Message) -> None:
        kind = self._class_of(message.payload)
        if kind is None or _CLASS_POLICY[kind].rank > self.config.policy.rank:
            self.stats.refused_by_policy += 1
            return
        if self.stop_reason is not None or not self.gate.allows(export=self.config.policy):
            self.stats.refused_by_consent += 1
            return
        qos = self.config.qos.get(kind, 1)
        if len(self._outbox) >= self.config.outbox_size:
            self.stats.dropped_overflow += 1
            if self.config.outbox_policy == "drop_newest":
                return
            self._outbox.popleft()
        payload = encode_message(
            message, session=self.config.session, seq=self._seq, clock=self.clock
        )
        self._outbox.append(_Outgoing(self._seq, self._mqtt_topic(message.topic), payload, qos))
        self._seq += 1
        self.stats.queued = len(self._outbox)
        self._ready.set()

    async def _pump(self) -> None:
        async with self.bus.subscribe(self.topics, maxsize=65536, policy="drop_oldest") as sub:
            self._sub = sub
            async for message in sub:
                payload = message.payload
                if isinstance(payload, Annotation) and payload.extras.get("_via") == "mqtt":
                    continue  # do not echo annotations that came in over MQTT
                self._enqueue(message)

    async def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything the bus carried so far has left the bridge.

        Nothing may wait in the bridge's bus queue or its outbox (acknowledged by the broker at
        QoS 1). Call it before cancelling :meth:`run` to end a session without losing its last
        messages.

        Args:
            timeout_s: the longest wait (a broker that stays away keeps the outbox full).

        Returns:
            ``True`` when everything left; ``False`` on timeout (``stats.queued`` says how
            many messages stayed).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            waiting = self._sub.statistics().queued if self._sub is not None else 0
            if waiting == 0 and not self._outbox:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    async def _sender(self, client: object) -> None:
        import aiomqtt

        assert isinstance(client, aiomqtt.Client)
        acked = -1
        while True:
            while self._outbox and self._outbox[0].seq <= acked:
                self._outbox.popleft()
            self.stats.queued = len(self._outbox)
            if not self._outbox:
                self._ready.clear()
                await self._ready.wait()
                continue
            if not self.gate.allows(export=self.config.policy):  # the expiry instant
                self._stop_export(self.gate.closed_reason() or "closed")
                continue
            batch = [self._outbox[i] for i in range(min(self.config.inflight, len(self._outbox)))]
            await asyncio.gather(*(client.publish(m.topic, m.payload, qos=m.qos) for m in batch))
            acked = batch[-1].seq
            self.stats.sent += len(batch)

    def _stop_export(self, reason: str) -> None:
        """Consent closed: drop what waits, export nothing more, say so once."""
        if self.stop_reason is None:
            self.stop_reason = reason
            logger.warning(
                "consent %s: MQTT export to %s stopped (%d waiting messages dropped); "
                "the session goes on in-process",
                reason,
                self.config.safe_url(),
                len(self._outbox),
            )
        self.stats.refused_by_consent += len(self._outbox)
        self._outbox.clear()
        self.stats.queued = 0
        self.export_stopped.set()  # the pump goes on taking the bus and counts the refusals

    async def _watch_consent(self) -> None:
        self._stop_export(await self.gate.wait_closed())

    # -- inbound ------------------------------------------------------------------------------
    async def _receiver(self, client: object) -> None:
        import aiomqtt

        assert isinstance(client, aiomqtt.Client)
        base = f"{self.config.prefix}/{self.config.session}"
        async for msg in client.messages:
            received = self.clock.now()  # first: the receive time of a clock request
            topic = str(msg.topic)
            data = msg.payload if isinstance(msg.payload, bytes | bytearray) else b""
            try:
                if topic == f"{base}/clock/request":
                    request = _parse_bounded(ClockRequest, data)
                    await self._answer_clock(client, request, received)
                    continue
                bus_topic, event = decode_inbound(topic == f"{base}/control", data, self.clock)
                self.bus.publish_nowait(bus_topic, event)
            except (InboundPayloadError, ConfigError) as exc:
                self._reject(exc)
                continue
            self.stats.received += 1

    def _reject(self, exc: Exception) -> None:
        """Count (by reason) and drop a refused inbound payload; log each reason once."""
        reason = exc.reason if isinstance(exc, InboundPayloadError) else "invalid"
        self.stats.rejected_inbound += 1
        seen = self.stats.rejected_by_reason.get(reason, 0)
        self.stats.rejected_by_reason[reason] = seen + 1
        if not seen:  # the message names fields and limits, never the payload's content
            logger.warning("inbound MQTT payload dropped: %s", exc)

    async def _answer_clock(self, client: object, request: ClockRequest, received: float) -> None:
        import aiomqtt

        assert isinstance(client, aiomqtt.Client)
        c = self.config
        response = ClockResponse(
            id=request.id,
            seq=request.seq,
            t1=request.t1,
            t2=received,
            t3=self.clock.now(),
            unix_offset_s=self.clock.unix_offset_s,
        )
        # straight to the socket, QoS 0: a late answer is useless, a resent one misleading
        topic = f"{c.prefix}/{c.session}/clock/response/{request.id}"
        await client.publish(topic, response.model_dump_json(by_alias=True).encode(), qos=0)
        self.stats.clock_requests += 1

    async def drain(self, timeout_s: float) -> int:
        """The sink contract's end: :meth:`flush`, then how many messages did not leave.

        Args:
            timeout_s: the longest wait.

        Returns:
            Messages still in the bridge's bus queue or its outbox (0: everything left).
        """
        await self.flush(timeout_s)
        waiting = self._sub.statistics().queued if self._sub is not None else 0
        return waiting + len(self._outbox)

    async def run(self, ctx: SinkContext | None = None) -> None:
        """Bridge until cancelled; reconnect with capped, jittered backoff.

        Args:
            ctx: the session's sink context when the session runs the bridge as a sink
                (:meth:`~wearsdk.session.Session.add_sink`); the bridge uses the bus and
                clock it was made with.

        Raises:
            ConsentError: no consent for the configured policy (when the bridge exports).
            MqttAuthError: the broker refused the credentials (at the first refusal).
            MqttTlsError: the broker's certificate does not verify (untrusted CA, wrong host
                name) or it does not speak TLS there (at once, with the cause).
        """
        import aiomqtt

        if self.topics:
            self.gate.check(export=self.config.policy)
        c = self.config
        failures = 0
        pump = asyncio.create_task(self._pump(), name="wearsdk[mqtt].pump") if self.topics else None
        watch = (
            asyncio.create_task(self._watch_consent(), name="wearsdk[mqtt].consent")
            if self.topics
            else None
        )
        try:
            while True:
                try:
                    async with _client(
                        c, c.client_id or f"wearsdk-{c.session}", clean_session=False
                    ) as client:
                        failures = 0
                        self.stats.connects += 1
                        if c.subscribe_inbound:
                            base = f"{c.prefix}/{c.session}"
                            await client.subscribe(f"{base}/analyzer/#", qos=1)
                            await client.subscribe(f"{base}/control", qos=1)
                            if c.clock_responder:
                                await client.subscribe(f"{base}/clock/request", qos=0)
                        self.connected.set()  # connected and subscribed
                        logger.info("connected to %s", c.safe_url())
                        async with asyncio.TaskGroup() as inner:
                            inner.create_task(self._sender(client))
                            inner.create_task(self._receiver(client))
                except (aiomqtt.MqttError, OSError, TimeoutError, BaseExceptionGroup) as exc:
                    self.connected.clear()
                    first = _link_error(exc)  # re-raises anything that is not a link problem
                    failures += 1
                    _raise_if_fatal(exc, c, failures, ever_connected=self.stats.connects > 0)
                    logger.info(
                        "MQTT link to %s unavailable (%s); reconnecting",
                        c.safe_url(),
                        type(first).__name__,
                    )
                await asyncio.sleep(_backoff_s(failures, c.backoff_max_s))
        finally:
            self.connected.clear()
            for task in (pump, watch):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


@dataclass
class AnalyzerStatistics:
    """Counters of an :class:`AnalyzerClient`."""

    requests: int = 0
    """Clock-offset requests sent."""
    responses: int = 0
    """Responses used by the clock model."""
    rejected: int = 0
    """Responses dropped: malformed, unknown ``seq``, or refused by the clock model."""
    annotations: int = 0
    """Annotations published (acknowledged by the broker at QoS 1)."""
    connects: int = 0
    """Connections made (the first one and every reconnection)."""
    retries: int = 0
    """Annotations published again because the link dropped before the broker's ack."""


class AnalyzerClient:
    """An analyzer process's link to a wearsdk session over MQTT, with its clock mapped.

    A camera or voice analyzer stamps what it sees on its own clock (``clock``, by default
    ``time.monotonic``), possibly on another machine. This client measures that clock against
    the session clock with NTP-style round trips answered by the session's
    :class:`MqttBridge` (a burst at start, then one every ``sync_interval_s``, keeping the
    lowest-delay exchanges and tracking drift in a :class:`~wearsdk.RoundTripClock`), and
    :meth:`annotate` converts the analyzer's times before publishing, so the session receives
    :class:`~wearsdk.Annotation` events already on its clock::

        config = MqttConfig(url="mqtt://broker:1883", session="s-7f3a")
        async with AnalyzerClient(config, analyzer_id="cam1", modality="face") as link:
            while True:
                t0 = time.monotonic()
                valence = await analyze(next_frame())
                await link.annotate(start=t0, end=time.monotonic(), valence=valence)

    The first connection happens on entry (a broker that cannot be reached raises there). A
    link lost later is re-established in the background with capped, jittered backoff
    (``config.backoff_max_s``), keeping the clock model: :meth:`annotate` waits for the link
    (within its ``timeout_s``) and publishes again an annotation whose acknowledgement was lost
    with the link, so delivery is at least once (QoS 1). A broker that refuses the credentials
    (:class:`MqttAuthError`) or whose certificate does not verify (:class:`MqttTlsError`)
    fails the first connection at once with that error; on a reconnection it ends the
    client, and the next :meth:`annotate` raises it. ``config``'s credentials, TLS settings,
    prefix and session are used, its export policy is not (annotations go to the session,
    which applies its own).

    Args:
        config: broker and session.
        analyzer_id: this analyzer's id (topic level and annotation field).
        modality: ``face``, ``voice``, ``text``, ``marker``...
        clock: the analyzer's own clock (seconds, monotonic).
        sync_interval_s: seconds between exchanges after the initial burst.
        burst: exchanges at start, ``burst_spacing_s`` apart.
        burst_spacing_s: spacing of the initial burst.
        model: the clock model (default: ``RoundTripClock()``).

    Raises:
        ConfigError: an invalid id, modality or interval.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        analyzer_id: str,
        modality: str,
        clock: Callable[[], float] = time.monotonic,
        sync_interval_s: float = 2.0,
        burst: int = 8,
        burst_spacing_s: float = 0.05,
        model: RoundTripClock | None = None,
    ) -> None:
        if not _ID.fullmatch(analyzer_id) or not _ID.fullmatch(modality) or len(modality) > 32:
            raise ConfigError("analyzer_id and modality must match [A-Za-z0-9_.-]{1,64}")
        if not (sync_interval_s > 0 and burst_spacing_s > 0 and burst >= 1):
            raise ConfigError("sync_interval_s and burst_spacing_s must be > 0, burst >= 1")
        self.config = config
        self.analyzer_id = analyzer_id
        self.modality = modality
        self.clock = clock
        self.sync_interval_s = sync_interval_s
        self.burst = burst
        self.burst_spacing_s = burst_spacing_s
        self.remote = model if model is not None else RoundTripClock()
        """The analyzer clock → session clock model (offset, drift, best delay)."""
        self.stats = AnalyzerStatistics()
        self.unix_offset_s: float | None = None
        """The session's session-to-unix offset, learnt from the first response."""
        self._pending: dict[int, float] = {}
        self._synced = asyncio.Event()
        self._client: Any = None
        self._connected = asyncio.Event()
        self._fatal: BaseException | None = None
        self._runner: asyncio.Task[None] | None = None
        self._seq = 0
        base = f"{config.prefix}/{config.session}"
        self._request_topic = f"{base}/clock/request"
        self._response_topic = f"{base}/clock/response/{analyzer_id}"
        self._annotation_topic = f"{base}/analyzer/{modality}/{analyzer_id}"

    def __repr__(self) -> str:
        return f"AnalyzerClient({self.config.safe_url()}, analyzer_id={self.analyzer_id!r})"

    async def __aenter__(self) -> AnalyzerClient:
        client = await self._connect()  # the first attempt's errors reach the caller
        self._runner = asyncio.create_task(
            self._supervise(client), name=f"wearsdk[analyzer-{self.analyzer_id}]"
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    @property
    def connected(self) -> bool:
        """Whether the link to the broker is up (it is re-established when lost)."""
        return self._connected.is_set()

    async def _connect(self) -> Any:
        import aiomqtt

        client = _client(self.config, f"wearsdk-analyzer-{self.analyzer_id}", clean_session=True)
        try:
            await client.__aenter__()
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            _raise_if_fatal(exc, self.config)  # typed at once; a link problem as it is
            raise
        try:
            await client.subscribe(self._response_topic, qos=0)
        except BaseException:
            await client.__aexit__(None, None, None)
            raise
        self.stats.connects += 1
        return client

    async def _supervise(self, client: Any) -> None:
        """Run the exchanges over ``client``; when the link drops, reconnect and go on."""
        import aiomqtt

        failures = 0
        try:
            while True:
                if client is not None:
                    self._client = client
                    self._connected.set()
                    try:
                        async with asyncio.TaskGroup() as tg:
                            tg.create_task(self._receive(client))
                            tg.create_task(self._sync(client))
                    except (aiomqtt.MqttError, OSError, TimeoutError, BaseExceptionGroup) as exc:
                        _link_error(exc)  # re-raises anything that is not a link problem
                        logger.info("analyzer %s lost the broker; reconnecting", self.analyzer_id)
                    finally:
                        self._connected.clear()
                        self._client = None
                        with contextlib.suppress(Exception):
                            await client.__aexit__(None, None, None)
                    client = None
                    failures = 0
                failures += 1
                await asyncio.sleep(_backoff_s(failures, self.config.backoff_max_s))
                try:
                    client = await self._connect()
                except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                    _raise_if_fatal(exc, self.config, failures, ever_connected=True)
        except Exception as exc:  # kept for annotate(): a background task has no caller
            self._fatal = exc
            raise

    @property
    def synced(self) -> bool:
        """Whether the clock offset is known (at least one exchange)."""
        return self.remote.synced and self.unix_offset_s is not None

    async def wait_synced(self, *, exchanges: int = 1, timeout_s: float = 10.0) -> None:
        """Wait until at least ``exchanges`` round trips were used.

        Raises:
            TimeoutError: not synced within ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while self.stats.responses < exchanges or not self.synced:
                self._synced.clear()
                await self._synced.wait()

    def session_time(self, t: float | None = None) -> float:
        """Session time (seconds on the session clock) of the analyzer clock time ``t``.

        Args:
            t: a time on the analyzer's clock; default: now.

        Raises:
            ClockNotSyncedError: before the first exchange.
        """
        if not self.synced:
            raise ClockNotSyncedError("no clock-offset exchange with the session yet")
        return self.remote.to_remote(self.clock() if t is None else t)

    async def annotate(
        self,
        *,
        start: float,
        end: float,
        arousal: float | None = None,
        valence: float | None = None,
        confidence: float = 1.0,
        emotions: dict[str, float] | None = None,
        label: str | None = None,
        extras: dict[str, Any] | None = None,
        timeout_s: float = 10.0,
    ) -> Annotation:
        """Publish an annotation whose span is given on the analyzer's clock.

        Waits for the first clock exchange if needed. The published times are on the
        session's clock (as unix seconds, the wire's convention); ``extras["clock_sync"]``
        records the best round-trip delay and the drift at the time.

        Returns:
            The annotation as the session will see it (times in session seconds).

        Raises:
            TimeoutError: no clock exchange or no broker acknowledgement within ``timeout_s``.
            ConnectionLostError: the client is not connected.
            pydantic.ValidationError: out-of-range values.
        """
        import aiomqtt

        if self._runner is None:
            raise ConnectionLostError("the analyzer client is not connected (use async with)")
        if self._fatal is not None:
            raise self._fatal
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if not self.synced:
            await self.wait_synced(timeout_s=timeout_s)
        assert self.unix_offset_s is not None
        start_s, end_s = self.session_time(start), self.session_time(end)
        sync = {
            "rtt_s": self.remote.best_delay_s,
            "drift_ppm": self.remote.drift_ppm,
            "exchanges": self.remote.samples,
        }
        payload = AnnotationIn(
            modality=self.modality,
            analyzer_id=self.analyzer_id,
            start_unix=start_s + self.unix_offset_s,
            end_unix=end_s + self.unix_offset_s,
            arousal=arousal,
            valence=valence,
            confidence=confidence,
            emotions=emotions or {},
            label=label,
            extras={**(extras or {}), "clock_sync": sync},
        )
        data = payload.model_dump_json(by_alias=True).encode()
        async with asyncio.timeout_at(deadline):
            while True:
                await self._connected.wait()
                if self._fatal is not None:
                    raise self._fatal
                client = self._client
                try:
                    if client is not None:  # None: the link dropped since the wait
                        await client.publish(self._annotation_topic, data, qos=1)
                        break
                except aiomqtt.MqttError:
                    pass  # the link dropped before the broker's ack
                # wait for the reconnection and publish again
                self.stats.retries += 1
                await asyncio.sleep(0.05)
        self.stats.annotations += 1
        return Annotation(
            t=end_s,
            modality=self.modality,
            analyzer_id=self.analyzer_id,
            start=start_s,
            end=end_s,
            arousal=arousal,
            valence=valence,
            confidence=confidence,
            emotions=payload.emotions,
            label=label,
            extras=payload.extras,
        )

    async def _sync(self, client: Any) -> None:
        burst = 0  # a burst at every (re)connection: the path may have changed
        while True:
            seq = self._seq
            self._seq += 1
            t1 = self.clock()
            self._pending[seq] = t1
            if len(self._pending) > 64:  # answers that never came
                del self._pending[min(self._pending)]
            request = ClockRequest(id=self.analyzer_id, seq=seq, t1=t1)
            await client.publish(
                self._request_topic, request.model_dump_json(by_alias=True).encode(), qos=0
            )
            self.stats.requests += 1
            burst += 1
            await asyncio.sleep(
                self.burst_spacing_s if burst < self.burst else self.sync_interval_s
            )

    async def _receive(self, client: Any) -> None:
        async for msg in client.messages:
            t4 = self.clock()  # first: the receive time
            data = msg.payload if isinstance(msg.payload, bytes | bytearray) else b""
            try:
                response = ClockResponse.model_validate_json(data)
            except ValidationError:
                self.stats.rejected += 1
                continue
            t1 = self._pending.pop(response.seq, None)
            if t1 is None or t1 != response.t1 or response.id != self.analyzer_id:
                self.stats.rejected += 1
                continue
            if not self.remote.add(RoundTrip(t1, response.t2, response.t3, t4)):
                self.stats.rejected += 1
                continue
            self.unix_offset_s = response.unix_offset_s
            self.stats.responses += 1
            self._synced.set()


def _client(config: MqttConfig, identifier: str, *, clean_session: bool) -> Any:
    """An ``aiomqtt.Client`` (not yet entered) for ``config``: credentials, TLS, quiet logger."""
    import aiomqtt

    user, password = config.credentials()
    tls: ssl.SSLContext | None = None
    if config.tls:
        tls = ssl.create_default_context(cafile=config.ca_file)
        if config.cert_file:
            tls.load_cert_chain(config.cert_file, config.key_file)
    client_logger = logging.getLogger("wearsdk.mqtt.client")
    # aiomqtt warns once per publish while many are in flight: keep only real errors
    client_logger.setLevel(max(client_logger.level, logging.ERROR))
    return aiomqtt.Client(
        config.host,
        config.port,
        username=user,
        password=password,
        identifier=identifier,
        clean_session=clean_session,
        tls_context=tls,
        logger=client_logger,
        timeout=10,
    )


def decode_inbound(
    control: bool, data: bytes | bytearray, clock: SessionClock
) -> tuple[str, Command | Annotation]:
    """Decode one inbound MQTT payload into the bus topic and event it becomes.

    Bounded and finite: at most :data:`~wearsdk.io.MAX_INBOUND_BYTES` bytes, no NaN or
    infinity anywhere, a label of at most 4096 characters, ``extras`` and ``args`` within
    :data:`~wearsdk.JSON_LIMITS` (63 ``extras`` keys: the bridge adds ``_via``), unix times
    in [0, 1e11]. What passes serialises to finite JSON in every sink.

    Args:
        control: the payload came on the ``control`` topic (else an analyzer topic).
        data: the raw payload (JSON).
        clock: the session clock (commands are stamped now, annotations mapped from unix).

    Raises:
        InboundPayloadError: the payload is refused; its ``reason`` says why (a
            ``ValueError``).
        ConfigError: it decodes but cannot be placed on the session clock.
    """
    if control:
        cmd = _parse_bounded(CommandIn, data)
        return f"control/{cmd.command}", Command(
            t=clock.now(), name=cmd.command, args=cmd.args, origin="mqtt"
        )
    incoming = _parse_bounded(AnnotationIn, data)
    try:
        ann = incoming.to_annotation(clock)
        event = Annotation.model_validate(
            {**ann.model_dump(), "extras": {**ann.extras, "_via": "mqtt"}}
        )
    except ValidationError as exc:
        raise InboundPayloadError.from_validation(exc, bytes(data)) from None
    return f"analyzer/{ann.modality}/{ann.analyzer_id}", event


def _link_error(exc: BaseException) -> BaseException:
    """The first link-level error in ``exc`` (a group or not); anything else is re-raised."""
    import aiomqtt

    leaves: list[BaseException] = []
    stack = [exc]
    while stack:
        e = stack.pop()
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        else:
            leaves.append(e)
    for e in leaves:
        if not isinstance(e, aiomqtt.MqttError | OSError | TimeoutError):
            raise e
    return leaves[0]


def _backoff_s(failures: int, cap_s: float) -> float:
    """Wait before reconnection attempt ``failures``: exponential from 0.2 s, capped, jittered
    (full jitter, so that many clients of a restarted broker do not return at once)."""  # noqa: D205, D209
    return random.uniform(0, min(cap_s, 0.2 * 2 ** min(failures, 8)))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the members of a group, and everything in their ``__cause__`` and
    ``__context__`` chains (aiomqtt raises a plain ``MqttError`` with the ``SSLError`` only
    in ``__context__``)."""  # noqa: D205, D209
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        stack.extend(x for x in (e.__cause__, e.__context__) if x is not None)


_TRANSIENT_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _tls_cause(e: ssl.SSLError) -> str:
    if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message:
        return f"certificate verify failed: {e.verify_message}"
    return str(e.reason or e.strerror or e).replace("_", " ").lower()


def _raise_if_fatal(
    exc: BaseException, config: MqttConfig, failures: int = 1, *, ever_connected: bool = False
) -> None:
    """Raise the typed error when ``exc`` is a failure retrying would only repeat.

    :class:`MqttAuthError` for credentials the broker refused; :class:`MqttTlsError` for a
    certificate that does not verify, or a broker that resets the first TLS handshake (a
    plain listener), at once; for a TLS handshake cut short ``failures >= 3`` times in a row.
    """
    import aiomqtt

    chain = list(_causes(exc))
    for e in chain:
        rc = getattr(e, "rc", None)
        if isinstance(e, aiomqtt.MqttCodeError) and _is_auth_failure(rc):
            raise MqttAuthError(
                f"the broker at {config.safe_url()} refused the credentials ({rc})"
            ) from None
    for e in chain:
        if isinstance(e, ssl.SSLError) and (not isinstance(e, _TRANSIENT_TLS) or failures >= 3):
            raise MqttTlsError(f"TLS to {config.safe_url()} failed: {_tls_cause(e)}") from None
    if config.tls and not ever_connected:
        for e in chain:
            if isinstance(e, ConnectionResetError):
                raise MqttTlsError(
                    f"TLS to {config.safe_url()} failed: the broker reset the connection during "
                    "the handshake (does it speak TLS on this port? mqtts is usually 8883)"
                ) from None
    if config.tls and failures >= 3:
        # aiomqtt keeps only the text of some errors: an SSL error named in a message
        for e in chain:
            text = str(e)
            if "[SSL" in text or "certificate verify failed" in text:
                raise MqttTlsError(f"TLS to {config.safe_url()} failed: {text}") from None


def _is_auth_failure(rc: object) -> bool:
    text = str(rc).lower()
    with contextlib.suppress(TypeError, ValueError):
        if int(rc) in (4, 5, 134, 135):  # type: ignore[call-overload]
            return True
    return "not authorized" in text or "bad user name or password" in text
