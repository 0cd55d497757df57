"""The bus to and from an MQTT broker, under an export policy (:class:`MqttBridge`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from wearsdk._clock import SessionClock
from wearsdk._contracts import SinkContext
from wearsdk._errors import ConfigError
from wearsdk._events import (
    Annotation,
    ClockStatus,
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
    ClockRequest,
    ClockResponse,
    InboundPayloadError,
    _parse_bounded,
    encode_message,
)
from wearsdk.io.mqtt._config import (
    MqttConfig,
)
from wearsdk.io.mqtt._link import (
    _backoff_s,
    _client,
    _link_error,
    _raise_if_fatal,
    decode_inbound,
)

logger = logging.getLogger("wearsdk.mqtt")


_CLASS_POLICY = {
    "estimate": ExportPolicy.ESTIMATES,
    "status": ExportPolicy.ESTIMATES,
    "features": ExportPolicy.FEATURES,
    "annotation": ExportPolicy.FEATURES,
    "samples": ExportPolicy.RAW,
}


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
    last_error: str | None = None
    """Why the last connection attempt failed (``cannot reach mqtt://host:1883: [Errno 111]
    Connection refused``); ``None`` once connected."""


@dataclass(slots=True)
class _Outgoing:
    seq: int
    topic: str
    payload: bytes
    qos: int


class MqttBridge:
    """Bridges a session's bus and an MQTT broker until drained or cancelled (see the module docs).

    A :class:`~wearsdk.session.Sink`: :meth:`run` bridges, :meth:`drain` delivers what is left
    and ends :meth:`run`.

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
        self._inflight: list[_Outgoing] = []  # taken from the outbox, awaiting the broker's ack
        self._sub: Subscription | None = None
        self._seq = 0
        self._ready = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while connected to the broker (and subscribed to the inbound topics)."""
        self.subscribed = asyncio.Event()
        """Set once :meth:`run` has subscribed to the bus: what is published from then on is
        exported (or counted by :meth:`drain`), with or without a broker."""
        self._drained = asyncio.Event()  # drain() ran: run() returns
        self._progress = asyncio.Event()  # a message left the bus queue or the outbox

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
            self.subscribed.set()
            async for message in sub:
                payload = message.payload
                # do not echo annotations that came in over MQTT
                if not (isinstance(payload, Annotation) and payload.extras.get("_via") == "mqtt"):
                    self._enqueue(message)
                self._progress.set()

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
        while not self._idle():
            # woken by each message that leaves the bus queue or the outbox, not by a timer
            self._progress.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self._progress.wait()
            except TimeoutError:
                return self._idle()
        return True

    def _idle(self) -> bool:
        """Nothing waits in the bridge's bus queue or its outbox."""
        waiting = self._sub.stats.queued if self._sub is not None else 0
        return waiting == 0 and not self._outbox and not self._inflight

    async def _sender(self, client: object) -> None:
        import aiomqtt

        assert isinstance(client, aiomqtt.Client)
        while True:
            self.stats.queued = len(self._outbox)
            self._progress.set()
            if not self._outbox:
                self._ready.clear()
                await self._ready.wait()
                continue
            if not self.gate.allows(export=self.config.policy):  # the expiry instant
                self._stop_export(self.gate.closed_reason() or "closed")
                continue
            # the batch leaves the outbox while in flight, so a consent stop or an overflow
            # meanwhile neither counts it twice nor drops it; a lost connection puts it back
            batch = [
                self._outbox.popleft() for _ in range(min(self.config.inflight, len(self._outbox)))
            ]
            self._inflight = batch
            try:
                await asyncio.gather(
                    *(client.publish(m.topic, m.payload, qos=m.qos) for m in batch)
                )
            except BaseException:
                if self.stop_reason is None:
                    self._outbox.extendleft(reversed(batch))  # resent after the reconnect
                else:
                    self.stats.refused_by_consent += len(batch)
                raise
            finally:
                self._inflight = []
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
        self._progress.set()
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
        """The sink contract's end: :meth:`flush`, then :meth:`run` returns.

        Args:
            timeout_s: the longest wait.

        Returns:
            Messages still in the bridge's bus queue or its outbox (0: everything left).
        """
        try:
            await self.flush(timeout_s)
            waiting = self._sub.stats.queued if self._sub is not None else 0
            return waiting + len(self._outbox)
        finally:
            self._drained.set()  # the sink's end: run() returns

    async def run(self, ctx: SinkContext | None = None) -> None:
        """Bridge until :meth:`drain` ran or until cancelled; reconnect with capped backoff.

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
        if self.topics:
            self.gate.check(export=self.config.policy)
        pump = asyncio.create_task(self._pump(), name="wearsdk[mqtt].pump") if self.topics else None
        watch = (
            asyncio.create_task(self._watch_consent(), name="wearsdk[mqtt].consent")
            if self.topics
            else None
        )
        link = asyncio.create_task(self._link(), name="wearsdk[mqtt].link")
        drained = asyncio.create_task(self._drained.wait(), name="wearsdk[mqtt].drained")
        try:
            await asyncio.wait({link, drained}, return_when=asyncio.FIRST_COMPLETED)
            if link.done():
                link.result()  # a fatal link error (credentials, certificate)
        finally:
            self.connected.clear()
            for task in (link, drained, pump, watch):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _link(self) -> None:
        """Connect, bridge, and reconnect with capped, jittered backoff, until cancelled."""
        import aiomqtt

        c = self.config
        failures = 0
        while True:
            try:
                async with _client(
                    c, c.client_id or f"wearsdk-{c.session}", clean_session=False
                ) as client:
                    failures = 0
                    self.stats.connects += 1
                    self.stats.last_error = None
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
                reason = " ".join(str(first).split()) or type(first).__name__
                self.stats.last_error = f"cannot reach {c.safe_url()}: {reason}"
                # said once as it happens (the session goes on and retries), then per attempt
                # with -v only
                logger.log(
                    logging.WARNING if failures == 1 else logging.INFO,
                    "MQTT link to %s unavailable (%s); reconnecting",
                    c.safe_url(),
                    reason,
                )
            await asyncio.sleep(_backoff_s(failures, c.backoff_max_s))
