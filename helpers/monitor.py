"""Watching a run: a training monitor the trainer carries, and two rules that raise alarms.

- ``TrainingMonitor(every)`` is a trainer callback (``TrainConfig.monitor_every`` attaches one). Every
  ``every`` steps it records, in ``History.records``: the step's training loss; the global gradient norm
  before clipping; the update-to-weight ratio ‖ΔW‖ / ‖W‖ of that step over all weight matrices; and, on a
  fixed batch, the largest attention logit of each layer and the output softmax's log-partition log Z
  (``GPT.logit_stats``), the two quantities whose growth Wortsman et al. (2023) tie to instability.
- ``spikes(values)`` flags values far above their recent past: a rolling median and median absolute
  deviation (MAD) over a trailing window, a robust rule that one outlier in the window cannot mask.
- ``band_alarm(steps, values, low, high)`` fires when a run leaves a predicted band for several
  evaluations in a row.
- ``early_stop(steps, values)`` is patience-based early stopping on a validation curve.
- ``plot_monitor(history)`` draws what the monitor recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .config import positive_int

# History.records keys written by TrainingMonitor, one entry per monitored step
MONITOR_KEYS = ("monitor_step", "monitor_loss", "grad_norm", "update_ratio", "attn_logit_max", "log_z_mean")
MAD_TO_STD = 1.4826  # MAD x this = the standard deviation, for normally distributed values


def _matrices(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.dim() >= 2]


class TrainingMonitor:
    """Trainer callback: every ``every`` optimizer steps, record the run's vital signs (see the module
    docstring) into ``trainer.history.records`` under ``MONITOR_KEYS`` (plus ``log_z_max``)."""

    def __init__(self, every: int):
        if not positive_int(every):
            raise ValueError(f"TrainingMonitor(every={every!r}): monitor every 1 or more steps (e.g. every=25)")
        self.every = every
        self._before: list[torch.Tensor] | None = None

    def wants_grad_norm(self, next_step: int) -> bool:
        """Whether the step that will make ``trainer.step == next_step`` is one this monitor records."""
        return next_step % self.every == 0

    def on_step_end(self, trainer) -> None:
        """Record the step just taken if it is a monitored one; keep the weights before the next one if that is."""
        step = trainer.step
        if step % self.every == 0:
            self._record(trainer)
        self._before = None
        if self.wants_grad_norm(step + 1):
            self._before = [p.detach().clone() for p in _matrices(trainer.model)]

    def _record(self, trainer) -> None:
        rec, model = trainer.history.records, trainer.model
        ratio = math.nan
        if self._before is not None:
            after = _matrices(model)
            change = sum((a.detach() - b).pow(2).sum() for a, b in zip(after, self._before))
            size = sum(b.pow(2).sum() for b in self._before)
            ratio = (change.sqrt() / size.sqrt()).item()
        grad = trainer.grad_norm
        x = trainer.eval_sets["train"][0][0].to(trainer.device)
        stats = model.logit_stats(x)
        row = {
            "monitor_step": trainer.step,
            "monitor_loss": trainer.last_loss.item(),
            "grad_norm": math.nan if grad is None else grad.item(),
            "update_ratio": ratio,
            "attn_logit_max": stats["attn_logit_max"],
            "log_z_mean": stats["log_z_mean"],
            "log_z_max": stats["log_z_max"],
        }
        for key, value in row.items():
            rec.setdefault(key, []).append(value)


def monitor_series(history) -> dict[str, np.ndarray]:
    """What a ``TrainingMonitor`` recorded in ``history`` (a ``History`` or its dict), as arrays;
    ``attn_logit_max`` is ``(monitored steps, layers)``. Raises when the run was not monitored."""
    records = history["records"] if isinstance(history, dict) else history.records
    if "monitor_step" not in records:
        raise ValueError(
            "this run carries no monitor records; train it with TrainConfig(monitor_every=25) "
            "(or pass callbacks=[TrainingMonitor(25)])"
        )
    return {
        k: np.asarray(records[k], dtype=int if k == "monitor_step" else float) for k in (*MONITOR_KEYS, "log_z_max")
    }


def spikes(values, window: int = 50, threshold: float = 6.0, min_rise: float = 0.05) -> np.ndarray:
    """Indices ``i`` where ``values[i]`` is a spike: above the median of the ``window`` values before it by
    more than ``threshold`` robust standard deviations (``1.4826 × MAD``) and by more than ``min_rise`` of
    that median (so a flat, noiseless series does not flag its smallest wiggle). The first ``window`` values
    are never flagged: they have no past to compare with. NaNs are never flagged."""
    x = np.asarray(values, dtype=float)
    if window < 3:
        raise ValueError(f"window={window}: a median and MAD need a window of at least 3 values")
    if threshold <= 0 or min_rise < 0:
        raise ValueError(f"threshold={threshold}, min_rise={min_rise}: need threshold > 0 and min_rise >= 0")
    if len(x) <= window:
        return np.array([], dtype=int)
    past = np.lib.stride_tricks.sliding_window_view(x, window)[:-1]  # past[j] = x[j : j + window]
    median = np.nanmedian(past, axis=1)
    mad = np.nanmedian(np.abs(past - median[:, None]), axis=1)
    current = x[window:]
    above = current - median
    with np.errstate(invalid="ignore"):
        flagged = (above > threshold * MAD_TO_STD * mad) & (above > min_rise * np.abs(median))
    return np.flatnonzero(flagged) + window


@dataclass(frozen=True)
class Alarm:
    """A run left its band: ``step`` is when the alarm fired, ``first_step`` the first evaluation outside."""

    step: int
    first_step: int
    value: float
    low: float
    high: float


def band_alarm(steps, values, low, high, patience: int = 2) -> Alarm | None:
    """The first time ``patience`` consecutive evaluations lie outside ``[low, high]`` (arrays aligned with
    ``steps``), or None when the run stays inside. ``patience > 1`` keeps a single noisy evaluation from
    raising an alarm; the alarm fires at the last of the ``patience`` evaluations. A NaN or infinite value
    (a diverged run) counts as outside."""
    steps, values, low, high = (np.asarray(a, dtype=float) for a in (steps, values, low, high))
    if not (steps.shape == values.shape == low.shape == high.shape):
        raise ValueError(
            f"steps, values, low and high must have one entry per evaluation; got shapes "
            f"{steps.shape}, {values.shape}, {low.shape}, {high.shape}"
        )
    if not positive_int(patience):
        raise ValueError(f"patience={patience!r}: need at least 1 evaluation outside the band")
    outside = ~((values >= low) & (values <= high))  # NaN compares False, so it lies outside
    run = 0
    for i, out in enumerate(outside):
        run = run + 1 if out else 0
        if run == patience:
            first = i - patience + 1
            return Alarm(int(steps[i]), int(steps[first]), float(values[i]), float(low[i]), float(high[i]))
    return None


@dataclass(frozen=True)
class EarlyStop:
    """Where ``early_stop`` stopped a run (``step``) and the best evaluation before it, whose checkpoint a
    run keeps (``best_step``, ``best``)."""

    step: int
    best_step: int
    best: float


def early_stop(steps, values, patience: int = 3, min_delta: float = 0.0) -> EarlyStop | None:
    """Patience-based early stopping on a validation curve (``values`` at evaluations ``steps``): the run stops
    at the first evaluation that completes ``patience`` evaluations in a row without beating the best value so
    far by more than ``min_delta``; None when the curve keeps improving to its end."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if steps.shape != values.shape or steps.ndim != 1 or len(steps) == 0:
        raise ValueError(f"steps and values need one entry per evaluation (1-D); got {steps.shape}, {values.shape}")
    if not positive_int(patience) or min_delta < 0:
        raise ValueError(f"patience={patience!r}, min_delta={min_delta!r}: need patience >= 1 and min_delta >= 0")
    best, best_i, waited = values[0], 0, 0
    for i in range(1, len(values)):
        if values[i] < best - min_delta:
            best, best_i, waited = values[i], i, 0
        else:
            waited += 1
            if waited == patience:
                return EarlyStop(int(steps[i]), int(steps[best_i]), float(best))
    return None


