"""Chapter 5's tables (Markdown, ``helpers.book.report.md_table``).

- ``suite_table``: the four suites at a glance, with one item of each and its choices;
- ``checkpoint_table``: a run's scored checkpoints (the live run of section 1);
- ``forecast_table``: forecasts for the targets beside the measurements, with the seed spread;
- ``chain_table``: the mean per-item correlation with compute of each metric of the chain, per suite;
- ``decay_table``: the decay runs, seed by seed;
- ``paper_table``: the published results the chapter echoes beside ours.
"""

from __future__ import annotations

import numpy as np

from .abilities import SUITES
from .book.report import md_table
from .ch05_forecast import CHAIN

ABOUT = {
    "facts": ("arith", "recall: every one-digit sum occurs in the stream"),
    "sums": ("arith", "the algorithm: two-digit sums the stream never shows"),
    "verse": ("kjv", "the last word of a verse from the validation split"),
    "code": ("code", "the last word of a line of Python from the validation split"),
}


def _show(text: str) -> str:
    return "`" + text.replace("\n", "⏎").replace("`", "'").replace("|", "\\|") + "`"


def suite_table(suites: dict) -> object:
    """One row per suite: its domain, what it tests, how many items, and its first item's prompt (its last 24
    bytes), right answer and wrong choices (⏎ marks a newline)."""
    rows = []
    for name in SUITES:
        items = suites[name]
        it = items[len(items) // 2]
        domain, what = ABOUT[name]
        rows.append([name, domain, what, len(items), _show(it.prompt[-24:]), _show(it.answer),
                     ", ".join(_show(c) for c in it.choices[1:])])  # fmt: skip
    return md_table(["suite", "domain", "tests", "items", "prompt (end)", "answer", "wrong choices"], rows)


def checkpoint_table(records: list[dict], suites=("facts", "sums", "verse", "code")) -> object:
    """A run's scored checkpoints (``history.records["abilities"]``): per step, the loss on each domain and each
    suite's multiple-choice accuracy (and exact match for the arithmetic suites)."""
    rows = []
    for rec in records:
        d, s = rec["domains"], rec["suites"]
        cells = [f"{s[n]['mc_accuracy']:.2f}" + (f" / {s[n]['exact_match']:.2f}" if n in ("facts", "sums") else "")
                 for n in suites]  # fmt: skip
        rows.append([rec["step"], *(f"{d[k]:.2f}" for k in ("kjv", "code", "arith")), *cells])
    heads = [f"{n}: choice{' / exact' if n in ('facts', 'sums') else ''}" for n in suites]
    return md_table(["step", "kjv loss", "code loss", "arith loss", *heads], rows)


def forecast_table(forecasts: list, digits: int = 2) -> object:
    """One row per forecast and target width: the method, what it forecast, predicted, measured (mean ± seed
    standard deviation) and the error in units of that standard deviation."""
    rows = []
    for f in forecasts:
        for w, p, m, sd in zip(f.widths, f.predicted, f.measured, f.sd):
            measured = f"{m:.{digits}f} ± {sd:.{digits}f}"
            rows.append([f.suite, f.metric.replace("_", " "), f.method, w, f"{p:.{digits}f}", measured,
                         f"{p - m:+.{digits}f}", f"{(p - m) / sd:+.1f}"])  # fmt: skip
    heads = ["suite", "metric", "method", "width", "forecast", "measured", "error", "error / seed sd"]
    return md_table(heads, rows)


def chain_table(correlations: dict) -> object:
    """Per suite, the mean over items of each metric's correlation with log compute (items where a metric never
    varies across models are left out of its mean; their number is given)."""
    rows = []
    for suite, corr in correlations.items():
        rows.append([suite, *(f"{corr[m]['mean']:.2f} ({corr[m]['n']})" for m in CHAIN)])
    return md_table(["suite", *(f"{m} (items)" for m in CHAIN)], rows)


def decay_table(report: list[dict], steps: np.ndarray) -> object:
    """The decay runs seed by seed: the facts ability's peak and end, where the early stop fires and what it keeps,
    and what keeping that checkpoint costs on the run's final mixture."""
    rows = []
    for r in report:
        stop = r["stop"]
        rows.append([r["seed"], f"{r['peak']:.2f} at {r['peak_step']}", f"{r['end']:.2f}",
                     f"{stop.step}" if stop else "never", f"{stop.best_step}" if stop else f"{steps[-1]}",
                     f"{r['kept']:.2f}", f"{r['cost']:+.3f}"])  # fmt: skip
    heads = ["seed", "facts peak (step)", "facts at the end", "stop fires at", "checkpoint kept", "facts kept",
             "cost on the new mixture (nats/byte)"]  # fmt: skip
    return md_table(heads, rows)


def paper_table(published: dict, rows: dict) -> object:
    """The published results the chapter echoes beside ours: ``rows`` maps each key of ``published`` used here
    (``olmo_ladder``, ``gpt4_capability``, ``du_loss``, ``schaeffer_chain``) to our result, as text."""
    paper = {
        "olmo_ladder": f"ladder at {published['olmo_ladder']['compute_share']:.0%} of the targets' compute; four "
        f"multiple-choice tasks within {published['olmo_ladder']['error_points_good']:g} points, four others "
        f"{published['olmo_ladder']['error_points_noisy']:g} points on average",
        "gpt4_capability": f"{published['gpt4_capability']['form']} fitted on models with up to "
        f"{published['gpt4_capability']['compute_ratio']:,}× less compute predicted HumanEval's pass rate",
        "du_loss": "equal pretraining loss, equal downstream score across sizes; at chance above a loss threshold",
        "schaeffer_chain": "the correlation with compute degrades from log p to p, to p over the choices, to accuracy",
    }
    what = {
        "olmo_ladder": "two-step forecast of accuracy",
        "gpt4_capability": "capability forecast",
        "du_loss": "loss, not size",
        "schaeffer_chain": "which metrics track compute",
    }
    body = [[what[k], f"{published[k]['name']}: {paper[k]}", ours] for k, ours in rows.items()]
    return md_table(["", "paper", "ours"], body)


def our_results(runs, forecasts: list, gpt4: dict, collapsed: dict, chains: dict, threshold: float) -> dict:
    """Our side of ``paper_table``, as text from the chapter's results: the forecasts' errors (points of accuracy),
    the GPT-4 law's relative errors on the cloze suites, the scatter about one link in loss and in compute, the
    facts suite's chance threshold, and the verse suite's correlations along the chain."""
    from .ch05_forecast import ladder, targets

    lad = [r for r in ladder(runs) if r.seed == 0]
    share = sum(r.compute[-1] for r in lad) / max(r.compute[-1] for r in targets(runs))

    def points(method):
        errs = np.concatenate([100 * f.error for f in forecasts if f.method == method and f.suite in ("verse", "code")])
        return f"{errs.min():+.0f} to {errs.max():+.0f}"

    rel = np.concatenate([100 * gpt4[s].error / gpt4[s].measured for s in ("verse", "code")])
    ratio = max(r.compute[-1] for r in targets(runs)) / max(r.compute[-1] for r in ladder(runs))
    v = collapsed["verse"]
    chain = " → ".join(f"{chains['verse'][m]['mean']:.2f}" for m in CHAIN)
    return {
        "olmo_ladder": f"one seed's ladder costs {share:.0%} of a 256-wide target; on the cloze suites two steps err "
        f"by {points('two steps')} points, the direct fit by {points('direct')}",
        "gpt4_capability": f"fitted on models with {ratio:.1f}× less compute than the largest target: "
        f"{rel.min():+.0f}% to {rel.max():+.0f}% on the cloze suites (the targets ran short of data)",
        "du_loss": f"one link in loss fits every checkpoint of every size with {v['resid_std']:.3f} scatter on verse, "
        f"one in compute {v['compute_resid_std']:.3f}; facts at chance above a loss of {threshold:.2f}",
        "schaeffer_chain": f"verse: {chain}; accuracy tracks compute least in all four suites",
    }
