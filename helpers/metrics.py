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


# ----------------------------------------------------------------------------- scoring answers
# Chapter 6 scores the same answers four ways (Schaeffer et al. 2023): all-or-nothing exact match,
# and three metrics that give partial credit, which change smoothly where exact match jumps.


def digit_accuracy(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per example, the fraction of answer tokens that are right: ``pred`` and ``truth`` are ``(B, L)`` ids."""
    if pred.shape != truth.shape or pred.dim() != 2:
        raise ValueError(f"pred {tuple(pred.shape)} and truth {tuple(truth.shape)} must both be (batch, length)")
    return (pred == truth).float().mean(dim=1)


def edit_distance(a, b) -> int:
    """Token edit distance (Levenshtein): the fewest insertions, deletions and substitutions turning
    sequence ``a`` into sequence ``b`` (lists, strings or tuples of tokens)."""
    a, b = list(a), list(b)
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@torch.no_grad()
def answer_logprob(model, prompt: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """Per example, the log-probability (nats) the model gives the whole ``answer`` (``(B, L)`` ids) after
    ``prompt`` (``(B, T)`` ids), by teacher forcing: the sum of the log-probabilities of its tokens."""
    if prompt.dim() != 2 or answer.dim() != 2 or prompt.shape[0] != answer.shape[0]:
        raise ValueError(f"prompt {tuple(prompt.shape)} and answer {tuple(answer.shape)} need the same batch size")
    seq = torch.cat([prompt, answer], dim=1)
    logits, _ = model(seq[:, :-1])
    L = answer.shape[1]
    logp = torch.log_softmax(logits[:, -L:].float(), dim=-1)
    return logp.gather(-1, answer[..., None]).squeeze(-1).sum(dim=1)


def at_least_k_right(correct_counts, k: int) -> float:
    """From ``correct_counts`` (how many problems got 0, 1, ..., L answer tokens right), the fraction of
    problems with at least ``k`` right: ``k = L`` is exact match, smaller ``k`` gives partial credit."""
    counts = list(correct_counts)
    if not 0 <= k < len(counts):
        raise ValueError(f"k={k}: must lie in 0..{len(counts) - 1} (the answer has {len(counts) - 1} tokens)")
    if sum(counts) == 0:
        raise ValueError("correct_counts is empty: no problems were scored")
    return sum(counts[k:]) / sum(counts)
