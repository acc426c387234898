"""Language-model training: the trainer every chapter's GPT goes through.

``train(model_cfg, train_cfg, corpus)`` is what a notebook calls: it builds the model, trains it
and caches the result (``helpers.fit.cached_fit``), so re-running the cell is instant. Underneath,
``Trainer`` is a plain PyTorch loop with the usual parts of a pretraining run:

- the device (cuda > mps > cpu, overridable by ``TrainConfig.device`` or ``COURSE_DEVICE``) and seeding;
- AdamW (weight decay on matrices only) with linear warmup and a cosine decay whose length is the
  run's own number of steps (Hoffmann et al. 2022: a schedule longer than the run biases results);
- gradient clipping, periodic evaluation on fixed train/val batches, a progress bar (``helpers.fit.Updates``);
- a ``History`` of losses that plots itself;
- checkpoints that resume exactly (model, optimizer, sampler and RNG state), loaded with
  ``torch.load(weights_only=True)``;
- callbacks (minGPT style): objects with optional ``on_step_end(trainer)`` / ``on_eval(trainer)``, and
  ``lr_factor(step)``, a multiplier of that step's learning rate, ``batch(step, x, y)``, which may
  replace that step's training batch (``helpers.interventions``), and ``objective(trainer, x, y, logits,
  objective)``, which may replace the loss the step minimises (``helpers.doremi``); the recorded loss stays
  the plain mean cross-entropy;
- batches come from ``corpus.sampler``: a plain corpus's random windows, or a mixture of domains
  (``helpers.mixture``);
- the stability options of Chapter 3, each off by default: z-loss (``z_loss``, PaLM's auxiliary
  ``z_loss * mean(log² Z)`` on the output softmax), Adam's ε (``adam_eps``), and a
  ``helpers.monitor.TrainingMonitor`` every ``monitor_every`` steps, whose records are cached with the run.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .cache import ResultCache
from .config import Config, positive_int
from .data import Corpus
from .fit import (
    History,
    TrainResult,
    Updates,
    adamw,
    cached_fit,
    seed_everything,
    select_device,
    state_fingerprint,
)
from .metrics import mean_loss
from .model import GPT, GPTConfig, flops_per_token
from .monitor import TrainingMonitor

# re-exported: a notebook imports what it trains with from one place
__all__ = ["History", "TrainConfig", "TrainResult", "Trainer", "lr_at", "make_optimizer", "train"]
__all__ += ["seed_everything", "select_device", "state_fingerprint"]

EVAL_SEED = 10_000  # seeds the fixed evaluation batches, independent of the training seed


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig(Config):
    """How to train. Invalid values raise ``ValueError`` naming the field and the fix."""

    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio at the last step
    warmup_steps: int = 30
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    adam_eps: float = 1e-8  # Adam's epsilon
    z_loss: float = 0.0  # coefficient of the auxiliary z-loss, mean(log Z ** 2); PaLM used 1e-4
    monitor_every: int = 0  # record the monitor's vital signs every this many steps; 0: no monitor
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    eval_every: int = 100  # evaluate every this many steps (and at the last step); 0: only at the end
    eval_batches: int = 4  # fixed batches per split used for each evaluation
    seed: int = 0
    device: str = "auto"
    progress: bool = True  # show a progress bar
    desc: str = field(default="", repr=False)  # the progress bar's label; "" names the model (changes no result)

    def rules(self):
        yield positive_int(self.steps), "steps", "train for at least 1 step"
        yield positive_int(self.batch_size), "batch_size", "must be at least 1"
        yield self.lr > 0, "lr", "the learning rate must be positive (typical: 1e-3 to 1e-2 for tiny GPTs)"
        yield 0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "must lie in [0, 1]"
        yield (
            0 <= self.warmup_steps < self.steps,
            "warmup_steps",
            f"must lie in [0, steps={self.steps}); use fewer warmup steps or a longer run",
        )
        yield self.weight_decay >= 0, "weight_decay", "must be >= 0"
        yield 0 <= self.beta1 < 1, "beta1", "must lie in [0, 1)"
        yield 0 <= self.beta2 < 1, "beta2", "must lie in [0, 1)"
        yield self.adam_eps >= 0, "adam_eps", "must be >= 0 (the default 1e-8 is PyTorch's)"
        yield self.z_loss >= 0, "z_loss", "must be >= 0 (0 turns z-loss off; PaLM used 1e-4)"
        yield (
            isinstance(self.monitor_every, int) and self.monitor_every >= 0,
            "monitor_every",
            "must be a whole number of steps >= 0 (0 turns the monitor off; 25 is cheap)",
        )
        yield self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 turns clipping off)"
        yield self.eval_every >= 0, "eval_every", "must be >= 0 (0 evaluates only at the end)"
        yield self.eval_batches >= 1, "eval_batches", "must be at least 1"

    def result_key(self) -> dict:
        """The fields that change a training result (not the device choice or the progress bar)."""
        d = asdict(self)
        for name in ("device", "progress", "desc"):
            d.pop(name)
        return d


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warmup, then cosine decay over the rest of the run."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - 1 - cfg.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """``helpers.fit.adamw`` with the config's learning rate, weight decay and betas."""
    return adamw(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), eps=cfg.adam_eps)


# ----------------------------------------------------------------------------- trainer


