"""Chapter 8's room: the base model, instruction tuning, zero-shot scoring and the tuning experiment."""

import json
import math
import os

import pytest
import torch

from helpers import ch08, ch08_results, instruct, sweep
from helpers.instruct import CLUSTERS, InstructionSet, instruction_corpus
from helpers.model import GPT


def test_training_clusters_skip_the_held_out_ones_in_a_fixed_order():
    assert ch08.training_clusters(("qa",), 2) == ("extract", "format")
    assert ch08.training_clusters(("extract", "lists"), 3) == ("format", "strings", "numbers")
    assert set(ch08.CLUSTER_ORDER) == set(CLUSTERS)
    with pytest.raises(ValueError, match="1 to 6 clusters"):
        ch08.training_clusters(("qa",), 7)


def test_every_example_fits_the_base_context():
    ds = InstructionSet(tuple(c for c in CLUSTERS if c != "qa"), ("qa",), per_task=50, n_test=20)
    longest = max(len((e.prompt + e.response).encode()) for s in ("train", "test") for e in ds.examples(s))
    assert longest <= ch08.CONTEXT + 1


def test_tuning_leaves_the_base_alone_and_zero_shot_reports_each_split():
    torch.manual_seed(0)
    base = GPT(ch08.base_config(d_model=16, n_layer=1))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    ds = InstructionSet(("lists",), ("numbers",), per_task=20, n_test=4)
    result = ch08.tune(base, instruction_corpus(ds, ch08.CONTEXT), steps=12, cache=False, progress=False)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in result.model.state_dict().items())
    s = ch08.zero_shot(result.model, ds)
    assert set(s["tasks"]) == set(CLUSTERS["lists"] + CLUSTERS["numbers"])
    assert set(s["unseen"]) == set(CLUSTERS["lists"])
    assert 0 <= s["held_in"] <= 1 and 0 <= s["held_out"] <= 1
    assert math.isnan(s["held_out_options"]) and math.isnan(s["held_out_parses"])  # no such task held out


def test_tuning_run_reports_the_tuned_and_the_base_scores():
    out = ch08.tuning_run(held_out="classify+qa", clusters=1, per_task=20, n_test=4, steps=10, d_model=16, n_layer=1,
                          pretrain_steps=10)  # fmt: skip
    assert isinstance(out, sweep.RunOutput) and out.steps == 10
    m = out.metrics
    assert set(m["tasks"]) == set(CLUSTERS["extract"] + CLUSTERS["classify"] + CLUSTERS["qa"])
    assert 0 <= m["held_out_options"] <= 1 and 0 <= m["base"]["held_out_options"] <= 1
    assert isinstance(out.extras["model"], GPT)


def test_a_worked_base_pretrains_on_every_task_and_tunes_at_its_own_rate():
    corpus = ch08.pretraining_corpus(ch08.PRETRAIN_WORKED)
    assert set(corpus.parts) == {"kjv", "worked"} and corpus.parts["worked"].fingerprint
    # a base of seed 1 reads the worked lines that avoid the test inputs of seed 1's instruction sets
    other = ch08.pretraining_corpus(ch08.PRETRAIN_WORKED, seed=1).parts["worked"]
    assert other.fingerprint == instruct.worked_corpus(seed=1).fingerprint != corpus.parts["worked"].fingerprint
    kw = dict(held_out="lists", clusters=1, per_task=20, n_test=4, steps=10, d_model=16, n_layer=1, pretrain_steps=10,
              pretrain=ch08.PRETRAIN_WORKED)  # fmt: skip
    slow, fast = ch08.tuning_run(tune_lr=1e-5, **kw), ch08.tuning_run(**kw)
    for key in ("held_in", "held_out"):  # one base, pretrained once
        assert slow.metrics["base"][key] == fast.metrics["base"][key]
    assert slow.final_val != fast.final_val


def test_fields_run_scores_seen_and_unseen_keys_for_tuned_and_base():
    out = ch08.fields_run(n_keys=2, budget=40, steps=10, n_test=8, d_model=16, n_layer=1, pretrain_steps=10)
    m = out.metrics
    for scores in (m, m["base"]):
        assert set(scores) >= {"seen", "unseen", "copied"}
        assert all(0 <= scores[k] <= 1 for k in ("seen", "unseen", "copied"))
    assert out.steps == 10 and isinstance(out.extras["model"], GPT)


def test_steering_is_how_far_the_instruction_moves_the_answer():
    follows = {"first": {"first": 1.0, "last": 0.0}, "last": {"first": 0.0, "last": 1.0}}
    biased = {"first": {"first": 0.6, "last": 0.1}, "last": {"first": 0.6, "last": 0.1}}
    assert ch08.steering(follows) == 1.0 and ch08.steering(biased) == 0.0
    mixed = {"first": {"first": 0.3, "last": 0.06}, "last": {"first": 0.08, "last": 0.22}}
    assert ch08.steering(mixed) == pytest.approx((0.3 - 0.08 + 0.22 - 0.06) / 2)
    ex = ch08.steering_exercise({"ends": mixed})
    assert ex.passed(0.19) and not ex.passed(0.2) and not ex.passed(0.26)


