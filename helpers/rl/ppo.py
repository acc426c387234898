"""PPO with a per-token KL penalty to the SFT policy (InstructGPT's objective without the pretraining term).

- ``gae``: generalised advantage estimation (Schulman et al. 2016);
- ``ppo_clip_loss``: the clipped surrogate (Schulman et al. 2017);
- ``PPOConfig`` and ``train_ppo`` (cached, through ``helpers.fit.cached_fit``): rounds of sampling from the
  policy, scoring by the reward model, then minibatch updates of the policy and a value model.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..cache import ResultCache
from ..config import Config, positive_int
from ..fit import History, TrainResult, Updates, adamw, cached_fit, minibatches, state_fingerprint
from ..model import GPT
from .policy import ScalarModel, evaluate_policy, prompt, response_logprobs, sample
from .world import PreferenceWorld

CURVES = ("iteration", "proxy", "gold", "kl")  # what train_ppo records every eval_every iterations


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float = 1.0, lam: float = 0.95):
    """Generalised advantage estimation (Schulman et al. 2016) over ``(B, T)`` per-token rewards and values
    (the episode ends after the last token, whose next value is 0): δ_t = r_t + γ V_{t+1} − V_t and
    A_t = Σ_k (γλ)^k δ_{t+k}. Returns ``(advantages, returns)``, returns = advantages + values."""
    if rewards.shape != values.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} must match")
    if not (0 <= gamma <= 1 and 0 <= lam <= 1):
        raise ValueError(f"gamma={gamma}, lam={lam}: both must lie in [0, 1]")
    T = rewards.shape[1]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    return adv, adv + values


def ppo_clip_loss(logp: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, clip: float = 0.2):
    """PPO's clipped surrogate (Schulman et al. 2017), as a loss to minimise:
    −mean(min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)) with ρ = exp(logp − logp_old)."""
    if not (logp.shape == logp_old.shape == advantages.shape):
        raise ValueError(
            f"logp {tuple(logp.shape)}, logp_old {tuple(logp_old.shape)} and advantages {tuple(advantages.shape)} "
            "must have the same shape (one entry per token)"
        )
    if clip <= 0:
        raise ValueError(f"clip={clip}: the clip range ε must be positive (0.2 is usual)")
    ratio = torch.exp(logp - logp_old)
    return -torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()


@dataclass(frozen=True)
class PPOConfig(Config):
    """PPO with a per-token KL penalty to the SFT policy. Invalid values raise ``ValueError``."""

    kl_coef: float = 0.05  # β of r − β log(π/π_SFT)
    iterations: int = 80  # rounds of sampling, then updating
    rollouts: int = 128  # responses sampled per iteration
    epochs: int = 2  # passes over each round's rollouts
    minibatch: int = 64
    lr: float = 3e-4
    clip: float = 0.2
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.5
    grad_clip: float = 1.0  # max global gradient norm of policy and value model together; 0: no clipping
    seed: int = 0

    def rules(self):
        yield self.kl_coef >= 0, "kl_coef", "the KL coefficient must be >= 0 (0: no leash)"
        for name in ("iterations", "rollouts", "epochs", "minibatch"):
            yield positive_int(getattr(self, name)), name, "must be a positive integer"
        yield self.minibatch <= self.rollouts, "minibatch", f"must be <= rollouts={self.rollouts}"
        yield self.lr > 0, "lr", "the learning rate must be positive"
        yield self.clip > 0, "clip", "the clip range must be positive (0.2 is usual)"
        yield 0 <= self.gamma <= 1, "gamma", "the discount must lie in [0, 1]"
        yield 0 <= self.lam <= 1, "lam", "GAE's λ must lie in [0, 1]"
        yield self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 turns clipping off)"


def train_ppo(
    sft: GPT,
    rm: ScalarModel,
    world: PreferenceWorld,
    cfg: PPOConfig,
    *,
    eval_every: int = 5,
    device: str = "auto",
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a copy of ``sft`` with PPO to maximise ``rm``'s reward minus ``cfg.kl_coef`` times the
    per-token log-ratio to ``sft``. A value model (``ScalarModel`` from ``sft``) learns the returns;
    advantages come from ``gae`` and are whitened. ``history.train_loss`` is the loss of every update
    (clipped surrogate + ``vf_coef`` × value loss); ``history.records`` holds ``policy_loss`` (the surrogate
    alone, per update) and the iteration, proxy reward, gold reward and KL of fresh samples every
    ``eval_every`` iterations (``CURVES``). Cached on the configs, the starting weights and the reward model."""
    key = {
        "ppo": asdict(cfg),
        "world": asdict(world),
        "init": state_fingerprint(sft),
        "rm": state_fingerprint(rm),
        "eval_every": eval_every,
    }

    def run(device: torch.device) -> tuple[GPT, History]:
        ref = copy.deepcopy(sft).to(device).eval()
        policy = copy.deepcopy(sft).to(device)
        value = ScalarModel.from_lm(sft).to(device)
        scorer = copy.deepcopy(rm).to(device).eval()
        models = [policy, value]
        updates = Updates(
            models, adamw(models, cfg.lr), grad_clip=cfg.grad_clip, total=cfg.iterations,
            desc="PPO fine-tuning", unit="it",
            progress=progress,
        )  # fmt: skip
        gen = torch.Generator().manual_seed(cfg.seed)
        curves: dict[str, list] = {name: [] for name in CURVES}
        policy_loss: list[torch.Tensor] = []

        def record(it: int) -> None:
            for k, v in evaluate_policy(policy, ref, scorer, world, seed=10_000 + it).items():
                curves[k].append(round(v, 5))
            curves["iteration"].append(it)

        record(0)
        for it in range(1, cfg.iterations + 1):
            with torch.no_grad():
                policy.eval()
                ids = sample(policy, cfg.rollouts, world.length, seed=int(torch.randint(1 << 30, (1,), generator=gen)))
                ids = ids.to(device)
                logp_old = response_logprobs(policy, ids)
                logp_ref = response_logprobs(ref, ids)
                seq = torch.cat([prompt(len(ids), device), ids], dim=1)
                values = value(seq[:, :-1])
                rewards = -cfg.kl_coef * (logp_old - logp_ref)
                rewards[:, -1] += scorer.score(ids)
                adv, returns = gae(rewards, values, cfg.gamma, cfg.lam)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy.train()
            for _ in range(cfg.epochs):
                for j in minibatches(cfg.rollouts, cfg.minibatch, gen):
                    j = j.to(device)
                    pg = ppo_clip_loss(response_logprobs(policy, ids[j]), logp_old[j], adv[j], cfg.clip)
                    vf = F.mse_loss(value(seq[j, :-1]), returns[j])
                    updates.step(pg + cfg.vf_coef * vf, advance=False)
                    policy_loss.append(pg.detach())
            updates.advance()
            if it % eval_every == 0 or it == cfg.iterations:
                policy.eval()
                record(it)
        seconds = updates.close()
        losses = updates.pop_losses()
        records = {**curves, "policy_loss": torch.stack(policy_loss).cpu().tolist()}
        return policy, History(train_loss=losses, lr=[cfg.lr] * len(losses), seconds=seconds, records=records)

    return cached_fit(
        key, run, lambda: GPT(sft.cfg),
        seed=cfg.seed, device=device, cache=cache, label="PPO policy", quiet=not progress,
    )  # fmt: skip
