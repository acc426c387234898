"""Interactive views for the chapters (ipywidgets), each with a static twin for the rendered book.

- ``AllocationRule``: one way of splitting a compute budget C = 6 N D into a model size N and tokens D.
- ``allocation_rows`` / ``plot_allocation``: the rules side by side at one budget, as a table and a figure.
- ``compute_budget_explorer``: a log-scale compute slider that redraws both.
- ``METRICS`` / ``metric_values`` / ``plot_metric``: chapter 6's model family scored one way, as numbers and a figure.
- ``metric_explorer``: pick the metric and the partial-credit threshold and watch the curve change shape.
- ``head_explorer``: pick a layer and head of a transformer and see its attention pattern (chapter 7).
- ``parse_problem`` / ``solver_rows`` / ``problem_solver``: type an arithmetic problem and read each model's
  working and answer (chapter 9).
- ``best_of_n_rows`` / ``plot_best_of_n`` / ``best_of_n_explorer``: best-of-n picks from a scored pool and the
  proxy and gold reward against √KL, with a slider over n (chapter 10).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics import at_least_k_right
from ..tasks import answer_with_working
from .plots import attention_heatmap


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


def figure_png(fig) -> bytes:
    """``fig`` as PNG bytes (for an ``Image`` widget); the figure is closed, so it is not also shown."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def html_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """``rows`` under ``headers`` as an HTML table, every cell escaped (for an ``HTML`` widget)."""
    pad = 'style="padding: 2px 10px; text-align: right"'
    cells = "".join(f"<th {pad}>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td {pad}>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def image_view():
    """An ``Image`` widget for a PNG that keeps the figure's own size (a box would stretch it to its width)."""
    import ipywidgets as widgets

    return widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start", max_width="100%"))


def view_box(children, name: str):
    """An explorer's outer box: an ipywidgets ``VBox`` of ``children`` whose text form says what it is.

    A saved notebook keeps no widget state (``helpers.progress``), so JupyterLab before the cell is run,
    and the rendered book, show this text instead of inert controls: it names the view and says how to
    use it."""
    import ipywidgets as widgets

    class View(widgets.VBox):
        def __repr__(self) -> str:
            return f"[{name}: interactive; run this cell in JupyterLab or Colab to use it]"

    return View(children)


def compute_budget_explorer(rules: Sequence[AllocationRule], c_span: tuple[float, float], value: float | None = None):
    """A log-scale slider over the compute budget; each move redraws ``plot_allocation`` (as a PNG in an
    ``Image`` widget) and the table of ``allocation_rows`` (an ``HTML`` widget). Returns the ipywidgets box.

    Plain widgets rather than an ``Output`` capture keep the view self-contained: nothing is printed
    into the cell's own output.
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
    image = image_view()
    table = widgets.HTML()

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        plot_allocation(rules, slider.value, c_span, ax)
        image.value = figure_png(fig)
        headers = ["rule", "N", "D (tokens)", "D/N", "loss (nats)"]
        table.value = html_table(headers, allocation_rows(rules, slider.value))

    slider.observe(redraw, names="value")
    redraw()
    return view_box([slider, image, table], "compute-budget explorer")


# ----------------------------------------------------------------------------- chapter 6: one family, many metrics

# How chapter 6 reads a scored model (a row's ``metrics`` from ``helpers.tasks.evaluate``); ``k`` is the
# partial-credit threshold, used only by the "at least k digits right" metric
METRICS: dict[str, Callable[[dict, int], float]] = {
    "exact match": lambda s, k: s["exact_match"],
    "at least k digits right": lambda s, k: at_least_k_right(s["correct_counts"], k),
    "digit accuracy": lambda s, k: s["digit_accuracy"],
    "token edit distance": lambda s, k: s["edit_distance"],
    "log p(correct answer) (nats)": lambda s, k: s["logprob"],
}


def metric_values(scores: Sequence[dict], metric: str, k: int = 1) -> np.ndarray:
    """``metric`` (a key of ``METRICS``) for each scored model in ``scores``, as an array."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}: choose one of {list(METRICS)}")
    return np.array([METRICS[metric](s, k) for s in scores], dtype=float)


