"""One figure style for the whole book: readable labels, light grid, modest size and dpi."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

STYLE = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "font.size": 10,
    "lines.linewidth": 1.6,
}


def use_style() -> None:
    """Apply the course style to every later matplotlib figure (call once per notebook)."""
    mpl.rcParams.update(STYLE)


def new_figure(ncols: int = 1, width: float = 6.4, height: float = 3.8, **kwargs):
    """A figure with ``ncols`` axes side by side, in the course style: returns ``(fig, axes)``."""
    use_style()
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), **kwargs)
    return fig, axes


def hline(ax, y: float, label: str, ls: str = ":", color: str = "gray"):
    """A horizontal reference line (a baseline, a published number) labelled at its right end."""
    ax.axhline(y, ls=ls, color=color, lw=1)
    ax.annotate(label, xy=(1, y), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=8, color=color)
    return ax


def log_axes(ax, x: bool = True, y: bool = True, y_format: str = "{:.1f}"):
    """Log scale on the chosen axes, with plain-number labels on a log y axis (a loss axis spans less
    than a decade, where matplotlib would print 1.4×10⁰) and no crowded minor labels on a log x axis."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    if y:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: y_format.format(v))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    return ax


def attention_heatmap(ax, pattern, title: str = ""):
    """An attention pattern (query rows x key columns, weights in [0, 1]) as a heat map with labelled axes."""
    ax.imshow(pattern, cmap="Blues", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("attended position (key)")
    ax.set_ylabel("attending position (query)")
    ax.grid(False)
    return ax
