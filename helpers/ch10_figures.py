"""Chapter 10's figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_rm_accuracy``: reward-model accuracy against the number of labelled pairs;
- ``plot_ppo``: proxy reward, gold reward and KL along PPO runs;
- ``plot_bon_fits``: best-of-n gold gain (with Gao et al.'s fit) and proxy reward against d = √KL;
- ``plot_rl``: PPO's gold gain against d with the RL fit, and the final gold reward by KL coefficient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .book.plots import new_figure
from .rl import gao_bon, gao_rl


def plot_rm_accuracy(acc_by: Mapping[int, Sequence[float]], ceiling: float):
    """Held-out preference accuracy against labelled pairs (log axis): a dot per seed of ``acc_by``
    (pairs -> accuracies), their mean, the labels' ``ceiling`` and chance."""
    pairs = list(acc_by)
    fig, ax = new_figure(width=6.0, height=3.6)
    for p in pairs:
        ax.plot([p] * len(acc_by[p]), acc_by[p], "o", color="C0", alpha=0.5, ms=4)
    mean = [np.mean(acc_by[p]) for p in pairs]
    ax.plot(pairs, mean, "-", color="C0", label=f"reward model (mean of {len(acc_by[pairs[0]])} seeds)")
    ax.axhline(ceiling, color="C2", ls="--", lw=1, label="ceiling: the gold reward itself")
    ax.axhline(0.5, color="gray", ls=":", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set_xticks(pairs, labels=[f"{p:,}" for p in pairs])
    ax.minorticks_off()
    ax.set_xlabel("labelled pairs the reward model is trained on")
    ax.set_ylabel("held-out preference accuracy")
    ax.legend(loc="lower right")
    return fig


def plot_ppo(ppo: Mapping, gold_sft: float):
    """Proxy reward, gold reward (with the SFT model's ``gold_sft``) and KL to SFT against PPO iteration,
    one line per run of ``ppo`` (KL coefficient -> result)."""
    fig, axes = new_figure(ncols=3, width=9.2, height=3.3)
    for kl, res in ppo.items():
        h = res.history.records
        label = f"β_KL = {kl}" if kl else "β_KL = 0 (no leash)"
        for ax, key in zip(axes, ("proxy", "gold", "kl")):
            ax.plot(h["iteration"], h[key], "o-", ms=3, label=label)
    axes[1].axhline(gold_sft, color="gray", ls=":", lw=1, label="SFT")
    for ax, ylabel in zip(axes, ("proxy reward (standardised)", "gold reward r*", "KL(π ‖ π_SFT) (nats)")):
        ax.set_xlabel("PPO iteration")
        ax.set_ylabel(ylabel)
    axes[1].legend()
    fig.tight_layout()
    return fig


def plot_bon_fits(fits: Mapping[int, Mapping]):
    """Left: best-of-n gold reward gain over SFT against d = √KL for each number of labelled pairs in
    ``fits`` (pairs -> ``ch10_tables.bon_fit``), with its fitted d(α − βd). Right: the proxy reward."""
    fig, axes = new_figure(ncols=2, width=9.4, height=3.6)
    for i, (p, f) in enumerate(fits.items()):
        grid = np.linspace(0, f["d"][-1], 100)
        axes[0].plot(f["d"], f["gain"], "o", color=f"C{i}", ms=3)
        axes[0].plot(grid, gao_bon(grid, f["alpha"], f["beta"]), "-", color=f"C{i}", label=f"{p:,} pairs")
        axes[1].plot(f["d"], f["proxy"], "o-", color=f"C{i}", ms=3, label=f"{p:,} pairs")
    axes[0].set_ylabel("gold reward gain over SFT")
    axes[1].set_ylabel("proxy reward (standardised)")
    for ax in axes:
        ax.set_xlabel("d = √KL(best-of-n ‖ SFT) (nats$^{1/2}$)")
    axes[0].legend()
    fig.tight_layout()
    return fig


def plot_rl(runs: Mapping[float, Mapping], finals: Sequence, alpha: float, beta: float, gold_sft: float):
    """Left: every evaluation after the first of each PPO run (``runs``: KL coefficient -> curves) as gold
    reward gain against d = √KL, with the fitted d(α − β log d). Right: the final gold reward by KL
    coefficient (``finals``: [coefficient, proxy, gold, KL] rows) beside the SFT model's."""
    fig, axes = new_figure(ncols=2, width=9.4, height=3.6)
    top = 0.0
    for i, (k, h) in enumerate(runs.items()):
        d = np.sqrt(np.maximum(h["kl"], 0))
        g = np.array(h["gold"]) - h["gold"][0]
        axes[0].plot(d[1:], g[1:], "o", ms=3, color=f"C{i}", label=f"β_KL = {k}")
        top = max(top, d[1:].max())
    grid = np.linspace(0.05, top, 200)
    label = f"d(α − β log d): α={alpha:.2f}, β={beta:.2f}"
    axes[0].plot(grid, gao_rl(grid, alpha, beta), "k-", lw=1, label=label)
    axes[0].set_xlabel("d = √KL(π ‖ π_SFT) (nats$^{1/2}$)")
    axes[0].set_ylabel("gold reward gain over SFT")
    axes[0].legend(fontsize=8)
    axes[1].plot([f[0] for f in finals], [f[2] for f in finals], "o-")
    axes[1].axhline(gold_sft, color="gray", ls=":", lw=1, label="SFT")
    axes[1].legend()
    axes[1].set_xscale("symlog", linthresh=0.003)
    axes[1].set_xlim(left=0)
    axes[1].set_xlabel("KL coefficient β_KL")
    axes[1].set_ylabel("gold reward after 80 iterations")
    fig.tight_layout()
    return fig
