"""The chapter rooms (``helpers.chNN``): their recipes, and every point of every registered grid."""

import importlib
import json
import subprocess
import sys

import pytest

from helpers import sweep
from helpers.ch01 import tiny_lm
from helpers.ch02 import scaling
from helpers.ch06 import arithmetic
from helpers.model import non_embedding_params
from helpers.tasks import AdditionTask


def test_tiny_lm_is_nanogpt_cpu_shape(corpus):
    model, train = tiny_lm(corpus, seed=3, steps=50)
    assert (model.n_layer, model.n_head, model.d_model, model.context) == (4, 4, 128, 64)
    assert train.seed == 3 and train.steps == 50 and model.vocab_size == corpus.vocab_size


def test_scaling_recipe_spends_the_budget(corpus):
    model, train = scaling(corpus, d_model=64, n_layer=2, flops=1e12)
    tokens = train.steps * train.batch_size * model.context
    assert 6 * non_embedding_params(model) * tokens == pytest.approx(1e12, rel=0.01)
    assert model.n_head == 4 and train.eval_batches == 16 and train.warmup_steps < train.steps
    _, short = scaling(corpus, d_model=16, n_layer=1, tokens=50 * 32 * 64)
    assert short.steps == 50 and short.warmup_steps == 5
    with pytest.raises(ValueError, match=r"only 0 steps .* tokens >= 102,400 .* or pick a smaller model"):
        scaling(corpus, d_model=16, n_layer=1, tokens=1000)  # a budget too small is refused, not stretched
    with pytest.raises(ValueError, match=r"flops=1e\+09 gives the 64-wide, 2-layer model only"):
        scaling(corpus, d_model=64, n_layer=2, flops=1e9)
    with pytest.raises(ValueError, match="exactly one of tokens= or flops="):
        scaling(corpus, d_model=64, n_layer=2)
    with pytest.raises(ValueError, match="exactly one of tokens= or flops="):
        scaling(corpus, d_model=64, n_layer=2, tokens=1e6, flops=1e12)


def test_every_grid_point_builds_a_valid_config(corpus):
    corpora = {"kjv": corpus}
    names = sweep.known_grids()
    assert {"ch01_seeds", "ch02_isoflop", "ch06_family", "ch09_code"} <= set(names)
    for name in names:
        assert importlib.util.find_spec(f"helpers.{name.split('_')[0]}"), f"grid {name} names no chapter room"
        for profile, points in sweep.GRIDS[name].items():
            for point in points:
                experiment = sweep.EXPERIMENTS[point["recipe"]]
                recipe = getattr(experiment, "recipe", None)
                if recipe is None:  # not a GPT trained from a recipe; its chapter's tests run it
                    continue
                data = point.get("data", "kjv")
                if data not in corpora:
                    corpora[data] = sweep.DATASETS[data]()
                kwargs = {k: v for k, v in point.items() if k not in ("recipe", "data")}
                model, train = recipe(corpora[data], **kwargs)
                assert train.steps >= 50, (name, profile, point)


def test_importing_the_sweep_runner_imports_no_chapter():
    """The generic runner knows no chapter: loading a CSV in chapter 1 must not import PPO."""
    code = (
        "import sys, helpers.sweep, helpers.train, helpers.cache, helpers.scaling; "
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('helpers.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    chapter_packages = ("rl", "icl", "instruct", "tasks", "transfer")
    rooms = [m for m in loaded if m.split(".")[1][:2] == "ch" or m.split(".")[1] in chapter_packages]
    assert rooms == [], f"the core imported chapter code: {rooms}"


def test_arithmetic_recipe_fits_whole_lines_and_refuses_plain_text(corpus):
    task_corpus = AdditionTask(digits=3, n_train=500, n_test=50).corpus()
    model, train = arithmetic(task_corpus, d_model=48, n_layer=2, steps=400, seed=2)
    assert model.context == 4 * len("123+456=0579\n") and model.n_head == 3 and model.vocab_size == 13
    assert train.steps == 400 and train.seed == 2 and train.warmup_steps == 40
    with pytest.raises(ValueError, match="not a task corpus"):
        arithmetic(corpus, d_model=48, n_layer=2)


def test_isoflop_grid_has_enough_budgets_and_sizes():
    budgets = {}
    for p in sweep._grid("ch02_isoflop", "full"):
        budgets.setdefault(p["flops"], []).append((p["d_model"], p["n_layer"]))
    assert len(budgets) >= 4 and all(len(sizes) >= 5 for sizes in budgets.values())
