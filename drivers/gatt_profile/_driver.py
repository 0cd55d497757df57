"""A generic driver that runs any declarative GATT profile."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakError

from wearsdk import (
    DeviceClockMap,
    Gap,
    ProtocolError,
    SampleBlock,
    SourceContext,
)
from wearsdk.driverkit import BleSource, Notifications
from wearsdk.drivers.gatt_profile._profile import GattProfile, load_profile
from wearsdk.io.ble import BleTransport

__all__ = ["GattProfileDevice"]

logger = logging.getLogger("wearsdk.drivers.gatt_profile")


class GattProfileDevice(BleSource):
    """Any BLE sensor described by a :class:`~wearsdk.drivers.gatt_profile.GattProfile`.

    Subscribes to the profile's data characteristic, writes its start commands, and publishes
    every notification as a :class:`~wearsdk.SampleBlock` on ``physio/<id>/<profile.stream>``
    in the profile's unit and channels (for the shipped ``nus-grove-gsr`` profile: ``eda`` in
    ``uS``). Notifications that do not fit the layout are dropped and counted
    (:attr:`malformed`); with a counter in the layout, lost notifications give a
    :class:`~wearsdk.Gap` with the exact number of missing samples. Sample times come from the
    sample count at the nominal rate, mapped onto the session clock by a
    :class:`~wearsdk.DeviceClockMap`. It reconnects by itself (capped, jittered backoff),
    writes the start commands again, and writes the stop commands on the way out.

    Args:
        transport: the BLE transport.
        profile: a profile, the name of a shipped one, or a ``.toml``/``.json`` path.
        address: device address.
        name: advertised name; default: the profile's ``advertised_name``, else the first
            device advertising the profile's service.
        source_id: explicit source id; default: a keyed pseudonym of the address/name.
        connect_timeout_s: timeout of each discovery and connection attempt.
        reconnect: reconnect after a lost link (else the driver ends with the link).
        max_attempts: give up (raise) after this many failed attempts in a row; 0 = never.
        backoff_max_s: cap of the reconnection backoff.
        queue_size: bound of the notification queue between the BLE callback and the driver.
        stale_after_s: drop and reconnect when no notification arrived for this long.

    Raises:
        ConfigError: an unknown or invalid profile.
    """

    def __init__(
        self,
        transport: BleTransport,
        profile: GattProfile | str | Path = "nus-grove-gsr",
        *,
        address: str | None = None,
        name: str | None = None,
        source_id: str | None = None,
        connect_timeout_s: float = 10.0,
        reconnect: bool = True,
        max_attempts: int = 0,
        backoff_max_s: float = 2.0,
        queue_size: int = 256,
        stale_after_s: float = 5.0,
    ) -> None:
        self.profile = load_profile(profile)
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
        self.malformed = 0
        """Notifications dropped because they did not fit the profile's layout."""
        self.samples = 0
        """Samples published."""
        self.samples_lost = 0
        """Samples known missing from the counter."""
        self.counter_resets = 0
        """Times the counter went backwards (the device restarted its count)."""
        self.clock_map = DeviceClockMap()
        """Maps the sample count onto the session clock (a new map per connection)."""
        self._next_counter: int | None = None
        self._next_index = 0
        self._last_t: float | None = None
        self._gap_start: float | None = None

    @property
    def identity(self) -> str:
        """The address, else the name, else the profile's service (stays in-process)."""
        return (
            self.address
            or self.name
            or self.profile.advertised_name
            or f"{self.profile.name}:{self.profile.service_uuid}"
        )

    @property
    def kind(self) -> str:
        """Pseudonym prefix: the profile's ``kind``."""
        return self.profile.kind

    def _clock_models(self) -> dict[str, DeviceClockMap]:
        return {"samples": self.clock_map}

    def _discovery(self) -> tuple[str | None, str | None, str | None]:
        name = self.name or (None if self.address else self.profile.advertised_name)
        return self.address, name, self.profile.service_uuid

    async def _setup(
        self,
        client: BleakClient,
        ctx: SourceContext,
        notes: Notifications,
        stack: contextlib.AsyncExitStack,
    ) -> dict[str, Any] | None:
        self._new_stream()
        await client.start_notify(self.profile.data_uuid, notes.callback("data"))
        for write in self.profile.start_writes:
            await self._write(client, write.data)
        stack.push_async_callback(self._stop, client)
        return None

    def _handle_notification(
        self, ctx: SourceContext, kind: str, arrival: float, payload: bytes
    ) -> None:
        self._handle(ctx, arrival, payload)

    async def _write(self, client: BleakClient, data: bytes) -> None:
        assert self.profile.control_uuid is not None  # checked by the profile
        await client.write_gatt_char(
            self.profile.control_uuid, data, response=self.profile.write_with_response
        )

    async def _stop(self, client: BleakClient) -> None:
        if client.is_connected:
            for write in self.profile.stop_writes:
                with contextlib.suppress(BleakError, OSError, TimeoutError):
                    await self._write(client, write.data)

    def _new_stream(self) -> None:
        """A new connection: the count restarts; the time since the last sample is a gap."""
        if self._last_t is not None:
            self._gap_start = self._last_t
        self.clock_map = DeviceClockMap()
        self._next_counter = None
        self._next_index = 0
        self._last_t = None

    def _handle(self, ctx: SourceContext, arrival: float, payload: bytes) -> None:
        profile = self.profile
        try:
            note = profile.decode(payload)
        except ProtocolError:
            self.malformed += 1
            if self.malformed == 1:
                logger.warning("%s: malformed notification dropped", ctx.source_id)
            return
        n = int(note.raw.shape[0])
        missing = 0
        counter_spec = profile.payload.counter
        if counter_spec is not None and note.counter is not None:
            modulo = counter_spec.modulo
            if self._next_counter is not None:
                delta = (note.counter - self._next_counter) % modulo
                if 0 < delta < modulo // 2:
                    missing = delta if counter_spec.unit == "samples" else delta * n
                elif delta:
                    self.counter_resets += 1
                    logger.info("%s: the device's counter went backwards", ctx.source_id)
            step = n if counter_spec.unit == "samples" else 1
            self._next_counter = (note.counter + step) % modulo
        first = self._next_index + missing
        index = first + np.arange(n, dtype=np.float64)
        self._next_index = first + n
        device_t = index / profile.nominal_rate_hz
        if self.clock_map.observe(float(device_t[-1]), arrival):
            logger.info("%s: sample clock re-anchored", ctx.source_id)
        t = self.clock_map.map(device_t, stream=profile.stream)
        gap_start, self._gap_start = self._gap_start, None
        if gap_start is not None and float(t[0]) > gap_start:
            n_gap = max(0, round((float(t[0]) - gap_start) * profile.nominal_rate_hz) - 1)
            self._gap(ctx, arrival, gap_start, float(t[0]), n_gap, "disconnect")
        elif missing and self._last_t is not None:
            self.samples_lost += missing
            self._gap(ctx, arrival, self._last_t, float(t[0]), missing, "sequence")
        self._last_t = float(t[-1])
        self.samples += n
        ctx.publish_block(
            SampleBlock(
                source=ctx.source_id,
                stream=profile.stream,
                unit=profile.unit,
                t=t,
                values=profile.convert(note.raw),
                channels=profile.channels,
                nominal_rate_hz=profile.nominal_rate_hz,
            )
        )

    def _gap(
        self, ctx: SourceContext, arrival: float, start: float, end: float, n: int, reason: str
    ) -> None:
        ctx.publish_event(
            self.profile.stream,
            Gap(
                t=arrival,
                source=ctx.source_id,
                stream=self.profile.stream,
                start=start,
                end=end,
                n_missing=n,
                reason=reason,
            ),
        )