def plot_metric(params: Sequence[float], scores: Sequence[dict], metric: str, k: int = 1, ax=None):
    """``metric`` against model size (log x): every run as a dot, the mean over runs of each size as a line."""
    import matplotlib.pyplot as plt

    if len(params) != len(scores):
        raise ValueError(f"{len(params)} sizes but {len(scores)} scored models: give one size per model")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    x, y = np.asarray(params, dtype=float), metric_values(scores, metric, k)
    sizes = np.unique(x)
    ax.plot(x, y, "o", alpha=0.4, ms=4)
    ax.plot(sizes, [y[x == n].mean() for n in sizes], "-", color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel(metric.replace("k digits", f"{k} digits"))
    return ax


def metric_explorer(params: Sequence[float], scores: Sequence[dict], answer_len: int):
    """A metric menu and a slider for ``k`` (digits that must be right, 1..``answer_len``); each change
    redraws ``plot_metric`` (PNG in an ``Image`` widget) and a table of the mean per size (``HTML``)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    menu = widgets.Dropdown(options=list(METRICS), value="at least k digits right", description="metric")
    slider = widgets.IntSlider(value=answer_len, min=1, max=answer_len, description="k", continuous_update=False)
    image, table = image_view(), widgets.HTML()
    x = np.asarray(params, dtype=float)

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        plot_metric(params, scores, menu.value, slider.value, ax)
        image.value = figure_png(fig)
        y = metric_values(scores, menu.value, slider.value)
        rows = [[f"{n:,.0f}", f"{y[x == n].mean():.3f}"] for n in np.unique(x)]
        table.value = html_table(["N", f"mean {menu.value}"], rows)

    menu.observe(redraw, names="value")
    slider.observe(redraw, names="value")
    redraw()
    return view_box([widgets.HBox([menu, slider]), image, table], "metric explorer")


# ----------------------------------------------------------------------------- chapter 7: attention heads


def head_explorer(patterns, scores, layer: int = 0, head: int = 0, score_name: str = "induction"):
    """Menus for a layer and a head; each choice redraws that head's attention pattern (``patterns``:
    ``(layers, heads, T, T)``) as a heat map in an ``Image`` widget, titled with its score from ``scores``
    (``[layer][head]``)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    patterns = np.asarray(patterns)
    if patterns.ndim != 4 or np.shape(scores) != patterns.shape[:2]:
        raise ValueError(
            f"patterns {patterns.shape} must be (layers, heads, T, T) and scores {np.shape(scores)} (layers, heads)"
        )
    n_layer, n_head = patterns.shape[:2]
    layer_menu = widgets.Dropdown(options=list(range(n_layer)), value=layer, description="layer")
    head_menu = widgets.Dropdown(options=list(range(n_head)), value=head, description="head")
    image = image_view()

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(3.6, 3.4))
        lay, h = layer_menu.value, head_menu.value
        attention_heatmap(ax, patterns[lay, h], f"layer {lay}, head {h}: {score_name} {scores[lay][h]:.2f}")
        image.value = figure_png(fig)

    layer_menu.observe(redraw, names="value")
    head_menu.observe(redraw, names="value")
    redraw()
    return view_box([widgets.HBox([layer_menu, head_menu]), image], "attention-head explorer")


# ----------------------------------------------------------------------------- chapter 9: type a problem


def parse_problem(text: str) -> tuple[int, str, int]:
    """``"385 + 47"`` -> ``(385, "+", 47)``; the operator is ``+``, ``-`` or ``*``. Anything else raises a
    ``ValueError`` that says what a problem looks like."""
    match = re.fullmatch(r"\s*(\d+)\s*([-+*])\s*(\d+)\s*=?\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a problem; type two whole numbers with +, - or * between them, e.g. 385+47")
    return int(match[1]), match[2], int(match[3])


OPERATORS = {"addition": "+", "subtraction": "-", "multiplication": "*"}


