"""Import weight: the DSP layer and the command line's help load only what they need."""

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import wearsdk
import wearsdk.signals

HEAVY = ("wearsdk.session", "wearsdk.bus", "wearsdk.io", "wearsdk.cli", "pydantic", "asyncio")


def loaded_after(code: str) -> set[str]:
    """The modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "code",
    [
        "import wearsdk.signals",
        "from wearsdk.signals import EcgPeakDetector, EdaProcessor, FeatureExtractor",
        "import wearsdk",
    ],
)
def test_the_signals_layer_and_the_facade_load_no_session_bus_io_or_pydantic(code: str) -> None:
    loaded = loaded_after(code)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert heavy == []


def test_importing_wearsdk_signals_does_not_load_scipy_until_a_processor_is_used() -> None:
    assert "scipy" not in loaded_after("import wearsdk.signals")
    assert "scipy" in loaded_after("import wearsdk.signals as s; s.EcgCleaner")


@pytest.mark.parametrize("module", [wearsdk, wearsdk.signals])
def test_every_public_name_of_a_lazy_facade_resolves(module: types.ModuleType) -> None:
    names = module.__all__
    assert len(names) > 20
    assert all(getattr(module, name) is not None for name in names)
    assert set(names) <= set(dir(module))
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_the_facade_names_are_the_objects_of_their_modules() -> None:
    from wearsdk._types import SampleBlock
    from wearsdk.session import Session
    from wearsdk.signals._ecg_offline import ecg_peak_indices

    assert wearsdk.Session is Session
    assert wearsdk.SampleBlock is SampleBlock
    assert wearsdk.signals.ecg_peak_indices is ecg_peak_indices


def test_a_replay_loads_no_simulation_bluetooth_mqtt_or_analyzers(tmp_path: Path) -> None:
    """``wearsdk replay FILE.xdf`` at full speed imports what it uses (start-up is part of a
    replay's time): no device simulation, no Bluetooth, no MQTT, no analyzers.
    """
    from tests.io.xdfwrite import Stream, write

    t = 1000.0 + np.arange(0, 70, 1 / 32)
    eda = Stream(1, "EDA", "EDA", 32.0, t, 2 + 0.01 * np.sin(t), channels=[("EDA", "uS", "EDA")])
    path = write(tmp_path / "eda.xdf", [eda])
    loaded = loaded_after(
        "from wearsdk.cli import main\n"
        f"assert main(['replay', {str(path)!r}, '--speed', 'max', '--jsonl']) == 0"
    )
    assert "wearsdk.session" in loaded  # it did replay
    avoided = ("wearsdk.sim", "wearsdk._scenario", "wearsdk.io.ble", "bleak", "wearsdk.io.mqtt",
               "wearsdk.analyzers")  # fmt: skip
    assert sorted(m for m in loaded if m.startswith(avoided)) == []


@pytest.mark.parametrize(
    ("argv", "module"),
    [(["replay", "--help"], "replay"), (["-v", "record", "--help"], "stream")],
)
def test_a_command_loads_its_own_module_of_the_command_line_only(
    argv: list[str], module: str
) -> None:
    from wearsdk.cli import _COMMANDS

    loaded = loaded_after(
        "import contextlib, io\nfrom wearsdk.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})"
    )
    commands = sorted(m for m in loaded if m.removeprefix("wearsdk.cli.") in _COMMANDS)
    assert commands == [f"wearsdk.cli.{module}"]
    everything = loaded_after("from wearsdk.cli import build_parser\nbuild_parser()")
    assert {f"wearsdk.cli.{name}" for name in _COMMANDS} <= everything  # help, docs: all


def test_a_command_parsed_with_its_module_only_reads_as_with_all_of_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same namespace, help and usage errors as the parser of every command."""
    import wearsdk.cli as cli

    def parse(parser: object, argv: list[str]) -> tuple[object, str, str]:
        try:
            ns = vars(parser.parse_args(argv))  # type: ignore[attr-defined]
            result: object = sorted((k, repr(v)) for k, v in ns.items() if k != "func")
        except SystemExit as exc:
            result = exc.code
        out = capsys.readouterr()
        return result, out.out, out.err

    names = [*cli._COMMANDS, "record"]
    cases = [[n, "--help"] for n in names] + [[n, "--no-such-option"] for n in names]
    cases += [["-vv", "replay", "f.xdf", "--speed", "max"], ["record", "--out", "a.xdf"],
              ["no-such-command"], ["--help"], ["-v"], [], ["--verb", "demo"]]  # fmt: skip
    for argv in cases:
        assert parse(cli._parser_for(argv), argv) == parse(cli.build_parser(), argv), argv
