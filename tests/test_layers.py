"""The layer rules of docs/architecture.md, checked on the source (imports point downward only).

import-linter cannot see ``wearsdk.drivers`` (it lives in ``drivers/`` and is mapped onto the
package at install time), so this test reads every module's imports with ``ast`` instead.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# highest first; a module may import its own layer or any lower one
LAYERS: list[tuple[str, ...]] = [
    (
        "wearsdk.cli",
        "wearsdk.__main__",
        "wearsdk._demo",
        "wearsdk._doctor",
        "wearsdk._config",
        "wearsdk._config_analyzers",
        "wearsdk._scenario",
        "wearsdk._live",
        "wearsdk._report",
        "wearsdk._sessionlog",
        "wearsdk._run",
        "wearsdk._apidoc",
    ),
    ("wearsdk.testing",),
    ("wearsdk.drivers",),
    ("wearsdk.devices",),
    ("wearsdk.session",),
    ("wearsdk.io", "wearsdk.analyzers"),
    ("wearsdk.bus", "wearsdk._jsonl", "wearsdk._contracts"),
    ("wearsdk.affect",),
    ("wearsdk.signals", "wearsdk.sim"),
    ("wearsdk._events", "wearsdk._types", "wearsdk._clock", "wearsdk._privacy"),
    ("wearsdk._errors", "wearsdk._version"),
]
# the public facade re-exports the core; drivers and faces may import it
FACADE = "wearsdk"
FACADE_LEVEL = 4  # it re-exports wearsdk.session and below, so it sits at the session layer
PURE = ("wearsdk.signals", "wearsdk.affect", "wearsdk.sim")
FORBIDDEN_IN_PURE = ("asyncio", "socket", "bleak", "pylsl", "aiomqtt", "bumble", "threading")


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for base, prefix in (
        (ROOT / "wearsdk", ("wearsdk",)),
        (ROOT / "drivers", ("wearsdk", "drivers")),
    ):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((*prefix, *parts))] = path
    return out


def layer_of(module: str) -> int | None:
    if module == FACADE:
        return FACADE_LEVEL
    for level, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return level
    return None


def imports_of(module: str, path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = module.split(".")
                is_pkg = path.name == "__init__.py"
                base = pkg if is_pkg else pkg[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((name, node.lineno))
    return found


ALL = modules()


def test_every_module_has_a_layer() -> None:
    missing = [m for m in ALL if m != FACADE and layer_of(m) is None]
    assert missing == []


@pytest.mark.parametrize("module", sorted(ALL))
def test_imports_point_downward(module: str) -> None:
    own = layer_of(module)
    assert own is not None
    bad = []
    for name, line in imports_of(module, ALL[module]):
        if not (name == "wearsdk" or name.startswith("wearsdk.")):
            if module.startswith(PURE) and name.split(".")[0] in FORBIDDEN_IN_PURE:
                bad.append(f"line {line}: pure DSP/affect module imports {name}")
            continue
        target = layer_of(name)
        if name == FACADE and module != FACADE and own > FACADE_LEVEL:
            bad.append(f"line {line}: lower layer imports the facade 'wearsdk' (import the module)")
        elif target is not None and module != FACADE and target < own:
            bad.append(f"line {line}: imports {name} from a higher layer")
        if (
            not module.startswith("wearsdk.drivers")
            and name.startswith("wearsdk.drivers")
            and own > 0
        ):
            bad.append(f"line {line}: the core imports a driver ({name})")
        if module.startswith("wearsdk.drivers.") and name.startswith("wearsdk.drivers."):
            mine = module.split(".")[2]
            theirs = name.split(".")[2]
            if (
                mine != theirs
                and theirs.startswith("_") is False
                and any(p.startswith("_") for p in name.split(".")[3:])
            ):
                bad.append(f"line {line}: driver {mine} uses internals of driver {theirs}")
    assert bad == []


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    bogus = tmp_path / "x.py"
    bogus.write_text("import asyncio\nfrom wearsdk.session import Session\n")
    names = [n for n, _ in imports_of("wearsdk.signals._x", bogus)]
    assert names == ["asyncio", "wearsdk.session"]
    assert layer_of("wearsdk.session") < layer_of("wearsdk.signals._x")  # type: ignore[operator]
