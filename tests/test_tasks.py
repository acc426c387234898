import pytest
import torch

from helpers.data import load_corpus
from helpers.metrics import answer_logprob, digit_accuracy, edit_distance
from helpers.model import GPT, GPTConfig
from helpers.tasks import (
    FORMATS,
    AdditionTask,
    MultiplicationTask,
    SubtractionTask,
    answer_with_working,
    evaluate,
    length_scores,
    sweep_scores,
)
from helpers.train import TrainConfig, train


def carries(task, a, b):
    n, c, count = task.digits, 0, 0
    for pos in range(n):
        c = int((a // 10**pos) % 10 + (b // 10**pos) % 10 + c >= 10)
        count += c
    return count


def test_scratchpad_lines_show_every_column_then_the_plain_answer():
    task = AdditionTask(digits=3, fmt="scratchpad")
    assert task.line(47, 385) == "047+385=7+5+0=12;4+8+1=13;0+3+1=04:0432\n"
    assert task.line(999, 1) == "999+001=9+1+0=10;9+0+1=10;9+0+1=10:1000\n"
    for a, b in task.problems("train")[:200]:
        assert len(task.target(a, b)) == task.target_len and task.target(a, b).endswith(task.answer(a, b))
    corpus = task.corpus()
    assert corpus.vocab_size == 15 and corpus.align == len(task.line(0, 0))
    # the plain and reversed vocabularies are untouched by the scratchpad's extra characters
    assert AdditionTask(digits=3).corpus().tokenizer.chars == sorted("\n+0123456789=")


def test_lines_are_fixed_width_and_correct_in_both_formats():
    plain, rev = AdditionTask(digits=3), AdditionTask(digits=3, fmt="reversed")
    assert plain.line(47, 385) == "047+385=0432\n"
    assert rev.line(47, 385) == "047+385=2340\n"
    for a, b in plain.problems("train")[:200]:
        assert int(plain.answer(a, b)) == a + b == int(rev.answer(a, b)[::-1])
        assert len(plain.line(a, b)) == 2 * 3 + 2 + 4 + 1


def test_splits_are_reproducible_disjoint_and_carry_balanced():
    task = AdditionTask(digits=4, n_train=3000, n_test=500, seed=3)
    train_set, test_set = task.problems("train"), task.problems("test")
    assert len(train_set) == 3000 and len(test_set) == 500 and not set(train_set) & set(test_set)
    assert AdditionTask(digits=4, n_train=3000, n_test=500, seed=3).problems("test") == test_set
    assert AdditionTask(digits=4, n_train=3000, n_test=500, seed=4).problems("test") != test_set
    assert all(task.carries(a, b) == carries(task, a, b) for a, b in train_set[:300])
    assert task.carries(9999, 1) == 4 and task.carries(1234, 4321) == 0 and task.carries(5, 5) == 1
    counts = torch.bincount(torch.tensor([carries(task, a, b) for a, b in train_set]), minlength=5)
    assert counts.min() > 0.8 * 3000 / 5  # 0..4 carries, each about a fifth of the problems
    uniform = AdditionTask(digits=4, n_train=3000, n_test=500, balance_carries=False)
    u_counts = torch.bincount(torch.tensor([carries(uniform, a, b) for a, b in uniform.problems()]), minlength=5)
    assert u_counts[4] < 0.5 * counts[4]  # random operands rarely carry through every column


def test_task_config_errors():
    with pytest.raises(ValueError, match="AdditionTask.fmt='backwards'"):
        AdditionTask(fmt="backwards")
    with pytest.raises(ValueError, match="AdditionTask.digits=0"):
        AdditionTask(digits=0)
    with pytest.raises(ValueError, match="more than half of the 10,000 distinct"):
        AdditionTask(digits=2, n_train=5000, n_test=100)
    with pytest.raises(ValueError, match="split='val'"):
        AdditionTask(digits=2, n_train=100, n_test=10).problems("val")


def test_corpus_streams_the_lines_and_keeps_the_task():
    task = AdditionTask(digits=2, n_train=300, n_test=50)
    corpus = task.corpus()
    assert corpus.tokenizer.decode(corpus.train) == task.text("train")
    assert corpus.tokenizer.decode(corpus.val) == task.text("test")
    assert corpus.task is task and corpus.vocab_size == 13 and corpus.align == len("12+34=046\n")
    assert corpus.fingerprint != AdditionTask(digits=2, n_train=300, n_test=50, fmt="reversed").corpus().fingerprint
    assert "addition-2-plain" in repr(corpus) and "13" in repr(corpus)


def test_metrics_by_hand():
    pred = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])
    truth = torch.tensor([[1, 2, 3, 4], [1, 0, 3, 0]])
    assert digit_accuracy(pred, truth).tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="must both be"):
        digit_accuracy(pred, truth[:, :2])
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([1, 2, 3], [2, 3]) == 1 and edit_distance("", "abc") == 3 and edit_distance("ab", "ab") == 0


