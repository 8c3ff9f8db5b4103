"""One typed, validated config for a whole experiment, loaded from YAML with dotted overrides.

Every section is a pydantic model with ``extra="forbid"`` and a description per field. Where the
paper (Flennerhag et al., ICLR 2019, appendix F) gives a value it is the default; where it is silent
the default is the modern standard and the description says so.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leap_rl import backends
from leap_rl.agent.config import A2CConfig
from leap_rl.core.options import (
    DEFAULT_LOSS_IN_MANIFOLD,
    DEFAULT_METRIC,
    DEFAULT_STABILIZER,
    Metric,
)
from leap_rl.core.plasticity_options import HealthConfig, RemediesConfig
from leap_rl.envs import MINATAR_CHANNELS, PRETRAINING_POOL, is_minatar_name, resolve_game
from leap_rl.io.storage import location
from leap_rl.validation.config import ValidationConfig, problems_with


class ConfigError(ValueError):
    """A config that cannot be used; ``problems`` lists every one, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid config {source} ({len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}):\n{lines}")


class _Section(BaseModel):
    # allow_inf_nan=False: an infinite learning rate or CPU count passes a range check but
    # cannot run; refuse it here, before any Ray resource exists.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class MinAtarEnvConfig(_Section):
    """MinAtar games (Young & Tian 2019); defaults are MinAtar's own."""

    channels: int = Field(MINATAR_CHANNELS, ge=MINATAR_CHANNELS, le=64, description="Object "
                          "channels every observation is zero-padded to, so that one encoder "
                          "serves all five games (they have 4–10; 10 = Seaquest's).")
    sticky_action_prob: float = Field(0.1, ge=0.0, le=1.0, description="Probability that the "
                                      "previous action repeats (MinAtar's default 0.1).")
    difficulty_ramping: bool = Field(True, description="Games speed up as they go on "
                                     "(MinAtar's default).")
    max_episode_steps: int = Field(10_000, ge=0, description="Agent steps before an episode is "
                                   "truncated, 0 = never (MinAtar has no limit; capped so that "
                                   "a long episode's return gets recorded).")


class EnvConfig(_Section):
    """Atari environment and preprocessing (paper: 84×84×3 RGB, one frame); MinAtar games."""

    grayscale: bool = Field(False, description="Grayscale frames instead of the paper's RGB.")
    frame_stack: int = Field(1, ge=1, le=16, description="Frames stacked per observation "
                             "(paper: 1, its input is a single 84×84×3 frame).")
    frame_skip: int = Field(4, ge=1, le=16, description="Emulator frames per action (paper "
                            "silent; standard 4, Mnih et al. 2015).")
    repeat_action_probability: float = Field(0.25, ge=0.0, le=1.0, description="Sticky-action "
                                             "probability (paper silent; Machado et al. 2018).")
    noop_max: int = Field(30, ge=0, le=1000, description="Random no-ops at episode start "
                          "(paper silent; standard 30).")
    max_episode_frames: int = Field(108_000, ge=100, description="Emulator frames before an "
                                    "episode is truncated (standard: 30 minutes at 60 Hz).")
    minatar: MinAtarEnvConfig = Field(default_factory=MinAtarEnvConfig, description="Settings "
                                      "of MinAtar games (MinAtar/<Game>).")

    def settings_for(self, game: str) -> dict[str, Any]:
        """Keyword arguments of ``make_vector_env`` for ``game``: its family's settings."""
        if is_minatar_name(game):
            return self.minatar.model_dump()
        return self.model_dump(exclude={"minatar"})


class LeapConfig(_Section):
    """The meta-gradient of eq. 8 (docs/design.md, 'The algorithm, in our words'); the defaults
    are :mod:`leap_rl.core.options`' (the paper's Atari runs: energy)."""

    metric: Metric = Field(DEFAULT_METRIC, description="Path length d₁ (p=1) or energy d₂ "
                           "(p=2); paper's Atari runs: energy.")
    loss_in_manifold: bool = Field(DEFAULT_LOSS_IN_MANIFOLD, description="Include the loss in "
                                   "the task manifold (the Δf term of eq. 8).")
    stabilizer: bool = Field(DEFAULT_STABILIZER, description="Replace Δf by −|Δf| (sec. 2.3) "
                             "so the meta-gradient never follows a gradient uphill.")


