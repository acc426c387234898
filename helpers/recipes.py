"""Named configurations that a chapter and its cached sweeps share, so both train the same model.

Each recipe is a function returning ``(GPTConfig, TrainConfig)`` for a corpus; a notebook shows the
fields a reader should see, and ``helpers.sweep`` re-runs the same recipe over seeds or sizes.
"""

from __future__ import annotations

from .data import Corpus
from .model import GPTConfig
from .train import TrainConfig


def tiny_lm(corpus: Corpus, seed: int = 0, steps: int = 700) -> tuple[GPTConfig, TrainConfig]:
    """Chapter 1: a 4-layer, 128-wide character-level GPT trained for ``steps`` steps of 32 x 64 tokens
    (about a minute on two CPU cores)."""
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=4, n_head=4, d_model=128)
    train = TrainConfig(steps=steps, batch_size=32, lr=3e-3, warmup_steps=50, eval_every=50, seed=seed)
    return model, train


RECIPES = {"tiny_lm": tiny_lm}
