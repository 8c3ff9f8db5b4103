"""The seed of each meta-training task: a function of (run seed, meta-step, task) alone.

Pure numpy, so that the config loader (which checks that in-pool validation seeds never meet a
task's seeds, :mod:`leap_rl.validation.config`) and the driver derive the same numbers.
"""

from __future__ import annotations

import numpy as np


def task_seed(run_seed: int, meta_step: int, task: int) -> int:
    """A distinct, reproducible seed per (run seed, meta-step, task), in [0, 2³¹)."""
    return int(np.random.SeedSequence([run_seed, meta_step, task]).generate_state(1)[0] >> 1)
