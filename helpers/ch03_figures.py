"""Chapter 3's figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_live_monitor``: what the training monitor saw on a few live runs, overlaid;
- ``plot_lr_sweep``: final loss against learning rate, one panel per width, one line per variant;
- ``plot_logit_growth``: the largest attention logit and the largest |log Z| against learning rate;
- ``plot_early_spike``: the first steps of runs with and without warmup, loss and gradient norm;
- ``plot_fault``: a clean run, a learning-rate fault and the rollback remedy, loss and gradient norm;
- ``plot_repeat``: final loss against epochs of repeated data with Muennighoff et al.'s fit, and the
  validation curves with their early stops;
- ``stability_explorer``: the cached sweep, one learning rate and variant at a time (a widget).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .book.plots import hline, new_figure
from .monitor import monitor_series, plot_monitor

STYLE = {"neither": "o-", "qk-layernorm": "s-", "z-loss": "^--", "both": "d:"}


def plot_live_monitor(results: Mapping[str, object]):
    """The four monitor panels (``helpers.monitor.plot_monitor``) on a 2 x 2 grid, with every run of
    ``results`` (label -> a monitored ``TrainResult``) overlaid in a colour of its own; logit sizes on a
    log axis."""
    fig, axes = plt.subplots(2, 2, figsize=(9.4, 6.4))
    axes = axes.ravel()
    for i, (label, result) in enumerate(results.items()):
        plot_monitor(result.history, axes=axes, label=label, color=f"C{i}")
    axes[0].legend(fontsize=8)
    axes[3].set_yscale("log")
    fig.tight_layout()
    return fig


def plot_lr_sweep(final: Mapping[tuple, tuple], widths: Sequence[int], variants: Sequence[str], ylim=None):
    """Final validation loss against peak learning rate (log axis), a panel per width, a line per variant
    (seed 0) and the other seeds as faint points (``final``: ``ch03_tables.metric_by_lr(runs, "final_val")``)."""
    fig, axes = new_figure(len(widths), width=9.4, height=3.4, sharey=True)
    for ax, d in zip(axes, widths):
        for i, v in enumerate(variants):
            lrs, loss = final[(d, v, 0)]
            ax.plot(lrs, loss, STYLE[v], color=f"C{i}", ms=3, lw=1.2, label=v)
            for (d2, v2, s), (x, y) in final.items():
                if (d2, v2) == (d, v) and s > 0:
                    ax.plot(x, y, ".", color=f"C{i}", alpha=0.4, ms=3)
        ax.set_xscale("log")
        ax.set_xlabel("peak learning rate")
        ax.set_title(f"width {d}")
        if ylim:
            ax.set_ylim(*ylim)
    axes[0].set_ylabel("final validation loss (nats/char)")
    axes[0].legend(fontsize=8)
    return fig


def plot_logit_growth(attn: Mapping[tuple, tuple], log_z: Mapping[tuple, tuple], widths: Sequence[int]):
    """Left: the largest attention logit over a run against the learning rate, without and with
    QK-layernorm, a colour per width. Right: the largest |log Z| of the output, without and with z-loss.
    Both on log axes; seed 0 (``attn``, ``log_z``: ``ch03_tables.metric_by_lr``)."""
    fig, axes = new_figure(2, width=9.4, height=3.6)
    panels = (
        (attn, ("neither", "qk-layernorm"), "largest attention logit"),
        (log_z, ("neither", "z-loss"), "largest |log Z| of the output"),
    )
    for ax, (values, pair, ylabel) in zip(axes, panels):
        for i, d in enumerate(widths):
            for v in pair:
                lrs, y = values[(d, v, 0)]
                ax.plot(lrs, y, STYLE[v], color=f"C{i}", ms=3, lw=1.2, label=f"width {d}, {v}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("peak learning rate")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    return fig


def stability_explorer(runs: Mapping[tuple, list[dict]], widths: Sequence[int], lrs: Sequence[float]):
    """A learning-rate slider and a variant menu over the cached sweep (``runs``:
    ``ch03_tables.lr_runs``); each choice redraws, for seed 0 at every width, the validation curve and the
    largest attention logit of the run. In the book its text form stands in (the static twins are the
    sweep's figures)."""
    import ipywidgets as widgets

    from .book.widgets import figure_png, image_view, view_box

    variants = sorted({v for _, v, _ in runs}, key=list(STYLE).index)
    lr_slider = widgets.SelectionSlider(options=[(f"{lr:g}", lr) for lr in lrs], value=lrs[-2], description="peak lr")
    menu = widgets.Dropdown(options=variants, value=variants[0], description="variant")
    image = image_view()

    def redraw(change=None) -> None:
        fig, (ax, bars) = plt.subplots(1, 2, figsize=(7.5, 3.0))
        tops = []
        for i, d in enumerate(widths):
            row = next(r for r in runs[(d, menu.value, 0)] if r["point"]["lr"] == lr_slider.value)
            ax.plot(row["curve"]["step"], row["curve"]["val"], "o-", ms=3, color=f"C{i}", label=f"width {d}")
            tops.append(row["metrics"]["attn_logit_max"])
        ax.set_xlabel("training step")
        ax.set_ylabel("validation loss (nats/char)")
        ax.legend(fontsize=8)
        bars.bar([str(d) for d in widths], tops, color=[f"C{i}" for i in range(len(widths))])
        bars.set_yscale("log")
        bars.set_xlabel("width")
        bars.set_ylabel("largest attention logit")
        fig.suptitle(f"{menu.value}, peak learning rate {lr_slider.value:g}", fontsize=10)
        fig.tight_layout()
        image.value = figure_png(fig)

    lr_slider.observe(redraw, names="value")
    menu.observe(redraw, names="value")
    redraw()
    return view_box([widgets.HBox([lr_slider, menu]), image], "stability explorer")


def plot_early_spike(results: Mapping[str, object], steps: int = 60, init_loss: float | None = None):
    """The first ``steps`` steps of runs monitored at every step (``results``: label -> ``TrainResult``): the
    training loss (left, with ln V, the loss at initialisation, as a reference when ``init_loss`` is given)
    and the gradient norm before clipping (right, log axis)."""
    fig, axes = new_figure(2, width=9.4, height=3.4)
    for i, (label, result) in enumerate(results.items()):
        s = monitor_series(result.history)
        keep = s["monitor_step"] <= steps
        axes[0].plot(s["monitor_step"][keep], s["monitor_loss"][keep], color=f"C{i}", lw=1.2, label=label)
        axes[1].plot(s["monitor_step"][keep], s["grad_norm"][keep], color=f"C{i}", lw=1.2, label=label)
    if init_loss is not None:
        hline(axes[0], init_loss, "ln V: the loss at initialisation")
    for ax, ylabel in zip(axes, ("training loss (nats/char)", "gradient norm (before clipping)")):
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    return fig


def plot_fault(runs: Mapping[str, tuple], fault: Mapping[str, float], zoom: tuple[int, int] = (140, 185)):
    """The clean, faulty and rolled-back runs of ``ch03.fault_runs`` (``runs``), recorded at every step: the
    training loss over the whole run (left), and the loss (middle) and gradient norm (right, log axis) on the
    steps of ``zoom``; the fault's steps shaded, and in the zoomed panels each rollback marked by a dotted
    line at the step it fired."""
    fig, axes = new_figure(3, width=9.4, height=3.3)
    for i, (name, (result, remedy)) in enumerate(runs.items()):
        s = monitor_series(result.history)
        step, near = s["monitor_step"], (s["monitor_step"] >= zoom[0]) & (s["monitor_step"] <= zoom[1])
        axes[0].plot(step, s["monitor_loss"], color=f"C{i}", lw=0.8, label=name)
        axes[1].plot(step[near], s["monitor_loss"][near], ".-", color=f"C{i}", ms=2.5, lw=0.8)
        axes[2].plot(step[near], s["grad_norm"][near], ".-", color=f"C{i}", ms=2.5, lw=0.8)
        for event in remedy.events if remedy is not None else ():
            for ax in axes[1:]:
                ax.axvline(event.step, color=f"C{i}", ls=":", lw=0.8)
    ylabels = ("training loss (nats/char)", "training loss, zoomed", "gradient norm (before clipping)")
    for ax, ylabel in zip(axes, ylabels):
        ax.axvspan(fault["start"], fault["stop"], color="0.85", zorder=0)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=8, title=f"shaded: lr x {fault['factor']:g}", title_fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def plot_repeat(groups: Mapping, law, r_star: float, patience: int = 3):
    """Left: the final validation loss of the repeated runs against epochs (log axis; dots: seeds, line: the
    mean), with the fit's prediction, the fresh-data law at the effective data D', and the law at the unique
    data alone. Right: the seed-0 validation curves, one per epoch count, each with a marker where
    ``early_stop`` (``patience`` evaluations) stops it."""
    from .ch03 import REPEAT_TOKENS
    from .monitor import early_stop
    from .scaling import effective_data

    fig, (ax, curves) = new_figure(2, width=9.4, height=3.6)
    epochs = np.array(list(groups["repeated"]))
    finals = [np.array([r["final_val"] for r in groups["repeated"][e]]) for e in epochs]
    for e, f in zip(epochs, finals):
        ax.plot([e] * len(f), f, ".", color="C0", alpha=0.5, ms=4)
    ax.plot(epochs, [f.mean() for f in finals], "o-", color="C0", ms=3, lw=1.2, label="measured (mean of seeds)")
    grid = np.geomspace(epochs.min(), epochs.max(), 100)
    unique = REPEAT_TOKENS / grid
    ax.plot(grid, law.predict(effective_data(unique, REPEAT_TOKENS, r_star)), "--", color="C1",
            label=f"fit: fresh-data law at D′, R* = {r_star:.3g}")  # fmt: skip
    ax.plot(grid, law.predict(unique), ":", color="0.4", label="fresh-data law at the unique tokens only")
    top = max(f.max() for f in finals)
    ax.set_ylim(min(f.min() for f in finals) - 0.05, top + 0.15)  # the unique-only line leaves through the top
    ax.set_xscale("log", base=2)
    ax.set_xlabel("epochs over the unique data (same 614,400 tokens seen)")
    ax.set_ylabel("final validation loss (nats/char)")
    ax.legend(fontsize=8)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(epochs)))
    for color, e in zip(colors, epochs):
        row = groups["repeated"][e][0]
        steps, val = row["curve"]["step"], row["curve"]["val"]
        curves.plot(steps, val, color=color, lw=1.1, label=f"{e}")
        stop = early_stop(steps, val, patience=patience)
        if stop is not None:
            curves.plot(stop.step, val[steps.index(stop.step)], "x", color=color, ms=6, mew=1.5)
    curves.set_xlabel("training step")
    curves.set_ylabel("validation loss (nats/char)")
    low, high = curves.get_ylim()
    curves.set_ylim(low, high + 0.35 * (high - low))  # room above the curves for the legend
    curves.legend(fontsize=8, title="epochs (x: early stop)", title_fontsize=8, ncol=5, loc="upper center")
    fig.tight_layout()
    return fig


