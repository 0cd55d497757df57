"""A fast structured fuzzer: random mutations of valid inputs, typed errors allowed.

Coverage-guided fuzzers need an instrumented build; parsers of a few hundred bytes are found
wanting just as well by mutating valid packets (bit flips, interesting values, cuts, splices,
repeats), a million per parser in minutes. Any exception other than the allowed (typed) ones
is a crash.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable, Sequence
from typing import NamedTuple

from wearsdk._errors import WearError

__all__ = ["FuzzResult", "fuzz", "mutate"]

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
    """

    name: str
    inputs: int
    accepted: int
    rejected: int
    crashes: int
    first_crash: tuple[bytes, str] | None
    seconds: float


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
    """
    rng = random.Random(seed)
    accepted = rejected = crashes = 0
    first: tuple[bytes, str] | None = None
    previous = seeds[0] if seeds else b""
    started = time.perf_counter()
    for i in range(inputs):
        if i < len(seeds):
            data = seeds[i]
        else:
            base = previous if rng.random() < 0.25 else rng.choice(seeds) if seeds else b""
            data = mutate(rng, base, seeds)
        previous = data
        try:
            target(data)
        except allowed:
            rejected += 1
        except Exception:
            crashes += 1
            if first is None:
                first = (data, traceback.format_exc())
        else:
            accepted += 1
    return FuzzResult(
        name, inputs, accepted, rejected, crashes, first, time.perf_counter() - started
    )
