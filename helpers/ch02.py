"""Chapter 2, scaling laws: the model family, its recipe, the cached sweeps the chapter fits, and the
bookkeeping that turns sweep rows into the inputs of those fits.

- ``SIZES`` (widths and depths, 3.3k to 595k non-embedding parameters) and ``LRS`` (peak learning rates tried
  at every point, the best kept per point by ``helpers.sweep.best_of``);
- ``scaling``: a model of the family trained on a token budget or a compute budget (C = 6 N D);
  ``model_family``: its parameter counts, size by size;
- the grids ``ch02_isoflop`` (IsoFLOP profiles), ``ch02_seeds`` (the predicted run over five seeds),
  ``ch02_sizes`` (L(N) at fixed data) and ``ch02_data`` (L(D) at fixed N);
- reading sweep rows: ``lr_of``, ``budget_of``, ``compute_6nd``, ``columns``, ``untuned``, ``n_of``,
  ``curve_compute``, ``most_won_lr``, ``same_run``;
- the fits on them: ``envelope`` (approach 1 and L(C)), ``profile`` and ``frontier`` (approach 2),
  ``approach3_a``, ``warm_grid`` / ``bootstrap_chinchilla`` / ``prediction_interval`` (approach 3's
  intervals), ``alloc`` (published constants), ``allocation_rules`` and ``cached_allocation_rules`` (the
  rules the compute-budget explorer compares);
- the chapter's exercises (``compute_exercise``, ``n_opt_exercise``, ``early_fit_exercise``).

Its tables are in ``helpers.ch02_tables``, its figures in ``helpers.ch02_figures``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial

import numpy as np

from . import scaling as laws
from . import sweep
from .book.exercises import Exercise
from .book.widgets import AllocationRule
from .data import Corpus
from .model import GPT, GPTConfig, non_embedding_params
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


def model_family(corpus: Corpus) -> dict[int, dict]:
    """The chapter's model family on ``corpus``, keyed by non-embedding parameter count: for each of
    ``SIZES`` its ``d_model``, ``n_layer``, the counts of ``GPT.param_counts`` and its ``cfg``."""
    family = {}
    for d, n in SIZES:
        cfg, _ = scaling(corpus, d_model=d, n_layer=n, tokens=1e6)
        counts = GPT(cfg).param_counts()
        family[counts["non_embedding"]] = {"d_model": d, "n_layer": n, **counts, "cfg": cfg}
    return family


# ----------------------------------------------------------------------------- sweep rows


def lr_of(row: dict) -> float:
    """The peak learning rate a sweep row was trained at."""
    return json.loads(row["params"])["lr"]


def budget_of(row: dict) -> float:
    """The compute budget (FLOPs, C = 6 N D) of an IsoFLOP sweep row."""
    return json.loads(row["params"])["flops"]


def compute_6nd(row: dict) -> float:
    """The training compute 6 N D of a row (N non-embedding, D its tokens), in FLOPs."""
    return 6 * row["non_embedding"] * row["tokens"]


def columns(rows: Sequence[dict], *keys: str) -> tuple[np.ndarray, ...]:
    """One float array per key in ``keys``, its values read from every row in order."""
    return tuple(np.array([r[k] for r in rows], float) for k in keys)


def untuned(rows: Sequence[dict]) -> list[dict]:
    """The rows trained at chapter 1's peak learning rate, 3e-3: one rate for all sizes, untuned."""
    return [r for r in rows if lr_of(r) == 3e-3]


def n_of(row: dict, total: dict[int, int] | None = None) -> int:
    """A row's parameter count: non-embedding, or its total from ``total`` (non-embedding N -> total)."""
    return row["non_embedding"] if total is None else total[row["non_embedding"]]


