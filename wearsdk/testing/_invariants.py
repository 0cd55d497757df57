"""What must hold after any fault: checked on what a session's bus carried.

A :class:`BusRecorder` keeps every sample block, gap, device status and estimate a bus carried,
with the event loop's time each arrived (real monotonic seconds on a standard loop). The
``check_*`` functions compare that record with itself (order, gaps against discontinuities),
with the faults injected (reconnection times) and with what a virtual twin knows it sent (lost
beats, lost frames), and return
:class:`Violation` lists: empty means the invariant holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

import numpy as np
import numpy.typing as npt

from wearsdk._events import DeviceStatus, Estimate, Gap
from wearsdk._types import SampleBlock
from wearsdk.bus import Bus, Subscription

__all__ = [
    "BeatTruth",
    "BusRecorder",
    "FrameTruth",
    "Violation",
    "check_beats_against_truth",
    "check_bounded_queues",
    "check_confidence_after_gaps",
    "check_frames_against_truth",
    "check_gaps_match_discontinuities",
    "check_no_task_leaks",
    "check_order",
    "check_reconnection",
]


class Violation(NamedTuple):
    """One broken invariant.

    Attributes:
        invariant: its name (``order``, ``gaps``, ``reconnect``, ``confidence``, ``tasks``,
            ``bounded``, ``truth``).
        detail: what was seen.
    """

    invariant: str
    detail: str


@dataclass
class _Stream:
    t: list[npt.NDArray[np.float64]] = field(default_factory=list)
    values: list[npt.NDArray[np.float64]] = field(default_factory=list)
    rate_hz: float | None = None
    gaps: list[Gap] = field(default_factory=list)


class BusRecorder:
    """Records what a bus carries, for the checks (an async context manager).

    Subscribes to ``physio/#``, ``device/#`` and ``affect/estimate`` with a ``block`` policy of
    ``maxsize`` (the recorder itself must not lose what it checks; a publisher that does not
    wait drops for it, and :meth:`statistics` tells).

    Args:
        bus: the bus to record (it must be bound to the running loop).
        maxsize: bound of the recorder's own queue.
    """

    def __init__(self, bus: Bus, *, maxsize: int = 1_000_000) -> None:
        self.bus = bus
        self.maxsize = maxsize
        self.streams: dict[tuple[str, str], _Stream] = defaultdict(_Stream)
        """Per ``(source, stream)``: sample times, values, nominal rate and gaps."""
        self.statuses: list[tuple[float, DeviceStatus]] = []
        """``(real arrival time, status)``, in arrival order."""
        self.estimates: list[Estimate] = []
        """Estimates, in arrival order."""
        self.messages = 0
        """Messages recorded."""
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._sub = self.bus.subscribe(
            ("physio/#", "device/#", "affect/estimate"), maxsize=self.maxsize, policy="block"
        )
        self._task = asyncio.get_running_loop().create_task(
            self._run(self._sub), name="wearsdk[testing].recorder"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.drain()

    async def drain(self) -> None:
        """Record what is still queued, then stop recording."""
        sub, task, self._sub, self._task = self._sub, self._task, None, None
        if sub is None or task is None:
            return
        while (message := sub.receive_nowait()) is not None:
            self._record(message.payload)
        sub.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @property
    def stats(self) -> Any:
        """The recorder subscription's counters (``dropped`` must stay 0)."""
        return self._sub.stats if self._sub is not None else None

    async def _run(self, sub: Subscription) -> None:
        async for message in sub:
            self._record(message.payload)

    def _record(self, payload: object) -> None:
        self.messages += 1
        if isinstance(payload, SampleBlock):
            s = self.streams[payload.source, payload.stream]
            s.t.append(np.asarray(payload.t, dtype=np.float64))
            s.values.append(np.asarray(payload.values, dtype=np.float64))
            s.rate_hz = payload.nominal_rate_hz
        elif isinstance(payload, Gap):
            self.streams[payload.source, payload.stream].gaps.append(payload)
        elif isinstance(payload, DeviceStatus):
            self.statuses.append((asyncio.get_running_loop().time(), payload))
        elif isinstance(payload, Estimate):
            self.estimates.append(payload)

    def times(self, source: str, stream: str) -> npt.NDArray[np.float64]:
        """Every sample time of one stream, in publication order."""
        s = self.streams.get((source, stream))
        if s is None or not s.t:
            return np.zeros(0)
        return np.concatenate(s.t)

    def values(self, source: str, stream: str) -> npt.NDArray[np.float64]:
        """Every sample of one stream, shape ``(n, channels)``, in publication order."""
        s = self.streams.get((source, stream))
        if s is None or not s.values:
            return np.zeros((0, 1))
        return np.concatenate(s.values)

    def gaps(self, source: str | None = None, stream: str | None = None) -> list[Gap]:
        """The gaps reported, optionally of one source and/or stream."""
        return [
            g
            for (src, st), s in self.streams.items()
            if (source is None or src == source) and (stream is None or st == stream)
            for g in s.gaps
        ]


