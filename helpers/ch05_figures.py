"""Chapter 5's figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_family``: the family's final domain losses, multiple-choice accuracy and exact match against compute;
- ``plot_two_step``: a two-step forecast (compute -> task loss -> accuracy) beside the direct one;
- ``plot_gpt4``: GPT-4's -E[log pass_rate] = α C^(-k) fitted on the ladder, with the targets;
- ``plot_collapse``: accuracy against the pretraining loss at every checkpoint of every size (Du et al. 2024);
- ``plot_chain``: the per-item correlations with compute of the four metrics of Schaeffer et al. (2024)'s chain;
- ``plot_decay``: an ability that decays after the mixture shifts, and the loss that keeps falling;
- ``plot_emergence``: chapter 6's addition forecast from its smallest models, and the jump it misses;
- ``plot_forecast`` / ``forecast_explorer``: one suite and metric's forecasts (a widget with two menus), and
  ``plot_forecasts``, its static twin, every suite's forecasts side by side.
"""

from __future__ import annotations

import numpy as np

from .book.plots import log_axes, new_figure
from .ch05 import SHIFT
from .ch05_forecast import CHAIN, CHANCE, by_width, direct, finals, ladder, targets, two_step
from .scaling import ScalingFitError

SUITE_COLORS = {"facts": "C0", "sums": "C3", "verse": "C2", "code": "C1"}
DOMAIN_COLORS = {"kjv": "C2", "code": "C1", "arith": "C0"}
METRIC_NAMES = {"mc_accuracy": "multiple-choice accuracy", "exact_match": "exact match"}


