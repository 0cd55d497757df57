"""The connect / stream / reconnect loop every device driver runs."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable

from wearsdk._errors import DeviceNotFoundError
from wearsdk.session._source import SourceContext

__all__ = ["run_with_reconnect"]


async def run_with_reconnect(
    ctx: SourceContext,
    connection: Callable[[], Awaitable[None]],
    *,
    retry_on: tuple[type[BaseException], ...],
    reconnect: bool = True,
    max_attempts: int = 0,
    backoff_max_s: float = 10.0,
    logger: logging.Logger | None = None,
    identity: str | None = None,
) -> None:
    """Run ``connection()`` (one connection, until the link ends) again and again.

    Reports ``connecting`` / ``reconnecting`` (with the attempt number and, after a failed
    attempt, why it failed in ``detail``), then ``failed`` or ``closed`` as
    :class:`~wearsdk.DeviceStatus`; waits a capped, full-jitter exponential
    backoff between attempts (0.25 s doubling up to ``backoff_max_s``, AWS's "full jitter").

    Args:
        ctx: the source's context.
        connection: one connection's work; returns when the link ended normally.
        retry_on: errors that count as a failed attempt (others propagate at once).
        reconnect: connect again after the link ended (else return).
        max_attempts: re-raise after this many failed attempts in a row; 0 = never.
        backoff_max_s: cap of the backoff.
        logger: where attempts are logged (pseudonymous source ids only).
        identity: the device's name or address, kept out of the reasons published and logged.
    """
    log = logger or logging.getLogger("wearsdk.drivers")
    failures = 0
    attempt = 0
    reason: str | None = None
    said: str | None = None  # the last reason logged as a warning
    while True:
        attempt += 1
        ctx.status("connecting" if attempt == 1 else "reconnecting", attempt=attempt, detail=reason)
        try:
            await connection()
            failures = 0
            reason = None
        except retry_on as exc:
            failures += 1
            reason = public_reason(exc, identity)
            log.info("%s: connection attempt %d failed: %s", ctx.source_id, attempt, exc)
            if reason != said:  # said once (the default log level shows it), not per attempt
                log.warning("%s: cannot connect (retrying): %s", ctx.source_id, reason)
                said = reason
            if max_attempts and failures >= max_attempts:
                ctx.status("failed", detail=reason)
                raise
        if not reconnect:
            ctx.status("closed")
            return
        await asyncio.sleep(random.uniform(0, min(backoff_max_s, 0.25 * 2 ** min(failures, 8))))


_ADDRESS = re.compile(r"\b([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b")


def public_reason(exc: BaseException, identity: str | None = None) -> str:
    """Why a connection attempt failed, fit for a :class:`~wearsdk.DeviceStatus` ``detail``.

    The device's name or address (``identity``, and the identifier of a
    :class:`~wearsdk.DeviceNotFoundError`) is replaced by ``<device>`` and any Bluetooth
    address by ``<address>`` (a status may leave the process); at most 200 characters.
    """
    text = str(exc) or type(exc).__name__
    private = {identity} if identity else set()
    if isinstance(exc, DeviceNotFoundError) and exc.identifier:
        private.add(exc.identifier)
    for name in sorted(private, key=len, reverse=True):
        text = text.replace(repr(name), "<device>")
        # the name where it stands as a word: a strap called "S" leaves "OS" as it is
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "<device>", text)
    text = _ADDRESS.sub("<address>", text)
    return text if len(text) <= 200 else text[:199] + "…"
