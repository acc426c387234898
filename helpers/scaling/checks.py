"""What every scaling-law fit checks: its inputs, its goodness of fit, and the error it raises.

A fit refuses data it cannot fit, by stated criteria, instead of returning numbers that look like a result:

- inputs (``check_inputs``, ``require_positive``, ``need_distinct``): 1-D arrays of one length, finite,
  positive where the fit takes a log or where the value is a loss, at least one point more than the
  parameters, and enough distinct x values to pin the law down;
- results (``check_exponent``, ``check_r2``): an exponent within ``BOUND_TOL`` of a bound of its search
  range is not an estimate but a sign that the data show no such trend; a fit that explains less than
  ``R2_MIN`` of the variance of log y describes noise, not a law.

Each raises ``ScalingFitError`` with a message naming the cause and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

BOUND_TOL = 1e-3  # an exponent closer than this to a bound of its range sits at the bound
R2_MIN = 0.5  # a law must explain at least half of the variance of log y


class ScalingFitError(ValueError, RuntimeError):
    """These data cannot give a trustworthy fit: malformed or too few points, or a degenerate optimum.

    A ``ValueError`` because the data are at fault, and a ``RuntimeError`` for code that catches failed
    optimisations. The message names the cause and the fix.
    """


def one_blas_thread():
    """Run BLAS on one thread inside the block (``threadpoolctl``), restoring it afterwards.

    scipy >= 1.15's L-BFGS-B calls BLAS/LAPACK on 5x5 problems; a multithreaded OpenBLAS then spends
    milliseconds per iteration synchronising threads (scipy issues #22438, #23191, OpenMathLib/OpenBLAS#5383).
    """
    return threadpool_limits(limits=1, user_api="blas")


def require_positive(name: str, arr: np.ndarray, why: str) -> None:
    """Raise ``ScalingFitError`` naming the first indices where ``arr`` <= 0, and ``why`` it must be > 0."""
    bad = np.flatnonzero(arr <= 0)
    if bad.size:
        raise ScalingFitError(
            f"{name} must be > 0 because {why}; found {float(arr[bad[0]])!r} at index "
            f"{bad[:5].tolist()}: drop or correct those points"
        )


def check_inputs(arrays: Mapping[str, ArrayLike], n_params: int, positive: Sequence[str] = ()) -> list[np.ndarray]:
    """Turn the named inputs into 1-D float arrays, or raise ``ScalingFitError`` saying what is wrong.

    Checks, in order: each is 1-D, all have the same length, all values are finite, the ``positive``
    ones are > 0 (they go through a log), and there are at least ``n_params + 1`` points (one more than
    the parameters, so that something is left to measure the misfit).
    """
    out = {}
    for name, values in arrays.items():
        arr = np.asarray(values, dtype=float)
        if arr.ndim != 1:
            raise ScalingFitError(f"{name} must be a 1-D array of values, one per point; got shape {arr.shape}")
        out[name] = arr
    lengths = {name: len(arr) for name, arr in out.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ScalingFitError(f"arrays of different lengths ({described}): pass one value of each per point")
    for name, arr in out.items():
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ScalingFitError(
                f"{name} contains NaN or inf at index {bad[:5].tolist()}: drop those points "
                "(e.g. runs that diverged) before fitting"
            )
    for name in positive:
        require_positive(name, out[name], f"the fit takes log({name})")
    n = next(iter(lengths.values()))
    if n < n_params + 1:
        raise ScalingFitError(
            f"need at least {n_params + 1} points to fit {n_params} parameters (one more than the parameters, "
            f"so the misfit can be measured); got {n}: add more runs or fit a simpler law"
        )
    return list(out.values())


def need_distinct(name: str, arr: np.ndarray, k: int, fix: str = "") -> None:
    """Raise ``ScalingFitError`` unless ``arr`` holds at least ``k`` distinct values."""
    m = np.unique(arr).size
    if m < k:
        raise ScalingFitError(
            f"need at least {k} distinct values of {name} to fit this law; got {m}: "
            + (fix or f"add points at other values of {name}")
        )


def check_exponent(fit: str, name: str, value: float, causes: Mapping[float, str]) -> None:
    """Raise ``ScalingFitError`` when exponent ``name`` lies within ``BOUND_TOL`` of a bound of its range.

    ``causes`` maps each bound to what an exponent pinned there says about the data, and the fix.
    """
    for bound, cause in causes.items():
        if abs(value - bound) <= BOUND_TOL:
            raise ScalingFitError(
                f"{fit}: {name} = {value:.4g} sits at the bound {bound:g} of its range, so it is not an "
                f"estimate: {cause}"
            )


def check_r2(fit: str, r2: float, what: str, fix: str) -> None:
    """Raise ``ScalingFitError`` when the fit explains less than ``R2_MIN`` of the variance of log y.

    A NaN ``r2`` (every y the same) fails too: there is no trend to fit.
    """
    if not r2 >= R2_MIN:
        raise ScalingFitError(
            f"{fit}: the fit explains R² = {r2:.3g} of the variance of {what} (less than {R2_MIN}): the data "
            f"look like noise around a constant, not a law; {fix}"
        )


def r_squared(y: np.ndarray, residual: np.ndarray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (NaN when y is constant)."""
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else float("nan")


def resid_std(residual: np.ndarray, n_params: int) -> float:
    """Standard deviation of the residuals with n - n_params degrees of freedom."""
    return float(np.sqrt(np.sum(residual**2) / (residual.size - n_params)))