def _log_log(ax) -> None:
    """Log scales on both axes; plain numbers at the decades of a y axis spanning several, no crowded minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    log_axes(ax, y_format="{:g}")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _mean_by_width(runs, values):
    groups = by_width(runs, values)
    widths = sorted(groups)
    return widths, np.array([groups[w].mean() for w in widths]), np.array([groups[w].std(ddof=1) for w in widths])


def plot_family(runs):
    """Left: each domain's validation loss at the end of training; middle and right: each suite's multiple-choice
    accuracy and exact match; all against training compute, mean over seeds (lines) and each seed (dots)."""
    fig, axes = new_figure(3, width=9.4, height=3.3)
    compute = _mean_by_width(runs, [r.compute[-1] for r in runs])[1]
    for name, color in DOMAIN_COLORS.items():
        vals = [r.domains[name][-1] for r in runs]
        axes[0].plot(compute, _mean_by_width(runs, vals)[1], "o-", color=color, ms=3, label=name)
    for ax, metric in zip(axes[1:], METRIC_NAMES):
        for suite, color in SUITE_COLORS.items():
            c, v = finals(runs, suite, metric)
            ax.plot(c, v, ".", color=color, alpha=0.4, ms=4)
            ax.plot(compute, _mean_by_width(runs, v)[1], "-", color=color, label=suite)
        ax.axhline(CHANCE[metric], color="0.5", ls=":", lw=1)
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(METRIC_NAMES[metric])
    log_axes(axes[0], y=False)
    axes[0].set_ylabel("validation loss (nats/byte)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training compute C (FLOPs)")
    axes[0].legend(title="domain")
    axes[1].legend(title="suite")
    fig.tight_layout()
    return fig


def _target_marks(ax, runs, x_of, y_of, label="targets (measured)"):
    tgt = targets(runs)
    ax.plot([x_of(r) for r in tgt], [y_of(r) for r in tgt], "s", mfc="none", color="k", ms=5, label=label)


def plot_two_step(runs, suite: str, metric: str = "mc_accuracy"):
    """Left: step 1, the task loss of the ladder's final checkpoints against compute and its saturating power law;
    middle: step 2, accuracy against task loss at every ladder checkpoint and the sigmoid link; right: accuracy
    against compute, the two-step and the direct forecasts, and the targets as measured."""
    fig, axes = new_figure(3, width=9.4, height=3.4)
    two, one = two_step(runs, suite, metric), direct(runs, suite, metric)
    step1, step2 = two.fits
    lad = ladder(runs)
    grid = np.geomspace(min(r.compute[-1] for r in lad) / 1.5, max(r.compute[-1] for r in runs) * 1.5, 100)
    c, loss = finals(lad, suite, "task_loss")
    axes[0].plot(c, loss, "o", color="C0", ms=4, label="ladder")
    axes[0].plot(grid, step1.predict(grid), "-", color="C0", label="fit")
    _target_marks(axes[0], runs, lambda r: r.compute[-1], lambda r: r.final(suite, "task_loss"))
    log_axes(axes[0], y_format="{:.2f}")
    axes[0].set_xlabel("training compute C (FLOPs)")
    axes[0].set_ylabel("task loss (nats/byte of answer)")
    axes[0].set_title("step 1: compute → task loss")
    x = np.concatenate([r.suites[suite]["task_loss"] for r in lad])
    y = np.concatenate([r.suites[suite][metric] for r in lad])
    axes[1].plot(x, y, ".", color="C0", alpha=0.35, ms=4, label="ladder checkpoints")
    xs = np.linspace(min(x.min(), loss.min()) * 0.8, x.max(), 100)
    axes[1].plot(xs, step2.predict(xs), "-", color="C0", label="sigmoid link")
    _target_marks(axes[1], runs, lambda r: r.final(suite, "task_loss"), lambda r: r.final(suite, metric))
    axes[1].set_xlabel("task loss (nats/byte of answer)")
    axes[1].set_ylabel(METRIC_NAMES[metric])
    axes[1].set_title("step 2: task loss → accuracy")
    c, acc = finals(lad, suite, metric)
    axes[2].plot(c, acc, "o", color="C0", ms=4, label="ladder")
    axes[2].plot(grid, step2.predict(step1.predict(grid)), "-", color="C0", label="two steps")
    axes[2].plot(grid, one.fits[0].predict(np.log(grid)), "--", color="C1", label="direct")
    _target_marks(axes[2], runs, lambda r: r.compute[-1], lambda r: r.final(suite, metric))
    axes[2].set_xscale("log")
    axes[2].set_xlabel("training compute C (FLOPs)")
    axes[2].set_ylabel(METRIC_NAMES[metric])
    axes[2].set_title("the forecasts")
    for ax in axes[1:]:
        ax.axhline(CHANCE[metric], color="0.5", ls=":", lw=1)
    axes[2].legend()
    fig.tight_layout()
    return fig


def plot_gpt4(runs, forecasts: dict):
    """-E[log pass_rate] against compute for each suite's ``gpt4_forecast`` (log-log): the ladder's final
    checkpoints (circles), the fit extended to the targets (line), the targets as measured (squares, mean over
    seeds) and as forecast (crosses)."""
    fig, ax = new_figure(1, width=6.4, height=3.8)
    for suite, f in forecasts.items():
        law = f.fits[0]
        color = SUITE_COLORS[suite]
        c, logp = finals(ladder(runs), suite, "logp")
        grid = np.geomspace(c.min() / 1.5, f.compute.max() * 1.5, 50)
        ax.plot(c, -logp, "o", color=color, ms=4)
        ax.plot(grid, law.predict(grid), "-", color=color, label=f"{suite} (k = {law.alpha:.2f})")
        ax.plot(f.compute, f.measured, "s", mfc="none", color=color, ms=6)
        ax.plot(f.compute, f.predicted, "x", color=color, ms=6)
    _log_log(ax)
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel("−E[log pass rate] (nats)")
    ax.legend(title="circles: ladder; squares: targets", loc="lower left", ncol=2)
    fig.tight_layout()
    return fig


def plot_collapse(collapsed: dict, x: np.ndarray, y: np.ndarray, widths: np.ndarray, metric: str, loss_at: float):
    """Accuracy against the pretraining loss at every checkpoint of every size, coloured by width, with the one
    link fitted to them all and the loss ``loss_at`` above which the ability is at chance."""
    fig, ax = new_figure(1, width=6.4, height=3.8)
    sizes = sorted(set(widths.tolist()))
    colors = [f"C{i}" for i in range(len(sizes))]
    for w, color in zip(sizes, colors):
        ax.plot(x[widths == w], y[widths == w], ".", color=color, ms=5, alpha=0.7, label=f"{w} wide")
    xs = np.linspace(x.min(), x.max(), 100)
    ax.plot(xs, collapsed["link"].predict(xs), "k-", lw=1.2, label="one link for all sizes")
    ax.axhline(CHANCE.get(metric, 0.0), color="0.5", ls=":", lw=1)
    ax.axvline(loss_at, color="0.3", ls="--", lw=1)
    ax.annotate("at chance above here", xy=(loss_at, 0.9), xytext=(6, 0), textcoords="offset points", fontsize=8)
    ax.invert_xaxis()
    ax.set_xlabel("pretraining loss on the mixture (nats/byte; falls to the right)")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    ax.legend(ncol=2)
    fig.tight_layout()
    return fig


def plot_chain(correlations: dict):
    """For each suite (``correlations[suite]`` from ``chain_correlations``), the distribution over items of the
    correlation with log compute of each metric along the chain, as box plots."""
    fig, axes = new_figure(len(correlations), width=9.4, height=3.3, sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (suite, corr) in zip(axes, correlations.items()):
        data = [corr[m]["per_item"][np.isfinite(corr[m]["per_item"])] for m in CHAIN]
        ax.boxplot(data, widths=0.6, showfliers=False)
        ax.plot(range(1, len(CHAIN) + 1), [corr[m]["mean"] for m in CHAIN], "D", color="C3", ms=4, label="mean")
        ax.set_xticks(range(1, len(CHAIN) + 1), ["log p", "p", "p | choices", "correct"], rotation=30)
        ax.set_title(suite)
        ax.axhline(0, color="0.5", lw=0.8)
    axes[0].set_ylabel("per-item correlation with log C")
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    return fig


def plot_decay(decay: dict, stops: list):
    """Left: the facts suite's exact match per seed, before and after the mixture shift (dotted line), with each
    seed's early stop (the checkpoint it keeps, a circle); right: the loss on the arithmetic domain and on the
    shifted mixture's text, mean over seeds."""
    fig, (left, right) = new_figure(2, width=9.4, height=3.4)
    steps = decay["steps"]
    for i, em in enumerate(decay["facts"]):
        line = left.plot(steps, em, "-", lw=1.2, label=f"seed {i}")[0]
        if stops[i] is not None:
            k = list(steps).index(stops[i].best_step)
            left.plot(steps[k], em[k], "o", mfc="none", color=line.get_color(), ms=7)
    right.plot(steps, decay["arith"].mean(axis=0), "-", color=DOMAIN_COLORS["arith"], label="arithmetic domain")
    right.plot(steps, decay["text"].mean(axis=0), "-", color="C2", label="0.7 kjv + 0.3 code (the new mixture)")
    for ax in (left, right):
        ax.axvline(SHIFT, color="0.4", ls=":", lw=1)
        ax.set_xlabel("training step")
    left.set_ylabel("facts: exact match")
    right.set_ylabel("validation loss (nats/byte)")
    left.legend(title="circles: early stop")
    right.legend()
    fig.tight_layout()
    return fig


