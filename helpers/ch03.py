"""Chapter 3, predictability and monitoring: its recipes, its cached sweeps and its measures.

- ``stability_lm``: a 2-layer GPT of a given width, trained briefly at a given peak learning rate, with or
  without QK-layernorm and z-loss, and watched by the training monitor (``helpers.monitor``);
- the grid ``ch03_lr``: Wortsman et al. (2023)'s learning-rate sweep at toy scale: three widths, seven
  log-spaced rates from 3e-4 to 3e-1, four variants (neither fix, QK-layernorm, z-loss, both); the grid
  ``ch03_lr_seeds`` repeats its ``SEED_VARIANTS`` (neither fix, QK-layernorm) with seeds 1 and 2, and
  ``ch03_lr_zseeds`` its ``ZSEED_VARIANTS`` (z-loss, both); the grid
  ``ch03_logz`` provokes output-logit divergence (no weight decay, ``LOGZ_STEPS`` steps, ``LOGZ_RATES``) with
  QK-layernorm, without and with z-loss, three seeds;
- ``lr_sensitivity``: the spread of final loss over a learning-rate grid, as papers.md records the paper's
  definition;
- loss spikes: ``spike_lm``, the same recipe with the knobs practice blames for spikes (warmup, Adam's ε, the
  peak rate) and monitored at every step, its grid ``ch03_spikes`` (three seeds) and ``spike_metrics`` (the
  spikes of the loss and of the gradient norm, whether a gradient spike led each loss spike, the overshoot of
  the first steps); ``zero_gradient_entries``, what Adam without ε divides by zero;
  ``fault_runs``, a clean run, a copy with a learning-rate error mid-run and that copy with the rollback remedy
  (``helpers.interventions``);
- repeated data: ``repeat_lm``, the width-64 recipe trained for a fixed 614,400 tokens drawn from fewer and
  fewer unique ones (``EPOCHS``, datasets named by ``unique_data_name``), and shorter single-epoch runs for
  the fresh-data law: the grid ``ch03_repeat``, three seeds;
- the chapter's exercises (``sensitivity_exercise``, ``fix_exercise``, ``alarm_exercise``), their answers
  computed here.

Section 4 (watching a big run with small ones, the grid ``ch03_ladder``) is in ``helpers.ch03_watch``, imported
here so that the sweep runner finds its grid. Its tables are in ``helpers.ch03_tables``, its figures in
``helpers.ch03_figures``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import (
    ch03_watch,  # noqa: F401  (registers the ch03_ladder grid)
    sweep,
)
from .book.exercises import Exercise, Experiment
from .data import Corpus, unique_subset
from .interventions import LRFault, SpikeRollback
from .model import GPT, GPTConfig
from .monitor import monitor_series, spikes
from .train import TrainConfig, Trainer, TrainResult, seed_everything, train

WIDTHS = (32, 64, 128)
LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
VARIANTS = {"neither": (False, 0.0), "qk-layernorm": (True, 0.0), "z-loss": (False, 1e-4), "both": (True, 1e-4)}


def stability_lm(
    corpus: Corpus,
    d_model: int = 64,
    lr: float = 3e-3,
    variant: str = "neither",
    seed: int = 0,
    steps: int = 300,
    weight_decay: float = 0.1,
) -> tuple[GPTConfig, TrainConfig]:
    """A 2-layer, ``d_model``-wide character GPT (4 heads, context 64) trained ``steps`` steps of 32 x 64
    tokens at peak rate ``lr``, AdamW (0.9, 0.95), ε 1e-8, weight decay ``weight_decay`` (the trainer's 0.1
    unless a grid switches it off), clipping at 1, warmup then cosine (Wortsman et al.'s recipe at toy scale),
    monitored every 25 steps; ``variant`` names the fixes in ``VARIANTS``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: choose one of {', '.join(VARIANTS)}")
    qk_norm, z_loss = VARIANTS[variant]
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=2, n_head=4, d_model=d_model, qk_norm=qk_norm)
    train_cfg = TrainConfig(
        steps=steps, batch_size=32, lr=lr, warmup_steps=max(1, steps // 20), eval_every=50, seed=seed,
        z_loss=z_loss, monitor_every=25, weight_decay=weight_decay,
        desc=f"training {d_model}-wide GPT, lr {lr:g}, {variant}",
    )  # fmt: skip
    return model, train_cfg


def monitor_metrics(result: TrainResult, corpus: Corpus) -> dict:
    """What the monitor of a ``stability_lm`` run saw, for its sweep row: the largest attention logit over
    the run and per layer at the end, the output's mean |log Z| at the end and its largest |log Z|, the
    largest gradient norm, and the loss at initialisation (ln of the vocabulary: a uniform prediction)."""
    series = monitor_series(result.history)
    attn = series["attn_logit_max"]
    return {
        "init_loss": math.log(corpus.vocab_size),
        "attn_logit_max": round(float(np.nanmax(attn)), 3),
        "attn_logit_final": [round(float(v), 3) for v in attn[-1]],
        "log_z_final": round(float(series["log_z_mean"][-1]), 4),
        "log_z_max": round(float(np.nanmax(series["log_z_max"])), 4),
        "grad_norm_max": round(float(np.nanmax(series["grad_norm"])), 4),
    }


sweep.register_experiment("stability_lm", sweep.lm_experiment(stability_lm, observer=monitor_metrics))
sweep.register_grid(
    "ch03_lr",
    full=[
        {"recipe": "stability_lm", "d_model": d, "lr": lr, "variant": v} for d in WIDTHS for v in VARIANTS for lr in LRS
    ],
    quick=[
        {"recipe": "stability_lm", "d_model": 64, "lr": lr, "variant": v, "steps": 150}
        for v in ("neither", "qk-layernorm")
        for lr in (3e-3, 3e-2)
    ],
)

# seeds 1 and 2 of every variant, at every width and rate: with seed 0 in ch03_lr, three seeds of each
# sensitivity, for the claims' margins; ch03_lr_seeds holds the two variants the first claim compared,
# ch03_lr_zseeds the other two, swept later
SEED_VARIANTS, ZSEED_VARIANTS = ("neither", "qk-layernorm"), ("z-loss", "both")
for _name, _variants in (("ch03_lr_seeds", SEED_VARIANTS), ("ch03_lr_zseeds", ZSEED_VARIANTS)):
    sweep.register_grid(
        _name,
        full=[
            {"recipe": "stability_lm", "d_model": d, "lr": lr, "variant": v, "seed": s}
            for s in (1, 2)
            for d in WIDTHS
            for v in _variants
            for lr in LRS
        ],
        quick=[{"recipe": "stability_lm", "d_model": 32, "lr": 3e-2, "variant": _variants[0], "seed": 1, "steps": 150}],
    )


# the second instability, provoked: no weight decay, runs almost seven times as long, the highest rate of the grid
# and one above it; with QK-layernorm throughout (so the attention logits stay out of it), without and with z-loss
LOGZ_RATES, LOGZ_STEPS, LOGZ_VARIANTS = (0.3, 1.0), 2000, ("qk-layernorm", "both")
sweep.register_grid(
    "ch03_logz",
    full=[
        {"recipe": "stability_lm", "lr": lr, "variant": v, "weight_decay": 0.0, "steps": LOGZ_STEPS, "seed": s}
        for s in (0, 1, 2)
        for lr in LOGZ_RATES
        for v in LOGZ_VARIANTS
    ],
    quick=[{"recipe": "stability_lm", "lr": 1.0, "variant": "qk-layernorm", "weight_decay": 0.0, "steps": 200}],
)


def lr_sensitivity(final_losses, init_loss: float) -> float:
    """Learning-rate sensitivity over a grid of rates: the mean over the grid of ``min(ℓ(η), ℓ₀) − ℓ*``, with
    ``ℓ*`` the best final loss on the grid and ``ℓ₀`` the loss at initialisation, which caps a diverged run
    (a NaN or infinite loss counts as ``ℓ₀``). 0 means every rate reached the best loss."""
    x = np.asarray(final_losses, dtype=float)
    if x.size < 2:
        raise ValueError(f"got {x.size} losses: a sensitivity needs a grid of at least 2 learning rates")
    x = np.where(np.isfinite(x), np.minimum(x, init_loss), init_loss)
    return float(np.mean(x - x.min()))


# ----------------------------------------------------------------------------- loss spikes

SPIKE_RATES = (3e-3, 3e-2, 1e-1)
SPIKE_WARMUPS = (0, 15)  # no warmup, and stability_lm's own (5% of 300 steps)
SPIKE_EPS = (0.0, 1e-8, 1e-4)  # none, PyTorch's default, large
WINDOW = 30  # the spike rule's trailing window, in steps
LEAD = 5  # a gradient-norm spike "leads" a loss spike it precedes by 1 to LEAD steps
EARLY = 50  # the first steps, where the overshoot is measured


def spike_lm(
    corpus: Corpus, lr: float = 3e-2, warmup: int = 15, adam_eps: float = 1e-8, seed: int = 0, steps: int = 300
) -> tuple[GPTConfig, TrainConfig]:
    """``ch03.stability_lm`` at width 64 with no fix, ``warmup`` warmup steps and Adam's ε ``adam_eps``,
    monitored at every step."""
    model_cfg, train_cfg = stability_lm(corpus, d_model=64, lr=lr, seed=seed, steps=steps)
    train_cfg = replace(
        train_cfg, warmup_steps=warmup, adam_eps=adam_eps, monitor_every=1,
        desc=f"training 64-wide GPT, lr {lr:g}, warmup {warmup}, eps {adam_eps:g}",
    )  # fmt: skip
    return model_cfg, train_cfg


def led_spikes(loss_spikes, grad_spikes, lead: int = LEAD) -> int:
    """How many of the ``loss_spikes`` (step indices) follow a gradient-norm spike by 1 to ``lead`` steps."""
    grad = set(int(g) for g in grad_spikes)
    return sum(any(s - k in grad for k in range(1, lead + 1)) for s in loss_spikes)


def spike_metrics(result: TrainResult, corpus: Corpus) -> dict:
    """The sweep row's view of a ``spike_lm`` run: the steps of its loss spikes and gradient-norm spikes
    (window ``WINDOW``), the loss spikes a gradient spike led, coincident ones (same step), and over the first
    ``EARLY`` steps the loss's peak above ln V (its value at initialisation) with the steps of the loss's and
    the gradient norm's peaks."""
    s = monitor_series(result.history)
    step, loss, grad = s["monitor_step"], s["monitor_loss"], s["grad_norm"]
    ls, gs = spikes(loss, window=WINDOW), spikes(grad, window=WINDOW)
    early = slice(0, EARLY)
    return {
        "init_loss": math.log(corpus.vocab_size),
        "loss_spikes": [int(step[i]) for i in ls],
        "grad_spikes": [int(step[i]) for i in gs],
        "led": led_spikes(step[ls], step[gs]),
        "coincident": len(set(step[ls]) & set(step[gs])),
        "early_overshoot": round(float(np.nanmax(loss[early]) - math.log(corpus.vocab_size)), 4),
        "early_loss_peak_step": int(step[early][np.nanargmax(loss[early])]),
        "early_grad_peak_step": int(step[early][np.nanargmax(grad[early])]),
    }


sweep.register_experiment("spike_lm", sweep.lm_experiment(spike_lm, observer=spike_metrics))
sweep.register_grid(
    "ch03_spikes",
    full=[
        {"recipe": "spike_lm", "lr": lr, "warmup": w, "adam_eps": e, "seed": seed}
        for seed in (0, 1, 2)
        for lr in SPIKE_RATES
        for w in SPIKE_WARMUPS
        for e in SPIKE_EPS
    ],
    quick=[{"recipe": "spike_lm", "lr": 1e-1, "warmup": w, "adam_eps": 1e-8, "steps": 100} for w in SPIKE_WARMUPS],
)


def zero_gradient_entries(corpus: Corpus, seed: int = 0) -> dict[str, int]:
    """The weight entries whose gradient is exactly zero at the first step of a ``spike_lm`` run with seed
    ``seed``, on the CPU (parameter name -> how many; empty when there are none). Adam without ε gives each
    of them the update 0/0, a NaN that the next forward pass spreads to every weight."""
    model_cfg, train_cfg = spike_lm(corpus, seed=seed)
    seed_everything(seed)
    trainer = Trainer(GPT(model_cfg), corpus, replace(train_cfg, device="cpu"))
    x, y = trainer.sampler.sample()
    _, loss = trainer.model(x, y)
    loss.backward()
    zeros = {name: int((p.grad == 0).sum()) for name, p in trainer.model.named_parameters() if p.grad is not None}
    return {name: n for name, n in zeros.items() if n}


# ----------------------------------------------------------------------------- a fault and its remedy

FAULT = {"start": 150, "stop": 160, "factor": 30.0}  # ten steps at 30 times the scheduled rate, mid-run


def fault_runs(
    corpus: Corpus, lr: float = 3e-3, seed: int = 0, fault: dict = FAULT, steps: int = 300
) -> dict[str, tuple]:
    """Three ``stability_lm`` runs monitored at every step (width 64, no fix, rate ``lr``, seed ``seed``):
    ``clean``; ``fault``, the same run with an ``LRFault(**fault)``; ``rollback``, the faulty run with a
    ``SpikeRollback`` watching it; ``steps`` long.
    Returns name -> (``TrainResult``, the ``SpikeRollback`` or None)."""
    model_cfg, train_cfg = stability_lm(corpus, d_model=64, lr=lr, seed=seed, steps=steps)
    runs = {}
    for name in ("clean", "fault", "rollback"):
        callbacks = [] if name == "clean" else [LRFault(**fault)]
        remedy = SpikeRollback() if name == "rollback" else None
        cfg = replace(train_cfg, monitor_every=1, desc=f"{name} run, seed {seed}")
        result = train(model_cfg, cfg, corpus, callbacks=callbacks + ([remedy] if remedy else []))
        runs[name] = (result, remedy)
    return runs


# ----------------------------------------------------------------------------- repeated data

REPEAT_STEPS = 300  # every repeated run is this long: 300 steps of 32 x 64 tokens, 614,400 tokens
TOKENS_PER_STEP = 32 * 64
EPOCHS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # the same tokens drawn from 1/E of the unique text, E times
FRESH_STEPS = (50, 100, 150, 200)  # shorter single-epoch runs: with E = 1 they give the fresh-data law L(D)
SUBSET_BLOCK = 512  # unique subsets are cut in blocks of this many tokens (the smallest holds 2,400)


def unique_data_name(tokens: int) -> str:
    """The sweep dataset of ``tokens`` unique tokens of the bundled text (``helpers.data.unique_subset``)."""
    return f"kjv-unique-{tokens}"


def unique_tokens_of(data_name: str) -> int:
    """How many unique tokens the dataset ``unique_data_name(tokens)`` holds: ``tokens``."""
    prefix = unique_data_name(0)[:-1]
    if not data_name.startswith(prefix) or not data_name[len(prefix) :].isdigit():
        raise ValueError(f"{data_name!r} is not a dataset made by unique_data_name (expected {prefix}<tokens>)")
    return int(data_name[len(prefix) :])


REPEAT_TOKENS = REPEAT_STEPS * TOKENS_PER_STEP
UNIQUE_TOKENS = sorted({REPEAT_TOKENS // e for e in EPOCHS} | {s * TOKENS_PER_STEP for s in FRESH_STEPS})
for _tokens in UNIQUE_TOKENS:
    sweep.register_dataset(
        unique_data_name(_tokens),
        lambda t=_tokens: unique_subset(sweep.corpus_named("kjv"), t, block=SUBSET_BLOCK),
    )


def repeat_lm(corpus: Corpus, steps: int = REPEAT_STEPS, seed: int = 0) -> tuple[GPTConfig, TrainConfig]:
    """``stability_lm`` at width 64, its best rate on the ``ch03_lr`` grid (3e-3) and no fix, evaluated every
    25 steps and not monitored, ``steps`` long: trained on a ``unique_subset`` corpus, how often it sees each
    token is the corpus's choice."""
    model_cfg, train_cfg = stability_lm(corpus, d_model=64, lr=3e-3, seed=seed, steps=steps)
    desc = f"training on {len(corpus.train):,} unique tokens for {steps * TOKENS_PER_STEP:,}"
    return model_cfg, replace(train_cfg, monitor_every=0, eval_every=25, desc=desc)


sweep.register_experiment("repeat_lm", sweep.lm_experiment(repeat_lm))
sweep.register_grid(
    "ch03_repeat",
    full=[
        {"recipe": "repeat_lm", "data": unique_data_name(REPEAT_STEPS * TOKENS_PER_STEP // e), "seed": seed}
        for seed in (0, 1, 2)
        for e in EPOCHS
    ]
    + [
        {"recipe": "repeat_lm", "data": unique_data_name(s * TOKENS_PER_STEP), "steps": s, "seed": seed}
        for seed in (0, 1, 2)
        for s in FRESH_STEPS
    ],
    quick=[{"recipe": "repeat_lm", "data": unique_data_name(REPEAT_STEPS * TOKENS_PER_STEP // e)} for e in (1, 256)],
)

# ----------------------------------------------------------------------------- the chapter's exercises

# a bar for "the attention logits stayed in check": QK-layernorm runs on the cached grid (three seeds, every width
# and rate) reach at most 106, twice that is the bar; runs without it pass 2,000 at lr 0.3 and 600 at lr 0.1
ATTN_HELD = 200.0


def sensitivity_exercise(rows, d_model: int = 128, variant: str = "neither") -> Exercise:
    """Exercise 3.1 (compute): the learning-rate sensitivity of the seed-0 ``ch03_lr`` runs (``rows``) of
    one width and variant, as ``lr_sensitivity`` defines it; the answer is accepted to 1%."""
    mine = sorted(
        (r for r in rows if r["seed"] == 0 and (r["point"]["d_model"], r["point"]["variant"]) == (d_model, variant)),
        key=lambda r: r["point"]["lr"],
    )
    if len(mine) < 2:
        raise ValueError(f"no cached ch03_lr runs of width {d_model}, variant {variant!r}; rerun the sweep")
    expected = lr_sensitivity([r["final_val"] for r in mine], mine[0]["metrics"]["init_loss"])
    return Exercise(
        f"3.1 learning-rate sensitivity, width {d_model}, {variant}",
        expected=expected,
        rtol=0.01,
        hints=(
            "for each learning rate, how far above the best rate's final loss did the run end? a run that "
            "ends worse than where it started counts as the loss at initialisation",
            "average min(final_val, init_loss) - (best final_val) over the seven rates",
        ),
    )


def fix_exercise(min_lr: float = 0.1, min_steps: int = 300) -> Experiment:
    """Exercise 3.2 (an experiment): the student trains a monitored ``stability_lm`` run at a learning rate of
    at least ``min_lr`` with a fix of their choice; the checker verifies the run and the claim that its largest
    attention logit stays below ``ATTN_HELD``."""

    def verify(result):
        if not isinstance(result, TrainResult) or "monitor_step" not in result.history.records:
            return False, "expected the result of train(*ch03.stability_lm(corpus, ...), corpus)"
        peak, steps = max(result.history.lr), len(result.history.train_loss)
        if peak < min_lr * (1 - 1e-9) or steps < min_steps:
            return (
                False,
                f"the run peaked at lr {peak:g} over {steps} steps; the exercise asks for lr >= {min_lr:g} "
                f"and at least {min_steps} steps",
            )
        attn = float(np.nanmax(monitor_series(result.history)["attn_logit_max"]))
        qk = "with" if result.model.cfg.qk_norm else "without"
        holds = attn < ATTN_HELD
        report = (
            f"largest attention logit {attn:,.0f} ({qk} QK-layernorm), final validation loss "
            f"{result.history.final_val:.3f} nats/char"
        )
        verdict = f"the attention logits stayed below {ATTN_HELD:.0f}" if holds else "this run's logits grew"
        return holds, f"{report}; {'the claim holds' if holds else 'the claim fails'}: {verdict}"

    return Experiment(
        "3.2 a fix at a high learning rate",
        verify=verify,
        hints=(
            "of the two fixes, which one acts on the attention scores themselves?",
            "train(*ch03.stability_lm(corpus, d_model=64, lr=0.1, variant='qk-layernorm'), corpus)",
        ),
    )


ALARM_GRID = tuple(float(k) for k in np.arange(1.0, 10.01, 0.5))  # thresholds, in robust standard deviations


def quietest_threshold(loss, window: int = WINDOW) -> float:
    """The smallest threshold on ``ALARM_GRID`` at which ``helpers.monitor.spikes(loss, window, threshold,
    min_rise=0)`` flags nothing: how far above its recent median a clean run's own noise reaches."""
    for k in ALARM_GRID:
        if len(spikes(loss, window=window, threshold=k, min_rise=0.0)) == 0:
            return k
    raise ValueError(
        f"even a threshold of {ALARM_GRID[-1]:g} robust standard deviations flags this series: it is not a "
        f"clean run, or it is too short for a window of {window}"
    )


def alarm_exercise(clean: TrainResult) -> Exercise:
    """Exercise 3.4 (a measurement): the lowest spike threshold on ``ALARM_GRID`` that raises no false alarm
    on the per-step training loss of ``clean`` (a run monitored at every step), as ``quietest_threshold``
    finds it; accepted to the grid's spacing."""
    loss = monitor_series(clean.history)["monitor_loss"]
    return Exercise(
        "3.4 the alarm's threshold",
        expected=quietest_threshold(loss),
        atol=0.25,
        hints=(
            "try the thresholds from the bottom of the grid up, with min_rise=0, and stop at the first one "
            "that flags nothing on the clean run",
            "spikes(monitor_series(faults['clean'][0].history)['monitor_loss'], window=30, threshold=k, "
            "min_rise=0.0) is empty for the answer and for no smaller k on the grid",
        ),
    )
