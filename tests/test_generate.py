import pytest
import torch

from helpers.generate import generate, sample_text
from helpers.model import GPT, GPTConfig
from helpers.tokenizer import CharTokenizer


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=12, context=8, n_layer=1, n_head=2, d_model=16))


def test_length_and_context_cropping(model):
    out = generate(model, torch.zeros(2, 3, dtype=torch.long), 20)
    assert out.shape == (2, 23)  # longer than the context: generate crops the window


def test_greedy_equals_top1_and_seeded_sampling_reproduces(model):
    start = torch.zeros(1, 1, dtype=torch.long)
    greedy = generate(model, start, 10, temperature=0)
    top1 = generate(model, start, 10, top_k=1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(greedy, top1)
    a = generate(model, start, 10, generator=torch.Generator().manual_seed(7))
    b = generate(model, start, 10, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_generation_stops_once_every_row_has_made_the_stop_token(model):
    start = torch.zeros(3, 1, dtype=torch.long)
    full = generate(model, start, 30, temperature=0)
    token = int(full[0, 1])  # the first row makes it at once; the others when they do
    short = generate(model, start, 30, temperature=0, stop=token)
    last = max(int((row[1:] == token).nonzero()[0]) + 1 if (row[1:] == token).any() else 30 for row in full)
    assert short.shape[1] == 1 + last and torch.equal(short, full[:, : short.shape[1]])


def test_sample_text_and_errors(model):
    tok = CharTokenizer("abcdefghijk\n")
    text = sample_text(model, tok, prompt="ab", max_new_tokens=5, seed=1)
    assert text.startswith("ab") and len(text) == 7
    assert text == sample_text(model, tok, prompt="ab", max_new_tokens=5, seed=1)
    wrapped = sample_text(model, tok, prompt="ab", max_new_tokens=60, seed=1, width=10)
    assert all(len(line) <= 10 for line in wrapped.split("\n"))
    with pytest.raises(ValueError, match="top_k"):
        generate(model, torch.zeros(1, 1, dtype=torch.long), 1, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, torch.zeros(1, 1, dtype=torch.long), 1, temperature=-1)
    with pytest.raises(ValueError, match="prompt is empty"):
        sample_text(model, tok, prompt="")
