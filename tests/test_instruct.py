"""Chapter 8's instruction tasks, splits, corpus and scores (``helpers.instruct``)."""

import re

import numpy as np
import pytest
import torch

from helpers import instruct
from helpers.instruct import data as idata
from helpers.instruct.score import answers, end_choices, exact_match, option_choices, prompt_answers, scores
from helpers.instruct.score import copied_value as score_copied
from helpers.model import GPT, GPTConfig

SET = instruct.InstructionSet(("strings", "lists", "extract", "format"), ("qa", "classify"), per_task=60, n_test=20)
SET_CORPUS = instruct.instruction_corpus(SET, 192)


def test_every_task_makes_answers_that_follow_from_its_input():
    rng = np.random.default_rng(0)
    for t in instruct.TASKS:
        for _ in range(20):
            text, answer = t.make(rng)
            assert answer and "\n" not in answer and "\n" not in text, t.name
            if t.options:
                assert answer in t.options and all(o in text for o in t.options), t.name
            if t.pattern:
                assert t.parses(answer), t.name
    text, answer = instruct.task("reverse").make(np.random.default_rng(1))
    assert answer == text[::-1]
    record, city = instruct.task("city").make(np.random.default_rng(2))
    assert f"city: {city}" in record


def test_clusters_partition_the_tasks_in_the_seed_kinds():
    assert {"qa", "classify", "extract", "format"} <= set(instruct.CLUSTERS)
    names = [n for c in instruct.CLUSTERS.values() for n in c]
    assert sorted(names) == sorted(t.name for t in instruct.TASKS) and len(names) == len(set(names))
    assert all(len(c) >= 3 for c in instruct.CLUSTERS.values())


def test_a_task_needs_three_templates_and_only_a_format_task_parses():
    with pytest.raises(ValueError, match="3 distinct"):
        instruct.Task("x", "lists", ("a", "b"), lambda rng: ("i", "o"))
    with pytest.raises(ValueError, match="no format"):
        instruct.task("reverse").parses("abc")
    assert not instruct.task("pairs").parses("name=Ann age=3")
    with pytest.raises(KeyError, match="the tasks are"):
        instruct.task("nope")


def test_splits_are_exact_reproducible_and_disjoint():
    train, test = SET.examples("train"), SET.examples("test")
    assert len(train) == 60 * len(SET.train_tasks) and len(test) == 20 * (
        len(SET.train_tasks) + len(SET.held_out_tasks)
    )
    assert {e.task for e in train} == set(SET.train_tasks) and not {e.task for e in train} & set(SET.held_out_tasks)
    assert {e.template for e in train} == {0, 1}  # the first train_templates only
    again = instruct.InstructionSet(SET.train_clusters, SET.held_out, per_task=60, n_test=20)
    assert again.examples("test") == test  # the same draw from a fresh set
    for t in SET.train_tasks:
        seen = {e.input for e in SET.examples("train", t)}
        assert not seen & {e.input for e in SET.examples("test", t)}
    unseen = SET.examples("unseen")
    assert all(e.template >= 2 for e in unseen) and [e.input for e in unseen] == [e.input for e in test]
    bigger = instruct.InstructionSet(
        ("strings", "lists", "extract", "format", "numbers"), ("qa",), per_task=90, n_test=20
    )
    assert bigger.examples("test", "where") == SET.examples("test", "where")  # a test set ignores training
    assert bigger.examples("train", "first")[:60] == SET.examples("train", "first")  # smaller sets nest
    other = instruct.InstructionSet(SET.train_clusters, SET.held_out, per_task=60, n_test=20, seed=1)
    assert other.examples("train") != train


def test_a_set_refuses_bad_splits():
    for kwargs, field in (
        ({"train_clusters": ("lists",), "held_out": ("lists",)}, "held_out"),
        ({"train_clusters": ("lists",), "held_out": ()}, "held_out"),
        ({"train_clusters": ("poetry",), "held_out": ("qa",)}, "train_clusters"),
        ({"train_clusters": ("lists",), "held_out": ("qa",), "tasks": ("where",)}, "tasks"),
        ({"train_clusters": ("lists",), "held_out": ("qa",), "per_task": 0}, "per_task"),
    ):
        with pytest.raises(ValueError, match=f"InstructionSet.{field}"):
            instruct.InstructionSet(**kwargs)
    with pytest.raises(ValueError, match="none is left unseen"):
        instruct.InstructionSet(("lists",), ("qa",), train_templates=3).examples("unseen")
    with pytest.raises(ValueError, match="choose 'train'"):
        SET.examples("val")
    narrow = instruct.InstructionSet(("lists", "strings"), ("qa",), tasks=("first", "upper"), per_task=5)
    assert narrow.train_tasks == ("first", "upper") and len(narrow.examples("train")) == 10


def test_the_prompt_format_and_response_end_in_a_newline():
    e = SET.examples("train")[0]
    assert e.prompt.startswith("Task: ") and "\nInput: " in e.prompt and e.prompt.endswith("\nAnswer:")
    assert e.response == f" {e.answer}\n"


