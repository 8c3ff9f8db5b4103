"""Leap's options and their defaults, defined once (torch-free, so the config loader imports it).

The defaults are what runs use (``leap_rl.config.LeapConfig`` takes them): the energy metric d₂,
which the paper used for its Atari runs (Flennerhag et al. 2019, section 4.3: "using the energy
metric (d_2)"), with the loss in the task manifold and the stabilizer on. The paper does not say
whether its Atari runs used those two; its ablation (appendix C) found that both help.
:class:`leap_rl.core.leap.LeapAccumulator` defaults to the same values; the RLlib learner is handed
the config's.
"""

from __future__ import annotations

from typing import Literal

Metric = Literal["length", "energy"]
POWERS: dict[str, int] = {"length": 1, "energy": 2}  # p of d_p: path length d₁, energy d₂

DEFAULT_METRIC: Metric = "energy"
DEFAULT_LOSS_IN_MANIFOLD = True
DEFAULT_STABILIZER = True
