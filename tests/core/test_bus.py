import asyncio
import threading

import pytest

from wearsdk import (
    Bus,
    ConfigError,
    HeartRate,
    StreamClosedError,
    SubscriberOverflowError,
)
from wearsdk.bus import topic_matches


def hr(i: int) -> HeartRate:
    return HeartRate(t=float(i), source="s", hr_bpm=60.0 + i % 50)


@pytest.mark.parametrize(
    ("filt", "topic", "expected"),
    [
        ("physio/+/rr", "physio/a/rr", True),
        ("physio/+/rr", "physio/a/hr", False),
        ("physio/+/rr", "physio/a/rr/x", False),
        ("physio/#", "physio/a/rr", True),
        ("physio/#", "physio", True),
        ("#", "affect/estimate", True),
        ("affect/estimate", "affect/estimate", True),
        ("affect/estimate", "affect/estimates", False),
        ("+/+", "a/b", True),
        ("+/+", "a", False),
    ],
)
def test_topic_matching(filt: str, topic: str, expected: bool) -> None:
    assert topic_matches(filt, topic) is expected


@pytest.mark.parametrize("bad", ["", "a/#/b", "a/b#", "a+/b"])
def test_malformed_filters_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        Bus().subscribe(bad)


def test_publish_with_wildcard_is_rejected() -> None:
    bus = Bus()
    bus.subscribe("#")
    with pytest.raises(ConfigError):
        bus.publish_nowait("physio/+/rr", hr(0))


async def test_delivery_once_per_subscription_in_order() -> None:
    bus = Bus()
    async with (
        bus.subscribe(("physio/#", "physio/+/hr")) as both,
        bus.subscribe("affect/#") as other,
    ):
        for i in range(5):
            assert bus.publish_nowait("physio/a/hr", hr(i)) == 1
        bus.close()
        got = [m.payload.t async for m in both]
        assert got == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert [m async for m in other] == []
    assert bus.stats.published == 5


async def test_slow_subscriber_never_stalls_publisher_and_drops_are_counted() -> None:
    bus = Bus()
    slow = bus.subscribe("physio/#", maxsize=10, policy="drop_oldest")
    fast = bus.subscribe("physio/#", maxsize=100_000)
    n = 10_000
    # publish_nowait is synchronous: if it ever waited on `slow`, this loop could not finish
    for i in range(n):
        bus.publish_nowait("physio/a/hr", hr(i))
    stats = slow.stats
    assert stats.dropped == n - 10
    assert stats.queued == 10
    assert stats.high_water == 10
    # the slow subscriber keeps the newest messages
    kept = [slow.receive_nowait() for _ in range(10)]
    assert [m.payload.t for m in kept if m is not None] == [float(i) for i in range(n - 10, n)]
    assert fast.stats.dropped == 0
    assert fast.stats.queued == n


async def test_error_policy_fails_only_that_subscriber() -> None:
    bus = Bus()
    strict = bus.subscribe("#", maxsize=3, policy="error")
    calm = bus.subscribe("#", maxsize=100)
    for i in range(5):
        bus.publish_nowait("x/y", hr(i))
    assert [(await strict.receive()).payload.t for _ in range(3)] == [0.0, 1.0, 2.0]
    with pytest.raises(SubscriberOverflowError) as info:
        await strict.receive()
    assert info.value.maxsize == 3
    assert strict.stats.dropped == 1  # detached at the first overflow
    assert calm.stats.queued == 5
    assert strict not in bus.subscriptions()


async def test_block_policy_backpressures_awaiting_producers_only() -> None:
    bus = Bus()
    sub = bus.subscribe("#", maxsize=2, policy="block")
    await bus.publish("a", hr(0))
    await bus.publish("a", hr(1))
    third = asyncio.create_task(bus.publish("a", hr(2)))
    await asyncio.sleep(0.01)
    assert not third.done()  # waits for room
    first = await sub.receive()
    assert first.payload.t == 0.0
    assert await asyncio.wait_for(third, 1.0) == 1
    # a producer that cannot wait drops and counts instead
    assert bus.publish_nowait("a", hr(3)) == 0
    assert sub.stats.dropped == 1
    assert [(await sub.receive()).payload.t for _ in range(2)] == [1.0, 2.0]


async def test_close_ends_iteration_after_draining() -> None:
    bus = Bus()
    sub = bus.subscribe("#")
    received: list[object] = []

    async def consume() -> None:
        async for m in sub:
            received.append(m.payload.t)

    task = asyncio.create_task(consume())
    for i in range(3):
        bus.publish_nowait("a", hr(i))
    bus.close()
    await asyncio.wait_for(task, 1.0)
    assert received == [0.0, 1.0, 2.0]
    with pytest.raises(StreamClosedError):
        bus.publish_nowait("a", hr(9))
    with pytest.raises(StreamClosedError):
        bus.subscribe("#")


async def test_closing_a_blocked_subscription_releases_the_producer() -> None:
    bus = Bus()
    sub = bus.subscribe("#", maxsize=1, policy="block")
    await bus.publish("a", hr(0))
    waiting = asyncio.create_task(bus.publish("a", hr(1)))
    await asyncio.sleep(0.01)
    sub.close()
    assert await asyncio.wait_for(waiting, 1.0) == 0


async def test_publish_threadsafe_from_a_worker_thread() -> None:
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("#")

    def worker() -> None:
        for i in range(100):
            bus.publish_threadsafe("lsl/x", hr(i))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    got = [(await asyncio.wait_for(sub.receive(), 1.0)).payload.t for _ in range(100)]
    assert got == [float(i) for i in range(100)]


async def test_unsubscribe_on_context_exit() -> None:
    bus = Bus()
    async with bus.subscribe("#") as sub:
        assert sub in bus.subscriptions()
    assert sub.closed
    assert bus.publish_nowait("a", hr(0)) == 0
    assert bus.stats.unrouted == 1


async def test_statistics_methods_are_deprecated_for_the_stats_attributes() -> None:
    bus = Bus()
    sub = bus.subscribe("#")
    bus.publish_nowait("a", hr(0))
    with pytest.warns(DeprecationWarning, match=r"use Subscription\.stats"):
        assert sub.statistics() == sub.stats
    with pytest.warns(DeprecationWarning, match=r"use Bus\.stats"):
        assert bus.statistics() == bus.stats
    assert bus.stats.published == 1
    assert sub.stats.queued == 1


async def test_a_lazy_payload_is_built_only_for_a_subscriber() -> None:
    bus = Bus()
    built: list[int] = []

    def make(i: int) -> HeartRate:
        built.append(i)
        return hr(i)

    assert bus.publish_nowait_lazy("physio/a/hr", lambda: make(0)) == 0  # no one subscribes
    assert built == []
    sub = bus.subscribe("physio/+/hr", maxsize=4)
    assert bus.publish_nowait_lazy("physio/a/hr", lambda: make(1)) == 1
    assert bus.publish_nowait_lazy("physio/b/other", lambda: make(2)) == 0
    assert built == [1]
    message = sub.receive_nowait()
    assert message is not None
    assert message.payload == hr(1)
    assert sub.receive_nowait() is None
    stats = bus.stats
    assert (stats.published, stats.unrouted) == (3, 2)  # counted as publish_nowait counts
    bus.close()
    with pytest.raises(StreamClosedError):
        bus.publish_nowait_lazy("physio/a/hr", lambda: make(3))
    assert built == [1]