class MetaConfig(_Section):
    """The outer loop: which games, how many, how long, and Adam on θ⁰."""

    pool: list[str] = Field(default_factory=lambda: list(PRETRAINING_POOL), min_length=1,
                            description="Games sampled for meta-training (default: the 25 "
                            "classic games with ≤ 10 actions minus Breakout and SpaceInvaders; "
                            "see leap_rl/envs/pools.py on the paper's count of 27).")
    meta_steps: int = Field(100, ge=1, description="Meta-updates of θ⁰ (paper: 100).")
    meta_batch_size: int = Field(16, ge=1, description="Games sampled per meta-step (paper: 16).")
    steps_per_task: int = Field(5_000_000, ge=1, description="Agent (environment) steps each "
                                "game is trained for per meta-step (paper: 5M).")
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0, description="Adam learning rate on θ⁰ "
                                 "(paper silent; Adam's default).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam's (β₁, β₂).")
    mode: Literal["sync", "async"] = Field("sync", description="sync: each meta-step waits for "
                                           "its meta_batch_size tasks (algorithm 1 of the "
                                           "paper). async: a worker starts the next task at "
                                           "once from the newest θ⁰, and θ⁰ takes one Adam step "
                                           "per meta_batch_size tasks that end "
                                           "(docs/design.md, 'Asynchronous meta-training').")
    balance: Literal["none", "norm", "path_length"] = Field(
        "none", description="Per-task balancing of the meta-gradient before the mean over the "
        "meta-batch (docs/design.md, 'Balancing the tasks of a meta-step'), so that no game "
        "steers θ⁰ alone: none = Σ_τ Gτ (algorithm 1 of the paper); norm = each Gτ scaled to the "
        "mean of the tasks' norms; path_length = each Gτ divided by its path length d₁ (times "
        "the tasks' mean d₁). Off (none): θ⁰ is exactly the paper's update.")
    max_staleness: int = Field(4, ge=0, description="async only: a task's contribution is "
                               "dropped if θ⁰ took more than this many meta-steps between its "
                               "start and its end (its staleness).")

    @field_validator("pool")
    @classmethod
    def _known_games(cls, pool: list[str]) -> list[str]:
        names = [resolve_game(g).name for g in pool]  # raises with suggestions on a typo
        if len(set(names)) != len(names):
            raise ValueError(f"games appear twice: {sorted({n for n in names if names.count(n) > 1})}")
        return names

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"each beta must be in [0, 1), got {betas}")
        return betas

    @model_validator(mode="after")
    def _batch_fits_pool(self) -> MetaConfig:
        if self.meta_batch_size > len(self.pool):
            raise ValueError(f"meta_batch_size {self.meta_batch_size} exceeds the {len(self.pool)} "
                             "games in the pool (games are sampled without replacement)")
        return self


class WorkersConfig(_Section):
    """Ray worker actors: resources, streaming and failure handling."""

    num_workers: int | None = Field(None, ge=1, description="Worker actors; None = as many as "
                                    "the cluster's resources fit, at most meta_batch_size.")
    num_cpus: float = Field(1.0, ge=0.0, description="CPUs each worker requests.")
    num_gpus: float = Field(0.0, ge=0.0, description="GPUs each worker requests; fractions "
                            "(0.25) let several workers share one GPU.")
    flush_every: int = Field(50, ge=1, description="Inner updates between streamed partial "
                             "meta-gradients (chunks).")
    failure_policy: Literal["keep_partial", "retry"] = Field("keep_partial", description="A "
                                                             "task whose worker dies keeps the "
                                                             "chunks received, or is retried.")
    max_task_retries: int = Field(1, ge=0, description="Retries per task under the retry policy.")
    min_tasks_per_meta_step: int = Field(1, ge=1, description="Fewest contributing tasks for "
                                         "a meta-step to count; fewer fails the run.")
    task_timeout_s: float = Field(600.0, gt=0.0, description="A task silent (no chunk) this "
                                  "long is treated as failed.")
    startup_timeout_s: float = Field(300.0, gt=0.0, description="Wait for resources to place "
                                     "workers before stopping with an error.")

    @property
    def threads(self) -> int:
        """Threads a worker uses for torch and for the emulator: its whole CPUs, at least one."""
        return max(1, int(self.num_cpus))


