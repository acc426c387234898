"""Chapter 8's results, tables, figures and ask-the-models view, on synthetic sweep rows and tiny models."""

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch

from helpers import ch08, ch08_figures, ch08_results, ch08_tables
from helpers.book.papers import PUBLISHED
from helpers.model import GPT

matplotlib.use("Agg")


def _scores(held_out: float, steer: float) -> dict:
    ends = {"first": {"first": 0.5 + steer / 2, "last": 0.1}, "last": {"first": 0.5, "last": 0.1 + steer / 2}}
    tasks = {n: {"exact_match": held_out, "parses": 0.9} for n in ("pairs", "brackets", "tag", "first")}
    return {"tasks": tasks, "held_in": 0.5, "held_in_unseen": 0.4, "held_out": held_out, "held_out_own": 0.6,
            "steering": steer, "ends": ends}  # fmt: skip


def _rows(slope: float = 0.05, noise: float = 0.01) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in (6, 3, 1):
        for seed in (0, 1):
            value = 0.1 * seed + slope * np.log2(n) + noise * rng.standard_normal()
            metrics = {**_scores(value, value), "base": _scores(0.0, 0.0)}
            rows.append({"recipe": "ch08_tune", "point": {"clusters": n, "seed": seed}, "seed": seed,
                         "metrics": metrics, "seconds": 1.0})  # fmt: skip
    return rows


def test_runs_group_by_a_knob_and_give_each_models_scores():
    runs = ch08_results.runs(_rows())
    groups = ch08_results.by(runs, "clusters")
    assert list(groups) == [1, 3, 6] and [r.seed for r in groups[6]] == [0, 1]
    assert ch08_results.values(groups[1], "held_out", "base").tolist() == [0.0, 0.0]
    assert runs[0].scores("base") is runs[0].base and runs[0].scores() is runs[0].tuned
    assert runs[0].score("held_out") == pytest.approx(0.05 * np.log2(6), abs=0.05)
    with pytest.raises(KeyError, match="no score 'nope'"):
        runs[0].score("nope")
    with pytest.raises(KeyError, match="no score 'first_last_one_shot'"):  # a run made before it was scored
        runs[0].score("first_last_one_shot")
    both = {"one_shot": {"first": 0.5, "last": 0.25}, "own": {"first": 1.0, "last": 0.5, "sort": 0.0}}
    shot = ch08_results.Run({}, 0, both, {"own": {"first": 0.5, "last": 0.0}}, 1.0)
    assert shot.score("first_last_one_shot") == 0.375 and shot.score("first_last_own") == 0.75
    assert shot.score("first_last_own", "base") == 0.25  # a run scored before one-shot scoring still has it
    with pytest.raises(KeyError, match="no setting 'width'"):
        ch08_results.by(runs, "width")
    with pytest.raises(ValueError, match="recipe"):
        ch08_results.runs([{**_rows()[0], "recipe": "ability_lm"}])
    # a point without the key has the recipe's default: the 128-wide runs of a grid that never names the width
    narrow = ch08_results.runs([{**_rows()[0], "point": {"d_model": 64, "clusters": 6}}])
    assert list(ch08_results.by(runs + narrow, "d_model")) == [64, 128] == [64, ch08_results.DEFAULTS["d_model"]]
    assert ch08_results.select(runs + narrow, clusters=6, d_model=64) == narrow
    assert [r.seed for r in ch08_results.select(runs + narrow, clusters=6, per_task=300)] == [0, 1, 0]
    with pytest.raises(ValueError, match="no run has"):
        ch08_results.select(runs, clusters=5)
    out = SimpleNamespace(metrics=_rows()[0]["metrics"], seed=3, seconds=2.0)
    live = ch08_results.Run.of(out, {"clusters": 6})
    assert live.seed == 3 and live.score("held_out", "base") == 0.0 and "base" not in live.tuned


def test_paired_differences_match_runs_on_the_same_base():
    runs = ch08_results.runs(_rows())
    six, one = ch08_results.select(runs, clusters=6), ch08_results.select(runs, clusters=1)
    diff = ch08_results.paired(six, one, "held_out")
    assert diff.tolist() == [a.score("held_out") - b.score("held_out") for a, b in zip(six, one)]
    mean, se = ch08_results.mean_se([0.1, 0.3, 0.2])
    assert mean == pytest.approx(0.2) and se == pytest.approx(0.1 / 3**0.5)
    with pytest.raises(ValueError, match="at least two"):
        ch08_results.mean_se([0.1])
    narrow = ch08_results.runs([{**_rows()[0], "point": {"d_model": 64, "clusters": 6}}])
    with pytest.raises(ValueError, match=r"no run to pair with \(width, seed\) \[\(64, 0\)\]"):
        ch08_results.paired(narrow, one, "held_out")


def test_parse_rate_averages_the_format_tasks_of_each_run():
    groups = ch08_results.by(ch08_results.runs(_rows()), "clusters")
    assert ch08_results.parse_rate(groups[6]).tolist() == [0.9, 0.9]
    with pytest.raises(ValueError, match="no structured-generation task"):
        ch08_results.parse_rate([ch08_results.Run({}, 0, {"tasks": {"first": {}}}, {}, 1.0)])


