"""Chapter 4's figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_transfer``: the zero-shot losses between domains as a heat map centred on ln 256, and the pair gains
  with their seed spread;
- ``plot_law``: the mixing law's predicted against measured loss, fitted proxies and held-out mixtures;
- ``plot_doremi``: DoReMi's domain weights during the proxy's run, and the main models' excess losses.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.patches import Patch

from .book.plots import new_figure
from .ch04_transfer import UNIFORM_LOSS, gain_verdict
from .mixture import DOMAINS

VERDICT_COLORS = {"positive": "C0", "none": "0.6", "negative": "C3"}


def plot_transfer(zero_mean: np.ndarray, gains: dict):
    """Left: loss on each domain (columns) of a model trained on one domain alone (rows), coloured blue below
    ln 256 (something carried over) and red above (worse than knowing nothing). Right: the gain on the target
    from half of a run's data coming from the helper, mean and seed standard deviation, coloured by verdict."""
    fig, (heat, bars) = new_figure(2, width=9.4, height=3.9, gridspec_kw={"width_ratios": [1, 1.25]})
    norm = TwoSlopeNorm(vcenter=UNIFORM_LOSS, vmin=zero_mean.min(), vmax=zero_mean.max())
    image = heat.imshow(zero_mean, cmap="RdBu_r", norm=norm)
    for i in range(len(DOMAINS)):
        for j in range(len(DOMAINS)):
            shade = abs(norm(zero_mean[i, j]) - 0.5) > 0.3  # a dark cell: white text
            heat.text(j, i, f"{zero_mean[i, j]:.2f}", ha="center", va="center", fontsize=9, color="w" if shade else "k")
    heat.set_xticks(range(len(DOMAINS)), DOMAINS)
    heat.set_yticks(range(len(DOMAINS)), DOMAINS)
    heat.set_xlabel("evaluated on")
    heat.set_ylabel("trained on (alone)")
    heat.grid(False)
    fig.colorbar(image, ax=heat, shrink=0.8, label=f"loss (nats/byte); ln 256 = {UNIFORM_LOSS:.2f}")
    order = sorted(gains, key=lambda k: gains[k]["gain"].mean())
    means = [gains[k]["gain"].mean() for k in order]
    sds = [np.std(gains[k]["gain"], ddof=1) for k in order]
    colors = [VERDICT_COLORS[gain_verdict(gains[k]["gain"])] for k in order]
    bars.barh(range(len(order)), means, xerr=sds, color=colors, capsize=2)
    bars.set_yticks(range(len(order)), [f"{h} → {t}" for h, t in order], fontsize=8)
    bars.axvline(0, color="k", lw=0.8)
    bars.set_xlabel("gain on the target (nats/byte)")
    handles = [Patch(color=color, label=verdict) for verdict, color in VERDICT_COLORS.items()]
    bars.legend(handles=handles, fontsize=8, loc="lower right", title="verdict", title_fontsize=8)
    fig.tight_layout()
    return fig


def plot_law(predicted_fit, measured_fit, predicted_held, measured_held):
    """Measured against predicted loss per domain: the proxies the laws were fitted on (dots) and the held-out
    mixtures they predicted before those were trained (crosses), with the line of perfect prediction."""
    fig, ax = new_figure(1, width=5.6, height=4.2)
    for j, name in enumerate(DOMAINS):
        ax.plot(predicted_fit[:, j], measured_fit[:, j], "o", color=f"C{j}", ms=4, alpha=0.6, label=f"{name}, fitted")
        ax.plot(predicted_held[:, j], measured_held[:, j], "x", color=f"C{j}", ms=8, mew=2, label=f"{name}, held out")
    lo = min(predicted_fit.min(), measured_fit.min(), measured_held.min()) - 0.05
    hi = max(predicted_fit.max(), measured_fit.max(), measured_held.max()) + 0.05
    ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="perfect prediction")
    ax.set_xlabel("predicted loss (nats/byte)")
    ax.set_ylabel("measured loss (nats/byte)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def plot_doremi(evidence: dict):
    """Left: the proxy's domain weights during DoReMi's game (seed 0, every 10 steps) and their averages over
    the run (dashed: the mixture DoReMi outputs). Right: each domain's excess loss over its specialist for the
    main models trained on the uniform mixture and on DoReMi's, mean and seed standard deviation."""
    fig, (traj, bars) = new_figure(2, width=9.4, height=3.6)
    path = evidence["trajectories"][0]
    steps = 1 + 10 * np.arange(len(path))  # the grid kept the weights of every 10th step
    for j, name in enumerate(DOMAINS):
        traj.plot(steps, path[:, j], color=f"C{j}", lw=1.2, label=name)
        traj.axhline(evidence["mixtures"][0].weight(name), color=f"C{j}", ls="--", lw=0.8)
    traj.set_xlabel("proxy training step")
    traj.set_ylabel("domain weight α")
    traj.legend(fontsize=8)
    spec = evidence["specialists"]
    x = np.arange(len(DOMAINS))
    for k, (label, losses) in enumerate((("uniform", evidence["uniform"]), ("DoReMi", evidence["doremi"]))):
        excess = losses - spec
        bars.bar(x + (k - 0.5) * 0.38, excess.mean(axis=0), 0.38, yerr=excess.std(axis=0, ddof=1), capsize=2,
                 color=("0.6", "C1")[k], label=f"main model, {label} mixture")  # fmt: skip
    bars.set_xticks(x, DOMAINS)
    bars.axhline(0, color="k", lw=0.8)
    bars.set_ylabel("excess over the specialist (nats/byte)")
    bars.legend(fontsize=8)
    fig.tight_layout()
    return fig
