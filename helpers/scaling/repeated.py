"""Repeated data: Muennighoff et al. (2023)'s effective data, and the fit of its one constant R*.

Training for ``D`` tokens on ``U`` unique ones repeats each ``R = D / U - 1`` more times. Muennighoff et al.
model what the repeats are worth as an effective amount of fresh data,

    D' = U + U · R* · (1 − exp(−R / R*)),

so the first few repeats count almost fully, and the total can never pass ``U · (1 + R*)``: ``R*`` is the
number of repeats after which their value has mostly decayed (the paper fits R*_D ≈ 15.4). Given a law of
loss against fresh data, L(D) (``power_laws.fit_saturating_power_law`` at a fixed model size), the loss of
a repeated run is predicted as L(D'); ``fit_r_star`` finds the R* that predicts a set of such runs best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar

from .checks import ScalingFitError, check_inputs, r_squared, resid_std
from .power_laws import SaturatingPowerLawFit

R_STAR_RANGE = (0.01, 1e4)  # R* is searched over this range, on a log scale


def effective_data(unique: ArrayLike, tokens: ArrayLike, r_star: float) -> np.ndarray:
    """D' = U + U R* (1 − exp(−R / R*)) with R = tokens / U − 1 (``unique`` U and ``tokens`` D in tokens)."""
    u, d = np.asarray(unique, dtype=float), np.asarray(tokens, dtype=float)
    if np.any(u <= 0) or np.any(d < u) or not r_star > 0:
        raise ValueError(
            "effective_data needs unique > 0 tokens, tokens >= unique (a run sees its unique data at least "
            f"once) and r_star > 0; got r_star={r_star!r}"
        )
    return u + u * r_star * (1 - np.exp(-(d / u - 1) / r_star))


@dataclass(frozen=True)
class RStarFit:
    """The fitted R* of ``effective_data``, with R² and the residual scatter of log L (``resid_std``)."""

    r_star: float
    r2: float
    resid_std: float
    n_points: int

    def __str__(self) -> str:
        fit = f"R² (log) {self.r2:.4f}, scatter {self.resid_std:.3g} in log L, {self.n_points} points"
        return f"R* = {self.r_star:.3g}   [{fit}]"


def fit_r_star(unique: ArrayLike, tokens: ArrayLike, loss: ArrayLike, law: SaturatingPowerLawFit) -> RStarFit:
    """The R* for which ``law.predict(effective_data(unique, tokens, R*))`` best predicts ``loss``, minimising
    squared error in log L over log R* in ``R_STAR_RANGE``. The runs must include repeats (some
    ``tokens > unique``). Raises ``ScalingFitError`` when R* ends at an end of its range: at the top, the repeats
    cost nothing the law can see; at the bottom, they are worth nothing."""
    u, d, y = check_inputs({"unique": unique, "tokens": tokens, "loss": loss}, n_params=1, positive=("unique", "loss"))
    if not np.any(d > u):
        raise ScalingFitError("fit_r_star: no run repeats its data (tokens > unique); add runs of several epochs")
    ly = np.log(y)

    def cost(log_r: float) -> float:
        return float(np.sum((ly - np.log(law.predict(effective_data(u, d, float(np.exp(log_r)))))) ** 2))

    lo, hi = np.log(R_STAR_RANGE[0]), np.log(R_STAR_RANGE[1])
    res = minimize_scalar(cost, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    if min(res.x - lo, hi - res.x) < 1e-3:
        where = "top" if hi - res.x < 1e-3 else "bottom"
        why = "the repeats cost nothing the law can see" if where == "top" else "the repeats are worth nothing"
        raise ScalingFitError(
            f"fit_r_star: R* sits at the {where} of its range {R_STAR_RANGE}, so it is not an estimate: {why}; "
            "add runs with more epochs, or check that the law fits the single-epoch runs"
        )
    r_star = float(np.exp(res.x))
    residual = ly - np.log(law.predict(effective_data(u, d, r_star)))
    return RStarFit(r_star, r_squared(ly, residual), resid_std(residual, 1), int(y.size))
