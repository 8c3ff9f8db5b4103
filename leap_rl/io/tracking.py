"""Optional experiment tracking with Weights & Biases: ``leap-rl train --track``, as in cleanrl.

The W&B run gets the same scalars as the run's TensorBoard (a :class:`~leap_rl.distributed.
runlog.ScalarSink`), against the same x axis, the run's cumulative agent steps, logged as
``global_step`` (cleanrl's name): every chart is drawn against it (``define_metric``), so the
per-game curves, whose points arrive out of step order across games, need no monotone W&B step.
wandb is an optional extra (``pip install 'leap-rl[track]'``); the run's W&B id is kept in the run
directory's ``wandb.json``, so that a resumed run continues the same W&B run.
Login, project and mode come from wandb's own settings (``wandb login``, ``WANDB_API_KEY``,
``WANDB_MODE=offline``, ``WANDB_DIR``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from leap_rl.config import ExperimentConfig
from leap_rl.io.storage import RunPath

STEP = "global_step"
RECORD = "wandb.json"


class TrackingError(ValueError):
    """--track cannot work: wandb is not installed, or it refused to start a run."""


def require_wandb() -> None:
    """Raises :class:`TrackingError` naming the extra where wandb is not installed."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise TrackingError("--track needs Weights & Biases, an optional extra: "
                            "pip install 'leap-rl[track]'") from None


class WandbSink:
    """A W&B run that logs every scalar of a meta-training run against ``global_step``."""

    def __init__(self, run) -> None:
        self.run = run

    @classmethod
    def start(cls, cfg: ExperimentConfig, out: RunPath, project: str,
              entity: str | None = None) -> WandbSink:
        """Starts the W&B run of the run directory ``out`` (the one in its wandb.json, resumed,
        if it has one); raises :class:`TrackingError` if wandb refuses (no login, ...)."""
        require_wandb()
        import wandb

        out.mkdir(parents=True, exist_ok=True)
        record = out / RECORD
        saved = json.loads(record.read_text()) if record.is_file() else {}
        try:
            run = wandb.init(project=saved.get("project", project),
                             entity=saved.get("entity", entity), id=saved.get("id"),
                             resume="allow" if saved else None, name=out.name,
                             config=cfg.model_dump(mode="json"))
        except Exception as err:  # wandb raises its own types for login, network, settings
            lines = str(err).strip().splitlines()
            raise TrackingError(f"--track: wandb could not start a run ({type(err).__name__}: "
                                f"{lines[0] if lines else ''})") from None
        if not saved:
            record.write_text(json.dumps({"id": run.id, "project": run.project,
                                          "entity": entity}) + "\n")
        run.define_metric(STEP)
        run.define_metric("*", step_metric=STEP)
        return cls(run)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        self.run.log({**values, STEP: step})

    def flush(self) -> None:
        """wandb sends as it goes."""

    def close(self) -> None:
        self.run.finish()
