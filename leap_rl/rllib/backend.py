"""RLlib's PPO, APPO and IMPALA as a backend (``inner.backend: rllib``).

Registered by name in :mod:`leap_rl.backends`; nothing of RLlib is imported until a method runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import torch

    from leap_rl.backends.contract import EpisodeReport
    from leap_rl.config import ExperimentConfig
    from leap_rl.rllib.runner import RLlibTask


class RLlibBackend:
    """An RLlib algorithm on RLlib's new API stack, with the project's encoder and Leap hook."""

    name = "rllib"

    def check(self, cfg: ExperimentConfig) -> None:
        """Atari games only, the plain encoder (no ``inner.layer_norm``); RLlib itself judges
        the RLlib settings (imports RLlib)."""
        from leap_rl.envs import is_minatar_name
        from leap_rl.rllib.settings import check_settings

        if any(is_minatar_name(g) for g in cfg.meta.pool):
            raise ValueError("inner.backend: the RLlib backend trains Atari games only; MinAtar "
                             "games use inner.backend: a2c")
        if cfg.inner.layer_norm:
            raise ValueError("inner.layer_norm: the RLlib backend builds the plain nature2013 "
                             "encoder (no norm layers); use inner.backend: a2c for LayerNorm")
        try:
            check_settings(cfg.inner, cfg.rllib)
        except ValueError as err:
            raise ValueError(f"rllib.training: {err}") from None

    def describe(self, cfg: ExperimentConfig) -> str:
        rllib = cfg.rllib
        return f"RLlib {rllib.algorithm} (new API stack), settings {rllib.training or 'default'}"

    def task_runner(self) -> RLlibTask:
        from leap_rl.rllib.runner import RLlibTask

        return RLlibTask()

    def train_task(self, game: str, steps: int, cfg: ExperimentConfig, *, out: str | Path,
                   seed: int, init_path: str | Path | None, leap: bool, report_every: int,
                   stream: TextIO) -> dict[str, Any]:
        from leap_rl.rllib.task import train_task

        return train_task(game, steps, cfg, out=out, seed=seed, init_path=init_path, leap=leap,
                          report_every=report_every, stream=stream)

    def evaluation_run(self, game: str, seed: int, steps: int,
                       init: Mapping[str, torch.Tensor] | None, cfg: ExperimentConfig,
                       every_s: float) -> Iterator[EpisodeReport]:
        from leap_rl.rllib.task import evaluation_run

        return evaluation_run(game, seed, steps, init, cfg, every_s)
