"""DoReMi (Xie et al. 2023): domain weights learned by a small proxy model against a reference model.

A proxy trains on batches drawn from the reference mixture while a weight vector α over the k domains
plays a game against it (group distributionally robust optimisation). At every step:

1. each domain's *excess loss* λ_i is the mean, over that domain's tokens in the batch, of
   max(ℓ_proxy − ℓ_ref, 0): how much worse the proxy still is than the reference there;
2. α ← softmax(log α + η λ), then α ← (1 − c) α + c / k (a floor that keeps every domain alive);
3. the proxy takes a step on its own loss with each token weighted by α of its domain (divided by the
   domain's sampling weight, so that the objective is the α-weighted mixture of per-domain losses).

The output is α averaged over all steps: the mixture to train the main model on. This follows the
reference implementation (``doremi/trainer.py`` of github.com/sangmichaelxie/doremi): a domain absent from a
batch keeps its last λ, and the loss is normalised by the summed token weights.

``DoReMi`` is a trainer callback (it supplies ``objective``), so the proxy trains through
``helpers.train.Trainer`` on a ``helpers.mixture.MixedCorpus`` like any other run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import GPT


def token_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy (nats) at every position: ``(B, T)`` from logits ``(B, T, V)``."""
    return F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")


class DoReMi:
    """The DoReMi domain-weight game as a trainer callback.

    ``reference`` is the trained reference model (kept frozen), ``sampling`` the weights the batches are
    drawn with (the reference mixture, one per domain in the sampler's order), ``eta`` the step size of
    the weight update and ``smoothing`` the mixing constant c with the uniform distribution. After a run,
    ``weights`` holds α at every step and ``average`` the mean of them (DoReMi's output)."""

    def __init__(self, reference: GPT, sampling, eta: float = 1.0, smoothing: float = 1e-3):
        if eta <= 0:
            raise ValueError(f"eta={eta}: the weight update's step size must be positive")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing={smoothing}: must lie in [0, 1)")
        self.sampling = torch.tensor([float(w) for w in sampling])
        if (self.sampling <= 0).any():
            raise ValueError(f"sampling={list(sampling)}: every domain needs a positive sampling weight")
        self.reference = reference.eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.eta, self.smoothing = eta, smoothing
        k = len(self.sampling)
        self.alpha = torch.full((k,), 1 / k)
        self.excess = torch.zeros(k)  # the latest λ of each domain
        self.weights: list[list[float]] = []
        self.excess_history: list[list[float]] = []

    def update(self, excess: torch.Tensor, domains: torch.Tensor) -> None:
        """One step of the weight game from per-token excess losses ``(B, T)`` and each row's domain."""
        for d in range(len(self.alpha)):
            rows = domains == d
            if rows.any():
                self.excess[d] = excess[rows].clamp(min=0).mean()
        log_alpha = torch.log(self.alpha) + self.eta * self.excess
        alpha = torch.softmax(log_alpha, dim=0)
        self.alpha = (1 - self.smoothing) * alpha + self.smoothing / len(alpha)
        self.weights.append(self.alpha.tolist())
        self.excess_history.append(self.excess.tolist())

    def objective(self, trainer, x, y, logits, objective):
        """The proxy's loss: its per-token losses weighted by α of their domain (over sampling weight)."""
        domains = trainer.sampler.last_domains
        losses = token_losses(logits, y)
        with torch.no_grad():
            self.reference.to(x.device)
            ref = token_losses(self.reference(x)[0], y)
        self.update((losses.detach() - ref).cpu(), domains)
        scale = self.alpha / self.sampling
        row = (scale / scale.sum())[domains].to(losses.device)
        return (losses * row[:, None]).sum() / (row.sum() * losses.shape[1]).clamp(min=1e-10)

    @property
    def average(self) -> list[float]:
        """α averaged over every step so far: DoReMi's domain weights."""
        if not self.weights:
            raise ValueError("no steps taken yet: train the proxy with this callback first")
        return torch.tensor(self.weights).mean(dim=0).tolist()
