import json

import numpy as np
import pytest

from helpers import ch04, sweep
from helpers.mixture import DOMAINS, Mixture, mixed_corpus


def test_the_grids_hold_the_designed_runs():
    transfer = sweep.GRIDS["ch04_transfer"]["full"]
    assert len(transfer) == (2 * len(ch04.SINGLES) + len(ch04.PAIRS)) * len(ch04.SEEDS) == 42
    assert {p.get("steps", ch04.STEPS) for p in transfer} == {ch04.STEPS, ch04.HALF}
    law = sweep.GRIDS["ch04_law"]["full"]
    assert len(law) == ch04.N_FIT + ch04.N_HELD_OUT + 2 * len(ch04.SEEDS)
    assert not set(ch04.FIT_MIXTURES) & set(ch04.HELD_OUT)
    for text in ch04.FIT_MIXTURES + ch04.HELD_OUT:
        mix = Mixture.of(text)
        assert min(mix.weight(d) for d in DOMAINS) >= ch04.FLOOR - 1e-9
        assert abs(sum(mix.weights) - 1) < 1e-6


def test_the_natural_mixture_follows_the_domains_sizes():
    natural = ch04.natural_mixture()
    assert natural.names == DOMAINS and abs(sum(natural.weights) - 1) < 1e-6
    assert natural.weight("kjv") > 0.5 and natural.weight("poems") < ch04.FLOOR


def test_the_recipe_refuses_a_width_its_heads_cannot_split():
    corpus = mixed_corpus("kjv=1")
    model, train = ch04.mix_lm(corpus, d_model=32, steps=60)
    assert model.vocab_size == 256 and model.n_head == 2 and train.steps == 60
    with pytest.raises(ValueError, match="multiple of 16"):
        ch04.mix_lm(corpus, d_model=40)


def test_a_point_trains_on_its_mixture_and_is_scored_on_every_domain():
    row = sweep.run_point({"recipe": "mix_lm", "mix": "code=0.5,docs=0.5", "steps": 60, "d_model": 32}, device="cpu")
    losses = json.loads(row["metrics"])["val"]
    assert set(losses) == set(DOMAINS) and row["steps"] == 60
    # trained on English-like ASCII text only, the model has never seen the poems' three-byte characters
    assert losses["poems"] > max(losses["code"], losses["docs"]) + 1
    mixes, props, table = ch04.per_domain([{**row, "metrics": {"val": losses}}])
    assert mixes == ["code=0.5,docs=0.5"] and props.tolist() == [[0, 0.5, 0.5, 0]]
    assert np.allclose(table[0], [losses[d] for d in DOMAINS])


def test_transfer_views_tables_and_figure_from_the_cached_grid():
    from helpers import ch04_figures, ch04_transfer
    from helpers.sweep import load_sweep

    rows = load_sweep("ch04_transfer")
    mean, sd = ch04_transfer.zero_shot(rows)
    assert mean.shape == sd.shape == (4, 4) and (np.diag(mean) < ch04_transfer.UNIFORM_LOSS).all()
    gains = ch04_transfer.pair_gains(rows)
    assert len(gains) == 12 and all(g["gain"].shape == (3,) for g in gains.values())
    g = gains[("docs", "code")]
    assert np.allclose(g["gain"], g["alone_half"] - g["mixed"])
    assert ch04_transfer.gain_verdict(np.array([1.0, 1.1, 0.9])) == "positive"
    assert ch04_transfer.gain_verdict(np.array([-1.0, -1.1, -0.9])) == "negative"
    assert ch04_transfer.gain_verdict(np.array([0.1, -0.1, 0.0])) == "none"
    assert "verdict" in ch04_transfer.transfer_table(gains).data
    ex = ch04_transfer.fraction_exercise(gains)
    assert ex.passed(round(g["fraction"], 2)) and not ex.passed(round(g["fraction"], 2) + 0.05)
    fig = ch04_figures.plot_transfer(mean, gains)
    assert len(fig.axes) == 3  # heat map, its colour bar, the gains