def test_trend_recovers_a_slope_per_doubling_with_one_intercept_per_seed():
    groups = ch08_results.by(ch08_results.runs(_rows(slope=0.05, noise=0.001)), "clusters")
    fit = ch08_results.trend(groups, "held_out")
    assert fit["slope"] == pytest.approx(0.05, abs=0.003) and fit["dof"] == 3 and 0 < fit["se"] < 0.003
    # the seeds' offset (0.1) is not noise: the pooled spread within a cluster count holds it, the trend removes it
    assert ch08_results.noise(groups, "held_out") > 0.05
    flat = ch08_results.by(ch08_results.runs(_rows(slope=0.0, noise=0.02)), "clusters")
    assert abs(ch08_results.trend(flat, "held_out")["slope"]) < 3 * ch08_results.trend(flat, "held_out")["se"]
    with pytest.raises(ValueError, match="leave no residual"):
        ch08_results.trend({6: groups[6]}, "held_out")
    # FLAN's comparison: tuned in the tuning format against the base in its own format (0.6 in _scores)
    run = groups[6][0]
    assert ch08_results.tuning_effect(run) == pytest.approx(run.score("held_out") - 0.6)
    effect = ch08_results.trend(groups, ch08_results.tuning_effect)
    assert effect["slope"] == pytest.approx(fit["slope"]) and effect["se"] == pytest.approx(fit["se"])


def test_tables_show_tasks_scores_formats_and_the_papers():
    groups = ch08_results.by(ch08_results.runs(_rows()), "clusters")
    tasks = ch08_tables.task_table().data
    assert tasks.count("\n") >= 8 and "Task:" in tasks and "⏎" in tasks
    scores = ch08_tables.score_table(groups, "training clusters").data
    assert "steering" in scores and " ± " in scores and scores.count("tuned") == 3
    assert "0.90" in ch08_tables.format_table(groups[6]).data
    run = groups[6][0]
    run.tuned["unseen"] = {"pairs": 0.25}
    per_task = ch08_tables.task_scores(run).data
    assert per_task.index("pairs") < per_task.index("first") and "0.25" in per_task and "held out" in per_task
    with pytest.raises(ValueError, match="format cluster"):
        ch08_tables.format_table([ch08_results.Run({}, 0, {"tasks": {"first": {}}}, {}, 1.0)])
    keys = ("flan", "flan_clusters", "flan_size", "zhang_instructions", "instructgpt_sft")
    paper = ch08_tables.paper_table(PUBLISHED, {k: f"ours {k}" for k in keys}).data
    assert "20 of 25" in paper and "ours flan_size" in paper and "Zhang" in paper
    diversity = {"held_out": np.array([0.1, 0.2]), "steering": np.array([0.0, 0.02])}
    ours = ch08_tables.our_results(groups, {"responses only": groups[6], "prompt too": groups[3]}, groups, diversity)
    assert set(ours) == set(keys) and "per doubling" in ours["flan_clusters"] and "widths 1, 3, 6" in ours["flan_size"]
    assert "+0.150 (standard error 0.050)" in ours["zhang_instructions"]


def test_the_one_shot_table_shows_the_demonstration_the_answer_and_the_right_one():
    torch.manual_seed(0)
    model = GPT(ch08.base_config(d_model=16, n_layer=1))
    examples = ch08.InstructionSet(("extract",), ("lists",), n_test=3).examples("test", "last")
    table = ch08_tables.one_shot_table(model, examples).data
    assert table.count("Task:") == 2 * len(examples) and "right answer" in table
    assert all(f"`{e.answer}`" in table for e in examples)


def test_figures_draw_the_cluster_sweep_and_the_ends():
    groups = ch08_results.by(ch08_results.runs(_rows()), "clusters")
    fig = ch08_figures.plot_clusters(groups)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "training clusters"
    fig = ch08_figures.plot_ends(groups[6])
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "share of answers"
    rows = [{**r, "point": {**r["point"], "d_model": w}} for w in (64, 96) for r in _rows()[:2]]
    for r in rows:
        for m in (r["metrics"], r["metrics"]["base"]):
            m.update(one_shot={"first": 0.4, "last": 0.2}, own={"first": 0.5, "last": 0.5}, steering_one_shot=0.1)
    widths = ch08_results.by(ch08_results.runs(rows), "d_model")
    fig = ch08_figures.plot_sizes(widths, widths)
    left, right = fig.axes
    assert left.get_xscale() == "log" and [t.get_text() for t in left.get_xticklabels()] == ["64", "96"]
    assert len(left.get_legend().get_texts()) == len(ch08_figures.SIZE_LINES) and "steering" in right.get_ylabel()


def test_asking_the_models_answers_in_both_formats_and_refuses_bad_fields():
    torch.manual_seed(0)
    models = {"base": GPT(ch08.base_config(d_model=16, n_layer=1))}
    rows = ch08_figures.answer_rows(models, "What is the last item?", "light water")
    assert [r[:2] for r in rows] == [["base", "tuning format"], ["base", "own format"]]
    for instruction, text in (("", "x"), ("ask", " "), ("a\nb", "x")):
        with pytest.raises(ValueError, match="type an instruction|one line"):
            ch08_figures.answer_rows(models, instruction, text)
    table = ch08_figures.answer_table(models, [("What is the last item?", "light water")]).data
    assert table.count("own format") == 1
    view = ch08_figures.ask_models(models)
    assert "ask the models" in repr(view) and "<table>" in view.children[2].value
    view.children[0].value = ""
    assert "type an instruction" in view.children[2].value