def plot_monitor(history, axes=None, label: str = "", color=None):
    """Four panels of a monitored run against the step: training loss, gradient norm (before clipping),
    update-to-weight ratio, and the largest attention logit per layer with the output's mean |log Z|.
    Pass ``axes`` (four of them) to overlay several runs, and a ``color`` to draw a run in one colour
    throughout (its layers then differ by line style); returns the axes."""
    from .book.plots import new_figure

    series = monitor_series(history)
    if axes is None:
        _, axes = new_figure(4, width=11, height=3.2)
    step, prefix = series["monitor_step"], f"{label}: " if label else ""
    axes[0].plot(step, series["monitor_loss"], color=color, label=label or None)
    axes[1].plot(step, series["grad_norm"], color=color, label=label or None)
    axes[2].plot(step, series["update_ratio"], color=color, label=label or None)
    styles = ("-", "-.", (0, (5, 1)), (0, (1, 1)))
    for layer, curve in enumerate(series["attn_logit_max"].T):
        ls = styles[layer % len(styles)] if color is not None else "-"
        axes[3].plot(step, curve, ls=ls, color=color, label=f"{prefix}max attention logit, layer {layer}")
    z_color = "k" if color is None else color
    axes[3].plot(step, series["log_z_mean"], ":", color=z_color, lw=1, label=f"{prefix}mean |log Z| of the output")
    titles = ("training loss (nats/token)", "gradient norm", "update / weight (‖ΔW‖/‖W‖)", "logit size")
    for ax, title in zip(axes, titles):
        ax.set_xlabel("training step")
        ax.set_ylabel(title)
    for ax in axes[1:3]:
        ax.set_yscale("log")
    axes[3].legend(fontsize=8)
    return axes
