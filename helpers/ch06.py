"""Chapter 6, emergent abilities: the arithmetic recipe, the addition corpora and the cached model family.

- ``arithmetic``: a GPT trained on a task corpus from ``helpers.tasks`` (chapter 9 trains with it too);
- datasets ``addition{d}-{fmt}`` (d-digit addition, 20,000 training and 1,000 test problems) and the
  experiment ``arithmetic`` (train with the recipe, then score the test problems with ``tasks.sweep_scores``);
- ``CH06_SIZES`` and the grid ``ch06_family``: 9 sizes x 5 seeds on 4-digit reversed addition.
"""

from __future__ import annotations

import functools

from . import sweep
from .data import Corpus
from .model import GPTConfig
from .tasks import FORMATS, addition_corpus, sweep_scores
from .train import TrainConfig

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
