"""The live terminal view of ``wearsdk demo``/``replay`` (Rich), with a plain-text fallback.

:class:`LiveState` folds the session's JSON lines (:func:`wearsdk._jsonl.message_to_dict`)
into what a person watches: per device its connection state, battery, signal quality
(coverage of the streams it feeds, from the latest window), heart rate, skin contact, gaps
and missing samples; for the wearer the heart rate, skin conductance level, arousal and
valence with their confidence, the stress level and the latest face annotation of a camera
or video analyzer; for a replay or a timed session the
progress. :func:`render_live` draws it as Rich renderables; :class:`LiveView` shows it on a
terminal and falls back to plain lines when stdout is not a terminal (or Rich is missing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DeviceRow",
    "LiveState",
    "LiveView",
    "face_summary",
    "render_live",
    "window_heart_rate",
]


@dataclass(slots=True)
class DeviceRow:
    """What the live view knows about one device.

    Attributes:
        source: pseudonymous source id.
        state: last connection state (``connected``, ``reconnecting``...).
        battery_pct: last battery level, when reported.
        hr_bpm: last heart rate the device reported.
        contact: skin contact (``None`` when the device does not report it).
        streams: streams it publishes (``rr``, ``ecg``, ``eda``...).
        quality: coverage in [0, 1] of its streams in the latest window (lowest of them).
        gaps: gaps reported.
        gap_s: seconds covered by those gaps.
        missing: samples or beats known to be missing.
        last_t: session time of its last message.
    """

    source: str
    state: str = "?"
    battery_pct: int | None = None
    hr_bpm: float | None = None
    contact: bool | None = None
    streams: set[str] = field(default_factory=set)
    quality: float | None = None
    gaps: int = 0
    gap_s: float = 0.0
    missing: int = 0
    last_t: float | None = None


@dataclass(slots=True)
class LiveState:
    """The session as the live view shows it, updated line by line.

    Attributes:
        title: shown above the table.
        total_s: session seconds expected (a replay's length, a demo's duration), for the
            progress bar; ``None`` when open-ended.
        devices: per source.
        t0: session time of the first line.
        t: session time of the latest line.
        phase: the latest marker label (demo phases, replay tags).
        hr_bpm: the wearer's mean heart rate over the latest window.
        scl_usiemens: the wearer's mean skin conductance level over the latest window.
        estimate: the latest estimate line.
        face: the latest face annotation line (a camera or video analyzer).
        dropped: messages the output could not keep up with (set by the caller).
        lines: lines seen.
    """

    title: str = "wearsdk"
    total_s: float | None = None
    devices: dict[str, DeviceRow] = field(default_factory=dict)
    t0: float | None = None
    t: float | None = None
    phase: str | None = None
    hr_bpm: float | None = None
    scl_usiemens: float | None = None
    estimate: dict[str, Any] | None = None
    face: dict[str, Any] | None = None
    dropped: int = 0
    lines: int = 0

    def _device(self, source: str) -> DeviceRow:
        row = self.devices.get(source)
        if row is None:
            row = self.devices[source] = DeviceRow(source)
        return row

    def update(self, line: dict[str, Any]) -> None:
        """Fold one JSON line (``topic``, ``type``, ``t``...) into the state."""
        self.lines += 1
        kind = line.get("type")
        t = line.get("t")
        now = float(t[-1] if isinstance(t, list) and t else t) if t else None
        if now is not None:
            self.t0 = now if self.t0 is None else self.t0
            self.t = now if self.t is None else max(self.t, now)
        source = line.get("source")
        if isinstance(source, str) and source != "wearer" and kind != "features":
            row = self._device(source)
            row.last_t = now
        if kind == "samples" and isinstance(source, str):
            self._device(source).streams.add(str(line.get("stream")))
        elif kind == "device_status" and isinstance(source, str):
            row = self._device(source)
            row.state = str(line.get("state"))
            if line.get("battery_pct") is not None:
                row.battery_pct = int(line["battery_pct"])
        elif kind == "heart_rate" and isinstance(source, str):
            row = self._device(source)
            row.hr_bpm = float(line["hr_bpm"])
            row.contact = line.get("contact")
            row.streams.add("hr")
        elif kind == "gap" and isinstance(source, str):
            row = self._device(source)
            row.gaps += 1
            row.gap_s += max(0.0, float(line["end"]) - float(line["start"]))
            row.missing += int(line.get("n_missing") or 0)
        elif kind == "features":
            values = line.get("values") or {}
            quality = line.get("quality") or {}
            self.hr_bpm = window_heart_rate(values)
            self.scl_usiemens = _num(values.get("scl_mean_usiemens"))
            for row in self.devices.values():
                cover = [
                    float(quality[f"{s}_coverage"])
                    for s in row.streams | ({"rr"} if "ecg" in row.streams else set())
                    if f"{s}_coverage" in quality
                ]
                row.quality = min(cover) if cover else row.quality
        elif kind == "estimate" and line.get("topic") != "affect/physio":
            # the fused estimates; a revision of an older window does not replace a newer one
            if self.estimate is None or float(line["t"]) >= float(self.estimate["t"]):
                self.estimate = line
        elif kind == "annotation" and line.get("modality") == "marker":
            self.phase = str(line.get("label") or line.get("analyzer_id"))
        elif kind == "annotation" and line.get("modality") == "face":
            self.face = line

    @property
    def elapsed_s(self) -> float:
        """Session seconds since the first line."""
        return 0.0 if self.t is None or self.t0 is None else self.t - self.t0


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def window_heart_rate(values: dict[str, Any]) -> float | None:
    """A window's heart rate from its features: from RR, else the device's, else the pulse
    wave's rate (``None`` when the window has none)."""  # noqa: D205, D209
    for key in ("hr_mean_bpm", "hr_device_mean_bpm", "ppg_rate_bpm"):
        if (v := _num(values.get(key))) is not None:
            return v
    return None


