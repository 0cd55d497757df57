"""Driver for the BITalino (r)evolution over Bluetooth LE (BT121 firmware): EDA in µS."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from bleak import BleakClient
from bleak.exc import BleakError

from wearsdk import (
    ConfigError,
    DeviceClockMap,
    Gap,
    SampleBlock,
    SourceContext,
)
from wearsdk.driverkit import BleSource, Notifications
from wearsdk.drivers.bitalino._protocol import (
    BITALINO_COMMANDS_UUID,
    BITALINO_FRAMES_UUID,
    BITALINO_SERVICE_UUID,
    STOP_COMMAND,
    BitalinoFrames,
    EdaSensor,
    FrameReassembler,
    channel_bits,
    eda_usiemens,
    sampling_rate_command,
    start_command,
)
from wearsdk.io.ble import BleTransport

__all__ = ["BITalino"]

logger = logging.getLogger("wearsdk.drivers.bitalino")

_IDLE_COMMAND = 0xFF  # "stop" that a BITalino 2 accepts in any mode (ignored when idle)
_SEQ_MODULO = 16
_WRAP_MIN_LAG_S = 0.1  # lag behind the arrivals that BLE latency alone cannot explain
# a notification that looks like the counter wrapped is held this long (session seconds of
# arrivals) before the wrap is believed: a late delivery (a stalled host) catches up within it,
# lost frames do not
_WRAP_HOLD_S = 0.5


class BITalino(BleSource):
    """A BITalino (r)evolution board over Bluetooth LE, with its EDA sensor converted to µS.

    Publishes :class:`~wearsdk.SampleBlock` on ``physio/<id>/eda`` (unit ``uS``, channel
    ``eda``) from the analog input the EDA sensor is on, and, with ``publish_raw``, every
    acquired input on ``physio/<id>/analog`` (unit ``adc``, channels ``a1``...``a6``: raw ADC
    codes, 10-bit for the first four acquired inputs, 6-bit beyond). Frames are reassembled
    from the notification byte stream
    (:class:`~wearsdk.drivers.bitalino.protocol.FrameReassembler`):
    frames with a bad CRC are dropped and counted (:attr:`crc_errors`), a jump in sequence
    numbers gives a :class:`~wearsdk.Gap` with the number of frames lost (exact up to 15;
    beyond, the 4-bit counter wraps and the count is completed from arrival times: a
    notification that arrives too late for its sequence number is held up to 0.5 s, and the
    wrap is believed only if no later notification shows the lateness was delivery delay), and
    a reconnection gives a ``disconnect`` gap. Sample times come from the sample count (the
    board's crystal) mapped onto the session clock by a :class:`~wearsdk.DeviceClockMap`,
    never from notification arrivals. It reconnects by itself with capped, jittered backoff
    and restarts the acquisition; it stops the acquisition on the way out.

    Args:
        transport: the BLE transport.
        address: device address.
        name: advertised name (``BITalino``...); without address and name, the first device
            advertising the BITalino service is used.
        source_id: explicit source id; default: a keyed pseudonym of the address/name.
        rate_hz: sampling rate, 1, 10, 100 or 1000 Hz.
        channels: analog inputs to acquire, 1-6 for A1-A6.
        eda_channel: the input the EDA sensor is on (A3 on the (r)evolution board kit), or
            ``None`` to publish no ``eda`` stream.
        eda_sensor: ``"revolution"`` (the (r)evolution EDA sensor, 0-25 µS) or ``"legacy"``
            (the older sensor); their transfer functions differ.
        vcc_v: the board's operating voltage (3.3 V).
        publish_raw: also publish the raw codes of every input on ``analog``.
        connect_timeout_s: timeout of each discovery and connection attempt.
        reconnect: reconnect after a lost link (else the driver ends with the link).
        max_attempts: give up (raise) after this many failed attempts in a row; 0 = never.
        backoff_max_s: cap of the reconnection backoff.
        queue_size: bound of the notification queue between the BLE callback and the driver.
        stale_after_s: drop and reconnect when no notification arrived for this long.

    Raises:
        ConfigError: an unsupported rate, channels outside 1-6, or an EDA input not acquired.
    """

    discovery_service_uuid = BITALINO_SERVICE_UUID

    def __init__(
        self,
        transport: BleTransport,
        *,
        address: str | None = None,
        name: str | None = None,
        source_id: str | None = None,
        rate_hz: int = 100,
        channels: Sequence[int] = (1, 2, 3, 4, 5, 6),
        eda_channel: int | None = 3,
        eda_sensor: EdaSensor = "revolution",
        vcc_v: float = 3.3,
        publish_raw: bool = True,
        connect_timeout_s: float = 10.0,
        reconnect: bool = True,
        max_attempts: int = 0,
        backoff_max_s: float = 2.0,
        queue_size: int = 512,
        stale_after_s: float = 5.0,
    ) -> None:
        sampling_rate_command(rate_hz)  # validates
        self._start_command = start_command(channels)  # validates
        self.channels: tuple[int, ...] = tuple(sorted(set(channels)))
        if eda_channel is not None and eda_channel not in self.channels:
            raise ConfigError(f"EDA input A{eda_channel} is not among the acquired {self.channels}")
        if eda_sensor not in ("revolution", "legacy"):
            raise ConfigError(f"unknown EDA sensor {eda_sensor!r} (revolution or legacy)")
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
        self.rate_hz = rate_hz
        self.eda_channel = eda_channel
        self.eda_sensor: EdaSensor = eda_sensor
        self.vcc_v = vcc_v
        self.publish_raw = publish_raw
        self.reassembler = FrameReassembler(len(self.channels))
        """Rebuilds frames from the notification bytes (its counters add up across links)."""
        self.frames = 0
        """Frames decoded and published."""
        self.frames_lost = 0
        """Frames known missing from sequence numbers (bad CRC ones included)."""
        self.clock_map = DeviceClockMap()
        """Maps the sample count onto the session clock (a new map per connection)."""
        self._last_seq: int | None = None
        self._last_index = -1
        self._last_t: float | None = None
        self._gap_start: float | None = None
        self._held: list[tuple[float, BitalinoFrames]] = []

    # -- identity ---------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """Pseudonym prefix: ``bitalino``."""
        return "bitalino"

    def _clock_models(self) -> dict[str, DeviceClockMap]:
        return {"samples": self.clock_map}

    @property
    def crc_errors(self) -> int:
        """Frames dropped because their CRC did not match."""
        return self.reassembler.crc_errors

    @property
    def resyncs(self) -> int:
        """Times the byte stream fell out of step and was searched again."""
        return self.reassembler.resyncs

    @property
    def eda_bits(self) -> int | None:
        """Resolution of the EDA input in the frames (10 bits, or 6 beyond the 4th input)."""
        if self.eda_channel is None:
            return None
        return channel_bits(self.channels.index(self.eda_channel))

    # -- connection loop --------------------------------------------------------------------

    async def _setup(
        self,
        client: BleakClient,
        ctx: SourceContext,
        notes: Notifications,
        stack: contextlib.AsyncExitStack,
    ) -> dict[str, Any] | None:
        await client.start_notify(BITALINO_FRAMES_UUID, notes.callback("frames"))
        await self._command(client, _IDLE_COMMAND)  # in case it still acquires
        await self._command(client, sampling_rate_command(self.rate_hz))
        notes.clear()
        self._reset_stream()
        await self._command(client, self._start_command)
        stack.push_async_callback(self._stop, client)
        stack.callback(self._release_held, ctx, final=True)
        return None

    def _handle_notification(
        self, ctx: SourceContext, kind: str, arrival: float, payload: bytes
    ) -> None:
        self._handle(ctx, arrival, payload)

    async def _command(self, client: BleakClient, command: int) -> None:
        char = client.services.get_characteristic(BITALINO_COMMANDS_UUID)
        response = char is None or "write" in char.properties
        await client.write_gatt_char(BITALINO_COMMANDS_UUID, bytes((command,)), response=response)

    async def _stop(self, client: BleakClient) -> None:
        if client.is_connected:
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                await self._command(client, STOP_COMMAND)

    # -- decoding ---------------------------------------------------------------------------

    def _reset_stream(self) -> None:
        """A new acquisition starts (sequence numbers restart at 0)."""
        if self._last_t is not None:
            self._gap_start = self._last_t
        self.reassembler.reset()
        self.clock_map = DeviceClockMap()
        self._last_seq = None
        self._last_index = -1
        self._last_t = None

    def _steps(self, seq: npt.NDArray[np.int64], last_seq: int | None) -> npt.NDArray[np.int64]:
        """Frames from one to the next, wraps of the 4-bit counter not counted."""
        prev = np.concatenate(([last_seq if last_seq is not None else -1], seq[:-1]))
        steps = (seq - prev) % _SEQ_MODULO
        steps[steps == 0] = _SEQ_MODULO  # a repeated number is a full wrap
        if last_seq is None:
            steps[0] = 1
        return steps

    def _lag(self, arrival: float, last_index: int) -> float:
        """Frames by which ``last_index`` trails what the arrival time implies."""
        return (arrival - self.clock_map.offset_s) * self.rate_hz - last_index

    def _looks_wrapped(self, lag: float) -> bool:
        return lag >= _SEQ_MODULO / 2 and lag / self.rate_hz > _WRAP_MIN_LAG_S

    def _held_wraps(self, *, final: bool) -> int | None:
        """Wraps of the counter before the first held notification, or ``None``: hold on.

        The lag of every held notification behind its arrival is computed as if no wrap
        happened. Delivery delay only adds to it, so its minimum is what frames lost explain:
        once a notification has arrived on time, the lateness was delay (no wrap).
        """
        last_seq, index, lags = self._last_seq, self._last_index, []
        for arrival, frames in self._held:
            index += int(self._steps(frames.seq, last_seq).sum())
            last_seq = int(frames.seq[-1])
            lags.append(self._lag(arrival, index))
        lag = min(lags)
        if not self._looks_wrapped(lag):
            return 0
        if not final and self._held[-1][0] - self._held[0][0] < _WRAP_HOLD_S:
            return None
        return _SEQ_MODULO * math.floor((lag + _SEQ_MODULO / 2) / _SEQ_MODULO)

    def _release_held(self, ctx: SourceContext, *, final: bool = False) -> None:
        """Publish the held notifications whose wraps are decided, in order."""
        while self._held:
            arrival, frames = self._held[0]
            steps = self._steps(frames.seq, self._last_seq)
            wraps = 0
            if self._last_seq is not None and self.clock_map.ready:
                # the smallest lag among the held ones: not late when the first one is not
                decided = self._held_wraps(final=final)
                if decided is None:
                    return
                wraps = decided
            del self._held[0]
            steps[0] += wraps
            self._publish(ctx, arrival, frames, self._last_index + np.cumsum(steps))

    def _handle(self, ctx: SourceContext, arrival: float, payload: bytes) -> None:
        crc_before, resync_before = self.reassembler.crc_errors, self.reassembler.resyncs
        frames = self.reassembler.feed(payload)
        if self.reassembler.crc_errors > crc_before and crc_before == 0:
            logger.warning("%s: BITalino frame with a bad CRC dropped", ctx.source_id)
        if self.reassembler.resyncs > resync_before:
            logger.info("%s: BITalino byte stream resynchronised", ctx.source_id)
        if len(frames) == 0:
            return
        self._held.append((arrival, frames))
        self._release_held(ctx)

    def _publish(
        self,
        ctx: SourceContext,
        arrival: float,
        frames: BitalinoFrames,
        index: npt.NDArray[np.int64],
    ) -> None:
        n = len(frames)
        device_t = index.astype(np.float64) / self.rate_hz
        if self.clock_map.observe(float(device_t[-1]), arrival):
            logger.info("%s: BITalino sample clock re-anchored", ctx.source_id)
        t = self.clock_map.map(device_t, stream="bitalino")
        streams = (["eda"] if self.eda_channel is not None else []) + (
            ["analog"] if self.publish_raw else []
        )
        missing = np.diff(np.concatenate(([self._last_index], index))) - 1
        gap_start, self._gap_start = self._gap_start, None
        if gap_start is not None and float(t[0]) > gap_start:
            n_missing = max(0, round((float(t[0]) - gap_start) * self.rate_hz) - 1)
            for stream in streams:
                self._gap(ctx, stream, arrival, gap_start, float(t[0]), n_missing, "disconnect")
        for k in np.flatnonzero(missing > 0).tolist():
            if k > 0:
                start = float(t[k - 1])
            elif self._last_t is not None:
                start = self._last_t
            else:
                continue  # nothing before it in this acquisition
            self.frames_lost += int(missing[k])
            for stream in streams:
                self._gap(ctx, stream, arrival, start, float(t[k]), int(missing[k]), "sequence")
        self._last_seq = int(frames.seq[-1])
        self._last_index = int(index[-1])
        self._last_t = float(t[-1])
        self.frames += n
        if self.eda_channel is not None:
            slot = self.channels.index(self.eda_channel)
            eda = eda_usiemens(
                frames.analog[:, slot],
                bits=channel_bits(slot),
                sensor=self.eda_sensor,
                vcc_v=self.vcc_v,
            )
            ctx.publish_block(
                SampleBlock(
                    source=ctx.source_id,
                    stream="eda",
                    unit="uS",
                    t=t,
                    values=eda[:, None],
                    channels=("eda",),
                    nominal_rate_hz=float(self.rate_hz),
                )
            )
        if self.publish_raw:
            ctx.publish_block(
                SampleBlock(
                    source=ctx.source_id,
                    stream="analog",
                    unit="adc",
                    t=t,
                    values=frames.analog.astype(np.float64),
                    channels=tuple(f"a{c}" for c in self.channels),
                    nominal_rate_hz=float(self.rate_hz),
                )
            )

    def _gap(
        self,
        ctx: SourceContext,
        stream: str,
        arrival: float,
        start: float,
        end: float,
        n_missing: int,
        reason: str,
    ) -> None:
        ctx.publish_event(
            stream,
            Gap(
                t=arrival,
                source=ctx.source_id,
                stream=stream,
                start=start,
                end=end,
                n_missing=n_missing,
                reason=reason,
            ),
        )