class RunConfig(_Section):
    """Checkpoints and outputs of a meta-training run."""

    checkpoint_every: int = Field(10, ge=1, description="Meta-steps between checkpoints "
                                  "(one is always written at the end).")
    keep_checkpoints: int = Field(3, ge=1, description="Most recent checkpoints kept.")
    max_consecutive_bad_meta_steps: int = Field(3, ge=1, description="Meta-steps in a row "
                                                "without a usable update (too few tasks, "
                                                "non-finite meta-gradient) before the run stops.")
    task_curves: bool = Field(False, description="Also write each task's training return curve "
                              "as its own TensorBoard run, tensorboard/tasks/m<meta-step>/<game>/ "
                              "(off: at the paper's scale that is 1,600 runs; the per-meta-step "
                              "games/<game>/ summaries are always written).")


class RLlibConfig(_Section):
    """The RLlib backend's own settings (``inner.backend: rllib``; the a2c backend ignores them).

    Checked by RLlib itself when such a config is loaded (:mod:`leap_rl.rllib.settings`)."""

    algorithm: Literal["PPO", "APPO", "IMPALA"] = Field("PPO", description="RLlib algorithm "
                                                        "(new API stack).")
    training: dict[str, Any] = Field(default_factory=dict, description="RLlib training "
                                     "settings passed to config.training(**training) as they "
                                     "are, after those derived from the inner section (e.g. "
                                     "{num_epochs: 4, minibatch_size: 64}).")


# Keys that moved, and where to: a config that still has one is told where it went.
MOVED_KEYS = {"inner.algorithm": "rllib.algorithm", "inner.rllib": "rllib.training"}


class ExperimentConfig(_Section):
    """A whole experiment: environments, inner learner, Leap, outer loop."""

    name: str = Field("leap", min_length=1, description="Run name, used in output paths.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seeds game sampling, heads and "
                      "environments.")
    env: EnvConfig = Field(default_factory=EnvConfig, description="Atari preprocessing.")
    inner: A2CConfig = Field(default_factory=A2CConfig, description="Actor-critic inner learner.")
    leap: LeapConfig = Field(default_factory=LeapConfig, description="Leap meta-gradient.")
    meta: MetaConfig = Field(default_factory=MetaConfig, description="Outer loop.")
    workers: WorkersConfig = Field(default_factory=WorkersConfig, description="Ray workers.")
    run: RunConfig = Field(default_factory=RunConfig, description="Checkpoints and outputs.")
    rllib: RLlibConfig = Field(default_factory=RLlibConfig, description="The RLlib backend's "
                               "settings (inner.backend: rllib).")
    validation: ValidationConfig = Field(default_factory=ValidationConfig, description="Meta-"
                                         "validation during training (off by default).")
    health: HealthConfig = Field(default_factory=HealthConfig, description="θ⁰ health measured "
                                 "every meta-step (init/… tags).")
    remedies: RemediesConfig = Field(default_factory=RemediesConfig, description="Plasticity "
                                     "remedies on θ⁰ between meta-steps (all off by default).")

    @model_validator(mode="after")
    def _encoder_fits_games(self) -> ExperimentConfig:
        minatar = [is_minatar_name(g) for g in self.meta.pool]
        if any(minatar) and not all(minatar):
            raise ValueError("meta.pool mixes Atari and MinAtar games; one encoder cannot take "
                             "both observations")
        if all(minatar) and self.inner.encoder != "minatar":
            raise ValueError(f"MinAtar games need inner.encoder: minatar (got "
                             f"{self.inner.encoder!r})")
        if not any(minatar) and self.inner.encoder == "minatar":
            raise ValueError("inner.encoder: minatar is for MinAtar games; meta.pool holds Atari "
                             "games")
        return self

    @model_validator(mode="after")
    def _enough_tasks_possible(self) -> ExperimentConfig:
        if self.workers.min_tasks_per_meta_step > self.meta.meta_batch_size:
            raise ValueError(f"workers.min_tasks_per_meta_step ({self.workers.min_tasks_per_meta_step}"
                             f") exceeds meta.meta_batch_size ({self.meta.meta_batch_size})")
        return self


