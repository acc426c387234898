"""Chapter 9's cached results, gathered for its claims, and its tables (Markdown, ``helpers.book.report``).

- **Formats**: ``runs_of`` (a data set's runs by seed), ``grid`` (a metric by training-set size and
  seed, per format); table ``formats_table``.
- **Length generalisation**: ``LENGTHS``, ``length_runs``, ``column_accuracy``; table ``length_table``.
- **Scale**: ``scale_grid``; table ``scale_table``.
- **Code data**: ``code_arrays`` (each metric by pretraining mix and seed), ``welch_gap``; table
  ``code_table``.
- ``paper_table``: the chapter's results beside the papers'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from IPython.display import Markdown
from scipy import stats

from .book.report import md_table
from .tasks import FORMATS

LENGTHS = {"k": "3 digits (trained)", "k+1": "4 digits", "k+2": "5 digits"}  # test lengths of ch09_length


def runs_of(rows: Sequence[dict], data: str) -> list[dict]:
    """The rows trained on data set ``data`` (e.g. "addition3-plain-n1000"), sorted by seed."""
    return sorted((r for r in rows if r["point"]["data"] == data), key=lambda r: r["seed"])


def grid(rows: Sequence[dict], prefix: str, sizes: Sequence[int], metric: str = "exact_match") -> dict:
    """For each answer format, ``metric`` as an array (training-set sizes x seeds) from the rows whose
    data set is ``f"{prefix}-{format}-n{size}"``. Raises ``ValueError`` if a size has no runs."""
    out = {}
    for fmt in FORMATS:
        cells = [[r["metrics"][metric] for r in runs_of(rows, f"{prefix}-{fmt}-n{n}")] for n in sizes]
        if not all(cells):
            raise ValueError(f"no cached runs of {prefix}-{fmt} at some of the sizes {sizes}; rerun its sweep")
        out[fmt] = np.array(cells)
    return out


def formats_table(add_em: Mapping, add_sizes: Sequence[int], mul_em: Mapping, mul_sizes: Sequence[int]) -> Markdown:
    """Exact match of every seed, per format, for each training-set size of addition and of multiplication."""
    rows = [
        [task, f"{n:,}", *[" / ".join(f"{v:.3f}" for v in em[fmt][i]) for fmt in FORMATS]]
        for task, em, sizes in (("addition", add_em, add_sizes), ("multiplication", mul_em, mul_sizes))
        for i, n in enumerate(sizes)
    ]
    return md_table(["task", "training problems", *FORMATS], rows)


def column_accuracy(fmt: str, per_position) -> np.ndarray:
    """Digit accuracy per answer position, in the order written, turned into each column's, units first."""
    acc = np.array(per_position)
    return acc if fmt == "reversed" else acc[::-1]