def test_the_sampler_packs_examples_and_trains_on_the_responses_only_unless_asked():
    corpus = instruct.instruction_corpus(SET, 192)
    x, y = corpus.sampler("train", 192, 8, seed=0).sample()
    assert x.shape == y.shape == (8, 192) and torch.equal(x[:, 1:], y[:, :-1].where(y[:, :-1] >= 0, x[:, 1:]))
    responses = {e.response for e in SET.examples("train")}
    for row_x, row_y in zip(x, y):
        assert bytes(row_x[:6].tolist()).decode() == "Task: "  # every window starts at an example
        counted = bytes(row_y.where(row_y >= 0, 0).tolist()).decode().split("\x00")
        whole = [r for r in counted if r.endswith("\n")]
        assert whole and all(r in responses for r in whole)  # the counted targets are whole responses
    ids, keep, starts = idata.encode(SET.examples("train"), 192)
    assert int(keep.sum()) == sum(len(e.response.encode()) for e in SET.examples("train"))
    assert len(starts) == len(SET.examples("train")) and bytes(ids[starts[1] : starts[1] + 5].tolist()) == b"Task:"
    order = [bytes(ids[s : s + 60].tolist()) for s in starts[:5]]
    assert order != sorted(order) or len(set(order)) < 5  # shuffled, not task by task
    whole = instruct.instruction_corpus(SET, 192, train_prompt=True)
    _, y2 = whole.sampler("train", 192, 8, seed=0).sample()
    assert bytes(y2[0, :5].tolist()).decode() == "ask: "  # the prompt is counted too
    assert whole.fingerprint != corpus.fingerprint and int((y2 < 0).sum()) == 0
    with pytest.raises(ValueError, match="longer context"):
        idata.encode(SET.examples("train"), 40)
    with pytest.raises(ValueError, match="do not fill one window"):
        idata.PackedSampler(ids[:100], keep[:100], starts[:1], 192, 4)


def test_rank_classification_picks_the_likeliest_option():
    class Fixed(torch.nn.Module):
        """A model that always puts its mass on one byte (so the option starting with it wins)."""

        cfg = GPTConfig(vocab_size=256, context=192)

        def __init__(self, byte):
            super().__init__()
            self.byte, self.w = byte, torch.nn.Parameter(torch.zeros(1))

        def forward(self, idx, targets=None):
            logits = torch.full((*idx.shape, 256), -10.0)
            logits[..., self.byte] = 10.0
            logits[..., ord(" ")] = 10.0  # every response starts with a space
            return logits, None

    examples = SET.examples("test", "parity")[:8]
    assert option_choices(Fixed(ord("o")), examples) == ["odd"] * 8
    assert option_choices(Fixed(ord("e")), examples) == ["even"] * 8
    with pytest.raises(ValueError, match="no options"):
        option_choices(Fixed(ord("e")), SET.examples("test", "first")[:2])


def test_scores_read_greedy_answers_up_to_the_newline():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, context=192, n_layer=1, n_head=2, d_model=16))
    examples = SET.examples("test", "pairs")[:6] + SET.examples("test", "first")[:6]
    examples += SET.examples("test", "parity")[:6]
    said = answers(model, examples, max_new=8)
    assert len(said) == 18 and all("\n" not in s for s in said)
    got = scores(model, examples, max_new=8)
    assert set(got) == {"pairs", "first", "parity"} and "parses" in got["pairs"] and "parses" not in got["first"]
    assert "option_accuracy" in got["parity"] and "option_accuracy" not in got["first"]
    assert exact_match([e.answer for e in examples], examples) == 1.0
    with pytest.raises(ValueError, match="one answer per example"):
        exact_match([], examples)
    small = GPT(GPTConfig(vocab_size=256, context=24, n_layer=1, n_head=2, d_model=16))
    with pytest.raises(ValueError, match="no room to answer"):
        answers(small, examples)
    assert re.fullmatch(instruct.task("brackets").pattern, "[a|b]")


def test_a_look_up_task_answers_the_value_of_the_field_its_instruction_names():
    t = instruct.task("field:pet")
    assert t is instruct.field_task("pet") and t.cluster == "fields" and all("pet" in x for x in t.templates)
    rng = np.random.default_rng(0)
    for _ in range(20):
        record, value = t.make(rng)
        fields = dict(f.split(": ") for f in record.split("; "))
        assert len(fields) == instruct.FIELDS_PER_RECORD and fields["pet"] == value
        assert len(set(fields.values())) == instruct.FIELDS_PER_RECORD
    with pytest.raises(KeyError, match="no field 'wing'"):
        instruct.task("field:wing")