def plot_forecast(runs, suite: str, metric: str, ax=None) -> str:
    """One suite and metric: the ladder's final checkpoints, the direct and the two-step forecasts over compute and
    the targets as measured. Returns a line on the forecasts' errors, or on why a fit refused the data."""
    if ax is None:
        _, ax = new_figure(1, width=6.0, height=3.6)
    lad = ladder(runs)
    c, acc = finals(lad, suite, metric)
    ax.plot(c, acc, "o", color=SUITE_COLORS[suite], ms=4, label="ladder")
    _target_marks(ax, runs, lambda r: r.compute[-1], lambda r: r.final(suite, metric))
    grid = np.geomspace(c.min() / 1.5, max(r.compute[-1] for r in runs) * 1.5, 100)
    notes = []
    for method, label, style in ((two_step, "two steps", "-"), (direct, "direct", "--")):
        try:
            f = method(runs, suite, metric)
        except ScalingFitError as err:
            notes.append(f"{label}: no fit ({str(err).split(': ', 1)[1].split(';')[0]})")
            continue
        fits = f.fits
        curve = fits[1].predict(fits[0].predict(grid)) if len(fits) == 2 else fits[0].predict(np.log(grid))
        ax.plot(grid, curve, style, color="k" if len(fits) == 2 else "0.5", lw=1.2, label=f.method)
        notes.append(f"{f.method}: error " + ", ".join(f"{e:+.2f}" for e in f.error))
    ax.axhline(CHANCE[metric], color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel(METRIC_NAMES[metric])
    ax.set_title(suite, fontsize=10)
    ax.legend(loc="upper left")
    return "; ".join(notes)


def plot_forecasts(runs, metric: str = "mc_accuracy"):
    """The static twin of ``forecast_explorer``: ``plot_forecast`` for every suite, side by side."""
    fig, axes = new_figure(4, width=9.4, height=3.2, sharey=True)
    notes = {suite: plot_forecast(runs, suite, metric, ax) for suite, ax in zip(SUITE_COLORS, axes)}
    for ax in axes[1:]:
        ax.set_ylabel("")
        ax.legend().remove()
    fig.tight_layout()
    return fig, notes


def forecast_explorer(runs):
    """Two menus, a suite and a metric; each choice redraws ``plot_forecast`` and states the forecasts' errors (or
    why a fit refused the data). Returns the ipywidgets box; ``plot_forecasts`` is its static twin."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .book.widgets import figure_png, image_view, view_box

    suite = widgets.Dropdown(options=list(SUITE_COLORS), value="verse", description="suite")
    metric = widgets.Dropdown(options=list(METRIC_NAMES), value="mc_accuracy", description="metric")
    image, note = image_view(), widgets.HTML()

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(6.0, 3.6))
        text = plot_forecast(runs, suite.value, metric.value, ax)
        fig.tight_layout()
        image.value = figure_png(fig)
        note.value = f"<b>Forecast errors for the targets (predicted − measured):</b> {text}"

    suite.observe(redraw, names="value")
    metric.observe(redraw, names="value")
    redraw()
    return view_box([widgets.HBox([suite, metric]), image, note], "forecast explorer")


def plot_emergence(e: dict):
    """Chapter 6's addition family (``ch05_forecast.emergence_forecast``): left, -log p(answer) against compute,
    the ladder's sizes (filled) and the larger ones (open), with GPT-4's law fitted on the ladder and extended;
    right, exact match against compute, the ladder's range shaded."""
    fig, (left, right) = new_figure(2, width=9.4, height=3.4)
    lad, big = e["ladder"], ~e["ladder"]
    grid = np.geomspace(e["compute"].min() / 1.3, e["compute"].max() * 1.3, 100)
    left.plot(e["compute"][lad], e["nll"][lad], "o", color="C0", ms=5, label="ladder (mean of 5 seeds)")
    left.plot(e["compute"][big], e["nll"][big], "o", mfc="none", color="C0", ms=5, label="larger models")
    left.plot(grid, e["law"].predict(grid), "--", color="C3", label="GPT-4's law, fitted on the ladder")
    _log_log(left)
    left.set_ylabel("−log p(answer) (nats)")
    right.plot(e["compute"], e["exact_match"], "o-", color="C0", ms=5)
    right.axvspan(grid[0], e["compute"][lad].max() * 1.1, color="0.85", label="the ladder's range")
    right.set_xscale("log")
    right.set_ylabel("exact match")
    for ax in (left, right):
        ax.set_xlabel("training compute C (FLOPs)")
        ax.legend(loc="upper left" if ax is right else "lower left")
    fig.tight_layout()
    return fig
