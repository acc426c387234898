"""Chapter 9's figures, in the course style (``helpers.book.plots.use_style``); each returns its figure.

- ``plot_formats``: exact match of each answer format against the number of training problems;
- ``plot_length``: digit accuracy per answer column at the trained and longer lengths;
- ``plot_scale``: exact match against model size, and the scratchpad's benefit;
- ``plot_code``: the result of fine-tuning after each pretraining mix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .ch09_tables import LENGTHS, column_accuracy
from .tasks import FORMATS


def plot_formats(add_em: Mapping, add_sizes: Sequence[int], mul_em: Mapping, mul_sizes: Sequence[int]):
    """Exact match (mean line, seeds as dots) of every format against the number of distinct training
    problems, for addition (left; ``add_em``: format -> sizes x seeds) and multiplication (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    panels = ((add_em, add_sizes, "3-digit addition"), (mul_em, mul_sizes, "3-digit × 1-digit multiplication"))
    for ax, (em, sizes, title) in zip(axes, panels):
        for fmt in FORMATS:
            (line,) = ax.plot(sizes, em[fmt].mean(axis=1), "o-", label=fmt)
            for j in range(em[fmt].shape[1]):
                ax.plot(sizes, em[fmt][:, j], ".", color=line.get_color(), alpha=0.5)
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.set_xlabel("distinct training problems")
        ax.set_title(title)
    axes[0].set_ylabel("exact match (1,000 test problems)")
    axes[0].legend()
    return fig


def plot_length(runs: Mapping[str, list]):
    """For each format's best seed (by exact match at the trained length) in ``runs`` (format -> metrics
    by seed), digit accuracy per answer column at each test length, with chance (0.1) dotted."""
    fig, axes = plt.subplots(1, 3, figsize=(11.3, 3.4), sharey=True)
    for ax, fmt in zip(axes, FORMATS):
        best = max(runs[fmt], key=lambda m: m["k"]["exact_match"])
        for key, label in LENGTHS.items():
            acc = column_accuracy(fmt, best[key]["per_position"])
            ax.plot(range(1, len(acc) + 1), acc, "o-", label=label)
        ax.axhline(0.1, color="gray", ls=":", lw=1)
        ax.set_xticks(range(1, 7), ["units", "tens", "100s", "1000s", "10⁴", "10⁵"])
        ax.set_xlabel("answer column")
        ax.set_title(f"{fmt} (its best seed)")
    axes[0].set_ylabel("digit accuracy")
    axes[0].legend(title="test operands")
    return fig


def plot_scale(sizes: Sequence[int], scale_em: Mapping):
    """Left: exact match of every format against model size (mean line, seeds as dots; ``scale_em``:
    format -> sizes x seeds). Right: the scratchpad's benefit over plain and over reversed, mean ± std."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for fmt in FORMATS:
        (line,) = axes[0].plot(sizes, scale_em[fmt].mean(axis=1), "o-", label=fmt)
        seeds = scale_em[fmt].shape[1]
        axes[0].plot(np.repeat(sizes, seeds), scale_em[fmt].ravel(), ".", color=line.get_color(), alpha=0.5)
    for fmt in ("plain", "reversed"):
        gain = scale_em["scratchpad"] - scale_em[fmt]
        label = f"scratchpad − {fmt}"
        axes[1].errorbar(sizes, gain.mean(axis=1), yerr=gain.std(axis=1), fmt="o-", capsize=3, label=label)
    axes[1].axhline(0, color="gray", lw=1)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("non-embedding parameters N")
        ax.legend()
    axes[0].set_ylabel("exact match (1,000 test problems)")
    axes[1].set_ylabel("benefit of the scratchpad (exact match)")
    axes[0].set_title("1,000 training problems, 2,000 steps")
    axes[1].set_title("mean ± std over two seeds")
    return fig


def plot_code(code_acc: Mapping, code_val: Mapping):
    """Digit accuracy (left) and validation loss (right) after fine-tuning, per pretraining mix (``code_acc``
    and ``code_val``: mix -> values by seed): a bar for the mean and a dot per seed."""
    fig, axes = plt.subplots(1, 2, figsize=(11.3, 3.8))
    panels = (
        (code_acc, "digit accuracy after fine-tuning"),
        (code_val, "validation loss after fine-tuning (nats/char)"),
    )
    names = {"prose+add": "prose +\nadd traces", "prose+max": "prose +\nmax traces"}
    for ax, (values, ylabel) in zip(axes, panels):
        for i, mix in enumerate(values):
            ax.bar(i, values[mix].mean(), color="lightgray", edgecolor="gray")
            ax.plot(np.full(len(values[mix]), i), values[mix], "o", color="black")
        ax.set_xticks(range(len(values)), [names.get(m, m) for m in values])
        ax.set_ylabel(ylabel)
    axes[1].set_ylim(1.4, 1.6)
    fig.suptitle("pretraining, then 500 steps on 1,000 reversed addition problems (dots: seeds)")
    return fig