def test_the_field_split_spreads_a_fixed_budget_and_tests_unseen_keys_the_same_way_for_every_n():
    few, many = instruct.field_split(2, budget=64, n_test=16), instruct.field_split(8, budget=64, n_test=16)
    for split in (few, many):
        assert len(split["train"]) == 64 and len(split["seen"]) == len(split["unseen"]) == 16
        assert not {e.input for e in split["train"]} & {e.input for e in split["seen"] + split["unseen"]}
        asked = {e.task.removeprefix("field:") for e in split["train"]}
        assert not asked & set(instruct.HELD_OUT_FIELDS)
        assert {e.task.removeprefix("field:") for e in split["unseen"]} <= set(instruct.HELD_OUT_FIELDS)
    counts = {k: sum(e.task == k for e in many["train"]) for k in {e.task for e in many["train"]}}
    assert len(counts) == 8 and set(counts.values()) == {8}
    assert few["unseen"] == many["unseen"] and few["train"] == instruct.field_split(2, budget=64, n_test=16)["train"]
    with pytest.raises(ValueError, match="choose 1 to 16"):
        instruct.field_split(17)


def test_copied_value_counts_answers_taken_from_the_record():
    ex = instruct.field_split(1, budget=1, n_test=2)["unseen"]
    other = next(f.split(": ")[1] for f in ex[1].input.split("; ") if f.split(": ")[1] != ex[1].answer)
    assert score_copied([ex[0].answer, other], ex) == 1.0
    assert score_copied([ex[0].answer, "nothing"], ex) == 0.5
    assert exact_match([ex[0].answer, other], ex) == 0.5


def test_examples_corpus_fingerprints_what_the_examples_came_from():
    split = instruct.field_split(2, budget=20, n_test=4)
    a = instruct.examples_corpus(split["train"], split["seen"], 128, label="a")
    b = instruct.examples_corpus(split["train"], split["seen"], 128, label="b")
    assert a.fingerprint != b.fingerprint and torch.equal(a.train, b.train)
    assert (
        SET_CORPUS.dataset is SET and SET_CORPUS.fingerprint != instruct.instruction_corpus(SET, 192, True).fingerprint
    )


def test_worked_corpus_shows_every_task_outside_its_test_inputs():
    text = instruct.worked_text(per_task=40)
    lines = [b.split("\n") for b in text.strip("\n").split("\n\n")]
    assert len(lines) == 40 * len(instruct.TASKS) and all(len(b) == 2 and " -> " in b[1] for b in lines)
    templates = {t for task in instruct.TASKS for t in task.templates}
    assert {b[0] for b in lines} <= templates and len({b[0] for b in lines}) > len(instruct.TASKS)
    # no test input of any task (the first 50, which any InstructionSet of seed 0 draws, whatever it trains on)
    tests = instruct.InstructionSet(("lists",), ("qa", "strings"), n_test=50).examples("test")
    worked = {(b[0], b[1].rsplit(" -> ", 1)[0]) for b in lines}
    assert not {(instruct.task(e.task).templates[e.template], e.input) for e in tests} & worked
    assert instruct.worked_line(tests[0]).endswith(f" -> {tests[0].answer}\n\n")
    assert instruct.worked_text(per_task=40) == text and instruct.worked_text(per_task=40, seed=1) != text
    corpus, again = instruct.worked_corpus(per_task=40), instruct.worked_corpus(per_task=40)
    assert torch.equal(again.train, corpus.train) and again.fingerprint == corpus.fingerprint
    assert len(corpus.train) + len(corpus.val) == len(text.encode())
    with pytest.raises(ValueError, match="per_task=0"):
        instruct.worked_corpus(per_task=0)


def test_a_worked_example_asks_in_the_worked_line_format_and_prompt_answers_take_any_prompt():
    e = SET.examples("test", "first")[0]
    w = instruct.WorkedExample(e.task, e.template, e.input, e.answer)
    assert instruct.worked_line(e) == f"{w.prompt} {e.answer}\n\n" and w.response == e.response
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, context=192, n_layer=1, n_head=2, d_model=16))
    assert prompt_answers(model, [e.prompt, w.prompt], max_new=6) == answers(model, [e, w], max_new=6)


def test_end_choices_count_the_first_and_the_last_word_whatever_was_asked():
    ex = SET.examples("test", "last")[:4]
    words = [e.input.split() for e in ex]
    said = [words[0][0], words[1][-1], words[2][-1], "nothing"]
    assert end_choices(said, ex) == {"first": 0.25, "last": 0.5}
    with pytest.raises(ValueError, match="one answer per example"):
        end_choices(said[:2], ex)


def test_one_shot_prompts_show_the_shortest_other_example_of_the_same_task():
    ds = instruct.InstructionSet(("extract",), ("lists",), per_task=10, n_test=5)
    examples = ds.examples("test", "first") + ds.examples("test", "last")
    prompts = instruct.one_shot_prompts(examples)
    for e, p in zip(examples, prompts):
        same = [o for o in examples if o.task == e.task and o is not e]
        demo = min(same, key=lambda o: len(o.prompt + o.response))
        assert p == demo.prompt + demo.response + e.prompt and p.endswith(e.prompt)
    with pytest.raises(ValueError, match="one example"):
        instruct.one_shot_prompts(examples[:1])
