"""The virtual H10's parts: the beat train and its ECG and ACC, the frames it keeps, its
GATT services."""  # noqa: D205, D209

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from bumble import gatt
from bumble.device import Connection

from wearsdk.drivers.heart_rate.protocol import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    BODY_SENSOR_LOCATION_UUID,
    HEART_RATE_SERVICE_UUID,
)
from wearsdk.drivers.polar.protocol import (
    PMD_MIN_MTU,
    PMD_SERVICE_UUID,
    PmdMeasurementType,
    PmdSettingType,
    PmdStatus,
    SettingValue,
    encode_delta_frame,
    encode_pmd_frame,
)
from wearsdk.sim import HeartSimulator

_ECG = PmdMeasurementType.ECG
_ACC = PmdMeasurementType.ACC
_SR = PmdSettingType.SAMPLE_RATE
_RES = PmdSettingType.RESOLUTION
_RANGE = PmdSettingType.RANGE
_CHANNELS = PmdSettingType.CHANNELS

ECG_RATE_HZ = 130
ECG_FRAME_SAMPLES = 73  # 10 + 73 x 3 = 229 bytes = ATT MTU 232 - 3
ACC_RAW_FRAME_SAMPLES = 36  # 10 + 36 x 6 = 226 bytes
ACC_COMPRESSED_FRAME_SAMPLES = 72
_MAX_FRAME_BYTES = PMD_MIN_MTU - 3
_MAX_RR_PER_NOTIFICATION = 9
_MAX_ACC_MG = 8000  # the largest range, 8 G

# what an H10 offers (the settings response) and accepts (the start request)
_AVAILABLE: dict[PmdMeasurementType, dict[int, tuple[SettingValue, ...]]] = {
    _ECG: {_SR: (130,), _RES: (14,)},
    _ACC: {_SR: (25, 50, 100, 200), _RES: (16,), _RANGE: (2, 4, 8)},
}
_CHANNEL_COUNT = {_ECG: 1, _ACC: 3}
_REJECTION = {_SR: PmdStatus.INVALID_SAMPLE_RATE, _RES: PmdStatus.INVALID_RESOLUTION}


# PQRST template: (offset from the R peak in s, amplitude in µV, width in s)
_PQRST = (
    (-0.20, 120.0, 0.025),
    (-0.035, -110.0, 0.010),
    (0.0, 1150.0, 0.011),
    (0.035, -260.0, 0.012),
    (0.25, 280.0, 0.045),
)


class _Reply(Protocol):
    """Builds the response to the request being handled."""

    def __call__(self, status: PmdStatus, params: bytes = b"") -> bytes: ...


@dataclass(frozen=True, slots=True, eq=False)
class SentFrame:
    """One PMD data frame the twin generated (the ground truth for tests).

    Attributes:
        measurement_type: ECG or ACC.
        timestamp_ns: sensor time of the last sample (ns since 2000-01-01).
        timestamps_ns: sensor time of every sample.
        values: the integer samples encoded, shape ``(n, channels)`` (µV or mG units before
            the factor).
        payload: the bytes notified (or that would have been, if ``dropped``).
        dropped: not sent (``drop_probability``).
        malformed: sent corrupted (``malformed_probability``): ``payload`` is what was sent.
        late: sent after the frame that follows it (``reorder_probability``).
        clock_epoch: how many times the sensor clock had been reset (:meth:`VirtualPolarH10.
            reset_clock`) when the frame was stamped.
    """

    measurement_type: PmdMeasurementType
    timestamp_ns: int
    timestamps_ns: npt.NDArray[np.int64]
    values: npt.NDArray[np.int64]
    payload: bytes
    dropped: bool
    malformed: bool
    late: bool = False
    clock_epoch: int = 0


