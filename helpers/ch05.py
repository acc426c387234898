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
  keeps falling;
- the chapter's exercises (``decade_exercise``, ``holdout_exercise``, ``loss_not_size_exercise``), their answers
  computed here, and ``compute_of``, the training compute of a family member of any width.

The fits and forecasts over the family are in ``helpers.ch05_forecast``, its tables in ``helpers.ch05_tables``
and its figures in ``helpers.ch05_figures``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import sweep
from .abilities import AbilityProbe, domains, score, suites, summary
from .book.exercises import Exercise, Experiment
from .data import Corpus
from .interventions import MixtureShift
from .mixture import mixed_corpus
from .model import GPTConfig, flops_per_token
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
    bytes at peak rate 3e-3 (warmup 50 steps, a tenth of a shorter run, then cosine), evaluated every
    ``EVAL_EVERY`` steps."""
    if d_model % 16:
        raise ValueError(f"d_model={d_model}: the heads are 16 wide, so the width must be a multiple of 16")
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=2, n_head=d_model // 16, d_model=d_model)
    train_cfg = TrainConfig(
        steps=steps, batch_size=32, lr=3e-3, warmup_steps=min(50, steps // 10), eval_every=min(EVAL_EVERY, steps),
        seed=seed,
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


# ----------------------------------------------------------------------------- the chapter's exercises


def compute_of(d_model: int, steps: int = STEPS) -> float:
    """The training compute (FLOPs) of a family member ``d_model`` wide trained ``steps`` steps: the model's FLOPs
    per token (``helpers.model.flops_per_token``) times the tokens it reads."""
    model_cfg, train_cfg = ability_lm(family_corpus(), d_model=d_model, steps=steps)
    return float(flops_per_token(model_cfg) * train_cfg.batch_size * model_cfg.context * steps)


def decade_exercise(law) -> Exercise:
    """Exercise 5.1: by what factor a fitted GPT-4 law ``-E[log pass_rate] = a C^-k`` (``law.alpha`` is k) says
    -E[log pass_rate] falls each time the compute grows tenfold."""
    return Exercise(
        "5.1 ten times the compute",
        expected=10 ** (-law.alpha),
        hints=(
            "a power law turns a factor in C into a factor in the result: which one, for a factor of 10?",
            "(10 C)^-k / C^-k = 10^-k; k is the fitted law's alpha",
        ),
        coarsest=0.01,
    )


def holdout_exercise(suite: str = "code", metric: str = "mc_accuracy", k: float = 3.0, floor: float = 0.03):
    """Exercise 5.2: forecast the final ``metric`` on ``suite`` of the ``HELD_OUT``-wide models from the ladder;
    the checker compares with those models (``ch05_holdout``, which no figure shows): right within ``k`` seed
    standard deviations of their mean, or ``floor``, whichever is larger."""
    rows = sweep.load_sweep("ch05_holdout")
    values = np.array([r["metrics"]["checkpoints"][-1]["suites"][suite][metric] for r in rows])
    return Exercise(
        f"5.2 forecast a {HELD_OUT}-wide model",
        expected=float(values.mean()),
        hints=(
            f"fit on the ladder only, then read the fit at the compute of a {HELD_OUT}-wide model (ch05.compute_of)",
            f"ch05_forecast.forecast_at(runs, {suite!r}, {metric!r}, ch05.compute_of({HELD_OUT})) gives the two-step "
            "forecast; compare it with the direct one before you answer",
        ),
        atol=max(k * float(values.std(ddof=1)), floor),
    )


def loss_not_size_exercise(link, tolerance: float, loss_range: tuple[float, float]) -> Experiment:
    """Exercise 5.3: train a model of a width the family does not have (a multiple of 16) with ``run_ability``; the
    checker reads its pretraining loss and its multiple-choice accuracy on the verse suite and passes when the
    accuracy lies within ``tolerance`` of what the family's one link (``link``, fitted over every size) predicts at
    that loss, the loss lying in ``loss_range`` where the link was fitted."""

    def verify(result):
        model = getattr(result, "model", None)
        if model is None:
            return False, "pass the TrainResult that ch05.run_ability(d_model=..., steps=...) returned"
        width = model.cfg.d_model
        if width in LADDER + TARGETS + (HELD_OUT,):
            return False, f"{width} wide is a size the family already has; pick another multiple of 16 (e.g. 80)"
        loss = float(result.history.final_val)
        if not loss_range[0] <= loss <= loss_range[1]:
            lo, hi = loss_range
            return False, f"its loss {loss:.3f} lies outside {lo:.2f}-{hi:.2f}, where the link was fitted"
        items = suites()["verse"]
        acc = summary(score(model, items), items)["mc_accuracy"]
        expected = float(link.predict(loss))
        ok = abs(acc - expected) <= tolerance
        verdict = "the family's link holds for a new size" if ok else "the link misses this size"
        said = f"the link says {expected:.3f} ± {tolerance:.3f}"
        return ok, f"{width} wide, loss {loss:.3f}: verse accuracy {acc:.3f}, {said}: {verdict}"

    return Experiment(
        "5.3 loss, not size",
        verify=verify,
        hints=(
            "a new width between the family's, and enough steps to bring its loss into the fitted range",
            "ch05.run_ability(d_model=80, steps=1000) takes about 20 s",
        ),
    )
