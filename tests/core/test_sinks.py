"""Sinks in the session: ordered shutdown, isolation, deadlines, and finite sources."""

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from tests.core.test_session import Forever
from tests.io.lsl_helpers import FAST, PhysioSource, synthetic_physio
from wearsdk import Estimate, Features, SampleBlock, Session, Source, SourceContext
from wearsdk._errors import StreamClosedError
from wearsdk.bus import Message
from wearsdk.session import JsonLinesSink, MessageSink, Sink, SinkContext
from wearsdk.signals._features import FeatureExtractor

pytestmark = pytest.mark.looptime

RR_S = 0.8


def rr_blocks(source: str, t0: float, seconds: float) -> list[SampleBlock]:
    """One RR block per beat, 0.8 s apart with a little variability."""
    rng = np.random.default_rng(0)
    rr = RR_S + 0.03 * rng.standard_normal(int(seconds / RR_S))
    t = t0 + np.cumsum(rr)
    return [
        SampleBlock(source=source, stream="rr", unit="s", t=t[i : i + 1], values=rr[i : i + 1])
        for i in range(t.size)
    ]


class Burst(Source):
    """A live source that delivers a backlog at once (a strap reconnecting), then stays."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent = asyncio.Event()
        self.blocks: list[SampleBlock] = []

    @property
    def identity(self) -> str:
        return "burst"

    @property
    def source_id(self) -> str:
        return "burst"

    async def run(self, ctx: SourceContext) -> None:
        self.blocks = rr_blocks(ctx.source_id, ctx.clock.now(), self.seconds)
        for block in self.blocks:
            await ctx.bus.publish(f"physio/{ctx.source_id}/rr", block)
        self.sent.set()
        await asyncio.Event().wait()  # a live source: until cancelled


class Collect(MessageSink):
    """Keeps every message; notes whether the bus had closed when it was asked to drain."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []
        self.bus_closed_at_drain: bool | None = None
        self._ctx: SinkContext | None = None

    def open(self, ctx: SinkContext) -> None:
        self._ctx = ctx

    def handle(self, message: Message, ctx: SinkContext) -> None:
        self.messages.append(message)

    async def drain(self, timeout_s: float) -> int:
        assert self._ctx is not None
        self.bus_closed_at_drain = self._ctx.bus.closed
        return await super().drain(timeout_s)

    def of(self, kind: type) -> list[object]:
        return [m.payload for m in self.messages if isinstance(m.payload, kind)]


async def test_sinks_get_the_pipelines_last_windows_when_the_session_ends() -> None:
    sink = Collect()
    source = Burst(seconds=300.0)
    async with Session(pipeline=FAST) as session:
        assert isinstance(sink, Sink)
        session.add_sink(sink, name="collect")
        session.add(source)
        await source.sent.wait()
        # leave at once: 300 s of beats still wait in the processing stage's queue
    offline = FeatureExtractor(FAST.features())
    windows = []
    for block in source.blocks:
        offline.push("rr", block.t, block.values, nominal_rate_hz=block.nominal_rate_hz)
        windows += offline.ready()
    windows += offline.flush()  # the end of the data decides the last beats
    features = sink.of(Features)
    assert len(windows) > 40
    assert [f.window_end for f in features] == [w.end for w in windows]  # type: ignore[attr-defined]
    estimates = sink.of(Estimate)
    assert len(estimates) > 0
    # the fused estimates came after the last window: the fusion stage flushed too
    assert max(e.t for e in estimates) == max(w.end for w in windows)  # type: ignore[attr-defined]
    assert sink.bus_closed_at_drain is True
    assert session.sink_reports[0].ok


class Failing(MessageSink):
    def handle(self, message: Message, ctx: SinkContext) -> None:
        raise RuntimeError("disk on fire")


async def test_a_failing_sink_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    seen = asyncio.Event()
    blocks = 0

    def count(message: Message, ctx: SinkContext) -> None:
        nonlocal blocks
        blocks += isinstance(message.payload, SampleBlock)
        if blocks >= 3:
            seen.set()

    strap = Forever("strap", rr=0.05)
    log = tmp_path / "events.jsonl"
    async with Session(pipeline=None, fusion=None) as session:
        session.add_sink(Failing(), name="bad")
        session.add_sink(MessageSink(count), name="counter")
        session.add_sink(JsonLinesSink(log), name="jsonl")
        session.add(strap)
        async with asyncio.timeout(10):
            await seen.wait()  # the source and the other sinks outlived the failure
    reports = {r.name: r for r in session.sink_reports}
    assert isinstance(reports["bad"].error, RuntimeError)
    assert "bad failed: disk on fire" in reports["bad"].describe()
    assert reports["counter"].ok
    assert reports["jsonl"].ok
    assert strap.cleaned_up
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert sum(x["type"] == "samples" for x in lines) >= 3


async def test_a_required_sink_that_fails_ends_the_session() -> None:
    strap = Forever("strap", rr=0.05)

    def gone(message: Message, ctx: SinkContext) -> None:
        raise BrokenPipeError

    async def body() -> None:
        async with asyncio.timeout(10), Session(pipeline=None, fusion=None) as session:
            session.add_sink(MessageSink(gone), name="output", required=True)
            session.add(strap)
            await asyncio.Event().wait()  # ended by the sink, not by the timeout

    with pytest.raises(BrokenPipeError):
        await body()
    assert strap.cleaned_up


class Stuck:
    """A sink whose link never comes back: it holds three messages it cannot deliver."""

    def __init__(self) -> None:
        self.cancelled = False

    async def run(self, ctx: SinkContext) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def drain(self, timeout_s: float) -> int:
        await asyncio.sleep(timeout_s)  # the whole deadline: nothing leaves
        return 3


async def test_a_sink_that_cannot_deliver_is_cut_at_the_deadline_and_says_so() -> None:
    stuck = Stuck()
    loop = asyncio.get_running_loop()
    async with Session(pipeline=None, fusion=None, drain_timeout_s=0.2) as session:
        session.add_sink(stuck)
        started = loop.time()
    assert loop.time() - started < 5.0
    (report,) = session.sink_reports
    assert report.name == "Stuck"
    assert report.undelivered == 3
    assert report.error is None
    assert "3 messages were not delivered" in report.describe()
    assert stuck.cancelled


async def test_estimates_end_when_a_finite_source_ends() -> None:
    session = Session(pipeline=FAST)
    got: list[Estimate] = []
    async with session:
        source = PhysioSource(synthetic_physio(90.0), t0=session.clock.now(), name="syn")
        session.add(source)
        async with asyncio.timeout(60):
            async for estimate in session.estimates(maxsize=4096, policy="block"):
                got.append(estimate)
        # the replay is over: no source can be added any more
        with pytest.raises(StreamClosedError):
            session.add(Forever("late"))
    assert len(got) >= 5
    # the last windows were flushed, not cut: the last one ends within two hops of the data
    assert got[-1].t > source.t0 + 90.0 - 2 * FAST.hop_s
