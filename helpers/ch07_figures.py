"""Chapter 7's figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_phase_change``: the repeated-half probe loss along training, 1 vs 2 layers, with the live run;
- ``plot_heads``: three attention patterns on one probe;
- ``plot_regression``: in-context regression error against the number of examples, beside the baselines;
- ``plot_few_shot``: few-shot accuracy against the number of demonstrations, by model size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .book.plots import attention_heatmap, hline, new_figure


def plot_phase_change(two: Sequence[dict], one: Sequence[dict], live_metrics: Mapping, vocab_size: int):
    """The loss on the repeated half of the probes against training step for the cached 2-layer (``two``)
    and 1-layer (``one``) runs, the first, random half for the 2-layer seed 0, and the live run's points,
    with the uniform guess ln(vocab_size) for reference."""
    fig, ax = new_figure(width=7.5, height=4)
    for runs, style, label in ((two, "-", "2 layers"), (one, "--", "1 layer")):
        for r in runs:
            m = r["metrics"]
            ax.plot(m["probe_step"], m["probe_second"], style, label=f"{label}, seed {r['seed']}: repeated half")
    m = two[0]["metrics"]
    ax.plot(m["probe_step"], m["probe_first"], ":", color="0.5", label="2 layers, seed 0: first half")
    live = live_metrics
    ax.plot(live["probe_step"], live["probe_second"], "k.", ms=4, label="live run (2 layers, seed 0)")
    hline(ax, np.log(vocab_size), f"uniform guess, ln {vocab_size}")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss on probe tokens (nats/token)")
    ax.set_title("Loss on the repeated half of the probes during training")
    ax.legend(fontsize=8, loc="center right")
    return fig


def plot_heads(two_layer: Mapping, one_layer: Mapping, heads: tuple[int, int, int]):
    """The attention patterns on one probe (metrics ``pattern``: layers x heads x query x key) of the
    2-layer run's first-layer head ``heads[0]`` and second-layer head ``heads[1]``, and of the 1-layer
    run's head ``heads[2]``, side by side."""
    pat2, pat1 = np.array(two_layer["pattern"]), np.array(one_layer["pattern"])
    ph, ih, oh = heads
    fig, axes = new_figure(3, width=11, height=3.8)
    panels = (
        (pat2[0, ph], f"2 layers: layer 0, head {ph}\n(looks a fixed distance back)"),
        (pat2[1, ih], f"2 layers: layer 1, head {ih}\n(induction head)"),
        (pat1[0, oh], f"1 layer: head {oh}\n(its best induction score)"),
    )
    for ax, (pattern, title) in zip(axes, panels):
        attention_heatmap(ax, pattern, title)
    fig.suptitle("Attention on a probe: 12 random tokens, then the same 12 again", fontsize=10)
    return fig


def plot_regression(base_err: Mapping, cached_err: np.ndarray, live_err, *, dim: int, steps: int, live_steps: int):
    """Normalised squared error against the number of in-context examples k: each baseline of ``base_err``
    (name -> error by k), the cached transformer runs (``cached_err``, seeds x k, trained ``steps``; mean
    and range) and the live run (``live_err``, ``live_steps``), with k = ``dim`` marked."""
    ks = np.arange(len(live_err))
    fig, ax = new_figure(width=7, height=4.6)
    for name, err in base_err.items():
        ax.plot(ks, err, "o--" if name != "least squares" else "o-", ms=3, lw=1.2, label=name)
    label = f"transformer, {steps:,} steps (mean of {len(cached_err)} seeds)"
    ax.plot(ks, cached_err.mean(0), "k-", lw=2.2, label=label)
    ax.fill_between(ks, cached_err.min(0), cached_err.max(0), color="k", alpha=0.15)
    ax.plot(ks, live_err, "k:", lw=1.5, label=f"transformer, live run ({live_steps:,} steps)")
    ax.axvline(dim, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("number of in-context examples k")
    ax.set_ylabel("squared error / d")
    ax.set_ylim(-0.02, 1.3)
    ax.set_title(f"In-context linear regression, d = {dim}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def plot_few_shot(acc: Mapping, params: Mapping, sizes: Sequence, bayes: Sequence[float]):
    """Few-shot accuracy against the number of demonstrations for each model shape in ``sizes`` (mean of
    its seeds in ``acc``, seeds x k, with half the seed range as error bars; ``params`` in the legend),
    with the Bayes-optimal accuracy ``bayes``."""
    ks = np.arange(len(bayes))
    fig, ax = new_figure(width=7, height=4)
    for s in sizes:
        a = acc[s]
        label = f"width {s[0]}, {s[1]} layer(s): {params[s]:,} params"
        ax.errorbar(ks, a.mean(0), yerr=np.ptp(a, axis=0) / 2, marker="o", ms=3, capsize=2, label=label)
    ax.plot(ks, bayes, "k--", lw=1, label="Bayes-optimal")
    ax.set_xlabel("number of demonstrations k in the prompt")
    ax.set_ylabel("accuracy on the query")
    ax.set_ylim(0, 1.05)
    ax.set_title("Few-shot accuracy vs demonstrations, by model size")
    ax.legend(fontsize=8)
    return fig
