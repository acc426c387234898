import math

import pytest
import torch

from helpers.book.papers import PUBLISHED
from helpers.book.report import fmt, md_table
from helpers.metrics import bits_per_token, mean_loss, perplexity, uniform_loss, unigram_entropy
from helpers.model import GPT, GPTConfig


def test_loss_conversions():
    assert perplexity(math.log(7)) == pytest.approx(7)
    assert bits_per_token(math.log(2)) == pytest.approx(1)
    assert uniform_loss(65) == pytest.approx(math.log(65))
    with pytest.raises(ValueError):
        uniform_loss(0)


def test_unigram_entropy():
    assert unigram_entropy(torch.tensor([0, 1, 2, 3]), 4) == pytest.approx(math.log(4))
    assert unigram_entropy(torch.tensor([5, 5, 5]), 8) == pytest.approx(0)
    with pytest.raises(ValueError, match="empty"):
        unigram_entropy(torch.tensor([], dtype=torch.long), 4)


def test_mean_loss_of_untrained_model_is_near_uniform():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, context=8, n_layer=1, n_head=1, d_model=8))
    batches = [(torch.randint(0, 16, (4, 8)), torch.randint(0, 16, (4, 8))) for _ in range(3)]
    assert abs(mean_loss(model, batches) - math.log(16)) < 0.1
    with pytest.raises(ValueError):
        mean_loss(model, [])


def test_md_table_and_fmt():
    t = md_table(["a", "b"], [[1, 2.5e23], ["x", 0.12345]])
    assert t.data.splitlines()[2] == "| 1 | 2.50e+23 |"
    assert "0.123" in t.data
    assert fmt(1234567) == "1.23e+06" and fmt(12345) == "12,345" and fmt(1.5) == "1.5"
    with pytest.raises(ValueError, match="every row"):
        md_table(["a"], [[1, 2]])


def test_published_numbers_are_consistent():
    g = PUBLISHED["gpt3"]
    assert 6 * g["params"] * g["tokens"] == pytest.approx(g["flops"], rel=0.01)  # C = 6ND holds for GPT-3
    assert all("cite" in v for v in PUBLISHED.values())
