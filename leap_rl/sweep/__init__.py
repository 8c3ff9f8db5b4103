"""``leap-rl sweep``: studies of many runs on Ray Tune (issue 22).

:mod:`spec` reads a spec, :mod:`trials` expands and validates its trials, :mod:`plan` decides
what a command does before Ray starts, :mod:`resources` sizes each trial's placement group,
:mod:`trial` runs one trial as an ordinary run directory, :mod:`tune_run` runs them on Tune,
:mod:`status` keeps each trial's record for resume, :mod:`results` writes the tables.
"""
