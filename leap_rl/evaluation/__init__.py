"""Evaluation of a learned initialization against random ones (Flennerhag et al., ICLR 2019,
section 4.3, figure 4, appendix F table 6): training curves, statistics, reports.

``stats`` is pure numpy; ``runner`` fans the runs out on Ray; ``report`` writes and re-renders
curves.csv, summary.json, plots and TensorBoard; ``cli`` adds ``leap-rl evaluate`` and ``report``.
"""

from leap_rl.evaluation.stats import (
    auc,
    bootstrap_difference,
    final_score,
    moving_average,
    normalize,
    normalizer,
    summarize,
)

__all__ = ["auc", "bootstrap_difference", "final_score", "moving_average", "normalize",
           "normalizer", "summarize"]
