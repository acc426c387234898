"""A small decoder-only transformer (GPT), written to be read top to bottom.

The layout follows nanoGPT's ``model.py``: token + position embeddings, a stack of pre-LayerNorm
blocks (causal self-attention, then an MLP, each wrapped in a residual connection), a final
LayerNorm and a linear head that scores every token of the vocabulary. Two switches matter later
in the course: ``tie_weights`` (share the embedding matrix with the output head) and ``qk_norm``
(LayerNorm on queries and keys, the fix for attention-logit growth in Wortsman et al. 2023). A third,
``mlp=False``, drops the MLPs to give the attention-only transformers in which Olsson et al. (2022)
studied induction heads.

Parameter counts follow Kaplan et al. (2020): ``N`` is the number of *non-embedding* parameters;
token and position embeddings (and an untied output head, which is a vocabulary matrix too) are
counted separately. ``flops_per_token`` gives the training cost per token, ``6 N`` plus the
attention term, which is the ``C ≈ 6ND`` used wherever the course speaks of compute.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import Config


@dataclass(frozen=True)
class GPTConfig(Config):
    """Shape of a GPT. Invalid values raise ``ValueError`` naming the field and the fix."""

    vocab_size: int = 128
    context: int = 64  # the longest sequence the model sees (nanoGPT's block_size)
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    mlp_ratio: int = 4  # hidden width of the MLP is mlp_ratio * d_model
    dropout: float = 0.0
    bias: bool = True  # biases in Linear layers and LayerNorms
    tie_weights: bool = True  # output head shares the token-embedding matrix
    qk_norm: bool = False  # LayerNorm on queries and keys, per head
    mlp: bool = True  # False: an attention-only transformer (no MLP, no second LayerNorm in a block)

    def rules(self):
        for name in ("vocab_size", "context", "n_layer", "n_head", "d_model", "mlp_ratio"):
            yield isinstance(getattr(self, name), int), name, "must be an integer"
        yield self.vocab_size >= 2, "vocab_size", "a language model needs at least 2 tokens"
        yield self.context >= 1, "context", "the context must hold at least 1 token"
        yield self.n_layer >= 1, "n_layer", "use at least 1 layer"
        yield self.n_head >= 1, "n_head", "use at least 1 attention head"
        yield self.d_model >= 1, "d_model", "the width must be positive"
        yield (
            self.d_model % self.n_head == 0,
            "d_model",
            f"must be divisible by n_head={self.n_head}; pick d_model as a multiple of "
            f"{self.n_head} (e.g. {self.n_head * max(1, round(self.d_model / self.n_head))}) or change n_head",
        )
        yield self.mlp_ratio >= 1, "mlp_ratio", "the MLP must be at least as wide as the model"
        yield 0.0 <= self.dropout < 1.0, "dropout", "must lie in [0, 1)"
        yield isinstance(self.mlp, bool), "mlp", "must be True (attention + MLP) or False (attention only)"

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def name(self) -> str:
        """A short name for labels and messages, e.g. ``"2-layer 64-wide GPT"``."""
        return f"{self.n_layer}-layer {self.d_model}-wide GPT"


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t only sees positions <= t."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.q_norm = nn.LayerNorm(cfg.head_dim, bias=cfg.bias) if cfg.qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(cfg.head_dim, bias=cfg.bias) if cfg.qk_norm else nn.Identity()
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values, each ``(B, n_head, T, head_dim)`` (queries and keys normalised when
        ``qk_norm`` is on). Split-then-transpose keeps the backward pass free of an extra gradient copy."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
        return self.q_norm(q), self.k_norm(k), v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.heads(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, T, C)  # re-assemble the heads side by side
        return self.resid_drop(self.proj(y))

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The attention logits ``(B, n_head, T, T)``: q kᵀ / √head_dim, with -inf above the diagonal
        (the causal mask). ``forward`` uses fused attention, which never forms them; this computes them."""
        T = x.shape[1]
        q, k, _ = self.heads(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        return scores.masked_fill(~causal, float("-inf"))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights ``(B, n_head, T, T)``: the softmax of ``scores``."""
        return self.scores(x).softmax(-1)

    def _columns(self, head: int) -> slice:
        """Where head ``head`` sits in the concatenated head outputs that ``proj`` reads."""
        if not 0 <= head < self.n_head:
            raise ValueError(f"head={head}: this layer has heads 0..{self.n_head - 1}")
        return slice(head * self.head_dim, (head + 1) * self.head_dim)

    def ov_weights(self, head: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Head ``head``'s OV circuit: ``W_V`` (head_dim, d_model), the rows of ``qkv`` that make its values,
        and ``W_O`` (d_model, head_dim), the columns of ``proj`` that read its output (views, no biases)."""
        C, cols = self.proj.in_features, self._columns(head)
        return self.qkv.weight[2 * C :][cols], self.proj.weight[:, cols]

    @contextmanager
    def ablated(self, head: int) -> Iterator[None]:
        """Inside ``with attn.ablated(head):`` that head's output is zeroed before ``proj`` (a head ablation)."""
        cols = self._columns(head)

        def zero_head(module, args):
            y = args[0].clone()
            y[..., cols] = 0
            return (y,)

        hook = self.proj.register_forward_pre_hook(zero_head)
        try:
            yield
        finally:
            hook.remove()


class MLP(nn.Module):
    """Position-wise feed-forward network: widen, GELU, project back."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model, bias=cfg.bias)
        self.proj = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """One transformer layer, pre-LayerNorm: x + attn(ln(x)), then x + mlp(ln(x)) (skipped when
    ``cfg.mlp`` is False, which leaves an attention-only layer)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias) if cfg.mlp else None
        self.mlp = MLP(cfg) if cfg.mlp else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        if self.mlp is None:
            return x
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Decoder-only language model: token ids (B, T) -> next-token logits (B, T, vocab)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.context, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        # GPT-2's scaled init: residual projections shrink with depth so the stream stays O(1)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token plus position embeddings of ``idx`` (B, T): the residual stream entering the first block."""
        T = idx.shape[1]
        if T > self.cfg.context:
            raise ValueError(
                f"sequence of length {T} is longer than the model's context={self.cfg.context}; "
                "crop the input (generate() does this for you) or build a model with a longer context"
            )
        pos = torch.arange(T, device=idx.device)
        return self.drop(self.tok_emb(idx) + self.pos_emb(pos))

    def hidden_states(self, idx: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm's output ``(B, T, d_model)``: what the head reads (a reward model's input too)."""
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    @torch.no_grad()
    def attention_weights(self, idx: torch.Tensor) -> torch.Tensor:
        """Every head's attention weights on ``idx`` (B, T), in eval mode: ``(n_layer, B, n_head, T, T)``."""
        was = self.training
        self.eval()
        try:
            x, out = self.embed(idx), []
            for block in self.blocks:
                out.append(block.attn.weights(block.ln1(x)))
                x = block(x)
        finally:
            self.train(was)
        return torch.stack(out)

    @torch.no_grad()
    def logit_stats(self, idx: torch.Tensor) -> dict[str, list[float] | float]:
        """What grows when a run turns unstable (Wortsman et al. 2023), measured on ``idx`` (B, T) in eval
        mode: ``attn_logit_max``, the largest |attention logit| of each layer (the causal part only), and
        ``log_z_mean`` / ``log_z_max``, the mean and largest |log Z| of the output softmax, where
        log Z = logsumexp of a position's logits."""
        was = self.training
        self.eval()
        try:
            x, attn = self.embed(idx), []
            for block in self.blocks:
                s = block.attn.scores(block.ln1(x))
                attn.append(s.masked_fill(s.isinf(), 0.0).abs().max().item())
                x = block(x)
            log_z = torch.logsumexp(self.head(self.ln_f(x)), dim=-1).abs()
        finally:
            self.train(was)
        return {"attn_logit_max": attn, "log_z_mean": log_z.mean().item(), "log_z_max": log_z.max().item()}

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Return ``(logits, loss)``; ``loss`` is the mean next-token cross-entropy in nats,
        or ``None`` when no targets are given."""
        logits = self.head(self.hidden_states(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def param_counts(self) -> dict[str, int]:
        """Parameters by kind: ``embedding`` (token + position, plus an untied head),
        ``non_embedding`` (Kaplan's N) and ``total``. Shared tensors are counted once."""
        seen, emb, total = set(), 0, 0
        emb_tensors = {id(self.tok_emb.weight), id(self.pos_emb.weight), id(self.head.weight)}
        for p in self.parameters():  # parameters() already yields a tied tensor only once
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            emb += p.numel() if id(p) in emb_tensors else 0
        return {"embedding": emb, "non_embedding": total - emb, "total": total}


def non_embedding_params(cfg: GPTConfig) -> int:
    """Kaplan's N from the config alone: ``12 * n_layer * d_model**2`` plus biases and LayerNorms.

    The leading term is what Kaplan et al. write as ``N ≈ 12 n_layer d_model²`` (with the MLP 4×
    wide); the exact count below matches ``GPT(cfg).param_counts()['non_embedding']``.
    """
    d, f = cfg.d_model, cfg.mlp_ratio * cfg.d_model
    ln = 2 * d if cfg.bias else d  # weight (+ bias) of one LayerNorm
    ln_head = 2 * cfg.head_dim if cfg.bias else cfg.head_dim
    attn = 4 * d * d + (4 * d if cfg.bias else 0) + (2 * ln_head if cfg.qk_norm else 0)
    mlp = (2 * d * f + (f + d if cfg.bias else 0) + ln) if cfg.mlp else 0  # the MLP and the LayerNorm before it
    return cfg.n_layer * (attn + mlp + ln) + ln


def flops_per_token(cfg: GPTConfig, *, attention: bool = True, head: bool = False) -> int:
    """Training FLOPs per token (forward + backward), after Kaplan et al. (2020), Table 1.

    ``6 N`` for the weight matmuls (2 in the forward pass, 4 in the backward), plus
    ``6 n_layer context d_model`` for the attention scores and their weighted sum when
    ``attention`` is set, plus ``6 d_model vocab_size`` for the output head when ``head`` is set
    (Kaplan leave it out; Porian et al. 2024 argue it matters at small scale).
    Multiply by the number of training tokens D to get the run's compute C.
    """
    f = 6 * non_embedding_params(cfg)
    if attention:
        f += 6 * cfg.n_layer * cfg.context * cfg.d_model
    if head:
        f += 6 * cfg.d_model * cfg.vocab_size
    return f