def test_the_law_is_fitted_checked_and_picks_from_the_cached_rows():
    from helpers import ch04_figures, ch04_law
    from helpers.book.papers import PUBLISHED
    from helpers.sweep import load_sweep

    evidence = ch04_law.law_evidence(load_sweep("ch04_law"))
    assert evidence["fit"][0].shape == (ch04.N_FIT, 4) and evidence["held"][1].shape == (ch04.N_HELD_OUT, 4)
    assert evidence["uniform"].shape == evidence["natural"].shape == (3, 4)
    laws = ch04_law.fit_laws(*evidence["fit"])
    predicted, measured = ch04_law.held_out(laws, evidence)
    assert predicted.shape == measured.shape == (ch04.N_HELD_OUT, 4)
    pick = ch04_law.pick(laws)
    assert abs(sum(pick.weights) - 1) < 1e-9 and min(pick.weights) >= ch04.FLOOR - 1e-3
    assert sweep.GRIDS["ch04_pick"]["full"][0]["mix"] == str(pick)  # the grid holds the law's pick
    pick_losses = ch04.per_domain(load_sweep("ch04_pick"))[2]
    candidates = {"pick": (pick, pick_losses), "uniform": (Mixture.uniform(), evidence["uniform"])}
    assert "predicted mean loss" in ch04_law.pick_table(laws, candidates).data
    assert "Ye et al." in ch04_law.paper_table(PUBLISHED, laws, evidence, pick_losses).data
    assert "within 3 sd" in ch04_law.held_out_table(laws, evidence).data
    fit_pred = np.stack([law.predict(evidence["fit"][0]) for law in laws], axis=1)
    fig = ch04_figures.plot_law(fit_pred, evidence["fit"][1], predicted, measured)
    assert fig.axes[0].get_xlabel().startswith("predicted")


def _toy_laws():
    """Laws whose loss on each domain falls with its own share (t = -1 on it) and nothing else."""
    from helpers.scaling import MixingLawFit

    return [MixingLawFit(2.0, 1.0, tuple(-1.0 if i == j else 0.0 for i in range(4)), 1.0, 0.0, 0.0) for j in range(4)]


def test_law_prediction_normalises_weights_and_refuses_bad_ones():
    from helpers import ch04_figures

    r, loss = ch04_figures.law_prediction(_toy_laws(), [2, 1, 1, 0])
    assert np.allclose(r, [0.5, 0.25, 0.25, 0]) and np.allclose(loss, 2 + np.exp(-r))
    assert ch04_figures.outside_range(r) == ["poems"] and ch04_figures.outside_range(np.full(4, 0.25)) == []
    for bad in ([0, 0, 0, 0], [1, -1, 1, 1], [1, 1, 1]):
        with pytest.raises(ValueError, match="non-negative"):
            ch04_figures.law_prediction(_toy_laws(), bad)


def test_share_curves_move_one_domain_and_split_the_rest():
    from helpers import ch04_figures

    shares, curves = ch04_figures.share_curves(_toy_laws(), n=5)
    assert shares[0] == pytest.approx(ch04.FLOOR) and shares[-1] == pytest.approx(1 - 3 * ch04.FLOOR)
    assert curves.shape == (4, 5, 4)
    assert np.allclose(curves[1][:, 1], 2 + np.exp(-shares))  # its own share, on its own law
    assert np.allclose(curves[1][:, 0], 2 + np.exp(-(1 - shares) / 3))  # the others split the rest
    assert len(ch04_figures.plot_shares(_toy_laws()).axes) == 4


def test_mixture_explorer_redraws_and_flags_extrapolation():
    from helpers import ch04_figures

    view = ch04_figures.mixture_explorer(_toy_laws())
    assert repr(view).startswith("[mixture explorer: interactive")
    (kjv, code), (docs, poems) = view.children[0].children, view.children[1].children
    image, note = view.children[2], view.children[3]
    first = image.value
    assert "within the proxies' range" in note.value
    poems.value = 0.0
    assert image.value != first and "for poems" in note.value
    for s in (kjv, code, docs):
        s.value = 0.0
    assert "All four weights are 0" in note.value


