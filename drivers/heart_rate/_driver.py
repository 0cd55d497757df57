"""Driver for any standard Heart Rate Service strap (Polar, Garmin, Wahoo, Coospo...)."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from wearsdk import (
    DeviceClockMap,
    Gap,
    HeartRate,
    ProtocolError,
    SampleBlock,
    SourceContext,
)
from wearsdk.driverkit import BleSource, Notifications
from wearsdk.drivers.heart_rate._protocol import (
    BATTERY_LEVEL_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    parse_heart_rate_measurement,
)
from wearsdk.io.ble import BleTransport

__all__ = ["BeatTimeline", "HeartRateStrap"]

logger = logging.getLogger("wearsdk.drivers.heart_rate")


class BeatTimeline:
    """Places beats on the session clock from RR intervals and notification arrival times.

    A standard strap has no clock of its own in the protocol: only RR intervals, which are
    exact beat-to-beat durations on the strap's clock. Beats are chained by their RR sums (so
    intervals are never smeared by radio jitter) and the chain is anchored on arrival times:
    the last beat of a notification cannot be later than its arrival, and if the chain falls
    more than ``max_lag_s`` behind the arrivals (beats the strap never reported) it is
    re-anchored and the unexplained interval is returned as a gap.

    The RR sums are the strap's clock, and it drifts (tens of ppm; a slow one would let the
    chain fall behind real time for hours). A :class:`~wearsdk.DeviceClockMap` on (RR sum,
    arrival) pairs learns that rate error from the arrivals' lower envelope; once its
    observations span ``rate_fit_s``, intervals are scaled by it when chaining
    (:attr:`drift_ppm`).

    Args:
        max_lag_s: how far the chain may trail the arrival time before re-anchoring.
        rate_fit_s: strap seconds of notifications the rate fit must span before it is used.
    """

    def __init__(self, *, max_lag_s: float = 2.5, rate_fit_s: float = 120.0) -> None:
        self.max_lag_s = max_lag_s
        self.rate_fit_s = rate_fit_s
        self.reset()

    def reset(self) -> None:
        """Forget the chain entirely."""
        self._last_beat: float | None = None
        self._anchor = True
        self._strap_t = 0.0  # RR sum up to the last beat: the strap's own clock
        self.rate = DeviceClockMap(
            bucket_s=60.0, horizon_buckets=60, min_fit_span_s=self.rate_fit_s
        )
        """The strap clock's model (used for its drift only)."""

    @property
    def drift_ppm(self) -> float:
        """The strap clock's rate error applied to the chain.

        0 until the fit spans ``rate_fit_s`` (before, the posterior mean, which its prior keeps
        near 0 while the data say little).
        """
        rate = self.rate
        if rate.span_s < self.rate_fit_s or abs(rate.drift_ppm) > 1000.0:
            return 0.0
        return rate.drift_ppm

    def reanchor(self) -> None:
        """Anchor the next beats on their arrival (after a reconnect or a lost notification).

        The chain is broken, but the last beat placed still bounds the next ones: beats never
        go backwards. The strap's rate model is kept (the same strap's clock).
        """
        self._anchor = True

    @property
    def last_beat(self) -> float | None:
        """Session time of the last placed beat."""
        return self._last_beat

    def place(
        self, rr_s: tuple[float, ...], arrival: float
    ) -> tuple[np.ndarray, tuple[float, float] | None]:
        """Return the beat times for ``rr_s`` and, if the chain had to jump, the gap.

        Args:
            rr_s: RR intervals of one notification, oldest first (seconds).
            arrival: session time at which the notification arrived.
        """
        rr = np.asarray(rr_s, dtype=np.float64)
        self._strap_t += float(rr.sum())
        self.rate.observe(self._strap_t, arrival)  # a jump (unreported beats) re-anchors it
        gap: tuple[float, float] | None = None
        if self._last_beat is not None and not self._anchor:
            beats = self._last_beat + np.cumsum(rr) / (1.0 + self.drift_ppm * 1e-6)
            lag = arrival - beats[-1]
            if lag < 0.0:
                # the chain runs ahead of real time (strap clock faster, or jitter): pull it back
                beats = beats + lag
            elif lag > self.max_lag_s:
                # beats went unreported: re-anchor on arrival and report what is missing
                anchored = arrival - np.cumsum(rr[::-1])[::-1] + rr
                gap = (self._last_beat, float(anchored[0] - rr[0]))
                beats = anchored
        else:
            beats = arrival - np.cumsum(rr[::-1])[::-1] + rr
        # never go backwards, and never place two beats at the same time
        if self._last_beat is not None and beats[0] <= self._last_beat:
            beats = np.maximum(beats, self._last_beat + 1e-6 * np.arange(1, len(beats) + 1))
        self._anchor = False
        self._last_beat = float(beats[-1])
        return beats, gap