def plot_watch(band, ladder, runs: Sequence, widths: Sequence[int], fault: Mapping[str, int]):
    """Section 4's figure. Left: the ladder's validation curves (mean of seeds, one per width), the band
    predicted from them for the larger run and the larger runs in ``runs`` (``helpers.ch03_watch.Watched``).
    Middle: each run's distance from the prediction in uncertainties (z), with the band's edges at ±k and
    each alarm marked. Right: the per-step training loss of the runs that recorded it. The fault's steps
    (``fault``: start, stop) are shaded in the middle and right panels."""
    steps, _, losses = ladder
    fig, axes = new_figure(3, width=9.4, height=3.6)
    colors = plt.cm.viridis(np.linspace(0.05, 0.85, len(widths)))
    for color, width, curve in zip(colors, widths, losses.mean(axis=0)):
        axes[0].plot(steps, curve, color=color, lw=1, label=f"ladder, width {width}")
    axes[0].fill_between(band.step, band.low, band.high, color="C1", alpha=0.25, label=f"predicted band (±{band.k:g}σ)")
    axes[0].plot(band.step, band.centre, "--", color="C1", lw=1, label="predicted curve")
    for i, run in enumerate(runs):
        style = {"color": "C3" if run.label.startswith("stuck") else "k", "lw": 1.4 if i < 2 else 0.6}
        axes[0].plot(run.step, run.val, **style, label=run.label if i < 2 else None)
        axes[1].plot(run.step, band.z(run.val), **style, label=run.label if i < 2 else None)
        if run.alarm is not None:
            axes[1].plot(run.alarm.step, band.z(run.val)[list(run.step).index(run.alarm.step)], "v", color="C3", ms=7)
        if run.train_loss:
            axes[2].plot(np.arange(1, len(run.train_loss) + 1), run.train_loss, **{**style, "lw": 0.7}, label=run.label)
    for edge in (-band.k, band.k):
        axes[1].axhline(edge, color="C1", ls=":", lw=1)
    axes[0].set_ylim(band.low[3] - 0.6, band.high[3] + 0.4)  # the first evaluations start far above the rest
    axes[1].set_ylim(-2 * band.k, 4 * band.k)
    for ax in axes[1:]:
        ax.axvspan(fault["start"], fault["stop"], color="0.9", zorder=0)
    labels = ("validation loss (nats/char)", "distance from the prediction (z, in σ)", "training loss (nats/char)")
    for ax, ylabel in zip(axes, labels):
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
