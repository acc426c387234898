"""Chapter 2, scaling laws: the model family, its recipe and the cached sweeps the chapter fits.

- ``SIZES`` (widths and depths, 3.3k to 595k non-embedding parameters) and ``LRS`` (peak learning rates tried
  at every point, the best kept per point by ``helpers.sweep.best_of``);
- ``scaling``: a model of the family trained on a token budget or a compute budget (C = 6 N D);
- the grids ``ch02_isoflop`` (IsoFLOP profiles), ``ch02_seeds`` (the predicted run over five seeds),
  ``ch02_sizes`` (L(N) at fixed data) and ``ch02_data`` (L(D) at fixed N);
- the chapter's exercises (``compute_exercise``, ``n_opt_exercise``, ``early_fit_exercise``).
"""

from __future__ import annotations

import json

from . import scaling as laws
from . import sweep
from .book.exercises import Exercise
from .data import Corpus
from .model import GPTConfig, non_embedding_params
from .train import TrainConfig

# chapter 2's model family (width, layers): 3.3k to 595k non-embedding parameters (2.3 decades)
SIZES = [(16, 1), (24, 1), (32, 1), (32, 2), (48, 2), (64, 2), (96, 2), (128, 2), (128, 3)]
# peak learning rates tried at every chapter-2 point (chapter 1's 3e-3 is far from best for short runs)
LRS = (3e-3, 1e-2, 3e-2)
MIN_STEPS = 50  # the shortest run whose warmup + cosine schedule the family allows


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
    the chapter-2 sweeps run every point at each of ``LRS`` and keep the best (``helpers.sweep.best_of``).
    """
    if (tokens is None) == (flops is None):
        raise ValueError("give exactly one of tokens= or flops= (a compute budget, C = 6 N D)")
    model = GPTConfig(
        vocab_size=corpus.vocab_size, context=64, n_layer=n_layer, n_head=max(1, d_model // 16), d_model=d_model
    )
    if flops is not None:
        tokens = flops / (6 * non_embedding_params(model))
    steps = round(tokens / (32 * model.context))
    if steps < MIN_STEPS:
        budget = f"flops={flops:.3g}" if flops is not None else f"tokens={tokens:.3g}"
        raise ValueError(
            f"scaling: {budget} gives the {d_model}-wide, {n_layer}-layer model only {steps} steps of "
            f"{32 * model.context} tokens; a warmup + cosine schedule needs at least {MIN_STEPS}: raise the "
            f"budget to tokens >= {MIN_STEPS * 32 * model.context:,} (flops >= "
            f"{6 * non_embedding_params(model) * MIN_STEPS * 32 * model.context:.2g}) or pick a smaller model"
        )
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


sweep.register_experiment("scaling", sweep.lm_experiment(scaling))
GRIDS = {
    # chapter 2: IsoFLOP profiles (C = 6ND, N non-embedding), six or seven sizes per budget, each point at
    # three peak learning rates (chapter 2 keeps the best per point); each profile reaches below its optimum
    "ch02_isoflop": {
        "full": [
            {"recipe": "scaling", "d_model": d, "n_layer": n, "flops": c, "lr": lr}
            for lr in LRS
            for c, sizes in [
                (2.5e11, SIZES[0:6]),
                (5e11, SIZES[0:7]),
                (1e12, SIZES[1:8]),
                (2e12, SIZES[2:9]),
            ]
            for d, n in sizes
        ],
        # a live profile at a smaller budget, one layer and one learning rate (1e-2, the rate most cached runs
        # chose) to fit in half a minute. Every size gets at least ~600 steps (shorter runs fall off a cliff), so a
        # parabola in ln N describes the profile
        "quick": [
            {"recipe": "scaling", "d_model": d, "n_layer": 1, "flops": 1e11, "lr": 1e-2} for d in (16, 20, 24, 28, 32)
        ],
    },
    # chapter 2's prediction: the run the chapter predicts from runs with at most a quarter of its compute
    # (the 100k model at 4.5e12 FLOPs, the size and learning rate that fit picks), over five seeds, so that
    # the tolerance on the prediction comes from measured seed-to-seed spread
    "ch02_seeds": {
        "full": [
            {"recipe": "scaling", "d_model": 64, "n_layer": 2, "flops": 4.5e12, "lr": 1e-2, "seed": s} for s in range(5)
        ],
        "quick": [
            {"recipe": "scaling", "d_model": 64, "n_layer": 2, "flops": 1e11, "lr": 1e-2, "seed": s} for s in range(2)
        ],
    },
    # chapter 2: L(N) at fixed data (2,000 steps, 4.1M tokens, about 1.1 epochs) and L(D) at fixed N
    "ch02_sizes": {
        "full": [
            {"recipe": "scaling", "d_model": d, "n_layer": n, "tokens": 4_096_000, "lr": lr}
            for lr in LRS
            for d, n in SIZES
        ],
        "quick": [
            {"recipe": "scaling", "d_model": d, "n_layer": n, "tokens": 512_000, "lr": 1e-2} for d, n in SIZES[:5]
        ],
    },
    "ch02_data": {
        "full": [
            {"recipe": "scaling", "d_model": 128, "n_layer": 2, "tokens": t, "lr": lr}
            for lr in LRS
            for t in (256_000, 512_000, 1_024_000, 2_048_000, 4_096_000)
        ],
        "quick": [
            {"recipe": "scaling", "d_model": 64, "n_layer": 2, "tokens": t, "lr": 1e-2} for t in (128_000, 512_000)
        ],
    },
}
for _name, _profiles in GRIDS.items():
    sweep.register_grid(_name, **_profiles)


# ----------------------------------------------------------------------------- exercises


def compute_exercise(n_params: float, tokens: float) -> Exercise:
    """Exercise 2.1: the training compute C = 6 N D of a run of ``n_params`` and ``tokens``."""
    return Exercise(
        "2.1 compute of the predicted run",
        expected=6 * n_params * tokens,
        rtol=0.01,
        hints=(
            "count the FLOPs of one token through a forward and a backward pass, then multiply by the tokens",
            "C = 6 * N * D with N = N_pick (non-embedding) and D = D_target tokens",
        ),
    )


def n_opt_exercise(fit, flops: float = 1e14) -> Exercise:
    """Exercise 2.2: the compute-optimal N of the Chinchilla fit ``fit`` at ``flops``, from its constants."""
    return Exercise(
        f"2.2 N_opt at {flops:.0e} FLOPs",
        expected=float(fit.n_opt(flops)),
        rtol=0.01,
        hints=(
            "minimise L(N, D) along C = 6ND: substitute D = C/(6N) and set dL/dN = 0",
            "a = beta/(alpha+beta); G = (alpha*A/(beta*B))**(1/(alpha+beta)); N_opt = G * (C/6)**a",
        ),
    )


EARLY_BUDGET = 5e11  # Exercise 2.3 fits only the IsoFLOP runs at budgets up to this many FLOPs


def early_fit_exercise(iso_rows, n_params: float, tokens: float) -> Exercise:
    """Exercise 2.3 (a re-fit): the loss that approach 3, fitted only to the IsoFLOP rows ``iso_rows`` at
    budgets up to ``EARLY_BUDGET``, predicts for ``n_params`` and ``tokens``; within 0.002 nats."""
    early = [r for r in iso_rows if json.loads(r["params"])["flops"] <= EARLY_BUDGET]
    fit = laws.fit_chinchilla(*([r[k] for r in early] for k in ("non_embedding", "tokens", "final_val")))
    return Exercise(
        "2.3 prediction from the two smallest budgets",
        expected=float(fit.predict(n_params, tokens)),
        atol=0.002,
        hints=(
            "keep only the rows of `iso` whose budget is at most 5e11, fit approach 3 to them, predict",
            "scaling.fit_chinchilla(N, D, L) on those runs, then .predict(N_pick, D_target)",
        ),
    )
