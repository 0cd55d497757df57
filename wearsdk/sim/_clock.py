"""A virtual device clock with known truth: drift, wander, link latency and jitter.

Drives a :class:`~wearsdk.DeviceClockMap` (or anything with its ``observe``/``map`` methods)
the way a BLE device would, packet by packet, and records how far the mapped times are from
the true session times, so tests and benchmarks can measure alignment error, convergence,
resets and long-run drift without hardware.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["ClockTrace", "DeviceClockSim", "cross_device_error", "settling_time"]


class _ClockModel(Protocol):
    def observe(self, device_t: float, arrival: float) -> bool: ...

    def map(self, device_t: npt.ArrayLike, *, stream: str = "") -> npt.NDArray[np.float64]: ...


@dataclass
class ClockTrace:
    """What a simulated stream looked like after mapping, one entry per packet.

    Attributes:
        t_true: true session time of each packet's last sample.
        error: mapped minus true time of each packet's last sample (seconds).
        backwards: samples whose mapped time was not after the previous sample's.
        max_error: largest absolute error of any sample mapped (seconds).
        resets: packets for which the model reported a reset.
    """

    t_true: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    error: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    backwards: int = 0
    max_error: float = 0.0
    resets: int = 0

    def extend(self, other: ClockTrace) -> ClockTrace:
        """This trace followed by ``other`` (a later part of the same stream)."""
        return ClockTrace(
            np.concatenate([self.t_true, other.t_true]),
            np.concatenate([self.error, other.error]),
            self.backwards + other.backwards,
            max(self.max_error, other.max_error),
            self.resets + other.resets,
        )

    def error_at(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The error interpolated at true session times ``t``."""
        return np.interp(np.asarray(t, dtype=np.float64), self.t_true, self.error)


