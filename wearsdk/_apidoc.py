"""The API and command-line references: ``python -m wearsdk._apidoc [--check]``.

Writes ``docs/cli.md``, every command's ``--help`` from the parser, and ``docs/api.md``: every
name in ``__all__`` of the public modules (:data:`MODULES`), with its signature and docstring;
methods and properties of classes that their class defines; constants with the docstring that
follows their assignment in the source. A name exported by several modules is documented where
it first appears and referred to after that. Only the standard library (``inspect``, ``ast``)
is used.
"""

from __future__ import annotations

import argparse
import ast
import enum
import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["MODULES", "render", "render_cli"]

MODULES: tuple[str, ...] = (
    "wearsdk",
    "wearsdk.session",
    "wearsdk.bus",
    "wearsdk.signals",
    "wearsdk.affect",
    "wearsdk.analyzers",
    "wearsdk.io",
    "wearsdk.io.ble",
    "wearsdk.io.lsl",
    "wearsdk.io.mqtt",
    "wearsdk.io.e4",
    "wearsdk.io.sources",
    "wearsdk.sim",
    "wearsdk.driverkit",
    "wearsdk.testing",
    "wearsdk.drivers.heart_rate",
    "wearsdk.drivers.polar",
    "wearsdk.drivers.bitalino",
    "wearsdk.drivers.gatt_profile",
)
"""The modules whose ``__all__`` make up the public API, in the order of the reference."""

_HEADER = """# API reference

Generated from the docstrings by `python -m wearsdk._apidoc` (do not edit by hand; the tests
check that this page is up to date and that every public name has a docstring). Narrative
documentation: [quickstart](quickstart.md), [concepts](concepts.md),
[architecture](architecture.md). The drivers' wire codecs (`wearsdk.drivers.<driver>.protocol`:
byte layouts, encoders for the twins) are for driver writers and documented in their own
docstrings, not here.
"""


