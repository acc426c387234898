"""Bootstrap percentile intervals for any scaling-law fit, resampling the points."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .checks import ScalingFitError, check_inputs


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
    (e.g. ``ScalingFitError`` for a resample with too few distinct x) or gives a non-finite parameter
    counts as failed: the count and reasons are returned, not dropped silently. Raises ``ScalingFitError`` if all fail.
    Each refit costs a full fit: for ``fit_chinchilla`` pass a small grid, e.g.
    ``functools.partial(fit_chinchilla, grid=...)``, or the default 432 starts make it minutes.
    """
    if not arrays:
        raise ValueError("bootstrap needs the data arrays to resample, e.g. bootstrap(fit_power_law, x, y)")
    if not 0 < ci < 1:
        raise ValueError(f"ci={ci!r} must lie strictly between 0 and 1 (e.g. 0.95)")
    if n < 2:
        raise ValueError(f"n={n!r}: use at least 2 resamples (hundreds for stable intervals)")
    data = check_inputs({f"array {i}": arr for i, arr in enumerate(arrays)}, n_params=0)
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
