"""Ways to read a language model's loss, and simple baselines to read it against.

The loss is the mean next-token cross-entropy in nats. ``perplexity`` is e^loss: the number of
equally likely tokens the model is, on average, choosing between. ``bits_per_token`` is the same
loss in bits (divide by ln 2), for a character model the classic *bits per character*.
"""

from __future__ import annotations

import math

import torch


def perplexity(loss_nats: float) -> float:
    """e^loss: the effective number of choices per token."""
    return math.exp(loss_nats)


def bits_per_token(loss_nats: float) -> float:
    """The loss in bits per token (bits per character for a character-level model)."""
    return loss_nats / math.log(2)


def uniform_loss(vocab_size: int) -> float:
    """Loss of a model that spreads probability evenly over the vocabulary: ln(vocab_size)."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size}: must be at least 1")
    return math.log(vocab_size)


def unigram_entropy(ids: torch.Tensor, vocab_size: int) -> float:
    """Entropy (nats) of the token frequencies in ``ids``: the best loss a model that ignores context
    can reach on data distributed like ``ids``."""
    if ids.numel() == 0:
        raise ValueError("ids is empty: need at least one token to count frequencies")
    counts = torch.bincount(ids.flatten(), minlength=vocab_size).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


@torch.no_grad()
def mean_loss(model, batches) -> float:
    """Mean cross-entropy (nats) of ``model`` over an iterable of ``(x, y)`` batches."""
    device = next(model.parameters()).device
    losses = [model(x.to(device), y.to(device))[1].item() for x, y in batches]
    if not losses:
        raise ValueError("no batches given")
    return sum(losses) / len(losses)
