"""Chapter 5's room: its grids and recipes, the forecasts over the cached family, the decay report, the tables,
figures and exercises."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from helpers import ch05, ch05_decay, ch05_figures, ch05_forecast, ch05_tables, sweep
from helpers.abilities import SUITES, suites
from helpers.monitor import EarlyStop
from helpers.sweep import load_sweep

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def runs():
    return ch05_forecast.family(load_sweep("ch05_family"))


def test_the_grids_hold_the_designed_runs():
    family = sweep.GRIDS["ch05_family"]["full"]
    assert len(family) == len(ch05.SEEDS) * (len(ch05.LADDER) + len(ch05.TARGETS)) == 21
    assert max(ch05.LADDER) < min(ch05.TARGETS) and ch05.HELD_OUT not in ch05.LADDER + ch05.TARGETS
    assert [p["d_model"] for p in sweep.GRIDS["ch05_holdout"]["full"]] == [ch05.HELD_OUT] * len(ch05.SEEDS)
    assert len(sweep.GRIDS["ch05_decay"]["full"]) == len(ch05.SEEDS)


def test_the_recipe_is_the_chapters_model_and_refuses_a_width_its_heads_cannot_split():
    corpus = ch05.family_corpus()
    model, train = ch05.ability_lm(corpus, d_model=96)
    assert (model.vocab_size, model.n_layer, model.n_head, model.context) == (256, 2, 6, 64)
    assert train.steps == ch05.STEPS and train.eval_every == ch05.EVAL_EVERY
    with pytest.raises(ValueError, match="multiple of 16"):
        ch05.ability_lm(corpus, d_model=40)
    assert ch05.compute_of(64) == pytest.approx(
        next(r for r in load_sweep("ch05_family") if r["point"]["d_model"] == 64)["flops"]
    )


def test_a_quick_point_scores_its_checkpoints_and_items():
    row = sweep.run_point({"recipe": "ability_lm", "d_model": 16, "steps": 40}, device="cpu")
    import json

    metrics = json.loads(row["metrics"])
    assert [c["step"] for c in metrics["checkpoints"]] == [40]
    assert set(metrics["checkpoints"][0]["suites"]) == set(SUITES) == set(metrics["items"])
    assert len(metrics["items"]["verse"]["choices"]) == len(suites()["verse"])


def test_the_family_reads_back_with_its_checkpoints(runs):
    assert len(runs) == 21 and sorted({r.width for r in runs}) == sorted(ch05.LADDER + ch05.TARGETS)
    for r in runs:
        assert len(r.steps) == ch05.STEPS // ch05.EVAL_EVERY and np.all(np.diff(r.compute) > 0)
        assert set(r.domains) == {"kjv", "code", "arith"} and set(r.suites) == set(SUITES)
    assert len(ch05_forecast.ladder(runs)) == 15 and len(ch05_forecast.targets(runs)) == 6


def test_forecasts_are_fitted_on_the_ladder_only(runs):
    f = ch05_forecast.two_step(runs, "verse")
    assert f.widths == ch05.TARGETS and f.predicted.shape == f.measured.shape == (2,)
    step1, step2 = ch05_forecast.fit_two_step(ch05_forecast.ladder(runs) + ch05_forecast.targets(runs)[:0], "verse")
    assert step2.predict(step1.predict(f.compute)) == pytest.approx(f.predicted)
    at = ch05_forecast.forecast_at(runs, "verse", "mc_accuracy", f.compute)
    assert at == pytest.approx(f.predicted)
    with pytest.raises(ValueError, match="method"):
        ch05_forecast.forecast_at(runs, "verse", "mc_accuracy", f.compute, method="guess")
    g = ch05_forecast.gpt4_forecast(runs, "facts")
    assert np.all(g.measured > 0) and g.fits[0].alpha > 0


def test_a_forecast_of_a_metric_that_never_leaves_chance_is_refused(runs):
    with pytest.raises(ValueError, match="chance"):
        ch05_forecast.direct(runs, "verse", "exact_match")


def test_chain_correlations_count_constant_items_as_uncorrelated(runs):
    corr = ch05_forecast.chain_correlations(runs, "verse")
    assert set(corr) == set(ch05_forecast.CHAIN)
    for v in corr.values():
        assert v["per_item"].shape == (len(suites()["verse"]),) and np.all(np.abs(v["per_item"]) <= 1 + 1e-9)
        assert 0 < v["n"] <= len(v["per_item"])


def test_collapse_and_threshold(runs):
    c = ch05_forecast.collapse(runs, "facts")
    assert c["widths"] == sorted(ch05.LADDER + ch05.TARGETS) and c["offset"].shape == (7,)
    at = ch05_forecast.threshold(c["link"], 0.25, 0.05)
    assert c["link"].predict(at) == pytest.approx(0.30)
    with pytest.raises(ValueError, match="margin"):
        ch05_forecast.threshold(c["link"], 0.25, 0.9)


def test_the_decay_report_finds_the_peak_the_stop_and_its_cost():
    steps = [150 * (i + 1) for i in range(20)]
    facts = [
        min(1.0, 0.1 * i) if s <= ch05.SHIFT else max(0.0, 1 - (s - ch05.SHIFT) / 900) for i, s in enumerate(steps)
    ]
    arith = [2.0 - 0.05 * i if s <= ch05.SHIFT else 1.5 + (s - ch05.SHIFT) / 1000 for i, s in enumerate(steps)]
    text = [2.0 - 0.02 * i for i in range(20)]

    def checkpoint(i):
        suites_ = {n: {"exact_match": facts[i], "mc_accuracy": facts[i]} for n in ("facts", "sums")}
        return {"step": steps[i], "suites": suites_, "domains": {"arith": arith[i], "kjv": text[i], "code": text[i]}}

    rows = [{"seed": 0, "metrics": {"checkpoints": [checkpoint(i) for i in range(20)]}}]
    decay = ch05_decay.decay_curves(rows)
    report = ch05_decay.decay_report(decay)[0]
    assert report["stop"] == EarlyStop(ch05.SHIFT + 3 * 150, ch05.SHIFT, pytest.approx(arith[9]))
    assert report["kept"] == pytest.approx(facts[9]) and report["cost"] == pytest.approx(0.2)
    assert report["peak"] == 0.9 and report["end"] == pytest.approx(facts[-1])


def test_tables_and_figures_from_the_cache(runs):
    import matplotlib.pyplot as plt

    assert "facts" in ch05_tables.suite_table(suites()).data
    forecasts = [ch05_forecast.two_step(runs, "verse"), ch05_forecast.direct(runs, "verse")]
    assert "two steps" in ch05_tables.forecast_table(forecasts).data
    assert "log p" in ch05_tables.chain_table({"verse": ch05_forecast.chain_correlations(runs, "verse")}).data
    for fig in (ch05_figures.plot_family(runs), ch05_figures.plot_two_step(runs, "verse", "mc_accuracy")):
        assert len(fig.axes) == 3
        plt.close(fig)
    fig, notes = ch05_figures.plot_forecasts(runs, "exact_match")
    assert "no fit" in notes["verse"] and "error" in notes["facts"]
    plt.close(fig)


def test_the_explorer_redraws_for_each_menu(runs):
    view = ch05_figures.forecast_explorer(runs)
    menus, image, note = view.children[0].children, view.children[1], view.children[2]
    first = image.value
    menus[0].value = "facts"
    assert image.value != first and "error" in note.value
    menus[1].value = "exact_match"
    assert "forecast" in note.value.lower()


def test_exercises_check_what_they_say(runs):
    g = ch05_forecast.gpt4_forecast(runs, "verse")
    ex1 = ch05.decade_exercise(g.fits[0])
    assert ex1.passed(round(10 ** -g.fits[0].alpha, 2)) and not ex1.passed(0.5)
    ex2 = ch05.holdout_exercise()
    assert ex2.passed(ex2.expected) and not ex2.passed(ex2.expected + 0.2)
    c = ch05_forecast.collapse(runs, "verse")
    ex3 = ch05.loss_not_size_exercise(c["link"], 0.1, (1.3, 2.5))
    ok, report = ex3.verify(object())
    assert not ok and "TrainResult" in report


def test_the_emergence_forecast_reads_chapter_6s_family():
    e = ch05_forecast.emergence_forecast(load_sweep("ch06_family"))
    assert e["ladder"].sum() == 3 and np.all(np.diff(e["compute"]) > 0)
    assert isinstance(e["direct"], str) and "R²" in e["direct"]  # the direct fit refuses the flat ladder
    assert e["forecast"][-1] > 10 * e["nll"][-1]  # the smooth metric's forecast misses the jump
    import matplotlib.pyplot as plt

    plt.close(ch05_figures.plot_emergence(e))
