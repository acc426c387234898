"""Each chapter's exercise checkers (``helpers/chNN.py``): the answer the chapter's solution gives passes,
a wrong one does not, and experiments refuse a run that is not the one asked for."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers import ch01, ch02, ch06, ch07, ch09, ch10
from helpers.model import GPTConfig
from helpers.sweep import RunOutput
from helpers.tasks import AdditionTask
from helpers.train import TrainConfig, train


@pytest.fixture(autouse=True)
def _strict(monkeypatch):
    monkeypatch.delenv("COURSE_BATCH", raising=False)


def test_chapter_1_numbers():
    ex = ch01.perplexity_exercise(1.47)
    assert ex.passed((round(math.exp(1.47), 1), round(1.47 / math.log(2), 2)))
    assert not ex.passed((1.47, 2.12))
    assert ch01.param_count_exercise(65).passed(12 * 6 * 384**2)
    m, t = GPTConfig(vocab_size=65, context=64), TrainConfig(steps=100, batch_size=32)
    assert ch01.chinchilla_steps_exercise(800_000, m, t).passed(20 * 800_000 / (32 * 64))


def test_chapter_1_experiment_checks_the_run_and_the_claim(corpus):
    model_cfg = GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=2, n_head=2, d_model=64)
    train_cfg = TrainConfig(steps=30, batch_size=8, warmup_steps=3, eval_every=0, progress=False)
    small = train(replace(model_cfg, **ch01.NARROW), train_cfg, corpus, cache=False)
    worse_than = small.history.final_val - 1.0  # a baseline the small run is far worse than
    seeds = torch.tensor([0.01, 0.02, 0.03])  # as the chapter passes them
    assert ch01.narrow_model_exercise(model_cfg, train_cfg, worse_than, seeds).verify(small)[0]
    ok, report = ch01.narrow_model_exercise(model_cfg, train_cfg, small.history.final_val, [0.0, 0.1]).verify(small)
    assert not ok and "does not hold" in report
    ok, report = ch01.narrow_model_exercise(replace(model_cfg, context=32), train_cfg, 0, [0, 1]).verify(small)
    assert not ok and "asks for" in report
    assert not ch01.narrow_model_exercise(model_cfg, train_cfg, 0, [0, 1]).verify(3.2)[0]


def test_chapter_2_numbers():
    assert ch02.compute_exercise(1e5, 4e7).passed(2.4e13)
    fit = SimpleNamespace(n_opt=lambda c: 1234.5 * (c / 1e14) ** 0.5)
    assert ch02.n_opt_exercise(fit, 1e14).passed(1234.5) and not ch02.n_opt_exercise(fit).passed(1300.0)


def test_chapter_6_numbers_and_experiment():
    assert ch06.schaeffer_exercise([0.1, 0.2, 0.3, 0.9], 5).passed(0.9**5)
    assert ch06.test_size_exercise([0.001]).passed(3000)
    scores = {"correct_counts": [0, 0, 1, 1, 1, 2]}  # problems with 0, 1, ..., 5 digits right
    assert ch06.partial_credit_exercise(scores).passed(0.8) and not ch06.partial_credit_exercise(scores).passed(0.6)
    task = AdditionTask(digits=2, n_train=200, n_test=50)
    corpus = task.corpus()
    model_cfg, train_cfg = ch06.arithmetic(corpus, d_model=16, n_layer=1, steps=20)
    run = train(model_cfg, replace(train_cfg, progress=False), corpus, cache=False)
    ok, report = ch06.product_rule_exercise(task).verify(run)
    assert ok and "product of the per-position accuracies" in report, report
    assert not ch06.product_rule_exercise(task).verify("a model")[0]


def _probe_run(layers: int, second: list[float], steps: int = 1000) -> RunOutput:
    pattern = np.zeros((layers, 1, 2, 2)).tolist()
    return RunOutput(seed=0, steps=steps, seconds=1.0, metrics={"probe_second": second, "pattern": pattern})


def test_chapter_7_numbers_and_experiment():
    position_loss = list(np.linspace(4.0, 1.0, 24))
    assert ch07.icl_score_exercise(position_loss).passed(position_loss[22] - position_loss[3])
    rows = [{"metrics": {"accuracy": [0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4]}}]
    assert ch07.nonbursty_gain_exercise(rows).passed(0.1)
    assert ch07.least_squares_exercise(0.51).passed(0.5) and not ch07.least_squares_exercise(0.51).passed(0.25)
    ex = ch07.one_layer_exercise()
    assert ex.verify(_probe_run(1, [4.0, 3.9, 3.8, 3.9, 3.8]))[0]
    assert not ex.verify(_probe_run(1, [4.0, 2.0, 1.0, 1.0, 1.0]))[0], "a phase change fails the claim"
    assert "asks for 1" in ex.verify(_probe_run(2, [4.0, 3.9, 3.9, 3.9]))[1]
    assert "asks for 1" in ex.verify(_probe_run(1, [4.0, 3.9, 3.9, 3.9], steps=100))[1]


def _subtraction_scratchpad(a, b):
    steps, borrow = [], 0
    for pos in range(3):
        x, y = (a // 10**pos) % 10, (b // 10**pos) % 10
        out = int(x - y - borrow < 0)
        steps.append(f"{x}-{y}-{borrow}={out}{x - y - borrow + 10 * out}")
        borrow = out
    return ";".join(steps) + f":{a - b:03d}"


def test_chapter_9_checkers():
    task = AdditionTask(digits=3, fmt="scratchpad", n_train=100, n_test=10)
    assert ch09.scratchpad_exercise(task).passed("5+7+0=12;8+4+1=13;3+0+1=04:0432")
    assert ch09.subtraction_design_exercise().verify(_subtraction_scratchpad)[0]
    ok, report = ch09.subtraction_design_exercise().verify(lambda a, b: f":{a - b:03d}")
    assert not ok and "agree" in report
    em = {"scratchpad": np.array([[0.1, 0.2], [0.9, 0.8]]), "reversed": np.array([[0.1, 0.1], [0.2, 0.3]])}
    assert ch09.scale_peak_exercise([1000, 5000], em).passed(5000)
    assert not ch09.subtraction_formats_exercise().verify({"plain": None})[0]


def _ppo_like(kl: float) -> SimpleNamespace:
    records = {"iteration": [0, 5, 10], "kl": [0.0, kl / 2, kl], "gold": [1.0, 2.0, 3.0]}
    return SimpleNamespace(history=SimpleNamespace(records=records))


def test_chapter_10_numbers_and_experiment():
    lp = [-10.0, -12.0, -11.0, -11.5]
    margin = 0.1 * ((lp[0] - lp[2]) - (lp[1] - lp[3]))
    assert ch10.dpo_loss_exercise(lp).passed(float(np.log1p(np.exp(-margin))))
    assert ch10.best_of_n_kl_exercise(64).passed(float(np.log(64) - 63 / 64))
    finals = [[0.01, 0, 4.0, 1], [0.02, 0, 5.0, 1], [0.05, 0, 4.5, 1]]
    assert ch10.coefficient_lead_exercise(finals, [4.0, 4.5, 5.0]).passed(1.0)
    ex = ch10.leash_exercise(_ppo_like(4.0))
    assert ex.verify(_ppo_like(1.5))[0] and not ex.verify(_ppo_like(6.0))[0]
    assert not ex.verify("not a run")[0]


def test_experiments_raise_in_a_batch_run(monkeypatch):
    monkeypatch.setenv("COURSE_BATCH", "1")
    with pytest.raises(AssertionError, match="10.4"):
        ch10.leash_exercise(_ppo_like(4.0)).check(_ppo_like(6.0))
    ch10.leash_exercise(_ppo_like(4.0)).check(None)  # not attempted: fine
