"""helpers.abilities: the arithmetic stream, the four suites and how a model is scored on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import abilities as ab
from helpers.data import Corpus
from helpers.generate import generate
from helpers.model import GPT, GPTConfig
from helpers.train import TrainConfig, train


def test_the_arithmetic_stream_is_right_and_never_shows_the_held_out_sums():
    text = ab.arithmetic_text(lines=5000, seed=0)
    lines = text.splitlines()
    assert len(lines) == 5000
    held = {f"{a}+{b}" for a, b in ab._two_digit_held_out()}
    digits = []
    for line in lines:
        left, total = line.split("=")
        a, b = map(int, left.split("+"))
        assert a + b == int(total) and left not in held
        assert (a < 10) == (b < 10)  # both operands have the same number of digits
        digits.append(a < 10)
    assert 0.45 < np.mean(digits) < 0.55  # one-digit and two-digit problems equally likely
    assert ab.arithmetic_text(lines=50, seed=0) == ab.arithmetic_text(lines=50, seed=0)


@pytest.mark.parametrize("suite", ["facts", "sums"])
def test_arithmetic_items_have_one_right_answer_and_three_distinct_wrong_ones(suite):
    items = ab.arithmetic_items(suite)
    assert len(items) == (100 if suite == "facts" else ab.N_ITEMS)
    for it in items:
        a, b = map(int, it.prompt.strip("\n=").split("+"))
        assert it.answer == f"{a + b}\n" == it.choices[0]
        assert len(set(it.choices)) == ab.N_CHOICES and all(c.endswith("\n") and int(c) >= 0 for c in it.choices)
    with pytest.raises(ValueError, match="facts"):
        ab.arithmetic_items("products")


def test_cloze_items_come_from_the_validation_split_with_same_length_choices():
    text = "".join(f"line {i} of the text ends with the word {w}.\n" for i, w in enumerate(["apple", "grape"] * 2000))
    ids = torch.tensor(ab.TOK.encode(text))
    corpus = Corpus("toy", ab.TOK, ids[:-8000], ids[-8000:], "toy")
    with pytest.raises(ValueError, match="usable lines"):  # two words of each length are too few for 4 choices
        ab.cloze_items(corpus, n=5)
    words = ["apple", "grape", "lemon", "melon", "peach", "mango"]
    text = "".join(f"line {i} of the text ends with the word {words[i % 6]}.\n" for i in range(6000))
    ids = torch.tensor(ab.TOK.encode(text))
    corpus = Corpus("toy", ab.TOK, ids[:-8000], ids[-8000:], "toy")
    items = ab.cloze_items(corpus, n=20)
    val = ab.TOK.decode(corpus.val.tolist())
    for it in items:
        assert len(it.prompt) == ab.CLOZE_PROMPT and it.prompt.endswith("the word ")
        assert it.prompt + it.answer in val and it.answer[:-2] in words and it.answer.endswith(".\n")
        assert len({len(c) for c in it.choices}) == 1 and len(set(it.choices)) == ab.N_CHOICES


@pytest.fixture(scope="module")
def tiny_model():
    """A small model trained briefly on the arithmetic stream, so that its scores are not all chance."""
    corpus = ab.arithmetic_domain()
    cfg = GPTConfig(vocab_size=256, context=64, n_layer=2, n_head=2, d_model=32)
    result = train(cfg, TrainConfig(steps=150, batch_size=16, warmup_steps=10, eval_every=0, progress=False), corpus)
    return result.model


def test_teacher_forced_greedy_agrees_with_generation(tiny_model):
    items = ab.arithmetic_items("facts")
    scored = ab.score(tiny_model, items)
    for it, greedy in zip(items, scored["greedy"]):
        p = torch.tensor([ab.TOK.encode(it.prompt)])
        written = ab.TOK.decode(generate(tiny_model, p, len(it.answer), temperature=0)[0, p.shape[1] :].tolist())
        assert (written == it.answer) == bool(greedy)
    assert scored["choices"].shape == (100, ab.N_CHOICES) and np.all(scored["logp"] == scored["choices"][:, 0])
    assert np.all(scored["logp"] < 0)


def test_summary_and_choice_probabilities(tiny_model):
    items = ab.arithmetic_items("facts")
    scored = ab.score(tiny_model, items)
    s = ab.summary(scored, items)
    assert set(s) == {"logp", "task_loss", "pass_rate", "p_choice", "mc_accuracy", "exact_match"}
    assert 0 < s["pass_rate"] <= 1 and 0 <= s["mc_accuracy"] <= 1 and s["task_loss"] > 0
    assert s["pass_rate"] == pytest.approx(np.exp(scored["logp"]).mean(), abs=1e-5)
    p = ab.p_choice(np.log([[0.5, 0.25, 0.125, 0.125]]))
    assert p == pytest.approx([0.5])


def test_sampled_pass_rate_estimates_exp_logp(tiny_model):
    items = ab.arithmetic_items("facts")[::10]
    sampled = ab.sampled_pass_rate(tiny_model, items, samples=200, seed=1)
    exact = np.exp(ab.score(tiny_model, items)["logp"])
    assert np.abs(sampled - exact).max() < 4 * np.sqrt(0.25 / 200) + 1e-9  # 4 binomial standard errors at worst


def test_the_probe_records_every_evaluation():
    corpus = ab.arithmetic_domain()
    small = {"facts": ab.arithmetic_items("facts")[:20]}
    probe = ab.AbilityProbe(small, {"arith": corpus}, batches=1)
    cfg = GPTConfig(vocab_size=256, context=64, n_layer=1, n_head=1, d_model=16)
    tc = TrainConfig(steps=20, batch_size=8, warmup_steps=2, eval_every=10, progress=False)
    result = train(cfg, tc, corpus, callbacks=[probe])
    records = result.history.records["abilities"]
    assert [r["step"] for r in records] == [10, 20]
    assert set(records[0]["domains"]) == {"arith"} and set(records[0]["suites"]) == {"facts"}


def test_scoring_refuses_items_longer_than_the_context():
    model = GPT(GPTConfig(vocab_size=256, context=8, n_layer=1, n_head=1, d_model=16))
    with pytest.raises(ValueError, match="exceed the context"):
        ab.score(model, [ab.Item("a long prompt", "x\n", ("x\n", "y\n", "z\n", "w\n"))])
