"""Reading a session file (``--config session.toml``): TOML, validation, paths relative to the
file, input files checked before anything connects."""  # noqa: D205, D209

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from wearsdk._config import (
    FaceAnalyzerEntry,
    FileAnalyzer,
    JsonlSink,
    LslSink,
    MqttAnalyzers,
    ReplaySource,
    SessionConfig,
    VoiceAnalyzerEntry,
    session_config,
)
from wearsdk._errors import ConfigError

__all__ = ["load_session_config"]


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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p} is not UTF-8 text (a TOML file is): {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{p} is nested too deeply") from None
    try:
        config = session_config(data, what=str(p))
    except RecursionError:
        raise ConfigError(f"{p} is nested too deeply") from None
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
        fixed(s, "path")
        if isinstance(s, JsonlSink)
        else fixed(s, "consent")
        if isinstance(s, LslSink)
        else fixed(s, "consent", "ca_file", "password_file")
        for s in config.sinks
    ]
    sources = [fixed(s, "path") if isinstance(s, ReplaySource) else s for s in config.sources]
    analyzers = [
        fixed(a, "ca_file")
        if isinstance(a, MqttAnalyzers)
        else fixed(a, "video", "model")
        if isinstance(a, FaceAnalyzerEntry)
        else a
        for a in (
            fixed(a, "path") if isinstance(a, FileAnalyzer | VoiceAnalyzerEntry) else a
            for a in config.analyzers
        )
    ]
    session = fixed(config.session, "report", "record", "consent", "withdraw_file")
    update = {"sinks": sinks, "session": session, "analyzers": analyzers, "sources": sources}
    return config.model_copy(update=update)


def _check_files(config: SessionConfig, path: Path) -> None:
    """Input files must exist before anything connects."""
    inputs: list[tuple[str, Path | None]] = [("session.consent", config.session.consent)]
    inputs += [
        (f"sinks[{i}].consent", getattr(s, "consent", None)) for i, s in enumerate(config.sinks)
    ]
    for i, a in enumerate(config.analyzers):
        if isinstance(a, FileAnalyzer | VoiceAnalyzerEntry):
            inputs.append((f"analyzers[{i}].path", a.path))
        elif isinstance(a, FaceAnalyzerEntry):
            inputs += [(f"analyzers[{i}].video", a.video), (f"analyzers[{i}].model", a.model)]
    missing = [f"{where}: no such file {p}" for where, p in inputs if p and not p.is_file()]
    missing += [
        f"sources[{i}].path: no such file or folder {s.path}"
        for i, s in enumerate(config.sources)
        if isinstance(s, ReplaySource) and not s.path.exists()
    ]
    if missing:
        raise ConfigError(f"{path}: {'; '.join(missing)}")