class _BeatTrain:
    """The beats of a :class:`HeartSimulator`, generated ahead on demand and shared."""

    def __init__(self, heart: HeartSimulator) -> None:
        self.heart = heart
        self.times: list[float] = []
        self.rr: list[float] = []

    def extend_to(self, t: float) -> None:
        while not self.times or self.times[-1] < t:
            rr = self.heart.next_beat()
            self.rr.append(rr)
            self.times.append(self.heart.t_last_beat)

    def near(self, t0: float, t1: float) -> npt.NDArray[np.float64]:
        """Beat times within [t0, t1]."""
        self.extend_to(t1)
        times = np.asarray(self.times)
        return times[(times >= t0) & (times <= t1)]

    def rr_between(self, t0: float, t1: float) -> list[float]:
        """RR intervals of the beats in (t0, t1]."""
        self.extend_to(t1)
        return [rr for t, rr in zip(self.times, self.rr, strict=True) if t0 < t <= t1]

    def ecg_uv(
        self, u: npt.NDArray[np.float64], noise: np.random.Generator, noise_uv: float
    ) -> npt.NDArray[np.int64]:
        """ECG in µV at twin times ``u`` (session seconds since the twin started), with noise."""
        beats = self.near(float(u[0]) - 0.6, float(u[-1]) + 0.6)
        lag = u[:, None] - beats[None, :]
        signal: npt.NDArray[np.float64] = 40.0 * np.sin(2 * np.pi * 0.25 * u)  # respiration
        for offset, amplitude, width in _PQRST:
            signal += (amplitude * np.exp(-0.5 * ((lag - offset) / width) ** 2)).sum(axis=1)
        signal += noise.normal(0.0, noise_uv, u.shape)
        return np.rint(signal).astype(np.int64)

    def acc_mg(
        self, u: npt.NDArray[np.float64], range_g: int, noise: np.random.Generator
    ) -> npt.NDArray[np.int64]:
        """Accelerometer (x, y, z) in mG at twin times ``u``."""
        beats = self.near(float(u[0]) - 0.5, float(u[-1]) + 0.5)
        bump = 8.0 * np.exp(-0.5 * ((u[:, None] - beats[None, :] - 0.12) / 0.03) ** 2).sum(axis=1)
        breath = np.sin(2 * np.pi * 0.25 * u)
        acc: npt.NDArray[np.float64] = np.column_stack(
            (-120.0 + 15.0 * breath, 60.0 + 5.0 * breath + bump, 985.0 + 25.0 * breath + bump)
        )
        acc += noise.normal(0.0, 2.0, acc.shape)
        limit = range_g * 1000
        return np.clip(np.rint(acc), -limit, limit).astype(np.int64)

    def forget_before(self, t: float) -> None:
        keep = next((i for i, b in enumerate(self.times) if b >= t), len(self.times))
        del self.times[:keep], self.rr[:keep]


@dataclass(slots=True)
class _Stream:
    measurement_type: PmdMeasurementType
    rate_hz: int
    range_g: int
    connection: Connection
    task: asyncio.Task[None] | None = None
    held: bytes | None = None  # a frame kept back, sent after the next one (reordering)


def _h10_services(
    hrm: gatt.Characteristic[bytes],
    control_point: gatt.Characteristic[bytes],
    data: gatt.Characteristic[bytes],
    read_battery: Callable[[Connection | None], bytes],
) -> list[gatt.Service]:
    """An H10's services: heart rate (with the body sensor location), battery, PMD."""
    return [
        gatt.Service(
            HEART_RATE_SERVICE_UUID,
            [
                hrm,
                gatt.Characteristic(
                    BODY_SENSOR_LOCATION_UUID,
                    gatt.Characteristic.Properties.READ,
                    gatt.Characteristic.READABLE,
                    bytes((1,)),  # chest
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
                    gatt.CharacteristicValue(read=read_battery),
                )
            ],
        ),
        gatt.Service(PMD_SERVICE_UUID, [control_point, data]),
    ]


def _encode_frames(
    kind: PmdMeasurementType,
    values: npt.NDArray[np.int64],
    times: npt.NDArray[np.int64],
    compressed: bool,
    factor: float,
) -> list[tuple[bytes, npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Encode samples as frames of at most 229 bytes (payload, values, timestamps)."""
    ts = int(times[-1])
    if kind == _ECG:
        return [(encode_pmd_frame(_ECG, 0, ts, values), values, times)]
    if not compressed:
        return [(encode_pmd_frame(_ACC, 1, ts, values), values, times)]
    ints = np.rint(values / factor).astype(np.int64)
    payload = encode_delta_frame(ints[0], np.diff(ints, axis=0), timestamp_ns=ts)
    if len(payload) <= _MAX_FRAME_BYTES or len(values) == 1:
        return [(payload, ints, times)]
    half = len(values) // 2
    return _encode_frames(kind, values[:half], times[:half], compressed, factor) + _encode_frames(
        kind, values[half:], times[half:], compressed, factor
    )
