"""The connect / stream / reconnect loop every device driver runs."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

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
) -> None:
    """Run ``connection()`` (one connection, until the link ends) again and again.

    Reports ``connecting`` / ``reconnecting`` (with the attempt number), then ``failed`` or
    ``closed`` as :class:`~wearsdk.DeviceStatus`; waits a capped, full-jitter exponential
    backoff between attempts (0.25 s doubling up to ``backoff_max_s``, AWS's "full jitter").

    Args:
        ctx: the source's context.
        connection: one connection's work; returns when the link ended normally.
        retry_on: errors that count as a failed attempt (others propagate at once).
        reconnect: connect again after the link ended (else return).
        max_attempts: re-raise after this many failed attempts in a row; 0 = never.
        backoff_max_s: cap of the backoff.
        logger: where attempts are logged (pseudonymous source ids only).
    """
    log = logger or logging.getLogger("wearsdk.drivers")
    failures = 0
    attempt = 0
    while True:
        attempt += 1
        ctx.status("connecting" if attempt == 1 else "reconnecting", attempt=attempt)
        try:
            await connection()
            failures = 0
        except retry_on as exc:
            failures += 1
            log.info("%s: connection attempt %d failed: %s", ctx.source_id, attempt, exc)
            if max_attempts and failures >= max_attempts:
                ctx.status("failed", detail=type(exc).__name__)
                raise
        if not reconnect:
            ctx.status("closed")
            return
        await asyncio.sleep(random.uniform(0, min(backoff_max_s, 0.25 * 2 ** min(failures, 8))))