class HeartRateStrap(BleSource):
    """A standard Bluetooth LE heart-rate strap: heart rate, RR intervals, energy, contact.

    Publishes :class:`~wearsdk.HeartRate` events on ``physio/<id>/hr``, RR intervals as
    :class:`~wearsdk.SampleBlock` (unit ``s``) on ``physio/<id>/rr``, :class:`~wearsdk.Gap`
    on ``physio/<id>/rr`` when beats are lost, and connection states on ``device/<id>/status``.
    It reconnects by itself with capped, jittered exponential backoff.

    Args:
        transport: the BLE transport (OS stack via bleak, or bumble).
        address: device address to connect to.
        name: advertised name to look for (used when no address is given).
            Without either, the first strap advertising the Heart Rate Service is used.
        source_id: explicit source id; default: a keyed pseudonym of the address/name.
        connect_timeout_s: timeout of each discovery and connection attempt.
        reconnect: reconnect after a lost link (else the driver ends with the link).
        max_attempts: give up (raise) after this many failed attempts in a row; 0 = never.
        backoff_max_s: cap of the reconnection backoff (real seconds; the default keeps a
            device that comes back in range reconnected within a few seconds).
        queue_size: bound of the notification queue between the BLE callback and the driver.
        stale_after_s: drop and reconnect when no notification arrived for this long (a strap
            that stays connected but stopped sending).
    """

    discovery_service_uuid = HEART_RATE_SERVICE_UUID

    def __init__(
        self,
        transport: BleTransport,
        *,
        address: str | None = None,
        name: str | None = None,
        source_id: str | None = None,
        connect_timeout_s: float = 10.0,
        reconnect: bool = True,
        max_attempts: int = 0,
        backoff_max_s: float = 2.0,
        queue_size: int = 256,
        stale_after_s: float = 10.0,
    ) -> None:
        super().__init__(
            transport,
            address=address,
            name=name,
            source_id=source_id,
            connect_timeout_s=connect_timeout_s,
            reconnect=reconnect,
            max_attempts=max_attempts,
            backoff_max_s=backoff_max_s,
            queue_size=queue_size,
            stale_after_s=stale_after_s,
        )
        self._gap_start: float | None = None
        self._gap_reason = "disconnect"
        self.malformed = 0
        """Notifications dropped because they did not parse."""
        self.timeline = BeatTimeline()

    @property
    def kind(self) -> str:
        """Pseudonym prefix: ``hr``."""
        return "hr"

    def _clock_models(self) -> dict[str, DeviceClockMap]:
        return {"beats": self.timeline.rate}

    async def _setup(
        self,
        client: BleakClient,
        ctx: SourceContext,
        notes: Notifications,
        stack: contextlib.AsyncExitStack,
    ) -> dict[str, Any] | None:
        battery = await self._read_battery(client)
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, notes.callback("hr"))
        await self._start_streams(client, ctx, notes.callback)
        return {"battery_pct": battery}

    async def _start_streams(
        self,
        client: BleakClient,
        ctx: SourceContext,
        notifier: Callable[[str], Callable[[BleakGATTCharacteristic, bytearray], None]],
    ) -> None:
        """Hook for subclasses: start more notifications after heart rate (nothing here)."""

    def _on_connected(self) -> None:
        """Hook run once per connection, after the streams started."""
        self._gap_start = self.timeline.last_beat
        self._gap_reason = "disconnect"
        self.timeline.reanchor()

    def _handle_notification(
        self, ctx: SourceContext, kind: str, arrival: float, payload: bytes
    ) -> None:
        """Decode and publish one queued notification (subclasses add their kinds)."""
        if kind == "hr":
            gap_start, self._gap_start = self._gap_start, None
            self._handle(ctx, arrival, payload, gap_start)

    async def _read_battery(self, client: BleakClient) -> int | None:
        try:
            value = await client.read_gatt_char(BATTERY_LEVEL_UUID)
        except (BleakError, OSError):
            return None
        return int(value[0]) if value else None

    def _handle(
        self, ctx: SourceContext, arrival: float, payload: bytes, gap_start: float | None
    ) -> None:
        try:
            m = parse_heart_rate_measurement(payload)
        except ProtocolError:
            # the beats it carried are lost: the next ones start a new chain, after a Gap
            if gap_start is None and self.timeline.last_beat is not None:
                gap_start = self.timeline.last_beat
                self._gap_reason = "malformed"
            self._gap_start = gap_start
            self.timeline.reanchor()
            self.malformed += 1
            if self.malformed == 1:
                logger.warning("%s: malformed heart rate notification dropped", ctx.source_id)
            return
        rr = tuple(r for r in m.rr_s if r > 0)
        ctx.publish_event(
            "hr",
            HeartRate(
                t=arrival,
                source=ctx.source_id,
                hr_bpm=float(m.hr_bpm),
                rr_s=m.rr_s,
                energy_kj=m.energy_kj,
                contact=m.contact,
            ),
        )
        if not rr:
            if gap_start is not None:
                self._gap_start = gap_start  # the first notification with beats closes the gap
            return
        beats, gap = self.timeline.place(rr, arrival)
        if gap_start is not None and gap is None:
            gap = (gap_start, float(beats[0] - rr[0]))
        if gap is not None and gap[1] > gap[0]:
            ctx.publish_event(
                "rr",
                Gap(
                    t=arrival,
                    source=ctx.source_id,
                    stream="rr",
                    start=gap[0],
                    end=gap[1],
                    n_missing=max(0, math.floor((gap[1] - gap[0]) / float(np.mean(rr)))),
                    reason=self._gap_reason if gap_start is not None else "unreported_beats",
                ),
            )
        ctx.publish_block(
            SampleBlock(
                source=ctx.source_id,
                stream="rr",
                unit="s",
                t=beats,
                values=np.asarray(rr, dtype=np.float64)[:, None],
                channels=("rr",),
            )
        )