def curve_compute(row: dict, total: dict[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A row's training curve against compute: (6 N x tokens so far, validation loss) at each evaluation,
    N as ``n_of`` counts it."""
    tokens = np.array(row["curve"]["step"]) * (row["tokens"] // row["steps"])
    return 6 * n_of(row, total) * tokens, np.array(row["curve"]["val"])


def envelope(runs: Sequence[dict], iso: Sequence[dict], total: dict[int, int] | None = None) -> laws.Envelope:
    """The lower envelope of the training curves of ``runs`` against compute (approach 1 and L(C)), on 25
    budgets from the first evaluation of any run up to the most compute any IsoFLOP run of ``iso`` spent:
    the range the IsoFLOP runs cover densely (above it, only the few long runs of other sweeps remain).
    Runs whose first evaluation is at step 0 are left out; N is counted as ``n_of`` counts it."""
    runs = [r for r in runs if r["curve"]["step"][0] > 0]
    curves = [curve_compute(r, total) for r in runs]
    top = max(curve_compute(r, total)[0][-1] for r in iso)
    c_range = (min(c[0] for c, _ in curves), top)
    return laws.loss_envelope(curves, [n_of(r, total) for r in runs], n_grid=25, c_range=c_range)


def profile(runs: Sequence[dict], c: float) -> tuple[np.ndarray, np.ndarray]:
    """One IsoFLOP profile: (non-embedding N, final validation loss) of the ``runs`` at budget ``c``."""
    return columns([r for r in runs if budget_of(r) == c], "non_embedding", "final_val")


def frontier(runs: Sequence[dict], budgets: Sequence[float]) -> laws.IsoflopFrontier:
    """Approach 2 on ``runs``: the minimum of a parabola through each budget's profile, then a power law
    through those minima."""
    n_opts = [laws.isoflop_minimum(*profile(runs, c)).n_opt for c in budgets]
    return laws.fit_isoflop_frontier(budgets, n_opts)


def approach3_a(runs: Sequence[dict], total: dict[int, int] | None = None) -> float:
    """The exponent a (N_opt ∝ C^a) of approach 3 fitted to ``runs``, N as ``n_of`` counts it."""
    N = [n_of(r, total) for r in runs]
    return laws.fit_chinchilla(N, [r["tokens"] for r in runs], [r["final_val"] for r in runs]).a


def warm_grid(fit: laws.ChinchillaFit) -> dict[str, tuple[float]]:
    """A one-start grid for ``fit_chinchilla`` at ``fit``'s solution, for bootstrap refits: each
    resample's optimum lies near the full fit's."""
    return {
        "a": (np.log(fit.A),),
        "b": (np.log(fit.B),),
        "e": (np.log(fit.E),),
        "alpha": (fit.alpha,),
        "beta": (fit.beta,),
    }


def bootstrap_chinchilla(
    fit: laws.ChinchillaFit, N, D, L, n: int = 200, params: Sequence[str] = ("E", "A", "B", "alpha", "beta")
) -> laws.BootstrapResult:
    """Bootstrap intervals of approach 3 on (N, D, L): ``n`` resamples of the runs, each refitted from
    ``fit``'s solution (``warm_grid``), collecting ``params``."""
    return laws.bootstrap(partial(laws.fit_chinchilla, grid=warm_grid(fit)), N, D, L, n=n, params=params)


def prediction_interval(boot: laws.BootstrapResult, N: float, D: float) -> tuple[float, float]:
    """The 95% interval of the loss L(N, D) = E + A/N^α + B/D^β over the refits of ``boot`` (which must
    hold the samples of E, A, B, alpha and beta)."""
    smp = boot.samples
    loss = smp["E"] + smp["A"] / N ** smp["alpha"] + smp["B"] / D ** smp["beta"]
    lo, hi = np.percentile(loss, [2.5, 97.5])
    return lo, hi


def alloc(p: dict, C: float) -> laws.Allocation:
    """The compute-optimal allocation at budget ``C`` of published constants ``p`` (a
    ``helpers.book.papers.PUBLISHED`` entry with E, A, B, alpha and beta)."""
    return laws.chinchilla_allocation(p["E"], p["A"], p["B"], p["alpha"], p["beta"], C)


def allocation_rules(
    fit3: laws.ChinchillaFit, approach2: laws.IsoflopFrontier, c0: float, n0: float, published: dict
) -> list[AllocationRule]:
    """The chapter's ways of allocating a compute budget: our approach 3 (``fit3``, with its predicted
    loss) and approach 2 (``approach2``), Hoffmann's and Epoch's constants, and Kaplan's exponent and 0.5
    each scaled from our optimum ``n0`` at budget ``c0`` (``published``: ``PUBLISHED``)."""
    hoff, epoch, a_kaplan = published["hoffmann"], published["epoch"], published["kaplan"]["a"]
    return [
        AllocationRule("ours, approach 3", fit3.n_opt, lambda C: fit3.allocation(C).loss),
        AllocationRule("ours, approach 2", approach2.n_opt),
        AllocationRule("Hoffmann et al. constants", lambda C: alloc(hoff, C).n_opt),
        AllocationRule("Epoch constants", lambda C: alloc(epoch, C).n_opt),
        AllocationRule(f"Kaplan's C^{a_kaplan} from our optimum at {c0:.2g}", lambda C: n0 * (C / c0) ** a_kaplan),
        AllocationRule(f"C^0.5 from our optimum at {c0:.2g}", lambda C: n0 * (C / c0) ** 0.5),
    ]


def cached_allocation_rules(published: dict) -> list[AllocationRule]:
    """``allocation_rules`` rebuilt from the cached sweeps alone (best learning rate per point), as the
    chapter fits them: a view of cached results needs none of the chapter's live runs."""
    iso, sizes_best, data_best = (
        sweep.best_of(sweep.load_sweep(n)) for n in ("ch02_isoflop", "ch02_sizes", "ch02_data")
    )
    all_best = list({r["params"]: r for r in iso + sizes_best + data_best}.values())
    budgets = sorted({budget_of(r) for r in iso})
    c0 = budgets[0]
    n0 = laws.isoflop_minimum(*profile(iso, c0)).n_opt
    fit3 = laws.fit_chinchilla(*columns(all_best, "non_embedding", "tokens", "final_val"))
    return allocation_rules(fit3, frontier(iso, budgets), c0, n0, published)


def most_won_lr(rows: Sequence[dict], n_params: int) -> float:
    """The peak learning rate of the most ``rows`` of size ``n_params`` (each row already the best of its
    point): the one most often best, the lower rate on a tie."""
    won = [lr_of(r) for r in rows if r["non_embedding"] == n_params]
    return max(sorted(set(won)), key=won.count)


def same_run(rows: Sequence[dict], size: dict, flops: float, lr: float) -> bool:
    """Whether every row was trained as the family member ``size`` (its ``d_model`` and ``n_layer``) on
    ``flops`` at peak learning rate ``lr``: the seeds of one run."""
    chosen = {"d_model": size["d_model"], "n_layer": size["n_layer"], "flops": flops, "lr": lr}
    return all({k: json.loads(r["params"])[k] for k in chosen} == chosen for r in rows)


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
    early = [r for r in iso_rows if budget_of(r) <= EARLY_BUDGET]
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
