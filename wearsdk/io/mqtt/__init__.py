"""MQTT bridge: the bus to and from an MQTT broker (aiomqtt), under an export policy.

Out: selected bus topics become JSON :class:`~wearsdk.io.WireMessage` payloads on
``<prefix>/<session>/...`` topics (``affect/estimate``, ``<source>/status``, ``<source>/features``,
``<source>/<stream>``), with a QoS per class of message. In: ``<prefix>/<session>/analyzer/#``
(:class:`~wearsdk.io.AnnotationIn`, mapped onto the session clock) and
``<prefix>/<session>/control`` (:class:`~wearsdk.io.CommandIn`) become bus events.

Delivery: messages wait in a bounded, ordered outbox (overflow policy and size configurable,
drops counted) and leave it only once the broker acknowledged them, so a broker restart loses
nothing the outbox could hold; after a reconnect they are sent again in order. QoS 1 is
at-least-once: a message in flight when the link broke may arrive twice, with the same ``seq``,
which consumers use to drop it. The client keeps a persistent session (``clean_session=False``,
a stable client id) so the broker queues what its subscriptions miss.

Nothing leaves without a :class:`~wearsdk.Consent` that allows the bridge's
:class:`~wearsdk.ExportPolicy`; credentials never appear in logs or reprs.
"""

from wearsdk.io.mqtt._analyzer import AnalyzerClient, AnalyzerStatistics
from wearsdk.io.mqtt._bridge import MqttBridge, MqttStatistics
from wearsdk.io.mqtt._config import (
    PASSWORD_ENV,
    ClockNotSyncedError,
    CredentialsWarning,
    MqttAuthError,
    MqttConfig,
    MqttTlsError,
    resolve_mqtt_config,
)
from wearsdk.io.mqtt._link import decode_inbound

__all__ = [
    "PASSWORD_ENV",
    "AnalyzerClient",
    "AnalyzerStatistics",
    "ClockNotSyncedError",
    "CredentialsWarning",
    "MqttAuthError",
    "MqttBridge",
    "MqttConfig",
    "MqttStatistics",
    "MqttTlsError",
    "decode_inbound",
    "resolve_mqtt_config",
]
