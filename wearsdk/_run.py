"""Run a session described by a :class:`~wearsdk._config.SessionConfig` (``wearsdk run``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wearsdk._clock import ScaledClock, SessionClock
from wearsdk._config import DeviceEntry, JsonlSink, MqttSink, SessionConfig
from wearsdk._errors import ConfigError
from wearsdk._jsonl import message_to_json
from wearsdk._privacy import Consent, ExportPolicy, Pseudonymizer, require_consent
from wearsdk.bus import Message
from wearsdk.io.ble import VirtualLink, parse_transport
from wearsdk.io.mqtt import MqttBridge, MqttConfig
from wearsdk.session import PipelineConfig, Session
from wearsdk.sim import ArousalScript, HeartSimulator

__all__ = ["RunResult", "run_session"]


@dataclass(slots=True)
class RunResult:
    """What a configured session did.

    Attributes:
        messages: bus messages seen, by type.
        dropped: messages the output subscriber dropped.
        sources: source ids of the configured devices, in order.
    """

    messages: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    sources: list[str] = field(default_factory=list)


def _entry(group: str, name: str) -> Any:
    for ep in importlib.metadata.entry_points(group=group):
        if ep.name == name:
            return ep.load()
    raise ConfigError(f"no {group} entry point named {name!r}")


def _driver(entry: DeviceEntry, transport: Any, index: int) -> Any:
    cls = _entry("wearsdk.drivers", entry.driver)
    ident = {"name": entry.name} if entry.name is not None else {"address": entry.address}
    try:
        return cls(transport, **ident, **entry.options)
    except TypeError as exc:
        accepted = sorted(
            p
            for p in inspect.signature(cls).parameters
            if p not in ("self", "transport", "name", "address")
        )
        raise ConfigError(
            f"devices[{index}] ({entry.driver}): {exc}; options it takes: {', '.join(accepted)}"
        ) from None


def _consent(config: SessionConfig, sink: MqttSink) -> Consent:
    if sink.consent is not None:
        return Consent.load(sink.consent)
    if config.session.transport == "virtual":
        return Consent.simulated_participant(export=ExportPolicy(sink.export))
    require_consent(None)  # raises ConsentError with the explanation
    raise AssertionError("unreachable")


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_session(
    config: SessionConfig,
    emit: Callable[[Message, SessionClock], None] | None = None,
) -> RunResult:
    """Run the configured session until its duration ends (or until cancelled).

    Args:
        config: the validated session file.
        emit: called with every bus message (the terminal view); sinks are handled here.

    Returns:
        Counts of what went over the bus.

    Raises:
        ConfigError: a device option the driver does not take, an unknown twin.
        ConsentError: an MQTT sink without a consent record for real devices.
    """
    virtual = config.session.transport == "virtual"
    clock: SessionClock = ScaledClock(config.session.speed) if virtual else SessionClock()
    mqtt_sink = next((s for s in config.sinks if isinstance(s, MqttSink)), None)
    consent = _consent(config, mqtt_sink) if mqtt_sink is not None else None
    session = Session(
        clock=clock,
        pipeline=PipelineConfig(**config.pipeline.model_dump()),
        consent=consent,
    )
    result = RunResult()
    sub = session.bus.subscribe("#", maxsize=65536, policy="drop_oldest")
    files = [s.path for s in config.sinks if isinstance(s, JsonlSink)]

    async def pump() -> None:
        with contextlib.ExitStack() as stack:
            outs = []
            for path in files:
                path.parent.mkdir(parents=True, exist_ok=True)
                outs.append(stack.enter_context(path.open("w", encoding="utf-8")))
            async for message in sub:
                kind = getattr(message.payload, "type", "samples")
                result.messages[kind] = result.messages.get(kind, 0) + 1
                if outs:
                    text = message_to_json(message, clock) + "\n"
                    for out in outs:
                        out.write(text)
                if emit is not None:
                    emit(message, clock)

    async with contextlib.AsyncExitStack() as stack:
        if virtual:
            link = await stack.enter_async_context(VirtualLink())
            script = ArousalScript.calm_stress_recovery(config.session.duration_s or 60.0)
            twins = []
            for i, entry in enumerate(config.devices):
                name = entry.name or f"wearsdk twin {i}"
                if entry.name is None:
                    raise ConfigError(f"devices[{i}]: virtual devices are found by name")
                peripheral = await link.add_peripheral(name=name)
                twin_cls = _entry("wearsdk.twins", entry.driver)
                heart = HeartSimulator(script, seed=config.session.seed + i)
                extra = dict(entry.twin_options)
                if "profile" in entry.options:
                    extra.setdefault("profile", entry.options["profile"])
                twins.append(twin_cls(peripheral, heart, clock, name=name, **extra))
            transport = await stack.enter_async_context(link.central())
        else:
            transport = await stack.enter_async_context(parse_transport(config.session.transport))
        await stack.enter_async_context(session)
        pump_task = asyncio.create_task(pump(), name="wearsdk[run].output")
        if mqtt_sink is not None:
            participant = consent.participant if consent is not None else "unknown"
            mqtt = MqttConfig(
                url=mqtt_sink.url,
                session=Pseudonymizer().pseudonym(participant, prefix="s"),
                policy=ExportPolicy(mqtt_sink.export),
                ca_file=None if mqtt_sink.ca_file is None else str(mqtt_sink.ca_file),
                qos={
                    "estimate": mqtt_sink.qos_estimate,
                    "status": 1,
                    "features": 1,
                    "annotation": 1,
                    "samples": 0,
                },
            )
            bridge = MqttBridge(session.bus, clock, mqtt, consent=consent)
            bridge_task = asyncio.create_task(bridge.run(), name="wearsdk[run].mqtt")
            stack.push_async_callback(_stop, bridge_task)
        for i, entry in enumerate(config.devices):
            result.sources.append(session.add(_driver(entry, transport, i)))
        if virtual:
            for twin in twins:
                await stack.enter_async_context(twin)
        if config.session.duration_s is None:
            await asyncio.Event().wait()  # until interrupted
        else:
            await session.sleep(config.session.duration_s)
            if mqtt_sink is not None:
                await asyncio.sleep(0.5)  # let the last estimates leave
    await pump_task
    result.dropped = sub.statistics().dropped
    return result
