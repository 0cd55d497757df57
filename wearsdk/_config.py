"""Where sessions go, and session configuration files (``--config session.toml``)."""

from __future__ import annotations

import importlib.metadata
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wearsdk._errors import ConfigError

if TYPE_CHECKING:
    from wearsdk.analyzers import ColumnMapping

__all__ = [
    "AnalyzerEntry",
    "DeviceEntry",
    "FileAnalyzer",
    "JsonlSink",
    "LslAnalyzer",
    "MqttAnalyzers",
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


_ANALYZER_ID = r"^[^/+#\s]{1,64}$"


class _Timed(_Strict):
    """Where file time 0 of a recorded analysis lies on the session clock."""

    start_s: float = Field(default=0.0, ge=0)
    start_unix: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_start(self) -> _Timed:
        if self.start_unix is not None and "start_s" in self.model_fields_set:
            raise ValueError("give start_s or start_unix, not both")
        return self


class FileAnalyzer(_Timed):
    """Replay an offline analysis of the session's video (``kind = "file"``).

    The file is read through :mod:`wearsdk.analyzers` (:func:`~wearsdk.analyzers.
    read_openface_csv`, :func:`~wearsdk.analyzers.read_pyfeat_csv` or
    :func:`~wearsdk.analyzers.read_table`) and published by an
    :class:`~wearsdk.analyzers.AnnotationReplay`, each annotation when the session clock
    reaches its end, so the session fuses it like a live camera analyzer's.

    Attributes:
        kind: ``"file"``.
        format: ``openface`` (OpenFace 2.0 ``FeatureExtraction`` CSV), ``py-feat`` (a py-feat
            ``Fex`` CSV) or ``table`` (any CSV/TSV/JSONL, through ``columns``).
        path: the file.
        analyzer_id: the annotations' analyzer id (default: the format's, ``table`` for
            tables).
        window_s: OpenFace and py-feat frames are averaged over windows this long.
        fps: the video's frame rate, for py-feat files without ``approx_time``.
        columns: for ``table``: the :class:`~wearsdk.analyzers.ColumnMapping` fields
            (``time``, ``arousal``, ``valence``, ``emotions``, ``modality``...).
        start_s: session seconds after the session starts at which file time 0 lies.
        start_unix: unix time of file time 0 (when the video started); instead of ``start_s``.
    """

    kind: Literal["file"]
    format: Literal["openface", "py-feat", "table"]
    path: Path
    analyzer_id: str | None = Field(default=None, pattern=_ANALYZER_ID)
    window_s: float = Field(default=1.0, gt=0)
    fps: float | None = Field(default=None, gt=0)
    columns: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _format_options(self) -> FileAnalyzer:
        if self.format == "table":
            if self.columns is None:
                raise ValueError("format = 'table' needs columns = { time = ..., ... }")
            self.mapping()  # validates
        elif self.columns is not None:
            raise ValueError(f"columns is for format = 'table', not {self.format!r}")
        if self.fps is not None and self.format != "py-feat":
            raise ValueError("fps is for format = 'py-feat'")
        return self

    @property
    def resolved_id(self) -> str:
        """The analyzer id its annotations carry."""
        return self.analyzer_id or {"openface": "openface", "py-feat": "py-feat"}.get(
            self.format, str((self.columns or {}).get("analyzer_id", "table"))
        )

    def mapping(self) -> ColumnMapping:
        """The column mapping of a ``table`` file.

        Raises:
            ValueError: unknown fields or values the mapping refuses.
        """
        from wearsdk.analyzers import ColumnMapping

        fields = dict(self.columns or {})
        for key in ("emotions", "arousal_range", "valence_range"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(fields[key])
        if self.analyzer_id is not None:
            fields["analyzer_id"] = self.analyzer_id
        try:
            return ColumnMapping(**fields)
        except TypeError as exc:
            raise ValueError(f"columns: {exc}") from None
        except ConfigError as exc:
            raise ValueError(f"columns: {exc}") from None


class VoiceAnalyzerEntry(_Timed):
    """Analyse a recording of the wearer's voice (``kind = "voice"``, a PCM WAV file).

    Runs the built-in :class:`~wearsdk.analyzers.VoiceAnalyzer` (prosody to arousal), paced
    on the session clock as if live.

    Attributes:
        kind: ``"voice"``.
        path: the WAV file.
        analyzer_id: the analyzer's id.
        segment_s: length of the analysed segments.
        start_s: session seconds after the session starts at which the audio starts.
        start_unix: unix time of the audio's first sample; instead of ``start_s``.
    """

    kind: Literal["voice"]
    path: Path
    analyzer_id: str = Field(default="voice-prosody", pattern=_ANALYZER_ID)
    segment_s: float = Field(default=2.0, gt=0)


class MqttAnalyzers(_Strict):
    """Accept remote analyzers over MQTT (``kind = "mqtt"``).

    Analyzers in other processes or on other machines publish annotations to
    ``wearsdk/<session>/analyzer/<modality>/<analyzer_id>`` (with
    :class:`~wearsdk.io.mqtt.AnalyzerClient`, which also maps their clocks); the session's
    bridge validates them and puts them on the bus, where they are fused. Commands
    (``wearsdk/<session>/control``) are accepted too. Without this entry an MQTT sink only
    exports.

    Attributes:
        kind: ``"mqtt"``.
        url: the broker (default: the MQTT sink's; one bridge serves both).
        session: the session id in the topics (default: ``[session] name``); with an MQTT
            sink, its topics use it too.
        ca_file: CA certificate for ``mqtts://`` (default: the sink's).
    """

    kind: Literal["mqtt"]
    url: str | None = Field(default=None, pattern=r"^mqtts?://")
    session: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    ca_file: Path | None = None


class LslAnalyzer(_Strict):
    """Read markers or analyzer annotations from an LSL string stream (``kind = "lsl"``).

    An experiment's marker stream (``query = "type=Markers"``) gives labelled markers; JSON
    annotations in the analyzer contract are fused (:class:`~wearsdk.drivers.lsl.LslInlet`).
    Needs the ``lsl`` extra.

    Attributes:
        kind: ``"lsl"``.
        query: the stream (``"type=Markers"``, ``"name=PsychoPy,type=Markers"``).
        source_id: the id its annotations carry (default: a pseudonym of the query).
    """

    kind: Literal["lsl"]
    query: str = Field(min_length=1)
    source_id: str | None = Field(default=None, pattern=_ANALYZER_ID)


AnalyzerEntry = Annotated[
    FileAnalyzer | VoiceAnalyzerEntry | MqttAnalyzers | LslAnalyzer, Field(discriminator="kind")
]
"""One ``[[analyzers]]`` entry, by its ``kind``."""


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
        record: record the session to this XDF file (needs ``consent``, allowing recording,
            unless the devices are virtual; and the ``lsl`` extra).
        consent: the wearer's consent record (JSON) for ``record``.
    """

    name: str = Field(default="session", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    transport: str = "bleak"
    duration_s: float | None = Field(default=None, gt=0)
    speed: float = Field(default=1.0, gt=0)
    seed: int = 0
    report: Path | None = None
    record: Path | None = None
    consent: Path | None = None

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
        analyzers: camera, voice and marker analyzers: file replays, WAV files, remote
            analyzers over MQTT, LSL marker streams.
    """

    session: SessionSection = Field(default_factory=SessionSection)
    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    devices: list[DeviceEntry] = Field(min_length=1)
    sinks: list[Annotated[JsonlSink | MqttSink, Field(discriminator="kind")]] = Field(
        default_factory=list
    )
    analyzers: list[AnalyzerEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SessionConfig:
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
        remote = [a for a in self.analyzers if isinstance(a, MqttAnalyzers)]
        if len(remote) > 1:
            raise ValueError("at most one mqtt analyzers entry")
        for entry in remote:
            if entry.url is None and sink is None:
                raise ValueError("the mqtt analyzers entry needs a url (or an mqtt sink)")
            if sink is not None and entry.url not in (None, sink.url):
                raise ValueError("the mqtt analyzers entry and the mqtt sink use one broker")
        ids = [a.resolved_id for a in self.analyzers if isinstance(a, FileAnalyzer)] + [
            a.analyzer_id for a in self.analyzers if isinstance(a, VoiceAnalyzerEntry)
        ]
        if len(set(ids)) != len(ids):
            raise ValueError(f"analyzer ids must differ: {', '.join(ids)}")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("jsonl", "mqtt", "file", "voice", "lsl") and out.endswith("]"):
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
    config = _relative_to(config, p.parent)
    _check_files(config, p)
    return config


def _relative_to(config: SessionConfig, base: Path) -> SessionConfig:
    def fix(q: Path | None) -> Path | None:
        return None if q is None or q.is_absolute() else base / q

    def fixed(model: BaseModel, *names: str) -> Any:
        update = {n: fix(getattr(model, n)) or getattr(model, n) for n in names}
        return model.model_copy(update=update)

    sinks = [
        fixed(s, "path") if isinstance(s, JsonlSink) else fixed(s, "consent", "ca_file")
        for s in config.sinks
    ]
    analyzers = [
        fixed(a, "ca_file") if isinstance(a, MqttAnalyzers) else a
        for a in (
            fixed(a, "path") if isinstance(a, FileAnalyzer | VoiceAnalyzerEntry) else a
            for a in config.analyzers
        )
    ]
    session = fixed(config.session, "report", "record", "consent")
    return config.model_copy(update={"sinks": sinks, "session": session, "analyzers": analyzers})


def _check_files(config: SessionConfig, path: Path) -> None:
    """Input files must exist before anything connects."""
    inputs: list[tuple[str, Path | None]] = [("session.consent", config.session.consent)]
    inputs += [
        (f"sinks[{i}].consent", getattr(s, "consent", None)) for i, s in enumerate(config.sinks)
    ]
    for i, a in enumerate(config.analyzers):
        if isinstance(a, FileAnalyzer | VoiceAnalyzerEntry):
            inputs.append((f"analyzers[{i}].path", a.path))
    missing = [f"{where}: no such file {p}" for where, p in inputs if p and not p.is_file()]
    if missing:
        raise ConfigError(f"{path}: {'; '.join(missing)}")
