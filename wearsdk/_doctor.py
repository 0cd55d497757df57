"""``wearsdk doctor``: what this machine can do, and what to fix.

Each check returns a :class:`Check` with a status:

* ``ok``: works;
* ``warn``: an optional capability is missing; wearsdk works without it (the fix says how
  to add it);
* ``fail``: something that was asked for does not work (a broker given with ``--mqtt`` that
  does not answer, a data directory that cannot be written);
* ``skip``: not checked (say, no broker was given).

``wearsdk doctor`` exits 0 when no check failed and 3 when one did.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from wearsdk._config import sessions_home
from wearsdk._errors import ConfigError
from wearsdk._version import __version__

__all__ = ["Check", "CheckStatus", "broker_check", "format_checks", "run_checks"]

CheckStatus = Literal["ok", "warn", "fail", "skip"]
"""Outcome of one check."""


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: what was checked (``ble``, ``lsl``, ``mqtt-broker``...).
        status: ``ok``, ``warn``, ``fail`` or ``skip``.
        summary: what was found, in one line.
        fix: what to do about it (``None`` when nothing needs doing).
    """

    name: str
    status: CheckStatus
    summary: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return asdict(self)


def _version_of(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _python_check() -> Check:
    return Check(
        "python",
        "ok",
        f"wearsdk {__version__} on Python {platform.python_version()} ({sys.platform})",
    )


VIRTUAL_HINT = (
    "without hardware, `wearsdk demo` and `wearsdk twin KIND --transport SPEC` run virtual "
    "devices over a virtual Bluetooth link"
)


def _ble_check(sysfs: Path = Path("/sys/class/bluetooth")) -> Check:
    bleak = _version_of("bleak")
    if bleak is None:
        return Check(
            "ble",
            "warn",
            "bleak is not installed: no access to the operating system's Bluetooth stack",
            "pip install 'wearsdk[ble]'; " + VIRTUAL_HINT,
        )
    if not sys.platform.startswith("linux"):
        return Check(
            "ble",
            "ok",
            f"bleak {bleak} (the {sys.platform} Bluetooth stack; adapters are not probed here)",
        )
    adapters = sorted(p.name for p in sysfs.glob("hci*")) if sysfs.is_dir() else []
    if not adapters:
        return Check(
            "ble",
            "warn",
            f"bleak {bleak}, but no Bluetooth adapter found ({sysfs} lists none)",
            "plug in a Bluetooth adapter (a USB dongle works without BlueZ through "
            "`--transport bumble:usb:0`); " + VIRTUAL_HINT,
        )
    bus = Path("/run/dbus/system_bus_socket")
    if not bus.exists():
        return Check(
            "ble",
            "warn",
            f"bleak {bleak}, adapter(s) {', '.join(adapters)}, but no D-Bus system bus at {bus}",
            "start dbus and bluetoothd (BlueZ), or drive the adapter through bumble: "
            "`--transport bumble:usb:0` (after `hciconfig hci0 down`)",
        )
    return Check("ble", "ok", f"bleak {bleak}, adapter(s): {', '.join(adapters)}")


def _bumble_check() -> Check:
    bumble = _version_of("bumble")
    if bumble is None:
        return Check(
            "bumble",
            "warn",
            "bumble is not installed: no virtual devices (demo, twins) and no USB dongles "
            "without the OS stack",
            "pip install 'wearsdk[bumble]'",
        )
    try:
        importlib.import_module("bumble.device")
    except Exception as exc:  # a broken install: report it, do not crash the doctor
        return Check("bumble", "fail", f"bumble {bumble} does not import: {exc}", None)
    return Check("bumble", "ok", f"bumble {bumble}: virtual devices and USB dongles available")


def _lsl_check() -> Check:
    if _version_of("pylsl") is None:
        return Check(
            "lsl",
            "warn",
            "pylsl is not installed: no LSL outlets; the session clock falls back to "
            "time.monotonic()",
            "pip install 'wearsdk[lsl]' (its wheels bundle liblsl)",
        )
    try:
        pylsl = importlib.import_module("pylsl")
        lib = pylsl.library_version()
        pylsl.local_clock()
    except Exception as exc:  # pylsl raises RuntimeError when liblsl cannot be loaded
        return Check(
            "lsl",
            "fail",
            f"pylsl is installed but liblsl does not load: {exc}",
            "reinstall pylsl (pip install --force-reinstall pylsl), or point PYLSL_LIB at "
            "liblsl.so",
        )
    cfg = os.environ.get("LSLAPICFG")
    where = f"; LSLAPICFG={cfg}" if cfg else ""
    return Check(
        "lsl",
        "ok",
        f"pylsl {pylsl.__version__}, liblsl {lib // 100}.{lib % 100}: session clock is the "
        f"LSL clock{where}",
    )


def _optional_check(name: str, dist: str, extra: str, purpose: str) -> Check:
    version = _version_of(dist)
    if version is None:
        return Check(
            name,
            "warn",
            f"{dist} is not installed: no {purpose}",
            f"pip install 'wearsdk[{extra}]'",
        )
    return Check(name, "ok", f"{dist} {version}: {purpose}")


def _data_check(home: Path | None = None) -> Check:
    home = home or sessions_home()
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the folder is created when a session first needs it
    if not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
        return Check(
            "data-dir",
            "fail",
            f"cannot write session logs and reports to {home} ({existing} is not writable)",
            "set WEARSDK_HOME to a writable directory, or pass --out DIR",
        )
    return Check("data-dir", "ok", f"session logs and reports go to {home} (WEARSDK_HOME)")


def _recordings_check() -> Check:
    env = os.environ.get("WEARSDK_DATA")
    if not env:
        return Check(
            "recordings",
            "skip",
            "WEARSDK_DATA is not set (only needed for replays "
            "of shared recordings and the data tests)",
        )
    root = Path(env)
    if not root.is_dir():
        return Check(
            "recordings",
            "fail",
            f"WEARSDK_DATA={env} is not a directory",
            "point WEARSDK_DATA at the folder of recordings, or unset it",
        )
    return Check("recordings", "ok", f"recordings in {root}")


def _pseudonym_check() -> Check:
    if os.environ.get("WEARSDK_PSEUDONYM_KEY"):
        return Check(
            "pseudonyms", "ok", "WEARSDK_PSEUDONYM_KEY set: source ids are stable keyed pseudonyms"
        )
    return Check(
        "pseudonyms",
        "warn",
        "WEARSDK_PSEUDONYM_KEY is not set: source ids are pseudonyms under a random per-run key "
        "(they change from one run to the next)",
        "for ids that stay stable across sessions, set WEARSDK_PSEUDONYM_KEY to a secret kept "
        "off the exported data",
    )


async def broker_check(target: str, *, timeout_s: float = 3.0) -> Check:
    """Connect to an MQTT broker and wait for its CONNACK.

    Args:
        target: ``host:port``, ``host`` or an ``mqtt://``/``mqtts://`` URL (credentials in
            the URL are used and never shown).
        timeout_s: how long to wait for the broker.

    Returns:
        ``ok`` with the round trip, or ``fail`` with the cause and what to do.
    """
    from wearsdk.io.mqtt import MqttConfig

    url = target if "://" in target else f"mqtt://{target}"
    try:
        config = MqttConfig(url=url, session="doctor")
        port = config.port  # a bad port number raises ValueError
    except (ConfigError, ValueError) as exc:
        return Check(
            "mqtt-broker",
            "fail",
            f"cannot read {target!r}: {exc}",
            "give host:port or mqtt://host:port",
        )
    where = config.safe_url()
    try:
        import aiomqtt
    except ImportError:
        return Check(
            "mqtt-broker", "warn", "aiomqtt is not installed", "pip install 'wearsdk[mqtt]'"
        )
    user, password = config.credentials()
    tls = None
    if config.tls:
        import ssl

        tls = ssl.create_default_context(cafile=config.ca_file)
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            async with aiomqtt.Client(
                config.host,
                port,
                username=user,
                password=password,
                identifier=f"wearsdk-doctor-{os.getpid()}",
                tls_context=tls,
                timeout=timeout_s,
            ):
                pass
    except TimeoutError:
        return Check(
            "mqtt-broker",
            "fail",
            f"no answer from {where} within {timeout_s:g} s",
            "check the host, the port and any firewall between here and the broker",
        )
    except aiomqtt.MqttCodeError as exc:
        return Check(
            "mqtt-broker",
            "fail",
            f"{where} answered but refused the connection ({exc.rc})",
            "check the user name and password in the URL (mqtt://user:password@host:port)",
        )
    except (aiomqtt.MqttError, OSError) as exc:
        text = str(exc)
        low = text.lower()
        if "refused" in low:
            fix = (
                f"nothing listens on {config.host}:{port}: start a broker there (e.g. "
                f"`mosquitto -p {port}`) or give the right --mqtt host:port"
            )
        elif "resol" in low or "not known" in low:
            fix = f"the host name {config.host!r} does not resolve: check its spelling or DNS"
        else:
            fix = "check that an MQTT broker runs there and that the port is the MQTT one"
        return Check("mqtt-broker", "fail", f"cannot reach {where}: {text}", fix)
    ms = 1000 * (time.perf_counter() - start)
    return Check("mqtt-broker", "ok", f"{where} accepted an MQTT connection ({ms:.0f} ms)")


def run_checks(mqtt: str | None = None, *, timeout_s: float = 3.0) -> list[Check]:
    """Run every check, in the order they are shown.

    Args:
        mqtt: a broker to check (``host:port`` or URL); ``None`` skips that check.
        timeout_s: how long to wait for the broker.
    """
    local: list[Callable[[], Check]] = [
        _python_check,
        _ble_check,
        _bumble_check,
        _lsl_check,
        lambda: _optional_check(
            "mqtt-client", "aiomqtt", "mqtt", "MQTT export (--mqtt, MqttBridge)"
        ),
        lambda: _optional_check("plots", "matplotlib", "plot", "session report figures"),
        lambda: _optional_check("live-view", "rich", "cli", "live terminal view"),
        lambda: _optional_check(
            "neurokit2", "neurokit2", "signals", "reference DSP to cross-check against"
        ),
        _data_check,
        _recordings_check,
        _pseudonym_check,
    ]
    checks = [check() for check in local]
    if mqtt is None:
        checks.append(
            Check(
                "mqtt-broker",
                "skip",
                "no broker given (wearsdk doctor --mqtt host:port checks one)",
            )
        )
    else:
        checks.append(asyncio.run(broker_check(mqtt, timeout_s=timeout_s)))
    return checks


_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def format_checks(checks: list[Check]) -> str:
    """The human-readable report: one line per check, the fix indented below it."""
    lines = []
    for c in checks:
        lines.append(f"[{_MARK[c.status]}] {c.name:<12} {c.summary}")
        if c.fix and c.status != "ok":
            lines.append(f"{'':19} -> {c.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(
        f"{failed} problem(s), {warned} warning(s)"
        + ("" if failed else ": ready (warnings name optional parts)")
    )
    return "\n".join(lines)