class Trainer:
    """Train ``model`` on ``corpus`` with ``cfg``. ``fit()`` returns the ``History``."""

    def __init__(self, model: GPT, corpus: Corpus, cfg: TrainConfig, callbacks=(), device: torch.device | None = None):
        self.cfg = cfg
        self.device = device if device is not None else select_device(cfg.device)
        self.model = model.to(self.device)
        context = model.cfg.context
        self.sampler = corpus.sampler("train", context, cfg.batch_size, seed=cfg.seed)
        # evaluation uses the same fixed batches at every step and for every seed and config, so
        # differences between curves come from training, not from which text was evaluated
        n = cfg.eval_batches
        self.eval_sets = {
            split: [corpus.sampler(split, context, cfg.batch_size, seed=EVAL_SEED + i).sample() for i in range(n)]
            for split in ("train", "val")
        }
        self.optimizer = make_optimizer(model, cfg)
        self.history = History(tokens_per_step=cfg.batch_size * context, flops_per_token=flops_per_token(model.cfg))
        self.step = 0  # number of optimizer steps taken
        self.last_loss: torch.Tensor | None = None  # loss of the latest step (a 0-d tensor)
        self.grad_norm: torch.Tensor | None = None  # the latest step's gradient norm, when it was computed
        self.callbacks = list(callbacks)
        if cfg.monitor_every:
            self.callbacks.append(TrainingMonitor(cfg.monitor_every))
        self._monitors = [cb for cb in self.callbacks if isinstance(cb, TrainingMonitor)]

    def evaluate(self) -> dict[str, float]:
        """Mean loss on the fixed evaluation batches of each split."""
        was_training = self.model.training
        self.model.eval()
        out = {split: mean_loss(self.model, batches) for split, batches in self.eval_sets.items()}
        self.model.train(was_training)
        return out

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
        # per-step losses stay on the device and are read in one go at each evaluation, so a GPU
        # never waits for the CPU after every step; callbacks can read the latest as `last_loss`
        updates = Updates(
            self.model, self.optimizer, grad_clip=cfg.grad_clip, total=cfg.steps,
            desc=cfg.desc or f"training {self.model.cfg.name}", progress=cfg.progress, initial=self.step,
        )  # fmt: skip
        while self.step < end:
            lr = lr_at(self.step, cfg)
            for cb in self.callbacks:  # a callback may scale the rate of a step (helpers.interventions.LRFault)
                lr *= getattr(cb, "lr_factor", lambda step: 1.0)(self.step)
            x, y = self.sampler.sample()
            for cb in self.callbacks:  # a callback may replace a step's batch (helpers.interventions.StuckShard)
                x, y = getattr(cb, "batch", lambda step, x, y: (x, y))(self.step, x, y)
            x, y = x.to(self.device), y.to(self.device)
            logits, loss = self.model(x, y)
            objective = loss
            for cb in self.callbacks:  # a callback may replace the objective (helpers.doremi.DoReMi)
                objective = getattr(cb, "objective", lambda t, x, y, logits, obj: obj)(self, x, y, logits, objective)
            if cfg.z_loss:
                objective = loss + cfg.z_loss * torch.logsumexp(logits, dim=-1).pow(2).mean()
            watched = any(m.wants_grad_norm(self.step + 1) for m in self._monitors)
            updates.step(objective, lr=lr, advance=False, record=loss, grad_norm=watched)
            self.step += 1
            self.last_loss, self.grad_norm = loss.detach(), updates.grad_norm
            h.lr.append(lr)
            for cb in self.callbacks:
                getattr(cb, "on_step_end", lambda t: None)(self)
            if self.step == cfg.steps or (cfg.eval_every and self.step % cfg.eval_every == 0):
                h.train_loss.extend(updates.pop_losses())
                self._record_eval()
                updates.bar.set_postfix(val_loss=f"{h.eval_val[-1]:.3f}", refresh=False)
            updates.advance()
        h.train_loss.extend(updates.pop_losses())
        h.seconds += updates.close()
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
    ``helpers.fit.cached_fit``). Runs with callbacks are never cached: a callback may observe or change the run.
    """
    if model_cfg.vocab_size != corpus.vocab_size:
        raise ValueError(
            f"GPTConfig.vocab_size={model_cfg.vocab_size} but the corpus has {corpus.vocab_size} tokens; "
            "set vocab_size=corpus.vocab_size"
        )
    key = {"model": model_cfg.to_dict(), "train": train_cfg.result_key(), "data": corpus.fingerprint}
    if init is not None:
        if init.cfg != model_cfg:
            raise ValueError(
                f"init was built with {init.cfg} but model_cfg is {model_cfg}; "
                "fine-tune with the starting model's own config (model_cfg=init.cfg)"
            )
        key["init"] = state_fingerprint(init)

    def run(device: torch.device):
        model = GPT(model_cfg)
        if init is not None:
            model.load_state_dict({k: v.detach().cpu() for k, v in init.state_dict().items()})
        trainer = Trainer(model, corpus, train_cfg, callbacks, device=device)
        return model, trainer.fit()

    return cached_fit(
        key, run, lambda: GPT(model_cfg), seed=train_cfg.seed, device=train_cfg.device,
        cache=False if callbacks else cache, label=train_cfg.desc or model_cfg.name, quiet=not train_cfg.progress,
    )  # fmt: skip
