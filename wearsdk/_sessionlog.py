"""Read a session's event log (the JSON lines of ``--jsonl`` / ``--out DIR``) back into arrays.

The log is the one wire shape of the CLI (:mod:`wearsdk._jsonl`): every line has ``topic``,
``type``, ``t`` and ``t_unix``; sample blocks carry per-sample lists. Lines that are not JSON
objects with that envelope are counted in :attr:`SessionLog.skipped` and left out, never
silently: reports show the count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wearsdk._errors import SessionLogError

__all__ = ["SessionLog", "StreamData", "load_session_log", "session_log_from_lines"]

FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class StreamData:
    """One stream of one source, all its blocks joined in time order.

    Attributes:
        source: pseudonymous source id.
        stream: stream name (``rr``, ``ecg``, ``eda``...).
        unit: unit of the values.
        channels: channel names.
        nominal_rate_hz: nominal sampling rate, ``None`` for irregular streams (RR).
        t: session times, shape ``(n,)``.
        values: values, shape ``(n, channels)``.
    """

    source: str
    stream: str
    unit: str
    channels: tuple[str, ...]
    nominal_rate_hz: float | None
    t: FloatArray
    values: FloatArray


@dataclass(slots=True)
class SessionLog:
    """A session's events, grouped for plotting and summaries.

    Attributes:
        path: where it was read from (``None`` when built from lines in memory).
        streams: sample streams keyed by ``(source, stream)``.
        events: non-sample events by ``type`` (``estimate``, ``features``, ``gap``...), as
            the dicts of the log, in file order.
        skipped: lines left out (not JSON, or without the envelope).
        unix_offset_s: ``t_unix - t`` of the session (``None`` if the log has no ``t_unix``).
        t_start: earliest session time in the log.
        t_end: latest session time in the log.
    """

    path: Path | None
    streams: dict[tuple[str, str], StreamData] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: int = 0
    unix_offset_s: float | None = None
    t_start: float = 0.0
    t_end: float = 0.0

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The events of one ``type`` (an empty list when there are none)."""
        return self.events.get(kind, [])

    def estimates(self) -> list[dict[str, Any]]:
        """The session's final estimates, one per window, in time order.

        These are the ``affect/estimate`` events (fused with analyzers when the session ran
        fusion; the physiological ``affect/physio`` ones only when the log has nothing else),
        and a window revised by late annotations keeps its last version.
        """
        every = self.of("estimate")
        fused = [e for e in every if e.get("topic") != "affect/physio"]
        latest: dict[float, dict[str, Any]] = {}
        for e in fused or every:
            latest[float(e.get("window_end", e["t"]))] = e
        return sorted(latest.values(), key=lambda e: float(e["t"]))

    def stream(self, name: str) -> StreamData | None:
        """The first source's stream called ``name`` (``rr``, ``eda``...), if any."""
        for (_, stream), data in self.streams.items():
            if stream == name:
                return data
        return None

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last event."""
        return self.t_end - self.t_start

    @property
    def sources(self) -> list[str]:
        """Sources seen in the log (sample streams and device events), sorted."""
        found = {s for s, _ in self.streams}
        for kind in ("device_status", "heart_rate", "gap"):
            found.update(str(e["source"]) for e in self.of(kind) if "source" in e)
        return sorted(found)


def _chunks(lines: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    skipped = 0
    for text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            skipped += 1
            continue
        if not (isinstance(obj, dict) and {"type", "t"} <= obj.keys()):
            skipped += 1
            continue
        records.append(obj)
    return records, skipped


def session_log_from_lines(lines: Iterable[str], path: Path | None = None) -> SessionLog:
    """Build a :class:`SessionLog` from JSON lines.

    Raises:
        SessionLogError: no line is a wearsdk event.
    """
    records, skipped = _chunks(lines)
    if not records:
        raise SessionLogError(
            f"{path or 'the log'} holds no wearsdk events ({skipped} unreadable line(s)); "
            "write one with `wearsdk demo --out DIR` or `--jsonl > FILE`",
            str(path or ""),
        )
    log = SessionLog(path=path, skipped=skipped)
    parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    lo, hi = np.inf, -np.inf
    for r in records:
        if r["type"] == "samples":
            try:
                t = np.asarray(r["t"], dtype=np.float64)
                v = np.asarray(
                    [[np.nan if x is None else x for x in row] for row in r["values"]],
                    dtype=np.float64,
                )
                key = (str(r["source"]), str(r["stream"]))
            except (KeyError, TypeError, ValueError):
                log.skipped += 1
                continue
            if t.ndim != 1 or v.ndim != 2 or v.shape[0] != t.shape[0] or t.size == 0:
                log.skipped += 1
                continue
            parts.setdefault(key, []).append({**r, "t": t, "values": v})
            lo, hi = min(lo, float(t[0])), max(hi, float(t[-1]))
            if log.unix_offset_s is None and r.get("t_unix"):
                log.unix_offset_s = float(r["t_unix"][0]) - float(t[0])
            continue
        try:
            t0 = float(r["t"])
        except (TypeError, ValueError):
            log.skipped += 1
            continue
        log.events.setdefault(str(r["type"]), []).append(r)
        lo, hi = min(lo, t0), max(hi, t0)
        if log.unix_offset_s is None and isinstance(r.get("t_unix"), int | float):
            log.unix_offset_s = float(r["t_unix"]) - t0
    for key, blocks in parts.items():
        first = blocks[0]
        t = np.concatenate([b["t"] for b in blocks])
        width = max(b["values"].shape[1] for b in blocks)
        v = np.concatenate(
            [
                np.pad(
                    b["values"], ((0, 0), (0, width - b["values"].shape[1])), constant_values=np.nan
                )
                for b in blocks
            ]
        )
        order = np.argsort(t, kind="stable")
        log.streams[key] = StreamData(
            source=key[0],
            stream=key[1],
            unit=str(first.get("unit", "")),
            channels=tuple(first.get("channels") or ()),
            nominal_rate_hz=first.get("nominal_rate_hz"),
            t=t[order],
            values=v[order],
        )
    log.t_start, log.t_end = (float(lo), float(hi)) if np.isfinite(lo) else (0.0, 0.0)
    return log


def load_session_log(path: Path | str) -> SessionLog:
    """Read a session's JSON-lines event log.

    Args:
        path: the ``.jsonl`` file (``events.jsonl`` in a ``--out`` folder), or that folder.

    Raises:
        SessionLogError: the file is missing, unreadable, or holds no wearsdk events.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "events.jsonl"
    try:
        with p.open(encoding="utf-8") as f:
            return session_log_from_lines(f, p)
    except OSError as exc:
        raise SessionLogError(f"cannot read {p}: {exc.strerror or exc}", str(p)) from exc
    except UnicodeDecodeError as exc:
        raise SessionLogError(f"{p} is not a text event log", str(p)) from exc