def check_order(recorder: BusRecorder) -> list[Violation]:
    """No stream carries a duplicated or out-of-order sample (times strictly increase)."""
    out = []
    for (source, stream), _ in sorted(recorder.streams.items()):
        t = recorder.times(source, stream)
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            i = int(bad[0])
            out.append(
                Violation(
                    "order",
                    f"{source}/{stream}: {bad.size} samples not after their predecessor "
                    f"(first at {t[i + 1]:.6f} after {t[i]:.6f})",
                )
            )
    return out


def _discontinuities(
    recorder: BusRecorder, source: str, stream: str, *, tolerance_s: float
) -> list[tuple[float, float]]:
    """``(end of data, start of data)`` of every hole in one stream's record."""
    s = recorder.streams[source, stream]
    t = recorder.times(source, stream)
    if t.size < 2:
        return []
    if stream == "rr":  # beat times: a beat's interval starts rr before it
        rr = recorder.values(source, stream)[:, 0]
        starts = t[1:] - rr[1:]
        holes = np.flatnonzero(starts - t[:-1] > tolerance_s)
        return [(float(t[i]), float(starts[i])) for i in holes]
    if not s.rate_hz:
        return []
    step = 1.0 / s.rate_hz
    holes = np.flatnonzero(np.diff(t) > 1.5 * step + tolerance_s)
    return [(float(t[i]), float(t[i + 1])) for i in holes]


def check_gaps_match_discontinuities(
    recorder: BusRecorder, *, tolerance_s: float = 1e-6
) -> list[Violation]:
    """Every hole in a stream is reported by a Gap with exactly its extent, and vice versa.

    A hole in a regularly sampled stream is a step longer than 1.5 sample periods; in an RR
    stream, a beat whose interval starts after the previous beat. The Gap's ``start`` must be
    the last sample before the hole and its ``end`` the first sample (interval start) after.
    """
    out = []
    for (source, stream), s in sorted(recorder.streams.items()):
        holes = _discontinuities(recorder, source, stream, tolerance_s=tolerance_s)
        if not s.t and not s.gaps:
            continue
        if stream != "rr" and not s.rate_hz:
            continue
        reported = [(g.start, g.end) for g in s.gaps]
        for hole in holes:
            if not any(
                abs(a - hole[0]) <= tolerance_s and abs(b - hole[1]) <= tolerance_s
                for a, b in reported
            ):
                out.append(
                    Violation(
                        "gaps",
                        f"{source}/{stream}: {hole[1] - hole[0]:.3f} s missing from "
                        f"{hole[0]:.6f} with no Gap of that extent",
                    )
                )
        for a, b in reported:
            if not any(
                abs(a - h0) <= tolerance_s and abs(b - h1) <= tolerance_s for h0, h1 in holes
            ):
                out.append(
                    Violation(
                        "gaps",
                        f"{source}/{stream}: Gap {a:.6f}..{b:.6f} matches no hole in the data",
                    )
                )
    return out


def check_reconnection(
    recorder: BusRecorder, source: str, returned_at: Iterable[float], *, within_s: float = 5.0
) -> list[Violation]:
    """After each time the peripheral came back, ``connected`` follows soon.

    Times are the event loop's (``loop.time()``): real monotonic seconds on a standard loop,
    virtual seconds on a test loop that fast-forwards time, where a back-off longer than
    ``within_s`` still fails the check.

    Args:
        recorder: the record.
        source: the source id.
        returned_at: event-loop times (``loop.time()``) at which the peripheral advertised again.
        within_s: allowed event-loop seconds from return to the ``connected`` status.
    """
    connected = [t for t, s in recorder.statuses if s.source == source and s.state == "connected"]
    out = []
    for back in returned_at:
        after = [t for t in connected if t >= back]
        if not after:
            out.append(Violation("reconnect", f"{source}: never reconnected after a return"))
        elif after[0] - back > within_s:
            out.append(
                Violation(
                    "reconnect", f"{source}: reconnected {after[0] - back:.2f} s after returning"
                )
            )
    return out