def test_zero_shot_asks_a_held_out_lists_cluster_in_both_formats_and_reads_its_steering():
    torch.manual_seed(0)
    model = GPT(ch08.base_config(d_model=16, n_layer=1))
    ds = InstructionSet(("extract",), ("lists",), per_task=10, n_test=4)
    s = ch08.zero_shot(model, ds)
    assert set(s["own"]) == set(CLUSTERS["lists"]) and 0 <= s["held_out_own"] <= 1
    assert set(s["ends"]) == {"first", "last"} and s["steering"] == ch08.steering(s["ends"])
    assert set(s["one_shot"]) == {"first", "last"} and all(0 <= v <= 1 for v in s["one_shot"].values())
    assert s["steering_one_shot"] == ch08.steering(s["ends_one_shot"])
    assert "steering" not in ch08.zero_shot(model, InstructionSet(("lists",), ("extract",), per_task=10, n_test=4))


def test_the_template_exercise_scores_a_new_wording_against_the_tasks_own():
    torch.manual_seed(0)
    model = GPT(ch08.base_config(d_model=16, n_layer=1))
    ds = InstructionSet(("extract",), ("lists",), per_task=10, n_test=4)
    assert ch08.template_score(model, ds, "city", "Extract the city.") == 0.0  # an untrained model
    ex = ch08.template_exercise(model, ds, "city")
    for bad, why in (("Extract the city.", "own templates"), ("", "not an instruction"), ("a\nb", "not an")):
        ok, report = ex.verify(bad)
        assert not ok and why in report
    ok, report = ex.verify("Name the town.")
    assert ok and "exact match 0.00 with your wording" in report  # 0 against a mean of 0: within the margin
    strict = ch08.template_exercise(model, ds, "city", margin=-0.01)
    assert not strict.verify("Name the town.")[0]


def test_the_chapters_grids_share_the_worked_bases():
    grids = {g: sweep._grid(g, "full") for g in ("ch08_clusters", "ch08_prompt", "ch08_live")}
    assert [p["clusters"] for p in grids["ch08_clusters"]] == [6, 6, 3, 3, 1, 1]
    for name in ("ch08_clusters", "ch08_prompt"):
        assert all(p["pretrain_steps"] == 2000 and p["pretrain"] == ch08.PRETRAIN_WORKED for p in grids[name])
    assert all(p["train_prompt"] for p in grids["ch08_prompt"])
    assert [p["seed"] for p in grids["ch08_live"]] == [0, 1, 2] and grids["ch08_live"][0]["d_model"] == 64
    sizes = sweep._grid("ch08_sizes", "full")
    assert [(p["d_model"], p["clusters"], p.get("per_task", 300)) for p in sizes[::2]] == [
        (d, n, k) for d in ch08.SIZES for n, k in ((6, 300), (1, 300), (6, 50))
    ]
    diverse = sweep._grid("ch08_diversity", "full")
    assert all(p["pretrain_steps"] == 2000 and p["pretrain"] == ch08.PRETRAIN_WORKED for p in sizes + diverse)
    assert [(p["clusters"], p["per_task"], p["seed"]) for p in diverse] == [(6, 50, s) for s in ch08.SEEDS]


@pytest.mark.skipif(os.environ.get("COURSE_SLOW") != "1", reason="re-trains a cached chapter 8 run, about 20 minutes "
                    "on 2 cores; run with COURSE_SLOW=1")  # fmt: skip
def test_a_cached_cluster_run_reproduces():
    rows = sweep.load_sweep("ch08_clusters")
    row = next(r for r in rows if r["point"]["clusters"] == 1 and r["seed"] == 0)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(row["threads"])
        fresh = json.loads(sweep.run_point({"recipe": "ch08_tune", **row["point"]}, device="cpu")["metrics"])
    finally:
        torch.set_num_threads(threads)
    groups = ch08_results.by(ch08_results.runs(rows), "clusters")
    for key in ("held_in", "held_in_unseen", "held_out", "held_out_own", "steering"):
        tol = max(0.05, 3 * ch08_results.noise(groups, key))  # 0.05: a few test items of the 150 held out
        assert abs(fresh[key] - row["metrics"][key]) <= tol, (key, fresh[key], row["metrics"][key], tol)
        assert abs(fresh["base"][key] - row["metrics"]["base"][key]) <= tol, key


def test_the_diversity_runs_start_from_the_cluster_runs_bases():
    """ch08_diversity re-pretrained the 128-wide bases of ch08_clusters under newer code: the same bases score the
    same held-out test inputs identically in their own format."""
    clusters = ch08_results.runs(sweep.load_sweep("ch08_clusters"))
    for run in ch08_results.runs(sweep.load_sweep("ch08_diversity")):
        twin = next(r for r in clusters if r.seed == run.seed and r.setting("clusters") == 6)
        assert run.base["own"] == twin.base["own"] and run.base["ends"] == twin.base["ends"]
