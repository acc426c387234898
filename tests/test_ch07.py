"""Chapter 7's result gathering, tables and figures (helpers.ch07_tables, helpers.ch07_figures), on its cached
sweeps and on small hand-made runs whose answers are known."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import ch07, ch07_figures, ch07_tables, icl
from helpers.book.papers import PUBLISHED
from helpers.sweep import load_sweep


@pytest.fixture(scope="module")
def induction():
    return ch07_tables.induction_runs(load_sweep("ch07_induction"))


def _run(n_layer, seed, second, steps=None):
    steps = steps or list(range(0, 100 * len(second), 100))
    return {"seed": seed, "point": {"n_layer": n_layer}, "metrics": {"probe_step": steps, "probe_second": second}}


def test_induction_runs_split_by_depth_and_sort_by_seed():
    rows = [_run(2, 1, [1.0]), _run(1, 0, [1.0]), _run(2, 0, [1.0])]
    two, one = ch07_tables.induction_runs(rows)
    assert [r["seed"] for r in two] == [0, 1] and [r["point"]["n_layer"] for r in one] == [1]


def test_probe_twin_keeps_only_shared_steps():
    runs = [_run(2, 0, [4.0, 3.0, 2.0]), _run(2, 1, [4.1, 3.1, 2.1])]  # steps 0, 100, 200
    live = {"probe_step": [0, 50, 100], "probe_second": [4.05, 3.5, 3.05]}
    assert ch07_tables.probe_twin(live, runs) == ([4.05, 3.05], [4.0, 3.0], [[4.0, 3.0], [4.1, 3.1]])


def test_transition_and_drop_on_a_step_curve():
    loss = [4.0] * 10 + [3.0, 0.6] + [0.5] * 8  # a plateau, then a fall between steps 1000 and 1100
    m = _run(2, 0, loss)["metrics"]
    assert ch07_tables.transition(m) == (1000, 1100)
    assert ch07_tables.probe_drop(m) == pytest.approx(3.5)


def test_induction_tables_on_the_cached_sweep(induction):
    two, one = induction
    assert len(two) == len(one) == 2
    table = ch07_tables.transition_table(two + one).data
    assert table.count("\n") == 1 + 4 and "2 layer(s), seed 0" in table
    heads = ch07_tables.head_table([two[0], one[0]]).data
    assert heads.count("\n") == 1 + 4 * 2 + 4  # a row per head: 8 in the 2-layer model, 4 in the 1-layer one
    best = ch07_tables.best_induction(two + one)
    assert set(best) == {"2L seed 0", "2L seed 1", "1L seed 0", "1L seed 1"}
    layer, head, score, _ = ch07_tables.top_induction_head(two[0]["metrics"])
    assert score == pytest.approx(best["2L seed 0"]) and layer in (0, 1) and 0 <= head < 4


def test_regression_table_has_every_baseline_column():
    base = {name: np.linspace(1, 0, 9) for name in icl.BASELINES}
    table = ch07_tables.regression_table(base, np.ones((2, 9)) * 0.5, np.zeros(9), dim=4).data
    header = table.splitlines()[0]
    assert "ridge" in header and "3-NN" in header and "averaging" in header
    assert table.count("\n") == 1 + 7  # k = 0, 1, 2, d-1, d, d+2, 2d


def test_few_shot_accuracy_gain_and_table():
    fs = load_sweep("ch07_few_shot")
    shapes = [*ch07.FEW_SHOT_SIZES, ch07.DEPTH_CONTROL]
    acc, params = ch07_tables.few_shot_accuracy(fs, shapes)
    assert all(a.shape == (2, ch07.WORLD.pairs) for a in acc.values())
    assert params[(8, 1)] < params[(64, 2)]
    assert ch07_tables.few_shot_gain(np.array([0.2, 0, 0, 0.6, 0.6, 0.6, 0.6])) == pytest.approx([0.4])
    table = ch07_tables.few_shot_table(acc, params, list(ch07.FEW_SHOT_SIZES)).data
    assert table.count("(control)") == 1
    with pytest.raises(ValueError, match="rerun"):
        ch07_tables.few_shot_accuracy(fs, [(999, 9)])


def test_paper_table_and_figures(induction):
    two, one = induction
    fs = load_sweep("ch07_few_shot")
    sizes = list(ch07.FEW_SHOT_SIZES)
    acc, params = ch07_tables.few_shot_accuracy(fs, sizes)
    table = ch07_tables.paper_table(
        PUBLISHED, two, one, np.linspace(0.1, 0, 9), 4, acc, params, sizes, [0.01, -0.01]
    ).data
    assert table.count("\n") == 1 + 6 and "+0.00 (non-bursty)" in table
    bayes = [ch07.WORLD.bayes_accuracy(k) for k in range(ch07.WORLD.pairs)]
    m = two[0]["metrics"]
    figs = [
        ch07_figures.plot_phase_change(two, one, m, 64),
        ch07_figures.plot_heads(m, one[0]["metrics"], (0, 1, 2)),
        ch07_figures.plot_regression(
            {"least squares": np.zeros(9)}, np.ones((2, 9)), np.ones(9), dim=4, steps=3000, live_steps=600
        ),
        ch07_figures.plot_few_shot(acc, params, sizes, bayes),
    ]
    assert [len(f.axes) for f in figs] == [1, 3, 1, 1]
    assert figs[0].axes[0].get_ylabel() and figs[3].axes[0].get_legend() is not None
    for f in figs:
        plt.close(f)
