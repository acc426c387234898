"""Chapter 8's room: the base model, instruction tuning, zero-shot scoring and the tuning experiment."""

import math

import pytest
import torch

from helpers import ch08, instruct, sweep
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
