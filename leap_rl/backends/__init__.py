"""Inner-learner backends: the one seam between "train one task from θ⁰" and what hosts it.

A backend trains one game from an initialization in three settings — a meta-training task that
streams Leap partial sums, a standalone ``train-task`` run that writes its outputs, and an
evaluation run that streams episodes — and says what it accepts and what it is; the
:class:`~leap_rl.backends.base.Backend` protocol (:mod:`leap_rl.backends.base`) defines it. The
config names it (``inner.backend``); :func:`load` (typed: :func:`leap_rl.backends.base.backend_for`)
is the only place that turns the name into code.

This module is the registry alone: backends are registered by module path, so it imports no
backend, no RLlib, no torch and nothing of leap_rl (not even for type hints), and the config
(which validates ``inner.backend`` with it) sits above it with no circle.

Adding a backend: implement :class:`~leap_rl.backends.base.Backend` (``leap_rl/backends/a2c.py``
is the reference), ``register("name", "package.module:Class")``, and run the backend tests of
docs/backends.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_REGISTRY: dict[str, Any] = {
    "a2c": "leap_rl.backends.a2c:A2CBackend",
    "rllib": "leap_rl.rllib.backend:RLlibBackend",
}


def register(name: str, backend: Any) -> None:
    """Makes ``inner.backend: name`` mean ``backend`` (an object, or "module:attribute" loaded
    on first use). A name already taken is refused."""
    if name in _REGISTRY:
        raise ValueError(f"backend {name!r} is already registered")
    _REGISTRY[name] = backend


def names() -> list[str]:
    """The registered backend names."""
    return sorted(_REGISTRY)


def load(name: str) -> Any:
    """The backend object registered as ``name``, imported on first use (a
    :class:`~leap_rl.backends.base.Backend`; :func:`leap_rl.backends.base.backend_for` says so
    to type checkers). An unknown name raises ValueError listing the registered ones."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown inner.backend {name!r}; registered: {', '.join(names())}") \
            from None
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        entry = getattr(importlib.import_module(module), attribute)()
        _REGISTRY[name] = entry
    return entry
