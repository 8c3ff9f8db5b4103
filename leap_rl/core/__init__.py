"""The Leap core: the meta-gradient of eq. 8 (:mod:`leap_rl.core.leap`), Leap's options and
defaults (:mod:`leap_rl.core.options`), the outer optimizer of θ⁰
(:mod:`leap_rl.core.meta_optimizer`), and the lazy-export helper the packages share
(:mod:`leap_rl.core.lazy`). Nothing here imports another layer of leap_rl."""
