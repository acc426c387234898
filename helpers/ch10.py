"""Chapter 10, learning from human preferences: the pipeline, the over-optimisation experiment and its grid.

- the pipeline's constants: ``PRETRAIN_STEPS`` and ``SFT_STEPS``, the seeds of the held-out pairs, of the
  responses that standardise rewards and of the best-of-n pool (``TEST_SEED``, ``NORM_SEED``, ``POOL_SEED``),
  and the best-of-n sizes ``BON_NS``;
- ``pretrain_and_sft``: stage 0 and 1 (pretraining on random strings, SFT on demonstrations);
- ``preference_data``: pairs of SFT samples labelled by the world's labeller;
- experiment ``ch10_overopt`` (``overoptimisation_run``): a reward model on a number of labelled pairs, then
  best-of-n and PPO against it, scored by the hidden gold reward;
- grid ``ch10_overopt``: reward models on 250 to 8,000 pairs (three seeds each) with PPO at KL coefficient
  0.05, and PPO at seven KL coefficients with the 2,000-pair reward model of seed 0.
"""

from __future__ import annotations

import time

import torch

from . import sweep
from .cache import ResultCache
from .model import GPT
from .rl import (
    PPOConfig,
    PreferenceWorld,
    RewardModelConfig,
    best_of_n_curve,
    preference_accuracy,
    sample,
    train_ppo,
    train_reward_model,
)
from .rl.ppo import CURVES
from .train import TrainConfig, select_device, train

SFT_STEPS, PRETRAIN_STEPS = 300, 600
TEST_SEED, NORM_SEED, POOL_SEED = 7, 8, 9  # held-out pairs, the responses that standardise rewards, the best-of-n pool
BON_NS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
CH10_PAIRS = (250, 500, 1000, 2000, 4000, 8000)
CH10_KL_COEFS = (0.0, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2)


def pretrain_and_sft(
    world: PreferenceWorld,
    d_model: int = 32,
    n_layer: int = 2,
    progress: bool = True,
    device: str = "auto",
    cache: bool | ResultCache = True,
) -> tuple[GPT, GPT]:
    """Stage 0 and 1: pretrain a GPT on random strings, then fine-tune it on demonstrations (SFT). Both runs
    go through ``helpers.train.train`` (cached). Returns ``(pretrained, sft)`` models."""
    cfg = world.model_config(d_model, n_layer)
    common = {"batch_size": 64, "eval_every": 0, "progress": progress, "device": device}
    pre_cfg = TrainConfig(steps=PRETRAIN_STEPS, lr=3e-3, warmup_steps=30, **common)
    pre = train(cfg, pre_cfg, world.pretrain_corpus(), cache=cache)
    sft_cfg = TrainConfig(steps=SFT_STEPS, lr=1e-3, warmup_steps=20, **common)
    sft = train(cfg, sft_cfg, world.sft_corpus(), init=pre.model, cache=cache)
    return pre.model, sft.model


def preference_data(world: PreferenceWorld, sft: GPT, n_pairs: int, seed: int = 0):
    """``n_pairs`` pairs of SFT samples labelled by the world's labeller: ``(chosen, rejected)``."""
    ids = sample(sft, 2 * n_pairs, world.length, seed=seed)
    return world.label_pairs(ids[:n_pairs], ids[n_pairs:], seed=seed)


def overoptimisation_run(
    *,
    pairs: int,
    seed: int = 0,
    kl_coef: float = 0.05,
    iterations: int = 80,
    pool: int = 8192,
    device: str = "auto",
    cache: bool | ResultCache = False,
) -> sweep.RunOutput:
    """The chapter's pipeline with a reward model trained on ``pairs`` labelled pairs (drawn and trained with
    ``seed``), then best-of-n from a pool of ``pool`` SFT samples and PPO at ``kl_coef``, every stage on
    ``device``; the reward model and PPO go through the result cache when ``cache`` is on, the shared pretraining
    and SFT stages always. Its metrics: the reward model's held-out
    accuracy (and the labels' ceiling), the best-of-n curve and the PPO curve (proxy, gold, KL every 5
    iterations); ``final_val`` is the gold reward PPO ends with."""
    t0 = time.perf_counter()
    dev = select_device(device)
    world = PreferenceWorld()
    # every point starts from the same pretrained and SFT models (same configs, data and seed), so they go
    # through the result cache whatever ``cache`` says: trained once per machine, not once per point
    _, sft = pretrain_and_sft(world, progress=False, device=str(dev))
    test_c, test_r = preference_data(world, sft, 2000, seed=TEST_SEED)
    norm = sample(sft, 2000, world.length, seed=NORM_SEED)
    chosen, rejected = preference_data(world, sft, pairs, seed=100 + seed)
    rm = train_reward_model(
        sft, chosen, rejected, RewardModelConfig(seed=seed), normalise_on=norm, device=str(dev), cache=cache,
        progress=False,
    ).model  # fmt: skip
    ids = sample(sft, pool, world.length, seed=POOL_SEED)
    with torch.no_grad():
        bon = best_of_n_curve(rm.score(ids.to(dev)).cpu().numpy(), world.gold(ids), BON_NS)
    ppo = train_ppo(
        sft, rm, world, PPOConfig(kl_coef=kl_coef, iterations=iterations, seed=seed), device=str(dev), cache=cache,
        progress=False,
    )  # fmt: skip
    curves = {name: ppo.history.records[name] for name in CURVES}
    metrics = {
        "accuracy": round(preference_accuracy(rm, test_c, test_r), 5),
        "ceiling": round(world.label_ceiling(test_c, test_r), 5),
        "bon": {k: [round(v, 5) for v in vals] for k, vals in bon.items()},
        "ppo": curves,
    }
    return sweep.RunOutput(
        seed=seed,
        steps=iterations,
        seconds=time.perf_counter() - t0,
        final_val=curves["gold"][-1],
        metrics=metrics,
        device=ppo.device.type,
    )


sweep.register_experiment("ch10_overopt", overoptimisation_run)
sweep.register_grid(
    "ch10_overopt",
    full=[{"recipe": "ch10_overopt", "pairs": p, "seed": s, "kl_coef": 0.05} for p in CH10_PAIRS for s in range(3)]
    + [{"recipe": "ch10_overopt", "pairs": 2000, "seed": 0, "kl_coef": k} for k in CH10_KL_COEFS if k != 0.05],
    quick=[{"recipe": "ch10_overopt", "pairs": 250, "seed": 0, "kl_coef": 0.05}],
)
