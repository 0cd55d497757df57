"""Speed of ``wearsdk replay FILE.xdf --speed max`` end to end, with pyxdf's bare parse alongside.

Input: a one-hour XDF file written as LabRecorder writes one (1 s chunks of every stream,
interleaved, every sample with its timestamp, ClockOffset chunks every 5 s), holding the
streams of ``pipeline_speed`` without the BVP: ECG 130 Hz (the real Polar H10 recording,
repeated), ACC 200 Hz x 3 (synthetic) and EDA 32 Hz (the real lab recording, resampled and
repeated), with channel metadata in the units another tool writes (uV, mg, microsiemens).

Measured in one run, each the best of ``--repeat``:

- ``pyxdf.load_xdf(FILE, dejitter_timestamps=False)``: the bare parse, the baseline;
- ``read_xdf(FILE)``: wearsdk's reader (the same timestamps and values, see
  ``tests/io/test_xdf_replay.py``);
- the replay alone: ``XdfReplay`` read, merged and published on a session bus with no
  pipeline (one subscriber drains everything);
- the replay through the session pipeline, in process (no output);
- ``wearsdk replay FILE --speed max --jsonl > /dev/null`` as a subprocess, start-up included
  (wall-clock and CPU time of the child), and with ``--topics 'affect/#'`` when the command
  line has that option;
- ``wearsdk --help`` and ``python -c "import wearsdk.signals"`` (start-up).

Figures are "x real time": recording seconds per second. The machine may be shared: CPU
times are printed next to wall-clock times, and the ratios to pyxdf's parse are what compares
across machines. The commands run with their modules' bytecode compiled once and kept (as a
package installed by pip has it), after one run that is not counted; the ``--topics`` case
is also run with ``PYTHONDONTWRITEBYTECODE`` (every module compiled at every start: some CI
and container setups set it), so both are in the same run.

With ``--ref REV`` the two end-to-end commands also run with the package as it was at the
git revision ``REV`` (exported with ``git archive``), alternating run for run with this tree's,
so that both meet the same load on a shared machine; each row then gives the median CPU time
of each and the ratio of the two (the ratio of medians and the median of the per-pair
ratios).

Usage: python -m benchmarks.replay_speed [--data DIR] [--hours 1] [--repeat 3] [--keep FILE]
[--ref REV]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._at_ref import export_package
from benchmarks.pipeline_speed import data_dir, load_inputs

ROOT = Path(__file__).resolve().parents[1]


def write_hour(path: Path, root: Path, hours: float) -> float:
    """Write the benchmark file; return its span in seconds."""
    from wearsdk.io.lsl import ChannelSpec, StreamSpec, XdfWriter

    inputs = load_inputs(root)
    span = 3600.0 * hours
    specs = {
        "ecg": StreamSpec("ecg", "Polar H10 ECG", "ECG", (ChannelSpec("ECG", "uV", "ECG"),),
                          130.0, "float32", source_id="bench-ecg"),
        "acc": StreamSpec("acc", "Polar H10 ACC", "ACC",
                          tuple(ChannelSpec(c, "mg", "ACC") for c in "XYZ"), 200.0, "float32",
                          source_id="bench-acc"),
        "eda": StreamSpec("eda", "Band EDA", "EDA", (ChannelSpec("EDA", "microsiemens", "EDA"),),
                          32.0, "float32", source_id="bench-eda"),
    }  # fmt: skip
    t0 = 5000.0
    with XdfWriter(path, header={"unix_offset_s": repr(time.time() - t0)}) as writer:
        ids = {k: writer.add_stream(s, created_at=t0) for k, s in specs.items()}
        for second in range(int(span)):
            for k, sid in ids.items():
                t, x, fs = inputs[k]
                n = t.size
                lo, hi = int(second * fs) % n, int((second + 1) * fs) % n or n
                writer.samples(sid, t0 + second + (t[lo:hi] - t[lo]), x[lo:hi])
            if second % 5 == 0:
                for sid in ids.values():
                    writer.clock_offset(sid, t0 + second, 0.0)
    return span


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return min(walls), min(cpus)


def child_env(pycache: Path | None) -> dict[str, str]:
    """The subprocesses' environment: with ``pycache``, Python's compiled modules are kept
    there (as an installed package has them: pip compiles on install); ``None``: compiled
    anew at every start (``PYTHONDONTWRITEBYTECODE``, as some CI and container setups run).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def child(args: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """Best wall-clock and CPU time (user + system) of a subprocess, output to /dev/null
    (after one run that is not counted: the file in the page cache, the bytecode compiled).
    """
    walls, cpus = [], []
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env=env, cwd=ROOT)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - w)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def alternate(
    args: list[str], repeat: int, envs: tuple[dict[str, str], dict[str, str]], cwd: Path
) -> tuple[list[float], list[float]]:
    """CPU times of ``args`` run ``repeat`` times under each of two environments, alternating
    (after one run of each that is not counted), from ``cwd`` (not the repository's root:
    ``python -m`` would import the package there before the one on ``PYTHONPATH``).
    """
    cpus: tuple[list[float], list[float]] = ([], [])
    for env in envs:
        subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env=env, cwd=cwd)
    for _ in range(repeat):
        for env, out in zip(envs, cpus, strict=True):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env=env, cwd=cwd)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            out.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return cpus


