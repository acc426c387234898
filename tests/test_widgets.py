import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

from helpers.book.widgets import (
    AllocationRule,
    allocation_rows,
    compute_budget_explorer,
    figure_png,
    head_explorer,
    html_table,
    metric_explorer,
    metric_values,
    plot_allocation,
    plot_metric,
)
from helpers.metrics import at_least_k_right

matplotlib.use("Agg")

RULES = [
    AllocationRule("20 tokens per parameter", lambda C: np.sqrt(C / 120)),
    AllocationRule("fixed loss", lambda C: np.sqrt(C / 6), loss=lambda C: 1.5 + 0 * C),
]


def test_allocation_rows():
    rows = allocation_rows(RULES, 1.2e13)
    assert rows[0] == ["20 tokens per parameter", "3.16e+05", "6.32e+06", "20", "—"]
    assert rows[1][3] == "1" and rows[1][4] == "1.500"
    with pytest.raises(ValueError, match="compute budget"):
        allocation_rows(RULES, -1.0)


def test_plot_allocation_draws_each_rule():
    ax = plot_allocation(RULES, 1e12, (1e10, 1e14))
    assert len(ax.get_lines()) == 2 * len(RULES) + 1  # a line and a marker per rule, and the budget
    assert "FLOPs" in ax.get_xlabel()


def test_explorer_redraws_when_the_budget_moves():
    box = compute_budget_explorer(RULES, (1e10, 1e14), value=1e12)
    slider, image, table = box.children
    assert isinstance(slider, widgets.FloatLogSlider) and slider.value == pytest.approx(1e12)
    assert slider.min == pytest.approx(10) and slider.max == pytest.approx(14)
    assert bytes(image.value[:8]) == b"\x89PNG\r\n\x1a\n" and "9.13e+04" in table.value  # N = sqrt(1e12 / 120)
    before = bytes(image.value)
    slider.value = 1.2e13
    assert bytes(image.value) != before and "3.16e+05" in table.value and ">20</td>" in table.value
    # what a saved notebook and the book show instead of the controls (they keep no widget state)
    assert repr(box).startswith("[compute-budget explorer: interactive") and len(repr(box)) <= 110


def _scores(em, acc, counts):
    return {
        "exact_match": em,
        "digit_accuracy": acc,
        "edit_distance": 1 - acc,
        "logprob": -1.0,
        "correct_counts": counts,
    }


SCORES = [_scores(0.0, 0.5, [1, 2, 1]), _scores(0.25, 0.75, [0, 2, 2]), _scores(1.0, 1.0, [0, 0, 4])]


def test_metric_values_and_partial_credit():
    assert metric_values(SCORES, "exact match").tolist() == [0.0, 0.25, 1.0]
    assert metric_values(SCORES, "at least k digits right", k=1).tolist() == [0.75, 1.0, 1.0]
    assert metric_values(SCORES, "at least k digits right", k=2).tolist() == [0.25, 0.5, 1.0]
    with pytest.raises(ValueError, match="metric='accuracy'"):
        metric_values(SCORES, "accuracy")
    with pytest.raises(ValueError, match="k=3"):
        at_least_k_right([1, 2, 1], 3)


def test_plot_metric_shows_runs_and_means():
    ax = plot_metric([10, 10, 100], SCORES, "digit accuracy")
    dots, mean = ax.get_lines()
    assert len(dots.get_xdata()) == 3 and mean.get_ydata().tolist() == [0.625, 1.0]
    with pytest.raises(ValueError, match="one size per model"):
        plot_metric([10], SCORES, "exact match")


def test_metric_explorer_redraws_on_metric_and_threshold():
    box = metric_explorer([10, 10, 100], SCORES, answer_len=2)
    (menu, slider), image, table = box.children[0].children, *box.children[1:]
    assert menu.value == "at least k digits right" and slider.value == 2 and "0.375" in table.value
    before = bytes(image.value)
    slider.value = 1
    assert "0.875" in table.value and bytes(image.value) != before
    menu.value = "exact match"
    assert "0.125" in table.value


def test_figure_png_returns_png_bytes_and_closes_the_figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n" and not plt.fignum_exists(fig.number)


def test_head_explorer_redraws_the_chosen_head():
    patterns = np.zeros((2, 3, 4, 4))
    patterns[1, 2] = np.eye(4)
    scores = [[0.0, 0.1, 0.2], [0.3, 0.4, 0.9]]
    box = head_explorer(patterns, scores, layer=1, head=2)
    (layer_menu, head_menu), image = box.children[0].children, box.children[1]
    assert layer_menu.options == (0, 1) and head_menu.options == (0, 1, 2)
    before = bytes(image.value)
    head_menu.value = 0
    assert bytes(image.value) != before and bytes(image.value)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="must be \\(layers, heads, T, T\\)"):
        head_explorer(patterns[0], scores)


def test_parse_problem_accepts_three_operators_and_explains_bad_input():
    from helpers.book.widgets import parse_problem

    assert parse_problem(" 385 + 47 = ") == (385, "+", 47)
    assert parse_problem("12*7") == (12, "*", 7) and parse_problem("90-9") == (90, "-", 9)
    for bad in ("", "3 + ", "3/4", "-3+4", "a+b"):
        with pytest.raises(ValueError, match="two whole numbers"):
            parse_problem(bad)


def test_problem_solver_shows_each_models_working():
    import ipywidgets as widgets

    from helpers.book.widgets import problem_solver, solver_rows
    from helpers.model import GPT, GPTConfig
    from helpers.tasks import AdditionTask, MultiplicationTask

    add = AdditionTask(2, "scratchpad", n_train=50, n_test=10)
    mul = MultiplicationTask(2, "reversed", n_train=50, n_test=10)
    models = {
        "add": (GPT(GPTConfig(vocab_size=len(add.alphabet), context=64, n_layer=1, n_head=1, d_model=8)), add),
        "mul": (GPT(GPTConfig(vocab_size=len(mul.alphabet), context=64, n_layer=1, n_head=1, d_model=8)), mul),
    }
    rows = solver_rows(models, "47+38")
    assert len(rows) == 1 and rows[0][0] == "add" and rows[0][1] == "47+38=" and len(rows[0][2]) == add.target_len
    assert rows[0][4] == "✓" or rows[0][4] == "✗ (true 85)"
    assert "operands below 100" in solver_rows(models, "470+38")[0][2]  # a problem the task cannot take
    with pytest.raises(ValueError, match="use \\*, \\+"):
        solver_rows(models, "47-38")
    box = problem_solver(models)
    text, table = box.children
    assert isinstance(text, widgets.Text) and "operands below 100" in table.value  # the default 385+47
    text.value = "47*3"
    assert "47*3=" in table.value and "mul" in table.value
    text.value = "hello"
    assert "two whole numbers" in table.value


def test_html_table_escapes_every_cell():
    table = html_table(["a<b", "c"], [["<i>", 1], ["x & y", 2.5]])
    assert table.count("<tr>") == 3 and "&lt;i&gt;" in table and "a&lt;b" in table and "x &amp; y" in table
