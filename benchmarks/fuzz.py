"""Fuzz every parser of device and wire input: 0 crashes allowed (typed errors are fine).

Targets (each fed mutations of valid inputs built with the matching encoders):

- ``hr``: Heart Rate Measurement (``parse_heart_rate_measurement``);
- ``pmd-frame``: Polar PMD data frames (ECG, raw and delta-compressed ACC), decoded with and
  without the previous frame's timestamp;
- ``pmd-control``: PMD control point responses, features and settings;
- ``bitalino``: BITalino frames through the stream reassembler, in random pieces;
- ``gatt-profile``: the shipped ``nus-grove-gsr`` profile's notification decoder;
- ``gatt-config``: GATT profile files (TOML and JSON) as ``--profile`` loads them, with hostile
  ``sample_format`` counts and deep nesting; an accepted profile decodes a notification;
- ``hr-driver`` and ``polar-driver``: whole notifications through the drivers' handlers
  (decode, clock mapping, Gap and block publication on a real bus);
- ``wire-in``: inbound MQTT payloads (annotations and commands) as the bridge decodes them;
- ``wire-event``: any wearsdk event from JSON (``EVENT_ADAPTER``) and the wire envelope;
- ``lsl-marker``: LSL marker strings as analyzer annotations (``annotation_from_marker``);
- ``lsl-channels``: numeric LSL analyzer samples with arbitrary channel labels
  (``annotation_from_channels``);
- ``xdf``: XDF files (written by an XDF writer independent of wearsdk's, interleaved and stream
  after stream, with numeric and string streams and clock offsets) as ``wearsdk replay``
  opens them (``XdfReplay``: read, clock offsets, units, time-ordered feeds); the only refusal
  is ``XdfFormatError``;
- ``e4-csv``: one file of an Empatica E4 export (``EDA.csv``, ``BVP.csv``, ``HR.csv``,
  ``TEMP.csv``, ``ACC.csv``, ``IBI.csv`` or ``tags.csv``, next to a valid ``EDA.csv``) as
  ``wearsdk replay --source e4`` opens the folder (``load_e4_session``, then ``E4Replay`` and
  its clock); an accepted session has finite start times, rates and beat times. Accepted
  sessions spanning more than 10 days (a corrupt start row next to a valid file: a replay of
  decades) are counted and printed under the row;
- ``session-toml``: session files as ``wearsdk run --config`` reads them
  (``load_session_config``), with hostile values (wrong types, NaN, infinities, 10^400, long
  strings, deep nesting) put in place of valid ones; an accepted file holds no non-finite
  number.

JSON inputs (``wire-in``, ``wire-event``, ``lsl-marker``, ``gatt-config``) also get structural
mutations: NaN, infinities, overflowing numbers, 100 000-character strings, 10 000 keys,
nesting 100 000 deep.

Allowed errors: :class:`~wearsdk.WearError` subclasses; for JSON input also pydantic's
``ValidationError`` (the bridge counts and drops those); none for the drivers' handlers (a
driver counts and drops bad notifications: anything escaping would end its task). Anything
else is a crash. For the event and configuration targets an accepted input whose result holds
a NaN or an infinity, or does not serialise to strict JSON, is counted as ``non-finite``
(must be 0). ``peak MB``: the most one input allocated (``tracemalloc`` on every 50th input
and on the 32 slowest); ``RSS+ MB``: how much the process's peak resident memory grew over the
target's run, a bound for every input; both must stay under 100 MB. ``slowest``: the longest
single input.

Usage: python -m benchmarks.fuzz [--inputs N] [--targets a,b] [--seed S] [--no-memory]
       python -m benchmarks.fuzz --engine atheris --targets hr --inputs N  (coverage-guided,
       one target per process, if atheris is installed)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from wearsdk import EVENT_ADAPTER, ScaledClock, SessionClock, WearError
from wearsdk.bus import Bus
from wearsdk.drivers.bitalino.protocol import FrameReassembler, encode_frame
from wearsdk.drivers.gatt_profile import GattProfile, load_profile
from wearsdk.drivers.heart_rate import HeartRateStrap
from wearsdk.drivers.heart_rate.protocol import (
    encode_heart_rate_measurement,
    parse_heart_rate_measurement,
)
from wearsdk.drivers.polar import PolarH10
from wearsdk.drivers.polar.protocol import (
    PmdMeasurementType,
    PmdSettingType,
    decode_pmd_frame,
    encode_control_point_response,
    encode_delta_frame,
    encode_features,
    encode_pmd_frame,
    encode_settings,
    parse_control_point_response,
    parse_features,
    parse_settings,
)
from wearsdk.io import WireMessage, annotation_from_channels, annotation_from_marker
from wearsdk.io.mqtt import decode_inbound
from wearsdk.session import SourceContext
from wearsdk.testing import FuzzResult, Mutator, fuzz, has_non_finite, mutate, mutate_json

ECG, ACC = PmdMeasurementType.ECG, PmdMeasurementType.ACC
_JSON_ERRORS = (WearError, ValidationError)
_T0 = 820_000_000_000_000_000  # an H10 sensor time (ns since 2000)


@dataclass(frozen=True)
class Target:
    """One fuzz target: a name, valid seeds, the function, the errors that are refusals, the
    mutations, and the check of what it accepts (``None``: returns samples, NaN allowed)."""

    name: str
    seeds: list[bytes]
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...] = (WearError,)
    mutators: tuple[Mutator, ...] = (mutate,)
    check: Callable[[object], bool] | None = None


def finite_json(result: object) -> bool:
    """What a sink would write of ``result``: strict JSON (no NaN/Infinity) and no non-finite
    number anywhere."""
    if has_non_finite(result):
        return False
    items = result if isinstance(result, tuple) else (result,)
    for item in items:
        dump = getattr(item, "model_dump", None)
        if callable(dump):
            json.dumps(dump(mode="json"), allow_nan=False)  # raises: a crash, reported
    return True


_JSON = (mutate, mutate_json)


def _hr_seeds() -> list[bytes]:
    return [
        encode_heart_rate_measurement(72),
        encode_heart_rate_measurement(64, rr_s=[0.9, 0.95], contact=True),
        encode_heart_rate_measurement(180, rr_s=[0.33] * 9, energy_kj=1200, force_uint16=True),
        encode_heart_rate_measurement(55, rr_s=(), rr_flag_when_empty=True, contact=False),
    ]


def _pmd_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    ecg = rng.integers(-2000, 2000, size=(73, 1))
    acc = rng.integers(-1000, 1000, size=(36, 3))
    ref = np.array([-120, 60, 985])
    deltas = rng.integers(-20, 20, size=(71, 3))
    return [
        encode_pmd_frame(ECG, 0, _T0, ecg),
        encode_pmd_frame(ACC, 1, _T0, acc),
        encode_delta_frame(ref, deltas, timestamp_ns=_T0),
    ]


def _pmd_frame(data: bytes) -> None:
    for rate in (130.0, 200.0):
        decode_pmd_frame(data, sample_rate_hz=rate)
        decode_pmd_frame(data, sample_rate_hz=rate, previous_timestamp_ns=_T0 - 561_538_461)


def _control_seeds() -> list[bytes]:
    settings = encode_settings(
        {PmdSettingType.SAMPLE_RATE: (130,), PmdSettingType.RESOLUTION: (14,)}
    )
    return [
        encode_control_point_response(1, ECG, 0, settings),
        encode_control_point_response(2, ACC, 0, encode_settings({PmdSettingType.FACTOR: (0.5,)})),
        encode_control_point_response(2, ECG, 6),
        encode_features([ECG, ACC]),
        settings,
    ]


def _control(data: bytes) -> None:
    parse_control_point_response(data)


def _control_all(data: bytes) -> None:
    for parse in (parse_control_point_response, parse_features, parse_settings):
        with contextlib.suppress(WearError):
            parse(data)


def _bitalino_seeds() -> list[bytes]:
    frames = [encode_frame(i, [500 + i, 300, 700, 100, 30, 40]) for i in range(16)]
    return [b"".join(frames[:8]), b"".join(frames[8:])]


def _bitalino(data: bytes) -> None:
    r = FrameReassembler(6)
    cut = len(data) // 3
    r.feed(data[:cut])
    r.feed(data[cut:], final=True)


def _gatt_profile() -> Target:
    profile = load_profile("nus-grove-gsr")
    seeds = [profile.encode([[100 + i + k] for k in range(5)], counter=i) for i in range(4)]
    return Target("gatt-profile", seeds, profile.decode)


_CODES = "bBhHiIlLqQefd"
_COUNTS = ("", "", "0", "1", "3", "64", "65", "999999999", "9999999999", "9" * 60)


def _gatt_config_seeds() -> list[bytes]:
    import importlib.resources

    shipped = importlib.resources.files("wearsdk.drivers.gatt_profile") / "profiles"
    toml = (shipped / "nus_grove_gsr.toml").read_bytes()
    minimal = {
        "name": "lab-eda",
        "service_uuid": "180d",
        "data_uuid": "2a37",
        "nominal_rate_hz": 4.0,
        "channels": ["eda"],
        "payload": {"sample_format": "h", "samples_per_notification": 2},
        "conversion": {"scale": 0.01, "offset": 0.5},
    }
    return [toml, json.dumps(minimal).encode()]


def _hostile_format(rng: random.Random, data: bytes, corpus: object) -> bytes:
    """Replace the sample_format by counts and codes a hostile file would give, or nest a
    value deeply (TOML or JSON)."""
    fmt = "".join(
        rng.choice(_COUNTS) + rng.choice(_CODES) for _ in range(rng.choice((1, 1, 2, 5, 40)))
    )
    text = data.decode("utf-8", "replace")
    if rng.random() < 0.15:
        depth = rng.choice((50, 1000, 100_000))
        nested = "[" * depth + "]" * depth
        if text.lstrip().startswith("{"):
            return text.replace('"name":', f'"x": {nested}, "name":', 1).encode()
        return (f"x = {nested}\n" + text).encode()
    import re

    return re.sub(r'(sample_format"?\s*[=:]\s*)"[^"]*"', rf'\1"{fmt}"', text, count=1).encode()


def _gatt_config(data: bytes) -> object:
    """A profile file as ``--profile`` reads it; an accepted one decodes a notification."""
    text = data.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        profile = GattProfile.from_json(text, origin="fuzz")
    else:
        profile = GattProfile.from_toml(text, origin="fuzz")
    spec = profile.payload
    n = spec.samples_per_notification or 1
    decoded = profile.decode(bytes(spec.header_size + n * spec.sample_size))
    profile.convert(decoded.raw)
    return profile


def _gatt_config_target() -> Target:
    return Target(
        "gatt-config",
        _gatt_config_seeds(),
        _gatt_config,
        (WearError,),
        (mutate, mutate_json, _hostile_format, _hostile_format),
        finite_json,
    )


class _Driven:
    """A driver's notification handler on a real bus (no BLE): what a notification does."""

    def __init__(self, driver: HeartRateStrap, kind: str) -> None:
        self.driver = driver
        self.kind = kind
        self.bus = Bus()
        self.sub = self.bus.subscribe("physio/#", maxsize=64)  # drop_oldest: stays bounded
        self.ctx = SourceContext(self.bus, ScaledClock(1.0), "fuzz")
        self.t = 0.0

    def __call__(self, data: bytes) -> None:
        self.t += 0.5
        self.driver._handle_notification(self.ctx, self.kind, self.t, data)


