"""The one training path: what every algorithm in the course shares, written once.

A trainer (LM pretraining and fine-tuning in ``helpers.train``, the in-context regression model, the
reward model, PPO and DPO) supplies only its own loop body; everything around it lives here:

- ``select_device`` (computed once per run and passed explicitly) and ``seed_everything``;
- ``adamw``: AdamW with weight decay on matrices only (GPT-2 / nanoGPT);
- ``Updates``: one optimisation step (zero the gradients, back-propagate, clip the global gradient norm,
  step), the per-step losses kept on the device, the learning rate, a named progress bar and the wall time;
- ``minibatches``: one epoch of shuffled index batches;
- ``History``: what a run records (per-step loss and learning rate, periodic evaluations, and any
  algorithm-specific ``records`` such as PPO's gold reward), saved with the model;
- ``cached_fit``: seed, run the loop on the chosen device, capture the weights on the CPU, cache the result
  (``helpers.cache``) and return one ``TrainResult`` type for every algorithm.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn

from .cache import ResultCache, cached_call
from .progress import progress_bar

# ----------------------------------------------------------------------------- device and seeds


def select_device(requested: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; ``COURSE_DEVICE`` overrides ``"auto"``.
    Asking for a device that is not there raises ``RuntimeError`` saying what is available."""
    if isinstance(requested, torch.device):
        requested = str(requested)
    if requested == "auto":
        requested = os.environ.get("COURSE_DEVICE", "auto")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    }
    if requested == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    kind = requested.split(":")[0]
    if kind not in available:
        raise ValueError(f"device={requested!r}: choose 'auto', 'cpu', 'cuda' or 'mps'")
    if not available[kind]:
        have = ", ".join(d for d, ok in available.items() if ok)
        raise RuntimeError(
            f"device {requested!r} was requested but is not available on this machine (available: {have}); "
            "use device='auto' to pick the best one present, or install a PyTorch build with "
            f"{kind} support (see README, 'Running on a GPU')"
        )
    return torch.device(requested)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- fingerprints


def state_fingerprint(model: nn.Module) -> str:
    """A short hash of a model's weights: names, shapes, dtypes and values. Two models with the
    same fingerprint compute the same function, so it can key a cached fine-tuning run."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


def tensors_fingerprint(*tensors: torch.Tensor) -> str:
    """A short hash of the shapes and values of ``tensors`` (e.g. a set of labelled pairs), for a cache key."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode() + t.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- optimisation


def _modules(modules: nn.Module | Iterable[nn.Module]) -> list[nn.Module]:
    return [modules] if isinstance(modules, nn.Module) else list(modules)


