"""Chapter 5's fits over the cached family: forecasts of abilities from smaller models, and how they fare.

- ``family(rows)``: the ``ch05_family`` rows as ``Run`` objects (checkpoint curves of every suite and domain,
  the final per-item scores); ``ladder`` / ``targets`` split them by ``helpers.ch05.LADDER`` and ``TARGETS``;
- ``fit_two_step`` / ``two_step``: the OLMo-ladder forecast of a suite's accuracy for the targets, compute ->
  task loss (a saturating power law on the ladder's final checkpoints) -> accuracy (a sigmoid link fitted on every
  ladder checkpoint), beside the direct compute -> accuracy sigmoid fitted on the ladder's final checkpoints
  (``fit_direct`` / ``direct``); ``forecast_at`` gives either one at any compute, ``per_seed_errors`` both from
  each seed's ladder alone;
- ``gpt4_forecast``: GPT-4's capability forecast, -E[log pass_rate] = α C^(-k), fitted on the ladder;
- ``collapse``: accuracy against the pretraining loss over every size and checkpoint (Du et al. 2024): one link
  for all sizes, and how far each size lies from it;
- ``chain_correlations`` / ``chain_drop`` / ``chain_steps``: per item, the correlation with log compute of log p,
  p, p normalised over the choices, and multiple-choice correctness (Schaeffer et al. 2024), averaged over items,
  and the drop from one metric to another with its standard error;
- ``emergence_forecast``: chapter 6's addition forecast from its smallest models, which show nothing to extrapolate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .abilities import N_CHOICES, p_choice
from .ch05 import LADDER, TARGETS
from .scaling import fit_accuracy_link, fit_power_law, fit_saturating_power_law

CHANCE = {"mc_accuracy": 1 / N_CHOICES, "exact_match": 0.0}
CHAIN = ("log p(correct)", "p(correct)", "p(correct | choices)", "choice accuracy")


@dataclass(frozen=True)
class Run:
    """One trained member of the family. Per checkpoint (``steps``): ``compute`` (training FLOPs so far), ``val``
    (loss on the training mixture, nats per byte), ``domains[name]`` (each domain's validation loss) and
    ``suites[suite][metric]`` (``helpers.abilities.summary``'s metrics); ``items[suite]`` holds the final model's
    per-item ``choices`` (log-probabilities, the right one first) and ``greedy`` (exact match)."""

    width: int
    seed: int
    n_params: int
    steps: np.ndarray
    compute: np.ndarray
    val: np.ndarray
    domains: dict
    suites: dict
    items: dict

    def final(self, suite: str, metric: str) -> float:
        """``metric`` of ``suite`` at the last checkpoint."""
        return float(self.suites[suite][metric][-1])


def family(rows: list[dict]) -> list[Run]:
    """The ``ch05_family`` sweep rows as runs, ordered by width then seed."""
    runs = []
    for r in rows:
        cps = r["metrics"]["checkpoints"]
        steps = np.array([c["step"] for c in cps])
        if list(steps) != list(r["curve"]["step"]):
            raise ValueError(f"row {r['params']}: its checkpoints and its loss curve were taken at different steps")
        names = list(cps[0]["suites"])
        suites = {s: {m: np.array([c["suites"][s][m] for c in cps]) for m in cps[0]["suites"][s]} for s in names}
        items = {s: {k: np.array(v) for k, v in d.items()} for s, d in r["metrics"]["items"].items()}
        runs.append(
            Run(
                width=int(r["point"]["d_model"]),
                seed=r["seed"],
                n_params=r["non_embedding"],
                steps=steps,
                compute=r["flops"] / r["steps"] * steps,
                val=np.array(r["curve"]["val"]),
                domains={d: np.array([c["domains"][d] for c in cps]) for d in cps[0]["domains"]},
                suites=suites,
                items=items,
            )
        )
    return sorted(runs, key=lambda run: (run.width, run.seed))


def ladder(runs: list[Run]) -> list[Run]:
    """The runs the forecasts are fitted on (``LADDER`` widths)."""
    return [r for r in runs if r.width in LADDER]


def targets(runs: list[Run]) -> list[Run]:
    """The runs the forecasts predict (``TARGETS`` widths)."""
    return [r for r in runs if r.width in TARGETS]


def finals(runs: list[Run], suite: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(final compute, final ``metric`` of ``suite``) per run."""
    return np.array([r.compute[-1] for r in runs]), np.array([r.final(suite, metric) for r in runs])


def by_width(runs: list[Run], values) -> dict[int, np.ndarray]:
    """``values`` (one per run) grouped by width: width -> array over seeds."""
    out: dict[int, list] = {}
    for r, v in zip(runs, values):
        out.setdefault(r.width, []).append(v)
    return {w: np.array(v) for w, v in out.items()}


# ----------------------------------------------------------------------------- forecasts from the ladder


@dataclass(frozen=True)
class Forecast:
    """A forecast of ``metric`` on ``suite`` for each target width: ``predicted`` and ``measured`` (mean over
    seeds), the measured seed standard deviation ``sd`` and the targets' training ``compute``; ``fits`` holds
    the fitted laws."""

    suite: str
    metric: str
    method: str
    widths: tuple[int, ...]
    predicted: np.ndarray
    measured: np.ndarray
    sd: np.ndarray
    compute: np.ndarray
    fits: tuple

    @property
    def error(self) -> np.ndarray:
        """Predicted minus measured, per target width."""
        return self.predicted - self.measured


def _measured(runs: list[Run], suite: str, metric: str) -> tuple:
    """The targets' widths, and per width the mean and seed standard deviation of ``metric`` and the mean compute."""
    c, v = finals(targets(runs), suite, metric)
    groups, compute = by_width(targets(runs), v), by_width(targets(runs), c)
    widths = tuple(sorted(groups))
    return (
        widths,
        np.array([groups[w].mean() for w in widths]),
        np.array([groups[w].std(ddof=1) for w in widths]),
        np.array([compute[w].mean() for w in widths]),
    )


def fit_two_step(runs: list[Run], suite: str, metric: str = "mc_accuracy") -> tuple:
    """OLMo's two steps fitted on the ladder: task loss = E + A C^-α on its final checkpoints (step 1), accuracy as
    a sigmoid of task loss on every one of its checkpoints (step 2, ``fit_accuracy_link``, chance from ``CHANCE``).
    Returns ``(step1, step2)``; the forecast at compute C is ``step2.predict(step1.predict(C))``."""
    lad = ladder(runs)
    c, loss = finals(lad, suite, "task_loss")
    x = np.concatenate([r.suites[suite]["task_loss"] for r in lad])
    y = np.concatenate([r.suites[suite][metric] for r in lad])
    return fit_saturating_power_law(c, loss), fit_accuracy_link(x, y, chance=CHANCE[metric])


def fit_direct(runs: list[Run], suite: str, metric: str = "mc_accuracy"):
    """The direct fit on the ladder's final checkpoints: accuracy as a sigmoid of log compute; the forecast at
    compute C is ``link.predict(log C)``."""
    c, acc = finals(ladder(runs), suite, metric)
    return fit_accuracy_link(np.log(c), acc, chance=CHANCE[metric])


def forecast_at(runs: list[Run], suite: str, metric: str, compute, method: str = "two steps") -> np.ndarray:
    """The ladder's forecast of ``metric`` on ``suite`` at training compute ``compute`` (FLOPs), by ``method``:
    ``"two steps"`` (``fit_two_step``) or ``"direct"`` (``fit_direct``)."""
    compute = np.asarray(compute, dtype=float)
    if method == "two steps":
        step1, step2 = fit_two_step(runs, suite, metric)
        return step2.predict(step1.predict(compute))
    if method == "direct":
        return fit_direct(runs, suite, metric).predict(np.log(compute))
    raise ValueError(f"method={method!r}: choose 'two steps' or 'direct'")


def two_step(runs: list[Run], suite: str, metric: str = "mc_accuracy") -> Forecast:
    """The two-step forecast (``fit_two_step``) for the targets, beside their measurements."""
    fits = fit_two_step(runs, suite, metric)
    widths, measured, sd, compute = _measured(runs, suite, metric)
    predicted = fits[1].predict(fits[0].predict(compute))
    return Forecast(suite, metric, "two steps", widths, predicted, measured, sd, compute, fits)


def direct(runs: list[Run], suite: str, metric: str = "mc_accuracy") -> Forecast:
    """The direct forecast (``fit_direct``) for the targets, beside their measurements."""
    link = fit_direct(runs, suite, metric)
    widths, measured, sd, compute = _measured(runs, suite, metric)
    return Forecast(suite, metric, "direct", widths, link.predict(np.log(compute)), measured, sd, compute, (link,))


def per_seed_errors(runs: list[Run], cases) -> dict:
    """Both forecasts fitted on each seed's ladder alone (three independent ladders), scored against the targets
    (mean over their seeds): ``cases`` is a list of ``(suite, metric)``; returns ``{case: {"two steps": errors,
    "direct": errors}}``, each ``(seeds, targets)``."""
    seeds = sorted({r.seed for r in ladder(runs)})
    out = {}
    for suite, metric in cases:
        errs = {"two steps": [], "direct": []}
        for s in seeds:
            sub = [r for r in ladder(runs) if r.seed == s] + targets(runs)
            errs["two steps"].append(two_step(sub, suite, metric).error)
            errs["direct"].append(direct(sub, suite, metric).error)
        out[(suite, metric)] = {k: np.array(v) for k, v in errs.items()}
    return out


def gpt4_forecast(runs: list[Run], suite: str) -> Forecast:
    """GPT-4's form on the ladder's final checkpoints: -E[log pass_rate] = α C^(-k), a straight line in log-log,
    with pass_rate the probability that an answer sampled at temperature 1 is right (so -E[log pass_rate] is
    -mean log p of the answers). Forecasts -E[log pass_rate] for the targets."""
    c, logp = finals(ladder(runs), suite, "logp")
    law = fit_power_law(c, -logp)
    widths, measured, sd, compute = _measured(runs, suite, "logp")
    name, method = "-E[log pass_rate]", "GPT-4 power law"
    return Forecast(suite, name, method, widths, law.predict(compute), -measured, sd, compute, (law,))


# ----------------------------------------------------------------------------- loss, not size (Du et al. 2024)


def checkpoints(
    runs: list[Run], suite: str, metric: str, loss: str = "val"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every checkpoint of every run as (pretraining loss, ``metric`` of ``suite``, width); ``loss`` is ``"val"``
    (the training mixture) or a domain's name."""
    xs = [r.val if loss == "val" else r.domains[loss] for r in runs]
    return (
        np.concatenate(xs),
        np.concatenate([r.suites[suite][metric] for r in runs]),
        np.concatenate([np.full(len(r.steps), r.width) for r in runs]),
    )


def collapse(runs: list[Run], suite: str, metric: str = "mc_accuracy", loss: str = "val") -> dict:
    """One sigmoid link from pretraining loss to ``metric`` fitted on every checkpoint of every size; per width, the
    mean residual of its checkpoints from that link (``offset``) and their spread (``scatter``); and, to compare,
    the same link in log compute (``compute_link``) with the residual spread of each (``resid_std``,
    ``compute_resid_std``)."""
    x, y, w = checkpoints(runs, suite, metric, loss)
    link = fit_accuracy_link(x, y, chance=CHANCE.get(metric, 0.0))
    logc = np.log(np.concatenate([r.compute for r in runs]))
    by_compute = fit_accuracy_link(logc, y, chance=CHANCE.get(metric, 0.0))
    resid = y - link.predict(x)
    widths = sorted(set(w.tolist()))
    return {
        "link": link,
        "widths": widths,
        "offset": np.array([resid[w == k].mean() for k in widths]),
        "scatter": np.array([resid[w == k].std(ddof=1) for k in widths]),
        "resid_std": float(resid.std(ddof=1)),
        "compute_link": by_compute,
        "compute_resid_std": float((y - by_compute.predict(logc)).std(ddof=1)),
    }


def seed_sd(runs: list[Run], suite: str, metric: str = "mc_accuracy") -> float:
    """The spread of ``metric`` on ``suite`` between seeds at the end of training: the standard deviation over
    seeds of each width's final value, averaged over widths."""
    groups = by_width(runs, finals(runs, suite, metric)[1])
    return float(np.mean([v.std(ddof=1) for v in groups.values()]))


def threshold(link, chance: float, margin: float) -> float:
    """The pretraining loss at which ``link`` first rises ``margin`` above ``chance``: above it, the ability is at
    chance within ``margin``."""
    frac = margin / (link.top - chance)
    if not 0 < frac < 1:
        raise ValueError(f"margin={margin}: must lie between 0 and the link's rise ({link.top - chance:.3g})")
    return float(link.x0 + np.log(frac / (1 - frac)) / link.s)


# ----------------------------------------------------------------------------- which metrics track compute


def chain_metrics(run: Run, suite: str) -> dict[str, np.ndarray]:
    """A run's final per-item values of the four metrics of ``CHAIN``."""
    ch = run.items[suite]["choices"]
    return {
        CHAIN[0]: ch[:, 0],
        CHAIN[1]: np.exp(ch[:, 0]),
        CHAIN[2]: p_choice(ch),
        CHAIN[3]: (ch.argmax(axis=1) == 0).astype(float),
    }


def chain_correlations(runs: list[Run], suite: str) -> dict[str, dict]:
    """Per item, the Pearson correlation across ``runs`` between log compute and each metric of ``CHAIN``. An item
    whose metric never changes across the runs (always right, say) carries no signal about compute and counts as 0.
    Returns metric -> ``{"per_item": correlations, "mean", "n"}`` (``n``: the items where the metric varies)."""
    logc = np.log([r.compute[-1] for r in runs])
    values = [chain_metrics(r, suite) for r in runs]
    out = {}
    for name in CHAIN:
        m = np.stack([v[name] for v in values])  # (runs, items)
        dm, dc = m - m.mean(axis=0), logc - logc.mean()
        denom = np.sqrt((dm**2).sum(axis=0) * (dc**2).sum())
        varies = denom > 1e-12
        r = np.zeros(m.shape[1])
        r[varies] = (dm * dc[:, None]).sum(axis=0)[varies] / denom[varies]
        out[name] = {"per_item": r, "mean": float(r.mean()), "n": int(varies.sum())}
    return out


def chain_drop(correlations: dict, a: str, b: str) -> dict:
    """The drop in mean correlation from metric ``a`` to metric ``b`` and its standard error over items (the
    items' paired differences), so that a drop can be judged against its noise."""
    diff = correlations[a]["per_item"] - correlations[b]["per_item"]
    return {"from": a, "to": b, "drop": float(diff.mean()), "se": float(diff.std(ddof=1) / np.sqrt(diff.size))}


def chain_steps(correlations: dict) -> list[dict]:
    """``chain_drop`` for each step along ``CHAIN``, from one metric to the next."""
    return [chain_drop(correlations, a, b) for a, b in zip(CHAIN, CHAIN[1:])]


# ----------------------------------------------------------------------------- an ability that gives no warning

EMERGENCE_LADDER = 1.2e11  # chapter 6's models below this compute (8 to 16 wide, one layer) are the ladder


def emergence_forecast(rows: list[dict], below: float = EMERGENCE_LADDER) -> dict:
    """Forecast chapter 6's 4-digit addition (``ch06_family`` rows) from its models trained with less than
    ``below`` FLOPs: GPT-4's law on -log p(answer) fitted to every ladder run, and the direct accuracy fit, which
    may refuse the ladder's data (its message is kept). Returns, per size (ordered by compute): ``compute``,
    the measured means of ``exact_match`` and ``nll`` (-log p, nats) and the ``forecast`` of ``nll``; with
    ``ladder`` (a mask over sizes), the ``law`` and ``direct`` (the fit, or the reason it refused)."""
    sizes: dict[tuple, list] = {}
    for r in rows:
        key = (r["point"]["d_model"], r["point"]["n_layer"])
        sizes.setdefault(key, []).append((r["flops"], r["metrics"]["exact_match"], -r["metrics"]["logprob"]))
    keys = sorted(sizes, key=lambda k: sizes[k][0][0])
    arr = {k: np.array(sizes[k]) for k in keys}
    compute = np.array([arr[k][0, 0] for k in keys])
    ladder_mask = compute < below
    lad = np.concatenate([arr[k] for k, m in zip(keys, ladder_mask) if m])
    law = fit_power_law(lad[:, 0], lad[:, 2])
    try:
        direct_fit = fit_accuracy_link(np.log(lad[:, 0]), lad[:, 1], chance=0.0)
    except ValueError as err:
        direct_fit = str(err)
    return {
        "sizes": keys,
        "compute": compute,
        "exact_match": np.array([arr[k][:, 1].mean() for k in keys]),
        "nll": np.array([arr[k][:, 2].mean() for k in keys]),
        "forecast": law.predict(compute),
        "ladder": ladder_mask,
        "law": law,
        "direct": direct_fit,
    }
