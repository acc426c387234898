"""Interventions on a running training: trainer callbacks that change a run, for experiments on faults and
remedies (pass them as ``train(..., callbacks=[...])``; runs with callbacks are never cached).

- ``LRFault(start, stop, factor)``: a learning-rate error, the rate multiplied by ``factor`` on steps
  ``start`` to ``stop - 1``: the fault a mistyped config or a schedule bug injects into a real run.
- ``StuckShard(start, stop, batches)``: a data loader stuck on one shard: from step ``start`` to ``stop - 1``
  the run is served the same ``batches`` batches over and over instead of fresh text.
- ``MixtureShift(start, sampler)``: the data mixture changes mid-run: from step ``start`` on, every batch comes
  from ``sampler`` (e.g. another ``helpers.mixture.MixedCorpus``'s), as when a run moves to a new data phase.
- ``SpikeRollback(every)``: the remedy PaLM used for loss spikes (Chowdhery et al. 2023, §5.1): keep
  snapshots of the model and optimizer; when a step's training loss is a spike (``helpers.monitor.spikes``'
  rule, applied online to the losses seen so far), restore the older of the last two snapshots and carry on.
  The data sampler is not rewound, so the batches around the spike are skipped rather than replayed, and the
  schedule keeps counting: the steps between the snapshot and the spike are the remedy's cost.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .config import positive_int
from .monitor import spikes


class LRFault:
    """Trainer callback: multiply the learning rate of steps ``start <= step < stop`` (0-based) by ``factor``."""

    def __init__(self, start: int, stop: int, factor: float):
        if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop):
            raise ValueError(f"LRFault(start={start!r}, stop={stop!r}): need whole steps with 0 <= start < stop")
        if not factor > 0:
            raise ValueError(f"LRFault(factor={factor!r}): the factor multiplies the rate, so it must be > 0")
        self.start, self.stop, self.factor = start, stop, factor

    def lr_factor(self, step: int) -> float:
        """The multiplier of step ``step``'s learning rate: ``factor`` inside the fault, 1 outside."""
        return self.factor if self.start <= step < self.stop else 1.0


class StuckShard:
    """Trainer callback: on steps ``start <= step < stop`` (0-based) the run trains on the first ``batches``
    batches it drew from ``start`` on, again and again in turn, as a data loader stuck on one small shard
    would serve them."""

    def __init__(self, start: int, stop: int, batches: int = 4):
        if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop):
            raise ValueError(f"StuckShard(start={start!r}, stop={stop!r}): need whole steps with 0 <= start < stop")
        if not positive_int(batches):
            raise ValueError(f"StuckShard(batches={batches!r}): the stuck shard holds 1 or more batches")
        self.start, self.stop, self.batches = start, stop, batches
        self._shard: list[tuple[torch.Tensor, torch.Tensor]] = []

    def batch(self, step: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch step ``step`` trains on: ``(x, y)`` outside the fault, a batch of the stuck shard inside."""
        if not self.start <= step < self.stop:
            return x, y
        if len(self._shard) < self.batches:
            self._shard.append((x, y))
        return self._shard[(step - self.start) % self.batches]


class MixtureShift:
    """Trainer callback: from step ``start`` (0-based) on, train on batches drawn from ``sampler`` (anything
    with ``sample() -> (x, y)``, such as ``MixedCorpus.sampler("train", context, batch_size)``) instead of the
    run's own."""

    def __init__(self, start: int, sampler):
        if not (isinstance(start, int) and start >= 0):
            raise ValueError(f"MixtureShift(start={start!r}): the shift happens at a whole step >= 0")
        if not callable(getattr(sampler, "sample", None)):
            raise ValueError("MixtureShift(sampler=...): pass a batch sampler, e.g. corpus.sampler('train', 64, 32)")
        self.start, self.sampler = start, sampler

    def batch(self, step: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch step ``step`` trains on: ``(x, y)`` before the shift, one from ``sampler`` after it."""
        return (x, y) if step < self.start else self.sampler.sample()


@dataclass(frozen=True)
class Rollback:
    """One rollback: the spike at ``step`` (loss ``loss``) sent the run back to the snapshot of ``to_step``."""

    step: int
    to_step: int
    loss: float


class SpikeRollback:
    """Trainer callback: roll back to an earlier snapshot of the model and optimizer when the training loss
    spikes (see the module docstring). A snapshot is taken every ``every`` steps; the spike rule is
    ``helpers.monitor.spikes`` with ``window``, ``threshold`` and ``min_rise``; ``events`` lists the rollbacks
    and ``wasted_steps`` counts the steps they undid."""

    def __init__(self, every: int = 25, window: int = 30, threshold: float = 6.0, min_rise: float = 0.05):
        if not positive_int(every):
            raise ValueError(f"SpikeRollback(every={every!r}): snapshot every 1 or more steps (e.g. every=25)")
        spikes([0.0], window=window, threshold=threshold, min_rise=min_rise)  # validates the rule's settings
        self.every, self.window, self.threshold, self.min_rise = every, window, threshold, min_rise
        self.events: list[Rollback] = []
        self._losses: list[float] = []
        self._snapshots: list[tuple[int, dict, dict]] = []

    @property
    def wasted_steps(self) -> int:
        """Optimizer steps whose updates a rollback undid (each counted once, however often it was undone)."""
        return len({s for e in self.events for s in range(e.to_step + 1, e.step + 1)})

    def on_step_end(self, trainer) -> None:
        """Roll back when this step's loss is a spike; otherwise remember it and snapshot on schedule."""
        loss = trainer.last_loss.item()
        past = self._losses[-self.window :]
        flagged = not np.isfinite(loss) or (
            len(past) == self.window
            and len(spikes([*past, loss], window=self.window, threshold=self.threshold, min_rise=self.min_rise)) > 0
        )
        if flagged and self._snapshots:
            to_step, model_state, optim_state = self._snapshots[0]
            trainer.model.load_state_dict(model_state)
            trainer.optimizer.load_state_dict(copy.deepcopy(optim_state))
            self.events.append(Rollback(trainer.step, to_step, loss))
            return
        if not np.isfinite(loss):
            return
        self._losses.append(loss)
        if trainer.step % self.every == 0:
            model_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            optim_state = copy.deepcopy(trainer.optimizer.state_dict())
            self._snapshots = [*self._snapshots, (trainer.step, model_state, optim_state)][-2:]