def test_the_domain_table_lists_every_domain():
    table = ch04.domain_table().data
    assert all(f"| {d} |" in table for d in DOMAINS) and "2.82" in table


def test_doremi_reweights_from_a_reference_and_a_main_run_is_watched_per_domain():
    from helpers import ch04_doremi

    game, mix = ch04_doremi.doremi_weights(seed=0, steps=60, device="cpu", progress=False, cache=False)
    assert len(game.weights) == 60 and mix.names == DOMAINS and abs(sum(mix.weights) - 1) < 1e-6
    assert mix != Mixture.uniform()  # the game moved the weights
    result, watch = ch04_doremi.main_run(mix, seed=0, steps=60, device="cpu", progress=False)
    assert watch.steps == [25, 50, 60] and set(watch.records[-1]) == set(DOMAINS)
    assert result.model.cfg.d_model == ch04_doremi.MAIN_WIDTH
    grid = sweep.GRIDS["ch04_doremi"]["full"]
    assert sum(p["recipe"] == "doremi_lm" for p in grid) == len(ch04.SEEDS) and len(grid) == 10


def test_rank_and_doremi_readers_on_small_inputs():
    from helpers import ch04_doremi, ch04_law

    assert ch04_law.rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0])) == pytest.approx(0.5)
    table = ch04_law.rank_table(["a", "b", "c"], np.array([3.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])).data
    assert table.index("| b |") < table.index("| c |") < table.index("| a |")  # in the proxies' order
    assert ch04_doremi.worst_excess([[2.0, 3.0], [2.5, 2.5]], [1.0, 2.5]).tolist() == [1.0, 1.5]
    curve = {"step": [25, 50, 75], **{d: [3.0, 2.0, 1.0] for d in DOMAINS}}
    assert ch04_doremi.steps_to_reach(curve, 2.0) == 50 and ch04_doremi.steps_to_reach(curve, 0.5) is None


def test_the_proposal_exercise_refuses_too_much_poetry_before_training():
    from helpers import ch04_law

    evidence = {"uniform": np.full((3, 4), 2.6) + np.arange(3)[:, None] * 0.01}
    ex = ch04_law.proposal_exercise(evidence)
    ok, report = ex.verify("kjv=0.2,code=0.2,docs=0.2,poems=0.4")
    assert not ok and "40%" in report


def test_the_cached_doremi_and_rank_grids_read_back():
    from helpers import ch04_doremi, ch04_law
    from helpers.book.papers import PUBLISHED
    from helpers.sweep import load_sweep

    dor = ch04_doremi.doremi_evidence(load_sweep("ch04_doremi"))
    assert len(dor["mixtures"]) == 3 and dor["uniform"].shape == dor["doremi"].shape == (3, 4)
    assert dor["specialists"].shape == (4,) and dor["trajectories"][0].shape == (30, 4)
    assert "worst domain" in ch04_doremi.doremi_table(dor).data
    reach = [ch04_doremi.steps_to_reach(c, dor["uniform"].mean()) for c in dor["curves"]]
    assert "DoReMi" in ch04_doremi.paper_table(PUBLISHED, dor, reach).data
    assert len(ch04_figures_axes(dor)) == 2
    names, small, large = ch04_law.rank_evidence(load_sweep("ch04_law"), load_sweep("ch04_rank"))
    assert len(names) == len(small) == len(large) == 10 and -1 <= ch04_law.rank_correlation(small, large) <= 1


def ch04_figures_axes(dor):
    from helpers import ch04_figures

    return ch04_figures.plot_doremi(dor).axes


def test_rounded_keeps_three_decimals_and_a_sum_of_one():
    mix = ch04.rounded({"kjv": 1 / 3, "code": 1 / 3, "docs": 1 / 3})
    assert mix.weights == (0.333, 0.333, 0.334)
