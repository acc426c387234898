"""The one trainer every chapter uses.

``train(model_cfg, train_cfg, corpus)`` is what a notebook calls: it builds the model, trains it
and caches the result, so re-running the cell is instant. Underneath, ``Trainer`` is a plain
PyTorch loop with the usual parts of a pretraining run:

- device auto-selection (cuda > mps > cpu, overridable by ``TrainConfig.device`` or the
  ``COURSE_DEVICE`` environment variable) and seeding;
- AdamW (weight decay on matrices only) with linear warmup and a cosine decay whose length is the
  run's own number of steps (Hoffmann et al. 2022: a schedule longer than the run biases results);
- gradient clipping, periodic evaluation on fixed train/val batches, a ``tqdm.auto`` progress bar;
- a ``History`` of losses that plots itself;
- checkpoints that resume exactly (model, optimizer, sampler and RNG state), loaded with
  ``torch.load(weights_only=True)``;
- callbacks (minGPT style): objects with optional ``on_step_end(trainer)`` / ``on_eval(trainer)``.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .cache import ResultCache, cached_call
from .data import BatchSampler, Corpus
from .metrics import mean_loss
from .model import GPT, GPTConfig, flops_per_token

# ----------------------------------------------------------------------------- device and seeds

EVAL_SEED = 10_000  # seeds the fixed evaluation batches, independent of the training seed


def select_device(requested: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; ``COURSE_DEVICE`` overrides ``"auto"``.
    Asking for a device that is not there raises ``RuntimeError`` saying what is available."""
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


# ----------------------------------------------------------------------------- config


@dataclass
class TrainConfig:
    """How to train. Invalid values raise ``ValueError`` naming the field and the fix."""

    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio at the last step
    warmup_steps: int = 30
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    eval_every: int = 100  # evaluate every this many steps (and at the last step); 0: only at the end
    eval_batches: int = 4  # fixed batches per split used for each evaluation
    seed: int = 0
    device: str = "auto"
    progress: bool = True  # show a progress bar

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r}: {message}")

        need(isinstance(self.steps, int) and self.steps >= 1, "steps", "train for at least 1 step")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", "must be at least 1")
        need(self.lr > 0, "lr", "the learning rate must be positive (typical: 1e-3 to 1e-2 for tiny GPTs)")
        need(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "must lie in [0, 1]")
        need(
            0 <= self.warmup_steps < self.steps,
            "warmup_steps",
            f"must lie in [0, steps={self.steps}); use fewer warmup steps or a longer run",
        )
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(0 <= self.beta1 < 1, "beta1", "must lie in [0, 1)")
        need(0 <= self.beta2 < 1, "beta2", "must lie in [0, 1)")
        need(self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 turns clipping off)")
        need(self.eval_every >= 0, "eval_every", "must be >= 0 (0 evaluates only at the end)")
        need(self.eval_batches >= 1, "eval_batches", "must be at least 1")

    def result_key(self) -> dict:
        """The fields that change a training result (not the device choice or the progress bar)."""
        d = asdict(self)
        d.pop("device"), d.pop("progress")
        return d


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warmup, then cosine decay over the rest of the run."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - 1 - cfg.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (embeddings, linear weights) only, not on biases and
    LayerNorm gains, as in GPT-2 and nanoGPT."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
    )


# ----------------------------------------------------------------------------- history


@dataclass
class History:
    """Losses over a run (nats per token). ``train_loss`` has one entry per step; evaluations
    (on fixed batches) are at ``eval_step``."""

    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_train: list[float] = field(default_factory=list)
    eval_val: list[float] = field(default_factory=list)
    tokens_per_step: int = 0
    flops_per_token: int = 0
    seconds: float = 0.0

    @property
    def final_val(self) -> float:
        return self.eval_val[-1]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)

    def plot(self, ax=None, label: str = "", smooth: int = 20):
        """Train loss (per step, smoothed over ``smooth`` steps) and evaluated train/val loss."""
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


# ----------------------------------------------------------------------------- trainer