def adamw(
    modules: nn.Module | Iterable[nn.Module],
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW over the parameters of ``modules`` with weight decay on matrices (embeddings, linear weights)
    only, not on biases and LayerNorm gains, as in GPT-2 and nanoGPT. ``eps`` is Adam's ε, the floor under
    the second-moment denominator."""
    params = [p for m in _modules(modules) for p in m.parameters()]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=betas,
        eps=eps,
    )


class Updates:
    """The optimisation step every trainer shares, and the bookkeeping around it.

    ``step(loss, lr=...)`` zeroes the gradients, back-propagates ``loss``, clips the global gradient norm at
    ``grad_clip`` (0: no clipping), steps the optimizer (at learning rate ``lr`` when given) and keeps the
    loss (on the device: a GPU never waits for the CPU). The progress bar, labelled ``desc``, counts ``total``
    units; ``step`` advances it unless ``advance=False`` (then call ``advance()`` yourself, e.g. once per
    PPO iteration). ``close()`` ends the bar and returns the seconds since the ``Updates`` began.
    After each step, ``grad_norm`` holds the global gradient norm before clipping (a 0-d tensor) when
    clipping is on or ``step(..., grad_norm=True)`` asked for it, else None."""

    def __init__(
        self,
        modules: nn.Module | Iterable[nn.Module],
        optimizer: torch.optim.Optimizer,
        *,
        grad_clip: float,
        total: int,
        desc: str,
        unit: str = "step",
        progress: bool = True,
        initial: int = 0,
    ):
        if grad_clip < 0:
            raise ValueError(f"grad_clip={grad_clip}: must be >= 0 (0 turns clipping off)")
        self.params = [p for m in _modules(modules) for p in m.parameters()]
        self.optimizer, self.grad_clip = optimizer, grad_clip
        self.losses: list[torch.Tensor] = []  # every step's loss since the last pop_losses()
        self.grad_norm: torch.Tensor | None = None
        self.bar = progress_bar(
            total=total, initial=initial, desc=desc, unit=unit, mininterval=0.5, disable=not progress
        )
        self.t0 = time.perf_counter()

    def step(
        self,
        loss: torch.Tensor,
        *,
        lr: float | None = None,
        advance: bool = True,
        record: torch.Tensor | None = None,
        grad_norm: bool = False,
    ) -> None:
        """One optimizer step on ``loss``; the loss kept is ``record`` when given (e.g. the cross-entropy
        alone when ``loss`` adds a regulariser to it)."""
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm = None
        if self.grad_clip > 0:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        elif grad_norm:
            self.grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        self.optimizer.step()
        self.losses.append((loss if record is None else record).detach())
        if advance:
            self.bar.update(1)

    def advance(self, n: int = 1) -> None:
        """Move the progress bar on by ``n`` units."""
        self.bar.update(n)

    def pop_losses(self) -> list[float]:
        """The losses kept since the last call, as floats (one device-to-host copy), and forget them."""
        out = torch.stack(self.losses).cpu().tolist() if self.losses else []
        self.losses.clear()
        return out

    def close(self) -> float:
        """End the progress bar; the wall time in seconds since this ``Updates`` was made."""
        self.bar.close()
        return time.perf_counter() - self.t0


def minibatches(n: int, size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """One epoch over ``n`` examples: a random permutation drawn from ``generator``, cut into index
    batches of ``size`` (the last may be smaller)."""
    if n < 1 or size < 1:
        raise ValueError(f"n={n}, size={size}: both must be at least 1")
    order = torch.randperm(n, generator=generator)
    for i in range(0, n, size):
        yield order[i : i + size]


# ----------------------------------------------------------------------------- history and result


def _summary(history: dict) -> str:
    """A cached run in a few words: its steps and last validation loss (from ``History.to_dict``)."""
    steps = len(history.get("train_loss", ()))
    val = history.get("eval_val") or []
    return f"{steps} steps" + (f", final validation loss {val[-1]:.3f}" if val else "")


@dataclass
class History:
    """What a run records. ``train_loss`` and ``lr`` have one entry per optimizer step; evaluations (on
    fixed batches, nats per token) are at ``eval_step``; ``records`` holds an algorithm's own curves (e.g.
    PPO's proxy and gold reward every few iterations) as lists keyed by name."""

    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_train: list[float] = field(default_factory=list)
    eval_val: list[float] = field(default_factory=list)
    tokens_per_step: int = 0
    flops_per_token: int = 0
    seconds: float = 0.0
    records: dict[str, list] = field(default_factory=dict)

    @property
    def final_val(self) -> float:
        """The last evaluated validation loss."""
        return self.eval_val[-1]

    def to_dict(self) -> dict:
        """A plain dict (for the cache and checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """The inverse of ``to_dict``."""
        return cls(**d)

    def plot(self, ax=None, label: str = "", smooth: int = 20):
        """Train loss (per step, smoothed over ``smooth`` steps) and evaluated validation loss."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        steps = np.arange(1, len(self.train_loss) + 1)
        y = np.asarray(self.train_loss)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
            steps = steps[smooth - 1 :]
        prefix = f"{label} " if label else ""
        (line,) = ax.plot(steps, y, alpha=0.4, lw=1, label=f"{prefix}train (per step, smoothed)")
        ax.plot(self.eval_step, self.eval_val, "o-", color=line.get_color(), ms=3, label=f"{prefix}validation")
        ax.set_xlabel("training step")
        ax.set_ylabel("cross-entropy loss (nats/token)")
        ax.legend()
        return ax

    def plot_lr(self, ax=None):
        """The learning rate at every step (the warmup + cosine schedule of this run)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        ax.plot(np.arange(1, len(self.lr) + 1), self.lr)
        ax.set_xlabel("training step")
        ax.set_ylabel("learning rate")
        ax.set_title("warmup + cosine schedule")
        return ax


@dataclass
class TrainResult:
    """What every trainer returns: the trained model (in eval mode, on ``device``), its ``History``,
    whether it came from the cache, and the device it was trained on."""

    model: nn.Module
    history: History
    cached: bool  # True when the result came from the cache rather than a fresh run
    device: torch.device = torch.device("cpu")


def cached_fit(
    key: dict,
    run: Callable[[torch.device], tuple[nn.Module, History]],
    rebuild: Callable[[], nn.Module],
    *,
    seed: int,
    device: str | torch.device = "auto",
    cache: bool | ResultCache = True,
    label: str = "model",
    quiet: bool = False,
) -> TrainResult:
    """The cached path every trainer takes. ``key`` says what is trained (configs, data and starting-weight
    fingerprints); the device type chosen by ``select_device(device)`` is added to it and the whole helpers
    package's code version keys the entry. On a miss, seed everything with ``seed``, call ``run(device)`` (the
    algorithm's own loop, returning its model and ``History``) and store the weights; then (hit or miss)
    ``rebuild()`` an untrained model of the same shape, load the weights and return a ``TrainResult``. A hit
    prints that ``label`` was loaded from the cache and what it was, unless ``quiet``."""
    dev = select_device(device)
    what = {**key, "device": dev.type}

    def compute() -> dict:
        seed_everything(seed)
        model, history = run(dev)
        return {"state": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "history": history.to_dict()}

    payload, hit = cached_call(what, compute, cache)
    if hit and not quiet:
        print(f"{label}: loaded from the result cache, not retrained ({_summary(payload['history'])})")
    model = rebuild()
    model.load_state_dict(payload["state"])
    return TrainResult(model.to(dev).eval(), History.from_dict(payload["history"]), hit, dev)