def check_confidence_after_gaps(
    recorder: BusRecorder, gaps: Sequence[Gap] | None = None
) -> list[Violation]:
    """Estimates go on after every gap, with less confidence than just before it.

    For each gap: the last estimate whose window ended before the gap started is "before";
    the first estimate whose window overlaps the gap is "after". The check needs both (the
    gap must fall late enough for estimates to exist before it).
    """
    out = []
    estimates = sorted(recorder.estimates, key=lambda e: e.window_end)
    for gap in recorder.gaps() if gaps is None else gaps:
        before = [e for e in estimates if e.window_end <= gap.start]
        overlapping = [
            e for e in estimates if e.window_start < gap.end and e.window_end > gap.start
        ]
        later = [e for e in estimates if e.window_start >= gap.end]
        if not before:
            continue
        if not overlapping and not later:
            out.append(Violation("confidence", f"no estimate after the gap at {gap.start:.1f}"))
            continue
        first = (overlapping or later)[0]
        if not first.confidence < before[-1].confidence:
            out.append(
                Violation(
                    "confidence",
                    f"confidence {first.confidence:.3f} after the gap at {gap.start:.1f} is not "
                    f"below {before[-1].confidence:.3f} before it",
                )
            )
    return out


def check_no_task_leaks(before: Iterable[asyncio.Task[Any]]) -> list[Violation]:
    """No task is alive now that was not alive at ``before`` (besides the current one)."""
    known = set(before)
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and not t.done() and t not in known]
    return [Violation("tasks", f"task left running: {t.get_name()}") for t in left]


def check_bounded_queues(bus: Bus, sources: Iterable[Any] = ()) -> list[Violation]:
    """Every bus queue and driver queue stayed within its bound (drops counted instead).

    Args:
        bus: the bus (its subscriptions' high-water marks against their sizes).
        sources: drivers with a ``queue_size`` bound and a ``queue_high_water`` mark (e.g.
            :class:`~wearsdk.driverkit.BleSource`).
    """
    out = []
    for stats in bus.stats.subscriptions:
        if stats.high_water > stats.maxsize:
            out.append(
                Violation(
                    "bounded",
                    f"subscription {stats.topic_filter}: {stats.high_water} > {stats.maxsize}",
                )
            )
    for source in sources:
        high = getattr(source, "queue_high_water", None)
        if high is not None and high > source.queue_size:
            out.append(Violation("bounded", f"driver queue {high} > {source.queue_size}"))
    return out


class BeatTruth(Protocol):
    """What a twin knows about one beat (e.g. ``VirtualHeartRateStrap.beats``)."""

    @property
    def t(self) -> float:
        """When the beat happened on the session clock (seconds)."""
        ...

    @property
    def rr_s(self) -> float:
        """The RR interval ending at this beat (seconds)."""
        ...

    @property
    def fate(self) -> str:
        """What became of it: sent, lost in a drop, malformed..."""
        ...


