"""Chapter 3, section 4 (helpers.ch03_watch): the ladder recipe and grid, the per-step extrapolation, the band
and its alarm, the live clean-and-faulty pair, and the section's table and figure from the cached sweep."""

import matplotlib

matplotlib.use("Agg")

from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import ch03_figures, ch03_watch, sweep
from helpers.ch03_watch import Band, extrapolate, ladder_lm, predict_band
from helpers.interventions import StuckShard
from helpers.train import train


def test_ladder_lm_keeps_16_wide_heads_and_one_schedule(corpus):
    for d in (*ch03_watch.LADDER, ch03_watch.TARGET):
        model, cfg = ladder_lm(corpus, d_model=d, seed=1)
        assert model.n_head * 16 == d and model.n_layer == 2 and cfg.seed == 1
        assert (cfg.steps, cfg.eval_every, cfg.lr, cfg.monitor_every) == (300, 10, 3e-3, 0)
    assert ladder_lm(corpus, fault="stuck")[1].result_key() == ladder_lm(corpus)[1].result_key()
    with pytest.raises(ValueError, match="multiple of 16"):
        ladder_lm(corpus, d_model=40)
    with pytest.raises(ValueError, match="choose one of clean, stuck"):
        ladder_lm(corpus, fault="nan")


def test_the_ladder_grid_watches_a_target_larger_than_every_rung():
    points = sweep._grid("ch03_ladder", "full")
    widths = {p["d_model"] for p in points if p.get("fault", "clean") == "clean"}
    assert widths == {*ch03_watch.LADDER, ch03_watch.TARGET} and ch03_watch.TARGET > max(ch03_watch.LADDER)
    stuck = [p for p in points if p.get("fault") == "stuck"]
    assert {p["d_model"] for p in stuck} == {ch03_watch.TARGET} and len(stuck) == len(ch03_watch.SEEDS)
    assert len(points) == len(ch03_watch.LADDER) * len(ch03_watch.SEEDS) + len(ch03_watch.CLEAN_SEEDS) + len(stuck)


def test_extrapolate_is_exact_on_losses_linear_in_log_n():
    n = np.array([1e4, 3e4, 1e5])
    losses = np.array([[3.0 - 0.1 * np.log(x), 2.0 - 0.2 * np.log(x)] for x in n])  # [width, step]
    assert np.allclose(extrapolate(n, losses, 1e6), [3.0 - 0.1 * np.log(1e6), 2.0 - 0.2 * np.log(1e6)])
    with pytest.raises(ValueError, match="2\\+ widths"):
        extrapolate(n[:1], losses[:1], 1e6)


def _ladder(noise: float, seeds: int = 3, rng=None):
    rng = rng or np.random.default_rng(0)
    n = np.array([2e4, 4e4, 8e4, 1.6e5])
    steps = np.arange(10, 110, 10)
    truth = 4.0 - 0.15 * np.log(n)[:, None] - 0.3 * np.log(steps)[None, :] / np.log(100)
    losses = truth[None] + noise * rng.standard_normal((seeds, len(n), len(steps)))
    return steps, n, losses


def test_predict_band_centres_on_the_law_and_widens_with_seed_noise():
    steps, n, clean = _ladder(0.0)
    band = predict_band(steps, n, clean, 6.4e5)
    truth = 4.0 - 0.15 * np.log(6.4e5) - 0.3 * np.log(steps) / np.log(100)
    assert np.allclose(band.centre, truth) and np.allclose(band.seed_sd, 0) and np.allclose(band.backtest, 0)
    noisy = predict_band(*_ladder(0.02)[:2], _ladder(0.02)[2], 6.4e5)
    assert np.all(noisy.sigma > 0) and np.all(noisy.high - noisy.low == pytest.approx(2 * noisy.k * noisy.sigma))
    assert np.allclose(noisy.z(noisy.centre), 0) and np.allclose(noisy.z(noisy.high), noisy.k)


def test_band_sigma_is_the_largest_uncertainty_nearby():
    zero = np.zeros(7)
    spike = np.array([0, 0, 0, 1.0, 0, 0, 0])
    band = Band(np.arange(7), zero, spike, zero)
    assert band.sigma.tolist() == [0, 1.0, 1.0, 1.0, 1.0, 1.0, 0]  # SMOOTH = 2 evaluations either side


