"""A fast structured fuzzer: random mutations of valid inputs, typed errors allowed.

Coverage-guided fuzzers need an instrumented build; parsers of a few hundred bytes are found
wanting just as well by mutating valid packets (bit flips, interesting values, cuts, splices,
repeats), a million per parser in minutes. JSON and TOML inputs also get structural mutations
(:func:`mutate_json`: non-finite and huge numbers, long strings, many keys, deep nesting).
Any exception other than the allowed (typed) ones is a crash; an accepted input whose result
fails the target's check (e.g. carries NaN) is counted as unsafe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import math
import random
import time
import traceback
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from wearsdk._errors import WearError

__all__ = ["FuzzResult", "Mutator", "fuzz", "has_non_finite", "mutate", "mutate_json"]

Mutator = Callable[[random.Random, bytes, Sequence[bytes]], bytes]
"""A mutation: ``(rng, input, corpus) -> new input``."""

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x40)


class FuzzResult(NamedTuple):
    """What one fuzz run found.

    Attributes:
        name: the target's name.
        inputs: inputs tried.
        accepted: inputs the target returned from.
        rejected: inputs it refused with an allowed (typed) error.
        crashes: inputs that raised anything else.
        first_crash: the first crashing input and its traceback, if any.
        seconds: wall time of the run.
        unsafe: accepted inputs whose result failed the target's check (e.g. a NaN).
        first_unsafe: the first such input.
        peak_bytes: the most memory one input allocated while parsed (``measure_memory``;
            Python and numpy allocations traced with ``tracemalloc`` for every 50th input and
            again for the 32 slowest inputs), else 0.
        peak_input: the input that allocated ``peak_bytes`` (its first 64 bytes).
        slowest_s: the longest time one input took.
        slowest_input: that input (its first 64 bytes).
        rss_growth_bytes: growth of the process's peak resident memory over the run (an upper
            bound of every input's peak, measured or not; ``measure_memory`` only).
    """

    name: str
    inputs: int
    accepted: int
    rejected: int
    crashes: int
    first_crash: tuple[bytes, str] | None
    seconds: float
    unsafe: int = 0
    first_unsafe: bytes | None = None
    peak_bytes: int = 0
    peak_input: bytes = b""
    slowest_s: float = 0.0
    slowest_input: bytes = b""
    rss_growth_bytes: int = 0


def has_non_finite(value: Any, _depth: int = 0) -> bool:
    """Whether ``value`` holds a NaN or an infinity anywhere (pydantic models, dataclasses,
    dicts, lists, tuples; numpy arrays are not looked into: NaN marks missing samples)."""  # noqa: D205, D209
    if _depth > 64:
        return False
    if isinstance(value, float):
        return not math.isfinite(value)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return has_non_finite(model_dump(), _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return has_non_finite(
            [getattr(value, f.name) for f in dataclasses.fields(value)], _depth + 1
        )
    if isinstance(value, dict):
        return any(has_non_finite(v, _depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_non_finite(v, _depth + 1) for v in value)
    return False


_HOSTILE_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "-0")


def mutate_json(rng: random.Random, data: bytes, corpus: Sequence[bytes] = ()) -> bytes:
    """A structural mutation of a JSON document (else a byte mutation, :func:`mutate`).

    One of: a number (or any value) replaced by NaN, an infinity, an overflowing or a huge
    integer; a string made long (up to 100 000 characters); an object given many keys (up to
    10 000); a value nested deeply (up to 100 000 levels); a key removed. Emits the
    non-standard ``NaN``/``Infinity`` tokens that Python's and pydantic's parsers accept.
    """
    if len(data) > 80_000 and corpus:  # start again from a seed: keep inputs parseable fast
        data = rng.choice(corpus)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return mutate(rng, data, corpus)
    slots: list[tuple[Any, Any]] = []  # (container, key) of every value

    def walk(node: Any, depth: int) -> None:
        if depth > 16:
            return
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in list(items):
            slots.append((node, k))
            if isinstance(v, dict | list):
                walk(v, depth + 1)

    if not isinstance(doc, dict | list):
        return mutate(rng, data, corpus)
    walk(doc, 0)
    op = rng.randrange(6)
    marker = "\u0000hostile\u0000"
    token = ""
    if slots:
        node, key = rng.choice(slots)
        if op == 0:
            token = rng.choice(_HOSTILE_NUMBERS)
            node[key] = marker
        elif op == 1:
            node[key] = "x" * rng.choice((100, 4097, 5000, 5000, 70_000, 100_000))
        elif op == 2:
            n = rng.choice((65, 65, 1000, 1000, 10_000))
            node[key] = {f"k{i}": i for i in range(n)}
        elif op == 3:
            depth = rng.choice((9, 9, 100, 1000, 1000, 100_000))
            token = "[" * depth + "1" + "]" * depth
            node[key] = marker
        elif op == 4 and isinstance(node, dict):
            del node[key]
        else:
            node[key] = rng.choice([None, True, -1, 2**70, "", [], {}, 0.5])
    text = json.dumps(doc)
    if token:
        text = text.replace(json.dumps(marker), token, 1)
    out = text.encode()
    return mutate(rng, out, corpus) if rng.random() < 0.2 else out


def mutate(rng: random.Random, data: bytes, corpus: Sequence[bytes] = ()) -> bytes:
    """One to four random mutations of ``data`` (``corpus`` supplies splices).

    Mutations: flip a bit, set a byte to a random or an interesting value (0, 1, 0x7F, 0x80,
    0xFF...), insert or delete a run of bytes, truncate, repeat a slice, splice in a piece of
    another corpus entry, or replace the whole input with random bytes.
    """
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(out)
        if op == 0 and n:
            i = rng.randrange(n)
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            out[rng.randrange(n)] = rng.randrange(256)
        elif op == 2 and n:
            out[rng.randrange(n)] = rng.choice(_INTERESTING)
        elif op == 3:
            i = rng.randint(0, n)
            out[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 4 and n:
            i = rng.randrange(n)
            del out[i : i + rng.randint(1, 8)]
        elif op == 5 and n:
            del out[rng.randrange(n) :]
        elif op == 6 and n:
            i = rng.randrange(n)
            j = rng.randint(i, min(n, i + 32))
            out[j:j] = out[i:j] * rng.randint(1, 3)
        elif op == 7 and corpus:
            other = rng.choice(corpus)
            if other:
                i = rng.randrange(len(other))
                k = rng.randint(0, len(out))
                out[k:] = other[i:]
        elif op == 8 and rng.random() < 0.1:
            out = bytearray(rng.randbytes(rng.randint(0, 64)))
    return bytes(out)


def fuzz(
    name: str,
    target: Callable[[bytes], object],
    seeds: Sequence[bytes],
    *,
    inputs: int,
    allowed: tuple[type[BaseException], ...] = (WearError,),
    seed: int = 0,
    mutators: Sequence[Mutator] = (),
    check: Callable[[object], bool] | None = None,
    measure_memory: bool = False,
) -> FuzzResult:
    """Feed ``inputs`` mutated inputs to ``target``; count what it accepts, refuses, crashes on.

    The valid ``seeds`` are tried first as they are, then mutated (each mutation starts from a
    seed or, one time in four, from the previous input, so damage accumulates).

    Args:
        name: a label for the result.
        target: parses one input; raises an ``allowed`` error for bad input.
        seeds: valid inputs.
        inputs: how many inputs to try (seeds included).
        allowed: the typed errors that are a refusal, not a crash.
        seed: random seed (runs are reproducible).
        mutators: the mutations to draw from (default: :func:`mutate` only).
        check: called with what ``target`` returned for an accepted input; ``False`` counts
            the input as unsafe (e.g. ``lambda r: not has_non_finite(r)``).
        measure_memory: trace allocations (``tracemalloc``) of a sample of inputs and of the
            slowest ones to report the peak of the worst, and the growth of the process's
            peak resident memory.
    """
    rng = random.Random(seed)
    ops: Sequence[Mutator] = mutators or (mutate,)
    accepted = rejected = crashes = unsafe = 0
    first: tuple[bytes, str] | None = None
    first_unsafe: bytes | None = None
    slowest, slowest_input = 0.0, b""
    slow: list[tuple[float, int, bytes]] = []  # a heap of the slowest inputs
    peak = (0, b"")
    rss_before = _max_rss()
    previous = seeds[0] if seeds else b""
    started = time.perf_counter()
    for i in range(inputs):
        if i < len(seeds):
            data = seeds[i]
        else:
            base = previous if rng.random() < 0.25 else rng.choice(seeds) if seeds else b""
            data = rng.choice(ops)(rng, base, seeds)
        previous = data
        traced = measure_memory and i % 50 == 0 and not tracemalloc.is_tracing()
        if traced:
            tracemalloc.start()
        t0 = time.perf_counter()
        try:
            result = target(data)
        except allowed:
            rejected += 1
        except Exception:
            crashes += 1
            if first is None:
                first = (data, traceback.format_exc())
        else:
            accepted += 1
            if check is not None and not check(result):
                unsafe += 1
                if first_unsafe is None:
                    first_unsafe = data
        took = time.perf_counter() - t0
        if traced:
            peak = max(peak, (tracemalloc.get_traced_memory()[1], data[:64]))
            tracemalloc.stop()
        if took > slowest:
            slowest, slowest_input = took, data[:64]
        if measure_memory:
            if len(slow) < 32:
                heapq.heappush(slow, (took, i, data))
            elif took > slow[0][0]:
                heapq.heapreplace(slow, (took, i, data))
        result = None
    seconds = time.perf_counter() - started
    if measure_memory and not tracemalloc.is_tracing():
        for _, _, data in slow:  # the slowest inputs again, traced
            tracemalloc.start()
            with contextlib.suppress(Exception):
                target(data)
            peak = max(peak, (tracemalloc.get_traced_memory()[1], data[:64]))
            tracemalloc.stop()
    rss_growth = max(0, _max_rss() - rss_before) if measure_memory else 0
    return FuzzResult(
        name,
        inputs,
        accepted,
        rejected,
        crashes,
        first,
        seconds,
        unsafe,
        first_unsafe,
        peak[0],
        peak[1],
        slowest,
        slowest_input,
        rss_growth,
    )


def _max_rss() -> int:
    """The process's peak resident memory in bytes (Linux: ``ru_maxrss`` is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
