"""Direct preference optimisation (Rafailov et al. 2023): the policy learns from labelled pairs directly.

- ``dpo_loss``: −log σ(β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]);
- ``DPOConfig`` and ``train_dpo`` (cached, through ``helpers.fit.cached_fit``): no reward model, no sampling;
- ``implicit_reward_accuracy``: how often DPO's implicit reward log π/π_ref ranks the chosen response first.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..cache import ResultCache
from ..fit import History, TrainResult, Updates, adamw, cached_fit, minibatches, state_fingerprint, tensors_fingerprint
from ..model import GPT
from .pairs import PairsConfig, check_pairs
from .policy import response_logprobs


def dpo_loss(
    logp_chosen: torch.Tensor,
    logp_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DPO's loss (Rafailov et al. 2023) from sequence log-probabilities ``(B,)`` under the policy and the
    reference: mean of −log σ(β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]). Returns
    ``(loss, margins)``, the margins being the implicit reward differences β[...] per pair."""
    if beta <= 0:
        raise ValueError(f"beta={beta}: DPO's β must be positive (0.1 to 0.5 is typical)")
    shapes = {tuple(t.shape) for t in (logp_chosen, logp_rejected, ref_chosen, ref_rejected)}
    if len(shapes) != 1:
        raise ValueError(
            f"logp_chosen, logp_rejected, ref_chosen and ref_rejected have shapes {sorted(shapes)}: "
            "give one sequence log-probability per pair in each"
        )
    if logp_chosen.numel() == 0:
        raise ValueError("the preference set is empty; give at least one pair")
    margins = beta * ((logp_chosen - ref_chosen) - (logp_rejected - ref_rejected))
    return -F.logsigmoid(margins).mean(), margins


@dataclass(frozen=True)
class DPOConfig(PairsConfig):
    """DPO on labelled pairs: ``PairsConfig`` with DPO's defaults, and ``beta``, the β of the implicit reward
    β log π/π_ref. Invalid values raise ``ValueError``."""

    epochs: int = 2
    lr: float = 3e-4
    beta: float = 0.1

    def rules(self):
        yield self.beta > 0, "beta", "DPO's β must be positive (0.1 to 0.5 is typical)"
        yield from super().rules()


def train_dpo(
    sft: GPT,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    cfg: DPOConfig,
    *,
    device: str = "auto",
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a copy of ``sft`` (also the reference) with ``dpo_loss`` on the pairs. ``history.records``
    holds ``train_accuracy``: per epoch, the share of pairs whose implicit reward margin was positive. Cached
    on the config, the pairs, the starting weights and the device type."""
    check_pairs(chosen, rejected, "chosen", "rejected")
    key = {"dpo": asdict(cfg), "init": state_fingerprint(sft), "pairs": tensors_fingerprint(chosen, rejected)}

    def run(device: torch.device) -> tuple[GPT, History]:
        ref = copy.deepcopy(sft).to(device).eval()
        policy = copy.deepcopy(sft).to(device).train()
        c, r = chosen.to(device), rejected.to(device)
        with torch.no_grad():
            ref_c, ref_r = response_logprobs(ref, c).sum(-1), response_logprobs(ref, r).sum(-1)
        n = len(c)
        updates = Updates(
            policy,
            adamw(policy, cfg.lr),
            grad_clip=cfg.grad_clip,
            total=cfg.steps(n),
            desc="DPO fine-tuning",
            progress=progress,
        )
        gen = torch.Generator().manual_seed(cfg.seed)
        accuracy = []
        for _ in range(cfg.epochs):
            right = 0.0
            for j in minibatches(n, cfg.batch_size, gen):
                j = j.to(device)
                lc, lr_ = response_logprobs(policy, c[j]).sum(-1), response_logprobs(policy, r[j]).sum(-1)
                loss, margins = dpo_loss(lc, lr_, ref_c[j], ref_r[j], cfg.beta)
                updates.step(loss)
                right += float((margins > 0).sum())
            accuracy.append(round(right / n, 5))
        seconds = updates.close()
        losses = updates.pop_losses()
        records = {"train_accuracy": accuracy}
        return policy, History(train_loss=losses, lr=[cfg.lr] * len(losses), seconds=seconds, records=records)

    return cached_fit(
        key, run, lambda: GPT(sft.cfg),
        seed=cfg.seed, device=device, cache=cache, label="DPO policy", quiet=not progress,
    )  # fmt: skip


@torch.no_grad()
def implicit_reward_accuracy(policy: GPT, ref: GPT, chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    """Share of pairs in which DPO's implicit reward log π/π_ref ranks the chosen response first."""
    check_pairs(chosen, rejected, "chosen", "rejected")

    def implicit(ids):
        return response_logprobs(policy, ids).sum(-1) - response_logprobs(ref, ids).sum(-1)

    d = implicit(chosen) - implicit(rejected)
    return float(((d > 0).float() + 0.5 * (d == 0).float()).mean())