def test_answer_logprob_matches_the_chain_rule():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, context=8, n_layer=1, n_head=1, d_model=8)).eval()
    prompt, answer = torch.tensor([[1, 2, 3]]), torch.tensor([[4, 5]])
    logits, _ = model(torch.tensor([[1, 2, 3, 4]]))
    lp = torch.log_softmax(logits, -1)
    assert answer_logprob(model, prompt, answer).item() == pytest.approx((lp[0, 2, 4] + lp[0, 3, 5]).item(), abs=1e-5)
    with pytest.raises(ValueError, match="same batch size"):
        answer_logprob(model, prompt, torch.tensor([[4], [5]]))


@pytest.mark.parametrize("fmt", FORMATS)
def test_evaluate_scores_a_perfect_oracle_and_an_untrained_model(fmt):
    task = AdditionTask(digits=1, fmt=fmt, n_train=30, n_test=10, balance_carries=False)
    vocab = task.corpus().vocab_size

    class Oracle(torch.nn.Module):
        """Puts all its probability on the true next answer token, read off the prompt."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.cfg = GPTConfig(vocab_size=vocab, context=16, n_layer=1, n_head=1, d_model=4)

        def forward(self, idx, targets=None):
            tok = task.corpus().tokenizer
            logits = torch.full((*idx.shape, vocab), -30.0)
            for i, row in enumerate(idx.tolist()):
                text = tok.decode(row)
                start = text.rindex("\n") + 1 if "\n" in text else 0
                a, b = int(text[start]), int(text[start + 2])
                target = task.line(a, b)[:-1]  # the full line without its newline
                for t in range(len(row)):
                    k = t - start + 1  # the index in `target` of the token after position t
                    if 0 <= k < len(target):
                        logits[i, t, tok.encode(target[k])[0]] = 0.0
            return logits, None

    scores = evaluate(Oracle(), task)
    assert scores["exact_match"] == 1.0 and scores["digit_accuracy"] == 1.0 and scores["edit_distance"] == 0.0
    assert scores["logprob"] > -1e-6 and scores["n"] == 10 and scores["per_position"] == [1.0, 1.0]
    # an untrained model is scored on the same scale, and its answers are strings of answer length
    model = GPT(GPTConfig(vocab_size=vocab, context=16, n_layer=1, n_head=1, d_model=8))
    s = evaluate(model, task, limit=4)
    assert s["n"] == 4 and all(len(a) == 2 for a in s["answers"]) and s["logprob"] < -1
    with pytest.raises(ValueError, match="no problems left"):
        evaluate(model, task, limit=0)


def test_a_small_model_learns_one_digit_addition():
    task = AdditionTask(digits=1, n_train=40, n_test=10, balance_carries=False)
    corpus = task.corpus()
    cfg = GPTConfig(vocab_size=corpus.vocab_size, context=32, n_layer=1, n_head=2, d_model=32)
    result = train(cfg, TrainConfig(steps=300, lr=1e-2, warmup_steps=10, eval_every=0, progress=False), corpus)
    trained = evaluate(result.model, task, split="train")
    assert trained["digit_accuracy"] > 0.9  # it fits the 40 training problems it saw (0.975 measured)


def test_sweep_scores_keep_the_numbers_and_drop_the_answers():
    task = AdditionTask(digits=2, n_train=200, n_test=20)
    model = GPT(GPTConfig(vocab_size=13, context=40, n_layer=1, n_head=1, d_model=8))
    scores = sweep_scores(model, task.corpus())
    assert "answers" not in scores and scores["n"] == 20 and sum(scores["correct_counts"]) == 20
    assert len(scores["per_position"]) == 3 and len(scores["correct_counts"]) == 4
    with pytest.raises(ValueError, match="was not made by a task"):
        sweep_scores(model, load_corpus("kjv", max_chars=50_000, block=1000))


def test_the_fingerprint_follows_the_data_not_just_the_settings(monkeypatch):
    task = AdditionTask(digits=2, n_train=300, n_test=50)
    before = task.corpus().fingerprint
    assert AdditionTask(digits=2, n_train=300, n_test=50).corpus().fingerprint == before
    # the same settings writing different lines (as after a change to the format) get a new fingerprint
    monkeypatch.setattr(AdditionTask, "prompt", lambda self, a, b: f"{a:02d}plus{b:02d}=".replace("plus", "+"))
    assert task.corpus().fingerprint == before  # same text, same fingerprint
    monkeypatch.setattr(AdditionTask, "prompt", lambda self, a, b: f"{b:02d}+{a:02d}=")
    assert task.corpus().fingerprint != before


def test_multiplication_lines_in_the_three_formats():
    plain, rev, pad = (MultiplicationTask(3, f, n_train=500, n_test=100) for f in FORMATS)
    assert plain.line(47, 8) == "047*8=0376\n" and rev.line(47, 8) == "047*8=6730\n"
    assert pad.line(47, 8) == "047*8=7*8+0=56;4*8+5=37;0*8+3=03:0376\n"
    assert pad.line(999, 9) == "999*9=9*9+0=81;9*9+8=89;9*9+8=89:8991\n"
    assert pad.carries(999, 9) == 3 and pad.carries(100, 2) == 0
    for a, b in pad.problems("train")[:300]:
        assert 2 <= b <= 9 and len(pad.line(a, b)) == len(pad.line(0, 2))
        assert pad.target(a, b).endswith(pad.answer(a, b)) and int(pad.answer(a, b)) == a * b
    assert set(pad.problems("train")).isdisjoint(pad.problems("test"))
    assert pad.corpus().name == "multiplication-3-scratchpad"
    with pytest.raises(ValueError, match="more than half"):
        MultiplicationTask(3, n_train=3500, n_test=1000)
    with pytest.raises(ValueError, match="operand_digits"):
        MultiplicationTask(3, operand_digits=2)


def test_short_operands_written_wide_for_length_generalisation():
    task = AdditionTask(5, "reversed", n_train=300, n_test=50, operand_digits=3)
    for a, b in task.problems("train") + task.problems("test"):
        assert max(a, b) >= 100 and max(a, b) < 1000
    assert task.line(123, 45) == "00123+00045=861000\n"
    # the default draw is unchanged by the new option (cached sweeps depend on it)
    assert AdditionTask(3, n_train=5, n_test=2).problems() == AdditionTask(3, n_train=5, n_test=2, seed=0).problems()
    with pytest.raises(ValueError, match="operand_digits"):
        AdditionTask(3, operand_digits=4)


def test_length_scores_test_on_longer_operands_than_trained():
    corpus = AdditionTask(4, "plain", n_train=200, n_test=30, operand_digits=2).corpus()
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=1, n_head=1, d_model=8))
    scores = length_scores(model, corpus, n_test=20)
    assert set(scores) == {"k", "k+1", "k+2"} and scores["k"]["n"] == 30 and scores["k+2"]["n"] == 20
    assert "answers" not in scores["k+1"]
    with pytest.raises(ValueError, match="operand_digits <= 2"):
        length_scores(model, AdditionTask(4, n_train=100, n_test=10, operand_digits=3).corpus())


def test_a_foreign_tokenizer_must_know_the_alphabet():
    from helpers.tokenizer import CharTokenizer

    wide = CharTokenizer("abc" + AdditionTask(2, "scratchpad", n_train=50, n_test=10).alphabet)
    corpus = AdditionTask(2, "scratchpad", n_train=50, n_test=10).corpus(tokenizer=wide)
    assert corpus.tokenizer is wide and corpus.vocab_size == 18
    assert corpus.fingerprint != AdditionTask(2, "scratchpad", n_train=50, n_test=10).corpus().fingerprint
    with pytest.raises(ValueError, match="no token for"):
        AdditionTask(2, "scratchpad", n_train=50, n_test=10).corpus(tokenizer=CharTokenizer("0123456789+=\n"))


def test_answer_with_working_reads_the_models_answer():
    task = AdditionTask(2, "reversed", n_train=50, n_test=10)
    model = GPT(GPTConfig(vocab_size=13, context=32, n_layer=1, n_head=1, d_model=8))
    out = answer_with_working(model, task, 47, 38)
    assert out["prompt"] == "47+38=" and len(out["wrote"]) == task.target_len and out["truth"] == 85
    assert out["correct"] == (out["answer"] == 85)
    with pytest.raises(ValueError, match="operands below 100"):
        answer_with_working(model, task, 100, 1)
    mul = MultiplicationTask(2, "plain", n_train=50, n_test=10)
    with pytest.raises(ValueError, match="one-digit multiplier"):
        answer_with_working(model, mul, 12, 12)


def test_subtraction_lines_borrow_column_by_column():
    plain, rev, pad = (SubtractionTask(3, f, n_train=500, n_test=100) for f in FORMATS)
    assert plain.line(385, 47) == "385-047=338\n" and rev.line(385, 47) == "385-047=833\n"
    assert pad.line(385, 47) == "385-047=5-7-0=18;8-4-1=03;3-0-0=03:338\n"
    assert pad.line(1000 - 1, 999) == "999-999=9-9-0=00;9-9-0=00;9-9-0=00:000\n"
    assert pad.carries(100, 1) == 2 and pad.carries(385, 47) == 1  # 100 - 1: the units and tens borrow
    for a, b in pad.problems("train")[:300]:
        assert a >= b and len(pad.target(a, b)) == pad.target_len and int(pad.answer(a, b)) == a - b
    model = GPT(GPTConfig(vocab_size=pad.corpus().vocab_size, context=64, n_layer=1, n_head=1, d_model=8))
    with pytest.raises(ValueError, match="a >= b"):
        answer_with_working(model, pad, 3, 5)
