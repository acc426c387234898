"""Chapter 7's cached results, gathered for its claims, and its tables (Markdown, ``helpers.book.report``).

- **Induction heads**: ``induction_runs`` (the 2- and 1-layer runs by seed), ``probe_twin`` (a live run
  against its cached twin), ``transition`` and ``probe_drop`` (the phase change), ``best_induction`` and
  ``top_induction_head``; tables ``transition_table`` and ``head_table``.
- **In-context regression**: ``regression_table``.
- **Few-shot prompting**: ``few_shot_accuracy`` (accuracy by model shape and seed), ``few_shot_gain``;
  table ``few_shot_table``.
- ``paper_table``: the chapter's results beside the papers'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from IPython.display import Markdown

from .book.report import md_table


def induction_runs(rows: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """The rows of sweep ``ch07_induction`` split into its 2-layer and its 1-layer runs, each sorted by seed."""
    by_seed = sorted(rows, key=lambda r: r["seed"])
    return [r for r in by_seed if r["point"]["n_layer"] == 2], [r for r in by_seed if r["point"]["n_layer"] == 1]


def probe_twin(live_metrics: Mapping, runs: Sequence[dict]) -> tuple[list, list, list]:
    """A live induction run's repeated-half probe loss beside its cached twin's (``runs[0]``) and every
    cached seed's (``runs``), at the evaluation steps the live run and the twin share: the arguments
    ``live, cached, seeds`` of ``helpers.claims.twin_check``."""
    twin = dict(zip(runs[0]["metrics"]["probe_step"], runs[0]["metrics"]["probe_second"]))
    steps = [s for s in live_metrics["probe_step"] if s in twin]
    live = dict(zip(live_metrics["probe_step"], live_metrics["probe_second"]))

    def at_steps(m):
        loss = dict(zip(m["probe_step"], m["probe_second"]))
        return [loss[s] for s in steps]

    return [live[s] for s in steps], at_steps(runs[0]["metrics"]), [at_steps(r["metrics"]) for r in runs]


def transition(metrics: Mapping) -> tuple[int, int]:
    """The (start, end) steps of the fall of a run's repeated-half probe loss, from 10% to 90% of the way
    between its mean over the first tenth of the evaluations and its mean over the last three."""
    steps, loss = np.array(metrics["probe_step"]), np.array(metrics["probe_second"])
    top, bottom = loss[: len(loss) // 10].mean(), loss[-3:].mean()
    frac = (top - loss) / (top - bottom)
    return int(steps[np.argmax(frac > 0.1)]), int(steps[np.argmax(frac > 0.9)])


def probe_drop(metrics: Mapping) -> float:
    """How far (nats) a run's repeated-half probe loss fell: its first value minus the mean of its last three."""
    loss = metrics["probe_second"]
    return float(loss[0] - np.mean(loss[-3:]))


def transition_table(runs: Sequence[dict]) -> Markdown:
    """One row per induction run: its repeated-half probe loss at the start and end, its ICL score and,
    for 2-layer runs, the steps of its transition (``transition``)."""
    rows = []
    for r in runs:
        m, layers = r["metrics"], r["point"]["n_layer"]
        start, end = transition(m)
        rows.append(
            [
                f"{layers} layer(s), seed {r['seed']}",
                f"{m['probe_second'][0]:.2f}",
                f"{np.mean(m['probe_second'][-3:]):.2f}",
                f"{m['icl_score']:+.2f}",
                f"{start:,}-{end:,}" if layers == 2 else "-",
            ]
        )
    return md_table(["model", "repeated-half loss, start", "end", "ICL score", "transition (steps)"], rows)