def length_runs(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """The metrics of sweep ``ch09_length``'s runs, by format (read from the data set's name), in seed order."""
    runs: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        runs.setdefault(r["point"]["data"].split("-")[1], []).append(r["metrics"])
    return runs


def length_table(runs: Mapping[str, list]) -> Markdown:
    """One row per format and seed: exact match at each test length, and on 4-digit problems the mean
    accuracy of the three trained columns beside the new fourth column's."""
    rows = []
    for fmt in FORMATS:
        for seed, m in enumerate(runs[fmt]):
            cols = column_accuracy(fmt, m["k+1"]["per_position"])
            rows.append(
                [
                    fmt,
                    seed,
                    *[f"{m[key]['exact_match']:.3f}" for key in LENGTHS],
                    f"{cols[:3].mean():.2f} / {cols[3]:.2f}",
                ]
            )
    headers = ["format", "seed", *[f"exact match, {v}" for v in LENGTHS.values()]]
    return md_table([*headers, "4 digits: accuracy of columns 1-3 / column 4"], rows)


def scale_grid(rows: Sequence[dict]) -> tuple[list[int], dict]:
    """The model sizes (non-embedding parameters, ascending) of 1,000-problem addition runs, and for each
    format the exact match as an array (sizes x seeds)."""
    sizes = sorted({r["non_embedding"] for r in rows})
    em = {
        fmt: np.array(
            [
                [
                    r["metrics"]["exact_match"]
                    for r in runs_of(rows, f"addition3-{fmt}-n1000")
                    if r["non_embedding"] == n
                ]
                for n in sizes
            ]
        )
        for fmt in FORMATS
    }
    return sizes, em


def scale_table(sizes: Sequence[int], scale_em: Mapping) -> Markdown:
    """Exact match of every seed, per format, at each model size."""
    rows = [
        [f"{n:,}", *[" / ".join(f"{v:.3f}" for v in scale_em[fmt][i]) for fmt in FORMATS]] for i, n in enumerate(sizes)
    ]
    return md_table(["N", *FORMATS], rows)


CODE_METRICS = ("exact_match", "digit_accuracy", "pretrain_val")


def code_arrays(rows: Sequence[dict], mixes: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """From sweep ``ch09_code``: for each metric (``exact_match``, ``digit_accuracy``, ``pretrain_val``
    and the fine-tuned ``final_val``), its values by pretraining mix as arrays in seed order."""
    by_mix = {m: sorted((r for r in rows if r["point"]["mix"] == m), key=lambda r: r["seed"]) for m in mixes}
    out = {k: {m: np.array([r["metrics"].get(k, np.nan) for r in v]) for m, v in by_mix.items()} for k in CODE_METRICS}
    out["final_val"] = {m: np.array([r["final_val"] for r in v]) for m, v in by_mix.items()}
    return out


def _mean_std(v: np.ndarray) -> str:
    return f"{v.mean():.3f} ± {v.std():.3f} ({', '.join(f'{x:.3f}' for x in v)})"


def code_table(code: Mapping, mixes: Mapping[str, str]) -> Markdown:
    """One row per pretraining mix (``mixes``: name -> label): its pretraining validation loss on its own
    mix (none for no pretraining), and exact match and digit accuracy after fine-tuning, mean ± std and
    each seed."""
    rows = [
        [
            label,
            "—" if mix == "none" else f"{np.mean(code['pretrain_val'][mix]):.2f}",
            _mean_std(code["exact_match"][mix]),
            _mean_std(code["digit_accuracy"][mix]),
        ]
        for mix, label in mixes.items()
    ]
    headers = ["pretraining", "pretraining val loss, own mix (nats/char)"]
    return md_table([*headers, "exact match, mean ± std (seeds)", "digit accuracy, mean ± std (seeds)"], rows)


def welch_gap(a, b) -> float:
    """The difference of the means of two sets of seeds in standard errors of that difference (Welch's t)."""
    return float(stats.ttest_ind(a, b, equal_var=False).statistic)


def paper_table(published: Mapping, formats: Mapping, scale: Mapping, code_acc: Mapping, em_len: Mapping) -> Markdown:
    """The chapter's results beside the papers' (``PUBLISHED``). ``formats`` holds ``add_em``, ``mul_em``,
    ``i250``, ``i1000`` (indices of those addition sizes) and ``margin250``; ``scale`` holds ``sizes``,
    ``gain_plain`` (the scratchpad's mean benefit over plain by size) and ``peak`` (its index);
    ``code_acc`` is digit accuracy by mix, ``em_len`` exact match by format (seeds x test length)."""
    lee, wei = published["lee_formats"], published["wei_cot"]
    add, mul, i250, i1000 = (formats[k] for k in ("add_em", "mul_em", "i250", "i1000"))
    sizes, gain, peak = scale["sizes"], scale["gain_plain"], scale["peak"]
    rows = [
        [
            "plain answers need far more data and never reach 100%",
            f"{lee['model']} ({lee['name']})",
            f"addition: plain ≤ {add['plain'].max():.2f} at every training-set size; "
            f"multiplication: plain ≤ {mul['plain'].max():.2f}",
        ],
        [
            "reversed answers and scratchpads need far fewer examples",
            lee["name"],
            f"addition: reversed ≥ {add['reversed'][i1000:].min():.2f} from 1,000 problems, scratchpad ≥ "
            f"{add['scratchpad'][i250].min():.2f} from 250; multiplication: scratchpad ≥ "
            f"{mul['scratchpad'].min():.2f}, reversed {mul['reversed'].min():.2f}–{mul['reversed'].max():.2f}",
        ],
        [
            "writing intermediate steps helps",
            f"{wei['name']}: {wei['standard']:.1%} → {wei['cot']:.1%}",
            f"scratchpad over the best other (250 problems): +{formats['margin250']:.2f}",
        ],
        [
            "the benefit of chain-of-thought grows with scale",
            "only at about 100B parameters and above (prompted)",
            f"trained scratchpad over plain: {gain[0]:+.2f} at N = {sizes[0]:,}, {gain[peak]:+.2f} at "
            f"{sizes[peak]:,}, {gain[-1]:+.2f} at {sizes[-1]:,}",
        ],
        [
            "code in the pretraining data helps reasoning",
            "Codex: programs and maths (Chen et al. 2021; Drori et al. 2022)",
            f"digit accuracy after fine-tuning: prose {code_acc['prose'].mean():.2f}, + addition traces "
            f"{code_acc['prose+add'].mean():.2f}, + running-max traces {code_acc['prose+max'].mean():.2f}",
        ],
        [
            "length generalisation fails",
            "Anil et al. 2022; Lee et al. 2023",
            f"exact match ≤ {max(em_len[f][:, 1:].max() for f in FORMATS):.3f} on 4 and 5 digits, every format",
        ],
    ]
    return md_table(["claim", "paper", "ours"], rows)
