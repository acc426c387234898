"""Chapter 2's larger figures, in the course style (``helpers.book.plots``); each returns its figure.

- ``plot_kaplan_laws``: L(N), L(D) and L(C), each with a pure and a saturating power law;
- ``plot_isoflop_profiles``: approach 2's IsoFLOP profiles, their parabolas and minima.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import scaling
from .book.plots import log_axes, new_figure

LAW_LABELS = {
    "N": "non-embedding parameters N",
    "D": "training tokens D",
    "C": "training compute C = 6ND (FLOPs)",
}


def plot_kaplan_laws(laws: Mapping[str, dict], curves: Sequence[tuple[np.ndarray, np.ndarray]]):
    """Kaplan's three laws side by side on log-log axes: for each law in ``laws`` (name "N", "D" or "C" ->
    its points ``x``, ``y`` and its ``power`` and ``sat`` fits) the points and both fitted curves, and in
    the third panel every training curve of ``curves`` ((compute, loss) pairs) in grey beneath its
    envelope. Returns the figure."""
    fig, axes = new_figure(3, width=11.3, height=3.6)
    for ax, (name, law) in zip(axes, laws.items()):
        x = law["x"]
        grid = np.geomspace(x.min(), x.max(), 100)
        ax.plot(x, law["y"], "o", label="runs" if name != "C" else "envelope of the curves")
        ax.plot(grid, law["power"].predict(grid), "--", label=f"power law, α = {law['power'].alpha:.3f}")
        sat = law["sat"]
        ax.plot(grid, sat.predict(grid), "-", label=f"E + power law, E = {sat.E:.2f}, α = {sat.alpha:.2f}")
        log_axes(ax)
        ax.set_xlabel(LAW_LABELS[name])
        ax.set_title(f"L({name})")
    axes[0].set_ylabel("validation loss (nats/char)")
    for i, curve in enumerate(curves):  # every run's training curve, under its envelope
        axes[2].plot(*curve, color="0.7", lw=0.6, zorder=0, label="training curves" if i == 0 else None)
    for ax in axes:
        ax.legend()
    return fig


def plot_isoflop_profiles(
    profiles: Mapping[float, tuple[np.ndarray, np.ndarray]],
    minima: Mapping[float, scaling.IsoflopMinimum],
    live: float | None = None,
):
    """Approach 2's IsoFLOP profiles: for each budget C of ``profiles`` (C -> (N, final loss)) its points,
    the parabola of ``minima[C]`` over the sampled sizes and a star at its minimum; the budget ``live``
    is labelled as trained live. Returns the figure."""
    fig, ax = new_figure(width=7.5)
    for c, (N, L) in profiles.items():
        m = minima[c]
        label = f"C = {c:.2g}" + (" (live)" if c == live else "")
        line = ax.plot(N, L, "o", label=label)[0]
        grid = np.geomspace(N.min(), N.max(), 100)
        ax.plot(grid, m.predict(grid), "-", color=line.get_color(), lw=1)
        ax.plot(m.n_opt, m.loss_min, "*", color=line.get_color(), ms=12, mec="k")
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("final validation loss (nats/char)")
    ax.set_title("Approach 2: IsoFLOP profiles and their minima (stars)")
    ax.legend()
    return fig
