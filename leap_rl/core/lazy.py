"""Lazy package exports (PEP 562): a package's public names, imported from their modules on
first use, so that importing the package (e.g. by the config loader) loads none of them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, tuple[str, ...]],
                 namespace: dict[str, Any]) -> tuple[list[str], Callable, Callable]:
    """``(__all__, __getattr__, __dir__)`` for ``package``, whose ``homes`` maps each of its
    modules to the public names it defines; a name once loaded is kept in ``namespace`` (the
    package's globals), so later look-ups skip ``__getattr__``."""
    home_of = {name: module for module, names in homes.items() for name in names}
    public = sorted(home_of)

    def __getattr__(name: str) -> Any:
        if name not in home_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home_of[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return public, __getattr__, __dir__
