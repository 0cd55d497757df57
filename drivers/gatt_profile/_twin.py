"""Virtual twin of any GATT-profile sensor, with skin conductance from an EDA simulator.

A bumble peripheral that streams what the profile describes; the values come from an
:class:`~wearsdk.sim.EdaSimulator`.

It serves the profile's service: the data characteristic notifies, the control characteristic
(when the profile has one) accepts writes; a write equal to one of the profile's start writes
starts the stream (the counter restarts at 0), one equal to a stop write stops it. A profile
without start writes streams from the moment the twin starts. Each notification carries
``samples_per_notification`` samples at the nominal rate, paced on the session clock, encoded
with the profile's layout (:meth:`GattProfile.encode`); the values are the simulated
conductance converted to raw readings with the inverse of the profile's conversion, rounded
and clipped to the ADC's range.

Knobs: ``drop_probability`` (a notification generated but not sent: the counter skips it),
``malformed_probability`` (sent one byte short or one byte long), ``paused`` (connected but
silent) and :meth:`VirtualGattProfileDevice.drop_link`. Every notification generated is kept
in :attr:`VirtualGattProfileDevice.sent`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from bumble import gatt
from bumble.device import Connection, Device

from wearsdk import ConfigError, SessionClock
from wearsdk.driverkit import VirtualPeripheral
from wearsdk.drivers.gatt_profile._profile import GattProfile, load_profile
from wearsdk.sim import EdaSimulator, HeartSimulator

__all__ = ["SentNotification", "VirtualGattProfileDevice"]

logger = logging.getLogger("wearsdk.drivers.gatt_profile.twin")

_INT_RANGES = {
    "b": (-(1 << 7), (1 << 7) - 1),
    "B": (0, (1 << 8) - 1),
    "h": (-(1 << 15), (1 << 15) - 1),
    "H": (0, (1 << 16) - 1),
    "i": (-(1 << 31), (1 << 31) - 1),
    "I": (0, (1 << 32) - 1),
    "l": (-(1 << 31), (1 << 31) - 1),
    "L": (0, (1 << 32) - 1),
    "q": (-(1 << 63), (1 << 63) - 1),
    "Q": (0, (1 << 64) - 1),
}


@dataclass(frozen=True, slots=True, eq=False)
class SentNotification:
    """One notification the twin generated.

    Attributes:
        counter: the counter it carries (``None`` without a counter in the layout).
        raw: the raw readings encoded, shape ``(samples, channels)``.
        usiemens: the simulated values before conversion to raw readings, one per sample.
        t: session time of each sample.
        payload: the bytes notified (or that would have been, if ``dropped``).
        dropped: generated but not sent.
        malformed: sent with a wrong length.
    """

    counter: int | None
    raw: npt.NDArray[np.float64]
    usiemens: npt.NDArray[np.float64]
    t: npt.NDArray[np.float64]
    payload: bytes
    dropped: bool
    malformed: bool


class VirtualGattProfileDevice(VirtualPeripheral):
    """A virtual sensor that follows a :class:`~wearsdk.drivers.gatt_profile.GattProfile`.

    Use it as an async context manager: entering adds the GATT service, starts advertising
    (with the service UUID when it fits next to the name) and the sample clock; leaving stops
    everything.

    Args:
        device: a powered-on bumble device (e.g. from ``VirtualLink.add_peripheral``).
        heart: its ``script`` drives the simulated arousal.
        clock: the session clock that paces the notifications.
        name: advertised local name (default: the profile's ``advertised_name``).
        profile: the profile (or a shipped profile's name, or a path).
        seed: seed of the signal and of the fault knobs.
        eda: the conductance generator (default: an :class:`EdaSimulator` on the script).
        samples_per_notification: when the profile does not fix it (default: half a second).
        drop_probability: probability that a notification is not sent.
        malformed_probability: probability that a notification is sent with a wrong length.
        history: how many generated notifications :attr:`sent` keeps.

    Raises:
        ConfigError: a probability outside 0-1, or a profile that cannot be loaded.
    """

    def __init__(
        self,
        device: Device,
        heart: HeartSimulator,
        clock: SessionClock,
        *,
        name: str | None = None,
        profile: GattProfile | str | Path = "nus-grove-gsr",
        seed: int = 0,
        eda: EdaSimulator | None = None,
        samples_per_notification: int | None = None,
        drop_probability: float = 0.0,
        malformed_probability: float = 0.0,
        history: int = 4096,
    ) -> None:
        if not (0 <= drop_probability <= 1 and 0 <= malformed_probability <= 1):
            raise ConfigError("drop and malformed probabilities must be within 0..1")
        self.profile = load_profile(profile)
        spec = self.profile.payload
        self.samples_per_notification = (
            spec.samples_per_notification
            or samples_per_notification
            or max(1, round(self.profile.nominal_rate_hz / 2))
        )
        super().__init__(
            device,
            clock,
            name=name or self.profile.advertised_name or self.profile.name,
            service_uuids=[self.profile.service_uuid],
        )
        self.eda = eda or EdaSimulator(heart.script, seed=seed)
        """The conductance generator."""
        self.drop_probability = drop_probability
        """Probability that a notification is not sent (a knob)."""
        self.malformed_probability = malformed_probability
        """Probability that a notification is sent with a wrong length (a knob)."""
        self.paused = False
        """While ``True`` the sensor stays connected but sends nothing (a knob)."""
        self.sent: deque[SentNotification] = deque(maxlen=history)
        """Notifications generated, oldest first."""
        self.writes: deque[bytes] = deque(maxlen=256)
        """Writes received on the control characteristic, oldest first."""
        self.notifications_sent = 0
        """Notifications actually sent."""
        self.streaming = not self.profile.start_writes
        """Whether the stream is started."""
        self._rng = np.random.default_rng(seed + 29)
        self._restart = True
        self._data = gatt.Characteristic(
            self.profile.data_uuid,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.Permissions(0),
            b"",
        )
        chars = [self._data]
        if self.profile.control_uuid is not None:
            chars.append(
                gatt.Characteristic(
                    self.profile.control_uuid,
                    gatt.Characteristic.Properties.WRITE
                    | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
                    gatt.Characteristic.WRITEABLE,
                    gatt.CharacteristicValue(write=self._on_write),
                )
            )
        self._service = gatt.Service(self.profile.service_uuid, chars)
        self._starts = {w.data for w in self.profile.start_writes}
        self._stops = {w.data for w in self.profile.stop_writes}
        lo, hi = -math.inf, math.inf
        if self.profile.conversion.adc_bits is not None:
            lo, hi = 0.0, float((1 << self.profile.conversion.adc_bits) - 1)
        codes = {c for c in spec.sample_format if not c.isdigit()}
        if codes <= set(_INT_RANGES):
            lo = max(lo, max(_INT_RANGES[c][0] for c in codes))
            hi = min(hi, min(_INT_RANGES[c][1] for c in codes))
        self._integer = codes <= set(_INT_RANGES)
        self._raw_range = (lo, hi)

    role = "twin-gatt"

    def _gatt_services(self) -> list[gatt.Service]:
        return [self._service]

    async def _started(self) -> None:
        self._spawn(self._stream(), "stream")

    def _link_closed(self, connection: Connection) -> None:
        if self.profile.start_writes:
            self.streaming = False  # a new central starts it again

    def _on_write(self, _connection: Connection | None, value: bytes) -> None:
        data = bytes(value)
        self.writes.append(data)
        if data in self._starts:
            self.streaming = True
            self._restart = True
        elif data in self._stops:
            self.streaming = False

    async def send_raw(self, payload: bytes) -> None:
        """Notify arbitrary bytes on the data characteristic (fault injection)."""
        await self.notify(self._data, bytes(payload))

    def _raw(self, usiemens: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raw = self.profile.conversion.inverse(usiemens)
        if self._integer:
            raw = np.rint(raw)
        lo, hi = self._raw_range
        column = np.clip(raw, lo, hi)
        return np.repeat(column[:, None], self.profile.payload.n_fields, axis=1)

    def _malform(self, payload: bytes) -> bytes:
        if len(payload) > 1 and self._rng.random() < 0.5:
            return payload[:-1]
        return payload + b"\x00"

    async def _stream(self) -> None:
        rate = self.profile.nominal_rate_hz
        per = self.samples_per_notification
        counter_spec = self.profile.payload.counter
        k = 0
        notes = 0
        t_start = self.clock.now()
        while True:
            if self._restart:
                self._restart = False
                t_start = self.clock.now()
                k = notes = 0
            t_last = t_start + (k + per - 1) / rate
            await asyncio.sleep(max(0.0, self.clock.real_delay_s(t_last - self.clock.now())))
            if self._restart:
                continue
            t = t_start + np.arange(k, k + per, dtype=np.float64) / rate
            usiemens = self.eda.sample_usiemens(t - self._t0)
            raw = self._raw(usiemens)
            counter: int | None = None
            if counter_spec is not None:
                counter = k if counter_spec.unit == "samples" else notes
            k += per
            notes += 1
            if not (self.streaming and self.connected) or self.paused:
                continue
            payload = self.profile.encode(raw, counter=counter)
            dropped = bool(self._rng.random() < self.drop_probability)
            malformed = not dropped and bool(self._rng.random() < self.malformed_probability)
            sent_payload = self._malform(payload) if malformed else payload
            self.sent.append(
                SentNotification(counter, raw, usiemens, t, sent_payload, dropped, malformed)
            )
            if dropped:
                continue
            try:
                await self.notify(self._data, sent_payload)
                self.notifications_sent += 1
            except Exception as exc:  # the link went away meanwhile
                logger.debug("notification not delivered: %r", exc)
