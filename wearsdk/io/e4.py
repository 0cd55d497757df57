"""Empatica E4 session exports (the CSV layout of E4 Connect, WESAD, Stress-Predict...).

A session folder holds one CSV per signal:

============ ======== =========================================================
file         rate     content
============ ======== =========================================================
``EDA.csv``  4 Hz     skin conductance, µS
``BVP.csv``  64 Hz    blood volume pulse (photoplethysmograph, arbitrary units)
``HR.csv``   1 Hz     the E4's average heart rate, bpm
``TEMP.csv`` 4 Hz     skin temperature, °C
``ACC.csv``  32 Hz    3-axis acceleration, x y z, units of 1/64 g (range ±2 g)
``IBI.csv``  --       inter-beat intervals from the BVP: ``seconds_since_start, ibi_s``
``tags.csv`` --       times of button presses (may be empty; ``tags_<id>.csv`` too)
============ ======== =========================================================

Signal files: row 1 is the session start as unix seconds (UTC), row 2 the sampling rate in Hz
(ACC repeats both for each of its three columns), then one sample per row. Some published
exports (the PhysioNet "Wearable Device Dataset from Induced Stress and Structured Exercise
Sessions") write row 1 and the tags as a UTC date-time string instead (``2013-02-20 18:01:30``,
optionally with fractional seconds or a ``T``); both forms are read as the same unix time.
``IBI.csv``: row 1 is the start time (and the word ``IBI``), then the time of each detected
beat relative to the start and the interval that ends at it. Each file keeps its own start
time and rate (the E4's HR starts about 10 s after the others).

:func:`load_e4_session` reads a folder into an :class:`E4Session`; malformed files raise
:class:`E4FormatError` with the file and line. Replaying a session through a
:class:`~wearsdk.Session` is the job of ``wearsdk.io.sources.E4Replay``.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from wearsdk._errors import ConfigError, ProtocolError

__all__ = [
    "E4_SIGNALS",
    "E4FormatError",
    "E4Ibi",
    "E4Session",
    "E4Signal",
    "load_e4_session",
]

E4_SIGNALS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "eda": ("EDA.csv", "uS", ("eda",)),
    "bvp": ("BVP.csv", "au", ("bvp",)),
    "hr": ("HR.csv", "bpm", ("hr",)),
    "temp": ("TEMP.csv", "degC", ("temp",)),
    "acc": ("ACC.csv", "mG", ("acc_x", "acc_y", "acc_z")),
}
"""Stream name -> (file, unit after loading, channels). ACC is converted from 1/64 g to mG."""

_ACC_MG_PER_UNIT = 1000.0 / 64.0


class E4FormatError(ProtocolError):
    """An E4 export file does not follow the E4 CSV layout.

    Attributes:
        path: the offending file.
        line: 1-based line number of the problem, when known.
    """

    def __init__(self, message: str, path: Path, line: int | None = None) -> None:
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")
        self.path: Path = path
        self.line: int | None = line


@dataclass(frozen=True, slots=True, eq=False)
class E4Signal:
    """One regularly sampled E4 signal.

    Attributes:
        name: stream name (``eda``, ``bvp``, ``hr``, ``temp``, ``acc``).
        start_unix_s: unix time (UTC) of the first sample.
        rate_hz: sampling rate.
        values: samples, shape ``(n, channels)``, in :attr:`unit`.
        unit: ``uS``, ``au``, ``bpm``, ``degC`` or ``mG``.
        channels: channel names.
    """

    name: str
    start_unix_s: float
    rate_hz: float
    values: npt.NDArray[np.float64]
    unit: str
    channels: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def t_unix(self) -> npt.NDArray[np.float64]:
        """Unix time of every sample: ``start + i / rate``."""
        return self.start_unix_s + np.arange(len(self), dtype=np.float64) / self.rate_hz

    @property
    def end_unix_s(self) -> float:
        """Unix time just after the last sample (``start + n / rate``)."""
        return self.start_unix_s + len(self) / self.rate_hz


@dataclass(frozen=True, slots=True, eq=False)
class E4Ibi:
    """The E4's inter-beat intervals (beats it detected in the BVP; gaps where it rejected some).

    Attributes:
        start_unix_s: the session start the offsets refer to.
        offset_s: time of each beat, seconds since ``start_unix_s``.
        ibi_s: the interval ending at each beat, seconds.
    """

    start_unix_s: float
    offset_s: npt.NDArray[np.float64]
    ibi_s: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.offset_s.shape[0])

    @property
    def t_unix(self) -> npt.NDArray[np.float64]:
        """Unix time of every beat."""
        return self.start_unix_s + self.offset_s


@dataclass(frozen=True, slots=True, eq=False)
class E4Session:
    """A loaded E4 export.

    Attributes:
        path: the folder it came from.
        signals: the regularly sampled signals present, by stream name.
        ibi: the inter-beat intervals, when ``IBI.csv`` is present.
        tags_unix_s: unix times of the button presses (possibly none).
    """

    path: Path
    signals: dict[str, E4Signal]
    ibi: E4Ibi | None = None
    tags_unix_s: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    @property
    def start_unix(self) -> float:
        """The earliest start time of any file (the session's start)."""
        starts = [s.start_unix_s for s in self.signals.values()]
        if self.ibi is not None:
            starts.append(self.ibi.start_unix_s)
        return min(starts)

    @property
    def end_unix(self) -> float:
        """The latest data time of any signal or beat.

        Tags are not data: a wristband keeps button presses from before and after a recording
        (Stress-Predict S18 has one from 12 hours before).
        """
        ends = [s.end_unix_s for s in self.signals.values()]
        if self.ibi is not None and len(self.ibi):
            ends.append(float(self.ibi.t_unix[-1]))
        return max(ends) if ends else self.start_unix


def _parse_numbers(path: Path, body: str, first_line: int, columns: int) -> npt.NDArray[np.float64]:
    """Parse rows of ``columns`` comma-separated numbers (fast: numpy's C parser)."""
    if not body.strip():
        return np.empty((0, columns))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            values = np.loadtxt(
                io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None
            )
    except (ValueError, UserWarning) as exc:
        raise E4FormatError(_locate(body, first_line, columns) or str(exc), path) from exc
    if values.shape[1] != columns:
        raise E4FormatError(f"expected {columns} column(s) per row, found {values.shape[1]}", path)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise E4FormatError("value is not a finite number", path, _row_line(body, bad, first_line))
    return values


def _row_line(body: str, row: int, first_line: int) -> int:
    """Line number of the ``row``-th non-empty row of ``body``."""
    seen = -1
    for i, text in enumerate(body.splitlines()):
        if text.strip():
            seen += 1
            if seen == row:
                return first_line + i
    return first_line


def _locate(body: str, first_line: int, columns: int) -> str | None:
    """Find the first bad row (slow path, only after a parse failure)."""
    for i, text in enumerate(body.splitlines()):
        if not text.strip():
            continue
        cells = text.split(",")
        try:
            numbers = [float(c) for c in cells]
        except ValueError:
            return f"line {first_line + i}: not a number: {text.strip()!r}"
        if len(numbers) != columns:
            return f"line {first_line + i}: {len(numbers)} values, expected {columns}"
    return None


def _utc_datetime(cell: str) -> float | None:
    """Unix seconds of a UTC date-time string (``2013-02-20 18:01:30``), else ``None``."""
    if len(cell) < 19 or cell[4] != "-" or cell[7] != "-":
        return None
    try:
        when = datetime.fromisoformat(cell)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _header_number(path: Path, text: str, line: int, what: str) -> float:
    cell = text.split(",")[0].strip()
    try:
        value = float(cell)
    except ValueError:
        parsed = _utc_datetime(cell) if what == "start time" else None
        if parsed is None:
            raise E4FormatError(f"{what} is not a number: {cell!r}", path, line) from None
        value = parsed
    if not math.isfinite(value):
        raise E4FormatError(f"{what} is not finite", path, line)
    return value


def _split_header(path: Path, n_header: int) -> tuple[list[str], str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise E4FormatError(f"cannot read: {exc}", path) from exc
    parts = text.split("\n", n_header)
    if len(parts) <= n_header - 1 or any(not p.strip() for p in parts[:n_header]):
        raise E4FormatError(f"missing header: expected {n_header} header row(s)", path)
    header = [p.strip() for p in parts[:n_header]]
    body = parts[n_header] if len(parts) > n_header else ""
    return header, body


# the E4 came out in 2014: a start before 2000 is not a recording's (a file without its two
# header rows starts at its first sample's value: 32.13 °C is 1970-01-01 00:00:32)
_EARLIEST_START_UNIX = 946684800.0  # 2000-01-01 UTC
# the files of one session start within seconds of each other (HR about 10 s after the rest)
_MAX_START_SPREAD_S = 86400.0


def _check_start(path: Path, start: float) -> None:
    if start < _EARLIEST_START_UNIX:
        raise E4FormatError(
            f"start time {start:g} is not a recording's unix time (before 2000): is the file "
            "missing its header rows (start time, sampling rate)?",
            path,
            1,
        )
    if start > time.time() + 86400.0:
        raise E4FormatError(f"start time {start:g} is in the future", path, 1)


def _check_starts(folder: Path, starts: dict[str, float]) -> None:
    """Refuse a session whose files start far apart: replaying it would cover the years
    between them (every window of the pipeline over empty time)."""  # noqa: D205, D209
    middle = float(np.median(list(starts.values())))
    for fname, start in starts.items():
        if abs(start - middle) > _MAX_START_SPREAD_S:
            hours = (start - middle) / 3600.0
            raise E4FormatError(
                f"starts {abs(hours):.0f} h {'after' if hours > 0 else 'before'} the other files "
                "of the session: not the same recording, or a corrupt header",
                folder / fname,
                1,
            )


def _load_signal(path: Path, name: str) -> E4Signal:
    _, unit, channels = E4_SIGNALS[name]
    (start_row, rate_row), body = _split_header(path, 2)
    start = _header_number(path, start_row, 1, "start time")
    rate = _header_number(path, rate_row, 2, "sampling rate")
    if not rate > 0:
        raise E4FormatError(f"sampling rate must be > 0, got {rate:g}", path, 2)
    _check_start(path, start)
    values = _parse_numbers(path, body, 3, len(channels))
    if name == "acc":
        values = values * _ACC_MG_PER_UNIT
    return E4Signal(
        name=name, start_unix_s=start, rate_hz=rate, values=values, unit=unit, channels=channels
    )


def _load_ibi(path: Path) -> E4Ibi:
    (start_row,), body = _split_header(path, 1)
    start = _header_number(path, start_row, 1, "start time")
    _check_start(path, start)
    rows = _parse_numbers(path, body, 2, 2)
    offset, ibi = rows[:, 0].copy(), rows[:, 1].copy()
    if np.any(ibi <= 0):
        row = int(np.flatnonzero(ibi <= 0)[0])
        raise E4FormatError("inter-beat interval must be > 0", path, _row_line(body, row, 2))
    if np.any(np.diff(offset) <= 0):
        row = int(np.flatnonzero(np.diff(offset) <= 0)[0]) + 1
        raise E4FormatError("beat times must increase", path, _row_line(body, row, 2))
    return E4Ibi(start_unix_s=start, offset_s=offset, ibi_s=ibi)


def _load_tags(path: Path) -> npt.NDArray[np.float64]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise E4FormatError(f"cannot read: {exc}", path) from exc
    rows = [r.strip() for r in text.splitlines()]
    if any(_utc_datetime(r) is not None for r in rows if r):
        times = []
        for i, row in enumerate(rows):
            if not row:
                continue
            value = _utc_datetime(row)
            if value is None:
                raise E4FormatError(f"not a UTC date-time: {row!r}", path, i + 1)
            times.append(value)
        return np.sort(np.array(times, dtype=np.float64))
    return np.sort(_parse_numbers(path, text, 1, 1)[:, 0])


def load_e4_session(path: str | Path) -> E4Session:
    """Load an E4 export folder (the unzipped archive E4 Connect produces).

    Every signal file present is loaded with its own start time and rate; absent files are
    simply absent from the result. ACC is converted to mG (1/64 g -> 1000/64 mG).

    Args:
        path: the folder holding ``EDA.csv``, ``BVP.csv``... (a ``.csv`` inside it works too).

    Returns:
        The session.

    Raises:
        ConfigError: ``path`` is not a folder, or holds none of the E4 files.
        E4FormatError: a file is malformed (missing header, non-numeric value, wrong number
            of columns, non-positive rate or interval, a start time before 2000 or in the
            future, files that start more than a day apart...); a
            :class:`~wearsdk.ProtocolError`.
    """
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"not an E4 session folder: {folder}")
    signals = {
        name: _load_signal(folder / fname, name)
        for name, (fname, _, _) in E4_SIGNALS.items()
        if (folder / fname).is_file()
    }
    ibi_path = folder / "IBI.csv"
    # E4 Connect writes an empty IBI.csv when it kept no beats: no intervals, not an error
    ibi = _load_ibi(ibi_path) if ibi_path.is_file() and ibi_path.stat().st_size else None
    tag_files = sorted(folder.glob("tags*.csv"))
    tags = np.sort(np.concatenate([_load_tags(p) for p in tag_files])) if tag_files else np.empty(0)
    if not signals and ibi is None:
        raise ConfigError(f"no E4 files (EDA.csv, BVP.csv, ..., IBI.csv) in {folder}")
    starts = {E4_SIGNALS[name][0]: sig.start_unix_s for name, sig in signals.items()}
    if ibi is not None:
        starts["IBI.csv"] = ibi.start_unix_s
    _check_starts(folder, starts)
    return E4Session(path=folder, signals=signals, ibi=ibi, tags_unix_s=tags)
