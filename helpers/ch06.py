"""Chapter 6, emergent abilities: the arithmetic recipe, the addition corpora and the cached model family.

- ``arithmetic``: a GPT trained on a task corpus from ``helpers.tasks`` (chapter 9 trains with it too);
- datasets ``addition{d}-{fmt}`` (d-digit addition, 20,000 training and 1,000 test problems) and the
  experiment ``arithmetic`` (train with the recipe, then score the test problems with ``tasks.sweep_scores``);
- ``CH06_SIZES`` and the grid ``ch06_family``: 9 sizes x 5 seeds on 4-digit reversed addition;
- the chapter's tables and figures of the family (``live_table`` ... ``paper_table``, ``plot_rulers``), and
  the statistics behind them (``by_size``, ``bootstrap_jump_ratios``);
- the chapter's exercises (``schaeffer_exercise`` ... ``product_rule_exercise``), answers computed here.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from IPython.display import Markdown

from . import sweep
from .book.exercises import Exercise, Experiment
from .book.papers import PUBLISHED
from .book.report import md_table
from .book.widgets import metric_values, plot_metric
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


# ----------------------------------------------------------------------------- the family's tables and figures

# the four rulers of the chapter, as ``helpers.book.widgets.METRICS`` names them, and as the tables head them
RULERS = ["exact match", "digit accuracy", "token edit distance", "log p(correct answer) (nats)"]
SCORE_HEADERS = ["exact match", "digit accuracy", "edit distance", "log p(answer)"]


def live_table(live: dict) -> Markdown:
    """The live models scored four ways: ``live`` maps a width to ``(model, scores)``, ``scores`` being
    ``helpers.tasks.evaluate``'s output; one row per width with the model's non-embedding parameters N."""
    rows = [
        [
            w,
            m.param_counts()["non_embedding"],
            f"{s['exact_match']:.3f}",
            f"{s['digit_accuracy']:.3f}",
            f"{s['edit_distance']:.2f}",
            f"{s['logprob']:.2f}",
        ]
        for w, (m, s) in live.items()
    ]
    return md_table(["width", "N", *SCORE_HEADERS], rows)


def cached_twin(rows: list[dict], n_params: int, seed: int = 0) -> tuple[dict, list[dict]]:
    """The cached runs of the family (``load_sweep`` rows) whose non-embedding count is ``n_params``, and
    among them the one of ``seed``: returns ``(twin, runs of that size)``. Raises unless exactly one matches."""
    same = [r for r in rows if r["non_embedding"] == n_params]
    twins = [r for r in same if r["seed"] == seed]
    if len(twins) != 1:
        raise ValueError(f"{len(twins)} cached runs with N = {n_params} and seed {seed}; expected one")
    return twins[0], same


def plot_rulers(params, scores: list[dict]):
    """The family scored by each of the four ``RULERS`` against size, one panel each (``plot_metric``: every
    run a dot, the mean of each size a line); ``params`` holds each run's N. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9, 6.4))
    for ax, metric in zip(axes.flat, RULERS):
        plot_metric(params, scores, metric, ax=ax)
        ax.set_title(metric.split(" (")[0])
    fig.tight_layout()
    return fig


