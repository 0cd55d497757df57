"""Argument types and shared options of the ``wearsdk`` commands."""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wearsdk._errors import ConfigError

TRANSPORT_HELP = (
    "BLE transport: 'bleak' (the OS Bluetooth stack, default) or 'bumble:<spec>' "
    "(e.g. bumble:usb:0, bumble:tcp-client:127.0.0.1:19001)"
)
"""Help of ``--transport``."""


def add_option_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--option KEY=VALUE`` (repeatable): keyword arguments for a driver or a twin."""
    parser.add_argument(
        "--option", type=option, action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``: the value read as a TOML value (``50``, ``true``, ``[3]``), else a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def construct(cls: Any, what: str, *args: Any, options: dict[str, Any], **kwargs: Any) -> Any:
    """``cls(*args, **kwargs, **options)``; an option it does not take is a ConfigError."""
    try:
        return cls(*args, **kwargs, **options)
    except TypeError as exc:
        params = list(inspect.signature(cls).parameters)[len(args) :]
        taken = sorted(p for p in params if p not in kwargs)
        raise ConfigError(f"{what}: {exc}; options it takes: {', '.join(taken)}") from None


def add_mqtt_arguments(parser: argparse.ArgumentParser, *, consent: bool) -> None:
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        help="export to an MQTT broker: mqtt://[user@]host:port or mqtts://...",
    )
    parser.add_argument(
        "--export",
        choices=("estimates", "features", "raw"),
        default="estimates",
        help="what may leave the process (default: estimates)",
    )
    parser.add_argument("--mqtt-ca", metavar="FILE", help="CA certificate for mqtts://")
    parser.add_argument(
        "--mqtt-session",
        metavar="ID",
        help="the session id in the MQTT topics (wearsdk/ID/...), what a remote analyzer "
        "subscribes with (examples/mqtt_analyzer.py --session ID); default: 'demo' for the "
        "demo, else a keyed pseudonym of the consent record's participant",
    )
    parser.add_argument(
        "--mqtt-password-file",
        metavar="FILE",
        help="the broker password: the first line of FILE (chmod 600); else "
        "$WEARSDK_MQTT_PASSWORD (a password in the URL is visible to other users)",
    )
    if consent:
        parser.add_argument(
            "--consent",
            metavar="FILE",
            help="the wearer's consent record (JSON); required to export (see docs/privacy.md)",
        )
        parser.add_argument(
            "--withdraw-file",
            type=Path,
            metavar="PATH",
            help="withdraw the consent when PATH appears (as SIGUSR1 does): export and "
            "recording stop at once, the session goes on",
        )


def check_consent(args: argparse.Namespace, *, record: bool = False) -> None:
    """Refuse early when data would leave the process (``--mqtt``, ``--lsl``) or be recorded
    without a consent record that allows it (checked against ``--export``). A ``--consent``
    file is read also when nothing leaves the process: a wrong path is said, not ignored.

    Raises:
        ConsentError: no ``--consent``, one that cannot be read (missing, not a consent
            record, expired), or one that does not allow the operation.
    """  # noqa: D205
    from wearsdk._privacy import Consent, ExportPolicy, require_consent

    consent = getattr(args, "consent", None)
    loaded = Consent.load(consent) if consent is not None else None
    exports = bool(args.mqtt or getattr(args, "lsl", False))
    if not (exports or record):
        return
    policy = ExportPolicy(args.export) if exports else None
    require_consent(loaded, export=policy, record=record)  # raises with the reason


def export_sinks(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The ``[[sinks]]`` of ``--mqtt`` (which also takes remote analyzers in) and ``--lsl``."""
    consent = getattr(args, "consent", None)
    sinks: list[dict[str, Any]] = []
    if args.mqtt:
        mqtt: dict[str, Any] = {
            "kind": "mqtt",
            "url": args.mqtt,
            "export": args.export,
            "ca_file": args.mqtt_ca,
            "password_file": args.mqtt_password_file,
            "consent": consent,
            "inbound": True,
        }
        if getattr(args, "mqtt_session", None) is not None:
            mqtt["session"] = args.mqtt_session
        sinks.append(mqtt)
    if getattr(args, "lsl", False):
        sinks.append({"kind": "lsl", "export": args.export, "consent": consent})
    return sinks


def check_options(cls: Any, what: str, *args: Any, options: dict[str, Any], **kwargs: Any) -> None:
    """Whether ``cls(*args, **kwargs, **options)`` takes these options; else a ConfigError
    that names the ones it takes (before anything connects).
    """  # noqa: D205
    try:
        inspect.signature(cls).bind(*args, **kwargs, **options)
    except TypeError as exc:
        params = list(inspect.signature(cls).parameters)[len(args) :]
        taken = sorted(p for p in params if p not in kwargs)
        raise ConfigError(f"{what}: {exc}; options it takes: {', '.join(taken)}") from None


def entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def load(group: str, name: str) -> Any:
    eps = entry_points(group)
    if name not in eps:
        raise ConfigError(f"unknown {group.split('.')[-1][:-1]} {name!r}; installed: {sorted(eps)}")
    return eps[name].load()


def looks_like_address(text: str) -> bool:
    return bool(
        re.fullmatch(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", text)
        or re.fullmatch(r"[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}", text)
    )


def add_report_arguments(parser: argparse.ArgumentParser, *, default_on: bool) -> None:
    """``--out DIR``-style log and ``--report PNG`` / ``--no-report`` for a session command."""
    when = (
        "default: DIR/report.png with --out DIR, else a new folder under $WEARSDK_HOME/sessions "
        "(human view only)"
        if default_on
        else "default: DIR/report.png with --out DIR, else none"
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PNG",
        default=None,
        help=f"draw the session report here at the end, HTML next to it, and the event log it "
        f"reads, events.jsonl, unless --out DIR puts it elsewhere ({when})",
    )
    parser.add_argument(
        "--no-report", dest="report", action="store_const", const=False, help="no report"
    )


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: the command may replace files that exist (else it refuses to start)."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace output files that exist (default: refuse, and touch nothing)",
    )


def add_live_argument(parser: argparse.ArgumentParser) -> None:
    """``--live/--no-live``: the Rich live view (default: when stdout is a terminal)."""
    parser.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live terminal view (default: on a terminal; plain lines otherwise)",
    )


def report_plan(
    args: argparse.Namespace, *, kind: str, default_on: bool
) -> tuple[Path | None, Path | None]:
    """Where the event log and the report go: ``(log_dir, png)``; either may be ``None``.

    A report needs a log: when one is due and ``--out`` is not given, the log goes next to
    ``--report PNG``, or without it to a new folder ``$WEARSDK_HOME/sessions/<kind>-<UTC time>``.
    """
    out: Path | None = args.out
    report: Path | bool | None = args.report
    if report is False:
        return out, None
    if report is None:
        if out is not None:
            return out, out / "report.png"
        if not default_on or getattr(args, "jsonl", False):
            return None, None
        from wearsdk._config import sessions_home  # pydantic: not for `wearsdk --help`

        stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
        out = sessions_home() / f"{kind}-{stamp}"
        n = 1
        while out.exists():  # two sessions within a second: a folder each
            n += 1
            out = sessions_home() / f"{kind}-{stamp}-{n}"
        return out, out / "report.png"
    assert isinstance(report, Path)
    if out is None:
        out = report.parent
    return out, report
