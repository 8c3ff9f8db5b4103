"""Evaluation of learned initializations against random ones (Flennerhag et al., ICLR 2019,
section 4.3, figure 4, appendix F table 6): training curves, statistics, reports.

``stats`` is pure numpy/scipy; ``runner`` fans the runs out on Ray; ``store`` keeps each finished
run in the output directory so an evaluation resumes; ``experiment`` ties them together;
``report`` and ``plots`` write and re-render curves.csv, summary.json, plots and TensorBoard;
``cli`` adds ``leap-rl evaluate`` and ``report``.
"""

from leap_rl.evaluation.stats import (
    auc,
    bootstrap_difference,
    comparisons,
    final_score,
    moving_average,
    normalize,
    normalizer,
    paired_bootstrap,
    summarize,
)

__all__ = ["auc", "bootstrap_difference", "comparisons", "final_score", "moving_average",
           "normalize", "normalizer", "paired_bootstrap", "summarize"]
