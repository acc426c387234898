"""Chapter 5, predicting domain abilities: the model family, its cached grids and how a run is scored.

- ``ability_lm``: the chapter's model, a 2-layer byte-level GPT of a given width (heads 16 wide, context 64),
  trained ``STEPS`` steps on ``MIX`` (English prose, Python source and arithmetic; ``helpers.abilities``);
- the experiment ``ability_lm`` trains it with an ``AbilityProbe`` that scores every checkpoint (each
  ``EVAL_EVERY`` steps) on the four suites and the three domains, and keeps the final model's per-item
  scores (``metrics["items"]``) for the per-item correlations of section 5;
- the grid ``ch05_family``: ``LADDER`` widths (to fit on) and ``TARGETS`` (to forecast) over ``SEEDS``;
- the grid ``ch05_holdout``: ``HELD_OUT``-wide models over ``SEEDS``, which only exercise 5.2's checker reads;
- the grid ``ch05_decay``: ``decay_lm``, the same model trained on ``MIX`` and then, from step ``SHIFT``, on
  ``SHIFTED`` (no arithmetic), scored as it goes: an ability that decays while the loss on the new mixture
  keeps falling.

The fits and forecasts over the family are in ``helpers.ch05_forecast``, its tables in ``helpers.ch05_tables``
and its figures in ``helpers.ch05_figures``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import sweep
from .abilities import SUITES, AbilityProbe, domains, score, suites
from .data import Corpus
from .interventions import MixtureShift
from .mixture import mixed_corpus
from .model import GPTConfig
from .sweep import RunOutput
from .train import TrainConfig, train

MIX = "kjv=0.5,code=0.2,arith=0.3"
SHIFTED = "kjv=0.7,code=0.3,arith=0"
LADDER = (32, 48, 64, 96, 128)  # the smaller models the forecasts are fitted on
TARGETS = (192, 256)  # the larger ones they forecast, trained afterwards
HELD_OUT = 160  # a width no figure shows: exercise 5.2 forecasts it and its checker scores the forecast
SEEDS = (0, 1, 2)
STEPS, EVAL_EVERY = 2000, 200
DECAY_WIDTH, DECAY_STEPS, SHIFT, DECAY_EVERY = 96, 3000, 1500, 150


def ability_lm(corpus: Corpus, d_model: int = 64, seed: int = 0, steps: int = STEPS) -> tuple[GPTConfig, TrainConfig]:
    """A 2-layer byte-level GPT ``d_model`` wide (heads 16 wide, context 64) trained ``steps`` steps of 32 x 64
    bytes at peak rate 3e-3 (warmup 50 steps, then cosine), evaluated every ``EVAL_EVERY`` steps."""
    if d_model % 16:
        raise ValueError(f"d_model={d_model}: the heads are 16 wide, so the width must be a multiple of 16")
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=2, n_head=d_model // 16, d_model=d_model)
    train_cfg = TrainConfig(
        steps=steps, batch_size=32, lr=3e-3, warmup_steps=50, eval_every=min(EVAL_EVERY, steps), seed=seed,
        desc=f"{d_model}-wide GPT on prose, code and arithmetic, seed {seed}",
    )  # fmt: skip
    return model, train_cfg


def family_corpus():
    """The family's training corpus: ``MIX`` over ``helpers.abilities.domains()``."""
    return mixed_corpus(MIX, domains())


def item_scores(model) -> dict:
    """The final model's per-item scores on every suite, rounded for the CSV: ``choices`` (log-probabilities of
    the four choices, the right one first, nats) and ``greedy`` (exact match, 0 or 1)."""
    out = {}
    for name, items in suites().items():
        s = score(model, items)
        out[name] = {"choices": np.round(s["choices"], 3).tolist(), "greedy": s["greedy"].astype(int).tolist()}
    return out


def run_ability(d_model: int = 64, seed: int = 0, steps: int = STEPS, device: str = "auto", progress: bool = True):
    """Train one member of the family with an ``AbilityProbe`` (never cached: the probe watches the run);
    returns the ``TrainResult``, whose ``history.records["abilities"]`` holds the scored checkpoints."""
    corpus = family_corpus()
    model_cfg, train_cfg = ability_lm(corpus, d_model=d_model, seed=seed, steps=steps)
    train_cfg = replace(train_cfg, device=device, progress=progress)
    probe = AbilityProbe(suites(), corpus.parts)
    return train(model_cfg, train_cfg, corpus, callbacks=[probe])


def _ability_experiment(*, device: str = "auto", cache: bool = False, **point) -> RunOutput:
    result = run_ability(device=device, progress=False, **point)
    metrics = {"checkpoints": result.history.records["abilities"], "items": item_scores(result.model)}
    return RunOutput.of_training(result, point.get("seed", 0), metrics)


def decay_lm(corpus: Corpus, seed: int = 0) -> tuple[GPTConfig, TrainConfig]:
    """``ability_lm`` at width ``DECAY_WIDTH`` for ``DECAY_STEPS`` steps, evaluated every ``DECAY_EVERY``."""
    model_cfg, train_cfg = ability_lm(corpus, d_model=DECAY_WIDTH, seed=seed, steps=DECAY_STEPS)
    return model_cfg, replace(train_cfg, eval_every=DECAY_EVERY, desc=f"mixture shift at step {SHIFT}, seed {seed}")


def run_decay(seed: int = 0, device: str = "auto", progress: bool = True):
    """Train ``decay_lm`` on ``MIX`` and, from step ``SHIFT``, on ``SHIFTED`` (a ``MixtureShift``), scored at
    every evaluation by an ``AbilityProbe``; returns the ``TrainResult``."""
    parts = domains()
    corpus, later = mixed_corpus(MIX, parts), mixed_corpus(SHIFTED, parts)
    model_cfg, train_cfg = decay_lm(corpus, seed=seed)
    train_cfg = replace(train_cfg, device=device, progress=progress)
    shift = MixtureShift(SHIFT, later.sampler("train", model_cfg.context, train_cfg.batch_size, seed=seed))
    return train(model_cfg, train_cfg, corpus, callbacks=[shift, AbilityProbe(suites(), parts)])


def _decay_experiment(*, device: str = "auto", cache: bool = False, seed: int = 0) -> RunOutput:
    result = run_decay(seed=seed, device=device, progress=False)
    return RunOutput.of_training(result, seed, {"checkpoints": result.history.records["abilities"]})


sweep.register_experiment("ability_lm", _ability_experiment)
sweep.register_experiment("decay_lm", _decay_experiment)
sweep.register_grid(
    "ch05_family",
    full=[{"recipe": "ability_lm", "d_model": d, "seed": s} for s in SEEDS for d in LADDER + TARGETS],
    quick=[{"recipe": "ability_lm", "d_model": 32, "seed": 0, "steps": 400}],
)
sweep.register_grid(
    "ch05_holdout",
    full=[{"recipe": "ability_lm", "d_model": HELD_OUT, "seed": s} for s in SEEDS],
    quick=[{"recipe": "ability_lm", "d_model": HELD_OUT, "seed": 0, "steps": 200}],
)
sweep.register_grid(
    "ch05_decay",
    full=[{"recipe": "decay_lm", "seed": s} for s in SEEDS],
    quick=[{"recipe": "decay_lm", "seed": 0}],
)

__all__ = ["SUITES", "ability_lm", "decay_lm", "family_corpus", "item_scores", "run_ability", "run_decay"]
