"""Chapter 4, section 3: a data mixing law fitted on proxies, tested on held-out mixtures, and used.

- ``law_evidence``: the cached ``ch04_law`` grid split into the fitted proxies, the held-out mixtures and the
  uniform and natural mixtures' seeds; ``fit_laws``: Ye et al.'s law per domain on the fitted proxies;
- ``held_out``: each held-out mixture's predicted and measured loss per domain, and ``noise``: the seed
  standard deviation per domain on the uniform mixture, which sizes the tolerance ``K_SEEDS`` x noise;
- ``pick``: the mixture the laws say minimises the mean loss over the four domains, searched within the
  proportions the proxies covered (every share between ``FLOOR`` and 1 − 3 ``FLOOR``);
- the grid ``ch04_pick``: that mixture over ``SEEDS``, computed from the cached ``ch04_law`` rows (empty until
  they exist), so that the comparison with uniform and natural rests on cached seeds;
- ``held_out_table``, ``pick_table`` and ``paper_table``: the section's tables.
"""

from __future__ import annotations

import numpy as np

from . import sweep
from .book.report import md_table
from .ch04 import FIT_MIXTURES, FLOOR, HELD_OUT, SEEDS, natural_mixture, per_domain
from .mixture import DOMAINS, Mixture
from .scaling import MixingLawFit, best_mixture, fit_mixing_law

K_SEEDS = 3  # the law's held-out predictions must lie within this many seed standard deviations


def law_evidence(rows: list[dict]) -> dict:
    """The ``ch04_law`` rows as arrays: ``fit``, ``held`` (proportions, losses) and ``uniform``, ``natural``
    (losses of each seed), each loss row over ``DOMAINS``."""
    mixes, props, losses = per_domain(rows)
    mixes = np.array(mixes)

    def select(names):
        keep = np.isin(mixes, list(names))
        return props[keep], losses[keep]

    return {
        "fit": select(FIT_MIXTURES),
        "held": select(HELD_OUT),
        "uniform": select([str(Mixture.uniform())])[1],
        "natural": select([str(natural_mixture())])[1],
    }


def fit_laws(props: np.ndarray, losses: np.ndarray) -> list[MixingLawFit]:
    """One mixing law per domain, fitted on the proxies' proportions and that domain's losses."""
    return [fit_mixing_law(props, losses[:, j]) for j in range(len(DOMAINS))]


def noise(evidence: dict) -> np.ndarray:
    """The seed standard deviation of each domain's loss on the uniform mixture."""
    return evidence["uniform"].std(axis=0, ddof=1)


def held_out(laws: list[MixingLawFit], evidence: dict) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and measured losses ``(held-out mixtures, domains)``."""
    props, measured = evidence["held"]
    return np.stack([law.predict(props) for law in laws], axis=1), measured


def pick(laws: list[MixingLawFit]) -> Mixture:
    """The mixture that minimises the laws' mean loss over the domains, within the proxies' range, to 3 decimals."""
    r = best_mixture(laws, low=FLOOR, high=1 - (len(DOMAINS) - 1) * FLOOR)
    shares = np.round(r, 3)
    shares[-1] = round(1 - shares[:-1].sum(), 3)
    return Mixture(DOMAINS, tuple(float(s) for s in shares))


def _pick_points() -> list[dict]:
    """The grid of the law's pick over ``SEEDS``, from the cached ``ch04_law`` rows (none before they exist)."""
    if not sweep.sweep_path("ch04_law").exists():
        return []
    evidence = law_evidence(sweep.load_sweep("ch04_law"))
    mix = pick(fit_laws(*evidence["fit"]))
    return [{"recipe": "mix_lm", "mix": str(mix), "seed": s} for s in SEEDS]


def held_out_table(laws: list[MixingLawFit], evidence: dict):
    """Per domain: the law's fit, its largest and mean error on the held-out mixtures, and the tolerance."""
    predicted, measured = held_out(laws, evidence)
    err = np.abs(predicted - measured)
    sd = noise(evidence)
    rows = [
        [d, f"{law.r2:.3f}", f"{law.rmse:.3f}", f"{err[:, j].mean():.3f}", f"{err[:, j].max():.3f}", f"{sd[j]:.3f}",
         "yes" if err[:, j].max() <= K_SEEDS * sd[j] else "no"]
        for j, (d, law) in enumerate(zip(DOMAINS, laws))
    ]  # fmt: skip
    headers = ["domain", "R² (fit)", "RMSE (fit)", "mean error, held out", "largest error, held out"]
    headers += ["seed sd (uniform)", f"within {K_SEEDS} sd"]
    return md_table(headers, rows)


def pick_table(laws: list[MixingLawFit], candidates: dict[str, tuple[Mixture, np.ndarray]]):
    """Each named mixture's proportions, the laws' predicted mean loss and the measured one over its seeds."""
    rows = []
    for name, (mix, losses) in candidates.items():
        r = np.array([mix.weight(d) for d in DOMAINS])
        predicted = np.mean([law.predict(r)[0] for law in laws])
        means = losses.mean(axis=1)
        rows.append([name, " / ".join(f"{x:.3f}" for x in r), f"{predicted:.3f}",
                     f"{means.mean():.3f} ± {means.std(ddof=1):.3f}", len(means)])  # fmt: skip
    headers = ["mixture", " / ".join(DOMAINS), "predicted mean loss", "measured mean loss (± seed sd)", "seeds"]
    return md_table(headers, rows)


def paper_table(published: dict, laws: list[MixingLawFit], evidence: dict, pick_losses: np.ndarray):
    """Ye et al.'s law and result beside ours: the form, how well it predicted unseen mixtures, and what its
    pick gained over the default (uniform) mixture."""
    ye = published["ye_mixing"]
    predicted, measured = held_out(laws, evidence)
    err = np.abs(predicted - measured)
    gain = evidence["uniform"].mean() - pick_losses.mean()
    sd = evidence["uniform"].mean(axis=1).std(ddof=1)
    rows = [
        ["law", ye["form"], "the same, last domain's t fixed at 0"],
        ["fitted on", "small proxy models", f"{len(evidence['fit'][0])} runs of the chapter's 2-layer model"],
        ["held-out error", "—",
         f"mean {err[:, :3].mean():.3f} on kjv/code/docs, {err[:, 3].mean():.3f} on the poems"],
        ["the law's pick vs the default", f"as good as the default trained {ye['longer']:.0%} longer",
         f"{gain:+.3f} nats/byte mean loss vs uniform (seed sd {sd:.3f})"],
    ]  # fmt: skip
    return md_table(["", f"{ye['name']}", "ours"], rows)


sweep.register_grid("ch04_pick", full=_pick_points(), quick=[{"recipe": "mix_lm", "mix": "kjv=1", "steps": 60}])
