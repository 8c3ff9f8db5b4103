"""The ``validation:`` section: which games, seeds and budget meta-validation uses, and how.

The paper chose its settings on validation tasks (Flennerhag et al., ICLR 2019, appendix F); this
section lets a run watch, while it trains, whether θ⁰ makes *new* learners learn faster than a
random θ⁰ (docs/design.md, "Meta-validation"). Off while ``games`` is empty. The checks that
need the rest of the config (games disjoint from ``meta.pool``, seeds disjoint from the run's
task seeds) are :func:`problems_with`, called by the config loader.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leap_rl.core.seeds import task_seed
from leap_rl.envs import is_minatar_name, resolve_game


class ValidationConfig(BaseModel):
    """Meta-validation inside ``leap-rl train`` (off while ``games`` is empty)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    games: list[str] = Field(default_factory=list, description="Validation games; empty = no "
                             "validation. Disjoint from meta.pool unless in_pool (a game θ⁰ "
                             "trains on says little about new games); never the games of the "
                             "final evaluation (choosing settings on them would leak the test).")
    in_pool: bool = Field(False, description="Allow pool games as validation games; their seeds "
                          "(first_seed …) must then be disjoint from every task seed of the run "
                          "(checked when the config loads).")
    seeds: int = Field(3, ge=1, le=100, description="Seeds per validation game, each trained "
                       "from θ⁰ and from a random θ⁰ (paired, as leap-rl evaluate; paper: 10).")
    first_seed: int = Field(1_000_000, ge=0, le=2**31 - 1, description="Validation seeds are "
                            "first_seed … first_seed + seeds − 1 (seed s uses environment "
                            "seeds s … s + inner.num_envs − 1).")
    steps: int = Field(100_000, ge=1, description="Agent steps per validation run. Must leave "
                       "room for finished episodes on every validation game: MinAtar/Freeway's "
                       "random-play episodes last about 2,500 steps, so with 32 envs its first "
                       "returns come after about 80,000 agent steps; a run without a finished "
                       "episode is reported missing, never as 0 or NaN inside a mean.")
    every: int = Field(1, ge=1, description="Meta-steps between validations (one after every "
                       "every-th meta-step).")
    patience: int | None = Field(None, ge=1, description="Stop the run after this many "
                                 "validations in a row without a new best validation/gain; "
                                 "None = never stop early.")
    baseline: dict[str, Any] = Field(default_factory=dict, description="The random-θ⁰ "
                                     "baseline's inner settings as dotted overrides, checked as "
                                     "--set keys are, e.g. {inner.learning_rate: 8e-3}, so that "
                                     "random init runs at its own best settings.")
    window: int = Field(100, ge=1, description="Moving-average window (episodes) of the AUC, "
                        "as leap-rl evaluate's default (figure 4 of the paper: 500).")
    std_floor: float = Field(0.1, gt=0.0, description="Floor of the gain's denominator in "
                             "return units: gain = (AUC θ⁰ − mean AUC random) / max(std of "
                             "random's AUC over seeds, std_floor, std_floor_relative × |mean "
                             "AUC random|); keeps a game whose random AUC hardly varies finite.")
    std_floor_relative: float = Field(0.05, ge=0.0, description="Floor of the gain's "
                                      "denominator relative to |mean AUC random| (see "
                                      "std_floor).")
    cache_dir: str | None = Field(None, description="Where the random-θ⁰ baseline runs are "
                                  "cached (a path or s3://…); None = validation/cache in the "
                                  "run directory. Sweep trials may share one: entries are keyed "
                                  "by everything that determines a run and written atomically.")

    @property
    def enabled(self) -> bool:
        return bool(self.games)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @field_validator("games")
    @classmethod
    def _known_games(cls, games: list[str]) -> list[str]:
        names = [resolve_game(g).name for g in games]  # raises with suggestions on a typo
        if len(set(names)) != len(names):
            raise ValueError(f"games appear twice: {sorted({n for n in names if names.count(n) > 1})}")
        return names

    @field_validator("baseline")
    @classmethod
    def _inner_keys_only(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        outside = sorted(k for k in overrides if not str(k).startswith("inner."))
        if outside:
            raise ValueError(f"only inner.* settings may differ for the baseline, got {outside}")
        return overrides


def problems_with(v: ValidationConfig, pool: list[str], run_seed: int, meta_steps: int,
                  batch: int, num_envs: int) -> list[str]:
    """What the validation section cannot do with the rest of the config; [] when fine."""
    if not v.enabled:
        return []
    problems = []
    if any(is_minatar_name(g) for g in v.games) != any(is_minatar_name(g) for g in pool) or \
            len({is_minatar_name(g) for g in v.games}) > 1:
        problems.append("validation.games: must be of meta.pool's family (Atari or MinAtar): "
                        "one encoder takes one kind of observation")
    overlap = sorted(set(v.games) & set(pool))
    if overlap and not v.in_pool:
        problems.append(f"validation.games: {overlap} are in meta.pool; validation games must be "
                        "games θ⁰ does not train on (or set validation.in_pool: true, with seeds "
                        "disjoint from the tasks')")
    if overlap and v.in_pool:
        problems.extend(_seed_clashes(v, run_seed, meta_steps, batch, num_envs))
    return problems


def _seed_clashes(v: ValidationConfig, run_seed: int, meta_steps: int, batch: int,
                  num_envs: int) -> list[str]:
    """In-pool validation: no environment seed of a validation run is one of a task's (a task
    of seed s seeds its environments s … s + num_envs − 1)."""
    low, high = v.first_seed, v.first_seed + v.seeds + num_envs - 1  # validation env seeds
    clashes = [(m, t) for m in range(meta_steps) for t in range(batch)
               if task_seed(run_seed, m, t) <= high and task_seed(run_seed, m, t) + num_envs - 1 >= low]
    if not clashes:
        return []
    m, t = clashes[0]
    return [f"validation.first_seed: the validation runs' environment seeds {low}…{high} meet "
            f"those of {len(clashes)} task(s) of the run (first: meta-step {m + 1}, task {t}, "
            f"seed {task_seed(run_seed, m, t)}); choose another first_seed"]
