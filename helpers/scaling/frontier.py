"""The compute-optimal frontier measured from runs: IsoFLOP minima (Hoffmann et al. 2022, approach 2) and
the envelope of training curves (approach 1, and Kaplan et al. 2020's L(C) frontier).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from .checks import ScalingFitError, check_inputs, need_distinct, require_positive
from .power_laws import PowerLawFit, fit_power_law

LOSS = "it is a loss (a cross-entropy in nats, so a value <= 0 is a logging or sign error)"


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
    Needs losses > 0 and at least 4 points with 3 distinct N.
    """
    N, L = check_inputs({"N": N, "L": L}, n_params=3, positive=("N",))
    require_positive("L", L, LOSS)
    need_distinct("N", N, 3, "add runs of other model sizes at this budget")
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
    C, n = check_inputs({"budgets": budgets, "n_opts": n_opts}, n_params=2, positive=("budgets", "n_opts"))
    return IsoflopFrontier(n_fit=fit_power_law(C, n), d_fit=fit_power_law(C, C / (6.0 * n)))


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
        raise ScalingFitError(
            f"need one size per curve and at least 2 runs; got {len(curves)} curves, {sizes.size} sizes"
        )
    logs = []
    for j, (c, loss) in enumerate(curves):
        c, loss = check_inputs({f"C of run {j}": c, f"L of run {j}": loss}, n_params=0, positive=(f"C of run {j}",))
        require_positive(f"L of run {j}", loss, LOSS)
        if np.any(np.diff(c) <= 0):
            raise ScalingFitError(
                f"the compute of run {j} must increase along its curve: pass its evaluations in order"
            )
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
