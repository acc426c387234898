"""Chapter 4, section 3: a data mixing law fitted on proxies, tested on held-out mixtures, and used.

- ``law_evidence``: the cached ``ch04_law`` grid split into the fitted proxies, the held-out mixtures and the
  uniform and natural mixtures' seeds; ``fit_laws``: Ye et al.'s law per domain on the fitted proxies;
- ``held_out``: each held-out mixture's predicted and measured loss per domain, and ``noise``: the seed
  standard deviation per domain on the uniform mixture, which sizes the tolerance ``K_SEEDS`` x noise;
- ``pick``: the mixture the laws say minimises the mean loss over the four domains, searched within the
  proportions the proxies covered (every share between ``FLOOR`` and 1 − 3 ``FLOOR``);
- the grid ``ch04_pick``: that mixture over ``SEEDS``, computed from the cached ``ch04_law`` rows (empty until
  they exist), so that the comparison with uniform and natural rests on cached seeds;
- ``held_out_table``, ``pick_table`` and ``paper_table``: the section's tables;
- the grid ``ch04_rank`` and ``rank_evidence``, ``rank_correlation``: RegMix's assumption tested, the same
  mixtures ranked by the proxies and by models ``RANK_WIDTH`` wide; ``rank_table``;
- ``proposal_exercise``: exercise 4.3, a mixture with at most ``POEMS_CAP`` poems that loses nothing to uniform.
"""

from __future__ import annotations

import numpy as np

from . import sweep
from .book.exercises import Experiment
from .book.report import md_table
from .ch04 import CEILING, FIT_MIXTURES, FLOOR, HELD_OUT, SEEDS, natural_mixture, per_domain, rounded, run_mixture
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
    r = best_mixture(laws, low=FLOOR, high=CEILING)
    return rounded(dict(zip(DOMAINS, r)))


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


RANK_WIDTH = 128  # the larger models that rank the same mixtures: 4 times the proxies' non-embedding parameters


def rank_mixtures() -> list[str]:
    """The mixtures ranked at two sizes: the held-out ones, the uniform and the natural."""
    return [*HELD_OUT, str(Mixture.uniform()), str(natural_mixture())]


def rank_evidence(law_rows: list[dict], rank_rows: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each of ``rank_mixtures`` with its mean loss over the domains at the proxies' size (``ch04_law``, seed 0)
    and at ``RANK_WIDTH`` (``ch04_rank``, seed 0)."""

    def seed0(rows):
        mixes, _, losses = per_domain([r for r in rows if r["seed"] == 0])
        return dict(zip(mixes, losses.mean(axis=1)))

    small, large = seed0(law_rows), seed0(rank_rows)
    names = rank_mixtures()
    return names, np.array([small[m] for m in names]), np.array([large[m] for m in names])


def rank_correlation(small: np.ndarray, large: np.ndarray) -> float:
    """Spearman's rank correlation between the two sizes' losses over the same mixtures (``scipy.stats``)."""
    from scipy.stats import spearmanr

    return float(spearmanr(small, large).statistic)


def rank_table(names: list[str], small: np.ndarray, large: np.ndarray):
    """The mixtures in the proxies' order: mean loss and rank at each size."""
    rank_s, rank_l = small.argsort().argsort() + 1, large.argsort().argsort() + 1
    order = np.argsort(small)
    rows = [[names[i], f"{small[i]:.3f}", int(rank_s[i]), f"{large[i]:.3f}", int(rank_l[i])] for i in order]
    return md_table(["mixture", "mean loss, proxy (64 wide)", "rank", f"mean loss, {RANK_WIDTH} wide", "rank"], rows)


POEMS_CAP = 0.2  # exercise 4.3: a mixture with at most this share of poems


def proposal_exercise(evidence: dict) -> Experiment:
    """Exercise 4.3: propose a mixture (text, e.g. "kjv=0.3,code=0.3,docs=0.3,poems=0.1") with at most
    ``POEMS_CAP`` poems whose mean loss over the domains is no worse than the uniform mixture's beyond
    ``K_SEEDS`` of its seed standard deviations; the checker trains one proxy on it (about 10 s)."""
    means = evidence["uniform"].mean(axis=1)
    limit = means.mean() + K_SEEDS * means.std(ddof=1)

    def verify(proposal):
        mix = Mixture.of(proposal) if isinstance(proposal, str) else proposal
        if mix.weight("poems") > POEMS_CAP + 1e-9:
            return False, f"{mix} gives the poems {mix.weight('poems'):.0%}, more than {POEMS_CAP:.0%}"
        _, losses = run_mixture(str(mix), seed=0)
        mean = float(np.mean([losses[d] for d in DOMAINS]))
        ok = mean <= limit
        verdict = "no worse than uniform within the noise" if ok else "worse than uniform beyond the noise"
        return ok, f"{mix}: mean loss {mean:.3f} against uniform's {means.mean():.3f} (limit {limit:.3f}): {verdict}"

    return Experiment(
        "4.3 less poetry, no loss",
        verify=verify,
        hints=(
            "the law can search for you: best_mixture takes a per-domain upper bound",
            "from helpers.scaling import best_mixture; then "
            f"best_mixture(laws, low=ch04.FLOOR, high=[ch04.CEILING] * 3 + [{POEMS_CAP}])",
        ),
    )


sweep.register_grid(
    "ch04_rank",
    full=[{"recipe": "mix_lm", "mix": m, "d_model": RANK_WIDTH} for m in rank_mixtures()],
    quick=[{"recipe": "mix_lm", "mix": "kjv=1", "d_model": RANK_WIDTH, "steps": 60}],
)
sweep.register_grid("ch04_pick", full=_pick_points(), quick=[{"recipe": "mix_lm", "mix": "kjv=1", "steps": 60}])
