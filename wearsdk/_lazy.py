"""A package's names imported on first use (PEP 562), so importing it stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_names(
    package: str, where: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``.

    Each name in ``where`` is imported from the module it maps to when it is first used, then
    kept in the package's namespace (later uses are plain lookups). Call it at the end of the
    package's ``__init__``: ``__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)``.

    Args:
        package: the package's ``__name__``.
        where: public name -> the module that defines it.
        public: the package's ``__all__``.
    """
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__
