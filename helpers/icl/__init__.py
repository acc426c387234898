"""In-context learning (上下文学习) at toy scale: the worlds, models, baselines and scores of chapter 7.

Three experiments, each a small world a tiny transformer can master on a CPU, one module each
(chapter 7's own configurations, runners and sweep grids are in ``helpers.ch07``):

- ``repeats``: the induction world (Olsson et al. 2022). ``RepeatData`` documents whose random segments
  recur, ``repeat_corpus``, ``repeated_tokens`` probes, ``token_losses``, ``icl_score`` and the
  ``RepeatLossProbe`` training callback.
- ``heads``: what each attention head does on those probes: ``attention_patterns``,
  ``prefix_matching_scores``, ``previous_token_scores``, ``induction_scores``, ``copying_scores``,
  ``ablation_scores``, all gathered by ``head_report``.
- ``regression``: in-context linear regression (Garg et al. 2022). ``sample_regression``, the
  ``RegressionTransformer`` (``RegressionConfig``) and its trainer ``train_regression``, the
  ``BASELINES`` (``least_squares``, ``ridge``, ``nearest_neighbours``, ``averaging``) and
  ``regression_errors``, which scores any of them against the number of in-context examples.
- ``rules``: few-shot prompting (Brown et al. 2020; Chan et al. 2022). ``RuleWorld``, a family of hidden
  rules on letters with bursty or non-bursty documents and its Bayes-optimal accuracy;
  ``few_shot_accuracy`` and ``few_shot_curve`` score a trained LM with k demonstrations.

Every public name is re-exported here: ``from helpers import icl; icl.head_report(model)``.
"""

from .heads import (
    PROBE_HALF,
    ablation_scores,
    attention_patterns,
    copying_scores,
    head_report,
    induction_scores,
    prefix_matching_scores,
    previous_token_scores,
)
from .regression import (
    BASELINES,
    RegressionConfig,
    RegressionTransformer,
    active_dim,
    averaging,
    least_squares,
    nearest_neighbours,
    regression_errors,
    ridge,
    sample_regression,
    train_regression,
)
from .repeats import (
    RepeatData,
    RepeatLossProbe,
    SymbolTokenizer,
    icl_score,
    repeat_corpus,
    repeated_tokens,
    token_losses,
)
from .rules import RuleWorld, few_shot_accuracy, few_shot_curve

__all__ = [
    "BASELINES",
    "PROBE_HALF",
    "RegressionConfig",
    "RegressionTransformer",
    "RepeatData",
    "RepeatLossProbe",
    "RuleWorld",
    "SymbolTokenizer",
    "ablation_scores",
    "active_dim",
    "attention_patterns",
    "averaging",
    "copying_scores",
    "few_shot_accuracy",
    "few_shot_curve",
    "head_report",
    "icl_score",
    "induction_scores",
    "least_squares",
    "nearest_neighbours",
    "prefix_matching_scores",
    "previous_token_scores",
    "regression_errors",
    "repeat_corpus",
    "repeated_tokens",
    "ridge",
    "sample_regression",
    "token_losses",
    "train_regression",
]
