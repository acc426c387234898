"""In-context linear regression (Garg et al. 2022): the world, the model, its baselines and its trainer.

``sample_regression`` draws prompts ``x_1, y_1, ..., x_k, y_k`` with ``y = w . x`` for a fresh ``w`` per
prompt (``active_dim`` is the optional curriculum). ``RegressionTransformer`` reads a prompt through a
linear read-in, runs ``helpers.model.Block`` layers and reads a scalar out at every x;
``train_regression`` trains it on fresh prompts every step (cached, ``helpers.fit``). ``least_squares``,
``ridge``, ``nearest_neighbours`` and ``averaging`` are the baselines (``BASELINES``);
``regression_errors`` scores any predictor against the number of in-context examples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..cache import ResultCache
from ..config import Config
from ..fit import History, TrainResult, Updates, cached_fit
from ..model import GPT, Block, GPTConfig
from ..train import TrainConfig, lr_at, make_optimizer

# ----------------------------------------------------------------------------- the world


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


# ----------------------------------------------------------------------------- baselines


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


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class RegressionConfig(Config):
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

    def rules(self):
        yield 0 <= self.curriculum <= self.steps, "curriculum", f"must lie in [0, steps={self.steps}] (0 turns it off)"
        yield self.dim >= 1, "dim", "x needs at least one dimension"
        yield self.n_points >= 2, "n_points", "a prompt needs at least 2 pairs (one to learn from, one to predict)"
        # the model and schedule configs check the rest, raising errors that name their own fields
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
        device = self.read_out.weight.device
        full_x = torch.cat([xs, xq.unsqueeze(1)], dim=1).to(device)
        full_y = torch.cat([ys, ys.new_zeros(ys.shape[0], 1)], dim=1).to(device)
        was = self.training
        self.eval()
        out = self(full_x, full_y)[:, -1]
        self.train(was)
        return out.cpu()

    def param_counts(self) -> dict[str, int]:
        """Parameters by kind, as ``GPT.param_counts``: ``embedding`` is the read-in, the positions and the
        read-out (the counterparts of a GPT's token embedding, position embedding and head); ``non_embedding``
        (Kaplan's N) is the blocks and the final LayerNorm; ``total`` is both."""
        embedding = sum(p.numel() for m in (self.read_in, self.pos_emb, self.read_out) for p in m.parameters())
        total = sum(p.numel() for p in self.parameters())
        return {"embedding": embedding, "non_embedding": total - embedding, "total": total}


# ----------------------------------------------------------------------------- training


def train_regression(
    cfg: RegressionConfig,
    *,
    device: str | torch.device = "auto",
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> TrainResult:
    """Train a ``RegressionTransformer`` on fresh prompts every step (MSE on every y, AdamW, warmup + cosine
    from ``helpers.train``) on ``device``, through ``helpers.fit.cached_fit``: the same config and code on the
    same device type trains nothing. ``history.train_loss`` is the MSE of every step (mean over positions)."""
    tcfg = cfg.train_config()

    def run(dev: torch.device) -> tuple[RegressionTransformer, History]:
        model = RegressionTransformer(cfg).to(dev)
        updates = Updates(
            model, make_optimizer(model, tcfg), grad_clip=tcfg.grad_clip, total=cfg.steps,
            desc="training the regression transformer", progress=progress,
        )  # fmt: skip
        gen = torch.Generator().manual_seed(cfg.seed)  # the prompts: the same on every device
        history = History()
        for step in range(cfg.steps):
            lr = lr_at(step, tcfg)
            xs, ys = sample_regression(cfg.batch_size, cfg.n_points, cfg.dim, gen, active_dim(step, cfg))
            xs, ys = xs.to(dev), ys.to(dev)
            updates.step(F.mse_loss(model(xs, ys), ys), lr=lr)
            history.lr.append(lr)
        history.train_loss = updates.pop_losses()
        history.seconds = updates.close()
        return model, history

    return cached_fit(
        {"regression": asdict(cfg)},
        run,
        lambda: RegressionTransformer(cfg),
        seed=cfg.seed,
        device=device,
        cache=cache,
        label="regression transformer",
        quiet=not progress,
    )