def baseline_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The config of the random-θ⁰ baseline runs: ``cfg`` with ``validation.baseline``'s dotted
    overrides applied (docs/design.md, "Meta-validation"). Raises ValueError naming each bad
    key, one per line."""
    data = cfg.model_dump(mode="json")
    data["validation"] = {}  # the baseline's own config validates nothing further
    problems = []
    for key, value in cfg.validation.baseline.items():
        try:
            _set_dotted(data, str(key), value)
        except ValueError as err:
            problems.append(f"validation.baseline.{key}: {err}")
    if not problems:
        try:
            return ExperimentConfig.model_validate(data)
        except ValidationError as err:
            problems = [f"validation.baseline: {_describe(e)}" for e in err.errors()]
    raise ValueError("\n".join(problems))


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> ExperimentConfig:
    """Reads ``path`` (YAML; None = all defaults), applies ``key.sub=value`` overrides, validates.

    Raises :class:`ConfigError` naming the file and listing every problem found; the inner
    learner's backend then judges what it can run (:mod:`leap_rl.backends`).
    """
    source = str(path) if path is not None else "<defaults>"
    data = _read_yaml(path) if path is not None else {}
    problems = []
    for item in overrides:
        try:
            _apply_override(data, item)
        except ValueError as err:
            problems.append(f"--set {item}: {err}")
    if problems:
        raise ConfigError(source, problems)
    try:
        cfg = ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, [_describe(e) for e in err.errors()]) from None
    _check_backend(cfg, source)
    _check_validation(cfg, source)
    return cfg


def _check_validation(cfg: ExperimentConfig, source: str) -> None:
    """The validation section against the rest of the run: games disjoint from the pool (or
    in-pool seeds disjoint from the tasks'), sync mode, baseline overrides that make a config."""
    v = cfg.validation
    problems = problems_with(v, cfg.meta.pool, cfg.seed, cfg.meta.meta_steps,
                             cfg.meta.meta_batch_size, cfg.inner.num_envs)
    if v.enabled and cfg.meta.mode == "async":
        problems.append("validation.games: validation runs in meta.mode: sync only (the "
                        "asynchronous mode has no slot for it yet)")
    if v.enabled and v.baseline:
        try:
            baseline_config(cfg)
        except ValueError as err:
            problems.extend(str(err).splitlines())
    if problems:
        raise ConfigError(source, problems)


def with_overrides(cfg: ExperimentConfig, overrides: Sequence[str],
                   source: str = "--set") -> ExperimentConfig:
    """``cfg`` with ``key.sub=value`` overrides applied and validated as :func:`load_config`
    validates (e.g. one evaluation method's own ``inner.*`` settings); ConfigError otherwise."""
    data = cfg.model_dump(mode="json")
    problems = []
    for item in overrides:
        try:
            _apply_override(data, item)
        except ValueError as err:
            problems.append(f"{item}: {err}")
    if problems:
        raise ConfigError(source, problems)
    try:
        new = ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, [_describe(e) for e in err.errors()]) from None
    _check_backend(new, source)
    return new


