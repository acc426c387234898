"""What the trainers on labelled pairs (the reward model and DPO) share: the pairs' check and a config.

- ``check_pairs``: the two sides of a set of labelled pairs must have one shape and at least one row;
- ``PairsConfig``: ``epochs`` passes over the pairs in random minibatches of ``batch_size`` (AdamW at ``lr``,
  no weight decay, gradients clipped at ``grad_clip``), seeded by ``seed``; ``steps(n)`` counts the updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import Config, positive_int


def check_pairs(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` (the two sides of labelled pairs) have one shape and rows."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same shape")
    if a.shape[0] == 0:
        raise ValueError(f"the preference set is empty ({name_a} has no rows); label at least one pair")


@dataclass(frozen=True)
class PairsConfig(Config):
    """Minibatch training on labelled pairs; a trainer's config subclasses it (with its own defaults).
    ``grad_clip`` is the largest global gradient norm (0: no clipping). Invalid values raise ``ValueError``."""

    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    grad_clip: float = 1.0
    seed: int = 0

    def rules(self):
        yield positive_int(self.epochs), "epochs", "must be a positive integer"
        yield positive_int(self.batch_size), "batch_size", "must be a positive integer"
        yield self.lr > 0, "lr", "the learning rate must be positive"
        yield self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 turns clipping off)"

    def steps(self, n: int) -> int:
        """Optimizer steps of a run on ``n`` pairs: ``epochs`` × the minibatches of one epoch."""
        return self.epochs * math.ceil(n / self.batch_size)
