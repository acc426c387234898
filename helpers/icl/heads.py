"""What each attention head does on ``repeated_tokens`` probes (Olsson et al. 2022).

``attention_patterns`` is every head's attention (``GPT.attention_weights``, on the CPU).
From the patterns: ``prefix_matching_scores`` (attention to the token after the earlier copy),
``previous_token_scores`` and ``induction_scores`` (attention the repeat *causes*, and at which
distance). From the weights: ``copying_scores`` (the sign of a head's OV circuit). From the loss:
``ablation_scores`` (what zeroing one head costs). ``head_report`` gathers all of them for one model.
"""

from __future__ import annotations

import torch

from ..model import GPT
from .repeats import icl_score, repeated_tokens, token_losses

PROBE_HALF = 12  # repeated_tokens probes: 12 random tokens, then the same 12 (24 positions)


def attention_patterns(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Every head's attention weights on ``idx`` (B, T), on the CPU: shape ``(n_layer, B, n_head, T, T)``."""
    return model.attention_weights(idx.to(next(model.parameters()).device)).cpu()


def prefix_matching_scores(patterns: torch.Tensor, half: int) -> torch.Tensor:
    """Per head (n_layer, n_head): mean attention that a token in the second half of a ``repeated_tokens``
    probe pays to the token *after* its earlier occurrence (position ``t - half + 1``), the signature
    of an induction head. Uniform causal attention would score about ``1 / t``."""
    T = patterns.shape[-1]
    if T != 2 * half:
        raise ValueError(f"patterns cover {T} positions, not 2 * half = {2 * half}: pass the probe's half")
    t = torch.arange(half, T)
    return patterns[..., t, t - half + 1].mean(dim=(1, -1))


def previous_token_scores(patterns: torch.Tensor) -> torch.Tensor:
    """Per head (n_layer, n_head): mean attention from each position to the one just before it."""
    t = torch.arange(1, patterns.shape[-1])
    return patterns[..., t, t - 1].mean(dim=(1, -1))


@torch.no_grad()
def induction_scores(model: GPT, half: int, n: int = 200, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """Per head (n_layer, n_head): how much attention the repeat *causes*, and at which distance.

    For every distance ``o``, compare the mean attention from the second half of ``repeated_tokens`` probes
    to position ``t - o`` with the same on probes whose second half is fresh random tokens. A head that
    attends by position (a previous-token head, say) does the same on both and scores about 0; a head that
    looks for an earlier match of the current context scores up to 1. Olsson et al.'s induction head attends
    at distance ``half - 1`` (the token after the earlier copy); a circuit whose first-layer head looks
    further back than one token moves that distance. Returns ``(score, distance)``, both (n_layer, n_head).
    """
    rep = repeated_tokens(n, half, model.cfg.vocab_size, seed=seed)
    fresh = rep.clone()
    fresh[:, half:] = torch.randint(
        0, model.cfg.vocab_size, (n, half), generator=torch.Generator().manual_seed(seed + 1)
    )
    t = torch.arange(half, 2 * half)
    p_rep, p_fresh = attention_patterns(model, rep), attention_patterns(model, fresh)
    gains = []
    for o in range(1, half + 1):
        a_rep = p_rep[..., t, t - o].mean(dim=(1, -1))
        a_fresh = p_fresh[..., t, t - o].mean(dim=(1, -1))
        gains.append(a_rep - a_fresh)
    gains = torch.stack(gains, dim=-1)  # (n_layer, n_head, half)
    score, best = gains.max(dim=-1)
    return score, best + 1


@torch.no_grad()
def copying_scores(model: GPT) -> torch.Tensor:
    """Per head (n_layer, n_head): Olsson et al.'s copying score of the head's OV circuit, read from
    token embedding to logits, ``W_U W_O^h W_V^h W_E`` (a vocab x vocab matrix; LayerNorm gains folded
    in, their centring and scaling ignored). The score is ``sum(eigenvalues) / sum(|eigenvalues|)``:
    +1 for a head that raises the logit of whatever token it attends to, -1 for one that lowers it."""
    cfg = model.cfg
    W_E = model.tok_emb.weight  # (V, C)
    W_U = model.head.weight * model.ln_f.weight  # (V, C): logits = W_U @ ln_f(x)
    scores = torch.zeros(cfg.n_layer, cfg.n_head)
    for layer, block in enumerate(model.blocks):
        for h in range(cfg.n_head):
            W_V, W_O = block.attn.ov_weights(h)  # (head_dim, C), (C, head_dim)
            M = W_U @ W_O @ (W_V * block.ln1.weight) @ W_E.T  # (V, V): token attended to -> logits
            eig = torch.linalg.eigvals(M.double())
            scores[layer, h] = float(eig.real.sum() / eig.abs().sum())
    return scores


@torch.no_grad()
def ablation_scores(model: GPT, seqs: torch.Tensor) -> torch.Tensor:
    """Per head (n_layer, n_head): how much the loss on the second half of ``repeated_tokens`` probes
    ``seqs`` rises (nats/token) when that one head's output is zeroed. A head the model needs for
    predicting the repeat, whatever its exact attention pattern, scores high."""
    half = seqs.shape[1] // 2
    base = float(token_losses(model, seqs)[half:].mean())
    out = torch.zeros(model.cfg.n_layer, model.cfg.n_head)
    for layer, block in enumerate(model.blocks):
        for h in range(model.cfg.n_head):
            with block.attn.ablated(h):
                out[layer, h] = float(token_losses(model, seqs)[half:].mean()) - base
    return out


def head_report(model: GPT, n: int = 200, seed: int = 7, half: int = PROBE_HALF) -> dict:
    """Per-head scores on ``repeated_tokens`` probes of ``2 * half`` tokens (lists of n_layer lists of n_head
    floats): prefix matching, previous-token attention, copying and ablation, induction score and distance,
    plus the per-position loss and the ICL score (loss at the last probe position minus loss at position 1)."""
    seqs = repeated_tokens(n, half, model.cfg.vocab_size, seed=seed)
    pats = attention_patterns(model, seqs)
    losses = token_losses(model, seqs)
    score, distance = induction_scores(model, half)
    return {
        "prefix_matching": prefix_matching_scores(pats, half).tolist(),
        "previous_token": previous_token_scores(pats).tolist(),
        "copying": copying_scores(model).tolist(),
        "ablation": ablation_scores(model, seqs).tolist(),
        "induction": score.tolist(),
        "induction_distance": distance.tolist(),
        "position_loss": losses.tolist(),
        "icl_score": icl_score(losses, 1, len(losses) - 1),
    }
