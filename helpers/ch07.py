"""Chapter 7's experiments: its configurations, runners, datasets and sweep grids (the worlds are ``helpers.icl``).

- **Induction heads**: ``induction_configs`` (an attention-only GPT on ``RepeatData`` documents) and
  ``induction_run``, which trains one and reports the probe losses along the run and ``head_report`` at
  the end; grid ``ch07_induction`` (1 vs 2 layers, two seeds).
- **In-context regression**: ``regression_run`` trains a ``RegressionTransformer`` and scores it beside the
  baselines; grid ``ch07_regression``.
- **Few-shot prompting**: ``WORLD``, the chapter's ``RuleWorld`` (frozen, its rule table read-only), its
  corpora ``ch07_rules`` and ``ch07_rules_nonbursty``, ``few_shot_recipe`` (the language models) and
  ``few_shot_evaluator`` (accuracy for every number of demonstrations); grid ``ch07_few_shot``.

Runners return a ``helpers.sweep.RunOutput``; everything is registered with ``helpers.sweep`` on import.
The chapter's exercises (``icl_score_exercise`` ... ``one_layer_exercise``) compute their answers here.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import torch

from . import sweep
from .book.exercises import Exercise, Experiment
from .data import Corpus
from .icl import (
    BASELINES,
    PROBE_HALF,
    RegressionConfig,
    RepeatData,
    RepeatLossProbe,
    RuleWorld,
    attention_patterns,
    few_shot_curve,
    head_report,
    icl_score,
    regression_errors,
    repeat_corpus,
    repeated_tokens,
    train_regression,
)
from .model import GPT, GPTConfig
from .train import TrainConfig, train

# ----------------------------------------------------------------------------- induction heads


def induction_configs(
    n_layer: int, steps: int = 4000, seed: int = 0, vocab_size: int = 64, lr: float = 3e-3, n_head: int = 4
) -> tuple[RepeatData, GPTConfig, TrainConfig]:
    """Chapter 7's induction-head run: an attention-only GPT (``n_layer`` layers, width 64, 4 heads) on
    ``RepeatData()`` documents, one per window, batches of 32, a constant learning rate of 3e-3 after a
    100-step warmup (the transition comes late in the run, so a decaying schedule would slow it down),
    evaluated every ``steps // 40`` steps."""
    data = RepeatData(vocab_size=vocab_size, seed=seed)
    model = GPTConfig(
        vocab_size=data.vocab_size, context=data.length - 1, n_layer=n_layer, n_head=n_head, d_model=64, mlp=False
    )
    train_cfg = TrainConfig(
        steps=steps,
        batch_size=32,
        lr=lr,
        min_lr_ratio=1.0,
        warmup_steps=min(100, steps // 10),
        eval_every=max(1, steps // 40),
        eval_batches=2,
        seed=seed,
    )
    return data, model, train_cfg


def induction_run(
    n_layer: int,
    steps: int = 4000,
    seed: int = 0,
    vocab_size: int = 64,
    lr: float = 3e-3,
    n_head: int = 4,
    *,
    device: str = "auto",
    cache: bool = False,
    progress: bool = False,
) -> sweep.RunOutput:
    """Train chapter 7's induction-head model (``induction_configs``) on ``device`` and report the loss on
    the two halves of fixed repeated-token probes along the run, ``head_report`` at the end and every head's
    attention on one probe (``metrics["pattern"]``, n_layer x n_head x 24 x 24, for the heat maps). The probe
    callback watches the run, so it is never cached (``cache`` is accepted for the sweep's runner interface)."""
    data, model_cfg, train_cfg = induction_configs(n_layer, steps, seed, vocab_size, lr, n_head)
    train_cfg = replace(train_cfg, device=device, progress=progress)
    probe = RepeatLossProbe(repeated_tokens(64, PROBE_HALF, data.vocab_size, seed=3))
    result = train(model_cfg, train_cfg, repeat_corpus(data), cache=cache, callbacks=[probe])
    report = head_report(result.model)
    pattern = attention_patterns(result.model, repeated_tokens(1, PROBE_HALF, data.vocab_size, seed=11))[:, 0]
    probe_steps, first, second = (list(v) for v in zip(*probe.rows))
    metrics = {
        "probe_step": probe_steps,
        "probe_first": [round(v, 4) for v in first],
        "probe_second": [round(v, 4) for v in second],
        **{k: np.round(np.asarray(v), 4).tolist() for k, v in report.items() if k != "icl_score"},
        "icl_score": round(report["icl_score"], 4),
        "pattern": np.round(pattern.numpy(), 3).tolist(),
    }
    h = result.history
    return sweep.RunOutput(
        seed=seed,
        steps=steps,
        seconds=h.seconds,
        non_embedding=result.model.param_counts()["non_embedding"],
        final_train=h.eval_train[-1],
        final_val=h.final_val,
        curve={"step": h.eval_step, "val": [round(v, 5) for v in h.eval_val]},
        metrics=metrics,
        device=result.device.type,
    )


# ----------------------------------------------------------------------------- in-context regression


def regression_run(*, device: str = "auto", cache: bool = False, **config) -> sweep.RunOutput:
    """Train ``RegressionConfig(**config)`` on ``device`` and report the model's normalised squared error for
    every number of in-context examples beside the baselines' (``regression_errors`` on the same 2,000
    prompts) as ``metrics`` (``{"model": [...], "least squares": [...], ...}``), and the mean training MSE
    of the last 5% of steps as ``final_train``."""
    cfg = RegressionConfig(**config)
    result = train_regression(cfg, device=device, cache=cache, progress=False)
    curves = {"model": regression_errors(result.model.predict, cfg.dim, cfg.n_points)}
    curves.update({name: regression_errors(fn, cfg.dim, cfg.n_points) for name, fn in BASELINES.items()})
    h = result.history
    return sweep.RunOutput(
        seed=cfg.seed,
        steps=cfg.steps,
        seconds=h.seconds,
        non_embedding=result.model.param_counts()["non_embedding"],
        final_train=float(np.mean(h.train_loss[-max(1, cfg.steps // 20) :])),
        metrics={name: np.round(v, 5).tolist() for name, v in curves.items()},
        device=result.device.type,
    )


# ----------------------------------------------------------------------------- few-shot prompting

WORLD = RuleWorld()  # chapter 7's world: 6 rules on 8 letters, 7 pairs per document


def few_shot_recipe(
    corpus: Corpus, d_model: int, n_layer: int, steps: int = 1500, lr: float = 3e-3, seed: int = 0
) -> tuple[GPTConfig, TrainConfig]:
    """Chapter 7's few-shot language models: width ``d_model`` and ``n_layer`` layers (heads 8 wide, at most
    4) trained on ``RuleWorld.corpus`` documents, one document per window (context = document length - 1),
    batches of 32, warmup + cosine over ``steps``."""
    if corpus.align < 2:
        raise ValueError(f"corpus {corpus.name!r} is not a RuleWorld corpus of fixed-length documents")
    model = GPTConfig(
        vocab_size=corpus.vocab_size,
        context=corpus.align - 1,
        n_layer=n_layer,
        n_head=max(1, min(4, d_model // 8)),
        d_model=d_model,
    )
    train_cfg = TrainConfig(
        steps=steps, batch_size=32, lr=lr, warmup_steps=min(100, steps // 10), eval_every=max(1, steps // 10), seed=seed
    )
    return model, train_cfg


def few_shot_evaluator(model: GPT, corpus: Corpus) -> dict:
    """The few-shot sweep's scores: ``few_shot_curve`` on ``WORLD`` (whichever corpus the model trained on)."""
    return few_shot_curve(model, WORLD)


# ----------------------------------------------------------------------------- sweep grids

# induction heads in attention-only models (1 vs 2 layers, two seeds), in-context linear regression against its
# baselines, and few-shot accuracy against the number of demonstrations for four model sizes on bursty documents
# plus a 16-wide two-layer control (depth without size), and the largest on non-bursty ones (two seeds each)
FEW_SHOT_SIZES = ((8, 1), (16, 1), (32, 2), (64, 2))  # (d_model, n_layer): about 1k to 100k parameters
DEPTH_CONTROL = (16, 2)  # the 16-wide model with a second layer: separates depth from size in the size sweep

sweep.register_dataset("ch07_rules", WORLD.corpus)
sweep.register_dataset("ch07_rules_nonbursty", partial(WORLD.corpus, bursty=False))
sweep.register_experiment("ch07_induction", induction_run)
sweep.register_experiment("ch07_regression", regression_run)
sweep.register_experiment("ch07_few_shot", sweep.lm_experiment(few_shot_recipe, evaluator=few_shot_evaluator))

sweep.register_grid(
    "ch07_induction",
    full=[{"recipe": "ch07_induction", "n_layer": n, "steps": 4000, "seed": s} for n in (2, 1) for s in range(2)],
    # the first 1,000 steps of the 2-layer seed-0 run: with a constant learning rate after warmup they are the
    # same steps as the full run's, so the live curve must lie on the cached one
    quick=[{"recipe": "ch07_induction", "n_layer": 2, "steps": 1000, "seed": 0}],
)
sweep.register_grid(
    "ch07_regression",
    full=[{"recipe": "ch07_regression", "steps": 3000, "seed": s} for s in range(2)],
    quick=[{"recipe": "ch07_regression", "steps": 600, "seed": s} for s in range(2)],
)
sweep.register_grid(
    "ch07_few_shot",
    full=[
        {"recipe": "ch07_few_shot", "data": data, "d_model": d, "n_layer": n, "seed": s}
        for data, sizes in (
            ("ch07_rules", FEW_SHOT_SIZES + (DEPTH_CONTROL,)),
            ("ch07_rules_nonbursty", FEW_SHOT_SIZES[-1:]),
        )
        for d, n in sizes
        for s in range(2)
    ],
    quick=[{"recipe": "ch07_few_shot", "data": "ch07_rules", "d_model": 32, "n_layer": 2, "seed": 0}],
)


# ----------------------------------------------------------------------------- exercises


def icl_score_exercise(position_loss, early: int = 3, late: int = 22) -> Exercise:
    """Exercise 7.1: Olsson's ICL score from a run's per-position probe loss, between ``late`` and ``early``."""
    return Exercise(
        "7.1 ICL score of the 2-layer model",
        expected=float(icl_score(torch.tensor(position_loss), early, late)),
        atol=1e-3,
        hints=(
            "the score compares the loss late in the context with the loss early in it",
            "position_loss[22] - position_loss[3]; negative means the context helps",
        ),
    )


def nonbursty_gain_exercise(rows) -> Exercise:
    """Exercise 7.2: the k-shot gain (mean accuracy over k = 3..6 minus zero-shot), averaged over ``rows``."""
    gains = [np.mean(r["metrics"]["accuracy"][3:]) - r["metrics"]["accuracy"][0] for r in rows]
    return Exercise(
        "7.2 k-shot gain without burstiness",
        expected=float(np.mean(gains)),
        atol=0.005,
        hints=(
            "compute the gain of section 3 for each run, then average over the runs",
            "np.mean([np.mean(a[3:]) - a[0] for a in the accuracy lists of the rows in nb])",
        ),
    )


def least_squares_exercise(measured: float) -> Exercise:
    """Exercise 7.3: least squares' expected normalised error at k = 2, d = 4, checked against the
    ``measured`` error (within 5%: the measurement's own noise)."""
    return Exercise(
        "7.3 least-squares error at k = 2, d = 4",
        expected=float(measured),
        rtol=0.05,
        hints=(
            "split w into the part the examples reveal and the part they say nothing about",
            "each of the d - k unseen directions of w adds 1 to the expected squared error; divide by d",
        ),
    )


ONE_LAYER_DROP = 0.5  # nats: the most the repeated-half probe loss of a 1-layer model falls (cached runs: < 0.4)


def one_layer_exercise(min_steps: int = 1000) -> Experiment:
    """Exercise 7.4 (an experiment): the student trains ``induction_run`` with one layer for at least
    ``min_steps`` steps; the checker verifies the run and the claim that no phase change happens: the
    repeated-half probe loss falls by less than ``ONE_LAYER_DROP`` nats."""

    def verify(run):
        if not isinstance(run, sweep.RunOutput) or "probe_second" not in (run.metrics or {}):
            return False, "expected the output of ch07.induction_run(...)"
        layers = len(run.metrics["pattern"])
        if layers != 1 or run.steps < min_steps:
            return (
                False,
                f"the run has {layers} layer(s) and {run.steps} steps; the exercise asks for 1 and >= {min_steps}",
            )
        second = run.metrics["probe_second"]
        drop = second[0] - float(np.mean(second[-3:]))
        holds = drop < ONE_LAYER_DROP
        report = (
            f"the repeated-half loss went from {second[0]:.2f} to {np.mean(second[-3:]):.2f} nats "
            f"(a fall of {drop:.2f}; the two-layer models fall by more than 2.5)"
        )
        return holds, report + ("; the claim holds: no induction head" if holds else "; the claim fails on this run")

    return Experiment(
        "7.4 one layer instead of two",
        verify=verify,
        hints=(
            "the live run of section 1 has a knob for the number of layers",
            "ch07.induction_run(n_layer=1, steps=1000, seed=0)",
        ),
    )
