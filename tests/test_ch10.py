"""Chapter 10's result gathering, tables and figures (helpers.ch10_tables, helpers.ch10_figures), on its cached
sweep, a tiny untrained policy and hand-made runs whose answers are known."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers import ch10_figures, ch10_tables, rl
from helpers.book.papers import PUBLISHED
from helpers.model import GPT
from helpers.sweep import load_sweep

WORLD = rl.PreferenceWorld()


@pytest.fixture(scope="module")
def rows():
    return load_sweep("ch10_overopt")


def _ppo_result(gold):
    n = len(gold)
    records = {"iteration": list(range(n)), "proxy": [0.1 * i for i in range(n)], "gold": gold, "kl": [0.0, 1.0, 4.0]}
    return SimpleNamespace(history=SimpleNamespace(records=records))


def test_cached_point_finds_a_point_and_names_a_missing_one(rows):
    m = ch10_tables.cached_point(rows, 2000)
    assert {"accuracy", "bon", "ppo"} <= set(m)
    with pytest.raises(KeyError, match="pairs.*rerun"):
        ch10_tables.cached_point(rows, 3)


def test_newline_share_of_an_untrained_policy():
    torch.manual_seed(0)
    share, cut = ch10_tables.newline_share(GPT(WORLD.model_config(d_model=16, n_layer=1, n_head=2)), WORLD, n=200)
    # an untrained model writes the newline about 1 time in 9, so most of 12 letters hold one
    assert 0.5 < share <= 1.0 and len(cut) == 4 and all("|" in s for s in cut)


def test_bon_fit_recovers_the_peak_of_an_exact_curve():
    kl = np.linspace(0, 6, 13)
    d = np.sqrt(kl)
    curve = {"n": list(range(1, 14)), "kl": kl, "gold": list(d * (1.2 - 0.4 * d)), "proxy": list(d)}
    fit = ch10_tables.bon_fit([curve, curve])
    assert fit["alpha"] == pytest.approx(1.2, abs=1e-6) and fit["beta"] == pytest.approx(0.4, abs=1e-6)
    assert fit["peak_d"] == pytest.approx(1.5, abs=1e-6)  # α / 2β
    assert fit["peak_n"] == 6 and fit["seed_peaks"] == [6, 6]  # d nearest 1.5: KL 2.5, the 6th point
    table = ch10_tables.bon_fit_table({250: fit}).data
    assert "| 250 | 1.20 | 0.40 | 1.50 | 6 | 6, 6 |" in table


def test_rl_points_skip_each_first_evaluation():
    runs = {0.0: {"kl": [0.0, 1.0, 4.0], "gold": [2.0, 3.0, 1.0], "proxy": [0, 1, 2]}}
    ds, gains, finals = ch10_tables.rl_points(runs)
    assert ds == [1.0, 2.0] and gains == [1.0, -1.0] and finals == [[0.0, 2, 1.0, 4.0]]


def test_tables_and_figures(rows):
    ppo = {0.05: _ppo_result([2.0, 3.0, 3.5]), 0.0: _ppo_result([2.0, 0.0, -5.0])}
    ev = {"proxy": -0.04, "gold": 2.8, "kl": 3.0}
    table = ch10_tables.policy_table(ev, 0.65, ppo, [ev], [0.6]).data
    assert "| SFT | +0.0 |" in table and "-0.0" not in table and table.count("\n") == 1 + 4
    bon = ch10_tables.cached_point(rows, 2000)["bon"]
    assert ch10_tables.bon_table(bon).data.count("\n") == 1 + len(bon["n"])
    pairs = sorted({r["point"]["pairs"] for r in rows})
    acc_by = {p: [ch10_tables.cached_point(rows, p, s)["accuracy"] for s in range(3)] for p in pairs}
    fits = {p: ch10_tables.bon_fit([ch10_tables.cached_point(rows, p, s)["bon"] for s in range(3)]) for p in pairs}
    coefs = sorted({r["point"]["kl_coef"] for r in rows})
    runs = {k: ch10_tables.cached_point(rows, 2000, 0, k)["ppo"] for k in coefs}
    ds, gains, finals = ch10_tables.rl_points(runs)
    alpha, beta = rl.fit_gao(np.array(ds), np.array(gains), "rl")
    ours = dict(
        acc_by=acc_by,
        ceiling=0.74,
        leash_gold=3.5,
        gold_sft=2.8,
        finals=finals,
        dpo_eval=[ev],
        bon_peak_n=32,
        peak_d={p: f["peak_d"] for p, f in fits.items()},
        alpha_rl=alpha,
        beta_rl=beta,
    )
    paper = ch10_tables.paper_table(PUBLISHED, ours).data
    assert paper.count("\n") == 1 + 6 and "(8,000 pairs)" in paper and "peaks at n = 32" in paper
    figs = [
        ch10_figures.plot_rm_accuracy(acc_by, 0.74),
        ch10_figures.plot_ppo(ppo, 2.8),
        ch10_figures.plot_bon_fits(fits),
        ch10_figures.plot_rl(runs, finals, alpha, beta, 2.8),
    ]
    assert [len(f.axes) for f in figs] == [1, 3, 2, 2]
    assert all(f.axes[0].get_xlabel() and f.axes[0].get_ylabel() for f in figs)
    for f in figs:
        plt.close(f)
