"""Where sessions go, and session configuration files (``--config session.toml``)."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from wearsdk._config_analyzers import (
    AnalyzerEntry,
    FaceAnalyzerEntry,
    FileAnalyzer,
    LslAnalyzer,
    MqttAnalyzers,
    VoiceAnalyzerEntry,
    _Strict,
)
from wearsdk._errors import ConfigError

__all__ = [
    "AnalyzerEntry",
    "DeviceEntry",
    "FaceAnalyzerEntry",
    "FileAnalyzer",
    "JsonlSink",
    "LslAnalyzer",
    "LslSink",
    "LslSource",
    "MqttAnalyzers",
    "MqttSink",
    "PipelineSection",
    "ReplaySource",
    "SessionConfig",
    "SessionSection",
    "SimulationSection",
    "SinkEntry",
    "SourceEntry",
    "VoiceAnalyzerEntry",
    "session_config",
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
        url: ``mqtt://[user@]host:port`` or ``mqtts://...`` (a password in the URL works but
            is visible to other users: a warning says so).
        username: the broker user name (instead of ``user@`` in the URL).
        password_file: a file whose first line is the broker password (keep it 0600).
        password: the broker password (the file is safer; ``WEARSDK_MQTT_PASSWORD`` and
            ``password_file`` take precedence).
        export: what may leave the process: ``estimates``, ``features`` or ``raw``.
        consent: the wearer's consent record (JSON); not needed with virtual devices (the
            simulated wearer's consent is used).
        ca_file: CA certificate for ``mqtts://``.
        qos_estimate: QoS of estimates (and stress levels).
        session: the session id in the topics (default: a keyed pseudonym of the consent
            record's participant).
        inbound: also take analyzer annotations, commands and clock requests from the broker
            (as a ``kind = "mqtt"`` analyzers entry does).
    """

    kind: Literal["mqtt"]
    url: str = Field(pattern=r"^mqtts?://")
    username: str | None = Field(default=None, min_length=1)
    password_file: Path | None = None
    password: str | None = Field(default=None, min_length=1, repr=False)
    export: Literal["estimates", "features", "raw"] = "estimates"
    consent: Path | None = None
    ca_file: Path | None = None
    qos_estimate: Literal[0, 1, 2] = 1
    session: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    inbound: bool = False


class LslSink(_Strict):
    """Publish LSL outlets (``kind = "lsl"``): affect, features, raw streams, as ``export``
    allows, under a consent record (see :class:`~wearsdk.io.lsl.LslOutlets`).

    A replay's outlets are re-stamped onto the LSL clock of now (real-time speed only).

    Attributes:
        kind: ``"lsl"``.
        export: what may leave the process: ``estimates``, ``features`` or ``raw``.
        consent: the wearer's consent record (JSON); not needed with virtual devices.
    """  # noqa: D205

    kind: Literal["lsl"]
    export: Literal["estimates", "features", "raw"] = "estimates"
    consent: Path | None = None


SinkEntry = Annotated[JsonlSink | MqttSink | LslSink, Field(discriminator="kind")]
"""One ``[[sinks]]`` entry, by its ``kind``."""


class ReplaySource(_Strict):
    """Replay a recording through the session at its original times (``kind = "xdf"|"e4"``).

    Attributes:
        kind: ``xdf`` (a wearsdk recording or LabRecorder's) or ``e4`` (an Empatica E4 export
            folder).
        path: the file or folder.
        speed: times real time; ``0`` replays as fast as possible (with backpressure).
        duration_s: replay only the first seconds of the recording.
    """

    kind: Literal["xdf", "e4"]
    path: Path
    speed: float = Field(default=1.0, ge=0)
    duration_s: float | None = Field(default=None, gt=0)


class LslSource(_Strict):
    """Read an LSL stream as a source of the session (``kind = "lsl"``).

    Attributes:
        kind: ``"lsl"``.
        query: the stream (``"type=ECG"``, ``"name=H10,type=ECG"``).
    """

    kind: Literal["lsl"]
    query: str = Field(min_length=1)


SourceEntry = Annotated[ReplaySource | LslSource, Field(discriminator="kind")]
"""One ``[[sources]]`` entry (besides the devices), by its ``kind``."""


