"""Interactive views for the chapters (ipywidgets), each with a static twin for the rendered book.

- ``AllocationRule``: one way of splitting a compute budget C = 6 N D into a model size N and tokens D.
- ``allocation_rows`` / ``plot_allocation``: the rules side by side at one budget, as a table and a figure.
- ``compute_budget_explorer``: a log-scale compute slider that redraws both.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AllocationRule:
    """A compute-optimal allocation: ``n_opt(C)`` gives the model size for budget(s) C (FLOPs); D follows
    from C = 6 N D. ``loss(C)``, when known, is the loss the rule predicts at its optimum (nats/token)."""

    name: str
    n_opt: Callable[[np.ndarray], np.ndarray]
    loss: Callable[[np.ndarray], np.ndarray] | None = None


def allocation_rows(rules: Sequence[AllocationRule], C: float) -> list[list]:
    """One row per rule at budget ``C``: [name, N, D, D/N, predicted loss or "—"], numbers rounded to 3
    significant figures (ready for ``helpers.report.md_table``)."""
    if not (np.isfinite(C) and C > 0):
        raise ValueError(f"C={C!r}: a compute budget must be a positive number of FLOPs")
    rows = []
    for rule in rules:
        n = float(rule.n_opt(np.asarray(C, dtype=float)))
        d = C / (6 * n)
        loss = f"{float(rule.loss(np.asarray(C, dtype=float))):.3f}" if rule.loss is not None else "—"
        rows.append([rule.name, f"{n:.3g}", f"{d:.3g}", f"{d / n:.3g}", loss])
    return rows


def plot_allocation(rules: Sequence[AllocationRule], C: float, c_span: tuple[float, float], ax=None):
    """N_opt against compute for every rule over ``c_span`` (log-log), with budget ``C`` marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    grid = np.geomspace(*c_span, 100)
    for rule in rules:
        line = ax.loglog(grid, rule.n_opt(grid), label=rule.name)[0]
        ax.plot(C, float(rule.n_opt(np.asarray(C, dtype=float))), "o", color=line.get_color())
    ax.axvline(C, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel("compute-optimal N (parameters)")
    ax.legend(fontsize=8)
    return ax


def _html_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def compute_budget_explorer(rules: Sequence[AllocationRule], c_span: tuple[float, float], value: float | None = None):
    """A log-scale slider over the compute budget; each move redraws ``plot_allocation`` (as a PNG in an
    ``Image`` widget) and the table of ``allocation_rows`` (an ``HTML`` widget). Returns the ipywidgets box.

    Plain widgets rather than an ``Output`` capture keep the view self-contained: the notebook's saved
    widget state shows the last figure and table even where no kernel runs (the rendered book), and
    nothing is printed into the cell's own output.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    lo, hi = np.log10(c_span[0]), np.log10(c_span[1])
    slider = widgets.FloatLogSlider(
        value=value or 10 ** ((lo + hi) / 2),
        base=10,
        min=lo,
        max=hi,
        step=0.05,
        description="C (FLOPs)",
        readout_format=".2e",
        continuous_update=False,
        layout=widgets.Layout(width="60%"),
    )
    image = widgets.Image(format="png")
    table = widgets.HTML()

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        plot_allocation(rules, slider.value, c_span, ax)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
        plt.close(fig)
        image.value = buffer.getvalue()
        headers = ["rule", "N", "D (tokens)", "D/N", "loss (nats)"]
        table.value = _html_table(headers, allocation_rows(rules, slider.value))

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, image, table])
