"""What a configured session checks before and while it runs: consent, output files,
that every device connects, and the consent gate's live conditions."""  # noqa: D205, D209

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wearsdk._config import (
    JsonlSink,
    LslSink,
    MqttSink,
    SessionConfig,
    SessionSection,
)
from wearsdk._errors import DeviceNotFoundError
from wearsdk._events import DeviceStatus
from wearsdk._files import check_output
from wearsdk._privacy import Consent, ConsentGate, ExportPolicy, require_consent
from wearsdk.bus import Subscription
from wearsdk.session import (
    Session,
)

logger = logging.getLogger("wearsdk.session")


def _consent(config: SessionConfig) -> Consent | None:
    """The wearer's consent when data leaves the process or is recorded, checked for each use.

    The record of an exporting sink, else the session's; with virtual devices and none given,
    the simulated wearer's (allowing the widest export asked for). ``None`` when nothing is
    exported or recorded.

    Raises:
        ConsentError: no record, or one that does not allow an export or the recording.
    """
    exports = [s for s in config.sinks if isinstance(s, MqttSink | LslSink)]
    record = config.session.record is not None
    path = next((s.consent for s in exports if s.consent is not None), config.session.consent)
    # read also when unused: a wrong path is said, not ignored
    consent = Consent.load(path) if path is not None else None
    if not exports and not record:
        return None
    if consent is None and config.session.transport == "virtual":
        widest = max((ExportPolicy(s.export) for s in exports), key=lambda p: p.rank, default=None)
        consent = Consent.simulated_participant(export=widest or ExportPolicy.ESTIMATES)
    for sink in exports:
        require_consent(consent, export=ExportPolicy(sink.export))
    return require_consent(consent, record=record)


def _check_outputs(config: SessionConfig) -> None:
    """The files the session writes, checked before anything connects.

    Raises:
        ConfigError: one exists (without ``overwrite``) or cannot be created.
    """
    overwrite = config.session.overwrite
    if config.session.record is not None:
        check_output(config.session.record, overwrite=overwrite, what="the recording")
    for i, sink in enumerate(config.sinks):
        if isinstance(sink, JsonlSink):
            check_output(sink.path, overwrite=overwrite, what=f"sinks[{i}] (jsonl)")
    if config.session.report is not None:
        for path in (config.session.report, config.session.report.with_suffix(".html")):
            check_output(path, overwrite=overwrite, what="the report")


async def _until_connected(
    statuses: Subscription,
    devices: dict[str, str],
    timeout_s: float | None,
    reasons: dict[str, str] | None = None,
) -> None:
    """Return once every device has connected; raise when one has not within ``timeout_s``.

    Args:
        statuses: a subscription to ``device/+/status``.
        devices: what each source id is, for the message (``heart-rate 'Strap'``).
        timeout_s: real seconds (``None``: no limit).
        reasons: filled with why each device's last attempt failed, by source id.

    Raises:
        DeviceNotFoundError: a device never connected; the message names it and the last
            reason an attempt failed.
    """
    waiting = dict(devices)
    reasons = {} if reasons is None else reasons
    try:
        async with asyncio.timeout(timeout_s):
            while waiting:
                message = await statuses.receive()
                status = message.payload
                if not isinstance(status, DeviceStatus) or status.source not in waiting:
                    continue
                if status.state == "connected":
                    del waiting[status.source]
                elif status.detail and status.state in ("reconnecting", "failed"):
                    reasons[status.source] = status.detail  # why the last attempt failed
    except TimeoutError:
        source, what = next(iter(waiting.items()))
        if what.startswith("LSL"):
            hint = "no stream matches it; is its outlet running, on this network?"
        else:
            hint = "no answer; check that it is on and in range, and the driver"
        reason = reasons.get(source, hint)
        raise DeviceNotFoundError(
            what, f"{what} not connected within {timeout_s:g} s; last attempt: {reason}"
        ) from None


async def _until_streaming(data: Subscription, devices: dict[str, str], timeout_s: float) -> None:
    """Return once every device has published data; raise when one has not in ``timeout_s``.

    Args:
        data: a subscription to the devices' ``physio/<source_id>/#`` topics.
        devices: what each source id is, for the message (``heart-rate device 'Strap'``).
        timeout_s: real seconds; 0 waits for as long as it takes.

    Raises:
        DeviceNotFoundError: a device sent nothing in time; the message names it.
    """
    waiting = dict(devices)
    try:
        async with asyncio.timeout(timeout_s or None):
            while waiting:
                message = await data.receive()
                waiting.pop(message.topic.split("/")[1], None)
    except TimeoutError:
        what = next(iter(waiting.values()))
        raise DeviceNotFoundError(what, f"{what} sent no data within {timeout_s:g} s") from None