def _hr_driver() -> Target:
    driver = HeartRateStrap(None, name="x")  # type: ignore[arg-type]
    return Target("hr-driver", _hr_seeds(), _Driven(driver, "hr"), allowed=())


def _polar_driver() -> Target:
    driver = PolarH10(None, name="x", acc_rate_hz=200)  # type: ignore[arg-type]
    return Target("polar-driver", _pmd_seeds(), _Driven(driver, "pmd"), allowed=())


def _wire_in_seeds() -> list[bytes]:
    return [
        json.dumps(
            {
                "modality": "face",
                "analyzer_id": "cam-1",
                "start_unix": 1.7e9,
                "end_unix": 1.7e9 + 2,
                "arousal": 0.4,
                "valence": -0.2,
                "confidence": 0.8,
                "emotions": {"joy": 0.1},
                "label": "neutral",
            }
        ).encode(),
        json.dumps({"command": "mark", "args": {"label": "start"}}).encode(),
    ]


def _wire_in() -> Target:
    clock = SessionClock()

    def run(data: bytes) -> None:
        decode_inbound(data.startswith(b'{"command'), data, clock)

    return Target("wire-in", _wire_in_seeds(), run, _JSON_ERRORS, _JSON, finite_json)


def _wire_event_seeds() -> list[bytes]:
    gap = {"type": "gap", "t": 5.0, "source": "hr-1", "stream": "rr", "start": 1.0, "end": 4.0}
    status = {"type": "device_status", "t": 1.0, "source": "hr-1", "state": "connected"}
    envelope = {
        "schema": "wearsdk.wire/1",
        "session": "s1",
        "seq": 3,
        "topic": "physio/hr-1/rr",
        "t_unix": 1.7e9,
        "event": gap,
    }
    return [json.dumps(x).encode() for x in (gap, status, envelope)]