class DeviceClockSim:
    """A device whose clock runs at ``1 + drift_ppm`` relative to the session clock.

    The device sends packets of ``per_packet`` samples evenly spaced at ``rate_hz`` on its own
    clock; each packet arrives ``latency_s`` plus a uniform delay of up to ``jitter_s`` after
    its last sample (BLE connection events), and with probability ``retry_probability`` a
    further exponential delay (a link-layer retransmission). The drift can wander
    sinusoidally (temperature): ``drift_ppm + wander_ppm * sin(2 pi t / wander_period_s)``.

    Args:
        rate_hz: sample rate on the device clock.
        per_packet: samples per packet.
        drift_ppm: mean rate error of the device clock (positive: fast).
        device_origin_s: device time at session time ``session_origin_s``.
        session_origin_s: session time at which the device clock reads ``device_origin_s``.
        latency_s: the minimum delivery latency.
        jitter_s: the uniform part of the delivery delay.
        retry_probability: probability of a retransmission delay.
        retry_delay_s: mean of that extra delay.
        wander_ppm: amplitude of the drift's wander.
        wander_period_s: period of the wander.
        seed: random seed.
    """

    def __init__(
        self,
        *,
        rate_hz: float,
        per_packet: int,
        drift_ppm: float,
        device_origin_s: float = 0.0,
        session_origin_s: float = 0.0,
        latency_s: float = 0.0075,
        jitter_s: float = 0.05,
        retry_probability: float = 0.05,
        retry_delay_s: float = 0.05,
        wander_ppm: float = 0.0,
        wander_period_s: float = 7200.0,
        seed: int = 0,
    ) -> None:
        self.rate_hz = rate_hz
        self.per_packet = per_packet
        self.drift_ppm = drift_ppm
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self.retry_probability = retry_probability
        self.retry_delay_s = retry_delay_s
        self.wander_ppm = wander_ppm
        self.wander_period_s = wander_period_s
        self._rng = np.random.default_rng(seed)
        self._d0 = device_origin_s
        self._t0 = session_origin_s
        self.next_index = 0
        """Index of the next sample the device will send (since its clock origin)."""

    def device_time(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Device clock reading at true session times ``t``."""
        u = np.asarray(t, dtype=np.float64) - self._t0
        w = 2 * math.pi / self.wander_period_s
        phase = self.wander_ppm * 1e-6 * (1 - np.cos(w * u)) / w
        return self._d0 + u * (1 + self.drift_ppm * 1e-6) + phase

    def session_time(self, d: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """True session times at which the device clock reads ``d`` (inverse of the above)."""
        dd = np.asarray(d, dtype=np.float64)
        t = self._t0 + (dd - self._d0) / (1 + self.drift_ppm * 1e-6)
        w = 2 * math.pi / self.wander_period_s
        for _ in range(3):  # Newton steps on the smooth wander term
            rate = 1 + (self.drift_ppm + self.wander_ppm * np.sin(w * (t - self._t0))) * 1e-6
            t = t - (self.device_time(t) - dd) / rate
        return t

    def reset_clock(self, at_session_s: float, device_origin_s: float = 0.0) -> None:
        """The device loses power: its clock reads ``device_origin_s`` at ``at_session_s``."""
        self._d0 = device_origin_s
        self._t0 = at_session_s
        self.next_index = 0

    def skip_to(self, t: float) -> None:
        """Send nothing until true session time ``t`` (a disconnection); the clock runs on."""
        d = float(self.device_time(t))
        self.next_index = max(self.next_index, math.ceil((d - self._d0) * self.rate_hz))

    def run(self, model: _ClockModel, *, until_s: float, stream: str = "x") -> ClockTrace:
        """Send packets until true session time ``until_s``, mapping each through ``model``.

        Returns:
            The trace of this part of the stream.
        """
        n_pk = self.per_packet
        d_end = float(self.device_time(until_s))
        n_packets = max(0, int(((d_end - self._d0) * self.rate_hz - self.next_index) // n_pk))
        t_true = np.empty(n_packets)
        error = np.empty(n_packets)
        backwards = resets = 0
        max_error = 0.0
        previous = -math.inf
        u = self._rng.uniform(0.0, self.jitter_s, n_packets)
        retry = self._rng.random(n_packets) < self.retry_probability
        u += retry * self._rng.exponential(self.retry_delay_s, n_packets)
        step = np.arange(n_pk) / self.rate_hz
        block = 4096  # packets whose device and true times are computed at once
        for k in range(n_packets):
            if k % block == 0:  # the same arithmetic per sample as one packet at a time
                first = self.next_index + n_pk * np.arange(min(block, n_packets - k))
                d_block = (self._d0 + first / self.rate_hz)[:, None] + step
                truth_block = self.session_time(d_block)
            d, truth = d_block[k % block], truth_block[k % block]
            self.next_index += n_pk
            arrival = float(truth[-1]) + self.latency_s + float(u[k])
            resets += model.observe(float(d[-1]), arrival)
            mapped = model.map(d, stream=stream)
            if mapped[0] <= previous:
                backwards += 1
            backwards += int(np.count_nonzero(np.diff(mapped) <= 0))
            previous = float(mapped[-1])
            err = mapped - truth
            max_error = max(max_error, float(np.abs(err).max()))
            t_true[k] = truth[-1]
            error[k] = err[-1]
        return ClockTrace(t_true, error, backwards, max_error, resets)


def cross_device_error(
    a: ClockTrace, b: ClockTrace, *, start_s: float, end_s: float, step_s: float = 0.1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Alignment error between two devices: ``(grid, error_a - error_b)`` on a time grid.

    An event seen by both devices at the same true time lands this far apart on the session
    clock; the minimum latency common to both cancels out.
    """
    grid = np.arange(start_s, end_s, step_s)
    return grid, a.error_at(grid) - b.error_at(grid)


def settling_time(
    grid: npt.NDArray[np.float64], error: npt.NDArray[np.float64], *, bound_s: float
) -> float:
    """First time in ``grid`` from which ``|error|`` stays within ``bound_s`` (inf if never).

    Times are relative to ``grid[0]``.
    """
    bad = np.flatnonzero(np.abs(error) > bound_s)
    if bad.size == 0:
        return 0.0
    if bad[-1] == error.size - 1:
        return math.inf
    return float(grid[bad[-1] + 1] - grid[0])
