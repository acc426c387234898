"""Chapter 10, learning from human preferences: the pipeline, the over-optimisation experiment and its grid.

- the pipeline's constants: ``PRETRAIN_STEPS`` and ``SFT_STEPS``, the seeds of the held-out pairs, of the
  responses that standardise rewards and of the best-of-n pool (``TEST_SEED``, ``NORM_SEED``, ``POOL_SEED``),
  and the best-of-n sizes ``BON_NS``;
- ``pretrain_and_sft``: stage 0 and 1 (pretraining on random strings, SFT on demonstrations);
- ``preference_data``: pairs of SFT samples labelled by the world's labeller;
- experiment ``ch10_overopt`` (``overoptimisation_run``): a reward model on a number of labelled pairs, then
  best-of-n and PPO against it, scored by the hidden gold reward;
- grid ``ch10_overopt``: reward models on 250 to 8,000 pairs (three seeds each) with PPO at KL coefficient
  0.05, and PPO at seven KL coefficients with the 2,000-pair reward model of seed 0;
- the chapter's exercises (``dpo_loss_exercise`` ... ``leash_exercise``), their answers computed here.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import sweep
from .book.exercises import Exercise, Experiment
from .cache import ResultCache
from .model import GPT
from .rl import (
    PPOConfig,
    PreferenceWorld,
    RewardModelConfig,
    best_of_n_curve,
    best_of_n_kl,
    dpo_loss,
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


# ----------------------------------------------------------------------------- exercises


def dpo_loss_exercise(logprobs, beta: float = 0.1) -> Exercise:
    """Exercise 10.1: the DPO loss of one pair from its four sequence log-probabilities ``logprobs``
    (policy chosen, policy rejected, reference chosen, reference rejected)."""
    return Exercise(
        "10.1 DPO loss",
        expected=float(dpo_loss(*[torch.tensor([v]) for v in logprobs], beta=beta)[0]),
        rtol=1e-3,
        hints=(
            "the loss depends only on how much more the policy than the reference prefers the chosen response",
            "margin = β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]; loss = log(1 + e^(−margin))",
        ),
    )


def best_of_n_kl_exercise(n: int = 64) -> Exercise:
    """Exercise 10.2: the KL (nats) from the sampling policy that best-of-``n`` spends."""
    return Exercise(
        f"10.2 best-of-{n} KL",
        expected=float(best_of_n_kl(n)),
        hints=(
            "the chapter gives a closed form in n alone; it grows like the logarithm of n",
            "KL = log n − (n − 1)/n, natural log",
        ),
    )


def coefficient_lead_exercise(finals, golds) -> Exercise:
    """Exercise 10.3: the best KL coefficient's lead in final gold reward over the runner-up (``finals``
    rows ``[β, proxy, gold, KL]``), in seed standard deviations of ``golds``; one decimal is enough."""
    top = sorted(f[2] for f in finals)
    return Exercise(
        "10.3 the best coefficient's lead, in seed standard deviations",
        expected=float((top[-1] - top[-2]) / np.std(golds, ddof=1)),
        rtol=0.02,
        coarsest=0.1,
        hints=(
            "compare the two highest final gold rewards, then measure the gap with the seed-to-seed spread",
            "sort the gold column; (best - second best) / np.std(golds, ddof=1)",
        ),
    )


def leash_exercise(reference) -> Experiment:
    """Exercise 10.4 (an experiment): the student trains PPO with a stronger KL coefficient than the
    chapter's 0.05 run (``reference``, a ``TrainResult`` of ``train_ppo``); the checker verifies the run is a
    PPO run of the same length and the claim that it ends closer to the SFT model (a smaller final KL)."""
    ref = reference.history.records

    def verify(result):
        rec = getattr(getattr(result, "history", None), "records", {}) or {}
        if "kl" not in rec or "gold" not in rec:
            return False, "expected the result of rl.train_ppo(...)"
        if rec["iteration"] != ref["iteration"]:
            return False, "the run's iterations differ from the chapter's; keep PPOConfig's other settings"
        kl, ref_kl = rec["kl"][-1], ref["kl"][-1]
        report = (
            f"final KL {kl:.2f} nats and gold reward {rec['gold'][-1]:.2f}, vs {ref_kl:.2f} nats and "
            f"{ref['gold'][-1]:.2f} at β_KL = 0.05"
        )
        holds = kl < ref_kl
        return holds, report + ("; the claim holds" if holds else "; the claim fails: is your β larger than 0.05?")

    return Experiment(
        "10.4 a tighter leash",
        verify=verify,
        hints=(
            "the live PPO runs of section 4 take the coefficient in their config",
            "rl.train_ppo(sft, rm, world, rl.PPOConfig(kl_coef=0.2))",
        ),
    )