def _check_backend(cfg: ExperimentConfig, source: str) -> None:
    """Lets the inner learner's backend judge the config before anything is built (RLlib's
    judges the ``rllib`` section with RLlib itself; leap_rl.backends)."""
    try:
        backends.load(cfg.inner.backend).check(cfg)
    except ValueError as err:
        raise ConfigError(source, [str(err)]) from None


def _read_yaml(path: str | Path) -> dict[str, Any]:
    path = location(path)  # a resumed run's config.yaml may lie in a bucket (s3://…)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(str(path), [f"cannot read the file: {err.strerror}"]) from None
    except yaml.YAMLError as err:
        raise ConfigError(str(path), [f"not valid YAML: {err}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"top level must be a mapping, got {type(data).__name__}"])
    return data


def _apply_override(data: dict[str, Any], item: str) -> None:
    """Sets ``a.b.c=value`` in nested ``data``; the value is parsed as YAML (1e-4, true, [a, b])."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ValueError("expected key=value, e.g. leap.metric=length")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ValueError(f"cannot parse the value: {err}") from None
    _set_dotted(data, key.strip(), value)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Sets ``a.b.c`` in nested ``data`` to ``value``, creating sections on the way."""
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"'{part}' is not a section")
        node = child
    node[leaf] = value


def _describe(error: dict[str, Any]) -> str:
    """One line per pydantic error: the dotted key, the message and, for short values, the value."""
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden" and key in MOVED_KEYS:
        return f"{key}: moved to {MOVED_KEYS[key]} (the RLlib backend's own section)"
    if error["type"] == "extra_forbidden":
        guess = _closest_key(error["loc"])
        return f"{key}: unknown key" + (f"; did you mean {guess}?" if guess else "")
    value = error.get("input")
    if isinstance(value, (int, float, str, bool)) and len(repr(value)) < 60:
        return f"{key}: {message} (got {value!r})"
    return f"{key}: {message}"


def _closest_key(loc: tuple[str | int, ...]) -> str | None:
    """Known keys an unknown ``loc`` probably meant: the same name in another section (a key put
    in the wrong place), else the nearest name in its own section; None when nothing is close."""
    leaf = str(loc[-1]).lower()
    moved = [k for k in _dotted_keys(ExperimentConfig) if k.rsplit(".", 1)[-1].lower() == leaf]
    if moved:
        return " or ".join(moved)
    model: type[BaseModel] = ExperimentConfig
    for part in loc[:-1]:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None  # not inside a section (a free-form mapping such as rllib.training)
        model = annotation
    names = {name.lower(): name for name in model.model_fields}
    match = difflib.get_close_matches(leaf, names, n=1)
    return ".".join([*map(str, loc[:-1]), names[match[0]]]) if match else None


def _dotted_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of ``model``, sections included, dotted: env, env.grayscale, env.minatar, ..."""
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys.extend(_dotted_keys(field.annotation, f"{prefix}{name}."))
    return keys


def config_fields_help(model: type[BaseModel] = ExperimentConfig, prefix: str = "") -> list[str]:
    """``key (type, default value): description`` for every field, dotted, for ``--describe``.

    Types and values are written as a config file spells them: ``true``, ``null``, ``[a, b]``.
    """
    lines = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines.extend(config_fields_help(annotation, f"{prefix}{name}."))
        else:
            default = field.get_default(call_default_factory=True)
            lines.append(f"{prefix}{name} ({_type_name(annotation)}, default "
                         f"{_value_text(default, short=True)}): {field.description}")
    return lines


def _type_name(annotation: Any) -> str:
    """``float``, ``int | null``, ``length | energy`` (a Literal's choices), ``list[str]``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(_value_text(a) for a in args)
    if origin in (Union, UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


def _value_text(value: Any, short: bool = False) -> str:
    """A value as YAML writes it inline; ``short`` abbreviates lists of more than four items."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = [_value_text(v) for v in value]
        if short and len(items) > 4:
            return f"[{', '.join(items[:3])}, ..., {items[-1]}] ({len(items)} items)"
        return "[" + ", ".join(items) + "]"
    return str(value)
