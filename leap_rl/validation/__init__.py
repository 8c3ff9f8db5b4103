"""Meta-validation inside ``leap-rl train``: fresh learners from θ⁰ on validation games against a
random θ⁰'s, every few meta-steps (docs/design.md, "Meta-validation").

``config`` is the ``validation:`` section (imported by the config loader, so this package
imports nothing at its top); ``metric`` the AUC gain of table 6's normalization; ``cache`` the
random-θ⁰ baseline runs, computed once; ``history`` validation.jsonl, the best θ⁰ and patience;
``runs`` the body of one validation run on a worker. The driver's side is
:mod:`leap_rl.distributed.validating`.
"""
