"""Named configurations that a chapter and its cached sweeps share, so both train the same model.

Each recipe is a function returning ``(GPTConfig, TrainConfig)`` for a corpus; a notebook shows the
fields a reader should see, and ``helpers.sweep`` re-runs the same recipe over seeds or sizes.
"""

from __future__ import annotations

from .data import Corpus
from .icl import few_shot_recipe
from .model import GPTConfig, non_embedding_params
from .train import TrainConfig


def tiny_lm(corpus: Corpus, seed: int = 0, steps: int = 700) -> tuple[GPTConfig, TrainConfig]:
    """Chapter 1: a 4-layer, 128-wide character-level GPT trained for ``steps`` steps of 32 x 64 tokens
    (about a minute on two CPU cores)."""
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=4, n_head=4, d_model=128)
    train = TrainConfig(
        steps=steps, batch_size=32, lr=3e-3, warmup_steps=min(50, steps // 10), eval_every=50, seed=seed
    )
    return model, train


def scaling(
    corpus: Corpus,
    d_model: int,
    n_layer: int,
    tokens: float | None = None,
    flops: float | None = None,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[GPTConfig, TrainConfig]:
    """Chapter 2's model family: width ``d_model`` and ``n_layer`` layers (head width 16), trained on
    ``tokens`` tokens, or on as many as a compute budget of ``flops = 6 N D`` allows (N non-embedding).

    Every run gets its own warmup + cosine schedule over its own length, 16 evaluation batches per
    split (a precise final loss) and 8 evaluations along the way (curves for Chinchilla's approach 1).
    Batch 32 x context 64 as in chapter 1. The peak learning rate ``lr`` defaults to chapter 1's 3e-3;
    the chapter-2 sweeps run every point at several rates and keep the best (see ``helpers.sweep``).
    """
    if (tokens is None) == (flops is None):
        raise ValueError("give exactly one of tokens= or flops= (a compute budget, C = 6 N D)")
    model = GPTConfig(
        vocab_size=corpus.vocab_size, context=64, n_layer=n_layer, n_head=max(1, d_model // 16), d_model=d_model
    )
    if flops is not None:
        tokens = flops / (6 * non_embedding_params(model))
    steps = max(50, round(tokens / (32 * model.context)))
    train = TrainConfig(
        steps=steps,
        batch_size=32,
        lr=lr,
        warmup_steps=min(50, steps // 10),
        eval_every=max(1, steps // 8),
        eval_batches=16,
        seed=seed,
    )
    return model, train


def arithmetic(
    corpus: Corpus, d_model: int, n_layer: int, steps: int = 1500, lr: float = 3e-3, seed: int = 0
) -> tuple[GPTConfig, TrainConfig]:
    """Chapters 6 and 9: a GPT of width ``d_model`` and ``n_layer`` layers (head width 16) trained on a task
    corpus from ``helpers.tasks`` (e.g. ``AdditionTask(...).corpus()``) for ``steps`` steps of 32 windows.

    Each window holds four whole task lines (the context is four times the corpus's line length), so every
    window starts at the start of a problem. 8 evaluation batches per split, 8 evaluations along the way.
    """
    if corpus.align < 2:
        raise ValueError(f"corpus {corpus.name!r} is not a task corpus of fixed-length lines; use helpers.tasks")
    model = GPTConfig(
        vocab_size=corpus.vocab_size,
        context=4 * corpus.align,
        n_layer=n_layer,
        n_head=max(1, d_model // 16),
        d_model=d_model,
    )
    train = TrainConfig(
        steps=steps,
        batch_size=32,
        lr=lr,
        warmup_steps=min(100, steps // 10),
        eval_every=max(1, steps // 8),
        eval_batches=8,
        seed=seed,
    )
    return model, train


# chapter 7's few-shot models are defined beside the rule world they are trained on
RECIPES = {"tiny_lm": tiny_lm, "scaling": scaling, "arithmetic": arithmetic, "ch07_few_shot": few_shot_recipe}
# chapter 9's length generalisation trains with the arithmetic recipe; its own name gives it its own evaluator
RECIPES["arithmetic_length"] = arithmetic