class Trainer:
    """Train ``model`` on ``corpus`` with ``cfg``. ``fit()`` returns the ``History``."""

    def __init__(self, model: GPT, corpus: Corpus, cfg: TrainConfig, callbacks=()):
        self.cfg = cfg
        self.device = select_device(cfg.device)
        self.model = model.to(self.device)
        context = model.cfg.context
        self.sampler = BatchSampler(corpus.train, context, cfg.batch_size, seed=cfg.seed, align=corpus.align)
        # evaluation uses the same fixed batches at every step and for every seed and config, so
        # differences between curves come from training, not from which text was evaluated
        self.eval_sets = {
            split: [
                BatchSampler(data, context, cfg.batch_size, seed=EVAL_SEED + i, align=corpus.align).sample()
                for i in range(cfg.eval_batches)
            ]
            for split, data in (("train", corpus.train), ("val", corpus.val))
        }
        self.optimizer = make_optimizer(model, cfg)
        self.history = History(tokens_per_step=cfg.batch_size * context, flops_per_token=flops_per_token(model.cfg))
        self.step = 0  # number of optimizer steps taken
        self.last_loss: torch.Tensor | None = None  # loss of the latest step (a 0-d tensor)
        self.callbacks = list(callbacks)

    def evaluate(self) -> dict[str, float]:
        """Mean loss on the fixed evaluation batches of each split."""
        was_training = self.model.training
        self.model.eval()
        out = {split: mean_loss(self.model, batches) for split, batches in self.eval_sets.items()}
        self.model.train(was_training)
        return out

    def _flush(self, pending: list[torch.Tensor]) -> None:
        if pending:
            self.history.train_loss.extend(torch.stack(pending).tolist())
            pending.clear()

    def _record_eval(self) -> None:
        metrics = self.evaluate()
        h = self.history
        h.eval_step.append(self.step)
        h.eval_train.append(metrics["train"])
        h.eval_val.append(metrics["val"])
        for cb in self.callbacks:
            getattr(cb, "on_eval", lambda t: None)(self)

    def fit(self, stop_at: int | None = None, checkpoint: str | Path | None = None) -> History:
        """Train until ``cfg.steps`` (or ``stop_at``, to pause early); save a checkpoint at the end
        when ``checkpoint`` is given. Call ``load_checkpoint`` first to resume a paused run."""
        cfg, h = self.cfg, self.history
        end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
        self.model.train()
        bar = tqdm(
            total=cfg.steps, initial=self.step, disable=not cfg.progress, desc="training", unit="step", mininterval=0.5
        )
        t0 = time.perf_counter()
        # per-step losses stay on the device and are read in one go at each evaluation, so a GPU
        # never waits for the CPU after every step; callbacks can read the latest as `last_loss`
        pending: list[torch.Tensor] = []
        while self.step < end:
            lr = lr_at(self.step, cfg)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, y = self.sampler.sample()
            _, loss = self.model(x.to(self.device), y.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.step += 1
            self.last_loss = loss.detach()
            pending.append(self.last_loss)
            h.lr.append(lr)
            for cb in self.callbacks:
                getattr(cb, "on_step_end", lambda t: None)(self)
            if self.step == cfg.steps or (cfg.eval_every and self.step % cfg.eval_every == 0):
                self._flush(pending)
                self._record_eval()
                bar.set_postfix(val_loss=f"{h.eval_val[-1]:.3f}", refresh=False)
            bar.update(1)
        self._flush(pending)
        bar.close()
        h.seconds += time.perf_counter() - t0
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return h

    def save_checkpoint(self, path: str | Path) -> None:
        """Everything needed to continue exactly: weights, optimizer, step, history, RNG states."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "history": self.history.to_dict(),
            "sampler": self.sampler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "model_cfg": self.model.cfg.to_dict(),
            "train_cfg": self.cfg.result_key(),
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint written by ``save_checkpoint`` for the same model and training config."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state["model_cfg"] != self.model.cfg.to_dict() or state["train_cfg"] != self.cfg.result_key():
            raise ValueError(
                f"checkpoint {path} was written for another model or training config; "
                "build the Trainer with the same GPTConfig and TrainConfig, or start a fresh run"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.history = History.from_dict(state["history"])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"].cpu())


# ----------------------------------------------------------------------------- the cached entry point


@dataclass
class TrainResult:
    model: GPT
    history: History
    cached: bool  # True when the result came from the cache rather than a fresh run


def state_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of a model's weights: names, shapes, dtypes and values. Two models with the
    same fingerprint compute the same function, so it can key a cached fine-tuning run."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


def train(
    model_cfg: GPTConfig,
    train_cfg: TrainConfig,
    corpus: Corpus,
    *,
    init: GPT | None = None,
    cache: bool | ResultCache = True,
    callbacks=(),
) -> TrainResult:
    """Build a GPT from ``model_cfg``, seed, train it on ``corpus`` and return model and history.

    ``init`` fine-tunes instead: training starts from a copy of that model's weights (its config
    must equal ``model_cfg``; ``init`` itself is left untouched) with a fresh optimizer and schedule.

    With ``cache`` on (the default), a run with the same configs, data, starting weights, device
    type and helpers code is loaded from ``.cache/runs`` instead of being trained again (see
    ``helpers.cache``). Runs with callbacks are never cached: a callback may observe or change the run.
    """
    if model_cfg.vocab_size != corpus.vocab_size:
        raise ValueError(
            f"GPTConfig.vocab_size={model_cfg.vocab_size} but the corpus has {corpus.vocab_size} tokens; "
            "set vocab_size=corpus.vocab_size"
        )
    device = select_device(train_cfg.device)
    what = {
        "model": model_cfg.to_dict(),
        "train": train_cfg.result_key(),
        "data": corpus.fingerprint,
        "device": device.type,
    }
    if init is not None:
        if init.cfg != model_cfg:
            raise ValueError(
                f"init was built with {init.cfg} but model_cfg is {model_cfg}; "
                "fine-tune with the starting model's own config (model_cfg=init.cfg)"
            )
        what["init"] = state_fingerprint(init)

    def compute() -> dict:
        seed_everything(train_cfg.seed)
        model = GPT(model_cfg)
        if init is not None:
            model.load_state_dict({k: v.detach().cpu() for k, v in init.state_dict().items()})
        trainer = Trainer(model, corpus, train_cfg, callbacks)
        history = trainer.fit()
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return {"state": state, "history": history.to_dict()}

    payload, hit = cached_call(what, compute, cache=False if callbacks else cache)
    model = GPT(model_cfg)
    model.load_state_dict(payload["state"])
    return TrainResult(model.to(device).eval(), History.from_dict(payload["history"]), hit)
