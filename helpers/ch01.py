"""Chapter 1, a tiny decoder-only language model: its recipe and its cached sweep.

- ``tiny_lm``: the chapter's 4-layer, 128-wide character-level GPT and how it is trained;
- the grid ``ch01_seeds``: the run over five seeds, whose spread grounds the tolerances the chapter asserts;
- ``recipe_params`` and ``reference_table``: the chapter's run beside nanoGPT's published recipes and Shannon;
- the chapter's exercises (``perplexity_exercise`` ... ``narrow_model_exercise``), their answers computed here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from IPython.display import Markdown

from . import metrics, sweep
from .book.exercises import Exercise, Experiment
from .book.papers import PUBLISHED
from .book.report import md_table
from .data import Corpus
from .model import GPTConfig, non_embedding_params
from .train import TrainConfig, TrainResult


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


# ----------------------------------------------------------------------------- ours beside the reference


def recipe_params(recipe: dict, vocab_size: int, n_head: int) -> int:
    """The non-embedding parameter count N of a published recipe (a ``PUBLISHED`` entry with ``n_layer``,
    ``d_model`` and ``context``) built as the course's GPT with ``n_head`` heads over ``vocab_size`` tokens."""
    cfg = GPTConfig(
        vocab_size=vocab_size,
        n_layer=recipe["n_layer"],
        n_head=n_head,
        d_model=recipe["d_model"],
        context=recipe["context"],
    )
    return non_embedding_params(cfg)


def _tokens_seen(recipe: dict) -> int:
    return recipe["steps"] * recipe["batch_size"] * recipe["context"]


def reference_table(final_val: float, tokens_seen: int) -> Markdown:
    """The chapter's run (validation loss ``final_val`` after ``tokens_seen`` tokens) beside nanoGPT's CPU and
    GPU recipes on TinyShakespeare and Shannon's estimate for English: tokens seen, loss and bits per char."""
    cpu, gpu, shannon = PUBLISHED["nanogpt_cpu"], PUBLISHED["nanogpt_gpu"], PUBLISHED["shannon"]
    bits = metrics.bits_per_token
    rows = [
        ["ours: 4 x 128, ctx 64", "King James Bible", tokens_seen, round(final_val, 2), round(bits(final_val), 2)],
        [cpu["name"], "TinyShakespeare", _tokens_seen(cpu), cpu["val_loss"], round(bits(cpu["val_loss"]), 2)],
        [
            gpu["name"],
            "TinyShakespeare",
            f"<= {_tokens_seen(gpu):.3g}",
            gpu["val_loss"],
            round(bits(gpu["val_loss"]), 2),
        ],
        [shannon["name"], "English text", "a lifetime", "-", f"{shannon['bits_low']}-{shannon['bits_high']}"],
    ]
    return md_table(["model", "corpus", "tokens seen", "val loss (nats/char)", "bits/char"], rows)


# ----------------------------------------------------------------------------- exercises


def perplexity_exercise(final_val: float) -> Exercise:
    """Exercise 1.1: the perplexity and bits per character of a validation loss ``final_val`` (nats)."""
    return Exercise(
        "1.1 perplexity and bits",
        expected=[metrics.perplexity(final_val), metrics.bits_per_token(final_val)],
        hints=(
            "both are the loss in other units: one undoes the logarithm, the other changes its base",
            "perplexity = e^loss for a loss in nats; bits = nats / ln 2",
        ),
    )


def param_count_exercise(vocab_size: int) -> Exercise:
    """Exercise 1.2: Kaplan's 12 n_layer d_model^2 for nanoGPT's GPU recipe (6 layers, width 384), accepted
    within 5% of the exact non-embedding count."""
    exact = non_embedding_params(GPTConfig(vocab_size=vocab_size, n_layer=6, n_head=6, d_model=384))
    return Exercise(
        "1.2 parameter count",
        expected=exact,
        rtol=0.05,
        hints=(
            "the rule counts the weights of attention (4 d^2) and the MLP (8 d^2) in every layer",
            "12 * n_layer * d_model**2 with n_layer = 6 and d_model = 384",
        ),
    )


def chinchilla_steps_exercise(n_params: float, model_cfg: GPTConfig, train_cfg: TrainConfig) -> Exercise:
    """Exercise 1.3: the training steps of ``train_cfg``'s batch that reach 20 tokens per parameter."""
    return Exercise(
        "1.3 steps for 20 tokens per parameter",
        expected=20 * n_params / (train_cfg.batch_size * model_cfg.context),
        rtol=0.01,
        hints=(
            "count tokens twice: those the budget asks for, and those one step reads",
            "steps = 20 * N / (batch_size * context)",
        ),
    )


NARROW = {"n_layer": 1, "d_model": 32}  # the shape Exercise 1.4 asks for


def narrow_model_exercise(
    model_cfg: GPTConfig, train_cfg: TrainConfig, final_val: float, seed_vals, k: float = 5
) -> Experiment:
    """Exercise 1.4 (an experiment): the student trains the chapter's recipe at ``NARROW``'s shape. The
    checker verifies the run is that model with that recipe, then the claim that it ends worse than the
    chapter's model (``final_val``) by more than ``k`` standard deviations of the cached seeds
    (``seed_vals``)."""
    want = replace(model_cfg, **NARROW)
    margin = k * float(np.std(np.asarray(seed_vals, dtype=float), ddof=1))

    def verify(result: TrainResult):
        if not isinstance(result, TrainResult):
            return False, f"expected the result of train(...), got {type(result).__name__}"
        if result.model.cfg != want:
            return False, f"the run's model is {result.model.cfg}, the exercise asks for {want}"
        if len(result.history.train_loss) != train_cfg.steps:
            return False, f"the run took {len(result.history.train_loss)} steps; use the chapter's {train_cfg.steps}"
        gap = result.history.final_val - final_val
        report = (
            f"validation loss {result.history.final_val:.3f} vs ours {final_val:.3f}: {gap:+.3f} nats/char, "
            f"margin {margin:.3f} ({k:g} seed standard deviations)"
        )
        return gap > margin, report + ("; the claim holds" if gap > margin else "; the claim does not hold here")

    return Experiment(
        "1.4 a narrower, shallower model",
        verify=verify,
        hints=(
            "build the config by changing two fields of model_cfg, and keep train_cfg as it is",
            "train(dataclasses.replace(model_cfg, n_layer=1, d_model=32), train_cfg, corpus)",
        ),
    )
