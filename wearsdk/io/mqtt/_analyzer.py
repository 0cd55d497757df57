"""An analyzer process's client: annotations onto the session clock (:class:`AnalyzerClient`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from wearsdk._clock import RoundTrip, RoundTripClock
from wearsdk._errors import ConfigError, ConnectionLostError
from wearsdk._events import (
    Annotation,
)
from wearsdk.io._wire import (
    AnnotationIn,
    ClockRequest,
    ClockResponse,
)
from wearsdk.io.mqtt._config import (
    ClockNotSyncedError,
    MqttConfig,
)
from wearsdk.io.mqtt._link import (
    _backoff_s,
    _client,
    _link_error,
    _raise_if_fatal,
)

logger = logging.getLogger("wearsdk.mqtt")


_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


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