def test_predict_band_refuses_too_small_or_diverged_ladders():
    steps, n, losses = _ladder(0.01)
    with pytest.raises(ValueError, match="2\\+ seeds and 3\\+ widths"):
        predict_band(steps, n[:2], losses[:, :2], 1e6)
    with pytest.raises(ValueError, match="2\\+ seeds"):
        predict_band(steps, n, losses[:1], 1e6)
    losses[1, 2, 4] = np.nan
    with pytest.raises(ValueError, match="diverged rung"):
        predict_band(steps, n, losses, 1e6)


def test_watch_live_pairs_a_clean_run_with_its_stuck_copy(corpus):
    live = ch03_watch.watch_live(corpus, seed=1, d_model=16)
    model_cfg, cfg = ladder_lm(corpus, d_model=16, seed=1)
    clean = train(model_cfg, cfg, corpus, cache=False).history
    stuck = train(model_cfg, cfg, corpus, callbacks=[StuckShard(**ch03_watch.STUCK)]).history
    assert live["clean"].eval_val == clean.eval_val and live["clean"].train_loss == clean.train_loss
    assert live["stuck"].eval_val == stuck.eval_val  # resuming from the shared checkpoint changes nothing
    before = ch03_watch.STUCK["start"] // cfg.eval_every
    assert live["stuck"].eval_val[:before] == clean.eval_val[:before]
    assert live["stuck"].eval_val[-1] > clean.eval_val[-1]


def test_the_cached_ladder_predicts_its_clean_target_and_catches_the_stuck_one():
    rows = sweep.load_sweep("ch03_ladder")
    watched = ch03_watch.watch_cached(rows)
    assert all(w.alarm is None for w in watched["clean"]), [w.summary for w in watched["clean"]]
    assert all(w.alarm is not None and w.alarm.step > ch03_watch.STUCK["start"] for w in watched["stuck"])
    table = ch03_watch.watch_table(watched).data
    assert table.count("| clean |") == len(ch03_watch.CLEAN_SEEDS) and table.count("| stuck |") == len(ch03_watch.SEEDS)
    band, stuck = watched["band"], watched["stuck"][0]
    with_loss = ch03_watch.check(band, "stuck, live", 0, stuck.step, stuck.val, train_loss=[2.0] * 300)
    assert with_loss.alarm == stuck.alarm and with_loss.delay == stuck.alarm.step - ch03_watch.STUCK["start"]
    diverged = ch03_watch.check(band, "nan", 0, stuck.step, np.full(len(stuck.step), np.nan))
    assert diverged.alarm is not None and diverged.max_abs_z == np.inf
    with pytest.raises(ValueError, match="evaluates every 10 steps"):
        ch03_watch.check(band, "odd", 0, stuck.step[::2], stuck.val[::2])
    runs = [*watched["clean"], with_loss]
    fig = ch03_figures.plot_watch(band, watched["ladder"], runs, ch03_watch.LADDER, ch03_watch.STUCK)
    assert len(fig.axes) == 3 and all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert len(fig.axes[2].lines) == 1  # only the run that recorded its training loss
    plt.close(fig)


def test_paper_row_and_band_exercise_come_from_the_cached_runs():
    from helpers.book.papers import PUBLISHED

    watched = ch03_watch.watch_cached(sweep.load_sweep("ch03_ladder"))
    table = ch03_watch.paper_table(PUBLISHED, watched).data
    assert "10,000 times less compute" in table and f"{watched['band'].centre[-1]:.3f}" in table
    k = ch03_watch.quietest_band(watched)
    assert k in ch03_watch.BAND_GRID and k <= ch03_watch.BAND_K
    narrower = [g for g in ch03_watch.BAND_GRID if g < k]
    if narrower:  # the next narrower band raises a false alarm on some clean run
        band = replace(watched["band"], k=narrower[-1])
        assert any(ch03_watch.check(band, w.label, w.seed, w.step, w.val).alarm for w in watched["clean"])
    exercise = ch03_watch.band_exercise(watched)
    assert exercise.passed(k) and not exercise.passed(k + 0.5)
    with pytest.raises(ValueError, match="try wider bands"):
        ch03_watch.quietest_band(watched, grid=(0.1,))
