"""Leap for RLlib: meta-learn the encoder initialization of RLlib's PPO, APPO and IMPALA.

``inner.backend: rllib`` swaps the paper's A2C learner for an RLlib algorithm (``rllib.algorithm``)
on RLlib's new API stack (RLModule, Learner, EnvRunner), with RLlib's Atari wrappers and the same
encoder (:mod:`leap_rl.rllib.module`), so θ⁰ and ``init/encoder.pt`` are shared by both backends.
A Learner subclass (:mod:`leap_rl.rllib.learner`) hands every optimizer step to a
:class:`leap_rl.core.leap.LeapAccumulator`; :class:`RLlibTask` streams its flushes through the same
chunk protocol as :class:`leap_rl.backends.a2c.A2CTask`.

Nothing here imports RLlib until used: ``from leap_rl.rllib import RLlibTask`` is cheap.
"""

from __future__ import annotations

__all__ = ["RLlibTask"]


def __getattr__(name: str):
    if name == "RLlibTask":
        from leap_rl.rllib.runner import RLlibTask

        return RLlibTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
