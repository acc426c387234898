"""Learning from human preferences (人类偏好对齐) at toy scale: chapter 10's world and methods.

A hidden **gold** reward stands in for the human labeller, so that the gap between the reward a policy
optimises (the learned *proxy*) and the true one can be measured. One module per concept:

- ``world``: ``PreferenceWorld`` (responses, gold reward, pretraining and SFT corpora, the Bradley–Terry
  labeller and its accuracy ceiling);
- ``policy``: ``ScalarModel`` (a GPT body with a scalar head: reward or value model), ``sample``,
  ``response_logprobs``, the KL estimators ``kl_k1`` / ``kl_k3`` and ``evaluate_policy``;
- ``pairs``: what the trainers on labelled pairs share (``check_pairs``, ``PairsConfig``);
- ``reward_model``: ``bradley_terry_loss``, ``RewardModelConfig``, ``train_reward_model``,
  ``preference_accuracy``;
- ``ppo``: ``gae``, ``ppo_clip_loss``, ``PPOConfig``, ``train_ppo``;
- ``dpo``: ``dpo_loss``, ``DPOConfig``, ``train_dpo``, ``implicit_reward_accuracy``;
- ``best_of_n``: the sampler, its analytic KL, its exact reward curve, and Gao et al.'s fits.

Every trainer goes through ``helpers.fit.cached_fit`` and returns a ``helpers.fit.TrainResult``. The
chapter's pipeline (pretraining, SFT, the over-optimisation sweep) lives in ``helpers.ch10``; its interactive
best-of-n view in ``helpers.book.widgets``. The names below are re-exported: ``from helpers import rl``.
"""

from .best_of_n import best_of_n, best_of_n_curve, best_of_n_kl, fit_gao, gao_bon, gao_peak, gao_rl
from .dpo import DPOConfig, dpo_loss, implicit_reward_accuracy, train_dpo
from .policy import ScalarModel, evaluate_policy, kl_k1, kl_k3, response_logprobs, sample
from .ppo import PPOConfig, gae, ppo_clip_loss, train_ppo
from .reward_model import RewardModelConfig, bradley_terry_loss, preference_accuracy, train_reward_model
from .world import PreferenceWorld

__all__ = [
    "DPOConfig",
    "PPOConfig",
    "PreferenceWorld",
    "RewardModelConfig",
    "ScalarModel",
    "best_of_n",
    "best_of_n_curve",
    "best_of_n_kl",
    "bradley_terry_loss",
    "dpo_loss",
    "evaluate_policy",
    "fit_gao",
    "gae",
    "gao_bon",
    "gao_peak",
    "gao_rl",
    "implicit_reward_accuracy",
    "kl_k1",
    "kl_k3",
    "ppo_clip_loss",
    "preference_accuracy",
    "response_logprobs",
    "sample",
    "train_dpo",
    "train_ppo",
    "train_reward_model",
]
