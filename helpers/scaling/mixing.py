"""Ye et al. (2024)'s data mixing law: one domain's loss as a function of the training mixture.

    L_i(r) = c_i + k_i · exp(Σ_j t_ij r_j)

for mixture proportions r (non-negative, summing to 1). Because the proportions sum to 1, one of the t_ij
is redundant with k_i (adding a constant to every t_ij multiplies the exponential by a constant), so the
fit fixes the last domain's t at 0: t_ij then says how much a unit of domain j's share, taken from the last
domain, multiplies the reducible loss. Negative t_ij: domain j helps domain i more than the last domain does.

- ``fit_mixing_law``: one domain's law from the losses of proxy runs on several mixtures;
- ``best_mixture``: the mixture that minimises a weighted sum of fitted laws, within the proportions the
  laws were fitted on (a law is not trusted far outside its data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares, minimize

from .checks import ScalingFitError, check_r2, one_blas_thread, r_squared, resid_std


@dataclass(frozen=True)
class MixingLawFit:
    """A fitted L(r) = c + k exp(t · r) for one domain; ``t`` has one entry per domain, the last 0."""

    c: float
    k: float
    t: tuple[float, ...]
    r2: float  # on the fitted points
    rmse: float  # root-mean-square residual on the fitted points, nats
    resid_std: float  # residual standard deviation with n - parameters degrees of freedom

    def predict(self, mixtures: ArrayLike) -> np.ndarray:
        """The predicted loss of each mixture (rows of proportions, or one mixture)."""
        r = np.atleast_2d(np.asarray(mixtures, dtype=float))
        if r.shape[1] != len(self.t):
            raise ValueError(f"mixtures have {r.shape[1]} proportions; this law has {len(self.t)} domains")
        return self.c + self.k * np.exp(r @ np.asarray(self.t))


def _check_mixtures(mixtures: ArrayLike, losses: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(mixtures, dtype=float)
    y = np.asarray(losses, dtype=float)
    if r.ndim != 2 or y.ndim != 1 or len(r) != len(y):
        raise ScalingFitError(f"need one row of proportions per loss; got mixtures {r.shape}, losses {y.shape}")
    if not (np.isfinite(r).all() and np.isfinite(y).all()):
        raise ScalingFitError("mixtures or losses contain NaN or inf: drop those runs before fitting")
    if (r < -1e-9).any() or not np.allclose(r.sum(axis=1), 1, atol=1e-6):
        raise ScalingFitError("every mixture must be non-negative proportions summing to 1")
    if (y <= 0).any():
        raise ScalingFitError("losses must be > 0 (cross-entropies in nats)")
    n_params = r.shape[1] + 1  # c, k and one t per domain but the last
    if len(y) < n_params + 2:
        raise ScalingFitError(
            f"need at least {n_params + 2} mixtures to fit {n_params} parameters with something left to "
            f"measure the misfit; got {len(y)}: train proxies on more mixtures"
        )
    if np.linalg.matrix_rank(r) < r.shape[1]:
        raise ScalingFitError("the mixtures do not vary every proportion independently: add mixtures that do")
    return r, y


def fit_mixing_law(mixtures: ArrayLike, losses: ArrayLike) -> MixingLawFit:
    """Fit one domain's ``L(r) = c + k exp(t · r)`` to its ``losses`` on ``mixtures`` (rows of proportions).

    A least-squares fit from several starts, with 0 <= c < min(loss). Raises ``ScalingFitError`` for
    malformed input, too few mixtures, or a fit that explains less than half the variance of the losses."""
    r, y = _check_mixtures(mixtures, losses)
    free = r[:, :-1]

    def residual(theta):
        c, log_k, t = theta[0], theta[1], theta[2:]
        return c + np.exp(log_k + free @ t) - y

    best = None
    with one_blas_thread():
        for share in (0.0, 0.5, 0.9):
            c0 = share * y.min()
            theta0 = np.concatenate([[c0, np.log(y.mean() - c0)], np.zeros(free.shape[1])])
            lower = np.concatenate([[0.0, -20.0], np.full(free.shape[1], -50.0)])
            upper = np.concatenate([[y.min() * (1 - 1e-9), 20.0], np.full(free.shape[1], 50.0)])
            fit = least_squares(residual, theta0, bounds=(lower, upper), method="trf")
            if fit.success and (best is None or fit.cost < best.cost):
                best = fit
    if best is None:
        raise ScalingFitError("the optimiser failed from every start: check the losses, or add mixtures")
    res = residual(best.x)
    r2 = r_squared(y, res)
    check_r2("fit_mixing_law", r2, "the losses", "the proportions barely move this loss; fit a constant instead")
    t = (*best.x[2:].tolist(), 0.0)
    n_params = len(best.x)
    rmse = float(np.sqrt(np.mean(res**2)))
    return MixingLawFit(float(best.x[0]), float(np.exp(best.x[1])), t, r2, rmse, resid_std(res, n_params))


def best_mixture(
    laws: Sequence[MixingLawFit], importance: ArrayLike | None = None, low: ArrayLike = 0.0, high: ArrayLike = 1.0
) -> np.ndarray:
    """The proportions that minimise Σ_i importance_i · L_i(r) over mixtures with ``low`` <= r <= ``high``
    (per domain or one value), summing to 1. ``importance`` defaults to equal weights (the mean loss)."""
    m = len(laws[0].t)
    w = np.full(len(laws), 1 / len(laws)) if importance is None else np.asarray(importance, dtype=float)
    lo, hi = np.broadcast_to(np.asarray(low, dtype=float), (m,)), np.broadcast_to(np.asarray(high, dtype=float), (m,))
    if lo.sum() > 1 + 1e-9 or hi.sum() < 1 - 1e-9 or (lo > hi).any():
        raise ValueError(f"no mixture lies within low={lo.tolist()} and high={hi.tolist()} and sums to 1")

    def objective(r):
        return float(sum(wi * law.predict(r)[0] for wi, law in zip(w, laws)))

    starts = [np.clip(np.full(m, 1 / m), lo, hi), *[np.clip(np.eye(m)[j] * 0.7 + 0.3 / m, lo, hi) for j in range(m)]]
    best = None
    for start in starts:
        got = minimize(
            objective, start / start.sum(), method="SLSQP", bounds=list(zip(lo, hi)),
            constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1}],
        )  # fmt: skip
        if got.success and (best is None or got.fun < best.fun):
            best = got
    if best is None:
        raise ScalingFitError("the mixture search failed from every start: check the fitted laws")
    return np.clip(best.x, lo, hi) / np.clip(best.x, lo, hi).sum()
