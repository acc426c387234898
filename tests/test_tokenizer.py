import pytest
import torch

from helpers.tokenizer import ByteTokenizer, CharTokenizer

TEXT = "In the beginning God created the heaven and the earth.\nAnd the earth was without form; ok?"


def test_char_round_trip_and_vocab():
    tok = CharTokenizer(TEXT)
    ids = tok.encode(TEXT)
    assert tok.decode(ids) == TEXT
    assert tok.decode(torch.tensor(ids)) == TEXT
    assert tok.vocab_size == len(set(TEXT))
    vocab = tok.vocab()
    assert vocab[0] == "\\n" and "␣" in vocab and "G" in vocab


def test_char_unknown_character_is_clear():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match="not in this tokenizer's vocabulary"):
        tok.encode("abd")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([0, 7])
    with pytest.raises(ValueError, match="non-empty"):
        CharTokenizer("")


def test_byte_round_trip_any_text():
    tok = ByteTokenizer()
    text = TEXT + " 规模法则 ✓"
    ids = tok.encode(text)
    assert max(ids) < 256 and tok.decode(ids) == text
    assert len(tok.vocab()) == 256 and tok.vocab()[65] == "A"
    with pytest.raises(ValueError):
        tok.decode([300])
