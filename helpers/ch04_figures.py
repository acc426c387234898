"""Chapter 4's figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_transfer``: the zero-shot losses between domains as a heat map centred on ln 256, and the pair gains
  with their seed spread;
- ``plot_law``: the mixing law's predicted against measured loss, fitted proxies and held-out mixtures;
- ``plot_doremi``: DoReMi's domain weights during the proxy's run, and the main models' excess losses;
- ``law_prediction`` / ``plot_prediction`` / ``mixture_explorer``: the fitted laws' loss per domain for a
  mixture set with four sliders (a widget); ``share_curves`` / ``plot_shares``, its static twin, vary one
  domain's share at a time.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.patches import Patch

from .book.plots import new_figure
from .ch04 import CEILING, FLOOR
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


def law_prediction(laws, weights) -> tuple[np.ndarray, np.ndarray]:
    """Raw non-negative ``weights`` over ``DOMAINS`` (a slider's values) as proportions summing to 1, and the
    fitted ``laws``' predicted loss of each domain for them."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(DOMAINS),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights {w.tolist()}: need {len(DOMAINS)} non-negative numbers, not all zero")
    r = w / w.sum()
    return r, np.array([law.predict(r)[0] for law in laws])


def outside_range(r: np.ndarray) -> list[str]:
    """The domains whose share lies outside the proxies' range (``FLOOR`` to ``CEILING``), where a law
    extrapolates."""
    return [d for d, x in zip(DOMAINS, r) if not FLOOR - 1e-9 <= x <= CEILING + 1e-9]


def plot_prediction(laws, weights, ax=None):
    """Bars: the laws' predicted loss per domain for the mixture ``weights``; dashed outlines: the same for
    the uniform mixture; the tick labels give the proportions, the title both mean losses."""
    r, loss = law_prediction(laws, weights)
    _, base = law_prediction(laws, np.ones(len(DOMAINS)))
    if ax is None:
        _, ax = new_figure(1, width=6.0, height=3.4)
    x = np.arange(len(DOMAINS))
    ax.bar(x, loss, 0.6, color=[f"C{j}" for j in x], label="this mixture")
    ax.bar(x, base, 0.6, fill=False, edgecolor="k", ls="--", lw=1, label="uniform mixture")
    for j in x:
        ax.text(j, max(loss[j], base[j]) + 0.02, f"{loss[j]:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [f"{d}\n{share:.0%}" for d, share in zip(DOMAINS, r)])
    ax.set_ylim(2.0, max(loss.max(), base.max()) + 0.3)
    ax.set_ylabel("predicted loss (nats/byte)")
    ax.set_title(f"mean {loss.mean():.3f} (uniform {base.mean():.3f})", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def share_curves(laws, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """One domain's share at a time over the proxies' range (``n`` steps), the other three splitting the rest
    equally: the shares, and the laws' predicted losses ``(varied domain, step, domain)``."""
    shares = np.linspace(FLOOR, CEILING, n)
    curves = []
    for j in range(len(DOMAINS)):
        mixes = np.repeat(((1 - shares) / (len(DOMAINS) - 1))[:, None], len(DOMAINS), axis=1)
        mixes[:, j] = shares
        curves.append(np.stack([law.predict(mixes) for law in laws], axis=1))
    return shares, np.stack(curves)


def plot_shares(laws):
    """The static twin of ``mixture_explorer``: in each panel one domain's share runs over the proxies'
    range while the other three split the rest equally (``share_curves``); lines give each domain's
    predicted loss and the mean over the four (dashed), the dotted line marks the uniform mixture."""
    fig, axes = new_figure(len(DOMAINS), width=9.4, height=3.2, sharey=True)
    shares, curves = share_curves(laws)
    for ax, name, losses in zip(axes, DOMAINS, curves):
        for i, other in enumerate(DOMAINS):
            ax.plot(shares, losses[:, i], color=f"C{i}", lw=1.2, label=other)
        ax.plot(shares, losses.mean(axis=1), "k--", lw=1.2, label="mean")
        ax.axvline(1 / len(DOMAINS), color="0.5", ls=":", lw=1)
        ax.set_xlabel(f"share of {name}")
    axes[0].set_ylabel("predicted loss (nats/byte)")
    axes[-1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def mixture_explorer(laws):
    """Four sliders, one raw weight per domain (normalised to proportions); each move redraws
    ``plot_prediction`` and says when a share leaves the proxies' range. Returns the ipywidgets box; in the
    book its text form stands in and ``plot_shares`` is the static twin."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .book.widgets import figure_png, image_view, view_box

    sliders = [
        widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.01, description=name, continuous_update=False)
        for name in DOMAINS
    ]
    image, note = image_view(), widgets.HTML()

    def redraw(change=None) -> None:
        weights = [s.value for s in sliders]
        if sum(weights) == 0:
            note.value = "<b>All four weights are 0: raise at least one slider.</b>"
            return
        fig, ax = plt.subplots(figsize=(6.0, 3.4))
        plot_prediction(laws, weights, ax)
        fig.tight_layout()
        image.value = figure_png(fig)
        far = outside_range(law_prediction(laws, weights)[0])
        note.value = (
            f"Outside the proxies' range ({FLOOR:.0%} to {CEILING:.0%}) for {', '.join(far)}: "
            "the law is extrapolating there."
            if far
            else "Every share lies within the proxies' range."
        )

    for s in sliders:
        s.observe(redraw, names="value")
    redraw()
    return view_box([widgets.HBox(sliders[:2]), widgets.HBox(sliders[2:]), image, note], "mixture explorer")
