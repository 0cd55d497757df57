"""LSL benchmark: wearsdk's inlet -> session -> outlet path and the inlet's CPU cost per stream.

1. Throughput with 32-channel float32 streams. A producer process pushes N samples as fast as
   it can; a relay in this process reads them and publishes them again; a consumer process
   counts what arrives. Relays, measured in the same run with the same producer and consumer:
   - baseline: a plain pylsl loop (``pull_chunk(timeout=0.0)`` into a buffer, ``push_chunk``
     with pylsl's fast path of one timestamp per chunk, 1 ms sleep when empty);
   - wearsdk: a :class:`~wearsdk.Session` (pipeline stage running) with an
     :class:`~wearsdk.io.sources.LslInlet` and :class:`~wearsdk.io.lsl.LslOutlets` (``raw``,
     float32): every chunk becomes a SampleBlock on the bus and is pushed with its timestamps.
   The stream's type (EEG) is not one the feature pipeline processes, so this measures the
   transport, not the DSP (``benchmarks.pipeline_speed`` measures that).
2. Inlet CPU per stream: a producer pushes M streams (8 channels, 256 Hz, a chunk every 10
   ms) in real time for S seconds; this process reads them with (a) one thread per stream
   polling ``pull_chunk`` every 1 ms, (b) wearsdk's inlets (adaptive polling, at most 50 ms
   between pulls) in one session without a pipeline. CPU time of this process (liblsl's
   receiver threads included, the same in both) / wall time / M, in % of one core.

Throughput runs alternate between the relays, ``--repeat`` times each, and report the best of
each (other load on the machine only ever slows a run down).

Usage: python -m benchmarks.lsl [--n 300000] [--repeat 3] [--streams 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl

from wearsdk import Consent, ExportPolicy, PipelineConfig, Session
from wearsdk.io.lsl import LslOutlets
from wearsdk.io.sources import LslInlet

PRODUCER = """
import sys, time, numpy as np, pylsl
sid, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
info = pylsl.StreamInfo("bench-in", "EEG", 32, 1000.0, pylsl.cf_float32, sid)
out = pylsl.StreamOutlet(info)
print("ready", flush=True)
while not out.wait_for_consumers(0.1):
    pass
x = np.random.default_rng(0).standard_normal((chunk, 32)).astype(np.float32)
while True:  # warm-up chunks (the relay's outlet appears), until the consumer is connected
    out.push_chunk(x, pylsl.local_clock())
    if sys.stdin.readline().strip() == "go":
        break
sent = 0
while sent < n:
    out.push_chunk(x, pylsl.local_clock())
    sent += chunk
print("sent", sent, flush=True)
sys.stdin.read()
"""

CONSUMER = """
import json, sys, time, numpy as np, pylsl
pred, n = sys.argv[1], int(sys.argv[2])
inlet = pylsl.StreamInlet(pylsl.resolve_bypred(pred, 1, 30.0)[0], max_buflen=600)
inlet.open_stream(10.0)
print("ready", flush=True)
buf = np.empty((4096, 32), dtype=np.float32)
got, first, last = 0, None, None
deadline = time.monotonic() + 120
while got < n and time.monotonic() < deadline:
    _, ts = inlet.pull_chunk(timeout=0.2, max_samples=4096, dest_obj=buf)
    if len(ts):
        now = time.perf_counter()
        first = now if first is None else first
        last = now
        got += len(ts)
print(json.dumps({"got": got, "seconds": (last - first) if first else 0.0}), flush=True)
"""

STREAMS = """
import sys, time, numpy as np, pylsl
prefix, m, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
outs = [pylsl.StreamOutlet(pylsl.StreamInfo(f"cpu-{i}", "EEG", 8, 256.0, pylsl.cf_float32,
        f"{prefix}-{i}")) for i in range(m)]