def head_table(runs: Sequence[dict]) -> Markdown:
    """One row per attention head of each run in ``runs``: its prefix-matching, previous-token, induction
    (with the distance it looks back, where it scores at least 0.05), copying and ablation scores."""
    rows = []
    for r in runs:
        m, layers = r["metrics"], r["point"]["n_layer"]
        for layer in range(layers):
            for h in range(len(m["induction"][layer])):
                score = m["induction"][layer][h]
                at = f" (at {m['induction_distance'][layer][h]})" if score >= 0.05 else ""
                rows.append(
                    [
                        f"{layers}L seed {r['seed']}",
                        f"layer {layer}, head {h}",
                        f"{m['prefix_matching'][layer][h]:.2f}",
                        f"{m['previous_token'][layer][h]:.2f}",
                        f"{score:.2f}{at}",
                        f"{m['copying'][layer][h]:+.2f}",
                        f"{m['ablation'][layer][h]:+.2f}",
                    ]
                )
    headers = ["model", "head", "prefix matching", "previous token", "induction (distance)", "copying"]
    return md_table([*headers, "ablation (nats)"], rows)


def best_induction(rows: Sequence[dict]) -> dict[str, float]:
    """Each induction run's best induction score over all its heads, keyed "2L seed 0" and so on."""
    return {f"{r['point']['n_layer']}L seed {r['seed']}": float(np.max(r["metrics"]["induction"])) for r in rows}


def top_induction_head(metrics: Mapping) -> tuple[int, int, float, float]:
    """The head with a run's highest induction score: (layer, head, its induction score, its copying score)."""
    score, copying = np.array(metrics["induction"]), np.array(metrics["copying"])
    layer, head = np.unravel_index(score.argmax(), score.shape)
    return int(layer), int(head), float(score[layer, head]), float(copying[layer, head])


def regression_table(base_err: Mapping, cached_err: np.ndarray, live_err, dim: int) -> Markdown:
    """In-context regression errors at a few numbers of examples k (0, 1, 2, d-1, d, d+2, 2d): the cached
    transformer's mean and seed std (``cached_err``, seeds x k), the baselines of ``base_err`` (name -> error
    by k) and the short live run's ``live_err``."""
    model = cached_err.mean(0)
    ks = (0, 1, 2, dim - 1, dim, dim + 2, 2 * dim)
    rows = [
        [k, f"{model[k]:.3f}", f"{cached_err[:, k].std():.3f}"]
        + [f"{base_err[name][k]:.3f}" for name in base_err]
        + [f"{live_err[k]:.3f}"]
        for k in ks
    ]
    short = {"ridge (λ=0.1)": "ridge", "3-nearest neighbours": "3-NN"}
    return md_table(["k", "transformer", "seed std", *[short.get(n, n) for n in base_err], "live (short)"], rows)


def few_shot_accuracy(rows: Sequence[dict], shapes: Sequence[tuple[int, int]]) -> tuple[dict, dict]:
    """From sweep ``ch07_few_shot``, the models trained on the bursty corpus: for each (width, layers) in
    ``shapes``, its accuracy by number of demonstrations (an array, seeds x k, by seed) and its
    non-embedding parameter count."""
    bursty = sorted((r for r in rows if r["point"]["data"] == "ch07_rules"), key=lambda r: r["seed"])

    def of(s):
        return [r for r in bursty if (r["point"]["d_model"], r["point"]["n_layer"]) == tuple(s)]

    missing = [s for s in shapes if not of(s)]
    if missing:
        raise ValueError(f"no cached few-shot runs of shape {missing}; rerun `python -m helpers.sweep ch07_few_shot`")
    acc = {s: np.array([r["metrics"]["accuracy"] for r in of(s)]) for s in shapes}
    return acc, {s: of(s)[0]["non_embedding"] for s in shapes}


def few_shot_gain(accuracy: np.ndarray) -> np.ndarray:
    """The k-shot gain of each seed (rows of ``accuracy``, seeds x k): mean accuracy over k = 3 and up minus
    the zero-shot accuracy."""
    accuracy = np.atleast_2d(accuracy)
    return accuracy[:, 3:].mean(1) - accuracy[:, 0]


