"""Chapter 8's figures and its ask-the-models view, in the course style (``helpers.book.plots``).

- ``plot_clusters``: held-in and held-out exact match, and steering, against the number of training clusters,
  for the tuned models and their bases (``ch08_results.by(runs, "clusters")``);
- ``plot_sizes``: the held-out cluster against the base's width, each model asked each way, and steering;
- ``plot_ends``: which end of the list the models give on the held-out ``first`` and ``last`` prompts;
- ``answer_rows`` / ``ask_models``: what each model answers to an instruction and an input, in the tuning format
  and in the base's own worked-line format (a widget with two text boxes), and ``answer_table``, its static twin
  over fixed questions.
"""

from __future__ import annotations

import html

import numpy as np

from .book.plots import hline, new_figure
from .ch08_results import values
from .instruct import render
from .instruct.score import prompt_answers

SCORES = {  # score -> (label, colour)
    "held_in": ("held-in tasks", "C0"),
    "held_out": ("held-out cluster", "C3"),
    "held_out_own": ("held-out, own format", "C2"),
}


def _by_seed(ax, xs, groups, key, model, color, label, ls="-"):
    """A score's mean over seeds against ``xs`` (a line) and each seed (dots)."""
    per = [values(g, key, model) for g in groups.values()]
    ax.plot(xs, [p.mean() for p in per], ls=ls, marker="o", color=color, label=label)
    for x, p in zip(xs, per):
        ax.plot([x] * len(p), p, ".", color=color, alpha=0.5)


def plot_clusters(groups: dict):
    """Left: exact match against the number of training clusters, tuned (solid) and base (dashed) for the held-in
    tasks and the held-out cluster, and the held-out cluster asked in the base's own format. Right: steering on
    the held-out ``first`` and ``last`` tasks. Means over seeds as lines, single seeds as dots."""
    fig, (left, right) = new_figure(2, width=9.4, height=3.8)
    xs = list(groups)
    for key, (label, color) in SCORES.items():
        _by_seed(left, xs, groups, key, "tuned", color, f"tuned: {label}")
        if key != "held_in":
            _by_seed(left, xs, groups, key, "base", color, f"base: {label}", ls="--")
    left.set_ylabel("exact match")
    right_label = "steering (answer moves with the instruction)"
    _by_seed(right, xs, groups, "steering", "tuned", "C3", "tuned")
    _by_seed(right, xs, groups, "steering", "base", "0.4", "base", ls="--")
    right.axhline(0, color="0.6", lw=0.8)
    hline(right, 1.0, "follows every instruction")
    right.set_ylim(-0.3, 1.1)
    right.set_ylabel(right_label)
    for ax in (left, right):
        ax.set_xlabel("training clusters")
        ax.set_xticks(xs)
        ax.legend()
    left.set_ylim(-0.03, 1.03)
    fig.tight_layout()
    return fig


SIZE_LINES = (  # (score, model, label, colour, line style) of plot_sizes' left panel
    ("held_out", "tuned", "tuned, tuning format", "C3", "-"),
    ("held_out_own", "tuned", "tuned, own format", "C2", "-"),
    ("held_out_own", "base", "base, own format", "C2", "--"),
    ("first_last_one_shot", "base", "base, 1 demonstration (first, last)", "C4", "--"),
    ("held_out", "base", "base, tuning format", "C3", "--"),
)