print("ready", flush=True)
x = np.zeros((256 // 100 + 1, 8), dtype=np.float32)
t0 = time.perf_counter()
k = 0
while time.perf_counter() - t0 < seconds + 30:
    for o in outs:
        o.push_chunk(x[: 3 if k % 5 < 3 else 2], pylsl.local_clock())
    k += 1
    time.sleep(max(0.0, t0 + k * 0.01 - time.perf_counter()))
"""


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def plain_relay(in_sid: str, out_sid: str, stop: threading.Event) -> None:
    info = pylsl.resolve_byprop("source_id", in_sid, 1, 30.0)[0]
    inlet = pylsl.StreamInlet(info, max_buflen=600)
    outlet = pylsl.StreamOutlet(
        pylsl.StreamInfo("bench-out", "EEG", 32, 1000.0, pylsl.cf_float32, out_sid)
    )
    buf = np.empty((4096, 32), dtype=np.float32)
    while not stop.is_set():
        _, ts = inlet.pull_chunk(timeout=0.0, max_samples=4096, dest_obj=buf)
        if len(ts):
            outlet.push_chunk(buf[: len(ts)], ts[-1])  # pylsl's fast path: one timestamp
        else:
            time.sleep(0.001)


async def wearsdk_relay(in_sid: str, namespace: str, stop: asyncio.Event) -> None:
    consent = Consent.simulated_participant()
    async with Session(pipeline=PipelineConfig(), consent=consent) as session:
        outlets = LslOutlets(
            session.bus, consent=consent, policy=ExportPolicy.RAW, float32=True, namespace=namespace
        )
        task = asyncio.create_task(outlets.run())
        inlet = LslInlet(f"source_id={in_sid}", source_id="bench", max_latency_s=0.01)
        session.add(inlet)
        await stop.wait()
        task.cancel()
        if inlet.samples != sum(outlets.pushed.values()):
            print(f"  (wearsdk: {inlet.samples} in, {sum(outlets.pushed.values())} out)")


def go(producer: subprocess.Popen[str], consumer: subprocess.Popen[str]) -> None:
    """Warm up until the consumer is connected to the relay's outlet, then start."""
    assert producer.stdin is not None
    assert consumer.stdout is not None
    # the consumer resolves the relay's outlet, which exists once a warm-up chunk went through
    ready = threading.Event()

    def wait_ready() -> None:
        assert consumer.stdout is not None
        if consumer.stdout.readline().strip() == "ready":
            ready.set()

    waiter = threading.Thread(target=wait_ready)
    waiter.start()
    while not ready.wait(0.2):
        producer.stdin.write("wait\n")
        producer.stdin.flush()
    waiter.join()
    time.sleep(0.5)
    producer.stdin.write("go\n")
    producer.stdin.flush()


def throughput(n: int, relay: str) -> float:
    in_sid = f"bench-in-{uuid.uuid4().hex[:8]}"
    if relay == "plain":
        out_sid = f"bench-out-{uuid.uuid4().hex[:8]}"
        pred = f"source_id='{out_sid}'"
    else:
        ns = uuid.uuid4().hex[:8]
        pred = f"source_id='wearsdk:bench:eeg@{ns}'"
    producer = spawn(PRODUCER, in_sid, str(n), "64")
    assert producer.stdout is not None
    assert producer.stdout.readline().strip() == "ready"
    consumer = spawn(CONSUMER, pred, str(n))
    assert consumer.stdout is not None
    try:
        if relay == "plain":
            stop = threading.Event()
            thread = threading.Thread(target=plain_relay, args=(in_sid, out_sid, stop))
            thread.start()
            go(producer, consumer)
            result = json.loads(consumer.stdout.readline())
            stop.set()
            thread.join()
        else:

            async def run() -> dict[str, float]:
                stop = asyncio.Event()
                task = asyncio.create_task(wearsdk_relay(in_sid, ns, stop))
                await asyncio.to_thread(go, producer, consumer)
                out = json.loads(await asyncio.to_thread(consumer.stdout.readline))  # type: ignore[union-attr]
                stop.set()
                await task
                return out  # type: ignore[no-any-return]

            result = asyncio.run(run())
    finally:
        for p in (producer, consumer):
            p.kill()
            p.wait()
    if result["got"] < n:
        print(f"  ({relay}: only {result['got']} of {n} samples arrived)")
    return float(result["got"] / result["seconds"]) if result["seconds"] > 0 else 0.0


def cpu_plain(prefix: str, m: int, seconds: float) -> float:
    infos = [pylsl.resolve_byprop("source_id", f"{prefix}-{i}", 1, 30.0)[0] for i in range(m)]
    stop = threading.Event()

    def poll(info: pylsl.StreamInfo) -> None:
        inlet = pylsl.StreamInlet(info)
        inlet.open_stream(10.0)
        buf = np.empty((1024, 8), dtype=np.float32)
        while not stop.is_set():
            inlet.pull_chunk(timeout=0.0, max_samples=1024, dest_obj=buf)
            time.sleep(0.001)

    threads = [threading.Thread(target=poll, args=(i,)) for i in infos]
    for t in threads:
        t.start()
    time.sleep(2.0)  # connected and steady
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    c1, w1 = time.process_time(), time.perf_counter()
    stop.set()
    for t in threads:
        t.join()
    return 100.0 * (c1 - c0) / (w1 - w0) / m


async def cpu_wearsdk(prefix: str, m: int, seconds: float) -> tuple[float, float]:
    async with Session(pipeline=None) as session:
        inlets = [LslInlet(f"source_id={prefix}-{i}", source_id=f"cpu-{i}") for i in range(m)]
        for inlet in inlets:
            session.add(inlet)
        sub = session.bus.subscribe("physio/#", maxsize=100000)
        await asyncio.sleep(2.0)
        while sub.receive_nowait() is not None:
            pass
        c0, w0 = time.process_time(), time.perf_counter()
        s0 = sum(i.samples for i in inlets)
        await asyncio.sleep(seconds)
        c1, w1 = time.process_time(), time.perf_counter()
        rate = (sum(i.samples for i in inlets) - s0) / (w1 - w0) / m
        sub.close()
    return 100.0 * (c1 - c0) / (w1 - w0) / m, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300_000, help="samples per throughput run")
    parser.add_argument("--streams", type=int, default=8, help="streams for the CPU run")
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU measurement window")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per relay (best)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "LSLAPICFG" not in os.environ:  # keep discovery on this machine
            cfg = Path(tmp) / "lsl_api.cfg"
            cfg.write_text("[multicast]\nResolveScope = machine\n\n[ports]\nIPv6 = disable\n")
            os.environ["LSLAPICFG"] = str(cfg)
        print(f"1. throughput, 32-channel float32, {args.n} samples, producer -> relay -> consumer")
        # interleaved runs, best of each: other processes on the machine only slow runs down
        plain = wear = 0.0
        for _ in range(args.repeat):
            plain = max(plain, throughput(args.n, "plain"))
            wear = max(wear, throughput(args.n, "wearsdk"))
        print(f"   plain pylsl relay       {plain / 1e3:9.0f} k samples/s")
        print(f"   wearsdk inlet->session->outlet {wear / 1e3:9.0f} k samples/s"
              f"   ({wear / plain:.2f} x the plain relay)")  # fmt: skip
        print(f"2. inlet CPU, {args.streams} streams x 8 ch @ 256 Hz, {args.seconds:g} s")
        prefix = f"bench-cpu-{uuid.uuid4().hex[:8]}"
        producer = spawn(STREAMS, prefix, str(args.streams), str(2 * args.seconds + 10))
        assert producer.stdout is not None
        assert producer.stdout.readline().strip() == "ready"
        try:
            base = cpu_plain(prefix, args.streams, args.seconds)
            ours, rate = asyncio.run(cpu_wearsdk(prefix, args.streams, args.seconds))
        finally:
            producer.kill()
            producer.wait()
        print(f"   plain 1 ms polling      {base:6.2f} % of a core per stream")
        print(f"   wearsdk LslInlet        {ours:6.2f} % of a core per stream "
              f"({rate:.0f} samples/s per stream received; {ours / base:.2f} x)")  # fmt: skip


if __name__ == "__main__":
    main()
