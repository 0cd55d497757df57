"""In-process analyzers on a Session: the contract, the publish helper, fusion on the bus."""

import asyncio

import pytest

from wearsdk import Annotation, ConfigError, Estimate, ScaledClock, Session
from wearsdk.analyzers import Analyzer, AnalyzerContext

pytestmark = [pytest.mark.timeout(30), pytest.mark.looptime]


class SmileAnalyzer:
    """Publishes a smiling face once per session second."""

    analyzer_id = "smile-cam"
    modality = "face"

    def __init__(self, valence: float) -> None:
        self.valence = valence

    async def run(self, ctx: AnalyzerContext) -> None:
        while True:
            now = ctx.now()
            ctx.publish(now - 1.0, now, valence=self.valence, arousal=0.4, confidence=0.9)
            await ctx.sleep(1.0)


def physio(end: float) -> Estimate:
    return Estimate(
        t=end, window_start=end - 60, window_end=end, arousal=0.6, confidence=0.8, model="m"
    )


async def fused_estimates(analyzer: Analyzer | None) -> list[Estimate]:
    clock = ScaledClock(10.0)
    async with Session(clock=clock, pipeline=None) as session:
        if analyzer is not None:
            session.add(analyzer)
        out: list[Estimate] = []
        async with session.estimates() as stream:
            for _ in range(5):
                await session.sleep(1.0)
                session.bus.publish_nowait("affect/physio", physio(clock.now()))
            async with asyncio.timeout(5):
                async for est in stream:
                    out.append(est)
                    if len([e for e in out if not e.revised]) == 5:
                        break
    return out


async def test_an_in_process_analyzer_changes_the_fused_valence() -> None:
    assert isinstance(SmileAnalyzer(0.7), Analyzer)
    alone = await fused_estimates(None)
    assert [e.valence for e in alone] == [None] * 5
    happy = await fused_estimates(SmileAnalyzer(0.7))
    on_time = [e for e in happy if not e.revised]
    assert all("face" in e.modalities and "smile-cam" in e.sources for e in on_time)
    assert all(e.valence == pytest.approx(0.7) for e in on_time)
    sad = await fused_estimates(SmileAnalyzer(-0.7))
    assert all(e.valence == pytest.approx(-0.7) for e in sad if not e.revised)


async def test_analyzer_annotations_are_on_their_topic_and_validated() -> None:
    async with Session(clock=ScaledClock(10.0), pipeline=None) as session:
        sub = session.bus.subscribe("analyzer/#")
        session.add(SmileAnalyzer(0.5))
        msg = await asyncio.wait_for(sub.receive(), 5)
        assert msg.topic == "analyzer/face/smile-cam"
        assert isinstance(msg.payload, Annotation)
        assert msg.payload.end - msg.payload.start == pytest.approx(1.0)
        with pytest.raises(ConfigError):
            session.add(SmileAnalyzer(0.1))  # same id twice


def test_add_takes_analyzers_too_and_add_analyzer_is_deprecated() -> None:
    assert Session(pipeline=None).add(SmileAnalyzer(0.5)) == "smile-cam"
    session = Session(pipeline=None)
    with pytest.warns(DeprecationWarning, match=r"Session\.add\(a\)"):
        session.add_analyzer(SmileAnalyzer(0.5))
    with pytest.raises(ConfigError):  # it was added: the same id again
        session.add(SmileAnalyzer(0.5))
    with pytest.raises(ConfigError, match="neither a Source nor an Analyzer"):
        session.add(object())  # type: ignore[arg-type]


async def test_an_analyzer_publishing_out_of_range_values_fails_the_session() -> None:
    class Broken:
        analyzer_id = "broken"
        modality = "face"

        async def run(self, ctx: AnalyzerContext) -> None:
            ctx.publish(ctx.now(), ctx.now(), valence=3.0)

    async def run_session() -> None:
        async with Session(pipeline=None) as session:
            session.add(Broken())
            await asyncio.sleep(1.0)

    with pytest.raises(ValueError, match="valence"):
        await run_session()
