"""Chapter 2's tables, as Markdown (``helpers.book.report.md_table``), from what the chapter fitted.

- ``family_table``: the model family, size by size, with the embedding's share and attention's FLOPs;
- ``kaplan_table``: our L(N), L(D) and L(C) exponents, with intervals, beside Kaplan's;
- ``minima_table``: approach 2's IsoFLOP minima, budget by budget;
- ``constants_table``: our approach-3 constants beside Hoffmann's and Epoch's, with their allocations;
- ``moves_table``: the exponent a by approach, under each way of training and counting N.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from IPython.display import Markdown

from . import scaling
from .book.report import md_table
from .ch02 import alloc
from .model import flops_per_token


def family_table(family: Mapping[int, dict]) -> Markdown:
    """One row per member of ``family`` (``helpers.ch02.model_family``): width, layers, non-embedding,
    embedding and total parameters, the embedding's share of the total and the attention FLOPs per token
    on top of 6 N."""
    return md_table(
        [
            "width",
            "layers",
            "N (non-embedding)",
            "embedding",
            "total",
            "embedding share",
            "attention FLOPs / 6N",
        ],
        [
            [
                f["d_model"],
                f["n_layer"],
                N,
                f["embedding"],
                f["total"],
                f"{f['embedding'] / f['total']:.0%}",
                f"{flops_per_token(f['cfg']) / (6 * N) - 1:.0%}",
            ]
            for N, f in family.items()
        ],
    )


def kaplan_table(laws: Mapping[str, dict], kaplan: Mapping) -> Markdown:
    """One row per law in ``laws`` (name -> its ``power`` and ``sat`` fits and their intervals ``ci`` and
    ``sat_ci``): the pure power law's α with its 95% interval and R², the saturating form's α and E with
    theirs, and Kaplan's α from ``kaplan`` (``PUBLISHED["kaplan"]``)."""
    return md_table(
        ["law", "ours: α (95% CI)", "R² (log)", "ours with E: α (95% CI)", "E (95% CI)", "Kaplan α"],
        [
            [
                f"L({name})",
                f"{law['power'].alpha:.3f} ({law['ci'][0]:.3f}–{law['ci'][1]:.3f})",
                f"{law['power'].r2:.3f}",
                "{:.2f} ({:.2f}–{:.2f})".format(law["sat"].alpha, *law["sat_ci"].intervals["alpha"]),
                "{:.2f} ({:.2f}–{:.2f})".format(law["sat"].E, *law["sat_ci"].intervals["E"]),
                kaplan[f"alpha_{name}"],
            ]
            for name, law in laws.items()
        ],
    )


def minima_table(minima: Mapping[float, scaling.IsoflopMinimum]) -> Markdown:
    """One row per budget C of ``minima`` (C -> its IsoFLOP minimum): N_opt, D_opt = C / (6 N_opt), the
    tokens per parameter there and the loss at the minimum."""
    return md_table(
        ["budget C", "N_opt", "D_opt", "tokens per parameter", "loss at the minimum"],
        [[f"{c:.2g}", m.n_opt, c / (6 * m.n_opt), c / (6 * m.n_opt**2), m.loss_min] for c, m in minima.items()],
    )


def constants_table(
    fit: scaling.ChinchillaFit,
    boot: scaling.BootstrapResult,
    published: Sequence[dict],
    c_toy: float,
    c_big: float,
) -> Markdown:
    """Our approach-3 ``fit`` (with the 95% intervals of ``boot``, which must hold a, b, E, alpha and beta)
    beside each set of ``published`` constants: a, b, E, A, B, α, β and the tokens per parameter at the
    optimum at ``c_toy`` FLOPs and (published constants only) at ``c_big``."""

    def ci(name: str, digits: int = 2) -> str:
        lo, hi = boot.intervals[name]
        return f"{getattr(fit, name):.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"

    ours = [
        "ours, approach 3 (95% CI)",
        ci("a", 3),
        ci("b", 3),
        ci("E"),
        f"{fit.A:.3g}",
        f"{fit.B:.3g}",
        ci("alpha", 3),
        ci("beta", 3),
        f"{fit.tokens_per_param(c_toy):.3g}",
        "—",
    ]
    rows = [ours]
    for p in published:
        toy, big = alloc(p, c_toy), alloc(p, c_big)
        constants = [p[k] for k in ("E", "A", "B", "alpha", "beta")]
        rows.append(
            [p["name"], f"{toy.a:.3f}", f"{toy.b:.3f}", *constants]
            + [f"{toy.tokens_per_param:.3g}", f"{big.tokens_per_param:.3g}"]
        )
    headers = ["", "a", "b", "E", "A", "B", "α", "β"]
    return md_table(headers + [f"D/N at {c_toy:.0e} FLOPs", f"D/N at {c_big:.3g} FLOPs"], rows)


def moves_table(moves: Sequence[Sequence]) -> Markdown:
    """The rows of ``moves`` ([training, N counts, a by approach 2, 1 and 3]) as a table, each exponent to
    two decimals ("—" where an approach does not apply)."""
    return md_table(
        ["training", "N counts", "a, approach 2", "a, approach 1", "a, approach 3"],
        [[m[0], m[1], *[v if isinstance(v, str) else f"{v:.2f}" for v in m[2:]]] for m in moves],
    )