def _wire_event(data: bytes) -> object:
    if b'"schema"' in data:
        return WireMessage.model_validate_json(data)
    return EVENT_ADAPTER.validate_json(data)


def _marker_seeds() -> list[bytes]:
    face = {"modality": "face", "valence": 0.4, "arousal": 0.6, "confidence": 0.8, "duration_s": 1}
    timed = {"analyzer_id": "openface", "start": 10.0, "end": 12.5, "valence": -0.2}
    return [b"stimulus onset", json.dumps(face).encode(), json.dumps(timed).encode()]


def _lsl_marker(data: bytes) -> object:
    """A marker string as an LSL inlet hands it over (any text: LSL strings are bytes)."""
    return annotation_from_marker(
        data.decode("utf-8", "replace"), 100.0, modality="marker", analyzer_id="lsl-markers"
    )


_CHANNEL_NAMES = ("arousal", "valence", "confidence", "emotion_joy", "emotion_anger", "AU12", "x")


def _channel_seeds() -> list[bytes]:
    one = bytes([3, 0, 1, 2]) + np.array([0.6, -0.2, 0.9]).tobytes()
    two = bytes([2, 3, 5]) + np.array([0.7, 1.5]).tobytes()
    return [one, two]


def _lsl_channels(data: bytes) -> object:
    """One sample of a numeric LSL analyzer stream: channel labels, then float64 values."""
    n = data[0] % 8 if data else 0
    names = tuple(_CHANNEL_NAMES[b % len(_CHANNEL_NAMES)] for b in data[1 : 1 + n])
    raw = data[1 + len(names) :]
    values = np.frombuffer(raw[: 8 * (len(raw) // 8)], dtype=np.float64)[: len(names)]
    names = names[: values.size]
    return annotation_from_channels(
        values.tolist(), names, 100.0, modality="face", analyzer_id="lsl-face", duration_s=0.5
    )


def _xdf_seeds() -> list[bytes]:
    # the tests' writer follows the specification independently of wearsdk's recorder and
    # writes what other tools write (streams one after the other, clock offsets, no footers)
    from tests.io.xdfwrite import Stream, write

    t = 7000.0 + np.arange(300) / 100.0
    streams = [
        Stream(1, "BioAmp", "ECG", 100.0, t, np.sin(t), channels=[("e", "mV", "ECG")]),
        Stream(2, "Markers", "Markers", 0.0, t[::50], [f"m{i}" for i in range(6)], fmt="string"),
        Stream(3, "Motion", "ACC", 50.0, t[::2], np.ones((150, 3)), fmt="int16",
               channels=[(c, "g", "ACC") for c in "xyz"]),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        return [
            write(Path(folder) / f"{layout}.xdf", streams, layout=layout, chunk_s=0.5).read_bytes()
            for layout in ("interleaved", "sequential")
        ]


class _XdfFile:
    """An XDF file as ``wearsdk replay`` opens it (from a file: the reader takes paths)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self.path = Path(self._folder.name) / "fuzz.xdf"

    def __call__(self, data: bytes) -> object:
        from wearsdk.io.sources import XdfReplay

        self.path.write_bytes(data)
        return XdfReplay(self.path, speed=None)


_E4_FILES = ("EDA.csv", "BVP.csv", "HR.csv", "TEMP.csv", "ACC.csv", "IBI.csv", "tags.csv")
_E4_START = 1_560_279_825.0


def _e4_valid() -> dict[str, str]:
    """A small valid export: each file as E4 Connect writes it (start, rate, samples)."""
    rng = np.random.default_rng(0)

    def signal(rate: float, rows: list[str], columns: int = 1) -> str:
        head = ", ".join([f"{_E4_START:.6f}"] * columns) + "\n"
        head += ", ".join([f"{rate:.6f}"] * columns) + "\n"
        return head + "\n".join(rows) + "\n"

    return {
        "EDA.csv": signal(4.0, [f"{0.3 + 0.01 * i:.6f}" for i in range(40)]),
        "BVP.csv": signal(64.0, [f"{v:.2f}" for v in rng.normal(0, 30, 128)]),
        "HR.csv": signal(1.0, [f"{70 + i % 5:.2f}" for i in range(10)]),
        "TEMP.csv": signal(4.0, [f"{31.5 + 0.01 * i:.2f}" for i in range(40)]),
        "ACC.csv": signal(32.0, [f"{-61 + i % 3},{25},{6 + i % 4}" for i in range(64)], 3),
        "IBI.csv": f"{_E4_START:.6f}, IBI\n"
        + "".join(f"{2.0 + 0.8 * i:.6f},0.800000\n" for i in range(8)),
        "tags.csv": f"{_E4_START + 3:.2f}\n{_E4_START + 6.5:.2f}\n",
    }


def _e4_seeds() -> list[bytes]:
    # one byte names the file (its index in _E4_FILES), the rest is the file's content
    return [bytes([i]) + text.encode() for i, text in enumerate(_e4_valid().values())]


class _E4Folder:
    """An E4 export folder as ``wearsdk replay --source e4`` opens it, one file mutated."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self.path = Path(self._folder.name)
        self._eda = _e4_valid()["EDA.csv"]

    def __call__(self, data: bytes) -> object:
        from wearsdk.drivers.e4 import E4Replay
        from wearsdk.io.e4 import load_e4_session

        for old in self.path.iterdir():
            old.unlink()
        name = _E4_FILES[data[0] % len(_E4_FILES)] if data else "EDA.csv"
        if name != "EDA.csv":
            (self.path / "EDA.csv").write_text(self._eda)
        (self.path / name).write_bytes(data[1:])
        session = load_e4_session(self.path)
        replay = E4Replay(session, speed=None)
        replay.clock()
        if session.end_unix - session.start_unix > 10 * 86_400:
            self.long_spans += 1
        return session

    long_spans = 0
    """Accepted sessions spanning more than 10 days."""


def _e4_check(session: object) -> bool:
    """Finite start times, rates and beat times."""
    from wearsdk.io.e4 import E4Session

    assert isinstance(session, E4Session)
    numbers = [session.start_unix, session.end_unix]
    for sig in session.signals.values():
        numbers += [sig.start_unix_s, sig.rate_hz]
    if session.ibi is not None:
        numbers += [session.ibi.start_unix_s, *session.ibi.offset_s.tolist()]
    numbers += session.tags_unix_s.tolist()
    return bool(np.all(np.isfinite(numbers)))


def _session_toml_seeds() -> list[bytes]:
    virtual = """[session]
name = "virtual"
transport = "virtual"
duration_s = 20
speed = 10
report = "out/report.png"
connect_timeout_s = 10

[pipeline]
window_s = 5
hop_s = 1
baseline_s = 6

[[devices]]
driver = "heart-rate"
name = "Strap"

[[sinks]]
kind = "jsonl"
path = "out/events.jsonl"
"""
    live = """[session]
name = "lab"
transport = "bumble:tcp-client:127.0.0.1:19001"
duration_s = 60

[[devices]]
driver = "polar-h10"
address = "A0:9E:1A:12:34:56"

[[devices]]
driver = "bitalino"
name = "BITalino EDA"
options = { channel = 2 }

[[sinks]]
kind = "jsonl"
path = "events.jsonl"
"""
    return [virtual.encode(), live.encode()]


_TOML_HOSTILE = (
    "nan", "inf", "-inf", "1e400", "-1", "0", "1" + "0" * 30, "true", '""', "[]", "{}",
    '"' + "x" * 100_000 + '"', "[" * 1000 + "]" * 1000, '"../../../etc/passwd"', '"\u0000"',
    '{ a = { b = { c = 1 } } }', '"tcp-client:127.0.0.1:1"', '"bumble:nonsense"',
)  # fmt: skip


def _hostile_toml(rng: random.Random, data: bytes, corpus: object) -> bytes:
    """Put a hostile value in place of one of the file's values (or nest the file deeply)."""
    import re

    text = data.decode("utf-8", "replace")
    if rng.random() < 0.05:
        depth = rng.choice((100, 10_000, 100_000))
        return (f"x = {'[' * depth}{']' * depth}\n" + text).encode()
    values = list(re.finditer(r"(?m)^(\s*[\w.]+\s*=\s*)(.+)$", text))
    if not values:
        return mutate(rng, data, ())
    m = rng.choice(values)
    return (text[: m.start(2)] + rng.choice(_TOML_HOSTILE) + text[m.end(2) :]).encode()


class _SessionFile:
    """A session file as ``wearsdk run --config`` reads it."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self.path = Path(self._folder.name) / "session.toml"

    def __call__(self, data: bytes) -> object:
        from wearsdk._config_files import load_session_config

        self.path.write_bytes(data)
        return load_session_config(self.path)


def targets() -> dict[str, Target]:
    """Every fuzz target by name."""
    out = [
        Target("hr", _hr_seeds(), parse_heart_rate_measurement),
        Target("pmd-frame", _pmd_seeds(), _pmd_frame),
        Target("pmd-control", _control_seeds(), _control_all),
        Target("bitalino", _bitalino_seeds(), _bitalino),
        _gatt_profile(),
        _hr_driver(),
        _polar_driver(),
        _wire_in(),
        Target("wire-event", _wire_event_seeds(), _wire_event, _JSON_ERRORS, _JSON, finite_json),
        Target("lsl-marker", _marker_seeds(), _lsl_marker, _JSON_ERRORS, _JSON, finite_json),
        Target("lsl-channels", _channel_seeds(), _lsl_channels, _JSON_ERRORS, check=finite_json),
        _gatt_config_target(),
        Target("xdf", _xdf_seeds(), _XdfFile()),
        Target("e4-csv", _e4_seeds(), _E4Folder(), check=_e4_check),
        Target(
            "session-toml",
            _session_toml_seeds(),
            _SessionFile(),
            mutators=(mutate, _hostile_toml, _hostile_toml),
            check=finite_json,
        ),
    ]
    return {t.name: t for t in out}


def run(
    names: list[str], inputs: int, seed: int, *, measure_memory: bool = False
) -> list[FuzzResult]:
    """Fuzz the named targets with ``inputs`` inputs each."""
    all_targets = targets()
    return [
        fuzz(
            t.name,
            t.run,
            t.seeds,
            inputs=inputs,
            allowed=t.allowed,
            seed=seed,
            mutators=t.mutators,
            check=t.check,
            measure_memory=measure_memory,
        )
        for t in (all_targets[n] for n in names)
    ]


def _atheris(target: Target, inputs: int) -> None:  # pragma: no cover - optional engine
    import atheris

    def one(data: bytes) -> None:
        with contextlib.suppress(target.allowed):
            target.run(data)

    atheris.Setup([sys.argv[0], f"-runs={inputs}", "-max_len=512"], one)
    atheris.Fuzz()


def main() -> None:
    """Command line entry."""
    # refusals are counted here; their log lines (a truncated file...) would drown the table
    logging.getLogger("wearsdk").setLevel(logging.CRITICAL)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--inputs", type=int, default=100_000, help="inputs per target")
    p.add_argument("--targets", default="", help="comma-separated names (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=("mutator", "atheris"), default="mutator")
    p.add_argument(
        "--no-memory", action="store_true", help="do not trace allocations (faster, no peak MB)"
    )
    args = p.parse_args()
    names = [n for n in args.targets.split(",") if n] or list(targets())
    if args.engine == "atheris":
        if len(names) != 1:
            p.error("atheris fuzzes one target per process: give --targets NAME")
        _atheris(targets()[names[0]], args.inputs)
        return
    print(
        f"{'target':<14} {'inputs':>8} {'accepted':>9} {'refused':>8} {'crashes':>8} "
        f"{'non-finite':>10} {'peak MB':>8} {'RSS+ MB':>8} {'slowest':>8} {'inputs/s':>9}"
    )
    failed = False
    worst: FuzzResult | None = None
    targets_by_name = targets()
    for name in names:
        t = targets_by_name[name]
        (r,) = [
            fuzz(
                t.name,
                t.run,
                t.seeds,
                inputs=args.inputs,
                allowed=t.allowed,
                seed=args.seed,
                mutators=t.mutators,
                check=t.check,
                measure_memory=not args.no_memory,
            )
        ]
        rate = r.inputs / r.seconds if r.seconds else float("inf")
        checked = "-" if t.check is None else str(r.unsafe)
        print(
            f"{r.name:<14} {r.inputs:>8} {r.accepted:>9} {r.rejected:>8} {r.crashes:>8} "
            f"{checked:>10} {r.peak_bytes / 1e6:>8.2f} {r.rss_growth_bytes / 1e6:>8.1f} "
            f"{r.slowest_s * 1e3:>6.0f}ms "
            f"{rate:>9.0f}",
            flush=True,
        )
        if worst is None or r.peak_bytes > worst.peak_bytes:
            worst = r
        if r.first_crash is not None:
            failed = True
            data, tb = r.first_crash
            print(f"  first crash on {data[:256].hex()}:\n{tb}")
        if r.first_unsafe is not None:
            failed = True
            print(f"  first non-finite acceptance on {r.first_unsafe[:256]!r}")
        if max(r.peak_bytes, r.rss_growth_bytes) > 100e6:
            failed = True
        if (long := getattr(targets_by_name[name].run, "long_spans", 0)) > 0:
            print(f"  {long} accepted session(s) span more than 10 days")
        if r.slowest_s > 0.5:
            print(f"  slowest input ({r.slowest_s:.2f} s) starts {r.slowest_input[:48]!r}")
    if worst is not None and not args.no_memory:
        print(
            f"worst input: {worst.peak_bytes / 1e6:.2f} MB traced, target {worst.name}, "
            f"starts {worst.peak_input[:48]!r}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    random.seed(0)
    main()
