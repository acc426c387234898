"""Chapter 8's cached sweeps read back: the scores of each tuned model and of its base, grouped by a knob.

- ``Run``: one row of a ``ch08_tune`` sweep: its grid point, and the scores of the tuned model and its base
  (``ch08.zero_shot``);
- ``runs``: a sweep's rows as ``Run``s (``Run.of`` makes one of a live ``ch08.tuning_run``); ``by``: runs grouped
  by one setting (``Run.setting``: the point's, or the recipe's default), in its order; ``select``: the runs
  with given settings;
- ``paired``: a score's difference between two sets of runs, run by run on the same base (width and seed), and
  ``mean_se``, the mean of such differences with its standard error;
- ``values``: one score of a group's tuned models (or bases), seed by seed;
- ``parse_rate``: how often a group's structured-generation answers are in their task's format, seed by seed;
- ``noise``: a score's seed standard deviation pooled over groups (``claims.pooled_spread``);
- ``tuning_effect``: FLAN's comparison, the tuned model on the held-out cluster against its base, each asked its
  own way;
- ``trend``: the slope of a score against log2 of a knob (the number of training clusters, the width), one
  intercept per seed, and its standard error from the residuals: a trend test over every run, not one pair.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from . import ch08
from .claims import pooled_spread


def _defaults() -> dict:
    out = {}
    for fn in (ch08.base_model, ch08.tuning_run):
        out.update({k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty})
    return out


DERIVED = {  # score -> the per-task scores of ``ch08.zero_shot`` it is the mean of, and their tasks
    "first_last_one_shot": ("one_shot", ("first", "last")),
    "first_last_own": ("own", ("first", "last")),
}
DEFAULTS = _defaults()  # what a ``ch08_tune`` point leaves out: ``ch08.tuning_run``'s and ``ch08.base_model``'s


@dataclass(frozen=True)
class Run:
    """One tuning run: its grid ``point`` (without the recipe), ``seed``, the ``tuned`` model's scores and its
    ``base``'s (each a ``ch08.zero_shot`` dict), and the training ``seconds``."""

    point: dict
    seed: int
    tuned: dict
    base: dict
    seconds: float

    @classmethod
    def of(cls, output, point: dict) -> Run:
        """The ``Run`` of a ``ch08.tuning_run`` output (``sweep.RunOutput``) made at grid ``point``."""
        tuned = {k: v for k, v in output.metrics.items() if k != "base"}
        return cls(dict(point), output.seed, tuned, output.metrics["base"], output.seconds)

    def setting(self, key: str):
        """The value of ``key`` this run was made with: its point's, or the recipe's default (``DEFAULTS``);
        ``KeyError`` naming the known settings for any other key."""
        if key in self.point:
            return self.point[key]
        if key not in DEFAULTS:
            raise KeyError(f"no setting {key!r}; the runs have {', '.join(sorted(set(self.point) | set(DEFAULTS)))}")
        return DEFAULTS[key]

    def scores(self, model: str = "tuned") -> dict:
        """Every score of the ``"tuned"`` model or of its ``"base"``."""
        return self.tuned if model == "tuned" else self.base

    def score(self, key: str, model: str = "tuned") -> float:
        """The score ``key`` of the ``"tuned"`` model or its ``"base"``, or one of ``DERIVED`` (``KeyError``
        naming the known ones)."""
        scores = self.scores(model)
        if key in DERIVED and DERIVED[key][0] in scores:
            per_task, names = DERIVED[key]
            return float(np.mean([scores[per_task][n] for n in names]))
        if key not in scores:
            raise KeyError(f"no score {key!r}; the runs have {', '.join(k for k in scores if k != 'tasks')}")
        return float(scores[key])


def runs(rows: list[dict]) -> list[Run]:
    """The rows of a ``ch08_tune`` sweep (``sweep.load_sweep``) as ``Run``s, in the sweep's order."""
    out = []
    for r in rows:
        if r["recipe"] != "ch08_tune":
            raise ValueError(f"a row of recipe {r['recipe']!r}: chapter 8's sweeps run 'ch08_tune'")
        tuned = {k: v for k, v in r["metrics"].items() if k != "base"}
        out.append(Run(r["point"], r["seed"], tuned, r["metrics"]["base"], r["seconds"]))
    return out


