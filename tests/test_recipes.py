import pytest

from helpers.model import non_embedding_params
from helpers.recipes import RECIPES, scaling, tiny_lm
from helpers.sweep import GRIDS


def test_tiny_lm_is_nanogpt_cpu_shape(corpus):
    model, train = tiny_lm(corpus, seed=3, steps=50)
    assert (model.n_layer, model.n_head, model.d_model, model.context) == (4, 4, 128, 64)
    assert train.seed == 3 and train.steps == 50 and model.vocab_size == corpus.vocab_size


def test_scaling_recipe_spends_the_budget(corpus):
    model, train = scaling(corpus, d_model=64, n_layer=2, flops=1e12)
    tokens = train.steps * train.batch_size * model.context
    assert 6 * non_embedding_params(model) * tokens == pytest.approx(1e12, rel=0.01)
    assert model.n_head == 4 and train.eval_batches == 16 and train.warmup_steps < train.steps
    _, short = scaling(corpus, d_model=16, n_layer=1, tokens=1000)
    assert short.steps == 50  # a floor so that even tiny budgets get a schedule
    with pytest.raises(ValueError, match="exactly one of tokens= or flops="):
        scaling(corpus, d_model=64, n_layer=2)
    with pytest.raises(ValueError, match="exactly one of tokens= or flops="):
        scaling(corpus, d_model=64, n_layer=2, tokens=1e6, flops=1e12)


def test_every_grid_point_builds_a_valid_config(corpus):
    for name, profiles in GRIDS.items():
        for profile, points in profiles.items():
            for point in points:
                kwargs = {k: v for k, v in point.items() if k != "recipe"}
                model, train = RECIPES[point["recipe"]](corpus, **kwargs)
                assert train.steps >= 50, (name, profile, point)


def test_isoflop_grid_has_enough_budgets_and_sizes():
    budgets = {}
    for p in GRIDS["ch02_isoflop"]["full"]:
        budgets.setdefault(p["flops"], []).append((p["d_model"], p["n_layer"]))
    assert len(budgets) >= 4 and all(len(sizes) >= 5 for sizes in budgets.values())
