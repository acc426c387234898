import numpy as np
import pytest

from helpers.scaling import ScalingFitError, best_mixture, fit_mixing_law


def _mixtures(n, m=4, seed=0):
    rng = np.random.default_rng(seed)
    return 0.04 + (1 - 0.04 * m) * rng.dirichlet(np.ones(m), size=n)


def test_the_fit_recovers_a_law_and_predicts_unseen_mixtures():
    r = _mixtures(20)
    t = np.array([-1.5, 0.4, -0.3, 0.0])
    y = 1.2 + 0.8 * np.exp(r @ t)
    fit = fit_mixing_law(r, y + np.random.default_rng(1).normal(0, 1e-3, len(y)))
    assert fit.t[-1] == 0.0 and fit.r2 > 0.99 and fit.rmse < 2e-3
    held = _mixtures(6, seed=2)
    assert np.abs(fit.predict(held) - (1.2 + 0.8 * np.exp(held @ t))).max() < 0.01
    assert fit.predict(held[0]).shape == (1,)
    with pytest.raises(ValueError, match="proportions"):
        fit.predict(np.ones((2, 3)) / 3)


def test_the_fit_refuses_what_it_cannot_fit():
    r = _mixtures(20)
    with pytest.raises(ScalingFitError, match="at least 7 mixtures"):
        fit_mixing_law(r[:5], np.ones(5))
    with pytest.raises(ScalingFitError, match="summing to 1"):
        fit_mixing_law(r * 2, np.ones(20))
    with pytest.raises(ScalingFitError, match="NaN"):
        fit_mixing_law(r, np.r_[np.nan, np.ones(19)])
    with pytest.raises(ScalingFitError, match="R²"):
        fit_mixing_law(r, 2 + np.random.default_rng(0).normal(0, 0.01, 20))
    same = np.tile(r[:1], (20, 1))
    with pytest.raises(ScalingFitError, match="independently"):
        fit_mixing_law(same, np.linspace(1, 2, 20))


def test_best_mixture_trades_domains_within_bounds():
    r = _mixtures(20)
    a = fit_mixing_law(r, 1.0 + np.exp(-2.0 * r[:, 0]))  # domain 0's loss falls with its own share
    b = fit_mixing_law(r, 1.0 + np.exp(-2.0 * r[:, 1]))  # domain 1's with its own
    both = best_mixture([a, b], low=0.04)
    assert abs(both[0] - both[1]) < 0.02 and both[2] == pytest.approx(0.04, abs=1e-6)
    only_a = best_mixture([a, b], importance=[1.0, 0.0], low=0.04, high=0.7)
    assert only_a[0] == pytest.approx(0.7, abs=1e-4) and only_a.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no mixture"):
        best_mixture([a, b], low=0.3)