def plot_sizes(tuned: dict, bases: dict):
    """The held-out cluster against the base's width (``d_model``). Left: exact match of the tuned models (solid)
    and of their bases (dashed), asked in the tuning format, in the base's own format and (bases) with one
    demonstration. Right: steering. ``tuned`` holds the runs to show by width (``ch08_results.by(runs,
    "d_model")``), ``bases`` runs on the same bases that scored them with a demonstration (the runs of
    ``tuned`` may predate that score). Means over seeds as lines, single seeds as dots."""
    fig, (left, right) = new_figure(2, width=9.4, height=3.8)
    for key, model, label, color, ls in SIZE_LINES:
        source = bases if key.endswith("one_shot") else tuned
        _by_seed(left, list(source), source, key, model, color, label, ls=ls)
    left.set_ylabel("held-out exact match")
    left.set_ylim(-0.03, 1.03)
    _by_seed(right, list(tuned), tuned, "steering", "tuned", "C3", "tuned, tuning format")
    _by_seed(right, list(bases), bases, "steering_one_shot", "base", "C4", "base + 1 demonstration", ls="--")
    right.axhline(0, color="0.6", lw=0.8)
    hline(right, 1.0, "follows every instruction")
    right.set_ylim(-0.3, 1.1)
    right.set_ylabel("steering (answer moves with the instruction)")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(tuned), [str(w) for w in tuned])
        ax.minorticks_off()
        ax.set_xlabel("base width (d_model, 4 layers)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ends(group: list, models=("base", "tuned")):
    """For the runs of one ``group`` (same point, several seeds): on the held-out ``first`` and ``last`` prompts,
    how often each model answers with the list's first word and with its last (bars: the mean over seeds)."""
    fig, axes = new_figure(len(models), width=4.2 * len(models), height=3.4, sharey=True)
    axes = np.atleast_1d(axes)
    for ax, model in zip(axes, models):
        for i, asked in enumerate(("first", "last")):
            for j, (end, color) in enumerate((("first", "C0"), ("last", "C1"))):
                share = np.mean([r.scores(model)["ends"][asked][end] for r in group])
                label = f"answers the {end} word" if i == 0 else None
                ax.bar(i + 0.38 * (j - 0.5), share, 0.36, color=color, label=label)
        ax.set_xticks([0, 1], ["asked for the first item", "asked for the last item"])
        ax.set_title(f"{model} model")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("share of answers")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def answer_rows(models: dict, instruction: str, text: str) -> list[list[str]]:
    """What each model of ``models`` (name -> GPT) answers to ``instruction`` applied to ``text``, greedily: one
    row per model and format, the tuning format (``instruct.render``) and the base's own worked-line format
    (``instruction``, a new line, ``text ->``). ``ValueError`` for an empty instruction or input, or one with a
    new line (a prompt holds each on one line)."""
    if not instruction.strip() or not text.strip():
        raise ValueError("type an instruction and an input: neither may be empty")
    if "\n" in instruction + text:
        raise ValueError("keep the instruction and the input on one line each: a new line ends a field")
    prompts = {"tuning format": render(instruction, text), "own format": f"{instruction}\n{text} ->"}
    rows = []
    for name, model in models.items():
        for fmt, prompt in prompts.items():
            said = prompt_answers(model, [prompt], max_new=24)[0]
            rows.append([name, fmt, said or "(nothing)"])
    return rows


ANSWER_HEADERS = ["model", "prompt format", "answer"]


def answer_table(models: dict, questions: list[tuple[str, str]]):
    """``answer_rows`` for each ``(instruction, input)`` of ``questions``, as one Markdown table: the static twin of
    ``ask_models``."""
    from .book.report import md_table

    rows = []
    for instruction, text in questions:
        for name, fmt, said in answer_rows(models, instruction, text):
            rows.append([f"{instruction} / {text}", name, fmt, f"`{said}`"])
    return md_table(["instruction / input", *ANSWER_HEADERS], rows)


def ask_models(models: dict, instruction: str = "What is the last item?", text: str = "light water stone"):
    """Two text boxes, an instruction and an input, and a table of every model's answers (``answer_rows``),
    redrawn on each change; an empty or multi-line field shows what is wrong instead. ``answer_table`` is its
    static twin."""
    import ipywidgets as widgets

    from .book.widgets import html_table, view_box

    ask = widgets.Text(value=instruction, description="instruction", continuous_update=False)
    given = widgets.Text(value=text, description="input", continuous_update=False)
    table = widgets.HTML()

    def redraw(change=None) -> None:
        try:
            table.value = html_table(ANSWER_HEADERS, answer_rows(models, ask.value, given.value))
        except ValueError as err:
            table.value = f"<p>{html.escape(str(err))}</p>"

    ask.observe(redraw, names="value")
    given.observe(redraw, names="value")
    redraw()
    return view_box([ask, given, table], "ask the models")
