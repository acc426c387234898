"""Chapter 6, emergent abilities: the arithmetic recipe, the addition corpora and the cached model family.

- ``arithmetic``: a GPT trained on a task corpus from ``helpers.tasks`` (chapter 9 trains with it too);
- datasets ``addition{d}-{fmt}`` (d-digit addition, 20,000 training and 1,000 test problems) and the
  experiment ``arithmetic`` (train with the recipe, then score the test problems with ``tasks.sweep_scores``);
- ``CH06_SIZES`` and the grid ``ch06_family``: 9 sizes x 5 seeds on 4-digit reversed addition;
- the chapter's exercises (``schaeffer_exercise`` ... ``product_rule_exercise``), answers computed here.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import sweep
from .book.exercises import Exercise, Experiment
from .data import Corpus
from .metrics import at_least_k_right
from .model import GPTConfig
from .tasks import FORMATS, addition_corpus, evaluate, sweep_scores
from .train import TrainConfig, TrainResult

# chapter 6's family (width, layers): one-layer widths 8 to 32, then two layers of 32 and 48
CH06_SIZES = [(8, 1), (12, 1), (16, 1), (20, 1), (24, 1), (28, 1), (32, 1), (32, 2), (48, 2)]


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


for _d in range(1, 10):
    for _f in FORMATS:
        sweep.register_dataset(f"addition{_d}-{_f}", functools.partial(addition_corpus, _d, _f))
sweep.register_experiment("arithmetic", sweep.lm_experiment(arithmetic, evaluator=sweep_scores))
GRIDS = {
    # chapter 6: one model family on 4-digit addition (reversed answers), 0.9k-57k non-embedding parameters, five
    # seeds each (each answer position is either learned or not, so fewer seeds do not average out); the
    # one-layer widths are close together between 3k and 13k parameters, where most of the change happens
    "ch06_family": {
        "full": [
            {"recipe": "arithmetic", "data": "addition4-reversed", "d_model": d, "n_layer": n, "steps": 2000, "seed": s}
            for d, n in CH06_SIZES
            for s in range(5)
        ],
        # three sizes across the jump, seed 0: the same points as in the full grid
        "quick": [
            {"recipe": "arithmetic", "data": "addition4-reversed", "d_model": d, "n_layer": 1, "steps": 2000, "seed": 0}
            for d in (16, 24, 32)
        ],
    },
}
for _name, _profiles in GRIDS.items():
    sweep.register_grid(_name, **_profiles)


# ----------------------------------------------------------------------------- exercises


def schaeffer_exercise(acc, answer_len: int, size_index: int = 3) -> Exercise:
    """Exercise 6.1: the exact match that p_bar^L predicts from the mean digit accuracy ``acc[size_index]``."""
    return Exercise(
        "6.1 exact match by p^L",
        expected=float(acc[size_index]) ** answer_len,
        rtol=0.01,
        hints=(
            "the rule treats every position of the answer as an independent try with the same success rate",
            "raise the mean digit accuracy acc[3] to the power L (the answer length)",
        ),
    )


def test_size_exercise(p_prod_size, hits: int = 3) -> Exercise:
    """Exercise 6.2: the fewest test problems whose expected number of exact hits reaches ``hits`` for the
    smallest models (true rate ``p_prod_size[0]``); whole numbers within 1."""
    return Exercise(
        f"6.2 test problems for {hits} expected hits",
        expected=math.ceil(hits / float(p_prod_size[0])),
        atol=1,
        hints=(
            "the expected number of hits grows in proportion to the number of problems",
            "solve n * p_prod_size[0] >= 3 for n and round up",
        ),
    )


def partial_credit_exercise(scores: dict, k: int = 3) -> Exercise:
    """Exercise 6.3: the fraction of test problems with at least ``k`` digits right, from ``scores``
    (``helpers.tasks.evaluate``'s output for one model)."""
    return Exercise(
        f"6.3 at least {k} of 5 digits right",
        expected=float(at_least_k_right(scores["correct_counts"], k)),
        atol=1e-9,
        hints=(
            "score each answer digit by digit against the truth, then count the problems with enough matches",
            "zip each answer with its true answer, count equal characters, and average (count >= 3)",
        ),
    )


def product_rule_exercise(task) -> Experiment:
    """Exercise 6.5 (an experiment): the student trains a model of a size of their choosing on ``task``; the
    checker scores it and verifies the chapter's claim that its exact match is at least the product of its
    per-position accuracies, less three standard errors of a rate on the test set."""

    def verify(result):
        if not isinstance(result, TrainResult):
            return False, f"expected the result of train(...), got {type(result).__name__}"
        s = evaluate(result.model, task)
        prod = float(np.prod(s["per_position"]))
        se = math.sqrt(0.25 / s["n"])
        holds = s["exact_match"] >= prod - 3 * se
        report = (
            f"{result.model.cfg.name}: exact match {s['exact_match']:.3f}, product of the per-position "
            f"accuracies {prod:.3f}, p_bar^L {s['digit_accuracy'] ** task.answer_len:.3f} (3 standard errors: "
            f"{3 * se:.3f})"
        )
        return holds, report + ("; the claim holds" if holds else "; the claim fails on this model")

    return Experiment(
        "6.5 the product rule on a model of your own",
        verify=verify,
        hints=(
            "the live runs at the top of the chapter show the recipe; change its width",
            "arithmetic(corpus, d_model=20, n_layer=1, steps=2000, seed=0), then train(...) with those configs",
        ),
    )
