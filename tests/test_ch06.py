"""Chapter 6's tables, figure and family statistics (``helpers.ch06``), on small synthetic scores and on the
committed cached family ``ch06_family``."""

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

from helpers import ch06
from helpers.sweep import load_sweep

matplotlib.use("Agg")


def _score(em: float, acc: float, n: int = 1000) -> dict:
    """A scored model as ``helpers.tasks.evaluate`` returns it (only the fields the chapter reads)."""
    return {
        "exact_match": em,
        "digit_accuracy": acc,
        "edit_distance": 5 * (1 - acc),
        "logprob": np.log(max(em, 1e-4)),
        "correct_counts": [0, 0, 0, 0, n - round(em * n), round(em * n)],
        "per_position": [acc] * 5,
        "n": n,
    }


@pytest.fixture(scope="module")
def family():
    rows = load_sweep("ch06_family")
    return np.array([r["non_embedding"] for r in rows], dtype=float), [r["metrics"] for r in rows]


def test_live_table_has_a_row_per_width():
    model = SimpleNamespace(param_counts=lambda: {"non_embedding": 3312})
    lines = ch06.live_table({16: (model, _score(0.5, 0.75))}).data.splitlines()
    assert lines[0] == "| width | N | exact match | digit accuracy | edit distance | log p(answer) |"
    assert lines[2:] == ["| 16 | 3,312 | 0.500 | 0.750 | 1.25 | -0.69 |"]


def test_cached_twin_picks_the_seed_among_the_runs_of_a_size():
    rows = [{"non_embedding": n, "seed": s} for n in (10, 20) for s in range(3)]
    twin, same = ch06.cached_twin(rows, 20, seed=1)
    assert twin == {"non_embedding": 20, "seed": 1} and [r["seed"] for r in same] == [0, 1, 2]
    with pytest.raises(ValueError, match="0 cached runs with N = 30"):
        ch06.cached_twin(rows, 30)


def test_plot_rulers_draws_one_panel_per_metric():
    params = [100, 100, 1000, 1000]
    fig = ch06.plot_rulers(params, [_score(0, 0.2), _score(0, 0.3), _score(0.9, 0.95), _score(1, 1)])
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [
        "exact match",
        "digit accuracy",
        "token edit distance",
        "log p(correct answer)",
    ]
    assert [ax.get_ylabel() for ax in axes] == ch06.RULERS
    assert all(len(ax.lines) == 2 and ax.get_xscale() == "log" for ax in axes)  # the runs, and their means
    assert tuple(fig.get_size_inches()) == (9, 6.4)


def test_by_size_gives_the_mean_and_seed_spread_per_size():
    scores = [_score(0, 0.2), _score(0, 0.4), _score(1, 0.9), _score(1, 1.0)]
    mean, sd = ch06.by_size([200, 200, 100, 100], scores, "digit accuracy")
    np.testing.assert_allclose(mean, [0.95, 0.3])  # smallest size first
    np.testing.assert_allclose(sd, [np.std([0.9, 1.0], ddof=1), np.std([0.2, 0.4], ddof=1)])
    mean, _ = ch06.by_size([1, 1, 2, 2], scores, "at least k digits right", k=5)
    np.testing.assert_allclose(mean, [0, 1])


def test_family_table_reads_the_cached_family(family):
    N, scores = family
    em, em_sd = ch06.by_size(N, scores, "exact match")
    acc, acc_sd = ch06.by_size(N, scores, "digit accuracy")
    dist, _ = ch06.by_size(N, scores, "token edit distance")
    logp, _ = ch06.by_size(N, scores, "log p(correct answer) (nats)")
    lines = ch06.family_table(np.unique(N), em, em_sd, acc, acc_sd, dist, logp).data.splitlines()
    assert lines[0] == "| N | exact match | digit accuracy | edit distance | log p(answer) |"
    assert len(lines) == 2 + 9
    assert lines[2] == "| 888 | 0.000 ± 0.000 | 0.236 ± 0.021 | 3.81 | -9.21 |"


def test_jump_line_names_the_largest_step_and_its_sizes():
    line = ch06.jump_line("exact match", np.diff([0.0, 0.1, 0.7, 0.8]), np.array([1e3, 2e3, 4e3, 8e3]))
    assert line == "largest jump in exact match:    0.600 (N 2,000 -> 4,000)"
    assert ch06.jump_line("digit accuracy", [0.5], [1, 2]).startswith("largest jump in digit accuracy: 0.500")


def test_bootstrap_jump_ratios_resample_within_each_size():
    params = np.repeat([1, 2, 3], 4)
    em, acc = np.repeat([0.0, 0.2, 0.8], 4), np.repeat([0.3, 0.5, 0.6], 4)
    ratios = ch06.bootstrap_jump_ratios(params, em, acc, n_boot=50)
    np.testing.assert_allclose(ratios, 3.0)  # identical seeds: every resample gives the point ratio 0.6 / 0.2
    noisy = em + np.tile([0.0, 0.05, 0.1, 0.15], 3)
    a, b = (ch06.bootstrap_jump_ratios(params, noisy, acc, n_boot=50, seed=s) for s in (0, 0))
    assert a.shape == (50,) and np.array_equal(a, b) and a.std() > 0


def test_false_zeros_table_turns_rates_into_problems_per_hit():
    lines = ch06.false_zeros_table([888], [0.0002], [1e-4], [np.log(2e-4)]).data.splitlines()
    assert lines[0].startswith("| N | measured exact match | prod p_i |") and lines[0].endswith("problems for 1 hit |")
    assert lines[2:] == ["| 888 | 0.0002 | 1.00e-04 | 2.00e-04 | 10,000 |"]


def test_threshold_table_has_a_column_per_k(family):
    N, scores = family
    lines = ch06.threshold_table(N, scores, 5).data.splitlines()
    assert lines[0] == "| N | ≥ 1 of 5 right | ≥ 2 of 5 right | ≥ 3 of 5 right | ≥ 4 of 5 right | ≥ 5 of 5 right |"
    assert len(lines) == 2 + 9 and lines[-1] == "| 56,640 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |"


def test_paper_table_sets_wei_beside_our_numbers():
    table = ch06.paper_table(
        digits=4, half=12768.0, jump_em=0.513, jump_acc=0.184, factor=2.8, err_prod=0.01, err_bar=0.03
    )
    lines = table.data.splitlines()
    assert lines[0] == "|  | paper | ours |" and len(lines) == 2 + 4
    assert "about 13B parameters, 2.3e+22 FLOPs" in lines[3] and "N = 12,768" in lines[3]
    assert lines[4].endswith("| — | exact match 0.51, digit accuracy 0.18 (ratio 2.8) |")
