import numpy as np
import pytest

from helpers.claims import pooled_spread, seed_spread, twin_check


def test_seed_spread_is_the_sample_std_per_point():
    assert seed_spread([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert np.allclose(seed_spread([[0, 1], [2, 1], [4, 1]]), [2.0, 0.0])
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_spread([1.0])
    with pytest.raises(ValueError, match="non-finite"):
        seed_spread([1.0, float("nan")])


def test_twin_check_passes_within_k_seed_stds_and_names_the_margin():
    line = twin_check("loss", 1.30, 1.25, [1.25, 1.20, 1.30])  # std 0.05 -> allowed 0.15
    assert "live 1.30, cached twin 1.25; allowed difference 0.15" in line and "3 cached seeds" in line
    with pytest.raises(AssertionError, match="FAILED: the live run moved further"):
        twin_check("loss", 1.45, 1.25, [1.25, 1.20, 1.30])


def test_the_floor_covers_seeds_that_agree():
    with pytest.raises(AssertionError):
        twin_check("acc", 0.995, 0.999, [0.999, 0.999])  # no spread, no floor: any move fails
    assert "allowed difference 0.01" in twin_check("acc", 0.995, 0.999, [0.999, 0.999], floor=0.01)


def test_curves_are_checked_point_by_point():
    seeds = [[1.0, 2.0, 3.0], [1.2, 2.0, 3.1], [0.8, 2.0, 2.9]]  # the middle point never moves
    assert "3 points" in twin_check("curve", [1.1, 2.0, 3.05], seeds[0], seeds, floor=0.01)
    with pytest.raises(AssertionError, match="point 1"):
        twin_check("curve", [1.0, 2.1, 3.0], seeds[0], seeds, floor=0.01)
    with pytest.raises(ValueError, match="differ in shape"):
        twin_check("curve", [1.0, 2.0], seeds[0], seeds)
    with pytest.raises(ValueError, match="k must be positive"):
        twin_check("curve", 1.0, 1.0, [1.0, 2.0], k=0)


def test_the_line_names_what_the_spread_is_taken_over():
    line = twin_check("acc", 0.66, 0.66, [0.65, 0.67, 0.66, 0.64], runs="reward models")
    assert "4 cached reward models" in line and "seeds" not in line.split(";")[1]


def test_pooled_spread_weighs_groups_by_their_degrees_of_freedom():
    # one group alone gives its own sample std; groups of one seed add nothing
    assert pooled_spread([[1.0, 2.0, 3.0], [5.0]]) == pytest.approx(1.0)
    # squared deviations from each group's own mean, 2 and 8, over 2 + 1 degrees of freedom
    assert pooled_spread([[0.0, 1.0, 2.0], [10.0, 14.0]]) == pytest.approx((10 / 3) ** 0.5)
    with pytest.raises(ValueError, match="two or more seeds"):
        pooled_spread([[1.0], [2.0]])
    with pytest.raises(ValueError, match="non-finite"):
        pooled_spread([[1.0, float("nan")]])
