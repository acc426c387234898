"""Chinchilla's parametric loss L(N, D) = E + A / N^α + B / D^β and the compute-optimal allocation it implies.

``fit_chinchilla`` is Hoffmann et al. (2022) approach 3; ``chinchilla_allocation`` evaluates the allocation
(N_opt, D_opt under C = 6 N D) for any constants, fitted or published.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import huber

from .checks import ScalingFitError, check_exponent, check_inputs, check_r2, need_distinct, one_blas_thread, r_squared

# The starting points of the fit: 3 · 3 · 3 · 4 · 4 = 432 starts (a few seconds for ~50 points). A subgrid,
# with the same span, of Hoffmann's 4500: α, β in {0, 0.5, 1, 1.5, 2}, e in {-1, -0.5, 0, 0.5, 1},
# a, b in {0, 5, 10, 15, 20, 25}.
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "alpha": (0.0, 1.0, 2.0),
    "beta": (0.0, 1.0, 2.0),
    "e": (-1.0, 0.0, 1.0),
    "a": (0.0, 5.0, 15.0, 25.0),
    "b": (0.0, 5.0, 15.0, 25.0),
}
_GRID_KEYS = ("a", "b", "e", "alpha", "beta")  # the order of the optimiser's parameter vector
# fits already made in this process, least recently used first: a notebook that refits the same runs (a
# checker and its solution, a view rebuilt from the cached sweeps) gets the fit back at once
_FITS: OrderedDict[tuple, ChinchillaFit] = OrderedDict()
_FITS_KEPT = 1024
EXPONENT_RANGE = (0.0, 10.0)  # the bounds of α and β in the optimiser
TERM_MIN = 1e-3  # a term A/N^α or B/D^β must change the loss by at least this fraction across the runs


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

    ``loss`` is the objective at the optimum, Σ_i Huber_δ(log L_i - log L̂_i), and ``r2`` the share of
    the variance of log L the fit explains. ``n_starts`` is the number of grid starts, ``n_failed`` how
    many of them ended non-finite, ``converged`` whether L-BFGS-B reported success for the winning
    start. The allocation properties follow
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
    r2: float

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
    "beta", "e", "a", "b") and keep the lowest. α, β are bounded to ``EXPONENT_RANGE`` = [0, 10].
    ``grid=None`` uses ``DEFAULT_GRID`` (432 starts, a few seconds on 2 CPU cores for ~50 points; a repeat
    call on the same data and settings returns the fit already made, the fit being deterministic). The
    objective is divided by n δ² inside the optimiser so that its tolerances act on a number of order one
    (the minimiser is the same); ``loss`` reports the plain sum.

    Needs at least 6 points with 3 distinct N and 3 distinct D. Raises ``ScalingFitError`` when the
    winning fit is degenerate, checked in this order: α or β within ``checks.BOUND_TOL`` of 0 or 10 (L
    does not fall with N or D, or falls as a step); a term A/N^α or B/D^β that changes the loss by less
    than ``TERM_MIN`` (a fraction of the mean loss) across the runs (L does not depend on N or D); R² of
    log L below ``checks.R2_MIN`` (noise).
    """
    N, D, L = check_inputs({"N": N, "D": D, "L": L}, n_params=5, positive=("N", "D", "L"))
    need_distinct("N", N, 3, "add runs of other model sizes")
    need_distinct("D", D, 3, "add runs on other numbers of training tokens")
    if not delta > 0:
        raise ValueError(f"delta={delta!r}: the Huber threshold must be > 0 (Hoffmann uses 1e-3)")
    grid = DEFAULT_GRID if grid is None else grid
    missing = set(_GRID_KEYS) - set(grid)
    if missing:
        raise ValueError(f"grid lacks {sorted(missing)}: give candidate values for each of {list(_GRID_KEYS)}")
    key = (N.tobytes(), D.tobytes(), L.tobytes(), delta, tuple(tuple(map(float, grid[k])) for k in _GRID_KEYS))
    if key in _FITS:  # the same data and settings: the same fit, without the optimiser's seconds
        _FITS.move_to_end(key)
        return _FITS[key]
    log_n, log_d, log_l = np.log(N), np.log(D), np.log(L)
    scale = 1.0 / (N.size * delta**2)
    args = (log_n, log_d, log_l, delta, scale)
    bounds = [(None, None), (None, None), (None, None), EXPONENT_RANGE, EXPONENT_RANGE]
    starts = list(itertools.product(*(grid[k] for k in _GRID_KEYS)))
    best, n_failed = None, 0
    with one_blas_thread():
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
    log_terms = np.stack([a - alpha * log_n, b - beta * log_d])  # log(A/N^α), log(B/D^β) at each run
    residual = log_l - np.logaddexp.reduce(np.vstack([log_terms, np.full_like(log_n, e)]), axis=0)
    fit = ChinchillaFit(
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
        r2=r_squared(log_l, residual),
    )
    _check_degenerate(fit, np.exp(log_terms), float(L.mean()))
    _FITS[key] = fit
    if len(_FITS) > _FITS_KEPT:
        _FITS.popitem(last=False)
    return fit


def _check_degenerate(fit: ChinchillaFit, terms: np.ndarray, mean_loss: float) -> None:
    """Raise ``ScalingFitError`` if ``fit`` fails a criterion of ``fit_chinchilla``, in its order.

    ``terms`` holds A/N^α and B/D^β at each run.
    """
    low, high = EXPONENT_RANGE
    variables = (("α", fit.alpha, "N", "D", "A/N^α", terms[0]), ("β", fit.beta, "D", "N", "B/D^β", terms[1]))
    for exponent, value, x, other, term, _ in variables:
        causes = {
            low: f"the loss does not fall with {x} in these data (it rises, is flat or is noise); check that L "
            f"decreases with {x} at fixed {other}, and add runs over a wider range of {x}",
            high: f"{term} drops like a step between the smallest {x} and the rest, so the data do not show how L "
            f"falls with {x}; add runs spread over a wider range of {x}",
        }
        check_exponent("fit_chinchilla", exponent, value, causes)
    for _, _, x, other, term, values in variables:
        spread = float(np.ptp(values))
        if spread < TERM_MIN * mean_loss:
            raise ScalingFitError(
                f"fit_chinchilla: the term {term} changes the fitted loss by only {spread:.2g} nats across the runs "
                f"(less than {TERM_MIN:g} of the mean loss {mean_loss:.3g}), so L does not depend on {x} in these "
                f"data and its constants are not determined; add runs over a wider range of {x}, or fit L({other}) "
                "alone with fit_saturating_power_law"
            )
    check_r2(
        "fit_chinchilla",
        fit.r2,
        "log L",
        "check that each L is the loss of its (N, D) run, and add runs over a wider range of N and D so the "
        "trend exceeds the scatter",
    )