def few_shot_table(acc: Mapping, params: Mapping, sizes: Sequence) -> Markdown:
    """One row per model shape in ``acc``: parameters, accuracy at 0, 1, 3 and 6 demonstrations (mean over
    seeds) and the k-shot gain; shapes not in ``sizes`` are marked as the control."""
    rows = [
        [
            f"{s[0]} wide, {s[1]}L" + (" (control)" if s not in sizes else ""),
            params[s],
            *[f"{a[:, k].mean():.2f}" for k in (0, 1, 3, 6)],
            f"{few_shot_gain(a).mean():+.2f}",
        ]
        for s, a in acc.items()
    ]
    return md_table(["model", "params", "0-shot", "1-shot", "3-shot", "6-shot", "k-shot gain (k>=3 vs 0)"], rows)


def paper_table(
    published: Mapping, two, one, excess, dim: int, acc: Mapping, params: Mapping, sizes: Sequence, nb_gain
) -> Markdown:
    """The chapter's results beside the papers' (``PUBLISHED``): induction heads in 2 vs 1 layers (our
    score and Olsson's prefix matching), the ICL score, regression's excess error over least squares
    (``excess`` by k), and the few-shot gain (``acc``, ``params``) from the smallest to the largest of
    ``sizes`` and on non-bursty data (``nb_gain`` by seed)."""
    P, G, OL = published, published["garg_regression"], published["olsson_induction"]
    best2, best1 = (np.mean([np.max(r["metrics"]["induction"]) for r in runs]) for runs in (two, one))
    # Olsson's prefix-matching score: the best layer-1 head of each 2-layer model, the best head of each 1-layer one
    pm2 = np.mean([np.max(r["metrics"]["prefix_matching"][1]) for r in two])
    pm1 = np.mean([np.max(r["metrics"]["prefix_matching"][0]) for r in one])
    icl2, icl1 = (np.mean([r["metrics"]["icl_score"] for r in runs]) for runs in (two, one))
    small, large = sizes[0], sizes[-1]
    gain = {s: few_shot_gain(acc[s]).mean() for s in (small, large)}
    rows = [
        [
            "Induction head forms with 2 attention-only layers, not with 1",
            f"{OL['name']}: yes, in a phase change",
            f"yes, by our distance-free induction score: {best2:.2f} (2L) vs {best1:.2f} (1L)",
        ],
        [
            "Olsson's prefix-matching score of the induction heads",
            "high: it is how they pick induction heads out",
            f"{pm2:.2f} (2L, layer 1) vs {pm1:.2f} (1L): it misses our heads, which look back by a fixed "
            "offset, not 11 (section 1)",
        ],
        [
            "ICL score (late minus early loss, nats)",
            f"negative after the phase change (token {OL['late_token']} vs {OL['early_token']}, text)",
            f"{icl2:+.1f} (2L), {icl1:+.1f} (1L), probe position 22 vs 1",
        ],
        [
            "In-context regression: transformer vs least squares",
            f"{G['name']}: matches least squares, d = {G['dim']}, {G['n_layer']} layers of width {G['d_model']}",
            f"d = {dim}: {excess[1]:.3f} and {excess[2]:.3f} above least squares at k = 1, 2; "
            f"{excess[2 * dim]:.2f} above it at k = 2d",
        ],
        [
            "Few-shot gain grows with model size",
            f"{P['brown_few_shot']['name']}: yes (GPT-3 family)",
            f"gain {gain[small]:+.2f} ({params[small]:,} params) to {gain[large]:+.2f} ({params[large]:,})",
        ],
        [
            "ICL needs bursty data",
            f"{P['chan_bursty']['name']}: yes",
            f"largest model's gain {gain[large]:+.2f} (bursty) vs {np.mean(nb_gain):+.2f} (non-bursty)",
        ],
    ]
    return md_table(["result", "paper", "ours"], rows)