async def _run_live(
    session: Session,
    statuses: Subscription,
    devices: dict[str, str],
    section: SessionSection,
) -> None:
    """Run a live session for its duration (or until interrupted), watching that every
    device connects within ``connect_timeout_s``.

    Raises:
        DeviceNotFoundError: a device did not connect in time, or the session ended before
            it did.
    """  # noqa: D205
    until: Any = (
        asyncio.Event().wait() if section.duration_s is None else session.sleep(section.duration_s)
    )
    if not devices:
        await until
        return
    # connect_timeout_s 0: no limit, but a session that ends before a device connected has
    # not done its job all the same
    reasons: dict[str, str] = {}
    watch = asyncio.ensure_future(
        _until_connected(statuses, devices, section.connect_timeout_s or None, reasons)
    )
    main = asyncio.ensure_future(until)
    try:
        await asyncio.wait({watch, main}, return_when=asyncio.FIRST_COMPLETED)
        if watch.done():
            watch.result()  # raises when a device did not connect in time
            await main
        elif main.done():
            main.result()
            why = next((reasons[s] for s in devices if s in reasons), None)
            raise DeviceNotFoundError(
                next(iter(devices.values())),
                f"the session ended before every device connected ({', '.join(devices.values())})"
                + (f"; last attempt: {why}" if why else ""),
            )
    finally:
        for task in (watch, main):
            task.cancel()
        await asyncio.gather(watch, main, return_exceptions=True)


def _consent_conditions(
    stack: contextlib.AsyncExitStack,
    gate: ConsentGate,
    withdraw_file: Path | None,
    notice: Callable[[str], None] | None,
) -> None:
    """Watch the gate while the session runs: its expiry, ``SIGUSR1`` and the withdrawal
    file withdraw; ``notice`` is told once when it closes."""  # noqa: D205, D209
    if notice is not None:
        gate.on_close(
            lambda reason: notice(
                f"consent {reason}: export and recording stopped; the session goes on"
            )
        )
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(gate.wait_closed(), name="wearsdk[consent].expiry")]
    if withdraw_file is not None:
        tasks.append(asyncio.create_task(gate.watch(withdraw_file), name="wearsdk[consent].file"))
    try:
        loop.add_signal_handler(signal.SIGUSR1, gate.withdraw, "SIGUSR1")
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
        pass
    else:
        stack.callback(loop.remove_signal_handler, signal.SIGUSR1)

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    stack.push_async_callback(stop)


_LATE_ANSWERS_S = 5.0


@contextlib.contextmanager
def _quiet_cancelled_hci_commands() -> Iterator[Callable[[], None]]:
    """Drop bumble's errors for the virtual link's packets that arrive after their waiter.

    When a session ends early (a sink's fatal error, a closed pipe, Ctrl-C) while a virtual
    twin or its central waits for an HCI command, the controller's answer arrives after the
    wait was cancelled and bumble (0.0.236) sets the result of the cancelled future: asyncio
    would log a traceback for an answer nobody waits for. Once the block is left (the link is
    being closed), packets still scheduled for a connection or a controller that is gone fail
    the same way (an ``AssertionError`` on a connection completed after its connect was
    cancelled, ``InvalidArgumentError`` for a removed controller): those are dropped too, and
    logged at debug level. Every other loop error is passed on.

    Yields:
        a function that says the session is ending (call it before the session is left:
        its sources' connects are cancelled then); leaving the block says it too.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    closing = False

    def ending() -> None:
        nonlocal closing
        closing = True

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        handle = repr(context.get("handle"))
        from_link = "Host.on_packet" in handle or "Controller.on_packet" in handle
        exc = context.get("exception")
        if from_link and (isinstance(exc, asyncio.InvalidStateError) or closing):
            logger.debug("virtual link packet after its session ended: %r", exc)
            return
        if previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    def restore() -> None:
        if loop.get_exception_handler() is handler:
            loop.set_exception_handler(previous)

    loop.set_exception_handler(handler)
    try:
        yield ending
    finally:
        # the late packets are callbacks already scheduled as the link closes, and when the
        # process is ending (a closed pipe, Ctrl-C) they run while asyncio.run winds down,
        # after this block: the handler stays for a while after it
        closing = True
        loop.call_later(_LATE_ANSWERS_S, restore)
