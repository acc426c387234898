"""Scaling-law fits: power laws, the Chinchilla parametric loss, IsoFLOP minima and bootstrap intervals.

Everything Chapter 2 fits to the losses of the tiny models it trains, in one module, built on numpy
and scipy (no hand-rolled optimisers). Losses are in nats; ``N`` is a parameter count, ``D`` a number
of training tokens and ``C ≈ 6 N D`` the training compute in FLOPs (see ``helpers.model``).

- ``fit_power_law``: L = (x_c / x)^α, a straight line in log-log space (Kaplan et al. 2020).
- ``fit_saturating_power_law``: L = E + (x_c / x)^α, a power law on top of an irreducible loss E.
- ``fit_chinchilla``: L(N, D) = E + A / N^α + B / D^β, Hoffmann et al. (2022) approach 3, with the
  compute-optimal allocation it implies (``ChinchillaFit.n_opt`` and friends); ``chinchilla_allocation``
  evaluates the same allocation for published constants.
- ``isoflop_minimum`` and ``fit_isoflop_frontier``: Hoffmann's approach 2 (a parabola per compute
  budget, then a power law through the minima).
- ``loss_envelope``: Hoffmann's approach 1 and Kaplan's L(C) frontier, the lowest loss any run reached
  at each compute budget.
- ``bootstrap``: percentile intervals for any of the fits above, resampling the points.

Bad input raises ``ValueError`` naming the problem and the fix; a fit whose optimiser fails from every
starting point raises ``ScalingFitError``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares, minimize
from scipy.special import huber
from threadpoolctl import threadpool_limits

__all__ = [
    "ScalingFitError",
    "PowerLawFit",
    "SaturatingPowerLawFit",
    "ChinchillaFit",
    "Allocation",
    "IsoflopMinimum",
    "IsoflopFrontier",
    "Envelope",
    "BootstrapResult",
    "fit_power_law",
    "fit_saturating_power_law",
    "fit_chinchilla",
    "chinchilla_allocation",
    "isoflop_minimum",
    "fit_isoflop_frontier",
    "loss_envelope",
    "bootstrap",
    "HOFFMANN_GRID",
    "DEFAULT_GRID",
]


class ScalingFitError(RuntimeError):
    """The optimiser found no usable fit (every start failed, or the data have no minimum to find)."""


def _one_blas_thread():
    """Run BLAS on one thread inside the block (``threadpoolctl``), restoring it afterwards.

    scipy >= 1.15's L-BFGS-B calls BLAS/LAPACK on 5x5 problems; a multithreaded OpenBLAS then spends
    milliseconds per iteration synchronising threads (10-30x slower on a busy 2-core machine; scipy
    issues #22438, #23191, OpenMathLib/OpenBLAS#5383).
    """
    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------


def _check(arrays: Mapping[str, ArrayLike], n_params: int, positive: Sequence[str] = ()) -> list[np.ndarray]:
    """Turn the named inputs into 1-D float arrays, or raise ``ValueError`` saying what is wrong.

    Checks, in order: each is 1-D, all have the same length, all values are finite, the ``positive``
    ones are > 0 (they go through a log), and there are at least ``n_params + 1`` points (one more than
    the parameters, so that something is left to measure the misfit).
    """
    out = {}
    for name, values in arrays.items():
        arr = np.asarray(values, dtype=float)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of values, one per point; got shape {arr.shape}")
        out[name] = arr
    lengths = {name: len(arr) for name, arr in out.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"arrays of different lengths ({described}): pass one value of each per point")
    for name, arr in out.items():
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(
                f"{name} contains NaN or inf at index {bad[:5].tolist()}: drop those points "
                "(e.g. runs that diverged) before fitting"
            )
    for name in positive:
        bad = np.flatnonzero(out[name] <= 0)
        if bad.size:
            raise ValueError(
                f"{name} must be > 0 because the fit takes log({name}); found {float(out[name][bad[0]])!r} at index "
                f"{bad[:5].tolist()}: drop or correct those points"
            )
    n = next(iter(lengths.values()))
    if n < n_params + 1:
        raise ValueError(
            f"need at least {n_params + 1} points to fit {n_params} parameters (one more than the parameters, "
            f"so the misfit can be measured); got {n}: add more runs or fit a simpler law"
        )
    return list(out.values())


def _need_distinct(name: str, arr: np.ndarray, k: int) -> None:
    if np.unique(arr).size < k:
        raise ValueError(f"{name} needs at least {k} distinct values to fit this law; got {np.unique(arr).size}")


def _r2(y: np.ndarray, residual: np.ndarray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (NaN when y is constant)."""
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else float("nan")


def _resid_std(residual: np.ndarray, n_params: int) -> float:
    """Standard deviation of the residuals with n - n_params degrees of freedom."""
    return float(np.sqrt(np.sum(residual**2) / (residual.size - n_params)))


def _x_c(log_prefactor: float, alpha: float) -> float:
    """x_c in (x_c / x)^α = prefactor · x^-α, i.e. x_c = prefactor^(1/α) (NaN for α = 0, may be inf)."""
    if alpha == 0:
        return float("nan")
    with np.errstate(over="ignore"):
        return float(np.exp(log_prefactor / alpha))


# ---------------------------------------------------------------------------------------------------
# Power laws
# ---------------------------------------------------------------------------------------------------


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
    Needs x, y > 0 and at least 3 points with 2 distinct x.
    """
    x, y = _check({"x": x, "y": y}, n_params=2, positive=("x", "y"))
    _need_distinct("x", x, 2)
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (intercept + slope * lx)
    alpha = float(-slope)
    return PowerLawFit(
        alpha=alpha,
        x_c=_x_c(float(intercept), alpha),
        prefactor=float(np.exp(intercept)),
        r2=_r2(ly, residual),
        resid_std=_resid_std(residual, 2),
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


def fit_saturating_power_law(
    x: ArrayLike, y: ArrayLike, e_fractions: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99)
) -> SaturatingPowerLawFit:
    """Fit y = E + (x_c / x)^α = E + A x^(-α) with E >= 0, α >= 0, minimising squared error in log space.

    Minimises Σ (log y - log(E + e^(log A) x^(-α)))² with ``scipy.optimize.least_squares`` over
    (E, log A, α), E bounded to [0, min y]. One start per E0 = f · min(y), f in ``e_fractions``; each
    start's (A, α) come from a straight-line fit of log(y - E0) on log x. The best end point wins.
    Needs at least 4 points with 3 distinct x.
    """
    x, y = _check({"x": x, "y": y}, n_params=3, positive=("x", "y"))
    _need_distinct("x", x, 3)
    lx, ly = np.log(x), np.log(y)
    y_min = float(y.min())

    def residual(theta: np.ndarray) -> np.ndarray:
        E, log_a, alpha = theta
        return ly - np.log(E + np.exp(log_a - alpha * lx))

    best = None
    with _one_blas_thread():
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
    return SaturatingPowerLawFit(
        E=E,
        alpha=alpha,
        x_c=_x_c(log_a, alpha),
        A=float(np.exp(log_a)),
        r2=_r2(ly, r),
        resid_std=_resid_std(r, 3),
        n_points=x.size,
        n_starts=len(e_fractions),
    )


# ---------------------------------------------------------------------------------------------------
# Chinchilla: L(N, D) = E + A / N^α + B / D^β and the compute-optimal allocation
# ---------------------------------------------------------------------------------------------------

# Hoffmann et al. (2022), approach 3: 5 · 5 · 5 · 6 · 6 = 4500 starting points.
HOFFMANN_GRID: dict[str, tuple[float, ...]] = {
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}
# A subgrid of Hoffmann's with the same span: 3 · 3 · 3 · 4 · 4 = 432 starts (a few seconds for ~50 points).
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "alpha": (0.0, 1.0, 2.0),
    "beta": (0.0, 1.0, 2.0),
    "e": (-1.0, 0.0, 1.0),
    "a": (0.0, 5.0, 15.0, 25.0),
    "b": (0.0, 5.0, 15.0, 25.0),
}
_GRID_KEYS = ("a", "b", "e", "alpha", "beta")  # the order of the optimiser's parameter vector


@dataclass(frozen=True)
class Allocation:
    """Compute-optimal model size and data for a budget C (FLOPs), from L(N, D) = E + A/N^α + B/D^β.

    a = β/(α+β), b = α/(α+β), G = (αA / (βB))^(1/(α+β)), N_opt = G (C/6)^a, D_opt = C / (6 N_opt)
    = G^-1 (C/6)^b, ``loss`` = L(N_opt, D_opt). Array-valued when C is an array.
    """

    C: np.ndarray | float
    a: float
    b: float
    G: float
    n_opt: np.ndarray | float
    d_opt: np.ndarray | float
    tokens_per_param: np.ndarray | float
    loss: np.ndarray | float

    def __str__(self) -> str:
        c, n, d, r, loss = (
            np.atleast_1d(v) for v in (self.C, self.n_opt, self.d_opt, self.tokens_per_param, self.loss)
        )
        rows = [
            f"  C = {ci:.3g}: N_opt = {ni:.3g}, D_opt = {di:.3g}, D/N = {ri:.3g}, L = {li:.4g}"
            for ci, ni, di, ri, li in zip(c, n, d, r, loss)
        ]
        return f"N_opt = {self.G:.4g}·(C/6)^{self.a:.4f}, D_opt ∝ C^{self.b:.4f}\n" + "\n".join(rows)


def _scalar_or_array(v: np.ndarray) -> np.ndarray | float:
    return float(v) if np.ndim(v) == 0 else v


def chinchilla_allocation(E: float, A: float, B: float, alpha: float, beta: float, C: ArrayLike) -> Allocation:
    """Compute-optimal allocation implied by L(N, D) = E + A/N^α + B/D^β under C = 6 N D (Hoffmann eq. 4).

    Minimising L subject to 6ND = C gives N_opt = G (C/6)^a and D_opt = G^-1 (C/6)^b with
    a = β/(α+β), b = α/(α+β), G = (αA / (βB))^(1/(α+β)); the optimal tokens per parameter is
    D_opt / N_opt = G^-2 (C/6)^(b-a), a constant only when α = β.
    """
    if not all(np.isfinite(v) and v > 0 for v in (A, B, alpha, beta)):
        raise ValueError(f"A, B, alpha, beta must be finite and > 0 for an allocation; got {(A, B, alpha, beta)}")
    C = np.asarray(C, dtype=float)
    if not np.all(np.isfinite(C) & (C > 0)):
        raise ValueError("C must be finite and > 0 (a compute budget in FLOPs)")
    a, b = beta / (alpha + beta), alpha / (alpha + beta)
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    n_opt = G * (C / 6.0) ** a
    d_opt = C / (6.0 * n_opt)
    loss = E + A / n_opt**alpha + B / d_opt**beta
    return Allocation(
        C=_scalar_or_array(C),
        a=a,
        b=b,
        G=float(G),
        n_opt=_scalar_or_array(n_opt),
        d_opt=_scalar_or_array(d_opt),
        tokens_per_param=_scalar_or_array(d_opt / n_opt),
        loss=_scalar_or_array(loss),
    )


@dataclass(frozen=True)
class ChinchillaFit:
    """L(N, D) = E + A / N^α + B / D^β, fitted by ``fit_chinchilla``.

    ``loss`` is the objective at the optimum, Σ_i Huber_δ(log L_i - log L̂_i). ``n_starts`` is the
    number of grid starts, ``n_failed`` how many of them ended non-finite, ``converged`` whether
    L-BFGS-B reported success for the winning start. The allocation properties follow
    ``chinchilla_allocation``: a = β/(α+β), b = α/(α+β), G = (αA/(βB))^(1/(α+β)).
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    loss: float
    n_starts: int
    n_failed: int
    n_points: int
    converged: bool
    delta: float

    PARAMS: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta", "a")

    def predict(self, N: ArrayLike, D: ArrayLike) -> np.ndarray:
        """E + A N^(-α) + B D^(-β), broadcasting N against D."""
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A * N ** (-self.alpha) + self.B * D ** (-self.beta)

    @property
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a: β / (α + β)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b: α / (α + β)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """(αA / (βB))^(1/(α+β))."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    def allocation(self, C: ArrayLike) -> Allocation:
        """The compute-optimal N, D, D/N and loss at budget(s) C; see ``chinchilla_allocation``."""
        return chinchilla_allocation(self.E, self.A, self.B, self.alpha, self.beta, C)

    def n_opt(self, C: ArrayLike) -> np.ndarray | float:
        """G (C/6)^a."""
        return self.allocation(C).n_opt

    def d_opt(self, C: ArrayLike) -> np.ndarray | float:
        """C / (6 N_opt) = G^-1 (C/6)^b."""
        return self.allocation(C).d_opt

    def tokens_per_param(self, C: ArrayLike) -> np.ndarray | float:
        """D_opt / N_opt = G^-2 (C/6)^(b-a)."""
        return self.allocation(C).tokens_per_param

    def __str__(self) -> str:
        return (
            f"L(N, D) = {self.E:.4g} + {self.A:.4g}/N^{self.alpha:.4f} + {self.B:.4g}/D^{self.beta:.4f}   "
            f"[N_opt ∝ C^{self.a:.3f}, D_opt ∝ C^{self.b:.3f}; Huber loss {self.loss:.3g}, "
            f"{self.n_points} points, {self.n_starts} starts, {self.n_failed} failed]"
        )


def _chinchilla_objective(theta: np.ndarray, log_n, log_d, log_l, delta: float, scale: float):
    """scale · Σ Huber_δ(log L - LSE(a - α log N, b - β log D, e)) and its gradient in θ = (a, b, e, α, β)."""
    a, b, e, alpha, beta = theta
    z = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    lse = np.logaddexp.reduce(z, axis=0)  # the LSE, stable; ~30x faster per call than scipy.special.logsumexp
    r = log_l - lse
    weights = np.exp(z - lse)  # softmax: d LSE / d (a, b, e)
    psi = np.clip(r, -delta, delta)  # d Huber / d r
    d_lse = np.stack([weights[0], weights[1], weights[2], -weights[0] * log_n, -weights[1] * log_d])
    return scale * float(huber(delta, r).sum()), -scale * (d_lse @ psi)


def fit_chinchilla(
    N: ArrayLike,
    D: ArrayLike,
    L: ArrayLike,
    delta: float = 1e-3,
    grid: Mapping[str, Sequence[float]] | None = None,
) -> ChinchillaFit:
    """Fit L(N, D) = E + A/N^α + B/D^β as Hoffmann et al. (2022) approach 3.

    With A = e^a, B = e^b, E = e^e, minimise Σ_i Huber_δ(log L_i - LSE(a - α log N_i, b - β log D_i, e))
    (δ = 1e-3) by L-BFGS-B from every point of ``grid`` (a dict of candidate values for "alpha",
    "beta", "e", "a", "b") and keep the lowest. α, β are bounded to [0, 10]. ``grid=None`` uses
    ``DEFAULT_GRID`` (432 starts, a few seconds on 2 CPU cores for ~50 points); pass ``HOFFMANN_GRID``
    for the paper's 4500 starts. The objective is divided by n δ² inside the optimiser so that its
    tolerances act on a number of order one (the minimiser is the same); ``loss`` reports the plain sum.
    Needs at least 6 points.
    """
    N, D, L = _check({"N": N, "D": D, "L": L}, n_params=5, positive=("N", "D", "L"))
    if not delta > 0:
        raise ValueError(f"delta={delta!r}: the Huber threshold must be > 0 (Hoffmann uses 1e-3)")
    grid = DEFAULT_GRID if grid is None else grid
    missing = set(_GRID_KEYS) - set(grid)
    if missing:
        raise ValueError(f"grid lacks {sorted(missing)}: give candidate values for each of {list(_GRID_KEYS)}")
    log_n, log_d, log_l = np.log(N), np.log(D), np.log(L)
    scale = 1.0 / (N.size * delta**2)
    args = (log_n, log_d, log_l, delta, scale)
    bounds = [(None, None), (None, None), (None, None), (0.0, 10.0), (0.0, 10.0)]
    starts = list(itertools.product(*(grid[k] for k in _GRID_KEYS)))
    best, n_failed = None, 0
    with _one_blas_thread():
        for x0 in starts:
            res = minimize(
                _chinchilla_objective,
                np.array(x0, dtype=float),
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 1000},
            )
            if not (np.isfinite(res.fun) and np.all(np.isfinite(res.x))):
                n_failed += 1
            elif best is None or res.fun < best.fun:
                best = res
    if best is None:
        raise ScalingFitError(
            f"fit_chinchilla: L-BFGS-B failed (non-finite result) from all {len(starts)} starting points; "
            "check that L decreases with N and D, or pass a different grid"
        )
    a, b, e, alpha, beta = (float(v) for v in best.x)
    return ChinchillaFit(
        E=math.exp(e),
        A=math.exp(a),
        B=math.exp(b),
        alpha=alpha,
        beta=beta,
        loss=float(best.fun) / scale,
        n_starts=len(starts),
        n_failed=n_failed,
        n_points=N.size,
        converged=bool(best.success),
        delta=delta,
    )


# ---------------------------------------------------------------------------------------------------
# IsoFLOP profiles (Hoffmann approach 2)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IsoflopMinimum:
    """Parabola L ≈ L_min + (curvature / 2) (ln N - ln n_opt)² through one IsoFLOP profile.

    ``curvature`` is d²L / d(ln N)² (nats per e-fold squared). ``interior`` is False when n_opt lies
    outside the sampled sizes: the minimum is then an extrapolation, so add models beyond it.
    """

    n_opt: float
    loss_min: float
    curvature: float
    interior: bool
    n_range: tuple[float, float]

    def predict(self, N: ArrayLike) -> np.ndarray:
        u = np.log(np.asarray(N, dtype=float)) - math.log(self.n_opt)
        return self.loss_min + 0.5 * self.curvature * u**2

    def __str__(self) -> str:
        where = "inside" if self.interior else "OUTSIDE (extrapolated)"
        return (
            f"N_opt = {self.n_opt:.4g} ({where} the sampled {self.n_range[0]:.3g}..{self.n_range[1]:.3g}), "
            f"L_min = {self.loss_min:.4f}, curvature {self.curvature:.3g}"
        )


def isoflop_minimum(N: ArrayLike, L: ArrayLike, require_interior: bool = False) -> IsoflopMinimum:
    """Fit L = c2 u² + c1 u + c0, u = ln N, to one compute budget's runs and return its minimum.

    N_opt = exp(-c1 / (2 c2)), L_min = c0 - c1² / (4 c2), curvature = 2 c2. Raises ``ScalingFitError``
    when the parabola opens downward (c2 <= 0: no minimum), and also when the minimum lies outside the
    sampled range if ``require_interior``; otherwise that case is flagged by ``interior=False``.
    Needs at least 4 points with 3 distinct N.
    """
    N, L = _check({"N": N, "L": L}, n_params=3, positive=("N",))
    _need_distinct("N", N, 3)
    u = np.log(N)
    u0 = float(u.mean())  # centre ln N so the fit is well conditioned
    c2, c1, c0 = np.polyfit(u - u0, L, 2)
    n_range = (float(N.min()), float(N.max()))
    if c2 <= 0:
        raise ScalingFitError(
            f"isoflop_minimum: the parabola opens downward (curvature {2 * c2:.3g} <= 0), so it has no minimum; "
            f"the sizes {n_range[0]:.3g}..{n_range[1]:.3g} do not bracket the optimum: add smaller and larger models"
        )
    u_min = u0 - c1 / (2 * c2)
    interior = bool(u.min() < u_min < u.max())
    result = IsoflopMinimum(
        n_opt=float(np.exp(u_min)),
        loss_min=float(c0 - c1**2 / (4 * c2)),
        curvature=float(2 * c2),
        interior=interior,
        n_range=n_range,
    )
    if require_interior and not interior:
        raise ScalingFitError(
            f"isoflop_minimum: the minimum N = {result.n_opt:.3g} lies outside the sampled sizes "
            f"{n_range[0]:.3g}..{n_range[1]:.3g}: add models on that side of the range"
        )
    return result


@dataclass(frozen=True)
class IsoflopFrontier:
    """N_opt ∝ C^a and D_opt ∝ C^b from IsoFLOP minima, with D_opt = C / (6 N_opt) (so a + b = 1)."""

    n_fit: PowerLawFit
    d_fit: PowerLawFit

    PARAMS: ClassVar[tuple[str, ...]] = ("a", "b")

    @property
    def a(self) -> float:
        return self.n_fit.slope

    @property
    def b(self) -> float:
        return self.d_fit.slope

    def n_opt(self, C: ArrayLike) -> np.ndarray:
        return self.n_fit.predict(C)

    def d_opt(self, C: ArrayLike) -> np.ndarray:
        return self.d_fit.predict(C)

    def __str__(self) -> str:
        return f"N_opt ∝ C^{self.a:.3f} (R² {self.n_fit.r2:.3f}), D_opt ∝ C^{self.b:.3f}"


def fit_isoflop_frontier(budgets: ArrayLike, n_opts: ArrayLike) -> IsoflopFrontier:
    """Power laws N_opt = k C^a and D_opt = C / (6 N_opt) = k' C^b through (budget, N_opt) pairs.

    Both are ``fit_power_law`` fits (a = -α of the N fit); since log D_opt = log C - log 6 - log N_opt
    exactly, the least-squares slopes satisfy a + b = 1. Needs at least 3 budgets.
    """
    C, n = _check({"budgets": budgets, "n_opts": n_opts}, n_params=2, positive=("budgets", "n_opts"))
    return IsoflopFrontier(n_fit=fit_power_law(C, n), d_fit=fit_power_law(C, C / (6.0 * n)))


# ---------------------------------------------------------------------------------------------------
# The envelope of training curves (Hoffmann approach 1, Kaplan's L(C) frontier)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """The lowest loss any run reached at each compute ``C`` of a log-spaced grid, and which run.

    ``loss[i]`` is the minimum over runs of their training curve at ``C[i]`` (linear interpolation in
    log C between evaluations, no extrapolation beyond a run's first and last evaluation); ``n[i]`` is
    the size of the winning run and ``winner[i]`` its index in the input. Power-law fits of ``n`` and
    ``loss`` against ``C`` give N_opt ∝ C^a (approach 1) and L(C) = (C_c / C)^α_C (Kaplan).
    """

    C: np.ndarray
    loss: np.ndarray
    n: np.ndarray
    winner: np.ndarray

    def n_fit(self) -> PowerLawFit:
        """N_opt = k C^a through the envelope's winners (a = the fit's slope)."""
        return fit_power_law(self.C, self.n)

    def loss_fit(self) -> PowerLawFit:
        """L(C) = (C_c / C)^α_C through the envelope."""
        return fit_power_law(self.C, self.loss)


def loss_envelope(
    curves: Sequence[tuple[ArrayLike, ArrayLike]], sizes: ArrayLike, n_grid: int = 25, c_range=None
) -> Envelope:
    """The envelope of training curves: for ``n_grid`` log-spaced budgets, the lowest loss any run had
    after spending that much compute, and that run's size.

    ``curves[j] = (C, L)`` is run j's evaluations: compute spent so far (FLOPs, increasing) and loss;
    ``sizes[j]`` its parameter count. ``c_range=(lo, hi)`` limits the grid (default: from the smallest
    compute every run has passed to the largest any run reached), so each budget is covered by several
    runs. A point on a cosine schedule's way down is not the loss a run *planned* for that length would
    reach (Hoffmann trained four horizons per size for this reason), so read the result as a bound.
    """
    sizes = np.asarray(sizes, dtype=float)
    if len(curves) != sizes.size or sizes.size < 2:
        raise ValueError(f"need one size per curve and at least 2 runs; got {len(curves)} curves, {sizes.size} sizes")
    logs = []
    for j, (c, loss) in enumerate(curves):
        c, loss = _check({f"C of run {j}": c, f"L of run {j}": loss}, n_params=0, positive=(f"C of run {j}",))
        if np.any(np.diff(c) <= 0):
            raise ValueError(f"the compute of run {j} must increase along its curve")
        logs.append((np.log(c), loss))
    if c_range is None:
        c_range = (math.exp(max(lc[0] for lc, _ in logs)), math.exp(max(lc[-1] for lc, _ in logs)))
    lo, hi = c_range
    if not 0 < lo < hi:
        raise ValueError(f"c_range={c_range!r} must be (lo, hi) with 0 < lo < hi")
    grid = np.geomspace(lo, hi, n_grid)
    table = np.full((len(logs), n_grid), np.inf)
    for j, (lc, loss) in enumerate(logs):
        inside = (np.log(grid) >= lc[0] - 1e-9) & (np.log(grid) <= lc[-1] + 1e-9)
        table[j, inside] = np.interp(np.log(grid[inside]), lc, loss)
    covered = np.isfinite(table).any(axis=0)
    winner = np.argmin(table, axis=0)[covered]
    return Envelope(C=grid[covered], loss=table[winner, np.flatnonzero(covered)], n=sizes[winner], winner=winner)


# ---------------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile intervals from ``bootstrap``: ``intervals[name] = (low, high)`` at level ``ci``.

    ``samples[name]`` holds the successful refits' values; ``n_failed`` refits raised or gave a
    non-finite parameter, with their reasons counted in ``failures``.
    """

    intervals: dict[str, tuple[float, float]]
    samples: dict[str, np.ndarray]
    n_ok: int
    n_failed: int
    failures: dict[str, int]
    ci: float

    def __str__(self) -> str:
        rows = [f"  {k}: [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in self.intervals.items()]
        tail = f", {self.n_failed} failed refits" if self.n_failed else ""
        return f"{self.ci:.0%} bootstrap intervals ({self.n_ok} refits{tail}):\n" + "\n".join(rows)


def bootstrap(
    fit_fn: Callable[..., object],
    *arrays: ArrayLike,
    n: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    params: Sequence[str] | None = None,
) -> BootstrapResult:
    """Resample the points with replacement ``n`` times, refit with ``fit_fn``, return percentile intervals.

    Each refit calls ``fit_fn(*(arr[idx] for arr in arrays))`` with the same random indices for every
    array (``numpy.random.default_rng(seed)``). The interval for a parameter is its
    [(1-ci)/2, (1+ci)/2] percentile over the successful refits. ``params`` names the attributes to
    collect; by default the fit's ``PARAMS``. A refit that raises ``ValueError`` or ``RuntimeError``
    (e.g. a resample with too few distinct x) or gives a non-finite parameter counts as failed: the
    count and reasons are returned, not dropped silently. Raises ``ScalingFitError`` if all fail.
    Each refit costs a full fit: for ``fit_chinchilla`` pass a small grid, e.g.
    ``functools.partial(fit_chinchilla, grid=...)``, or the default 432 starts make it minutes.
    """
    if not arrays:
        raise ValueError("bootstrap needs the data arrays to resample, e.g. bootstrap(fit_power_law, x, y)")
    if not 0 < ci < 1:
        raise ValueError(f"ci={ci!r} must lie strictly between 0 and 1 (e.g. 0.95)")
    if n < 2:
        raise ValueError(f"n={n!r}: use at least 2 resamples (hundreds for stable intervals)")
    data = _check({f"array {i}": arr for i, arr in enumerate(arrays)}, n_params=0)
    m = data[0].size
    rng = np.random.default_rng(seed)
    names = tuple(params) if params is not None else None
    values: dict[str, list[float]] = {}
    failures: Counter[str] = Counter()
    for _ in range(n):
        idx = rng.integers(0, m, size=m)
        try:
            fit = fit_fn(*(arr[idx] for arr in data))
        except (ValueError, RuntimeError) as err:
            failures[f"{type(err).__name__}: {err}"[:200]] += 1
            continue
        if names is None:
            names = getattr(fit, "PARAMS", None)
            if names is None:
                raise ValueError(f"{type(fit).__name__} has no PARAMS: pass params=('alpha', ...) to bootstrap")
        row = {k: float(getattr(fit, k)) for k in names}
        bad = [k for k, v in row.items() if not math.isfinite(v)]
        if bad:
            failures[f"non-finite {', '.join(bad)}"] += 1
            continue
        for k, v in row.items():
            values.setdefault(k, []).append(v)
    n_ok = n - sum(failures.values())
    if n_ok == 0:
        reasons = "; ".join(f"{r} (x{c})" for r, c in failures.most_common(3))
        raise ScalingFitError(f"bootstrap: all {n} refits failed: {reasons}")
    lo_q, hi_q = 100 * (1 - ci) / 2, 100 * (1 + ci) / 2
    samples = {k: np.array(v) for k, v in values.items()}
    intervals = {k: (float(np.percentile(v, lo_q)), float(np.percentile(v, hi_q))) for k, v in samples.items()}
    return BootstrapResult(
        intervals=intervals,
        samples=samples,
        n_ok=n_ok,
        n_failed=n - n_ok,
        failures=dict(failures),
        ci=ci,
    )
