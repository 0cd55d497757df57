"""Driver for the Polar H10: heart rate and RR (Heart Rate Service) plus raw ECG and ACC (PMD)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from wearsdk import (
    ConfigError,
    DeviceClockMap,
    Gap,
    ProtocolError,
    SampleBlock,
    SourceContext,
    WearError,
)
from wearsdk.drivers.heart_rate import HeartRateStrap
from wearsdk.drivers.polar.protocol import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_MIN_MTU,
    PmdMeasurementType,
    PmdResponse,
    PmdSettingType,
    PmdStatus,
    decode_pmd_frame,
    parse_control_point_response,
    parse_features,
    pmd_start_request,
    pmd_stop_request,
)
from wearsdk.io.ble import BleTransport

__all__ = ["PmdError", "PolarH10"]

logger = logging.getLogger("wearsdk.drivers.polar")

_NS = 1e-9
_ECG_RATE_HZ = 130
_ACC_RATES_HZ = (25, 50, 100, 200)
_ACC_RANGES_G = (2, 4, 8)
CLOCK_ACC_RATE_HZ = 200
"""Default rate of the ACC stream a :class:`PolarH10` starts as a timing source only."""


class PmdError(WearError):
    """The sensor refused a Polar Measurement Data request, or cannot serve it.

    Attributes:
        status: the PMD status (``INVALID_MTU`` when the link's ATT MTU is too small).
        measurement_type: the measurement concerned.
    """

    def __init__(
        self, message: str, *, status: PmdStatus, measurement_type: PmdMeasurementType
    ) -> None:
        super().__init__(message)
        self.status = status
        self.measurement_type = measurement_type


class _PmdStream:
    """Per-measurement decoding state: rate, factor, previous timestamp, last mapped time."""

    def __init__(
        self, name: str, rate_hz: float, channels: tuple[str, ...], *, publish: bool = True
    ) -> None:
        self.name = name
        self.rate_hz = rate_hz
        self.channels = channels
        self.publish = publish  # False: a timing source for the clock map only
        self.factor = 1.0
        self.previous_ns: dict[int, int] = {}  # by frame type
        self.last_ns: int | None = None
        self.last_t: float | None = None


class PolarH10(HeartRateStrap):
    """A Polar H10 chest strap: HR, RR, raw ECG (130 Hz, µV) and accelerometer (mG).

    Everything :class:`~wearsdk.drivers.heart_rate.HeartRateStrap` publishes, plus
    :class:`~wearsdk.SampleBlock` streams on ``physio/<id>/ecg`` (unit ``uV``) and
    ``physio/<id>/acc`` (unit ``mG``, channels ``acc_x``, ``acc_y``, ``acc_z``), and a
    :class:`~wearsdk.Gap` with the exact extent of every lost frame (the sensor's timestamps
    make it exact). Sensor timestamps (ns since 2000 on the strap's clock, which restarts at
    2019-01-01 after a power loss) are never taken as wall time: a :class:`~wearsdk.
    DeviceClockMap` maps them onto the session clock, re-anchoring after a clock reset. After a
    reconnect the PMD streams are started again.

    The map learns the sensor clock from every PMD frame's arrival, and ECG frames alone
    (1.8 a second) pin its drift too slowly to align two straps within 2 ms in the first
    minute (see docs/clock.md). So when ECG is streamed and ACC was not asked for, the driver
    also starts the accelerometer at ``clock_acc_rate_hz`` as a timing source only: its frames
    feed the map and are not published. A sensor that does not offer ACC, refuses to start it
    or does not answer the request is streamed without it (logged, :attr:`clock_acc_active`
    stays ``False``).

    Args:
        transport: the BLE transport.
        address: device address.
        name: advertised name (``Polar H10 1234ABCD``).
        ecg: stream ECG.
        acc_rate_hz: stream the accelerometer at 25, 50, 100 or 200 Hz; ``None`` for no ACC.
        acc_range_g: accelerometer range, 2, 4 or 8 g.
        clock_acc_rate_hz: rate of the timing-only ACC stream started when ECG is streamed and
            ``acc_rate_hz`` is ``None`` (25, 50, 100 or 200 Hz; 200 by default, the lowest
            rate that meets the 2 ms target in the benchmark); ``None`` or 0 (what a session
            file can write) for ECG timing only.
        **kwargs: passed to :class:`~wearsdk.drivers.heart_rate.HeartRateStrap`.

    Raises:
        ConfigError: an unsupported ACC rate or range.
    """

    def __init__(
        self,
        transport: BleTransport,
        *,
        address: str | None = None,
        name: str | None = None,
        ecg: bool = True,
        acc_rate_hz: int | None = None,
        acc_range_g: int = 8,
        clock_acc_rate_hz: int | None = CLOCK_ACC_RATE_HZ,
        **kwargs: Any,
    ) -> None:
        clock_acc_rate_hz = clock_acc_rate_hz or None
        for rate in (acc_rate_hz, clock_acc_rate_hz):
            if rate is not None and rate not in _ACC_RATES_HZ:
                raise ConfigError(f"H10 ACC rate must be one of {_ACC_RATES_HZ}, got {rate}")
        if acc_range_g not in _ACC_RANGES_G:
            raise ConfigError(f"H10 ACC range must be one of {_ACC_RANGES_G}, got {acc_range_g}")
        super().__init__(transport, address=address, name=name, **kwargs)
        self.ecg = ecg
        self.acc_rate_hz = acc_rate_hz
        self.acc_range_g = acc_range_g
        self.clock_acc_rate_hz = clock_acc_rate_hz if ecg and acc_rate_hz is None else None
        self.clock_map = DeviceClockMap()
        """Maps the strap's sensor clock onto the session clock."""
        self.frames = 0
        """PMD data frames decoded."""
        self.malformed_frames = 0
        """PMD data frames dropped because they did not decode."""
        self.late_frames = 0
        """PMD data frames dropped because they were older than one already published."""
        self.clock_acc_active = False
        """The timing-only ACC stream runs on the current link (see ``clock_acc_rate_hz``)."""
        self._streams: dict[PmdMeasurementType, _PmdStream] = {}
        if ecg:
            self._streams[PmdMeasurementType.ECG] = _PmdStream("ecg", _ECG_RATE_HZ, ("ecg",))
        acc_hz = acc_rate_hz if acc_rate_hz is not None else self.clock_acc_rate_hz
        if acc_hz is not None:
            self._streams[PmdMeasurementType.ACC] = _PmdStream(
                "acc", acc_hz, ("acc_x", "acc_y", "acc_z"), publish=acc_rate_hz is not None
            )
        self._cp_responses: asyncio.Queue[PmdResponse] = asyncio.Queue(maxsize=16)
        self._fresh_link = True

    @property
    def kind(self) -> str:
        """Pseudonym prefix: ``polar``."""
        return "polar"

    def _clock_models(self) -> dict[str, DeviceClockMap]:
        return {**super()._clock_models(), "sensor": self.clock_map}

    def _settings(self, mt: PmdMeasurementType) -> dict[int, int]:
        if mt == PmdMeasurementType.ECG:
            return {PmdSettingType.SAMPLE_RATE: _ECG_RATE_HZ, PmdSettingType.RESOLUTION: 14}
        return {
            PmdSettingType.SAMPLE_RATE: int(self._streams[mt].rate_hz),
            PmdSettingType.RESOLUTION: 16,
            PmdSettingType.RANGE: self.acc_range_g,
        }

    async def _start_streams(
        self,
        client: BleakClient,
        ctx: SourceContext,
        notifier: Callable[[str], Callable[[BleakGATTCharacteristic, bytearray], None]],
    ) -> None:
        if not self._streams:
            return
        first = next(iter(self._streams))
        if client.mtu_size < PMD_MIN_MTU:
            raise PmdError(
                f"the link's ATT MTU is {client.mtu_size}, but Polar PMD frames need at least "
                f"{PMD_MIN_MTU} (a 73-sample ECG frame is 229 bytes); use a Bluetooth adapter/"
                "stack that negotiates a larger MTU, or stream heart rate only (ecg=False)",
                status=PmdStatus.INVALID_MTU,
                measurement_type=first,
            )
        if client.services.get_characteristic(PMD_CONTROL_POINT_UUID) is None:
            # the wrong driver for the device: say what it lacks, not bleak's bare UUID
            raise PmdError(
                "the device has no Polar PMD (measurement data) service: it is not a Polar "
                "H10, or not one that streams ECG; for its heart rate only use --driver "
                "heart-rate",
                status=PmdStatus.NOT_SUPPORTED,
                measurement_type=first,
            )
        while not self._cp_responses.empty():
            self._cp_responses.get_nowait()
        await client.start_notify(PMD_CONTROL_POINT_UUID, self._on_control_point)
        await client.start_notify(PMD_DATA_UUID, notifier("pmd"))
        features = parse_features(await client.read_gatt_char(PMD_CONTROL_POINT_UUID))
        self.clock_acc_active = False
        for mt, stream in self._streams.items():
            if mt not in features and stream.publish:
                raise PmdError(
                    f"the sensor does not offer {mt.name} (features: "
                    f"{sorted(f.name for f in features)})",
                    status=PmdStatus.NOT_SUPPORTED,
                    measurement_type=mt,
                )
        for mt, stream in self._streams.items():
            if not stream.publish and mt not in features:
                logger.info("%s: no ACC on this sensor; clock from ECG frames only", ctx.source_id)
                continue
            try:
                response = await self._start_measurement(client, mt)
            except TimeoutError:
                if stream.publish:
                    raise
                logger.info(
                    "%s: timing-only ACC start not answered; clock from ECG frames only",
                    ctx.source_id,
                )
                continue
            if not response.ok and not stream.publish:
                logger.info(
                    "%s: timing-only ACC start refused (%s); clock from ECG frames only",
                    ctx.source_id,
                    response.status.description,
                )
                continue
            if not response.ok:
                raise PmdError(
                    f"{mt.name} start refused: {response.status.description}",
                    status=response.status,
                    measurement_type=mt,
                )
            factor = (response.settings or {}).get(PmdSettingType.FACTOR)
            stream.factor = float(factor[0]) if factor else 1.0
            stream.previous_ns.clear()  # Polar resets frame timing on every start
            self.clock_acc_active |= not stream.publish
        logger.debug("%s: PMD streams started: %s", ctx.source_id, [m.name for m in self._streams])

    async def _start_measurement(self, client: BleakClient, mt: PmdMeasurementType) -> PmdResponse:
        response = await self._request(client, pmd_start_request(mt, self._settings(mt)))
        if response.status == PmdStatus.ALREADY_IN_STATE:
            await self._request(client, pmd_stop_request(mt))
            response = await self._request(client, pmd_start_request(mt, self._settings(mt)))
        return response

    def _on_connected(self) -> None:
        super()._on_connected()
        self._fresh_link = True  # the sensor may have lost power (and its clock) meanwhile

    def _on_control_point(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            response = parse_control_point_response(data)
        except ProtocolError:
            return  # e.g. the sensor's own "measurement stopped" message
        with contextlib.suppress(asyncio.QueueFull):
            self._cp_responses.put_nowait(response)

    async def _request(self, client: BleakClient, request: bytes) -> PmdResponse:
        await client.write_gatt_char(PMD_CONTROL_POINT_UUID, request, response=True)
        async with asyncio.timeout(5.0):
            while True:
                response = await self._cp_responses.get()
                if response.op_code == request[0] and response.measurement_type == request[1]:
                    return response

    async def _disconnect(self, client: BleakClient) -> None:
        if client.is_connected:
            for mt in self._streams:
                with contextlib.suppress(BleakError, OSError, TimeoutError, WearError):
                    await client.write_gatt_char(
                        PMD_CONTROL_POINT_UUID, pmd_stop_request(mt), response=True
                    )
        await super()._disconnect(client)

    def _handle_notification(
        self, ctx: SourceContext, kind: str, arrival: float, payload: bytes
    ) -> None:
        if kind != "pmd":
            super()._handle_notification(ctx, kind, arrival, payload)
            return
        try:
            self._handle_frame(ctx, arrival, payload)
        except ProtocolError:
            self.malformed_frames += 1
            if self.malformed_frames == 1:
                logger.warning("%s: malformed PMD frame dropped", ctx.source_id)

    def _handle_frame(self, ctx: SourceContext, arrival: float, payload: bytes) -> None:
        if len(payload) < 10:
            raise ProtocolError("PMD frame shorter than its header", payload)
        try:
            mt = PmdMeasurementType(payload[0] & 0x3F)
        except ValueError:
            raise ProtocolError("unknown PMD measurement type", payload) from None
        stream = self._streams.get(mt)
        if stream is None:
            return  # a stream this driver did not ask for
        frame_type = payload[9] & 0x7F
        frame = decode_pmd_frame(
            payload,
            sample_rate_hz=stream.rate_hz,
            previous_timestamp_ns=stream.previous_ns.get(frame_type),
            factor=stream.factor,
        )
        if np.shape(frame.values)[1:] != (len(stream.channels),):
            raise ProtocolError(
                f"{stream.name} frame of type {frame_type} with {np.shape(frame.values)[1:]} "
                f"channels; the stream has {len(stream.channels)}",
                payload,
            )
        # the sensor clock restarts only with a power loss, which drops the link: within a
        # connection, an arrival seconds late is a delayed delivery (a burst), not a reset
        fresh, self._fresh_link = self._fresh_link, False
        if self.clock_map.observe(frame.timestamp_ns * _NS, arrival, detect_reset=fresh):
            logger.info("%s: sensor clock reset; re-anchored", ctx.source_id)
            for s in self._streams.values():
                s.last_ns = None
        elif stream.last_ns is not None and int(frame.timestamps_ns[0]) <= stream.last_ns:
            # a frame older than one already published (sent out of order, or twice): its
            # interval was reported as a Gap already; publishing it would go back in time
            self.late_frames += 1
            return
        self.frames += 1
        stream.previous_ns[frame_type] = frame.timestamp_ns
        if not stream.publish:
            return  # a timing source only: its arrival has fed the map
        t = self.clock_map.map(frame.timestamps_ns * _NS, stream=stream.name)
        if stream.last_t is not None:
            if stream.last_ns is not None:
                missing_ns = int(frame.timestamps_ns[0]) - stream.last_ns
                n_missing = round(missing_ns * stream.rate_hz / 1e9) - 1
                reason = "frames_lost"
            else:  # the sensor clock restarted: only the session clock spans the loss
                n_missing = round((float(t[0]) - stream.last_t) * stream.rate_hz) - 1
                reason = "clock_reset"
            if n_missing >= 1:
                ctx.publish_event(
                    stream.name,
                    Gap(
                        t=arrival,
                        source=ctx.source_id,
                        stream=stream.name,
                        start=stream.last_t,
                        end=float(t[0]),
                        n_missing=n_missing,
                        reason=reason,
                    ),
                )
        stream.last_ns = int(frame.timestamps_ns[-1])
        stream.last_t = float(t[-1])
        ctx.publish_block(
            SampleBlock(
                source=ctx.source_id,
                stream=stream.name,
                unit=frame.unit,
                t=t,
                values=np.asarray(frame.values, dtype=np.float64),
                channels=stream.channels,
                nominal_rate_hz=stream.rate_hz,
            )
        )
