"""LSL outlets for what a session publishes: raw streams, heart rate, features, estimates."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math

import pylsl

from wearsdk._contracts import SinkContext
from wearsdk._errors import ConfigError, StreamClosedError
from wearsdk._privacy import Consent, ConsentGate, ExportPolicy
from wearsdk.bus import Bus, BusItem
from wearsdk.io.lsl._inlet import push_chunk
from wearsdk.io.lsl._spec import StreamSpec, affect_spec, rows_of, spec_for

__all__ = ["LslOutlets", "stream_info"]

logger = logging.getLogger("wearsdk.io.lsl")

_FORMATS = {
    "float32": pylsl.cf_float32,
    "double64": pylsl.cf_double64,
    "string": pylsl.cf_string,
    "int8": pylsl.cf_int8,
    "int16": pylsl.cf_int16,
    "int32": pylsl.cf_int32,
    "int64": pylsl.cf_int64,
}


def stream_info(spec: StreamSpec) -> pylsl.StreamInfo:
    """An LSL stream info with the XDF-convention description of ``spec``.

    ``desc/channels/channel/{label,unit,type}``, ``desc/filtering`` (cleaned streams only),
    ``desc/acquisition/{manufacturer,model}`` and ``desc/wearsdk/{version,source,stream,topic}``
    (the source is the wearsdk pseudonym, never a device address).
    """
    info = pylsl.StreamInfo(
        spec.name,
        spec.type,
        spec.channel_count,
        spec.nominal_srate or pylsl.IRREGULAR_RATE,
        _FORMATS[spec.channel_format],
        spec.source_id,
    )
    desc = info.desc()
    channels = desc.append_child("channels")
    for c in spec.channels:
        ch = channels.append_child("channel")
        ch.append_child_value("label", c.label)
        ch.append_child_value("unit", c.unit)
        ch.append_child_value("type", c.type)
    if spec.filtering:
        filtering = desc.append_child("filtering")
        for name, fields in spec.filtering.items():
            section = filtering.append_child(name)
            for key, value in fields.items():
                section.append_child_value(key, value)
    acquisition = desc.append_child("acquisition")
    acquisition.append_child_value("manufacturer", spec.manufacturer)
    acquisition.append_child_value("model", spec.stream)
    wear = desc.append_child("wearsdk")
    for key, value in spec.desc_fields().items():
        wear.append_child_value(key, value)
    return info


_TOPICS = {
    ExportPolicy.ESTIMATES: ("affect/estimate",),
    ExportPolicy.FEATURES: ("affect/estimate", "features/+"),
    ExportPolicy.RAW: ("affect/estimate", "features/+", "physio/#"),
}


class LslOutlets:
    """Publishes the session's streams as LSL outlets, one per wearsdk stream.

    Which streams depends on ``policy`` (data leaving the process needs the wearer's consent
    for it): ``estimates`` gives the ``affect`` outlet (type ``Affect``, channels ``arousal``,
    ``valence``, ``confidence``); ``features`` adds ``<source>-features``; ``raw`` adds every
    sample stream (``<source>-ecg``, ``-rr``, ``-eda``...) and ``<source>-heartrate``, and the
    cleaned streams (``<source>-ecg_clean``, ``<source>-eda_clean``, with ``desc/filtering``)
    when the pipeline publishes them (``PipelineConfig(publish_clean=True)``).
    Outlets are created when their stream first appears, with the metadata of
    :func:`stream_info`, and every sample is pushed with its session timestamp (LSL's clock for
    a live session), never the push time.

    Consent is a live condition, as for the MQTT bridge and the XDF recorder: nothing is pushed
    at or after the consent's expiry instant or a withdrawal, and the outlets then close at once
    (consumers see the streams disappear); the session goes on in-process.

    Args:
        bus: the session bus.
        consent: the wearer's consent record, or the session's :class:`~wearsdk.ConsentGate`
            (so that expiry and withdrawal reach every sink); it must allow ``policy``.
        policy: what may be published.
        float32: publish sample streams as float32 instead of double64 (half the bandwidth).
        namespace: appended to every source id (``wearsdk:affect@<namespace>``), to tell
            several wearsdk sessions on one network apart; default none (stable ids).
        time_offset_s: added to every timestamp before it is pushed. A live session's clock is
            LSL's (0, the default); a replay's runs on the recording's times, and
            ``pylsl.local_clock() - clock.now()`` taken as it starts re-stamps it onto the LSL
            clock of today (at real-time speed).
        linger_s: when the session ends normally and consumers are connected, the outlets stay
            open this long after the last push before they close, so that the last samples
            (the pipeline's final windows are pushed as the session closes) reach them: LSL
            sends in the background and drops what is unsent when an outlet is destroyed, and
            it has no delivery acknowledgement to wait for instead. Not applied when consent
            closes (the outlets close at once) or when the run is cancelled.

    Raises:
        ConsentError: no consent record, or one that does not allow ``policy``.
        ConfigError: ``time_offset_s`` is not finite.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        consent: Consent | ConsentGate | None,
        policy: ExportPolicy = ExportPolicy.ESTIMATES,
        float32: bool = False,
        namespace: str = "",
        time_offset_s: float = 0.0,
        linger_s: float = 0.5,
    ) -> None:
        self.gate = consent if isinstance(consent, ConsentGate) else ConsentGate(consent)
        """The consent as a live condition (expiry, withdrawal)."""
        self.gate.check(export=policy)
        if not math.isfinite(time_offset_s):
            raise ConfigError(f"time_offset_s must be finite, got {time_offset_s!r}")
        self.time_offset_s = float(time_offset_s)
        if not (math.isfinite(linger_s) and linger_s >= 0):
            raise ConfigError(f"linger_s must be a finite number >= 0, got {linger_s!r}")
        self.linger_s = float(linger_s)
        self.bus = bus
        self.policy = policy
        self.float32 = float32
        self.namespace = namespace
        self.outlets: dict[str, pylsl.StreamOutlet] = {}
        """Outlets by stream key."""
        self.pushed: dict[str, int] = {}
        """Samples pushed, by LSL stream name."""
        self.stop_reason: str | None = None
        """Why publishing stopped early (``"withdrawn"``, ``"expired"``), else ``None``."""
        self.refused_by_consent = 0
        """Bus messages not pushed because consent had closed."""
        self._specs: dict[str, StreamSpec] = {}  # what each outlet was created with
        self._sub = bus.subscribe(_TOPICS[policy], maxsize=8192, policy="drop_oldest")
        self._done = asyncio.Event()
        # the affect outlet exists from the start, so consumers can connect before estimates
        self._outlet(affect_spec())

    def _outlet(self, spec: StreamSpec) -> pylsl.StreamOutlet:
        outlet = self.outlets.get(spec.key)
        if outlet is None:
            if self.float32 and spec.type not in ("Affect", "Features"):
                spec = dataclasses.replace(spec, channel_format="float32")
            if self.namespace:
                spec = dataclasses.replace(spec, source_id=f"{spec.source_id}@{self.namespace}")
            outlet = pylsl.StreamOutlet(stream_info(spec))
            self.outlets[spec.key] = outlet
            self._specs[spec.key] = spec
            logger.info("LSL outlet %r (%s) created", spec.name, spec.type)
        return outlet

    def push(self, topic: str, payload: BusItem) -> None:
        """Push one bus message to its outlet (creating the outlet on first use).

        Once consent has closed nothing is pushed: the message is counted in
        :attr:`refused_by_consent` and the outlets close.
        """
        spec = spec_for(topic, payload)
        if spec is None:
            return
        if self.stop_reason is not None or not self.gate.allows(export=self.policy):
            self.refused_by_consent += 1
            self._stop(self.gate.closed_reason() or "closed")
            return
        outlet = self._outlet(spec)
        created = self._specs[spec.key]
        rows = rows_of(payload, created)
        assert rows is not None
        t, values = rows
        push_chunk(outlet, values, t + self.time_offset_s if self.time_offset_s else t)
        name = created.name
        self.pushed[name] = self.pushed.get(name, 0) + int(t.size)

    async def run(self, ctx: SinkContext | None = None) -> None:
        """Publish until cancelled (or the bus closes); the outlets close on the way out.

        Args:
            ctx: the session's sink context when the session runs the outlets as a sink
                (:meth:`~wearsdk.session.Session.add_sink`); unused.
        """
        closed = asyncio.ensure_future(self.gate.wait_closed())
        burst = 0
        try:
            while self.stop_reason is None:
                # what is queued is pushed at once; the gate is asked per message (push)
                message = self._sub.receive_nowait()  # StreamClosedError: the session is over
                if message is None:
                    receive = asyncio.ensure_future(self._sub.receive())
                    await asyncio.wait({receive, closed}, return_when=asyncio.FIRST_COMPLETED)
                    if receive.done():
                        message = receive.result()
                    else:
                        receive.cancel()
                        with contextlib.suppress(asyncio.CancelledError, StreamClosedError):
                            await receive
                if message is not None:
                    self.push(message.topic, message.payload)
                    burst += 1
                    if burst % 256 == 0:  # a long queue does not hold the event loop
                        await asyncio.sleep(0)
                if closed.done():
                    self._stop(closed.result())
        except StreamClosedError:
            # the session is over: give connected consumers the last samples before closing
            if self.stop_reason is None and self.linger_s > 0 and self._has_consumers():
                await asyncio.sleep(self.linger_s)
        finally:
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closed
            self._sub.close()
            self.close()
            self._done.set()

    def _has_consumers(self) -> bool:
        return any(outlet.have_consumers() for outlet in self.outlets.values())

    def _stop(self, reason: str) -> None:
        """Consent closed: close the outlets, drop (and count) what waits, say so once."""
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        with contextlib.suppress(StreamClosedError):
            while self._sub.receive_nowait() is not None:
                self.refused_by_consent += 1
        self._sub.close()
        self.close()
        logger.warning(
            "consent %s: LSL outlets closed (%d messages not published); the session goes on "
            "in-process",
            reason,
            self.refused_by_consent,
        )

    async def drain(self, timeout_s: float) -> int:
        """After the bus closed: wait until what is queued is pushed; return what was not.

        Includes the ``linger_s`` that connected consumers get before the outlets close.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._done.wait()
        return self._sub.stats.queued

    def close(self) -> None:
        """Close every outlet (consumers see the streams disappear)."""
        self.outlets.clear()  # the last reference: pylsl destroys the outlets
