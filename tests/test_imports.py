"""Import weight: the DSP layer and the command line's help load only what they need."""

import subprocess
import sys
import types

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
    from wearsdk.signals._ecg import ecg_peak_indices

    assert wearsdk.Session is Session
    assert wearsdk.SampleBlock is SampleBlock
    assert wearsdk.signals.ecg_peak_indices is ecg_peak_indices
