"""In-context learning (上下文学习) at toy scale: the worlds, models, baselines and scores of chapter 7.

Three experiments, each a small world a tiny transformer can master on a CPU:

- **Induction heads** (Olsson et al. 2022). ``RepeatData`` documents are random tokens built from a few
  random segments that recur at irregular places, and ``repeat_corpus`` streams them for
  ``helpers.train.train``; ``repeated_tokens`` makes probes (random tokens, then the same tokens again).
  ``attention_patterns`` recomputes every head's attention weights from hooks (the model's own forward
  pass uses fused SDPA, which returns none); ``prefix_matching_scores``, ``previous_token_scores``,
  ``induction_scores``, ``copying_scores`` and ``ablation_scores`` say what each head does, ``icl_score``
  what the model gains from context; ``induction_run`` trains one model and reports all of it.
- **In-context linear regression** (Garg et al. 2022). ``RegressionTransformer`` reads a prompt
  ``x_1, y_1, ..., x_k, y_k, x_query`` through a linear read-in, runs ``helpers.model.Block`` layers and
  reads a scalar out; ``train_regression`` trains it (cached). ``least_squares``, ``ridge``,
  ``nearest_neighbours`` and ``averaging`` are the baselines; ``regression_errors`` scores any of them
  against the number of in-context examples.
- **Few-shot prompting** (Brown et al. 2020; Chan et al. 2022). ``RuleWorld`` is a family of hidden
  rules on letters; ``RuleWorld.corpus`` writes documents of ``input>output`` pairs, *bursty* (one rule
  per document, so the demonstrations say which rule the query follows) or not (a fresh rule per pair,
  so they say nothing); ``few_shot_accuracy`` prompts a trained LM with k demonstrations;
  ``RuleWorld.bayes_accuracy`` is the best any learner can do.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .cache import ResultCache, cached_call, code_version
from .data import Corpus, sha256_bytes
from .model import GPT, Block, GPTConfig
from .tokenizer import CharTokenizer
from .train import TrainConfig, lr_at, make_optimizer, seed_everything, select_device, train

# ============================================================================ induction heads


class SymbolTokenizer:
    """A vocabulary of ``n`` abstract symbols, shown as ``s0, s1, ...`` (the tokens carry no meaning)."""

    kind = "symbol"

    def __init__(self, n: int):
        if not (isinstance(n, int) and n >= 2):
            raise ValueError(f"n={n!r}: a vocabulary needs at least 2 symbols")
        self.vocab_size = n

    def encode(self, symbols) -> list[int]:
        """Symbol names (``"s3"``) to ids."""
        ids = [int(s[1:]) if isinstance(s, str) and s[:1] == "s" and s[1:].isdigit() else -1 for s in symbols]
        bad = [s for s, i in zip(symbols, ids) if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a symbol of this vocabulary (s0..s{self.vocab_size - 1})")
        return ids

    def decode(self, ids) -> str:
        """Ids to a space-separated string of symbol names."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return " ".join(f"s{i}" for i in ids)

    def __repr__(self) -> str:
        return f"SymbolTokenizer(vocab_size={self.vocab_size})"


