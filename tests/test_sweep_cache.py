"""The cached sweeps stay honest: re-train the cheapest points of each and compare.

A cached CSV is only trustworthy while today's code still produces it. For every chapter-2 sweep
this re-trains its two cheapest points, and for chapter 6's family and each of chapter 9's grids their
cheapest point, whose task scores must agree too (the seed sweeps of chapters 1 and 2 are re-checked
by their notebooks, which re-train seed 0 live, and chapter 6 re-trains three more of its points
live). Each point is trained with the number of CPU threads the cached run used, and the final
validation loss must agree to within 0.01 nats/char. With the same thread count on the same kind of
machine a run is reproduced to the last printed digit; a different thread count changes the order of
floating-point sums, which a long run at a low learning rate shrugs off (about 1e-5) but a 125-step
run at a high one can turn into 0.02. So only rows that record their thread count are re-checked
(rows cached before the count was kept are skipped), and 0.01 flags a real change in what the code
computes while staying far below the differences the chapters draw conclusions from.
"""

import json
import math

import pytest
import torch

from helpers.sweep import known_grids, load_sweep, run_point

TOLERANCE = 0.01  # nats/char; see the module docstring


def _cheapest(name: str, k: int = 2) -> list[dict]:
    rows = [r for r in load_sweep(name) if r["threads"] is not None]
    return sorted(rows, key=lambda r: r["steps"] * r["non_embedding"])[:k]


# ch02_seeds is left to chapter 2, which re-trains its seed 0 live and checks it against the cached value
CHECKED = {
    **{n: 2 for n in known_grids() if n.startswith("ch02_") and n != "ch02_seeds"},
    "ch06_family": 1,
    **{n: 1 for n in ("ch09_formats", "ch09_multiplication", "ch09_length", "ch09_scale", "ch09_code")},
}


def _same_scores(fresh, cached, where: str) -> None:
    """Every float among the cached task scores (nested dicts included) agrees with the fresh run's."""
    if isinstance(cached, dict):
        for key, value in cached.items():
            _same_scores(fresh[key], value, f"{where}.{key}")
    elif isinstance(cached, float):
        if math.isnan(cached):
            assert math.isnan(fresh), where
        else:
            assert abs(fresh - cached) < TOLERANCE, (where, fresh, cached)


@pytest.mark.parametrize("name", list(CHECKED))
def test_cached_points_reproduce(name):
    threads = torch.get_num_threads()
    rows = _cheapest(name, CHECKED[name])
    assert len(rows) == CHECKED[name], f"{name} has too few rows with a recorded thread count to re-check"
    try:
        for row in rows:
            torch.set_num_threads(row["threads"])
            point = {"recipe": row["recipe"], **json.loads(row["params"])}
            fresh = run_point(point, device="cpu")
            assert fresh["steps"] == row["steps"] and fresh["non_embedding"] == row["non_embedding"]
            assert fresh["threads"] == row["threads"]
            assert abs(fresh["final_val"] - row["final_val"]) < TOLERANCE, (name, point, fresh["final_val"], row)
            if row["metrics"]:  # task scores, where the sweep keeps them
                _same_scores(json.loads(fresh["metrics"]), row["metrics"], name)
    finally:
        torch.set_num_threads(threads)
