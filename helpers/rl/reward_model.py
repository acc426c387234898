"""The reward model: a ``ScalarModel`` trained on labelled pairs with the Bradley–Terry loss.

- ``bradley_terry_loss``: mean −log σ(r_chosen − r_rejected) (Christiano et al. 2017; Ouyang et al. 2022);
- ``RewardModelConfig`` and ``train_reward_model`` (cached, through ``helpers.fit.cached_fit``);
- ``preference_accuracy``: how often a reward model ranks the chosen response first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..cache import ResultCache
from ..fit import History, TrainResult, Updates, adamw, cached_fit, minibatches, state_fingerprint, tensors_fingerprint
from ..model import GPT
from .pairs import PairsConfig, check_pairs
from .policy import ScalarModel


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of −log σ(r_chosen − r_rejected): the reward model's loss on labelled pairs (Christiano et al.
    2017; Ouyang et al. 2022)."""
    check_pairs(r_chosen, r_rejected, "r_chosen", "r_rejected")
    return -F.logsigmoid(r_chosen - r_rejected).mean()


@torch.no_grad()
def preference_accuracy(rm: ScalarModel, chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    """Share of pairs in which ``rm`` scores the chosen response above the rejected one (ties count half)."""
    check_pairs(chosen, rejected, "chosen", "rejected")
    device = next(rm.parameters()).device
    d = rm.score(chosen.to(device)) - rm.score(rejected.to(device))
    return float(((d > 0).float() + 0.5 * (d == 0).float()).mean())


@dataclass(frozen=True)
class RewardModelConfig(PairsConfig):
    """Training a reward model: ``PairsConfig`` (epochs, minibatch size, learning rate, gradient clipping,
    seed) with the reward model's defaults. Invalid values raise ``ValueError``."""

    epochs: int = 8
    lr: float = 1e-3


def train_reward_model(
    sft: GPT,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    cfg: RewardModelConfig,
    *,
    normalise_on: torch.Tensor | None = None,
    device: str = "auto",
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> TrainResult:
    """Train a ``ScalarModel`` started from ``sft`` on labelled pairs with the Bradley–Terry loss. With
    ``normalise_on`` (e.g. SFT samples) the scores are then standardised on those responses. Cached on the
    config, the pairs, the starting weights and the device type."""
    check_pairs(chosen, rejected, "chosen", "rejected")
    norm = normalise_on if normalise_on is not None else torch.zeros(0, chosen.shape[1], dtype=torch.long)
    key = {
        "reward_model": asdict(cfg),
        "init": state_fingerprint(sft),
        "pairs": tensors_fingerprint(chosen, rejected, norm),
    }

    def run(device: torch.device) -> tuple[ScalarModel, History]:
        rm = ScalarModel.from_lm(sft).to(device).train()
        n = len(chosen)
        updates = Updates(
            rm,
            adamw(rm, cfg.lr),
            grad_clip=cfg.grad_clip,
            total=cfg.steps(n),
            desc="training the reward model",
            progress=progress,
        )
        gen = torch.Generator().manual_seed(cfg.seed)
        for _ in range(cfg.epochs):
            for j in minibatches(n, cfg.batch_size, gen):
                updates.step(bradley_terry_loss(rm.score(chosen[j].to(device)), rm.score(rejected[j].to(device))))
        seconds = updates.close()
        rm.eval()
        if len(norm):
            rm.normalise(norm.to(device))
        losses = updates.pop_losses()
        return rm, History(train_loss=losses, lr=[cfg.lr] * len(losses), seconds=seconds)

    return cached_fit(
        key, run, lambda: ScalarModel(sft.cfg),
        seed=cfg.seed, device=device, cache=cache, label="reward model", quiet=not progress,
    )  # fmt: skip
