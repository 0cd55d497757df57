"""Virtual twin of a Polar H10 chest strap: a bumble GATT peripheral with HR, battery and PMD.

It serves, as an H10 does:

- the Heart Rate Service (0x180D: measurement, body sensor location) and the Battery Service
  (0x180F), notifying once per ``hr_interval_s`` with the RR intervals of the beats since the
  previous notification;
- the Polar Measurement Data service: the control point answers a read with the features
  (ECG and ACC), and each written request with an indication ``F0 <op> <type> <status> ...``:
  settings, start and stop, with the statuses an H10 uses for bad requests (unknown op code
  or type, bad length, unsupported rate, resolution or range, already started or stopped,
  in charger) and ``INVALID_MTU`` when the ATT MTU is below 232, too small for a 229-byte
  ECG frame (an H10 never truncates or splits a frame);
- ECG at 130 Hz, 73 samples per frame (frame type 0, int24 µV), and ACC at 25-200 Hz, either
  raw int16 mG (frame type 1, 36 samples per frame, as H10 captures show) or delta-compressed
  (frame type 1 | 0x80, with a factor setting in the start response).

The signals are simulated from one beat train (a :class:`~wearsdk.sim.HeartSimulator`), so
the R peaks of the ECG fall on the beats whose RR intervals the HR service reports: the ECG
is a PQRST template (a sum of Gaussians) at every beat plus respiration wander and noise, the
ACC gravity plus breathing, a small ballistocardiographic bump per beat and noise.

Frame timestamps come from a simulated sensor clock (ns since 2000-01-01) that starts at
``clock_origin_ns`` (default: 2019-01-01, where an H10's clock restarts after losing power)
and runs ``clock_drift_ppm`` fast; samples are evenly spaced on that clock. Pacing follows the
session clock, so a fast (scaled) clock runs the twin fast. Every frame generated is kept in
:attr:`VirtualPolarH10.sent` (with the exact integer samples), including the ones the
``drop_probability`` and ``malformed_probability`` knobs dropped or corrupted.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque

import numpy as np
import numpy.typing as npt
from bumble import att, gatt
from bumble.device import Connection, Device

from wearsdk import ConfigError, ProtocolError, SessionClock
from wearsdk.driverkit import VirtualPeripheral
from wearsdk.drivers.heart_rate.protocol import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    encode_heart_rate_measurement,
)
from wearsdk.drivers.polar._twin_parts import (
    _ACC,
    _AVAILABLE,
    _CHANNEL_COUNT,
    _CHANNELS,
    _ECG,
    _MAX_ACC_MG,
    _MAX_RR_PER_NOTIFICATION,
    _RANGE,
    _REJECTION,
    _SR,
    ACC_COMPRESSED_FRAME_SAMPLES,
    ACC_RAW_FRAME_SAMPLES,
    ECG_FRAME_SAMPLES,
    SentFrame,
    _BeatTrain,
    _encode_frames,
    _h10_services,
    _Reply,
    _Stream,
)
from wearsdk.drivers.polar.protocol import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_MIN_MTU,
    POLAR_POWER_LOSS_EPOCH_NS,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettingType,
    PmdStatus,
    encode_control_point_response,
    encode_features,
    encode_settings,
    parse_settings,
)
from wearsdk.sim import HeartSimulator

__all__ = ["SentFrame", "VirtualPolarH10"]

logger = logging.getLogger("wearsdk.drivers.polar.twin")


class VirtualPolarH10(VirtualPeripheral):
    """A virtual Polar H10 on a bumble device.

    Use it as an async context manager: entering adds the GATT services, starts advertising
    and the HR notifications; leaving stops everything. Knobs (``contact``, ``battery_pct``,
    ``in_charger``, ``drop_probability``, ``malformed_probability``, ``jitter_s``) can be
    changed while it runs.

    Args:
        device: a powered-on bumble device (e.g. from ``VirtualLink.add_peripheral``).
        heart: the beat generator (drives HR, RR, ECG and the ACC heartbeat bump).
        clock: the session clock that paces notifications.
        name: advertised local name.
        seed: seed of the signal noise and of the knobs' random draws.
        clock_origin_ns: sensor time when the twin starts, ns since 2000-01-01.
        clock_drift_ppm: how fast the sensor clock runs relative to the session clock.
        acc_compressed: send delta-compressed ACC frames instead of raw int16 ones.
        acc_factor: factor announced in the start response of compressed ACC (the frames
            carry ``round(mG / factor)``).
        drop_probability: probability that a data frame is generated but not sent.
        malformed_probability: probability that a data frame is sent truncated.
        reorder_probability: probability that a data frame is held back and sent after the
            next one (swapped with it).
        jitter_s: each data notification is delayed by up to this many session seconds.
        hr_interval_s: session seconds between Heart Rate Measurement notifications.
        battery_pct: battery level served.
        contact: skin contact reported by the HR service.
        in_charger: refuse to start measurements with ``DEVICE_IN_CHARGER``.
        offers_acc: offer ACC; ``False`` is a sensor without it (features ECG only, an ACC
            start refused with ``NOT_SUPPORTED``).
        ecg_noise_uv: standard deviation of the ECG noise.
        history: how many generated frames :attr:`sent` keeps.

    Raises:
        ConfigError: a probability outside 0-1, a negative jitter, a non-positive HR
            interval, or an ``acc_factor`` too small for int16 samples at 8 G.
    """

    def __init__(
        self,
        device: Device,
        heart: HeartSimulator,
        clock: SessionClock,
        *,
        name: str = "Polar H10 0A1B2C3D",
        seed: int = 0,
        clock_origin_ns: int = POLAR_POWER_LOSS_EPOCH_NS,
        clock_drift_ppm: float = 0.0,
        acc_compressed: bool = False,
        acc_factor: float = 1.0,
        drop_probability: float = 0.0,
        malformed_probability: float = 0.0,
        reorder_probability: float = 0.0,
        jitter_s: float = 0.0,
        hr_interval_s: float = 1.0,
        battery_pct: int = 87,
        contact: bool | None = True,
        in_charger: bool = False,
        offers_acc: bool = True,
        ecg_noise_uv: float = 8.0,
        history: int = 4096,
    ) -> None:
        if not all(
            0.0 <= p <= 1.0 for p in (drop_probability, malformed_probability, reorder_probability)
        ):
            raise ConfigError("drop, malformed and reorder probabilities must be within 0..1")
        if jitter_s < 0 or not hr_interval_s > 0:
            raise ConfigError("jitter_s must be >= 0 and hr_interval_s > 0")
        if not acc_factor >= _MAX_ACC_MG / 0x7FFF:
            raise ConfigError(f"acc_factor must be >= {_MAX_ACC_MG / 0x7FFF:.4f} (int16 samples)")
        super().__init__(device, clock, name=name, service_uuids=[HEART_RATE_SERVICE_UUID])
        self.clock_origin_ns = clock_origin_ns
        self.clock_drift_ppm = clock_drift_ppm
        self.acc_compressed = acc_compressed
        self.acc_factor = acc_factor
        self.drop_probability = drop_probability
        """Probability that a data frame is not sent (a knob)."""
        self.malformed_probability = malformed_probability
        """Probability that a data frame is sent truncated (a knob)."""
        self.reorder_probability = reorder_probability
        """Probability that a data frame is swapped with the next one (a knob)."""
        self.jitter_s = jitter_s
        """Maximum extra delay of a data notification, session seconds (a knob)."""
        self.hr_interval_s = hr_interval_s
        self.battery_pct = battery_pct
        """Battery level served (a knob)."""
        self.contact: bool | None = contact
        """Skin contact reported by the HR service (a knob)."""
        self.in_charger = in_charger
        """Refuse to start measurements, as an H10 on its charger does (a knob)."""
        self.offers_acc = offers_acc
        """Offer ACC in the features and accept starting it (a knob)."""
        self.ecg_noise_uv = ecg_noise_uv
        self.sent: deque[SentFrame] = deque(maxlen=history)
        """Frames generated, oldest first (bounded by ``history``)."""
        self.requests: deque[bytes] = deque(maxlen=256)
        """Control point writes received, oldest first."""
        self.responses: deque[bytes] = deque(maxlen=256)
        """Control point responses sent, oldest first."""
        self.hr_notifications = 0
        """Heart Rate Measurement notifications sent."""
        self._beats = _BeatTrain(heart)
        self._noise = np.random.default_rng(seed)
        self._knobs = np.random.default_rng(seed + 1)
        self._streams: dict[PmdMeasurementType, _Stream] = {}
        self._sensor_t0: float | None = None
        self.clock_resets = 0
        """Times the sensor clock was reset (:meth:`reset_clock`)."""
        self._hrm = gatt.Characteristic(
            HEART_RATE_MEASUREMENT_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.Permissions(0),
            b"",
        )
        self._control_point: gatt.Characteristic[bytes] = gatt.Characteristic(
            PMD_CONTROL_POINT_UUID,
            gatt.Characteristic.Properties.READ
            | gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.INDICATE,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=self._read_features, write=self._write_control_point),
        )
        self._data = gatt.Characteristic(
            PMD_DATA_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.Permissions(0),
            b"",
        )
        self._services = _h10_services(
            self._hrm, self._control_point, self._data, self._read_battery
        )

    # -- clocks ---------------------------------------------------------------------------

    def sensor_time_ns(self, t: float | None = None) -> int:
        """The sensor clock (ns since 2000-01-01) at session time ``t`` (default: now)."""
        t = self.clock.now() if t is None else t
        rate = 1 + self.clock_drift_ppm * 1e-6
        t0 = self._t0 if self._sensor_t0 is None else self._sensor_t0
        return self.clock_origin_ns + round((t - t0) * rate * 1e9)

    def reset_clock(self, origin_ns: int = POLAR_POWER_LOSS_EPOCH_NS) -> None:
        """Restart the sensor clock at ``origin_ns`` now, as an H10 does after losing power.

        Streams started afterwards are stamped on the new clock (a real H10 also drops its
        link when it loses power: use it with :meth:`drop_link`).
        """
        self.clock_origin_ns = origin_ns
        self._sensor_t0 = self.clock.now()
        self.clock_resets += 1

    @property
    def streaming(self) -> frozenset[PmdMeasurementType]:
        """The measurements currently streaming."""
        return frozenset(self._streams)

    # -- lifecycle ------------------------------------------------------------------------

    role = "twin-h10"

    def _gatt_services(self) -> list[gatt.Service]:
        return self._services

    async def _started(self) -> None:
        self._spawn(self._hr_loop(), "hr")

    def _stopping(self) -> None:
        for kind in list(self._streams):
            self._stop_stream(kind)

    def _link_closed(self, connection: Connection) -> None:
        # an H10 stops its PMD streams when the link goes
        for kind, stream in list(self._streams.items()):
            if stream.connection is connection:
                self._stop_stream(kind)

    # -- GATT callbacks -------------------------------------------------------------------

    def _read_battery(self, _connection: Connection | None) -> bytes:
        return bytes((max(0, min(100, self.battery_pct)),))

    def _read_features(self, _connection: Connection | None) -> bytes:
        return encode_features([_ECG, _ACC] if self.offers_acc else [_ECG])

    def _write_control_point(self, connection: Connection | None, value: bytes) -> None:
        request = bytes(value)
        self.requests.append(request)
        if not request:
            raise att.ATT_Error(att.ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        response = self._handle(connection, request)
        self.responses.append(response)
        if connection is not None:
            self._spawn(self._indicate(connection, response), "respond")

    async def _indicate(self, connection: Connection, response: bytes) -> None:
        try:
            await self.device.indicate_subscriber(connection, self._control_point, response)
        except Exception as exc:  # the link went away meanwhile
            logger.debug("control point response not delivered: %r", exc)

    def _handle(self, connection: Connection | None, request: bytes) -> bytes:
        op = request[0]
        type_byte = request[1] if len(request) > 1 else 0

        def reply(status: PmdStatus, params: bytes = b"") -> bytes:
            return encode_control_point_response(op, type_byte, status, params)

        if op not in (
            PmdOpCode.GET_MEASUREMENT_SETTINGS,
            PmdOpCode.REQUEST_MEASUREMENT_START,
            PmdOpCode.STOP_MEASUREMENT,
        ):
            return reply(PmdStatus.INVALID_OP_CODE)
        if len(request) < 2:
            return reply(PmdStatus.INVALID_LENGTH)
        if type_byte & 0x80:  # offline recording: an H10 has none
            return reply(PmdStatus.NOT_SUPPORTED)
        try:
            kind = PmdMeasurementType(type_byte)
        except ValueError:
            return reply(PmdStatus.INVALID_MEASUREMENT_TYPE)
        if kind not in _AVAILABLE or (kind == _ACC and not self.offers_acc):
            return reply(PmdStatus.NOT_SUPPORTED)
        if op == PmdOpCode.GET_MEASUREMENT_SETTINGS:
            if len(request) != 2:
                return reply(PmdStatus.INVALID_LENGTH)
            return reply(PmdStatus.SUCCESS, encode_settings(_AVAILABLE[kind]))
        if op == PmdOpCode.STOP_MEASUREMENT:
            if len(request) != 2:
                return reply(PmdStatus.INVALID_LENGTH)
            if kind not in self._streams:
                return reply(PmdStatus.ALREADY_IN_STATE)
            self._stop_stream(kind)
            return reply(PmdStatus.SUCCESS)
        return self._start(connection, kind, request, reply)

    def _start(
        self,
        connection: Connection | None,
        kind: PmdMeasurementType,
        request: bytes,
        reply: _Reply,
    ) -> bytes:
        if self.in_charger:
            return reply(PmdStatus.DEVICE_IN_CHARGER)
        if kind in self._streams:
            return reply(PmdStatus.ALREADY_IN_STATE)
        try:
            settings = parse_settings(request[2:])
        except ProtocolError:
            return reply(PmdStatus.INVALID_LENGTH)
        available = _AVAILABLE[kind]
        for setting, values in settings.items():
            if len(values) != 1:
                return reply(PmdStatus.INVALID_PARAMETER)
            if setting == _CHANNELS:
                if values[0] != _CHANNEL_COUNT[kind]:
                    return reply(PmdStatus.INVALID_NUMBER_OF_CHANNELS)
            elif setting not in available:
                return reply(PmdStatus.INVALID_PARAMETER)
            elif values[0] not in available[setting]:
                return reply(_REJECTION.get(setting, PmdStatus.INVALID_RANGE))
        if any(setting not in settings for setting in available):
            return reply(PmdStatus.INVALID_PARAMETER)
        if connection is None or connection.att_mtu < PMD_MIN_MTU:
            return reply(PmdStatus.INVALID_MTU)
        stream = _Stream(
            kind,
            rate_hz=int(settings[_SR][0]),
            range_g=int(settings.get(_RANGE, (8,))[0]),
            connection=connection,
        )
        stream.task = asyncio.get_running_loop().create_task(
            self._stream_loop(stream), name=f"wearsdk[twin-h10].{kind.name.lower()}"
        )
        self._streams[kind] = stream
        params = b""
        if kind == _ACC and self.acc_compressed:
            params = encode_settings({PmdSettingType.FACTOR: (self.acc_factor,)})
        return reply(PmdStatus.SUCCESS, params)

    def _stop_stream(self, kind: PmdMeasurementType) -> None:
        stream = self._streams.pop(kind, None)
        if stream is not None and stream.task is not None:
            stream.task.cancel()
            self._tasks.add(stream.task)  # awaited on exit
            stream.task.add_done_callback(self._tasks.discard)

    # -- signals --------------------------------------------------------------------------

    # -- streaming ------------------------------------------------------------------------

    async def _stream_loop(self, stream: _Stream) -> None:
        try:
            await self._stream_frames(stream)
        except Exception:  # a bug in the twin: end the stream loudly, not silently
            logger.exception("%s stream failed", stream.measurement_type.name)
            if self._streams.get(stream.measurement_type) is stream:
                del self._streams[stream.measurement_type]

    async def _stream_frames(self, stream: _Stream) -> None:
        kind = stream.measurement_type
        rate = stream.rate_hz
        if kind == _ECG:
            per_frame = ECG_FRAME_SAMPLES
        elif self.acc_compressed:
            per_frame = ACC_COMPRESSED_FRAME_SAMPLES
        else:
            per_frame = ACC_RAW_FRAME_SAMPLES
        speedup = 1 + self.clock_drift_ppm * 1e-6
        t_start = self.clock.now()
        sensor_start = self.sensor_time_ns(t_start)
        epoch = self.clock_resets
        k = 0
        while True:
            index = np.arange(k, k + per_frame, dtype=np.float64)
            t_last = t_start + float(index[-1]) / rate / speedup
            await asyncio.sleep(max(0.0, self.clock.real_delay_s(t_last - self.clock.now())))
            if self.jitter_s > 0:
                delay = float(self._knobs.uniform(0.0, self.jitter_s))
                await asyncio.sleep(self.clock.real_delay_s(delay))
            u = (t_start - self._t0) + index / rate / speedup
            times = sensor_start + np.rint(index * 1e9 / rate).astype(np.int64)
            values = (
                self._beats.ecg_uv(u, self._noise, self.ecg_noise_uv)[:, None]
                if kind == _ECG
                else self._beats.acc_mg(u, stream.range_g, self._noise)
            )
            k += per_frame
            self._beats.forget_before(float(u[0]) - 5.0 - 2 * self.hr_interval_s)
            for payload, ints, stamps in _encode_frames(
                stream.measurement_type, values, times, self.acc_compressed, self.acc_factor
            ):
                await self._send(stream, payload, ints, stamps, epoch)

    async def _send(
        self,
        stream: _Stream,
        payload: bytes,
        values: npt.NDArray[np.int64],
        times: npt.NDArray[np.int64],
        epoch: int,
    ) -> None:
        dropped = bool(self._knobs.random() < self.drop_probability)
        malformed = not dropped and bool(self._knobs.random() < self.malformed_probability)
        late = (
            not dropped
            and stream.held is None
            and self.reorder_probability > 0
            and bool(self._knobs.random() < self.reorder_probability)
        )
        if malformed:
            payload = payload[:-1]  # a partial sample, or a delta block cut short
        self.sent.append(
            SentFrame(
                stream.measurement_type,
                int(times[-1]),
                times,
                values,
                payload,
                dropped=dropped,
                malformed=malformed,
                late=late,
                clock_epoch=epoch,
            )
        )
        if dropped:
            return
        if len(payload) > stream.connection.att_mtu - 3:  # pragma: no cover - checked at start
            raise AssertionError("PMD frame larger than the ATT MTU allows")
        if late:
            stream.held = payload
            return
        held, stream.held = stream.held, None
        try:
            await self.notify(self._data, payload, connection=stream.connection)
            if held is not None:
                await self.notify(self._data, held, connection=stream.connection)
        except Exception as exc:  # the link went away: the stream ends with it
            logger.debug("PMD frame not delivered: %r", exc)
            self._stop_stream(stream.measurement_type)

    async def _hr_loop(self) -> None:
        next_t = self.clock.now() + self.hr_interval_s
        previous = 0.0
        last_hr = round(self._beats.heart.hr_rest_bpm)
        while True:
            await asyncio.sleep(max(0.0, self.clock.real_delay_s(next_t - self.clock.now())))
            next_t += self.hr_interval_s
            now = self.clock.now() - self._t0
            rr = self._beats.rr_between(previous, now)
            previous = now
            if not self._streams:
                self._beats.forget_before(now - 5.0)
            if not self.connected:
                continue
            if rr:
                last_hr = round(60.0 * len(rr) / math.fsum(rr))
            for i in range(0, max(1, len(rr)), _MAX_RR_PER_NOTIFICATION):
                payload = encode_heart_rate_measurement(
                    last_hr, rr_s=rr[i : i + _MAX_RR_PER_NOTIFICATION], contact=self.contact
                )
                await self.notify(self._hrm, payload)
                self.hr_notifications += 1