def by_size(params, scores: list[dict], metric: str, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the seed-to-seed standard deviation (ddof 1) of ``metric`` (a ``METRICS`` name; ``k``
    for "at least k digits right") at each distinct size in ``params``, smallest first."""
    x, v = np.asarray(params, dtype=float), metric_values(scores, metric, k)
    sizes = np.unique(x)
    return np.array([v[x == n].mean() for n in sizes]), np.array([v[x == n].std(ddof=1) for n in sizes])


def family_table(sizes, em, em_sd, acc, acc_sd, dist, logp) -> Markdown:
    """The family's mean scores per size (``by_size``): exact match and digit accuracy with their seed
    standard deviations, edit distance and log-probability of the answer."""
    rows = [
        [int(n), f"{e:.3f} ± {es:.3f}", f"{a:.3f} ± {s_:.3f}", f"{d:.2f}", f"{lp:.2f}"]
        for n, e, es, a, s_, d, lp in zip(sizes, em, em_sd, acc, acc_sd, dist, logp)
    ]
    return md_table(["N", *SCORE_HEADERS], rows)


def jump_line(label: str, jumps, sizes) -> str:
    """A line on the largest step of a score between neighbouring sizes: its height and the two sizes
    (``jumps = np.diff(score per size)``)."""
    i = int(np.argmax(jumps))
    return f"largest jump in {label + ':':<15} {np.max(jumps):.3f} (N {sizes[i]:,.0f} -> {sizes[i + 1]:,.0f})"


def bootstrap_jump_ratios(params, em_all, acc_all, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """The ratio of the largest jump in mean exact match to the largest jump in mean digit accuracy between
    neighbouring sizes, for ``n_boot`` resamplings of the runs of every size (with replacement); ``em_all``
    and ``acc_all`` hold each run's score, ``params`` its N."""
    x = np.asarray(params, dtype=float)
    groups = [np.flatnonzero(x == n) for n in np.unique(x)]
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(n_boot):
        picks = [rng.choice(g, size=len(g)) for g in groups]
        e = np.array([em_all[i].mean() for i in picks])
        a = np.array([acc_all[i].mean() for i in picks])
        ratios.append(np.diff(e).max() / np.diff(a).max())
    return np.array(ratios)


def false_zeros_table(sizes, em, p_prod, logp) -> Markdown:
    """Measured exact match per size beside what the model's probabilities say: the product of per-position
    accuracies ``p_prod``, exp of the mean log-probability of the answer, and the problems one hit needs."""
    rows = [
        [int(n), f"{e:.4f}", f"{pp:.2e}", f"{math.exp(lp):.2e}", f"{1 / pp:,.0f}"]
        for n, e, pp, lp in zip(sizes, em, p_prod, logp)
    ]
    headers = ["N", "measured exact match", "prod p_i", "exp(mean log p(answer))", "problems for 1 hit"]
    return md_table(headers, rows)


def threshold_table(params, scores: list[dict], answer_len: int) -> Markdown:
    """The mean share of problems with at least k of ``answer_len`` digits right, per size (rows) and k
    (columns, 1 to ``answer_len``): the static twin of ``metric_explorer``."""
    ks = range(1, answer_len + 1)
    means = [by_size(params, scores, "at least k digits right", k)[0] for k in ks]
    rows = [[int(n), *[f"{m[i]:.3f}" for m in means]] for i, n in enumerate(np.unique(params))]
    return md_table(["N", *[f"≥ {k} of {answer_len} right" for k in ks]], rows)


def paper_table(
    *, digits: int, half: float, jump_em: float, jump_acc: float, factor: float, err_prod: float, err_bar: float
) -> Markdown:
    """Wei et al.'s GPT-3 arithmetic beside our family: the task, where exact match takes off (``half``: the
    first size whose mean exact match reaches 0.5), the largest jumps and their ratio ``factor``, and the mean
    errors of the two predictions of exact match (``err_prod``: the product rule, ``err_bar``: p_bar^L)."""
    wei = PUBLISHED["wei_arithmetic"]
    rows = [
        [
            "task",
            "3-digit addition, few-shot prompt (GPT-3)",
            f"{digits}-digit addition, reversed answer, trained on the task",
        ],
        [
            "where exact match takes off",
            f"about {wei['params'] / 1e9:.0f}B parameters, {wei['flops']:.1e} FLOPs",
            f"mean exact match first ≥ 0.5 at N = {half:,.0f}",
        ],
        [
            "largest jump between neighbouring sizes",
            "—",
            f"exact match {jump_em:.2f}, digit accuracy {jump_acc:.2f} (ratio {factor:.1f})",
        ],
        [
            "exact match vs per-token accuracy",
            "≈ p^L (Schaeffer et al.)",
            f"mean error: ∏ p_i {err_prod:.3f}, p̄^L {err_bar:.3f}",
        ],
    ]
    return md_table(["", "paper", "ours"], rows)


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
