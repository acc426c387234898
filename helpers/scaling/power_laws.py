"""Power laws in one variable: L = (x_c / x)^α (Kaplan et al. 2020) and L = E + (x_c / x)^α."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from .checks import (
    ScalingFitError,
    check_exponent,
    check_inputs,
    check_r2,
    need_distinct,
    one_blas_thread,
    r_squared,
    resid_std,
)


def _x_c(log_prefactor: float, alpha: float) -> float:
    """x_c in (x_c / x)^α = prefactor · x^-α, i.e. x_c = prefactor^(1/α) (NaN for α = 0, may be inf)."""
    if alpha == 0:
        return float("nan")
    with np.errstate(over="ignore"):
        return float(np.exp(log_prefactor / alpha))


@dataclass(frozen=True)
class PowerLawFit:
    """y = (x_c / x)^α = prefactor · x^(-α). ``r2`` and ``resid_std`` are measured on log y.

    ``resid_std`` is in log units, so 0.01 means the points scatter about 1% around the line.
    ``slope`` is the log-log slope, -α: positive for a growing quantity such as N_opt against C.
    """

    alpha: float
    x_c: float
    prefactor: float
    r2: float
    resid_std: float
    n_points: int

    PARAMS: ClassVar[tuple[str, ...]] = ("alpha", "x_c", "prefactor")

    @property
    def slope(self) -> float:
        return -self.alpha

    def predict(self, x: ArrayLike) -> np.ndarray:
        """prefactor · x^(-α)."""
        return self.prefactor * np.asarray(x, dtype=float) ** (-self.alpha)

    def __str__(self) -> str:
        return (
            f"y = ({self.x_c:.4g} / x)^{self.alpha:.4g} = {self.prefactor:.4g}·x^({-self.alpha:.4g})   "
            f"[R² (log) {self.r2:.4f}, scatter {self.resid_std:.3g} in log y, {self.n_points} points]"
        )


def fit_power_law(x: ArrayLike, y: ArrayLike) -> PowerLawFit:
    """Fit y = (x_c / x)^α by linear least squares on log y = α log x_c - α log x.

    The straight line log y = c0 + c1 log x gives α = -c1, prefactor = e^c0 and x_c = e^(c0/α).
    Any slope is a valid answer (a growing quantity has α < 0), so only the inputs are checked:
    x, y > 0 and at least 3 points with 2 distinct x.
    """
    x, y = check_inputs({"x": x, "y": y}, n_params=2, positive=("x", "y"))
    need_distinct("x", x, 2)
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (intercept + slope * lx)
    alpha = float(-slope)
    return PowerLawFit(
        alpha=alpha,
        x_c=_x_c(float(intercept), alpha),
        prefactor=float(np.exp(intercept)),
        r2=r_squared(ly, residual),
        resid_std=resid_std(residual, 2),
        n_points=x.size,
    )


@dataclass(frozen=True)
class SaturatingPowerLawFit:
    """y = E + (x_c / x)^α = E + A · x^(-α), with an irreducible term E >= 0. ``r2``, ``resid_std`` on log y."""

    E: float
    alpha: float
    x_c: float
    A: float
    r2: float
    resid_std: float
    n_points: int
    n_starts: int

    PARAMS: ClassVar[tuple[str, ...]] = ("E", "alpha", "x_c", "A")

    def predict(self, x: ArrayLike) -> np.ndarray:
        """E + A · x^(-α)."""
        return self.E + self.A * np.asarray(x, dtype=float) ** (-self.alpha)

    def __str__(self) -> str:
        return (
            f"y = {self.E:.4g} + ({self.x_c:.4g} / x)^{self.alpha:.4g}   "
            f"[R² (log) {self.r2:.4f}, scatter {self.resid_std:.3g} in log y, {self.n_points} points]"
        )


_ALPHA_AT_ZERO = (
    "y does not fall with x (it rises, is flat or is noise), so there is no power law to fit and x_c "
    "would be infinite; check that y decreases with x, or fit a rising quantity with fit_power_law"
)


def fit_saturating_power_law(
    x: ArrayLike, y: ArrayLike, e_fractions: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99)
) -> SaturatingPowerLawFit:
    """Fit y = E + (x_c / x)^α = E + A x^(-α) with E >= 0, α >= 0, minimising squared error in log space.

    Minimises Σ (log y - log(E + e^(log A) x^(-α)))² with ``scipy.optimize.least_squares`` over
    (E, log A, α), E bounded to [0, min y]. One start per E0 = f · min(y), f in ``e_fractions``; each
    start's (A, α) come from a straight-line fit of log(y - E0) on log x. The best end point wins.
    Needs at least 4 points with 3 distinct x. Raises ``ScalingFitError`` when α ends within
    ``checks.BOUND_TOL`` of its bound 0 (y does not fall with x) or the fit explains less than
    ``checks.R2_MIN`` of the variance of log y (noise).
    """
    x, y = check_inputs({"x": x, "y": y}, n_params=3, positive=("x", "y"))
    need_distinct("x", x, 3)
    lx, ly = np.log(x), np.log(y)
    y_min = float(y.min())

    def residual(theta: np.ndarray) -> np.ndarray:
        E, log_a, alpha = theta
        return ly - np.log(E + np.exp(log_a - alpha * lx))

    best = None
    with one_blas_thread():
        for fraction in e_fractions:
            e0 = min(max(fraction, 0.0), 0.999) * y_min
            slope, intercept = np.polyfit(lx, np.log(y - e0), 1)  # a power law through y - E0
            x0 = np.array([e0, intercept, max(-slope, 1e-3)])
            try:
                res = least_squares(residual, x0, bounds=([0.0, -np.inf, 0.0], [y_min, np.inf, np.inf]), x_scale="jac")
            except (ValueError, FloatingPointError):
                continue
            if np.all(np.isfinite(res.x)) and np.isfinite(res.cost) and (best is None or res.cost < best.cost):
                best = res
    if best is None:
        raise ScalingFitError(
            f"fit_saturating_power_law: the optimiser failed from all {len(e_fractions)} starting points; "
            "check the data (is y decreasing in x?) or try fit_power_law"
        )
    E, log_a, alpha = (float(v) for v in best.x)
    r = best.fun
    fit = SaturatingPowerLawFit(
        E=E,
        alpha=alpha,
        x_c=_x_c(log_a, alpha),
        A=float(np.exp(log_a)),
        r2=r_squared(ly, r),
        resid_std=resid_std(r, 3),
        n_points=x.size,
        n_starts=len(e_fractions),
    )
    check_exponent("fit_saturating_power_law", "α", alpha, {0.0: _ALPHA_AT_ZERO})
    check_r2(
        "fit_saturating_power_law",
        fit.r2,
        "log y",
        "check that y is the quantity that falls with x, or add points over a wider range of x",
    )
    return fit
