"""Baselines a Leap θ⁰ is compared with: joint pretraining on the pool
(:mod:`leap_rl.baselines.joint`, run by :mod:`leap_rl.baselines.joint_run`)."""
