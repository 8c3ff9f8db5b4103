"""The ``health:`` and ``remedies:`` config sections: θ⁰ health measures and plasticity
remedies on θ⁰ (torch-free, so that the config loader imports it).

docs/design.md, "θ⁰ health and plasticity remedies", explains the measures and cites each
remedy's source. Every remedy is off by default, and off leaves θ⁰ bit-equal to a run without
this section.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class HealthConfig(_Section):
    """θ⁰ health every meta-step: τ-dormant shares, weight RMS and drift (``init/…`` tags)."""

    every: int = Field(1, ge=0, description="Meta-steps between two health measurements of θ⁰ "
                       "(0 = off; the measure costs well under 1% of a meta-step, "
                       "docs/benchmarks.md).")
    frames_per_game: int = Field(256, ge=8, le=8192, description="Frames of uniform random play "
                                 "per game that the dormant shares are measured on (gathered "
                                 "once per run into health_frames.pt).")
    taus: list[float] = Field([0.0, 0.025], min_length=1, description="Thresholds τ of the "
                              "τ-dormant share (Sokar et al. 2023, eq. 1: a unit is τ-dormant "
                              "when its mean |activation| over the frames divided by its "
                              "layer's mean is ≤ τ); τ = 0: never active at all.")
    final_encoders: bool = Field(True, description="Also measure each task's final encoder "
                                 "(the end of its inner path) on its own game's frames, in the "
                                 "worker (A2C backend; games/<game>/final_dormant_share/… tags).")

    @model_validator(mode="after")
    def _taus_in_range(self) -> HealthConfig:
        bad = [t for t in self.taus if not 0.0 <= t < 1.0]
        if bad:
            raise ValueError(f"health.taus must lie in [0, 1), got {bad}")
        return self


class RemediesConfig(_Section):
    """Plasticity remedies on θ⁰ between meta-steps; every one off by default."""

    redo_every: int = Field(0, ge=0, description="ReDo (Sokar et al. 2023) every this many "
                            "meta-steps, 0 = off: units τ-dormant on the pool games' frames "
                            "(never validation frames) get fresh incoming weights, zero "
                            "outgoing weights in θ⁰ and zero Adam moments for both.")
    redo_tau: float = Field(0.025, ge=0.0, lt=1.0, description="ReDo's threshold τ (Sokar et "
                            "al. 2023 measure dormancy at τ of 0 to 0.1; 0.025 is the "
                            "threshold of health.taus's default).")
    shrink_perturb_every: int = Field(0, ge=0, description="Shrink and perturb (Ash & Adams "
                                      "2020) every this many meta-steps, 0 = off: θ⁰ ← λθ⁰ + "
                                      "σ·(a fresh initialization).")
    shrink: float = Field(1.0, gt=0.0, le=1.0, description="λ of shrink and perturb.")
    perturb: float = Field(0.0, ge=0.0, le=1.0, description="σ of shrink and perturb.")
    l2_init: float = Field(0.0, ge=0.0, description="c of the L2-to-init pull (Kumar et al. "
                           "2023): c·(θ⁰ − θ⁰_start) is added to the mean meta-gradient before "
                           "Adam's step (the gradient of (c/2)‖θ⁰ − θ⁰_start‖²); 0 = off.")
    weight_decay: float = Field(0.0, ge=0.0, description="Decoupled weight decay on θ⁰ "
                                "(AdamW, Loshchilov & Hutter 2019): θ⁰ ← θ⁰ − η·wd·θ⁰ with "
                                "each meta-update, η = meta.learning_rate; 0 = off.")

    @model_validator(mode="after")
    def _shrink_perturb_does_something(self) -> RemediesConfig:
        if self.shrink_perturb_every and self.shrink == 1.0 and self.perturb == 0.0:
            raise ValueError("remedies.shrink_perturb_every is set but shrink=1 and perturb=0 "
                             "leave θ⁰ as it is: set remedies.shrink < 1 or remedies.perturb > 0")
        return self
