"""From a smooth quantity to accuracy: the sigmoid link that forecasts of task accuracy use.

Accuracy is bounded: it sits at chance (0 for exact match, 1/k for k choices) until a model knows enough,
then rises towards a ceiling. The OLMo ladders (Bhagia et al. 2024) and Llama 3 predict it in two steps: a
power law from compute to a *task loss*, then a sigmoid from that loss to accuracy,

    acc(x) = chance + (top - chance) · σ(s · (x - x0)),

with ``x`` the task loss (``s < 0``: accuracy rises as the loss falls). The same form with ``x = log C``
(``s > 0``) is the direct forecast from compute that the two steps are compared with.
``fit_accuracy_link`` fits ``s``, ``x0`` and, unless it is given, ``top``, by least squares from several starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares
from scipy.special import expit

from .checks import ScalingFitError, check_inputs, need_distinct, one_blas_thread, r_squared, resid_std


@dataclass(frozen=True)
class AccuracyLinkFit:
    """acc = chance + (top - chance) · σ(s · (x - x0)). ``r2`` and ``resid_std`` are measured on acc."""

    s: float
    x0: float
    top: float
    chance: float
    r2: float
    resid_std: float
    n_points: int

    def predict(self, x: ArrayLike) -> np.ndarray:
        """The link's accuracy at ``x``."""
        return self.chance + (self.top - self.chance) * expit(self.s * (np.asarray(x, dtype=float) - self.x0))

    def __str__(self) -> str:
        return (
            f"acc = {self.chance:.3g} + ({self.top:.3g} - {self.chance:.3g}) σ({self.s:.3g} (x - {self.x0:.4g}))   "
            f"[R² {self.r2:.3f}, scatter {self.resid_std:.3g}, {self.n_points} points]"
        )


def fit_accuracy_link(x: ArrayLike, acc: ArrayLike, chance: float = 0.0, top: float | None = 1.0) -> AccuracyLinkFit:
    """Fit ``acc = chance + (top - chance) σ(s (x - x0))`` to accuracies ``acc`` at ``x`` (a task loss, or log
    compute). ``chance`` is fixed; ``top`` is fixed when given, else fitted in (chance, 1].

    Raises ``ScalingFitError`` when fewer than 4 points or 3 distinct x are given, when no accuracy rises
    above chance + 0.05 or none stays below top - 0.05 (the data do not reach the rise, so its place is not
    measured), or when the fit explains less than half of the variance of acc.
    """
    x, acc = check_inputs({"x": x, "acc": acc}, n_params=3)
    need_distinct("x", x, 3)
    if not 0 <= chance < 1 or (top is not None and not chance < top <= 1):
        raise ValueError(f"chance={chance}, top={top}: need 0 <= chance < top <= 1")
    ceiling = 1.0 if top is None else top
    if acc.max() < chance + 0.05:
        raise ScalingFitError(
            f"fit_accuracy_link: every accuracy lies within 0.05 of chance ({chance:g}), so the data do not show "
            "where it rises; add larger models or later checkpoints, or forecast a smooth metric instead"
        )
    if acc.min() > ceiling - 0.05:
        raise ScalingFitError(
            f"fit_accuracy_link: every accuracy lies within 0.05 of the top ({ceiling:g}), so the data do not "
            "show where it rises; add smaller models or earlier checkpoints"
        )
    span = float(np.ptp(x)) or 1.0

    def model(theta):
        t = theta[2] if top is None else top
        return chance + (t - chance) * expit(theta[0] * (x - theta[1]))

    best = None
    with one_blas_thread():
        for sign in (-1.0, 1.0):
            for q in (0.25, 0.5, 0.75):
                x0 = [sign * 8 / span, float(np.quantile(x, q))] + ([min(acc.max() + 0.05, 1.0)] if top is None else [])
                lo = [-np.inf, -np.inf] + ([chance + 1e-3] if top is None else [])
                hi = [np.inf, np.inf] + ([1.0] if top is None else [])
                try:
                    res = least_squares(lambda t: model(t) - acc, x0, bounds=(lo, hi))
                except (ValueError, FloatingPointError):
                    continue
                if np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost):
                    best = res
    if best is None:
        raise ScalingFitError("fit_accuracy_link: the optimiser failed from every start; check the data")
    s, x0 = float(best.x[0]), float(best.x[1])
    fitted_top = float(best.x[2]) if top is None else ceiling
    r2 = r_squared(acc, best.fun)
    if not r2 >= 0.5:
        raise ScalingFitError(
            f"fit_accuracy_link: the link explains R² = {r2:.3g} of the variance of the accuracies (less than "
            "0.5): they do not follow one sigmoid of x; check that accuracy depends on x alone"
        )
    return AccuracyLinkFit(s, x0, fitted_top, chance, r2, resid_std(best.fun, len(best.x)), x.size)