def _clean(text: str) -> str:
    """Drop what changes between runs (object addresses)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


def _signature(obj: Any) -> str:
    fields = getattr(obj, "model_fields", None)
    if inspect.isclass(obj) and isinstance(fields, dict):
        # pydantic models: fields without their constraint metadata, whose reprs depend on
        # what the typing cache saw first (Ge(ge=0) or Ge(ge=0.0))
        parts = []
        for name, info in fields.items():
            kind = inspect.formatannotation(info.annotation)
            if info.is_required():
                parts.append(f"{name}: {kind}")
            elif info.default_factory is not None:
                parts.append(f"{name}: {kind} = <factory>")
            else:
                parts.append(f"{name}: {kind} = {info.default!r}")
        return _clean(f"(*, {', '.join(parts)})" if parts else "()")
    try:
        return _clean(str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return "(...)"


def _attribute_docs(module: Any, name: str, seen: set[str] | None = None) -> str | None:
    """The docstring after ``name = ...`` in the module that defines it (following imports)."""
    seen = seen or set()
    if module.__name__ in seen or not getattr(module, "__file__", None):
        return None
    seen.add(module.__name__)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    body = tree.body
    for i, node in enumerate(body):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            after = body[i + 1] if i + 1 < len(body) else None
            if (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                return inspect.cleandoc(after.value.value)
            return None
    for imp in ast.walk(tree):
        if isinstance(imp, ast.ImportFrom) and any(a.name == name for a in imp.names):
            base = (
                module.__name__ if module.__file__.endswith("__init__.py") else module.__package__
            )
            target = (
                importlib.util.resolve_name("." * imp.level + (imp.module or ""), base)
                if imp.level
                else imp.module
            )
            if target:
                found = _attribute_docs(importlib.import_module(target), name, seen)
                if found:
                    return found
    return None


def _members(cls: type) -> list[tuple[str, Any]]:
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            out.append((name, value))
    return out


def _document_class(qual: str, cls: type, missing: list[str]) -> list[str]:
    lines = [f"### `{qual}`", ""]
    if issubclass(cls, enum.Enum):
        members = ", ".join(f"`{m.name}` = `{m.value!r}`" for m in cls)
        lines += [f"`class {cls.__name__}({cls.__bases__[0].__name__})`: {members}", ""]
    else:
        lines += ["```python", f"class {cls.__name__}{_signature(cls)}", "```", ""]
    doc = inspect.getdoc(cls)
    if not doc or cls.__doc__ is None:
        missing.append(qual)
    else:
        lines += [doc, ""]
    for name, member in _members(cls):
        if isinstance(member, property):
            mdoc = inspect.getdoc(member)
            head = f"- property `{name}`"
        else:
            mdoc = inspect.getdoc(member)
            kind = "async method" if inspect.iscoroutinefunction(member) else "method"
            head = f"- {kind} `{name}{_signature(member)}`"
        if not mdoc:
            missing.append(f"{qual}.{name}")
            lines.append(head)
            continue
        body = mdoc.replace("\n", "\n  ")
        lines.append(f"{head}: {body}")
    if lines[-1]:
        lines.append("")
    return lines


def render() -> tuple[str, list[str]]:
    """The reference as Markdown, and the public names without a docstring."""
    out = [_HEADER]
    missing: list[str] = []
    documented: dict[int, str] = {}
    for modname in MODULES:
        module = importlib.import_module(modname)
        out += [f"## `{modname}`", ""]
        mdoc = inspect.getdoc(module)
        if mdoc:
            out += [mdoc, ""]
        else:
            missing.append(modname)
        for name in sorted(getattr(module, "__all__", ()), key=str.lower):
            qual = f"{modname}.{name}"
            obj = getattr(module, name)
            first = documented.get(id(obj))
            if first is not None and (inspect.isclass(obj) or inspect.isroutine(obj)):
                out += [f"- `{name}`: see `{first}`", ""]
                continue
            if inspect.isclass(obj):
                documented[id(obj)] = qual
                out += _document_class(qual, obj, missing)
            elif inspect.isroutine(obj):
                documented[id(obj)] = qual
                kind = "async def" if inspect.iscoroutinefunction(obj) else "def"
                out += [f"### `{qual}`", "", "```python", f"{kind} {name}{_signature(obj)}"]
                out += ["```", ""]
                doc = inspect.getdoc(obj)
                if doc:
                    out += [doc, ""]
                else:
                    missing.append(qual)
            else:
                doc = _attribute_docs(module, name)
                out += [f"### `{qual}`", ""]
                if doc:
                    out += [doc, ""]
                else:
                    missing.append(qual)
    text = "\n".join(out).rstrip() + "\n"
    return text, missing


_CLI_HEADER = """# Command-line reference

Generated from the parser by `python -m wearsdk._apidoc` (do not edit by hand; the tests check
that this page is up to date). `wearsdk COMMAND --help` prints the same. How to use the commands:
[quickstart](quickstart.md); the report: [quickstart](quickstart.md#reading-the-report); LSL and
XDF: [lsl](lsl.md); MQTT: [mqtt](mqtt.md).
"""

_CLI_COLUMNS = "100"  # argparse wraps at the terminal's width: a fixed one for a stable page


def render_cli() -> str:
    """The command-line reference: the top-level help, then each command's ``--help``."""
    from wearsdk.cli import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = _CLI_COLUMNS
    try:
        parser = build_parser()
        out = [_CLI_HEADER, "```text", parser.format_help().rstrip(), "```", ""]
        commands = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        ).choices
        for name, sub in commands.items():
            out += [f"## `wearsdk {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(out).rstrip() + "\n"


def _write_or_check(path: Path, text: str, check: bool) -> bool:
    """Write ``text`` to ``path``, or compare it; ``False`` when the page is stale."""
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run python -m wearsdk._apidoc", file=sys.stderr)
            return False
        return True
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(text.splitlines())} lines)")
    return True


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) ``docs/api.md`` and ``docs/cli.md``; exit 1 when
    either is stale."""  # noqa: D205, D209
    parser = argparse.ArgumentParser(prog="python -m wearsdk._apidoc", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/api.md"))
    parser.add_argument("--cli-out", type=Path, default=Path("docs/cli.md"))
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text, missing = render()
    for name in missing:
        print(f"no docstring: {name}", file=sys.stderr)
    ok = _write_or_check(args.out, text, args.check)
    ok = _write_or_check(args.cli_out, render_cli(), args.check) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
