"""Virtual twin of a BITalino (r)evolution on Bluetooth LE: a bumble GATT peripheral.

It serves PLUX's data service (BT121 firmware) as a board does: the commands characteristic
accepts the firmware's one-byte commands (sampling rate, start with a channel mask, stop,
version, battery threshold, digital outputs; others are ignored as the firmware ignores them)
and the frames characteristic notifies the acquisition as a byte stream: one frame per sample,
built bit for bit as the firmware builds them
(:func:`~wearsdk.drivers.bitalino.protocol.encode_frame`),
with a 4-bit sequence number and CRC-4, cut into notifications at any byte.

The EDA input carries skin conductance from an :class:`~wearsdk.sim.EdaSimulator` following
the arousal script of the ``heart`` it is given, converted to ADC codes with the inverse of the
sensor's transfer function; the other inputs carry mid-scale noise. Samples are evenly spaced
at the sampling rate on the session clock; a fast (scaled) clock runs the twin fast.

Knobs for faults: ``bad_crc_probability`` (a frame sent with a wrong CRC nibble),
``lost_frame_probability`` (a frame generated but never sent: its sequence number is skipped),
``split_notifications`` (notifications of random sizes that cut frames anywhere, else whole
frames only), ``paused`` (connected but silent), :meth:`VirtualBITalino.drop_link` and
:meth:`VirtualBITalino.send_raw`. Every frame generated is kept in
:attr:`VirtualBITalino.sent` (the ground truth for tests).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from bumble import gatt
from bumble.device import Connection, Device

from wearsdk import ConfigError, SessionClock
from wearsdk.driverkit import VirtualPeripheral
from wearsdk.drivers.bitalino._protocol import (
    BITALINO_COMMANDS_UUID,
    BITALINO_FRAMES_UUID,
    BITALINO_SERVICE_UUID,
    SAMPLING_RATES_HZ,
    EdaSensor,
    channel_bits,
    eda_adc_code,
    encode_frame,
)
from wearsdk.sim import EdaSimulator, HeartSimulator

__all__ = ["SentBitalinoFrame", "VirtualBITalino"]

logger = logging.getLogger("wearsdk.drivers.bitalino.twin")

_VERSION = b"BITalino_v5.1\n"


@dataclass(frozen=True, slots=True)
class SentBitalinoFrame:
    """One frame the twin generated.

    Attributes:
        seq: its sequence number (0-15).
        analog: the ADC codes, in slot order.
        eda_usiemens: the simulated conductance the EDA code encodes (before quantisation).
        t: session time of the sample.
        payload: the frame's bytes as sent (corrupted ones with their wrong CRC).
        lost: generated but not sent (``lost_frame_probability``, or while ``paused``).
        bad_crc: sent with a wrong CRC.
    """

    seq: int
    analog: tuple[int, ...]
    eda_usiemens: float
    t: float
    payload: bytes
    lost: bool
    bad_crc: bool


class VirtualBITalino(VirtualPeripheral):
    """A virtual BITalino (r)evolution (BLE) on a bumble device.

    Use it as an async context manager: entering adds the GATT service and starts advertising
    (the service UUID too when the name is short enough to fit); leaving stops everything.

    Args:
        device: a powered-on bumble device (e.g. from ``VirtualLink.add_peripheral``).
        heart: its ``script`` drives the simulated arousal (the twin does not use the beats).
        clock: the session clock that paces the samples.
        name: advertised local name.
        seed: seed of the signals and of the fault knobs.
        eda_channel: the input the EDA sensor is on (1-6).
        eda_sensor: which EDA sensor the codes are made for (``revolution`` or ``legacy``).
        vcc_v: operating voltage used by the transfer function.
        eda: the conductance generator (default: an :class:`EdaSimulator` on the script).
        bad_crc_probability: probability that a frame is sent with a wrong CRC.
        lost_frame_probability: probability that a frame is generated but not sent.
        split_notifications: cut notifications at random sizes (anywhere inside frames);
            else each notification holds whole frames only.
        notify_interval_s: session seconds between bursts of notifications.
        max_notification_bytes: cap of a notification's size (default: ATT MTU - 3).
        history: how many generated frames :attr:`sent` keeps.

    Raises:
        ConfigError: a probability outside 0-1, a bad EDA input, or a non-positive interval.
    """

    def __init__(
        self,
        device: Device,
        heart: HeartSimulator,
        clock: SessionClock,
        *,
        name: str = "BITalino",
        seed: int = 0,
        eda_channel: int = 3,
        eda_sensor: EdaSensor = "revolution",
        vcc_v: float = 3.3,
        eda: EdaSimulator | None = None,
        bad_crc_probability: float = 0.0,
        lost_frame_probability: float = 0.0,
        split_notifications: bool = True,
        notify_interval_s: float = 0.05,
        max_notification_bytes: int | None = None,
        history: int = 20000,
    ) -> None:
        if not (0 <= bad_crc_probability <= 1 and 0 <= lost_frame_probability <= 1):
            raise ConfigError("fault probabilities must be within 0..1")
        if not 1 <= eda_channel <= 6:
            raise ConfigError(f"EDA input must be 1-6 (A1-A6), got {eda_channel}")
        if not notify_interval_s > 0:
            raise ConfigError("notify_interval_s must be > 0")
        super().__init__(device, clock, name=name, service_uuids=[BITALINO_SERVICE_UUID])
        self.eda_channel = eda_channel
        self.eda_sensor: EdaSensor = eda_sensor
        self.vcc_v = vcc_v
        self.eda = eda or EdaSimulator(heart.script, seed=seed)
        """The conductance generator."""
        self.bad_crc_probability = bad_crc_probability
        """Probability that a frame is sent with a wrong CRC (a knob)."""
        self.lost_frame_probability = lost_frame_probability
        """Probability that a frame is not sent (a knob)."""
        self.split_notifications = split_notifications
        """Cut notifications anywhere inside frames (a knob)."""
        self.paused = False
        """While ``True`` the board stays connected but sends nothing (a knob)."""
        self.notify_interval_s = notify_interval_s
        self.max_notification_bytes = max_notification_bytes
        self.sent: deque[SentBitalinoFrame] = deque(maxlen=history)
        """Frames generated, oldest first."""
        self.commands: deque[int] = deque(maxlen=256)
        """Command bytes received, oldest first."""
        self.notifications_sent = 0
        """Frame-stream notifications sent."""
        self.rate_hz = 1000  # the firmware's default
        self.acquiring: tuple[int, ...] = ()
        """The inputs being acquired (empty when idle)."""
        self.digital_outputs = (0, 0)
        self._rng = np.random.default_rng(seed + 17)
        self._acquisition: asyncio.Task[None] | None = None
        self._frames = gatt.Characteristic(
            BITALINO_FRAMES_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.Permissions(0),
            b"",
        )
        self._commands: gatt.Characteristic[bytes] = gatt.Characteristic(
            BITALINO_COMMANDS_UUID,
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_command),
        )
        self._service = gatt.Service(BITALINO_SERVICE_UUID, [self._commands, self._frames])

    # -- lifecycle ----------------------------------------------------------------------------

    role = "twin-bitalino"

    def _gatt_services(self) -> list[gatt.Service]:
        return [self._service]

    def _stopping(self) -> None:
        self._stop()

    def _link_closed(self, connection: Connection) -> None:
        self._stop()  # the link is gone: so is the acquisition

    async def send_raw(self, payload: bytes) -> None:
        """Notify arbitrary bytes on the frames characteristic (fault injection)."""
        await self.notify(self._frames, bytes(payload))

    # -- commands (the firmware's UART RX handler) ----------------------------------------------

    def _on_command(self, connection: Connection | None, value: bytes) -> None:
        for cmd in bytes(value):
            self.commands.append(cmd)
            self._command(connection, cmd)

    def _command(self, connection: Connection | None, cmd: int) -> None:
        if (cmd & 0xA3) == 0xA3 and cmd != 0xFF:  # BITalino 2 commands valid in any mode
            if (cmd & 0xF3) == 0xB3:
                self.digital_outputs = ((cmd >> 2) & 1, (cmd >> 3) & 1)
            return
        if self.acquiring:
            if cmd in (0x00, 0xFF):
                self._stop()
            elif cmd & 0x03 == 0x03:
                self.digital_outputs = ((cmd >> 2) & 1, (cmd >> 3) & 1)
            return
        kind = cmd & 0x03
        if kind in (1, 2):  # start live (or simulated) acquisition
            channels = tuple(i + 1 for i in range(6) if (cmd >> (2 + i)) & 1)
            if channels and connection is not None:
                self.acquiring = channels
                self._acquisition = self._spawn(self._acquire(connection, channels), "acquire")
        elif kind == 3:
            if cmd in (0x07, 0x0F) and connection is not None:
                self._spawn(self._notify(connection, _VERSION), "version")
            elif cmd >> 6 < len(SAMPLING_RATES_HZ) and cmd & 0x3C == 0:
                self.rate_hz = SAMPLING_RATES_HZ[cmd >> 6]
        # kind 0: battery threshold, nothing to simulate

    def _stop(self) -> None:
        self.acquiring = ()
        task, self._acquisition = self._acquisition, None
        if task is not None:
            task.cancel()

    async def _notify(self, connection: Connection, payload: bytes) -> None:
        try:
            await self.notify(self._frames, payload, connection=connection)
            self.notifications_sent += 1
        except Exception as exc:  # the link went away meanwhile
            logger.debug("notification not delivered: %r", exc)
            self._stop()

    # -- acquisition ------------------------------------------------------------------------------

    def _frame(
        self, seq: int, t: float, usiemens: float, channels: tuple[int, ...], *, silent: bool
    ) -> SentBitalinoFrame:
        codes: list[int] = []
        for slot, channel in enumerate(channels):
            if channel == self.eda_channel:
                code10 = int(
                    eda_adc_code(usiemens, bits=10, sensor=self.eda_sensor, vcc_v=self.vcc_v)
                )
            else:
                code10 = int(np.clip(round(512 + self._rng.normal(0.0, 6.0)), 0, 1023))
            codes.append(code10 if channel_bits(slot) == 10 else code10 >> 4)
        payload = encode_frame(seq, codes, (0, 0, *self.digital_outputs))
        lost = bool(self._rng.random() < self.lost_frame_probability) or silent
        bad = not lost and bool(self._rng.random() < self.bad_crc_probability)
        if bad:
            wrong = payload[-1] ^ int(self._rng.integers(1, 16))
            payload = payload[:-1] + bytes((wrong,))
        return SentBitalinoFrame(seq, tuple(codes), usiemens, t, payload, lost, bad)

    def _chunks(self, data: bytes, frame_len: int, limit: int) -> list[bytes]:
        if self.split_notifications:
            out: list[bytes] = []
            i = 0
            while i < len(data):
                size = int(self._rng.integers(1, limit + 1))
                out.append(data[i : i + size])
                i += size
            return out
        per = max(1, limit // frame_len)
        step = per * frame_len
        return [data[i : i + step] for i in range(0, len(data), step)]

    async def _acquire(self, connection: Connection, channels: tuple[int, ...]) -> None:
        rate = self.rate_hz
        frame_len = len(encode_frame(0, [0] * len(channels)))
        t_start = self.clock.now()
        k = 0
        try:
            while True:
                await asyncio.sleep(self.clock.real_delay_s(self.notify_interval_s))
                k_end = math.floor((self.clock.now() - t_start) * rate) + 1
                data = bytearray()
                times = t_start + np.arange(k, max(k, k_end), dtype=np.float64) / rate
                eda = self.eda.sample_usiemens(times - self._t0) if times.size else times
                silent = self.paused
                for i, t, g in zip(range(k, k_end), times.tolist(), eda.tolist(), strict=True):
                    frame = self._frame(i % 16, t, g, channels, silent=silent)
                    self.sent.append(frame)
                    if not frame.lost:
                        data += frame.payload
                k = max(k, k_end)
                if not data:
                    continue
                limit = connection.att_mtu - 3
                if self.max_notification_bytes is not None:
                    limit = min(limit, self.max_notification_bytes)
                for chunk in self._chunks(bytes(data), frame_len, max(1, limit)):
                    await self.notify(self._frames, chunk, connection=connection)
                    self.notifications_sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the link went away: the acquisition ends with it
            logger.debug("BITalino acquisition ended: %r", exc)
            if self._acquisition is asyncio.current_task():
                self.acquiring = ()
                self._acquisition = None