async def _replay(path: Path, pipeline: bool) -> int:
    from wearsdk import DeviceStatus, PipelineConfig, Session
    from wearsdk.io.sources import XdfReplay

    replay = XdfReplay(path, speed=None)
    n = 0
    config = PipelineConfig() if pipeline else None
    async with Session(pipeline=config, clock=replay.clock()) as session:
        sub = session.bus.subscribe("#", maxsize=1 << 16, policy="block")
        session.add(replay)
        async for message in sub:
            n += 1
            p = message.payload
            if isinstance(p, DeviceStatus) and p.state == "closed":
                break
    return n


def affect_only(path: Path) -> None:
    """What ``--topics 'affect/#'`` asks of a process: the command line's imports, the replay
    through the pipeline, and one JSON line per ``affect/#`` message on stdout.
    """
    import json

    import wearsdk.cli  # noqa: F401  (the start-up of the command)
    from wearsdk import DeviceStatus, Session
    from wearsdk._jsonl import message_to_dict
    from wearsdk.bus import topic_matches
    from wearsdk.io.sources import XdfReplay

    async def run() -> None:
        replay = XdfReplay(path, speed=None)
        clock = replay.clock()
        async with Session(clock=clock) as session:
            topics = ("affect/#", "device/+/status")  # the wanted ones and the end of data
            sub = session.bus.subscribe(topics, maxsize=1 << 16, policy="block")
            session.add(replay)
            async for message in sub:
                if topic_matches("affect/#", message.topic):
                    line = message_to_dict(message, clock)
                    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
                p = message.payload
                if isinstance(p, DeviceStatus) and p.state == "closed":
                    break

    asyncio.run(run())