class SimulationSection(_Strict):
    """What the simulated wearer does besides wearing virtual devices (``[simulation]``,
    with ``transport = "virtual"``; the ``wearsdk demo`` scenario).

    Attributes:
        markers: publish the script's phases (calm, stress, recovery) as markers on
            ``analyzer/marker/demo-script``.
        contact_loss: the first device reports lost skin contact from 10 % to 25 % of the way
            through the last phase.
        analyzers: simulated camera and voice analyzers follow the script.
        settle_s: session seconds the session goes on after the script (its last windows).
    """  # noqa: D205

    markers: bool = False
    contact_loss: bool = False
    analyzers: bool = False
    settle_s: float = Field(default=0.0, ge=0)


class PipelineSection(_Strict):
    """Processing settings (``[pipeline]``); see :class:`wearsdk.session.PipelineConfig`.

    Attributes:
        window_s: feature window length.
        hop_s: hop between windows.
        baseline_s: seconds that calibrate the wearer's baseline.
        min_coverage: windows with less data are flagged.
        stale_s: a stream silent for this long stops holding windows back.
        publish_clean: also publish the cleaned ECG and EDA (tonic, phasic) signals on the
            bus (recorded, and exported with ``export = "raw"``).
        stress_min_dwell_s: the shortest time a stress level is held (default: the shipped
            model's).
        eda_lowpass_hz: EDA cleaning low-pass cutoff (the ``eda_*`` keys are the settings
            of :class:`~wearsdk.signals.EdaProcessor`; unset: its defaults, with which the
            shipped model was validated).
        eda_tonic_window_s: EDA tonic envelope window.
        eda_tonic_cutoff_hz: EDA tonic smoothing cutoff.
        eda_tonic_margin_usiemens: EDA tonic margin below the signal.
        eda_amplitude_min_usiemens: smallest skin-conductance response counted.
        eda_peak_confirm_s: how long an SCR peak waits to be confirmed.
        eda_max_rise_s: longest SCR rise.
        eda_range_usiemens: plausible skin-conductance range ``[low, high]``.
        eda_flat_s: a run of identical EDA values this long is flagged as flat.
    """

    window_s: float = Field(default=60.0, gt=0)
    hop_s: float = Field(default=1.0, gt=0)
    baseline_s: float = Field(default=180.0, ge=0)
    min_coverage: float = Field(default=0.6, ge=0, le=1)
    stale_s: float = Field(default=10.0, gt=0)
    publish_clean: bool = False
    stress_min_dwell_s: float | None = Field(default=None, ge=0)
    eda_lowpass_hz: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_tonic_window_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_tonic_cutoff_hz: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_tonic_margin_usiemens: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_amplitude_min_usiemens: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_peak_confirm_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_max_rise_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    eda_range_usiemens: tuple[float, float] | None = None
    eda_flat_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    def eda_options(self) -> dict[str, Any]:
        """The ``eda_*`` keys that are set, without the prefix (an ``EdaOptions``)."""
        return {
            name.removeprefix("eda_"): value
            for name, value in self
            if name.startswith("eda_") and value is not None
        }


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
        record: record the session to this XDF file (needs ``consent``, allowing recording,
            unless the devices are virtual; and the ``lsl`` extra).
        consent: the wearer's consent record (JSON) for ``record``.
        overwrite: the session's files (``record``, ``jsonl`` sinks, ``report``) may replace
            existing files; by default an existing file stops the session before it starts.
        connect_timeout_s: a device or LSL input not connected within this many seconds ends
            the session with an error that says why (``device not found``, exit code 1);
            ``0``: retry until interrupted.
        withdraw_file: while the session runs, the appearance of this file withdraws the
            wearer's consent (as ``SIGUSR1`` does): export and recording stop at once, the
            session goes on in-process.
    """

    name: str = Field(default="session", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    transport: str = "bleak"
    duration_s: float | None = Field(default=None, gt=0)
    speed: float = Field(default=1.0, gt=0)
    seed: int = 0
    report: Path | None = None
    record: Path | None = None
    consent: Path | None = None
    overwrite: bool = False
    connect_timeout_s: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    withdraw_file: Path | None = None

    @field_validator("transport")
    @classmethod
    def _transport(cls, v: str) -> str:
        if v not in ("bleak", "virtual") and not v.startswith("bumble:"):
            raise ValueError("transport must be 'bleak', 'virtual' or 'bumble:<spec>'")
        return v


class SessionConfig(_Strict):
    """A whole session: devices, sources, sinks and options.

    A session file (``wearsdk run --config session.toml``) loads into one; ``demo``,
    ``stream``, ``record`` and ``replay`` build one from their arguments; one runner
    (:func:`wearsdk._run.run_session`) runs them all.

    Attributes:
        session: the session's own settings.
        pipeline: processing settings.
        devices: the devices (``devices = []`` when ``sources`` feed the session instead).
        sources: other sources: LSL streams, recordings to replay.
        sinks: where the events go besides the terminal.
        analyzers: camera, voice and marker analyzers: file replays, WAV files, remote
            analyzers over MQTT, LSL marker streams.
        simulation: with ``transport = "virtual"``: the scenario around the virtual devices.
    """

    session: SessionSection = Field(default_factory=SessionSection)
    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    devices: list[DeviceEntry]
    sources: list[SourceEntry] = Field(default_factory=list)
    sinks: list[SinkEntry] = Field(default_factory=list)
    analyzers: list[AnalyzerEntry] = Field(default_factory=list)
    simulation: SimulationSection = Field(default_factory=SimulationSection)

    @property
    def replays(self) -> list[ReplaySource]:
        """The recordings this session replays."""
        return [s for s in self.sources if isinstance(s, ReplaySource)]

    @model_validator(mode="after")
    def _consistent(self) -> SessionConfig:
        cameras = [a for a in self.analyzers if isinstance(a, FaceAnalyzerEntry)]
        if not self.devices and not self.sources and not cameras:
            raise ValueError(
                "give at least one device (or a source: an LSL stream, a replay; or a face "
                "analyzer's camera or video)"
            )
        if len(self.replays) > 1 or (self.replays and (self.devices or len(self.sources) > 1)):
            raise ValueError("a replay is the session's only source")
        if self.replays and self.session.transport == "virtual":
            raise ValueError("a replay runs on the recording's clock, not transport = 'virtual'")
        if (
            self.session.record is not None
            and self.session.consent is None
            and self.session.transport != "virtual"
        ):
            raise ValueError(
                "session.record needs session.consent: the wearer's consent record (JSON)"
            )
        if self.session.transport == "virtual" and self.session.duration_s is None:
            raise ValueError("session.duration_s is required with transport = 'virtual'")
        if self.session.report is not None and not any(
            isinstance(s, JsonlSink) for s in self.sinks
        ):
            raise ValueError("session.report needs a jsonl sink (the report reads its log)")
        sink = next((s for s in self.sinks if isinstance(s, MqttSink)), None)
        if sum(isinstance(s, MqttSink) for s in self.sinks) > 1:
            raise ValueError("at most one mqtt sink")
        if sum(isinstance(s, LslSink) for s in self.sinks) > 1:
            raise ValueError("at most one lsl sink")
        remote = [a for a in self.analyzers if isinstance(a, MqttAnalyzers)]
        if len(remote) > 1:
            raise ValueError("at most one mqtt analyzers entry")
        for entry in remote:
            if entry.url is None and sink is None:
                raise ValueError("the mqtt analyzers entry needs a url (or an mqtt sink)")
            if sink is not None and entry.url not in (None, sink.url):
                raise ValueError("the mqtt analyzers entry and the mqtt sink use one broker")
        ids = [a.resolved_id for a in self.analyzers if isinstance(a, FileAnalyzer)] + [
            a.analyzer_id
            for a in self.analyzers
            if isinstance(a, VoiceAnalyzerEntry | FaceAnalyzerEntry)
        ]
        if len(set(ids)) != len(ids):
            raise ValueError(f"analyzer ids must differ: {', '.join(ids)}")
        return self


_UNION_TAGS = ("jsonl", "mqtt", "file", "voice", "face", "lsl", "xdf", "e4")


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS and out.endswith("]"):
            continue  # the union member pydantic tried: not a place in the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def session_config(data: dict[str, Any], *, what: str = "the session") -> SessionConfig:
    """Validate a session description (a session file's tables, or a command's arguments).

    Raises:
        ConfigError: ``what`` followed by every bad field (``devices[1].driver: ...``).
    """
    try:
        return SessionConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"{what}: {problems}") from None
