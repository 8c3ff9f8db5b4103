"""Each evaluation run's learning curve as its own TensorBoard run (docs/tensorboard.md).

``<out>/tensorboard/eval/<game>/<method>/seed<k>/`` holds one run's ``eval/episodic_return``
(the mean raw return of the episodes reported at each agent step), so that
``tensorboard --logdir <out>/tensorboard`` compares inits by selecting runs, one curve per
(θ⁰, game, seed), never one curve joining separate agents.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

TAG = "eval/episodic_return"


def curve_dir(out: Path, game: str, method: str, seed: int) -> Path:
    """The run's TensorBoard directory (a game's "/" nests, as TensorBoard shows run names)."""
    return out / "tensorboard" / "eval" / game / method / f"seed{seed}"


def write_curve_run(out: Path, record: Mapping[str, Any],
                    episodes: Iterable[tuple[int, float]]) -> Path:
    """Writes the run's curve afresh (a rerun of an interrupted write leaves no duplicate)."""
    from torch.utils.tensorboard import SummaryWriter

    directory = curve_dir(out, record["game"], record["method"], int(record["seed"]))
    shutil.rmtree(directory, ignore_errors=True)
    returns: dict[int, list[float]] = {}
    for step, ret in episodes:
        returns.setdefault(int(step), []).append(float(ret))
    writer = SummaryWriter(str(directory))
    try:
        for step in sorted(returns):
            writer.add_scalar(TAG, sum(returns[step]) / len(returns[step]), step)
    finally:
        writer.close()
    return directory
