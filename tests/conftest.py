"""Shared test configuration.

LSL discovery is kept on this machine (loopback) for every test, as the LSL docs advise for
test rigs, and inside one LSL session (``[lab] SessionID``) per test process: streams of
parallel pytest-xdist workers, and of other test runs on the same machine, are invisible to each
other. The config is written before liblsl reads it (at configure time, before collection
imports anything) and pointed at by ``LSLAPICFG``, which the CLI subprocesses inherit.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

import wearsdk._clock._session as clock_module
from tests.io.mosquitto import Mosquitto
from wearsdk import Bus, SessionClock

_OLD_LSLAPICFG = pytest.StashKey[str | None]()


_LSL_CFG_DIR: tempfile.TemporaryDirectory[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point liblsl at a loopback-only config with an LSL session of this test process."""
    global _LSL_CFG_DIR
    # registered by the looptime plugin too; here so that a venv without it still collects
    config.addinivalue_line("markers", "looptime: run the test on the loop's virtual time")
    _LSL_CFG_DIR = tempfile.TemporaryDirectory(prefix="wearsdk-lsl-")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    cfg = Path(_LSL_CFG_DIR.name) / "lsl_api.cfg"
    cfg.write_text(
        "[multicast]\nResolveScope = machine\n\n[ports]\nIPv6 = disable\n\n"
        f"[lab]\nSessionID = wearsdk-tests-{worker}-{os.getpid()}\n"
    )
    config.stash[_OLD_LSLAPICFG] = os.environ.get("LSLAPICFG")
    os.environ["LSLAPICFG"] = str(cfg)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore ``LSLAPICFG`` and remove the config written by :func:`pytest_configure`."""
    global _LSL_CFG_DIR
    old = config.stash.get(_OLD_LSLAPICFG, None)
    if old is None:
        os.environ.pop("LSLAPICFG", None)
    else:
        os.environ["LSLAPICFG"] = old
    if _LSL_CFG_DIR is not None:
        _LSL_CFG_DIR.cleanup()
        _LSL_CFG_DIR = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the long tests (marked ``slow``) first, the others in their usual order.

    xdist hands out the first tests round-robin, so the long ones start at once on every
    worker instead of one of them, collected last, keeping a worker busy after the others end.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def _sessions_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Session logs and reports of CLI runs go to a temporary WEARSDK_HOME, not ~/.local."""
    old = os.environ.get("WEARSDK_HOME")
    os.environ["WEARSDK_HOME"] = str(tmp_path_factory.mktemp("wearsdk-home"))
    yield
    if old is None:
        os.environ.pop("WEARSDK_HOME", None)
    else:
        os.environ["WEARSDK_HOME"] = old


@pytest.fixture
def data_dir() -> Path:
    """The shared real recordings (``WEARSDK_DATA`` or ``../shared/data``); skip if absent."""
    env = os.environ.get("WEARSDK_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"real recordings not found at {root} (set WEARSDK_DATA)")
    return root


def other_tasks() -> set[asyncio.Task[object]]:
    """Tasks still alive besides the current one (for leak checks)."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real mosquitto on a free loopback port, for this test."""
    with Mosquitto(tmp_path) as b:
        yield b


@pytest.fixture
async def session_bus() -> AsyncIterator[tuple[Bus, SessionClock]]:
    """A bus bound to the test's event loop and a session clock."""
    bus = Bus()
    bus.bind_loop()
    yield bus, SessionClock()
    bus.close()


def _loop_time_source() -> Callable[[], float]:
    """A time source reading the event loop's clock (the running one, or the first to read it)."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None

    def loop_time() -> float:
        nonlocal loop
        if loop is None:
            loop = asyncio.get_running_loop()
        return loop.time()

    return loop_time


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> object:
    """Close an event loop a plugin created and left set around a synchronous test.

    The ``looptime`` plugin asks the event-loop policy for the current loop around every
    test; when none is set (a synchronous test) that creates a loop, with its self-pipe
    sockets, which nothing closes, and the garbage collector then fails whichever later test
    it happens to run in with an unraisable ``ResourceWarning``. Loops set before the call
    (pytest-asyncio's runners) are left alone.
    """
    before = _current_loop()
    try:
        return (yield)
    finally:
        if not inspect.iscoroutinefunction(pyfuncitem.obj):
            stray = _current_loop()
            if stray is not None and stray is not before and not stray.is_running():
                stray.close()
                asyncio.get_event_loop_policy().set_event_loop(before)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set on the policy for this thread, without creating one."""
    loop = getattr(getattr(asyncio.get_event_loop_policy(), "_local", None), "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


@pytest.fixture(autouse=True)
def _virtual_session_time(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked ``looptime`` run on virtual time, session clocks included.

    The ``looptime`` plugin fast-forwards the test's event loop whenever every task waits on a
    timer, so a 30 s scenario of twins and sessions takes a fraction of a second and cannot be
    slowed down by a busy machine. Session clocks (``SessionClock``, ``ScaledClock``,
    ``ReplayClock``) created without an explicit source then read that loop's clock instead of
    the LSL clock, so sample times, pacing and timeouts all follow the same virtual time. Only
    for tests whose parts all run in the loop (bumble's virtual radio, sessions, twins): real
    sockets to other processes and threads would see virtual timeouts expire at once.
    """
    if request.node.get_closest_marker("looptime") is None:
        return
    if not inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        return  # no event loop runs the test: its clocks stay on the LSL clock
    monkeypatch.setattr(clock_module, "monotonic_source", lambda: (_loop_time_source(), "loop"))