def check_beats_against_truth(
    recorder: BusRecorder,
    source: str,
    beats: Sequence[BeatTruth],
    *,
    drift_ppm: float = 0.0,
    tolerance_s: float = 2.5,
) -> list[Violation]:
    """Every beat the strap delivered is on the bus once; every lost stretch is under a Gap.

    Args:
        recorder: the record.
        source: the strap's source id.
        beats: the twin's ledger, oldest first.
        drift_ppm: the twin's clock error (the RR values it sends are scaled by it).
        tolerance_s: how far the driver's placement of a beat may be from the twin's time
            (beats are placed on arrival: radio latency plus the notification interval).
    """
    out = []
    t_bus = recorder.times(source, "rr")
    rr_bus = recorder.values(source, "rr")[:, 0] if t_bus.size else np.zeros(0)
    if not t_bus.size:
        return [Violation("truth", f"{source}: no beat on the bus")]
    scale = 1.0 + drift_ppm * 1e-6
    first, last = float(t_bus[0]) - tolerance_s, float(t_bus[-1])
    window = [b for b in beats if first <= b.t <= last]
    delivered = [b for b in window if b.fate == "sent"]
    sent_rr = np.round(np.array([b.rr_s * scale for b in delivered]) * 1024) / 1024
    # the bus carries the delivered beats in order, never adding, repeating or reordering
    # one; a beat sent as the link fell may be missing, but then it must be under a Gap
    got = np.round(rr_bus * 1024) / 1024
    matched: set[int] = set()
    i = 0
    for value in got:
        while i < sent_rr.size and sent_rr[i] != value:
            i += 1
        if i == sent_rr.size:
            out.append(Violation("truth", f"{source}: an RR of {value:.4f} s the twin never sent"))
            break
        matched.add(i)
        i += 1
    unmatched = {id(b) for k, b in enumerate(delivered) if k not in matched}
    gaps = recorder.gaps(source, "rr")
    for b in window:
        if (b.fate == "sent" and id(b) not in unmatched) or b.t < float(t_bus[0]):
            continue
        if not any(g.start - tolerance_s <= b.t <= g.end + tolerance_s for g in gaps):
            fate = b.fate if b.fate != "sent" else "sent, not received"
            out.append(
                Violation("truth", f"{source}: beat lost at {b.t:.2f} ({fate}) under no Gap")
            )
    return out


class FrameTruth(Protocol):
    """What a twin knows about one data frame (e.g. ``VirtualPolarH10.sent``)."""

    @property
    def timestamps_ns(self) -> npt.NDArray[np.int64]:
        """Device timestamps of the frame's samples (ns)."""
        ...

    @property
    def values(self) -> npt.NDArray[np.int64]:
        """The samples as sent."""
        ...

    @property
    def dropped(self) -> bool:
        """The frame was never delivered."""
        ...

    @property
    def malformed(self) -> bool:
        """The frame was corrupted on purpose."""
        ...


def check_frames_against_truth(
    recorder: BusRecorder,
    source: str,
    stream: str,
    frames: Sequence[FrameTruth],
    *,
    rate_hz: float,
    factor: float = 1.0,
) -> list[Violation]:
    """Blocks on the bus are intact frames the twin sent, once each; every loss has its Gap.

    Each published block is matched to the frame with the same samples (``values * factor``).
    Between two consecutive published frames, the samples missing on the sensor clock (frames
    dropped, corrupted, sent late, or never sent while the link was down) must be reported by
    one Gap with exactly that ``n_missing``; across a sensor clock reset (sensor time going
    back, or frames of different ``clock_epoch`` when the twin tells) a Gap of any size.
    """
    out = []
    by_values = {
        (np.asarray(f.values, dtype=np.float64) * factor).tobytes(): f
        for f in frames
        if not f.malformed and not f.dropped
    }
    record = recorder.streams.get((source, stream))
    blocks = record.values if record is not None else []
    delivered: list[FrameTruth] = []
    for block in blocks:
        frame = by_values.pop(np.asarray(block, dtype=np.float64).tobytes(), None)
        if frame is None:
            out.append(Violation("truth", f"{source}/{stream}: a block no intact frame carried"))
            return out
        delivered.append(frame)
    step_ns = 1e9 / rate_hz
    expected: list[int | None] = []
    for a, b in itertools.pairwise(delivered):
        delta = int(b.timestamps_ns[0]) - int(a.timestamps_ns[-1])
        if delta <= 0 or getattr(a, "clock_epoch", 0) != getattr(b, "clock_epoch", 0):
            expected.append(None)  # the sensor clock restarted: a Gap of any size
            continue
        n = round(delta / step_ns) - 1
        if n >= 1:
            expected.append(n)
    got = [g.n_missing for g in recorder.gaps(source, stream)]
    if len(got) != len(expected) or any(
        e is not None and e != g for e, g in zip(expected, got, strict=False)
    ):
        out.append(
            Violation(
                "truth",
                f"{source}/{stream}: Gaps of {got} samples reported, {expected} missing "
                "(None: across a sensor clock reset)",
            )
        )
    return out