def solver_rows(models: dict, text: str) -> list[list[str]]:
    """One row per model (``models``: name -> ``(model, task)``, a task from ``helpers.tasks``) whose task
    matches the operator of the problem ``text``: the model's name, the prompt, everything it wrote after the
    ``=`` (working and answer), its answer, and ✓ or ✗. A problem a task cannot take gets a row saying why."""
    a, op, b = parse_problem(text)
    rows = []
    for name, (model, task) in models.items():
        if OPERATORS[task.name] != op:
            continue
        try:
            out = answer_with_working(model, task, a, b)
        except ValueError as err:
            rows.append([name, "", str(err), "", ""])
            continue
        shown = "—" if out["answer"] is None else str(out["answer"])
        rows.append([name, out["prompt"], out["wrote"], shown, "✓" if out["correct"] else f"✗ (true {out['truth']})"])
    if not rows:
        known = ", ".join(sorted({OPERATORS[t.name] for _, t in models.values()}))
        raise ValueError(f"no model here answers {op!r} problems; use {known}")
    return rows


SOLVER_HEADERS = ["model", "prompt", "what it wrote", "answer", ""]


def problem_solver(models: dict, value: str = "385+47"):
    """A text box for a problem and a table of what each model in ``models`` (name -> ``(model, task)``)
    writes for it (``solver_rows``), redrawn on every change; a malformed problem shows its error instead."""
    import ipywidgets as widgets

    box = widgets.Text(value=value, description="problem", continuous_update=False)
    table = widgets.HTML()

    def redraw(change=None) -> None:
        try:
            table.value = html_table(SOLVER_HEADERS, solver_rows(models, box.value))
        except ValueError as err:
            table.value = f"<p>{html.escape(str(err))}</p>"

    box.observe(redraw, names="value")
    redraw()
    return view_box([box, table], "problem solver")


def best_of_n_rows(ids, proxy, gold, world, n: int, k: int = 5, seed: int = 0) -> list:
    """``k`` best-of-n picks from a scored pool (token ids ``ids`` of responses of ``world``, a
    ``helpers.rl.PreferenceWorld``, with scores ``proxy`` and ``gold``): each draws ``n`` pool members at
    random and keeps the highest proxy. Rows ``[response, proxy, gold]`` (rounded to 2 decimals), chapter 10."""
    proxy, gold = np.asarray(proxy), np.asarray(gold)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(k):
        draw = rng.choice(len(proxy), size=n, replace=False)
        best = draw[np.argmax(proxy[draw])]
        rows.append([world.decode(ids[best : best + 1])[0], f"{proxy[best]:.2f}", f"{gold[best]:.2f}"])
    return rows


def plot_best_of_n(curve: dict, n: int | None = None, ax=None):
    """Proxy and gold reward of best-of-n against d = √KL (``helpers.rl.best_of_n_curve``'s output), n marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    d = np.sqrt(curve["kl"])
    ax.plot(d, curve["proxy"], "o-", label="proxy reward (reward model, standardised)")
    ax.plot(d, curve["gold"], "s-", label="gold reward (hidden)")
    if n is not None:
        i = curve["n"].index(n)
        ax.axvline(d[i], color="0.5", ls=":", lw=1)
        ax.set_title(f"best-of-{n}: KL = {curve['kl'][i]:.2f} nats")
    ax.set_xlabel("d = √KL(best-of-n ‖ SFT)  (nats$^{1/2}$)")
    ax.set_ylabel("mean reward")
    ax.legend()
    return ax


def best_of_n_explorer(ids, proxy, gold, world, curve: dict):
    """A slider over n (the values of ``curve["n"]``): redraws ``plot_best_of_n`` with n marked (a PNG in an
    ``Image`` widget) and a table of five best-of-n picks with their proxy and gold rewards (``HTML``)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    slider = widgets.SelectionSlider(options=curve["n"], value=curve["n"][4], description="n", continuous_update=False)
    image, table = image_view(), widgets.HTML()

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        plot_best_of_n(curve, slider.value, ax)
        image.value = figure_png(fig)
        table.value = html_table(
            ["best-of-n pick", "proxy", "gold"], best_of_n_rows(ids, proxy, gold, world, slider.value)
        )

    slider.observe(redraw, names="value")
    redraw()
    return view_box([slider, image, table], "best-of-n explorer")
