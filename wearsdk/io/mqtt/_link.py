"""The broker link: the aiomqtt client, inbound decoding, which errors end a session."""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from wearsdk._clock import SessionClock
from wearsdk._events import (
    Annotation,
    Command,
)
from wearsdk.io._wire import (
    AnnotationIn,
    CommandIn,
    InboundPayloadError,
    _parse_bounded,
)
from wearsdk.io.mqtt._config import (
    MqttAuthError,
    MqttConfig,
    MqttTlsError,
)


def _client(config: MqttConfig, identifier: str, *, clean_session: bool) -> Any:
    """An ``aiomqtt.Client`` (not yet entered) for ``config``: credentials, TLS, quiet logger."""
    import aiomqtt

    user, password = config.credentials()
    tls: ssl.SSLContext | None = None
    if config.tls:
        tls = ssl.create_default_context(cafile=config.ca_file)
        if config.cert_file:
            tls.load_cert_chain(config.cert_file, config.key_file)
    client_logger = logging.getLogger("wearsdk.mqtt.client")
    # aiomqtt warns once per publish while many are in flight: keep only real errors
    client_logger.setLevel(max(client_logger.level, logging.ERROR))
    return aiomqtt.Client(
        config.host,
        config.port,
        username=user,
        password=password,
        identifier=identifier,
        clean_session=clean_session,
        tls_context=tls,
        logger=client_logger,
        timeout=10,
    )


def decode_inbound(
    control: bool, data: bytes | bytearray, clock: SessionClock
) -> tuple[str, Command | Annotation]:
    """Decode one inbound MQTT payload into the bus topic and event it becomes.

    Bounded and finite: at most :data:`~wearsdk.io.MAX_INBOUND_BYTES` bytes, no NaN or
    infinity anywhere, a label of at most 4096 characters, ``extras`` and ``args`` within
    :data:`~wearsdk.JSON_LIMITS` (63 ``extras`` keys: the bridge adds ``_via``), unix times
    in [0, 1e11]. What passes serialises to finite JSON in every sink.

    Args:
        control: the payload came on the ``control`` topic (else an analyzer topic).
        data: the raw payload (JSON).
        clock: the session clock (commands are stamped now, annotations mapped from unix).

    Raises:
        InboundPayloadError: the payload is refused; its ``reason`` says why (a
            ``ValueError``).
        ConfigError: it decodes but cannot be placed on the session clock.
    """
    if control:
        cmd = _parse_bounded(CommandIn, data)
        return f"control/{cmd.command}", Command(
            t=clock.now(), name=cmd.command, args=cmd.args, origin="mqtt"
        )
    incoming = _parse_bounded(AnnotationIn, data)
    try:
        ann = incoming.to_annotation(clock)
        event = Annotation.model_validate(
            {**ann.model_dump(), "extras": {**ann.extras, "_via": "mqtt"}}
        )
    except ValidationError as exc:
        raise InboundPayloadError.from_validation(exc, bytes(data)) from None
    return f"analyzer/{ann.modality}/{ann.analyzer_id}", event


def _link_error(exc: BaseException) -> BaseException:
    """The first link-level error in ``exc`` (a group or not); anything else is re-raised."""
    import aiomqtt

    leaves: list[BaseException] = []
    stack = [exc]
    while stack:
        e = stack.pop()
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        else:
            leaves.append(e)
    for e in leaves:
        if not isinstance(e, aiomqtt.MqttError | OSError | TimeoutError):
            raise e
    return leaves[0]


def _backoff_s(failures: int, cap_s: float) -> float:
    """Wait before reconnection attempt ``failures``: exponential from 0.2 s, capped, jittered
    (full jitter, so that many clients of a restarted broker do not return at once)."""  # noqa: D205, D209
    return random.uniform(0, min(cap_s, 0.2 * 2 ** min(failures, 8)))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the members of a group, and everything in their ``__cause__`` and
    ``__context__`` chains (aiomqtt raises a plain ``MqttError`` with the ``SSLError`` only
    in ``__context__``)."""  # noqa: D205, D209
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        stack.extend(x for x in (e.__cause__, e.__context__) if x is not None)


_TRANSIENT_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _tls_cause(e: ssl.SSLError) -> str:
    if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message:
        return f"certificate verify failed: {e.verify_message}"
    return str(e.reason or e.strerror or e).replace("_", " ").lower()


def _raise_if_fatal(
    exc: BaseException, config: MqttConfig, failures: int = 1, *, ever_connected: bool = False
) -> None:
    """Raise the typed error when ``exc`` is a failure retrying would only repeat.

    :class:`MqttAuthError` for credentials the broker refused; :class:`MqttTlsError` for a
    certificate that does not verify, or a broker that resets the first TLS handshake (a
    plain listener), at once; for a TLS handshake cut short ``failures >= 3`` times in a row.
    """
    import aiomqtt

    chain = list(_causes(exc))
    for e in chain:
        rc = getattr(e, "rc", None)
        if isinstance(e, aiomqtt.MqttCodeError) and _is_auth_failure(rc):
            raise MqttAuthError(
                f"the broker at {config.safe_url()} refused the credentials ({rc})"
            ) from None
    for e in chain:
        if isinstance(e, ssl.SSLError) and (not isinstance(e, _TRANSIENT_TLS) or failures >= 3):
            raise MqttTlsError(f"TLS to {config.safe_url()} failed: {_tls_cause(e)}") from None
    if config.tls and not ever_connected:
        for e in chain:
            if isinstance(e, ConnectionResetError):
                raise MqttTlsError(
                    f"TLS to {config.safe_url()} failed: the broker reset the connection during "
                    "the handshake (does it speak TLS on this port? mqtts is usually 8883)"
                ) from None
    if config.tls and failures >= 3:
        # aiomqtt keeps only the text of some errors: an SSL error named in a message
        for e in chain:
            text = str(e)
            if "[SSL" in text or "certificate verify failed" in text:
                raise MqttTlsError(f"TLS to {config.safe_url()} failed: {text}") from None


def _is_auth_failure(rc: object) -> bool:
    text = str(rc).lower()
    with contextlib.suppress(TypeError, ValueError):
        if int(rc) in (4, 5, 134, 135):  # type: ignore[call-overload]
            return True
    return "not authorized" in text or "bad user name or password" in text