def face_summary(line: dict[str, Any]) -> str:
    """A face annotation in one line: valence, arousal, confidence and faces in view."""
    valence, arousal = _num(line.get("valence")), _num(line.get("arousal"))
    faces = (line.get("extras") or {}).get("faces")
    return (
        f"valence {'-' if valence is None else f'{valence:+4.2f}'}  "
        f"arousal {'-' if arousal is None else f'{arousal:4.2f}'}  "
        f"confidence {float(line.get('confidence') or 0.0):4.2f}"
        + (f"  faces {faces}" if isinstance(faces, int) else "")
        + f"  ({line.get('analyzer_id')})"
    )


def _bar(value: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, value)) * width)
    return "█" * filled + "·" * (width - filled)


_STATE_STYLE = {
    "connected": "green",
    "connecting": "yellow",
    "searching": "yellow",
    "reconnecting": "yellow",
    "disconnected": "red",
    "failed": "bold red",
    "closed": "dim",
}
_LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "bold red"}


def render_live(state: LiveState, *, width: int = 120) -> Any:
    """The live view of ``state`` as a Rich renderable (a group of tables).

    Args:
        state: what to show.
        width: the console's width; below 100 columns the streams column is left out.
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Text()
    head.append(state.title, style="bold")
    head.append(f"   t = {state.elapsed_s:6.1f} s")
    if state.total_s and state.elapsed_s <= state.total_s:
        head.append(f" / {state.total_s:.0f} s")
    elif state.total_s:  # the last windows after the planned time: not "34 s / 30 s"
        head.append("   finishing")
    if state.phase:
        head.append("   phase ")
        head.append(state.phase, style="bold cyan")
    parts: list[Any] = [head]
    if state.total_s:
        done = min(1.0, state.elapsed_s / state.total_s)
        parts.append(Text(f"{_bar(done, 40)} {100 * done:3.0f}%", style="cyan"))

    # fits 80 columns; the streams column only when there is room
    wide = width >= 100
    devices = Table(box=None, show_edge=False, pad_edge=False, header_style="bold underline")
    for name, justify in (
        ("device", "left"),
        ("state", "left"),
        ("batt", "right"),
        ("signal", "right"),
        ("HR", "right"),
        ("skin", "left"),
        ("gaps, lost", "left"),
        *((("streams", "left"),) if wide else ()),
    ):
        devices.add_column(name, justify=justify, no_wrap=True)
    for row in state.devices.values():
        contact = {True: "yes", False: "NO", None: "-"}[row.contact]
        gaps = f"{row.gaps} ({row.gap_s:.1f} s), {row.missing}" if row.gaps else "0"
        devices.add_row(
            row.source,
            Text(row.state, style=_STATE_STYLE.get(row.state, "")),
            "-" if row.battery_pct is None else f"{row.battery_pct}%",
            "-" if row.quality is None else f"{100 * row.quality:.0f}%",
            "-" if row.hr_bpm is None else f"{row.hr_bpm:.0f}",
            Text(contact, style="bold red" if row.contact is False else ""),
            Text(gaps, style="yellow" if row.gaps else ""),
            *((",".join(sorted(row.streams)) or "-",) if wide else ()),
        )
    parts.append(devices)

    wearer = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    wearer.add_column(style="bold")
    wearer.add_column()
    hr = "-" if state.hr_bpm is None else f"{state.hr_bpm:.1f} bpm"
    scl = "-" if state.scl_usiemens is None else f"{state.scl_usiemens:.2f} µS"
    wearer.add_row("heart rate", hr)
    wearer.add_row("skin conductance", scl)
    est = state.estimate
    if est is None:
        wearer.add_row("arousal", "waiting for the first window")
    else:
        arousal, conf = float(est["arousal"]), float(est["confidence"])
        wearer.add_row("arousal", f"{arousal:4.2f} {_bar(arousal)}  confidence {conf:4.2f}")
        valence = est.get("valence")
        if valence is None:
            wearer.add_row("valence", "- (no source of valence)")
        else:
            vconf = float(est.get("valence_confidence") or 0.0)
            wearer.add_row(
                "valence",
                f"{float(valence):+5.2f} {_bar((float(valence) + 1) / 2)}  confidence {vconf:4.2f}",
            )
        level = est.get("stress_level")
        if level:
            wearer.add_row("stress level", Text(str(level), style=_LEVEL_STYLE.get(level, "")))
        flags = ", ".join(est.get("flags") or ())
        model = str(est.get("model") or "")
        note = f"{model}{' (provisional)' if est.get('provisional') else ''}"
        wearer.add_row("model", note + (f"; flags: {flags}" if flags else ""))
    if state.face is not None:
        wearer.add_row("face", face_summary(state.face))
    wearer.add_row("output", f"{state.lines} messages, {state.dropped} dropped")
    parts.append(wearer)
    return Group(*parts)


class LiveView:
    """Shows a :class:`LiveState` live on a terminal, or forwards lines to ``fallback``.

    Call it with each JSON line; use it as a context manager around the session.

    Args:
        fallback: the plain-text printer used when the console is not a terminal.
        title: the view's title.
        total_s: expected session seconds (progress), ``None`` when open-ended.
        console: a ``rich.console.Console`` (default: stdout); ``None`` with Rich missing
            forces the fallback.
        refresh_s: shortest real time between two redraws.
        live: ``True`` forces the live view, ``False`` the plain lines, ``None`` decides from
            the console (a terminal gets the live view).
    """

    def __init__(
        self,
        fallback: Callable[[dict[str, Any]], None],
        *,
        title: str = "wearsdk",
        total_s: float | None = None,
        console: Any = None,
        refresh_s: float = 0.25,
        live: bool | None = None,
    ) -> None:
        self.state = LiveState(title=title, total_s=total_s)
        self.fallback = fallback
        self.refresh_s = refresh_s
        self._live: Any = None
        self._last = 0.0
        try:
            from rich.console import Console
        except ImportError:
            self.console = None
            self.enabled = False
            return
        self.console = console or Console()
        self.enabled = self.console.is_terminal if live is None else live

    def _render(self) -> Any:
        return render_live(self.state, width=120 if self.console is None else self.console.width)

    def __enter__(self) -> LiveView:
        if self.enabled:
            from rich.live import Live

            self._live = Live(
                self._render(),
                console=self.console,
                auto_refresh=False,  # redrawn from the caller's thread, at most every refresh_s
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.__exit__(None, None, None)
            self._live = None
            if self.console is not None and not self.console.is_terminal:
                self.console.line()  # the last frame ends without a newline off a terminal

    def __call__(self, line: dict[str, Any]) -> None:
        """Take one JSON line."""
        self.state.update(line)
        if self._live is None:
            self.fallback(line)
            return
        now = time.monotonic()
        if now - self._last >= self.refresh_s:
            self._last = now
            self._live.update(self._render(), refresh=True)
