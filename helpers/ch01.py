"""Chapter 1, a tiny decoder-only language model: its recipe and its cached sweep.

- ``tiny_lm``: the chapter's 4-layer, 128-wide character-level GPT and how it is trained;
- the grid ``ch01_seeds``: the run over five seeds, whose spread grounds the tolerances the chapter asserts.
"""

from __future__ import annotations

from . import sweep
from .data import Corpus
from .model import GPTConfig
from .train import TrainConfig


def tiny_lm(corpus: Corpus, seed: int = 0, steps: int = 700) -> tuple[GPTConfig, TrainConfig]:
    """Chapter 1: a 4-layer, 128-wide character-level GPT trained for ``steps`` steps of 32 x 64 tokens
    (about a minute on two CPU cores)."""
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=4, n_head=4, d_model=128)
    train = TrainConfig(
        steps=steps, batch_size=32, lr=3e-3, warmup_steps=min(50, steps // 10), eval_every=50, seed=seed
    )
    return model, train


sweep.register_experiment("tiny_lm", sweep.lm_experiment(tiny_lm))
sweep.register_grid(
    "ch01_seeds",
    full=[{"recipe": "tiny_lm", "seed": s} for s in range(5)],
    quick=[{"recipe": "tiny_lm", "seed": s, "steps": 100} for s in range(2)],
)
