"""TLS and authentication failures are reported at once, with their cause, against a real
mosquitto (self-signed CAs made in the test, a password file); credentials and URL checks."""

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.io.mosquitto import Mosquitto, make_test_ca
from wearsdk import Bus, ConfigError, ConnectionLostError, Consent, ExportPolicy, SessionClock
from wearsdk.io.mqtt import (
    PASSWORD_ENV,
    AnalyzerClient,
    CredentialsWarning,
    MqttAuthError,
    MqttBridge,
    MqttConfig,
    MqttTlsError,
    resolve_mqtt_config,
)

pytestmark = [
    pytest.mark.timeout(90),
    # paho-mqtt leaves the socket of a failed TLS handshake to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def _collect_leaked_sockets() -> Iterator[None]:
    yield
    gc.collect()  # here, under this module's filters, not in a later test


def consent() -> Consent:
    return Consent(
        participant="p-0042",
        purposes=("research",),
        export=ExportPolicy.ESTIMATES,
        obtained_by="study nurse",
        obtained_unix=1.7e9,
    )


async def bridge_error(bus: Bus, clock: SessionClock, config: MqttConfig) -> BaseException:
    """What ``MqttBridge.run`` raises (it must end by itself well before the timeout)."""
    bridge = MqttBridge(bus, clock, config, consent=consent())
    with pytest.raises(Exception) as info:  # noqa: PT011  # the type is asserted by callers
        await asyncio.wait_for(bridge.run(), 8)
    assert bridge.stats.connects == 0
    return info.value


async def analyzer_connects(config: MqttConfig) -> None:
    """An analyzer process's first connection (must end well before the timeout)."""
    async with asyncio.timeout(8):
        async with AnalyzerClient(config, analyzer_id="cam1", modality="face"):
            pass


async def test_certificate_for_another_host_is_reported_at_once(
    tmp_path: Path, session_bus: tuple[Bus, SessionClock]
) -> None:
    bus, clock = session_bus
    ca, cert, key = make_test_ca(tmp_path / "pki", names=("broker.example",))
    with Mosquitto(tmp_path, tls=(ca, cert, key)) as broker:
        config = MqttConfig(
            url=f"mqtts://localhost:{broker.port}", session="s-tls", ca_file=str(ca)
        )
        error = await bridge_error(bus, clock, config)
        assert isinstance(error, MqttTlsError)
        assert isinstance(error, ConnectionLostError)
        assert "certificate verify failed: hostname mismatch" in str(error).lower()
        by_ip = MqttConfig(url=f"mqtts://127.0.0.1:{broker.port}", session="s-tls", ca_file=str(ca))
        error = await bridge_error(bus, clock, by_ip)
        assert "certificate verify failed: ip address mismatch" in str(error).lower()
        with pytest.raises(MqttTlsError, match="certificate verify failed"):
            await analyzer_connects(config)


async def test_untrusted_ca_is_reported_at_once(
    tmp_path: Path, session_bus: tuple[Bus, SessionClock]
) -> None:
    bus, clock = session_bus
    ca, cert, key = make_test_ca(tmp_path / "pki")
    other_ca, _, _ = make_test_ca(tmp_path / "other")
    with Mosquitto(tmp_path, tls=(ca, cert, key)) as broker:
        config = MqttConfig(
            url=f"mqtts://127.0.0.1:{broker.port}", session="s-tls", ca_file=str(other_ca)
        )
        error = await bridge_error(bus, clock, config)
        assert isinstance(error, MqttTlsError)
        assert "certificate verify failed" in str(error)


async def test_tls_to_a_plain_listener_is_an_error_not_a_loop(
    tmp_path: Path, session_bus: tuple[Bus, SessionClock]
) -> None:
    bus, clock = session_bus
    ca, _, _ = make_test_ca(tmp_path / "pki")
    with Mosquitto(tmp_path) as broker:
        config = MqttConfig(url=broker.url, session="s-tls", ca_file=str(ca), backoff_max_s=0.5)
        error = await bridge_error(bus, clock, config)
        assert isinstance(error, MqttTlsError)


async def test_wrong_password_from_a_password_file_is_reported_at_once(
    tmp_path: Path, session_bus: tuple[Bus, SessionClock]
) -> None:
    bus, clock = session_bus
    with Mosquitto(tmp_path, users={"car17": "right horse battery"}) as broker:
        secret = tmp_path / "mqtt.pw"
        secret.write_text("wrong horse\n")
        secret.chmod(0o600)
        url = f"mqtt://car17@127.0.0.1:{broker.port}"
        config = resolve_mqtt_config(url, "s-pw", password_file=secret, environ={})
        error = await bridge_error(bus, clock, config)
        assert isinstance(error, MqttAuthError)
        assert "wrong" not in str(error)
        with pytest.raises(MqttAuthError):
            await analyzer_connects(config)
        secret.write_text("right horse battery\n")
        good = MqttBridge(
            bus,
            clock,
            resolve_mqtt_config(url, "s-pw", password_file=secret, environ={}),
            consent=consent(),
        )
        task = asyncio.create_task(good.run())
        await asyncio.wait_for(good.connected.wait(), 10)
        task.cancel()


def test_password_sources_in_order_and_a_warning_for_the_url(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored second line\n")
    secret.chmod(0o600)
    env = {PASSWORD_ENV: "from-env"}
    url = "mqtts://car17@broker.example:8883"
    assert resolve_mqtt_config(url, "s", password_file=secret, environ=env).password == "from-file"
    assert resolve_mqtt_config(url, "s", environ=env, password="p").password == "from-env"
    assert resolve_mqtt_config(url, "s", environ={}, password="p").password == "p"
    plain = resolve_mqtt_config(url, "s", environ={})
    assert plain.credentials() == ("car17", None)
    with pytest.warns(CredentialsWarning, match="visible to other users"):
        in_url = resolve_mqtt_config("mqtt://car17:s%40cret@h:1883", "s", environ={})
    assert in_url.credentials() == ("car17", "s@cret")
    assert "cret" not in in_url.url
    assert "cret" not in repr(in_url)
    assert in_url.port == 1883


def test_password_file_mistakes_are_config_errors(tmp_path: Path) -> None:
    url = "mqtt://car17@h"
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_mqtt_config(url, "s", password_file=tmp_path / "missing", environ={})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        resolve_mqtt_config(url, "s", password_file=empty, environ={})
    shared = tmp_path / "shared"
    shared.write_text("pw\n")
    shared.chmod(0o644)
    with pytest.warns(CredentialsWarning, match="readable by other users"):
        resolve_mqtt_config(url, "s", password_file=shared, environ={})
    with pytest.raises(ConfigError, match="needs a user name"):
        resolve_mqtt_config("mqtt://h", "s", environ={PASSWORD_ENV: "x"})


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://host:99999",
        "mqtt://host:0",
        "mqtt://host:port",
        "mqtt://[::1",
        "mqtt://[not-ipv6]:1883",
        "mqtt://",
        "http://host:1883",
        "mqtt://host:1883/path",
    ],
)
def test_malformed_urls_are_config_errors_at_parse_time(url: str) -> None:
    with pytest.raises(ConfigError, match="MQTT URL must look like"):
        MqttConfig(url=url, session="s")
    with pytest.raises(ConfigError):
        resolve_mqtt_config(url, "s", environ={})


def test_ipv6_hosts_are_kept() -> None:
    config = MqttConfig(url="mqtt://[::1]:1884", session="s")
    assert (config.host, config.port) == ("::1", 1884)
    assert config.safe_url() == "mqtt://[::1]:1884"
    assert resolve_mqtt_config("mqtt://[::1]:1884", "s", environ={}).url == "mqtt://[::1]:1884"
