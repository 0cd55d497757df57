"""Virtual twin of a standard Heart Rate Service strap: a bumble GATT peripheral.

It serves the Heart Rate Service (0x180D: measurement, body sensor location, control point)
and the Battery Service (0x180F) byte for byte as a strap does, notifying once per
``notify_interval_s`` of session time with the RR intervals of the beats completed since the
previous notification (several RR values per notification, 9 at most at the default ATT MTU).
Beats come from a :class:`~wearsdk.sim.HeartSimulator`; pacing follows the session clock, so a
fast (scaled) clock runs the twin fast.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from typing import NamedTuple

import numpy as np
from bumble import att, gatt
from bumble.device import Connection, Device

from wearsdk import SessionClock
from wearsdk.driverkit import VirtualPeripheral
from wearsdk.drivers.heart_rate._protocol import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    BODY_SENSOR_LOCATION_UUID,
    HEART_RATE_CONTROL_POINT_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    encode_heart_rate_measurement,
)
from wearsdk.sim import HeartSimulator

__all__ = ["BeatRecord", "VirtualHeartRateStrap"]

logger = logging.getLogger("wearsdk.drivers.heart_rate.twin")

_CONTROL_POINT_NOT_SUPPORTED = 0x80
_MAX_RR_PER_NOTIFICATION = 9  # flags + uint8 HR + 9 x uint16 = 20 bytes = ATT MTU 23 - 3


class BeatRecord(NamedTuple):
    """One beat the twin generated and what became of it (the ground truth for tests).

    Attributes:
        t: session time at which the beat completed.
        rr_s: its RR interval in seconds (before the strap's clock error).
        fate: ``sent``, or why it never reached a central: ``disconnected`` (no link),
            ``unsubscribed`` (a link, but notifications not turned on yet), ``paused`` (the
            strap was silent), ``malformed`` (its notification was corrupted).
    """

    t: float
    rr_s: float
    fate: str


class VirtualHeartRateStrap(VirtualPeripheral):
    """A virtual standard heart-rate strap on a bumble device.

    Use it as an async context manager: entering adds the GATT services, starts advertising
    and starts notifying; leaving stops it. Knobs (``contact``, ``battery_pct``,
    :meth:`drop_link`) change its behaviour while it runs.

    Args:
        device: a powered-on bumble device (e.g. from ``VirtualLink.add_peripheral``).
        heart: the beat generator.
        clock: the session clock that paces the notifications.
        name: advertised local name.
        notify_interval_s: session seconds between notifications.
        contact: ``True``/``False`` skin contact, ``None`` for a strap without detection.
        battery_pct: battery level served by the Battery Service.
        energy_every: include Energy Expended every N notifications (0: never).
        body_location: Body Sensor Location value (1 = chest).
        drift_ppm: the strap's clock error: RR intervals are reported ``1 + drift_ppm * 1e-6``
            times their true length (real straps are off by tens of ppm).
        jitter_s: each notification is delayed by a uniform random 0 to ``jitter_s`` session
            seconds (BLE connection events deliver 7.5-50 ms late).
        malformed_rate: probability that a notification is replaced by a malformed payload.
        seed: seed of the fault-injection random generator.
        history: how many beats :attr:`beats` keeps.
    """

    def __init__(
        self,
        device: Device,
        heart: HeartSimulator,
        clock: SessionClock,
        *,
        name: str = "wearsdk HR strap",
        notify_interval_s: float = 1.0,
        contact: bool | None = True,
        battery_pct: int = 87,
        energy_every: int = 10,
        body_location: int = 1,
        drift_ppm: float = 0.0,
        jitter_s: float = 0.0,
        malformed_rate: float = 0.0,
        seed: int = 0,
        history: int = 100_000,
    ) -> None:
        super().__init__(device, clock, name=name, service_uuids=[HEART_RATE_SERVICE_UUID])
        self.heart = heart
        self.notify_interval_s = notify_interval_s
        self.contact: bool | None = contact
        """Skin contact reported in the next notifications (a knob)."""
        self.battery_pct = battery_pct
        """Battery level served (a knob)."""
        self.energy_every = energy_every
        self.body_location = body_location
        self.drift_ppm = drift_ppm
        """Clock error of the RR intervals reported (a knob)."""
        self.jitter_s = jitter_s
        """Maximum extra delay of a notification (a knob)."""
        self.malformed_rate = malformed_rate
        """Probability of a malformed notification (a knob)."""
        self._rng = random.Random(seed)
        self.malformed_sent = 0
        """Malformed notifications sent so far."""
        self.paused = False
        """While ``True`` the strap stays connected but sends nothing (a knob)."""
        self.energy_kj = 0
        """Cumulative energy expended, reset by control point 0x01."""
        self.notifications_sent = 0
        """Heart Rate Measurement notifications sent so far."""
        self.beats_lost = 0
        """Beats generated while nobody was connected (lost, as on a real strap)."""
        self.beats: deque[BeatRecord] = deque(maxlen=history)
        """Every beat generated, oldest first, with its fate (bounded by ``history``)."""
        self._hrm = gatt.Characteristic(
            HEART_RATE_MEASUREMENT_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.Permissions(0),
            b"",
        )
        self._services = [
            gatt.Service(
                HEART_RATE_SERVICE_UUID,
                [
                    self._hrm,
                    gatt.Characteristic(
                        BODY_SENSOR_LOCATION_UUID,
                        gatt.Characteristic.Properties.READ,
                        gatt.Characteristic.READABLE,
                        gatt.CharacteristicValue(read=self._read_location),
                    ),
                    gatt.Characteristic(
                        HEART_RATE_CONTROL_POINT_UUID,
                        gatt.Characteristic.Properties.WRITE,
                        gatt.Characteristic.WRITEABLE,
                        gatt.CharacteristicValue(write=self._write_control_point),
                    ),
                ],
            ),
            gatt.Service(
                BATTERY_SERVICE_UUID,
                [
                    gatt.Characteristic(
                        BATTERY_LEVEL_UUID,
                        gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
                        gatt.Characteristic.READABLE,
                        gatt.CharacteristicValue(read=self._read_battery),
                    )
                ],
            ),
        ]

    def _read_location(self, _connection: Connection | None) -> bytes:
        return bytes((self.body_location,))

    def _read_battery(self, _connection: Connection | None) -> bytes:
        return bytes((max(0, min(100, self.battery_pct)),))

    def _write_control_point(self, _connection: Connection | None, value: bytes) -> None:
        if bytes(value) == b"\x01":
            self.energy_kj = 0
            return
        raise att.ATT_Error(_CONTROL_POINT_NOT_SUPPORTED)

    role = "twin-hr"

    def _gatt_services(self) -> list[gatt.Service]:
        return self._services

    async def _started(self) -> None:
        self._spawn(self._notify_loop(), "notify")

    def _malformed(self, payload: bytes) -> bytes:
        kind = self._rng.randrange(3)
        if kind == 0:
            return payload[:1]  # truncated to the flags
        if kind == 1:
            return bytes((payload[0] | 0x10,)) + payload[1:] + b"\x07"  # odd RR bytes
        return bytes((payload[0] | 0x01,)) + payload[1:2]  # uint16 HR with one byte

    async def send_raw(self, payload: bytes) -> None:
        """Notify arbitrary bytes on the Heart Rate Measurement characteristic (fault injection)."""
        await self.notify(self._hrm, bytes(payload))

    async def _notify_loop(self) -> None:
        t0 = self._t0  # the simulator's time 0: when the twin started
        next_t = self.clock.now() + self.notify_interval_s
        last_hr = round(self.heart.hr_rest_bpm)
        n = 0
        while True:
            await asyncio.sleep(max(0.0, self.clock.real_delay_s(next_t - self.clock.now())))
            next_t += self.notify_interval_s
            rr = self.heart.beats_until(self.clock.now() - t0)
            ends = t0 + self.heart.t_last_beat - np.cumsum(rr[::-1])[::-1] + np.asarray(rr)
            self.energy_kj = min(0xFFFF, self.energy_kj + 1)
            if not self.connected or self.paused or not self.subscribed(self._hrm):
                self.beats_lost += len(rr)
                fate = (
                    "disconnected"
                    if not self.connected
                    else ("paused" if self.paused else "unsubscribed")
                )
                self.beats.extend(
                    BeatRecord(float(t), r, fate) for t, r in zip(ends, rr, strict=True)
                )
                continue
            if rr:
                last_hr = round(60.0 * len(rr) / sum(rr))
            i_beat = 0
            chunks = [
                rr[i : i + _MAX_RR_PER_NOTIFICATION]
                for i in range(0, len(rr), _MAX_RR_PER_NOTIFICATION)
            ] or [[]]
            if self.jitter_s > 0:
                await asyncio.sleep(self.clock.real_delay_s(self._rng.uniform(0, self.jitter_s)))
            scale = 1.0 + self.drift_ppm * 1e-6
            for chunk in chunks:
                n += 1
                energy = (
                    self.energy_kj if self.energy_every and n % self.energy_every == 0 else None
                )
                payload = encode_heart_rate_measurement(
                    last_hr,
                    rr_s=[r * scale for r in chunk],
                    energy_kj=energy,
                    contact=self.contact,
                )
                fate = "sent"
                if self.malformed_rate and self._rng.random() < self.malformed_rate:
                    payload = self._malformed(payload)
                    self.malformed_sent += 1
                    fate = "malformed"
                self.beats.extend(
                    BeatRecord(float(ends[i_beat + k]), r, fate) for k, r in enumerate(chunk)
                )
                i_beat += len(chunk)
                await self.notify(self._hrm, payload)
                self.notifications_sent += 1
