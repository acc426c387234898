"""Policies and scorers over a preference world's responses, and how far a policy has moved.

- ``prompt``: the newline every response starts after;
- ``ScalarModel``: a GPT body with a scalar head (reward model, 奖励模型; or value model, 价值模型);
- ``sample`` (responses from a policy) and ``response_logprobs`` (their per-token log-probabilities);
- ``kl_k1`` and ``kl_k3``: two estimators of KL(π ‖ π_ref) from samples of π (Schulman's k1 and k3);
- ``evaluate_policy``: proxy reward, gold reward and KL to the SFT policy of fresh samples.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..generate import generate
from ..model import GPT, GPTConfig
from .world import PreferenceWorld


def prompt(n: int, device=None) -> torch.Tensor:
    """``n`` prompts ``(n, 1)``: id 0, the newline that starts a response."""
    return torch.zeros(n, 1, dtype=torch.long, device=device)


class ScalarModel(nn.Module):
    """A GPT body with a scalar head: one number per position. As a **reward model** its score of a
    response is the number at the last position; as a **value model** each position's number estimates
    the return from there. ``offset`` and ``scale`` (buffers) standardise scores, set by ``normalise``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.body = GPT(cfg)
        self.head = nn.Linear(cfg.d_model, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("offset", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    @classmethod
    def from_lm(cls, lm: GPT) -> ScalarModel:
        """A scalar model whose body starts from ``lm``'s weights (InstructGPT starts its reward model from
        the SFT model)."""
        m = cls(lm.cfg)
        m.body.load_state_dict(lm.state_dict())
        return m

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, T)`` for token ids ``(B, T)``."""
        return (self.head(self.body.hidden_states(idx)).squeeze(-1) - self.offset) / self.scale

    def score(self, responses: torch.Tensor) -> torch.Tensor:
        """The reward of each response ``(B, length)``: the score after the newline and the whole response."""
        seq = torch.cat([prompt(len(responses), responses.device), responses], dim=1)
        return self(seq)[:, -1]

    @torch.no_grad()
    def normalise(self, responses: torch.Tensor) -> None:
        """Shift and scale scores so that ``responses`` (e.g. SFT samples) score mean 0, std 1."""
        self.offset.zero_(), self.scale.fill_(1.0)
        r = self.score(responses)
        self.offset.fill_(float(r.mean())), self.scale.fill_(float(r.std().clamp_min(1e-6)))


@torch.no_grad()
def sample(policy: GPT, n: int, length: int, seed: int = 0, batch: int = 4096) -> torch.Tensor:
    """``n`` responses ``(n, length)`` sampled from ``policy`` at temperature 1 after the newline prompt."""
    if n < 1:
        raise ValueError(f"n={n}: sample at least one response")
    gen = torch.Generator().manual_seed(seed)
    device = next(policy.parameters()).device
    out = [
        generate(policy, prompt(min(batch, n - i), device), length, generator=gen)[:, 1:] for i in range(0, n, batch)
    ]
    return torch.cat(out).cpu()


def response_logprobs(model: GPT, responses: torch.Tensor) -> torch.Tensor:
    """Per-token log-probabilities ``(B, length)`` that ``model`` gives ``responses`` after the newline."""
    seq = torch.cat([prompt(len(responses), responses.device), responses], dim=1)
    logits, _ = model(seq[:, :-1])
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, responses[..., None]).squeeze(-1)


def _check_logps(logp: torch.Tensor, logp_ref: torch.Tensor) -> None:
    if logp.shape != logp_ref.shape:
        raise ValueError(f"logp {tuple(logp.shape)} and logp_ref {tuple(logp_ref.shape)} must match")


def kl_k1(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """The plain KL estimator: for responses sampled from the policy, log π − log π_ref summed over tokens.
    Unbiased for KL(π ‖ π_ref) but noisy (single samples can be negative). Shapes ``(B, T)`` -> ``(B,)``."""
    _check_logps(logp, logp_ref)
    return (logp - logp_ref).sum(-1)


def kl_k3(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """Schulman's low-variance estimator, per token (r − 1) − log r with r = π_ref / π: unbiased, never
    negative, and of lower variance than ``kl_k1`` when π is close to π_ref. Shapes ``(B, T)`` -> ``(B,)``."""
    _check_logps(logp, logp_ref)
    log_r = logp_ref - logp
    return (torch.expm1(log_r) - log_r).sum(-1)


@torch.no_grad()
def evaluate_policy(policy: GPT, sft: GPT, rm: ScalarModel, world: PreferenceWorld, n: int = 512, seed: int = 1):
    """Mean proxy reward, gold reward and KL(π ‖ π_SFT) (k1 estimate, nats) of ``n`` fresh samples."""
    ids = sample(policy, n, world.length, seed=seed).to(next(policy.parameters()).device)
    kl = kl_k1(response_logprobs(policy, ids), response_logprobs(sft, ids))
    return {
        "proxy": float(rm.score(ids).mean()),
        "gold": float(world.gold(ids.cpu()).mean()),
        "kl": float(kl.mean()),
    }
