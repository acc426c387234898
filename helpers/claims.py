"""Claims a chapter asserts, with margins that hold on any machine.

A live run in a notebook trains on the reader's machine: another CPU, thread count or a GPU changes the
order of floating-point sums, and training can amplify that into a visibly different result. So a live
number is never compared with its cached twin (same configuration, same seed) bit for bit, but within a
tolerance grounded in how much that configuration moves between seeds in the cached sweep: a change of
machine is, at worst, another draw of the same noise.

- ``seed_spread(values)``: the sample standard deviation over seeds (two or more), per point for curves;
- ``pooled_spread(groups)``: one seed standard deviation pooled over several groups of seeds (each group one
  configuration), for a claim whose every configuration has only a few seeds;
- ``twin_check(name, live, cached, seeds, k=3, floor=0)``: the live result (a number, or a curve of numbers)
  must lie within ``max(k × seed spread, floor)`` of its cached twin at every point. ``floor`` covers a
  quantity whose cached seeds happen to agree (its value should be the measurement's own resolution or
  the measured effect of a thread-count change, stated where it is used). Raises ``AssertionError`` naming
  the values and the margin; returns the line a notebook prints, rounded so that it reads the same on every
  machine where the check passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def seed_spread(values: Sequence) -> np.ndarray | float:
    """Sample standard deviation (ddof 1) over seeds: ``values`` holds one number, or one curve, per seed.
    Raises ``ValueError`` for fewer than two seeds or a non-finite value."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim not in (1, 2) or len(arr) < 2:
        raise ValueError(f"seed_spread needs one value (or curve) for each of at least 2 seeds, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("seed_spread got a non-finite value; a spread needs finite results from every seed")
    out = arr.std(axis=0, ddof=1)
    return float(out) if out.ndim == 0 else out


def pooled_spread(groups: Sequence[Sequence[float]]) -> float:
    """The seed standard deviation pooled over ``groups`` (each the results of one configuration over its seeds):
    ``sqrt(Σ (n_i - 1) s_i² / Σ (n_i - 1))``, every group's own mean removed. Groups of one seed add nothing;
    ``ValueError`` when no group has two, or a value is not finite."""
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("pooled_spread got a non-finite value; a spread needs finite results from every seed")
    dof = sum(len(a) - 1 for a in arrays if len(a) > 1)
    if dof == 0:
        raise ValueError("pooled_spread needs at least one group with two or more seeds")
    return float(np.sqrt(sum(((a - a.mean()) ** 2).sum() for a in arrays if len(a) > 1) / dof))


def twin_check(
    name: str,
    live,
    cached,
    seeds: Sequence,
    *,
    k: float = 3.0,
    floor: float = 0.0,
    digits: int = 2,
    runs: str = "seeds",
) -> str:
    """Check a live result against its cached twin within ``max(k × seed spread, floor)`` (elementwise for
    curves) and return a one-line account of the check. ``runs`` names what ``seeds`` holds in that line
    (e.g. "reward models" when the spread is taken over several configurations' seeds). Raises
    ``AssertionError`` if any point lies outside."""
    live_a, cached_a = np.asarray(live, dtype=float), np.asarray(cached, dtype=float)
    if live_a.shape != cached_a.shape:
        raise ValueError(f"{name}: live {live_a.shape} and cached {cached_a.shape} results differ in shape")
    if k <= 0 or floor < 0:
        raise ValueError(f"k={k}, floor={floor}: k must be positive and floor >= 0")
    spread = np.asarray(seed_spread(seeds))
    if spread.shape not in ((), live_a.shape):
        raise ValueError(f"{name}: the seeds' results have shape {spread.shape}, the live one {live_a.shape}")
    tol = np.maximum(k * spread, floor)
    gap = np.abs(live_a - cached_a)
    n = len(seeds)
    if live_a.ndim == 0:
        line = (
            f"{name}: live {float(live_a):.{digits}f}, cached twin {float(cached_a):.{digits}f}; allowed "
            f"difference {float(tol):.{digits}f} (max of {k:g} x the seed std over {n} cached {runs}, "
            f"{float(spread):.{digits + 1}f}, and {floor:.{digits + 1}f})"
        )
        ok = bool(gap <= tol)
    else:
        worst = int(np.argmax(gap - tol))
        line = (
            f"{name}: live and cached twin differ by at most {gap.max():.{digits}f} over {gap.size} points; "
            f"allowed at each point: the max of {k:g} x its seed std over {n} cached {runs} and {floor:.{digits + 1}f}"
        )
        ok = bool(np.all(gap <= tol))
        if not ok:
            line += (
                f" (point {worst}: live {live_a[worst]:.4g}, cached {cached_a[worst]:.4g}, allowed {tol[worst]:.3g})"
            )
    if not ok:
        raise AssertionError(
            f"{line}. FAILED: the live run moved further from its twin than {k:g} seed standard deviations; "
            "something changed what the code computes (compare the configuration with the sweep's, or rerun the sweep)"
        )
    return line
