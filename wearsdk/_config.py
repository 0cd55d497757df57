"""Where sessions go, and session configuration files (``--config session.toml``)."""

from __future__ import annotations

import importlib.metadata
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wearsdk._errors import ConfigError

__all__ = [
    "DeviceEntry",
    "JsonlSink",
    "MqttSink",
    "PipelineSection",
    "SessionConfig",
    "SessionSection",
    "load_session_config",
    "sessions_home",
]


def sessions_home() -> Path:
    """The folder for session logs and reports: ``$WEARSDK_HOME/sessions``.

    ``WEARSDK_HOME`` defaults to ``$XDG_DATA_HOME/wearsdk`` (``~/.local/share/wearsdk``).
    """
    home = os.environ.get("WEARSDK_HOME")
    if home:
        return Path(home).expanduser() / "sessions"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "wearsdk" / "sessions"


# -- session configuration files -------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceEntry(_Strict):
    """One device of a session (``[[devices]]``).

    Attributes:
        driver: driver name in the ``wearsdk.drivers`` entry-point group (``heart-rate``,
            ``polar-h10``, ``bitalino``, ``gatt-profile`` or a third party's).
        name: advertised name to look for.
        address: device address (instead of the name).
        options: further keyword arguments of the driver (``acc_rate_hz = 50``...).
        twin_options: keyword arguments of its virtual twin, with ``transport = "virtual"``.
    """

    driver: str
    name: str | None = None
    address: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    twin_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        installed = sorted(
            ep.name for ep in importlib.metadata.entry_points(group="wearsdk.drivers")
        )
        if v not in installed:
            raise ValueError(f"unknown driver {v!r}; installed: {', '.join(installed)}")
        return v

    @model_validator(mode="after")
    def _one_identifier(self) -> DeviceEntry:
        if (self.name is None) == (self.address is None):
            raise ValueError("give exactly one of name or address")
        return self


class JsonlSink(_Strict):
    """Write every bus message as one JSON line (``kind = "jsonl"``).

    Attributes:
        kind: ``"jsonl"``.
        path: the file (its folder is created).
    """

    kind: Literal["jsonl"]
    path: Path


class MqttSink(_Strict):
    """Export to an MQTT broker (``kind = "mqtt"``), under a consent record.

    Attributes:
        kind: ``"mqtt"``.
        url: ``mqtt://[user:password@]host:port`` or ``mqtts://...``.
        export: what may leave the process: ``estimates``, ``features`` or ``raw``.
        consent: the wearer's consent record (JSON); not needed with virtual devices (the
            simulated wearer's consent is used).
        ca_file: CA certificate for ``mqtts://``.
        qos_estimate: QoS of estimates (and stress levels).
    """

    kind: Literal["mqtt"]
    url: str = Field(pattern=r"^mqtts?://")
    export: Literal["estimates", "features", "raw"] = "estimates"
    consent: Path | None = None
    ca_file: Path | None = None
    qos_estimate: Literal[0, 1, 2] = 1


class PipelineSection(_Strict):
    """Processing settings (``[pipeline]``); see :class:`wearsdk.session.PipelineConfig`.

    Attributes:
        window_s: feature window length.
        hop_s: hop between windows.
        baseline_s: seconds that calibrate the wearer's baseline.
        min_coverage: windows with less data are flagged.
        publish_clean: also publish the cleaned ECG and EDA (tonic, phasic) signals on the
            bus (recorded, and exported with ``export = "raw"``).
    """

    window_s: float = Field(default=60.0, gt=0)
    hop_s: float = Field(default=1.0, gt=0)
    baseline_s: float = Field(default=120.0, ge=0)
    min_coverage: float = Field(default=0.6, ge=0, le=1)
    publish_clean: bool = False


class SessionSection(_Strict):
    """The session itself (``[session]``).

    Attributes:
        name: a label for the session (file names, report title).
        transport: ``bleak`` (the OS Bluetooth stack), ``bumble:<spec>``, or ``virtual``
            (each device's virtual twin on an in-process link, driven by a calm, stress and
            recovery script).
        duration_s: stop after this many session seconds (default: until interrupted;
            required with ``virtual``).
        speed: with ``virtual``, session seconds per real second.
        seed: with ``virtual``, the simulators' seed.
        report: draw the session report here at the end (needs a ``jsonl`` sink).
    """

    name: str = Field(default="session", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    transport: str = "bleak"
    duration_s: float | None = Field(default=None, gt=0)
    speed: float = Field(default=1.0, gt=0)
    seed: int = 0
    report: Path | None = None

    @field_validator("transport")
    @classmethod
    def _transport(cls, v: str) -> str:
        if v not in ("bleak", "virtual") and not v.startswith("bumble:"):
            raise ValueError("transport must be 'bleak', 'virtual' or 'bumble:<spec>'")
        return v


class SessionConfig(_Strict):
    """A session file: devices, sinks and options (``wearsdk run --config session.toml``).

    Attributes:
        session: the session's own settings.
        pipeline: processing settings.
        devices: at least one device.
        sinks: where the events go besides the terminal.
    """

    session: SessionSection = Field(default_factory=SessionSection)
    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    devices: list[DeviceEntry] = Field(min_length=1)
    sinks: list[Annotated[JsonlSink | MqttSink, Field(discriminator="kind")]] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _consistent(self) -> SessionConfig:
        if self.session.transport == "virtual" and self.session.duration_s is None:
            raise ValueError("session.duration_s is required with transport = 'virtual'")
        if self.session.report is not None and not any(
            isinstance(s, JsonlSink) for s in self.sinks
        ):
            raise ValueError("session.report needs a jsonl sink (the report reads its log)")
        if sum(isinstance(s, MqttSink) for s in self.sinks) > 1:
            raise ValueError("at most one mqtt sink")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("jsonl", "mqtt") and out.endswith("]"):
            continue  # the union member pydantic tried: not a place in the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_session_config(path: Path | str) -> SessionConfig:
    """Read and validate a session file (TOML).

    Relative paths in the file (sinks, consent, report) are taken from the file's folder.

    Raises:
        ConfigError: the file cannot be read, is not TOML, or does not validate; the message
            names every bad field (``devices[1].driver: unknown driver 'x'...``).
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from exc
    try:
        config = SessionConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"{p}: {problems}") from None
    return _relative_to(config, p.parent)


def _relative_to(config: SessionConfig, base: Path) -> SessionConfig:
    def fix(q: Path | None) -> Path | None:
        return None if q is None or q.is_absolute() else base / q

    sinks: list[JsonlSink | MqttSink] = []
    for s in config.sinks:
        if isinstance(s, JsonlSink):
            sinks.append(s.model_copy(update={"path": fix(s.path) or s.path}))
        else:
            sinks.append(
                s.model_copy(
                    update={
                        "consent": fix(s.consent) or s.consent,
                        "ca_file": fix(s.ca_file) or s.ca_file,
                    }
                )
            )
    session = config.session.model_copy(
        update={"report": fix(config.session.report) or config.session.report}
    )
    return config.model_copy(update={"sinks": sinks, "session": session})