def main() -> None:
    if sys.argv[1:2] == ["--affect-only"]:
        affect_only(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="the shared recordings (default $WEARSDK_DATA)")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the XDF file here (and keep it)")
    parser.add_argument("--ref", help="also run the commands at this git revision, alternating")
    args = parser.parse_args()

    import pyxdf

    from wearsdk.io.lsl import read_xdf

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "hour.xdf"
        span = write_hour(path, data_dir(args.data), args.hours)
        mb = path.stat().st_size / 1e6
        print(f"{path.name}: {span:.0f} s of ECG 130 Hz, ACC 200 Hz x3, EDA 32 Hz ({mb:.1f} MB)")
        print(f"{'stage':58} {'wall s':>7} {'x real':>7} {'CPU s':>7} {'x real':>7}")

        def row(name: str, wall: float, cpu: float) -> None:
            print(f"{name:58} {wall:7.2f} {span / wall:7.0f} {cpu:7.2f} {span / cpu:7.0f}")

        pyxdf_t = best(lambda: pyxdf.load_xdf(str(path), dejitter_timestamps=False), args.repeat)
        row("pyxdf.load_xdf (bare parse, baseline)", *pyxdf_t)
        ours = best(lambda: read_xdf(path), args.repeat)
        row("read_xdf", *ours)
        row("XdfReplay, no pipeline (read, merge, publish)",
            *best(lambda: asyncio.run(_replay(path, False)), args.repeat))  # fmt: skip
        row("XdfReplay through the session pipeline (in process)",
            *best(lambda: asyncio.run(_replay(path, True)), args.repeat))  # fmt: skip
        py = sys.executable
        env = child_env(Path(tmp) / "pycache")
        cmd = [py, "-m", "wearsdk", "replay", str(path), "--speed", "max", "--jsonl"]
        e2e = child(cmd, args.repeat, env)
        row("wearsdk replay --speed max --jsonl (end to end)", *e2e)
        helptext = subprocess.run(
            [py, "-m", "wearsdk", "replay", "--help"], capture_output=True, text=True, check=True
        ).stdout
        if "--topics" in helptext:
            topics = [*cmd, "--topics", "affect/#"]
            row("wearsdk replay --speed max --jsonl --topics 'affect/#'",
                *child(topics, args.repeat, env))  # fmt: skip
            row("  the same, bytecode compiled at every start",
                *child(topics, args.repeat, child_env(None)))  # fmt: skip
        else:
            print(f"{'(--topics: not an option of this command line; its equivalent:)':58}")
            row("  CLI imports + replay + pipeline + affect/# lines",
                *child([py, "-m", "benchmarks.replay_speed", "--affect-only", str(path)],
                       args.repeat, env))  # fmt: skip
        for name, startup in (
            ("start-up: wearsdk --help", ["-m", "wearsdk", "--help"]),
            ("start-up: python -c 'import wearsdk.signals'", ["-c", "import wearsdk.signals"]),
        ):
            wall, cpu = child([py, *startup], args.repeat, env)
            print(f"{name:58} {wall:7.2f} {'':>7} {cpu:7.2f}")
        print(
            f"read_xdf / pyxdf parse: {pyxdf_t[1] / ours[1]:.1f}x faster (CPU); end to end / "
            f"pyxdf parse alone: {e2e[1] / pyxdf_t[1]:.2f} (CPU)"
        )
        if args.ref:
            compare_ref(args.ref, cmd, span, args.repeat, Path(tmp))


def compare_ref(ref: str, cmd: list[str], span: float, repeat: int, tmp: Path) -> None:
    """The end-to-end commands at ``ref`` and in this tree, alternating (median CPU times)."""
    import statistics

    here = child_env(tmp / "pycache")
    there = child_env(tmp / "pycache-ref")
    there["PYTHONPATH"] = f"{export_package(ref, tmp / 'ref')}{os.pathsep}{ROOT}"
    print(f"alternating with {ref} ({repeat} runs each; median CPU s, x real time):")
    for name, args in (("--jsonl", cmd), ("--jsonl --topics 'affect/#'",
                                          [*cmd, "--topics", "affect/#"])):  # fmt: skip
        old, new = alternate(args, repeat, (there, here), tmp)
        a, b = statistics.median(old), statistics.median(new)
        pairs = statistics.median(o / n for o, n in zip(old, new, strict=True))
        print(
            f"  {name:30} {ref}: {a:5.2f} s ({span / a:5.0f}x)  now: {b:5.2f} s ({span / b:5.0f}x)"
            f"  {ref} / now: {a / b:.3f} (pairs: {pairs:.3f})"
        )


if __name__ == "__main__":
    main()