def by(all_runs: list[Run], key: str) -> dict:
    """``all_runs`` grouped by their setting ``key`` (``Run.setting``; sorted by it), each group by seed."""
    groups: dict = {}
    for r in all_runs:
        groups.setdefault(r.setting(key), []).append(r)
    return {k: sorted(groups[k], key=lambda r: r.seed) for k in sorted(groups)}


def select(all_runs: list[Run], **settings) -> list[Run]:
    """The runs of ``all_runs`` made with every one of ``settings`` (``Run.setting``), in their order;
    ``ValueError`` when none was."""
    out = [r for r in all_runs if all(r.setting(k) == v for k, v in settings.items())]
    if not out:
        raise ValueError(f"no run has {settings}")
    return out


def paired(a: list[Run], b: list[Run], key: str, model: str = "tuned") -> np.ndarray:
    """The score ``key`` of each run of ``a`` minus that of the run of ``b`` on the same base (the same
    ``d_model`` and seed), in ``a``'s order: differences that the base's own luck does not enter.
    ``ValueError`` when a run of ``a`` has no partner in ``b``."""
    partner = {(r.setting("d_model"), r.seed): r for r in b}
    missing = [(r.setting("d_model"), r.seed) for r in a if (r.setting("d_model"), r.seed) not in partner]
    if missing:
        raise ValueError(f"no run to pair with (width, seed) {missing}")
    return np.array([r.score(key, model) - partner[(r.setting("d_model"), r.seed)].score(key, model) for r in a])


def values(group: list[Run], key: str, model: str = "tuned") -> np.ndarray:
    """The score ``key`` of each run of ``group`` (its tuned model, or its ``"base"``), seed by seed."""
    return np.array([r.score(key, model) for r in group])


def parse_rate(group: list[Run], model: str = "tuned") -> np.ndarray:
    """For each run of ``group``, the mean parse rate of its structured-generation tasks (the tuned model's, or
    the ``"base"``'s): the share of answers in the task's format, right or wrong (``ValueError`` when a run
    scored none)."""
    out = []
    for r in group:
        tasks = r.scores(model)["tasks"]
        rates = [row["parses"] for row in tasks.values() if "parses" in row]
        if not rates:
            raise ValueError(f"a run of seed {r.seed} at {r.point} scored no structured-generation task")
        out.append(float(np.mean(rates)))
    return np.array(out)


def noise(groups: dict, key: str, model: str = "tuned") -> float:
    """The seed standard deviation of the score ``key``, pooled over ``groups`` (``by``)."""
    return pooled_spread([values(g, key, model) for g in groups.values()])


def mean_se(differences) -> tuple[float, float]:
    """The mean of ``differences`` (``paired``'s) and its standard error, their sample standard deviation over
    the square root of their number (``ValueError`` for fewer than two)."""
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        raise ValueError(f"{d.size} difference(s): a standard error needs at least two")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


def tuning_effect(run: Run) -> float:
    """FLAN's comparison on the held-out cluster, each model asked the way it was trained: the tuned model's
    exact match in the tuning format minus its base's in the base's own format."""
    return run.score("held_out") - run.score("held_out_own", "base")


def trend(groups: dict, key) -> dict:
    """Fit ``score = a_seed + slope × log2(knob)`` to every run of ``groups`` (``by(runs, knob)``, e.g. the
    number of training clusters or the width), one intercept per seed; ``key`` names the score, or is a function
    of a ``Run`` (``tuning_effect``). ``slope`` is the change per doubling of the knob, ``se`` its standard
    error from the residuals and ``dof`` their degrees of freedom (``ValueError`` when none is left)."""
    value = key if callable(key) else (lambda r: r.score(key))
    flat = [(np.log2(n), r.seed, value(r)) for n, g in groups.items() for r in g]
    seeds = sorted({s for _, s, _ in flat})
    x = np.array([[lx] + [float(s == t) for t in seeds] for lx, s, _ in flat])
    y = np.array([v for _, _, v in flat])
    dof = len(y) - x.shape[1]
    if dof < 1 or len(groups) < 2:
        raise ValueError(f"{len(y)} runs over {len(groups)} settings and {len(seeds)} seeds leave no residual")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    cov = (resid @ resid / dof) * np.linalg.inv(x.T @ x)
    return {"slope": float(coef[0]), "se": float(np.sqrt(cov[0, 0])), "dof": dof}
