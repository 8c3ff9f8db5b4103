"""What a run's TensorBoard writer writes once: the custom-scalars layout and the hparams.

The layout (TensorBoard's Custom Scalars dashboard) opens with the questions a user comes with:
``objective/`` and ``validation/`` (is θ⁰ improving?), then ``games/`` (how is each game doing?),
``init/`` (θ⁰'s health), ``workers/`` (are the workers busy?) and ``failures/``. Its charts name
tags by regular expression (TensorBoard's Multiline charts), one line per matching tag.

The hparams are the run's config as flattened dotted keys, written with the hparams plugin's
summary protos into the run's own event directory (not torch's ``add_hparams``, which writes a
separate run with static metrics), so that runs and ``leap-rl sweep`` trials line up in the
HParams dashboard beside their ``objective/`` and ``validation/`` curves. docs/tensorboard.md.
"""

from __future__ import annotations

from typing import Any

from leap_rl.config import ExperimentConfig

HPARAM_METRICS = ("objective/d1_ratio_mean", "objective/d2_ratio_mean",
                  "objective/meta_grad_norm", "validation/gain")


def hparam_metrics(cfg: ExperimentConfig) -> tuple[str, ...]:
    """The HParams dashboard's metric columns: validation/gain only where the run validates
    (an empty column otherwise)."""
    return tuple(t for t in HPARAM_METRICS
                 if cfg.validation.enabled or not t.startswith("validation/"))


def layout(cfg: ExperimentConfig) -> dict[str, dict[str, list]]:
    """The custom-scalars layout (torch's ``add_custom_scalars`` form: category → chart →
    ["Multiline", [tag regexes]]), in the order the dashboard shows it. Categories whose tags
    the config never writes (validation off) are left out, so that every chart has lines."""
    charts: dict[str, dict[str, list]] = {
        "objective": {
            "d / d at the game's first meta-step (mean over games)":
                ["Multiline", [r"objective/d[12]_ratio_mean"]],
            "d₁ / first d₁, per game": ["Multiline", [r"objective/d1_ratio/.*"]],
            "d₂ / first d₂, per game": ["Multiline", [r"objective/d2_ratio/.*"]],
            "meta-gradient and θ⁰ update norms":
                ["Multiline", [r"objective/(meta_grad|init_update)_norm"]]}}
    if cfg.validation.enabled:
        charts["validation"] = {"gain": ["Multiline", [r"validation/gain"]],
                                "per game": ["Multiline", [r"validation/.*/.*"]]}
    charts["games"] = {name: ["Multiline", [rf"games/.*/{key}"]] for name, key in (
        ("return, last 10% of the task", "return_late"),
        ("return, first 10% of the task", "return_early"),
        ("path length d₁", "d1"), ("path energy d₂", "d2"),
        ("finished episodes", "episodes"), ("policy loss", "policy_loss"),
        ("value loss", "value_loss"), ("entropy", "entropy"))}
    if cfg.health.every > 0:
        charts["init"] = {"dormant share": ["Multiline", [r"init/dormant_share/.*"]],
                          "weight RMS": ["Multiline", [r"init/rms/.*"]],
                          "distance from start": ["Multiline", [r"init/distance/.*"]]}
    charts["workers"] = {name: ["Multiline", [rf"workers/{key}"]] for name, key in (
        ("utilization", "utilization"), ("live workers", "live"),
        ("replacements and retries", "(replacements|retries)"),
        ("start-up and chunk lag seconds", "(startup|chunk_lag)_seconds"),
        ("seconds per meta-step", "meta_step_seconds"),
        ("agent steps per second", "agent_steps_per_second"))}
    charts["failures"] = {"counters": ["Multiline", [r"failures/.*"]]}
    return charts


def flat_config(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as dotted keys (``meta.learning_rate``); lists as their text, None as "none"
    (hparams take numbers, strings and booleans only)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, bool | int | float | str):
            out[prefix] = value
        else:
            out[prefix] = "none" if value is None else str(value)

    walk("", cfg.model_dump(mode="json"))
    return out


def write_hparams(file_writer, cfg: ExperimentConfig) -> None:
    """The hparams plugin's experiment config and session start, into ``file_writer``'s run."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    values = flat_config(cfg)
    metrics = [hp.Metric(tag) for tag in hparam_metrics(cfg)]
    file_writer.add_summary(hp.hparams_config_pb([hp.HParam(k) for k in values], metrics))
    # No trial_id: the session group is then named by a hash of the values, so that sweep
    # trials (one config name, different values) stay apart in the dashboard.
    file_writer.add_summary(hp.hparams_pb(values))