@dataclass
class RepeatData:
    """Documents of random tokens built from a few random segments that recur. Each document draws
    ``segments`` segments of random tokens, with lengths in ``[min_repeat, max_repeat]``, and writes
    ``length`` tokens: at each step either one fresh random token (probability ``filler``) or a whole
    segment picked at random. A segment comes back at irregular distances and no position or offset
    predicts where, so the one rule that predicts a recurring segment is *find the earlier occurrence of
    the current token and copy what came after it*: induction."""

    vocab_size: int = 64
    length: int = 32
    min_repeat: int = 3
    max_repeat: int = 8
    segments: int = 3
    filler: float = 0.3
    docs: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValueError(f"RepeatData.{name}={getattr(self, name)!r}: {message}")

        need(self.vocab_size >= 2, "vocab_size", "needs at least 2 tokens")
        need(self.min_repeat >= 2, "min_repeat", "a segment needs at least 2 tokens for one to predict the next")
        need(self.max_repeat >= self.min_repeat, "max_repeat", f"must be >= min_repeat={self.min_repeat}")
        need(
            self.length >= 2 * self.max_repeat,
            "length",
            f"a document must hold two copies of the longest segment ({2 * self.max_repeat} tokens)",
        )
        need(self.segments >= 1, "segments", "a document needs at least one segment to repeat")
        need(0 <= self.filler < 1, "filler", "the chance of a fresh random token must lie in [0, 1)")
        need(self.docs >= 20, "docs", "use at least 20 documents (a tenth goes to validation)")

    def documents(self, n: int, seed: int) -> np.ndarray:
        """``n`` documents, shape ``(n, length)``; ``repeat_mask`` says which tokens an induction head predicts."""
        return self._make(n, seed)[0]

    def _make(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = np.zeros((n, self.length), dtype=np.int64)
        mask = np.zeros((n, self.length), dtype=bool)
        for i in range(n):
            pool = [
                rng.integers(0, self.vocab_size, rng.integers(self.min_repeat, self.max_repeat + 1))
                for _ in range(self.segments)
            ]
            seen, t = set(), 0
            while t < self.length:
                if rng.random() < self.filler:
                    x[i, t] = rng.integers(self.vocab_size)
                    t += 1
                    continue
                j = int(rng.integers(self.segments))
                seg = pool[j][: self.length - t]
                x[i, t : t + len(seg)] = seg
                if j in seen:  # every token of a recurring segment after its first is predictable
                    mask[i, t + 1 : t + len(seg)] = True
                seen.add(j)
                t += len(seg)
        return x, mask

    def repeat_mask(self, n: int, seed: int) -> np.ndarray:
        """Boolean ``(n, length)``: True where a token is predictable from the earlier copy of its segment."""
        return self._make(n, seed)[1]

    def fingerprint(self) -> str:
        """SHA-256 of every field: the corpus part of a training run's cache key."""
        return sha256_bytes(repr(sorted(asdict(self).items())).encode())


def repeat_corpus(data: RepeatData) -> Corpus:
    """A token-stream ``Corpus`` of ``data.docs`` concatenated documents (90% train, 10% validation) for
    ``helpers.train.train``. Training windows start at document starts (``Corpus.align``), one document
    per window when the model's context is ``data.length - 1``."""
    n_val = data.docs // 10
    train = torch.from_numpy(data.documents(data.docs - n_val, data.seed).reshape(-1))
    val = torch.from_numpy(data.documents(n_val, data.seed + 1).reshape(-1))
    # the fingerprint hashes the documents themselves, so a change to how they are generated never reuses a
    # cached run trained on the old ones
    fp = sha256_bytes(data.fingerprint().encode() + train.numpy().tobytes() + val.numpy().tobytes())
    return Corpus("repeats", SymbolTokenizer(data.vocab_size), train, val, fp, align=data.length)


def repeated_tokens(n: int, half: int, vocab_size: int, seed: int = 0) -> torch.Tensor:
    """Probe sequences: ``half`` uniformly random tokens followed by the same ``half`` tokens again,
    shape ``(n, 2 * half)``. In the second half every token after the first is predictable by induction."""
    if half < 2:
        raise ValueError(f"half={half}: use at least 2 tokens per half")
    gen = torch.Generator().manual_seed(seed)
    first = torch.randint(0, vocab_size, (n, half), generator=gen)
    return torch.cat([first, first], dim=1)


@torch.no_grad()
def token_losses(model: GPT, seqs: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy (nats) at every position, averaged over sequences: shape ``(T - 1,)``;
    entry ``t`` is the loss of predicting token ``t + 1`` from tokens ``0..t``."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, _ = model(seqs[:, :-1].to(device))
    loss = F.cross_entropy(logits.transpose(1, 2), seqs[:, 1:].to(device), reduction="none")
    model.train(was)
    return loss.mean(0).cpu()


def icl_score(losses: torch.Tensor, early: int, late: int) -> float:
    """Olsson et al.'s in-context-learning score: loss at a late position minus loss at an early one
    (per-position losses from ``token_losses``; position ``t`` predicts token ``t + 1``). Negative means
    the model predicts better with more context."""
    if not 0 <= early < late < len(losses):
        raise ValueError(f"need 0 <= early={early} < late={late} < {len(losses)} positions")
    return float(losses[late] - losses[early])


class RepeatLossProbe:
    """Training callback (``on_eval``): the loss on the first and on the second half of fixed
    ``repeated_tokens`` probes, recorded at every evaluation, so a run shows *when* it learns to use
    the repeat. ``rows`` holds ``(step, loss_first_half, loss_second_half)``."""

    def __init__(self, seqs: torch.Tensor):
        self.seqs = seqs
        self.half = seqs.shape[1] // 2
        self.rows: list[tuple[int, float, float]] = []

    def measure(self, model: GPT) -> tuple[float, float]:
        """Mean loss predicting the first half (after its first token) and the second half (after its first)."""
        loss = token_losses(model, self.seqs)
        h = self.half
        return float(loss[: h - 1].mean()), float(loss[h:].mean())

    def on_eval(self, trainer) -> None:
        """Record ``measure`` at the trainer's current step."""
        self.rows.append((trainer.step, *self.measure(trainer.model)))


@torch.no_grad()
def attention_patterns(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Every head's attention weights on ``idx`` (B, T): shape ``(n_layer, B, n_head, T, T)``.

    The model's forward pass uses fused scaled-dot-product attention, which returns no weights, so a
    forward hook on each block's first LayerNorm keeps the block's attention input and the weights
    are recomputed from it as softmax(q k^T / sqrt(d_head)) with the causal mask. Only this function
    pays for that; normal forward passes are untouched.
    """
    inputs: list[torch.Tensor] = []
    hooks = [b.ln1.register_forward_hook(lambda m, i, o: inputs.append(o)) for b in model.blocks]
    was = model.training
    model.eval()
    try:
        model(idx.to(next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    out = []
    for block, x in zip(model.blocks, inputs):
        attn = block.attn
        B, T, C = x.shape
        q, k, _ = (t.view(B, T, attn.n_head, attn.head_dim).transpose(1, 2) for t in attn.qkv(x).split(C, dim=2))
        q, k = attn.q_norm(q), attn.k_norm(k)
        scores = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dim)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        out.append(scores.masked_fill(~causal, float("-inf")).softmax(-1))
    return torch.stack(out).cpu()


def prefix_matching_scores(patterns: torch.Tensor, half: int) -> torch.Tensor:
    """Per head (n_layer, n_head): mean attention that a token in the second half of a ``repeated_tokens``
    probe pays to the token *after* its earlier occurrence (position ``t - half + 1``), the signature
    of an induction head. Uniform causal attention would score about ``1 / t``."""
    T = patterns.shape[-1]
    if T != 2 * half:
        raise ValueError(f"patterns cover {T} positions, not 2 * half = {2 * half}: pass the probe's half")
    t = torch.arange(half, T)
    return patterns[..., t, t - half + 1].mean(dim=(1, -1))


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


def previous_token_scores(patterns: torch.Tensor) -> torch.Tensor:
    """Per head (n_layer, n_head): mean attention from each position to the one just before it."""
    t = torch.arange(1, patterns.shape[-1])
    return patterns[..., t, t - 1].mean(dim=(1, -1))


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
        C, hd = cfg.d_model, cfg.head_dim
        W_V = block.attn.qkv.weight[2 * C :] * block.ln1.weight  # (C, C): v = W_V @ ln1(x)
        W_O = block.attn.proj.weight  # (C, C)
        for h in range(cfg.n_head):
            s = slice(h * hd, (h + 1) * hd)
            M = W_U @ W_O[:, s] @ W_V[s] @ W_E.T  # (V, V): token attended to -> logits
            eig = torch.linalg.eigvals(M.double())
            scores[layer, h] = float(eig.real.sum() / eig.abs().sum())
    return scores


def induction_configs(
    n_layer: int, steps: int = 4000, seed: int = 0, vocab_size: int = 64, lr: float = 3e-3, n_head: int = 4
) -> tuple[RepeatData, GPTConfig, TrainConfig]:
    """Chapter 7's induction-head run: an attention-only GPT (``n_layer`` layers, width 64, 4 heads) on
    ``RepeatData()`` documents, one per window, batches of 32, a constant learning rate of 3e-3 after a
    100-step warmup (the transition comes late in the run, so a decaying schedule would slow it down),
    evaluated every ``steps // 40`` steps."""
    data = RepeatData(vocab_size=vocab_size, seed=seed)
    model = GPTConfig(
        vocab_size=data.vocab_size, context=data.length - 1, n_layer=n_layer, n_head=n_head, d_model=64, mlp=False
    )
    train_cfg = TrainConfig(
        steps=steps,
        batch_size=32,
        lr=lr,
        min_lr_ratio=1.0,
        warmup_steps=min(100, steps // 10),
        eval_every=max(1, steps // 40),
        eval_batches=2,
        seed=seed,
    )
    return data, model, train_cfg


PROBE_HALF = 12  # repeated_tokens probes: 12 random tokens, then the same 12 (24 positions, inside the context)


@torch.no_grad()
def ablation_scores(model: GPT, seqs: torch.Tensor) -> torch.Tensor:
    """Per head (n_layer, n_head): how much the loss on the second half of ``repeated_tokens`` probes
    ``seqs`` rises (nats/token) when that one head's output is zeroed. A head the model needs for
    predicting the repeat, whatever its exact attention pattern, scores high."""
    half = seqs.shape[1] // 2
    base = float(token_losses(model, seqs)[half:].mean())
    cfg = model.cfg
    out = torch.zeros(cfg.n_layer, cfg.n_head)
    for layer, block in enumerate(model.blocks):
        for h in range(cfg.n_head):
            cols = slice(h * cfg.head_dim, (h + 1) * cfg.head_dim)

            def zero_head(module, args, cols=cols):
                y = args[0].clone()
                y[..., cols] = 0
                return (y,)

            hook = block.attn.proj.register_forward_pre_hook(zero_head)
            try:
                out[layer, h] = float(token_losses(model, seqs)[half:].mean()) - base
            finally:
                hook.remove()
    return out


def head_report(model: GPT, n: int = 200, seed: int = 7) -> dict:
    """Per-head scores on ``repeated_tokens`` probes (lists of n_layer lists of n_head floats): prefix
    matching, previous-token attention, copying and ablation, plus the per-position loss and the ICL score
    (loss at the last probe position minus loss at position 1)."""
    seqs = repeated_tokens(n, PROBE_HALF, model.cfg.vocab_size, seed=seed)
    pats = attention_patterns(model, seqs)
    losses = token_losses(model, seqs)
    return {
        "prefix_matching": prefix_matching_scores(pats, PROBE_HALF).tolist(),
        "previous_token": previous_token_scores(pats).tolist(),
        "copying": copying_scores(model).tolist(),
        "ablation": ablation_scores(model, seqs).tolist(),
        **dict(zip(("induction", "induction_distance"), (v.tolist() for v in induction_scores(model, PROBE_HALF)))),
        "position_loss": losses.tolist(),
        "icl_score": icl_score(losses, 1, len(losses) - 1),
    }


def induction_run(
    n_layer: int,
    steps: int = 4000,
    seed: int = 0,
    vocab_size: int = 64,
    lr: float = 3e-3,
    n_head: int = 4,
    device: str = "auto",
    progress: bool = False,
) -> dict:
    """Train chapter 7's induction-head model (``induction_configs``) and report the loss on the two
    halves of fixed repeated-token probes along the run plus ``head_report`` at the end. The return
    value is a ``helpers.sweep`` runner's: ``{"metrics", "seconds", "steps", "params", "final_val", ...}``."""
    data, model_cfg, train_cfg = induction_configs(n_layer, steps, seed, vocab_size, lr, n_head)
    train_cfg.device, train_cfg.progress = device, progress
    probe = RepeatLossProbe(repeated_tokens(64, PROBE_HALF, data.vocab_size, seed=3))
    result = train(model_cfg, train_cfg, repeat_corpus(data), callbacks=[probe])
    report = head_report(result.model)
    # every head's attention on one probe, for the chapter's heat maps (n_layer x n_head x 24 x 24)
    pattern = attention_patterns(result.model, repeated_tokens(1, PROBE_HALF, data.vocab_size, seed=11))[:, 0]
    steps_, first, second = (list(v) for v in zip(*probe.rows))
    metrics = {
        "probe_step": steps_,
        "probe_first": [round(v, 4) for v in first],
        "probe_second": [round(v, 4) for v in second],
        **{k: np.round(np.asarray(v), 4).tolist() for k, v in report.items() if k != "icl_score"},
        "icl_score": round(report["icl_score"], 4),
        "pattern": np.round(pattern.numpy(), 3).tolist(),
    }
    h = result.history
    return {
        "metrics": metrics,
        "seconds": h.seconds,
        "steps": steps,
        "params": result.model.param_counts()["non_embedding"],
        "final_val": h.final_val,
        "final_train": h.eval_train[-1],
        "curve": {"step": h.eval_step, "val": [round(v, 5) for v in h.eval_val]},
    }


# ============================================================================ in-context linear regression


def sample_regression(
    batch: int, n_points: int, dim: int, gen: torch.Generator, active: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Garg et al.'s prompts: ``xs`` (batch, n_points, dim) with x ~ N(0, I) and ``ys = xs @ w`` with
    one w ~ N(0, I) per prompt (no noise). With ``active`` < dim only the first ``active`` coordinates of
    x are non-zero (the curriculum's easier problems)."""
    xs = torch.randn(batch, n_points, dim, generator=gen)
    w = torch.randn(batch, dim, 1, generator=gen)
    if active is not None and active < dim:
        xs[..., active:] = 0
    return xs, (xs @ w).squeeze(-1)


def active_dim(step: int, cfg: RegressionConfig) -> int:
    """The dimension in use at ``step``: 1 at the start of the curriculum, growing evenly to ``cfg.dim`` at
    step ``cfg.curriculum`` (always ``cfg.dim`` without a curriculum)."""
    if cfg.curriculum == 0:
        return cfg.dim
    return min(cfg.dim, 1 + (cfg.dim * step) // cfg.curriculum)


def _check_prompt(xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor) -> None:
    if xs.dim() != 3 or ys.shape != xs.shape[:2] or xq.shape != (xs.shape[0], xs.shape[2]):
        raise ValueError(
            f"expected xs (B, k, d), ys (B, k), x_query (B, d); got {tuple(xs.shape)}, {tuple(ys.shape)}, "
            f"{tuple(xq.shape)}"
        )


def least_squares(xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    """Predict y at ``xq`` from the k examples by minimum-norm least squares (the pseudo-inverse), which
    for w ~ N(0, I) and noiseless y is the Bayes-optimal prediction at every k. k = 0 predicts 0."""
    _check_prompt(xs, ys, xq)
    if xs.shape[1] == 0:
        return torch.zeros(xs.shape[0])
    w = torch.linalg.pinv(xs.double()) @ ys.double().unsqueeze(-1)  # (B, d, 1)
    return (xq.double().unsqueeze(1) @ w).flatten().to(xs.dtype)


def ridge(xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor, lam: float = 0.1) -> torch.Tensor:
    """Ridge regression, w = (X^T X + lam I)^-1 X^T y, then predict at ``xq``. k = 0 predicts 0."""
    _check_prompt(xs, ys, xq)
    if lam <= 0:
        raise ValueError(f"lam={lam}: ridge needs a positive penalty (lam -> 0 is least_squares)")
    X, y = xs.double(), ys.double().unsqueeze(-1)
    eye = torch.eye(X.shape[-1], dtype=X.dtype)
    w = torch.linalg.solve(X.transpose(1, 2) @ X + lam * eye, X.transpose(1, 2) @ y)
    return (xq.double().unsqueeze(1) @ w).flatten().to(xs.dtype)


def nearest_neighbours(xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Mean y of the ``k`` examples nearest to ``xq`` (fewer when fewer are there). No examples: 0."""
    _check_prompt(xs, ys, xq)
    if k < 1:
        raise ValueError(f"k={k}: use at least one neighbour")
    n = xs.shape[1]
    if n == 0:
        return torch.zeros(xs.shape[0])
    dist = (xs - xq.unsqueeze(1)).norm(dim=-1)  # (B, n)
    nearest = dist.topk(min(k, n), dim=1, largest=False).indices
    return ys.gather(1, nearest).mean(1)


def averaging(xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    """Garg et al.'s averaging estimator: w = mean_i(y_i x_i), then predict at ``xq`` (0 with no examples).
    It is unbiased for x ~ N(0, I) but never stops being noisy, so its error falls slowly with k."""
    _check_prompt(xs, ys, xq)
    if xs.shape[1] == 0:
        return torch.zeros(xs.shape[0])
    w = (ys.unsqueeze(-1) * xs).mean(1)
    return (w * xq).sum(-1)


BASELINES = {
    "least squares": least_squares,
    "ridge (λ=0.1)": ridge,
    "3-nearest neighbours": nearest_neighbours,
    "averaging": averaging,
}


@dataclass
class RegressionConfig:
    """A transformer trained on in-context linear regression prompts. Invalid values raise ``ValueError``."""

    dim: int = 4  # d, the dimension of x
    n_points: int = 9  # (x, y) pairs per prompt; the model predicts every y from the pairs before it
    n_layer: int = 3
    n_head: int = 4
    d_model: int = 64
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 100
    curriculum: int = 0  # Garg et al.'s curriculum: the dimension in use grows from 1 to dim over this many steps
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValueError(f"RegressionConfig.{name}={getattr(self, name)!r}: {message}")

        need(0 <= self.curriculum <= self.steps, "curriculum", f"must lie in [0, steps={self.steps}] (0 turns it off)")

        need(self.dim >= 1, "dim", "x needs at least one dimension")
        need(self.n_points >= 2, "n_points", "a prompt needs at least 2 pairs (one to learn from, one to predict)")
        # the model and schedule configs validate the rest, naming their own fields
        self.gpt_config(), self.train_config()

    def gpt_config(self) -> GPTConfig:
        """The ``GPTConfig`` of the blocks: a context of two tokens per pair (an x token, then a y token)."""
        return GPTConfig(
            vocab_size=2, context=2 * self.n_points, n_layer=self.n_layer, n_head=self.n_head, d_model=self.d_model
        )

    def train_config(self) -> TrainConfig:
        """The optimiser and schedule fields as a ``TrainConfig`` (for ``make_optimizer`` and ``lr_at``)."""
        return TrainConfig(
            steps=self.steps, batch_size=self.batch_size, lr=self.lr, warmup_steps=self.warmup_steps, seed=self.seed
        )


class RegressionTransformer(nn.Module):
    """Garg et al.'s model: the prompt ``x_1, y_1, ..., x_k, y_k`` becomes 2k tokens, a linear read-in maps
    each to ``d_model``, learned positions are added, ``helpers.model.Block`` layers run causally, and a linear
    read-out at every x token predicts the y that follows it, from the pairs before it only.

    An x token is ``[x, 0]``; unlike Garg et al.'s ``[y, 0, ..., 0]``, a y token is the whole pair ``[x, y]``.
    With y alone, LayerNorm (which divides each token by its size) keeps little more than the sign of y, and
    the model must first move each x next to its y with an extra attention step; a tiny model trained for a
    few thousand steps stalls on that (it learned only to echo the first example)."""

    def __init__(self, cfg: RegressionConfig):
        super().__init__()
        self.cfg = cfg
        gcfg = cfg.gpt_config()
        self.read_in = nn.Linear(cfg.dim + 1, cfg.d_model)
        self.pos_emb = nn.Embedding(gcfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(Block(gcfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.read_out = nn.Linear(cfg.d_model, 1)
        self.apply(GPT._init_weights)

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """``xs`` (B, k, d), ``ys`` (B, k) -> predictions (B, k), entry i made before seeing ``ys[:, i]``."""
        B, k, d = xs.shape
        if d != self.cfg.dim or k > self.cfg.n_points:
            raise ValueError(
                f"got {k} points of dimension {d}; this model takes up to {self.cfg.n_points} of {self.cfg.dim}"
            )
        x_tok = torch.cat([xs, xs.new_zeros(B, k, 1)], dim=-1)
        y_tok = torch.cat([xs, ys.unsqueeze(-1)], dim=-1)
        tokens = torch.stack([x_tok, y_tok], dim=2).reshape(B, 2 * k, d + 1)  # x1, y1, x2, y2, ...
        h = self.read_in(tokens) + self.pos_emb(torch.arange(2 * k, device=xs.device))
        for block in self.blocks:
            h = block(h)
        return self.read_out(self.ln_f(h))[:, 0::2, 0]  # the outputs at the x tokens

    @torch.no_grad()
    def predict(self, xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
        """Baseline-style call: predict y at ``xq`` (B, d) from the examples ``xs``, ``ys``."""
        _check_prompt(xs, ys, xq)
        full_x = torch.cat([xs, xq.unsqueeze(1)], dim=1)
        full_y = torch.cat([ys, ys.new_zeros(ys.shape[0], 1)], dim=1)
        was = self.training
        self.eval()
        out = self(full_x, full_y)[:, -1]
        self.train(was)
        return out


@dataclass
class RegressionResult:
    """What ``train_regression`` returns: the trained model (in eval mode), its per-step losses and time."""

    model: RegressionTransformer
    losses: list[float] = field(default_factory=list)  # training MSE per step (mean over positions)
    seconds: float = 0.0
    cached: bool = False


def train_regression(
    cfg: RegressionConfig, *, cache: bool | ResultCache = True, progress: bool = True
) -> RegressionResult:
    """Train a ``RegressionTransformer`` on fresh prompts every step (MSE on every y, AdamW, warmup +
    cosine from ``helpers.train``). Cached like ``helpers.train.train``: same config and code, no retraining."""
    device = select_device()
    what = {"regression": asdict(cfg), "device": device.type}

    def compute() -> dict:
        import time

        seed_everything(cfg.seed)
        model = RegressionTransformer(cfg).to(device)
        tcfg = cfg.train_config()
        opt = make_optimizer(model, tcfg)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses = []
        t0 = time.perf_counter()
        for step in tqdm(range(cfg.steps), desc="training", unit="step", mininterval=0.5, disable=not progress):
            for group in opt.param_groups:
                group["lr"] = lr_at(step, tcfg)
            xs, ys = sample_regression(cfg.batch_size, cfg.n_points, cfg.dim, gen, active_dim(step, cfg))
            loss = F.mse_loss(model(xs.to(device), ys.to(device)), ys.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            losses.append(loss.detach())
        seconds = time.perf_counter() - t0
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return {"state": state, "losses": torch.stack(losses).cpu().tolist(), "seconds": seconds}

    # the regression model and its data are defined here, so this module's code is part of the cache key
    payload, hit = cached_call(what, compute, cache, code_version("icl.py"))
    model = RegressionTransformer(cfg)
    model.load_state_dict(payload["state"])
    return RegressionResult(model.eval(), payload["losses"], payload["seconds"], hit)


def regression_errors(predict, dim: int, n_points: int, n_prompts: int = 2000, seed: int = 1) -> np.ndarray:
    """Squared error of ``predict(xs, ys, x_query)`` divided by ``dim`` (Garg et al.'s normalisation, so
    predicting 0 scores 1), averaged over ``n_prompts`` fresh prompts, for k = 0 .. n_points - 1 in-context
    examples: an array of length ``n_points``. Every predictor sees the same prompts for a given seed."""
    gen = torch.Generator().manual_seed(seed)
    xs, ys = sample_regression(n_prompts, n_points, dim, gen)
    errors = []
    for k in range(n_points):
        pred = predict(xs[:, :k], ys[:, :k], xs[:, k])
        errors.append(float(((pred - ys[:, k]) ** 2).mean()) / dim)
    return np.array(errors)


def regression_run(device: str = "auto", **config) -> dict:
    """A ``helpers.sweep`` runner: train ``RegressionConfig(**config)`` and return the model's normalised
    squared error for every number of in-context examples beside the baselines' (``regression_errors``
    on the same 2,000 prompts), as ``{"metrics": {"model": [...], "least squares": [...], ...}, ...}``."""
    cfg = RegressionConfig(**config)
    result = train_regression(cfg, cache=False, progress=False)
    curves = {"model": regression_errors(result.model.predict, cfg.dim, cfg.n_points)}
    curves.update({name: regression_errors(fn, cfg.dim, cfg.n_points) for name, fn in BASELINES.items()})
    tail = max(1, cfg.steps // 20)
    return {
        "metrics": {name: np.round(v, 5).tolist() for name, v in curves.items()},
        "seconds": result.seconds,
        "steps": cfg.steps,
        "params": sum(p.numel() for p in result.model.parameters()),
        "final_train": float(np.mean(result.losses[-tail:])),
    }


# ============================================================================ few-shot prompting


@dataclass
class RuleWorld:
    """A family of ``n_rules`` hidden rules, each a random map from ``n_symbols`` letters to letters
    (drawn once from ``seed``). A document picks a rule and lists ``pairs`` examples ``a>c,`` with distinct
    inputs, so the query of a prompt is never a copy of an earlier demonstration: the demonstrations can
    only help by telling the model *which* rule is in force. ``bursty=False`` draws a fresh rule for every
    pair (Chan et al.'s non-bursty control: the same pairs, but nothing in a document to learn from)."""

    n_symbols: int = 8
    n_rules: int = 6
    pairs: int = 7
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValueError(f"RuleWorld.{name}={getattr(self, name)!r}: {message}")

        need(2 <= self.n_symbols <= 26, "n_symbols", "use 2 to 26 letters")
        need(self.n_rules >= 1, "n_rules", "needs at least one rule")
        need(1 <= self.pairs <= self.n_symbols, "pairs", f"inputs are distinct, so at most n_symbols={self.n_symbols}")
        rng = np.random.default_rng(self.seed)
        self.table = rng.integers(0, self.n_symbols, (self.n_rules, self.n_symbols))  # table[r, x] = rule r of x
        self.letters = "abcdefghijklmnopqrstuvwxyz"[: self.n_symbols]

    @property
    def doc_length(self) -> int:
        """Characters per document: ``pairs`` examples of 4 characters (``a>c,``) and a newline."""
        return 4 * self.pairs + 1

    @property
    def alphabet(self) -> str:
        """Every character a document uses: the letters, '>', ',' and the newline that ends a document."""
        return self.letters + ">,\n"

    def tokenizer(self) -> CharTokenizer:
        """A character tokenizer over ``alphabet`` (the same ids for every world with these letters)."""
        return CharTokenizer(self.alphabet)

    def document(self, rng: np.random.Generator, bursty: bool = True) -> str:
        """One document: ``pairs`` examples of one rule (or of a fresh rule each, if not ``bursty``)."""
        xs = rng.permutation(self.n_symbols)[: self.pairs]
        rules = np.full(self.pairs, rng.integers(self.n_rules)) if bursty else rng.integers(0, self.n_rules, self.pairs)
        return "".join(f"{self.letters[x]}>{self.letters[self.table[r, x]]}," for x, r in zip(xs, rules)) + "\n"

    def prompts(self, k: int, n: int, seed: int = 1) -> tuple[list[str], list[str], list[int]]:
        """``n`` k-shot prompts (k demonstrations of one rule, then a fresh query ``x>``, as at the start of a
        document), the correct answers and the rules used."""
        if not 0 <= k < self.pairs:
            raise ValueError(f"k={k}: prompts hold 0 to pairs-1={self.pairs - 1} demonstrations")
        rng = np.random.default_rng([seed, k])
        texts, answers, rules = [], [], []
        for _ in range(n):
            r = int(rng.integers(self.n_rules))
            xs = rng.permutation(self.n_symbols)[: k + 1]
            demos = "".join(f"{self.letters[x]}>{self.letters[self.table[r, x]]}," for x in xs[:k])
            texts.append(f"{demos}{self.letters[xs[k]]}>")
            answers.append(self.letters[self.table[r, xs[k]]])
            rules.append(r)
        return texts, answers, rules

    def bayes_accuracy(self, k: int, n: int = 4000, seed: int = 1) -> float:
        """Accuracy of the Bayes-optimal learner on ``prompts(k, n, seed)``: it knows the rule table and
        the uniform prior over rules, keeps the rules consistent with the demonstrations and answers the
        output most of them give (ties split evenly). Nothing can do better on the same prompts."""
        texts, answers, _ = self.prompts(k, n, seed)
        idx = {c: i for i, c in enumerate(self.letters)}
        total = 0.0
        for text, answer in zip(texts, answers):
            body = text
            demos = [(idx[p[0]], idx[p[2]]) for p in body.split(",")[:-1]]
            q = idx[body.split(",")[-1][0]]
            alive = [r for r in range(self.n_rules) if all(self.table[r, x] == y for x, y in demos)]
            votes = np.bincount(self.table[alive, q], minlength=self.n_symbols)
            best = np.flatnonzero(votes == votes.max())
            total += (idx[answer] in best) / len(best)
        return total / n

    def corpus(self, docs: int = 20_000, bursty: bool = True, seed: int = 0) -> Corpus:
        """A character ``Corpus`` of ``docs`` documents (90% train, 10% validation) for ``helpers.train.train``;
        training windows start at document starts (``Corpus.align``), as prompts do."""
        rng = np.random.default_rng(seed)
        text = "".join(self.document(rng, bursty) for _ in range(docs))
        tok = self.tokenizer()
        ids = torch.tensor(tok.encode(text), dtype=torch.long)
        cut = (docs * 9 // 10) * self.doc_length
        name = "rules" if bursty else "rules-nonbursty"
        fp = sha256_bytes(f"{sorted(asdict(self).items())}|{docs}|{bursty}|{seed}|{text}".encode())
        return Corpus(name, tok, ids[:cut], ids[cut:], fp, align=self.doc_length)


@torch.no_grad()
def few_shot_accuracy(model: GPT, world: RuleWorld, k: int, n: int = 500, seed: int = 1) -> float:
    """Fraction of ``world.prompts(k, n, seed)`` whose answer is the model's most likely next letter."""
    texts, answers, _ = world.prompts(k, n, seed)
    tok = world.tokenizer()
    letters = torch.tensor(tok.encode(world.letters))
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for length in sorted({len(t) for t in texts}):  # every k-shot prompt has the same length; group anyway
        batch = [i for i, t in enumerate(texts) if len(t) == length]
        idx = torch.tensor([tok.encode(texts[i]) for i in batch], device=device)
        logits = model(idx)[0][:, -1, letters.to(device)]
        guess = logits.argmax(-1).cpu()
        correct += sum(world.letters[g] == answers[i] for g, i in zip(guess.tolist(), batch))
    model.train(was)
    return correct / n


FEW_SHOT_WORLD = RuleWorld()  # chapter 7's world: 6 rules on 8 letters, 7 pairs per document


def few_shot_curve(model: GPT, world: RuleWorld = FEW_SHOT_WORLD, n: int = 500, seed: int = 1) -> dict:
    """Accuracy of ``model`` for every number of demonstrations k = 0 .. pairs - 1, as a sweep evaluator's
    dict: ``{"k": [...], "accuracy": [...]}``."""
    ks = list(range(world.pairs))
    return {"k": ks, "accuracy": [few_shot_accuracy(model, world, k, n, seed) for k in ks]}


def few_shot_recipe(
    corpus: Corpus, d_model: int, n_layer: int, steps: int = 1500, lr: float = 3e-3, seed: int = 0
) -> tuple[GPTConfig, TrainConfig]:
    """Chapter 7's few-shot language models (a ``helpers.recipes``-style recipe): width ``d_model`` and
    ``n_layer`` layers (heads 8 wide, at most 4) trained on ``RuleWorld.corpus`` documents, one document
    per window (context = document length - 1), batches of 32, warmup + cosine over ``steps``."""
    if corpus.align < 2:
        raise ValueError(f"corpus {corpus.name!r} is not a RuleWorld corpus of fixed-length documents")
    model = GPTConfig(
        vocab_size=corpus.vocab_size,
        context=corpus.align - 1,
        n_layer=n_layer,
        n_head=max(1, min(4, d_model // 8)),
        d_model=d_model,
    )
    train_cfg = TrainConfig(
        steps=steps, batch_size=32, lr=lr, warmup_steps=min(100, steps // 10), eval_every=max(1, steps // 10), seed=seed
    )
    return model, train_cfg
