"""The training monitor, the stability options of the trainer (z-loss, Adam's ε) and the alarm rules."""

import math
import time
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from helpers.model import GPT, GPTConfig
from helpers.monitor import (
    MONITOR_KEYS,
    EarlyStop,
    TrainingMonitor,
    band_alarm,
    early_stop,
    monitor_series,
    plot_monitor,
    spikes,
)
from helpers.train import TrainConfig, Trainer, train


def small(corpus, **kw):
    cfg = GPTConfig(vocab_size=corpus.vocab_size, context=32, n_layer=2, n_head=2, d_model=32)
    tcfg = dict(steps=30, batch_size=8, warmup_steps=2, eval_every=10, eval_batches=1, progress=False)
    return cfg, TrainConfig(**{**tcfg, **kw})


def test_logit_stats_match_the_scores_and_the_output(corpus):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=2, n_head=2, d_model=16))
    idx = torch.randint(0, corpus.vocab_size, (3, 16))
    stats = model.logit_stats(idx)
    x = model.embed(idx)
    block = model.blocks[0]
    s = block.attn.scores(block.ln1(x))
    assert stats["attn_logit_max"][0] == pytest.approx(s[torch.isfinite(s)].abs().max().item(), rel=1e-6)
    assert len(stats["attn_logit_max"]) == 2
    logits, _ = model(idx)
    log_z = torch.logsumexp(logits, -1).abs()
    assert stats["log_z_mean"] == pytest.approx(log_z.mean().item(), rel=1e-6)
    assert stats["log_z_max"] == pytest.approx(log_z.max().item(), rel=1e-6)
    assert torch.allclose(block.attn.weights(block.ln1(x)), s.softmax(-1))


def test_monitor_records_every_k_steps_and_changes_nothing(corpus):
    cfg, tcfg = small(corpus, monitor_every=5, grad_clip=0.0)
    torch.manual_seed(0)
    watched = Trainer(GPT(cfg), corpus, tcfg)
    h = watched.fit()
    series = monitor_series(h)
    assert list(series["monitor_step"]) == [5, 10, 15, 20, 25, 30]
    assert set(MONITOR_KEYS) <= set(h.records)
    assert series["attn_logit_max"].shape == (6, 2)
    assert np.all(np.isfinite(series["grad_norm"])) and np.all(series["grad_norm"] > 0)  # computed without clipping
    assert np.all((series["update_ratio"] > 0) & (series["update_ratio"] < 1))
    assert series["monitor_loss"] == pytest.approx(np.asarray(h.train_loss)[series["monitor_step"] - 1])
    torch.manual_seed(0)
    plain = Trainer(GPT(cfg), corpus, replace(tcfg, monitor_every=0))
    assert plain.fit().train_loss == h.train_loss  # watching a run does not change it


def test_update_ratio_is_the_relative_change_of_the_matrices(corpus):
    cfg, tcfg = small(corpus, steps=3)
    trainer = Trainer(GPT(cfg), corpus, tcfg, callbacks=[TrainingMonitor(3)])
    trainer.fit(stop_at=2)
    before = [p.detach().clone() for p in trainer.model.parameters() if p.dim() >= 2]
    trainer.fit()
    after = [p.detach() for p in trainer.model.parameters() if p.dim() >= 2]
    want = math.sqrt(sum((a - b).pow(2).sum().item() for a, b in zip(after, before)))
    want /= math.sqrt(sum(b.pow(2).sum().item() for b in before))
    assert trainer.history.records["update_ratio"] == [pytest.approx(want, rel=1e-5)]


def test_monitor_costs_under_three_percent_of_the_run_at_stride_25(corpus):
    cfg = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=4, n_head=4, d_model=128)
    tcfg = TrainConfig(steps=100, batch_size=32, warmup_steps=5, eval_every=0, eval_batches=1, progress=False)
    monitor = TrainingMonitor(25)
    spent = []

    class Timed:  # wraps the monitor: the time the run spends inside it
        def on_step_end(self, trainer):
            t = time.perf_counter()
            monitor.on_step_end(trainer)
            spent.append(time.perf_counter() - t)

    trainer = Trainer(GPT(cfg), corpus, tcfg, callbacks=[Timed()])
    t0 = time.perf_counter()
    trainer.fit()
    total = time.perf_counter() - t0
    assert len(trainer.history.records["monitor_step"]) == 4
    assert sum(spent) / total < 0.03, f"the monitor took {sum(spent) / total:.1%} of the run"


def test_monitored_runs_are_cached_with_their_records(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    cfg, tcfg = small(corpus, steps=10, monitor_every=5)
    first = train(cfg, tcfg, corpus)
    again = train(cfg, tcfg, corpus)
    assert again.history.records == first.history.records and len(first.history.records["grad_norm"]) == 2


def test_z_loss_keeps_log_z_small(corpus):
    def log_z(z_loss):
        cfg, tcfg = small(corpus, steps=60, lr=1e-2, z_loss=z_loss, monitor_every=60)
        torch.manual_seed(0)
        return monitor_series(Trainer(GPT(cfg), corpus, tcfg).fit())["log_z_mean"][-1]

    without, with_z = log_z(0.0), log_z(0.1)
    assert with_z < 0.5 * without, (with_z, without)


def test_z_loss_is_not_in_the_recorded_loss(corpus):
    cfg, tcfg = small(corpus, steps=1, warmup_steps=0, z_loss=1.0)
    torch.manual_seed(0)
    h = Trainer(GPT(cfg), corpus, tcfg).fit()
    torch.manual_seed(0)
    ce = Trainer(GPT(cfg), corpus, replace(tcfg, z_loss=0.0)).fit()
    assert h.train_loss == ce.train_loss  # the same first-step cross-entropy; only the gradient differs


def test_adam_eps_reaches_the_optimizer(corpus):
    cfg, tcfg = small(corpus, adam_eps=1e-3)
    trainer = Trainer(GPT(cfg), corpus, tcfg)
    assert {g["eps"] for g in trainer.optimizer.param_groups} == {1e-3}


@pytest.mark.parametrize(
    "field, value, fix",
    [("z_loss", -1.0, "PaLM used 1e-4"), ("adam_eps", -1e-8, "PyTorch"), ("monitor_every", 2.5, "25 is cheap")],
)
def test_bad_stability_options_name_the_fix(field, value, fix):
    with pytest.raises(ValueError, match=fix):
        TrainConfig(**{field: value})


def test_monitor_refuses_a_bad_stride_and_an_unmonitored_history():
    with pytest.raises(ValueError, match="every=25"):
        TrainingMonitor(0)
    with pytest.raises(ValueError, match="monitor_every=25"):
        monitor_series({"records": {}})


def test_spikes_flag_the_injected_outliers_and_nothing_else():
    rng = np.random.default_rng(0)
    x = 3.0 - np.linspace(0, 1, 400) + 0.02 * rng.standard_normal(400)
    assert spikes(x).size == 0
    x[[120, 300]] += 0.5
    assert list(spikes(x)) == [120, 300]
    assert spikes(x[:50]).size == 0  # no past to compare with
    flat = np.ones(100)
    flat[70] = 1.001
    assert spikes(flat).size == 0  # below min_rise
    with pytest.raises(ValueError, match="at least 3"):
        spikes(x, window=2)


def test_band_alarm_needs_patience_and_names_where_it_fired():
    steps = np.arange(0, 100, 10)
    low, high = np.full(10, 1.0), np.full(10, 2.0)
    values = np.full(10, 1.5)
    assert band_alarm(steps, values, low, high) is None
    values[3] = 2.5  # one noisy evaluation: no alarm
    assert band_alarm(steps, values, low, high) is None
    values[6:] = 2.4
    alarm = band_alarm(steps, values, low, high, patience=2)
    assert (alarm.first_step, alarm.step, alarm.value, alarm.high) == (60, 70, 2.4, 2.0)
    assert band_alarm(steps, values, low, high, patience=1).step == 30
    with pytest.raises(ValueError, match="one entry per evaluation"):
        band_alarm(steps, values[:5], low, high)


def test_band_alarm_counts_a_diverged_evaluation_as_outside():
    steps, low, high = np.array([10, 20, 30, 40]), np.zeros(4), np.ones(4)
    alarm = band_alarm(steps, [0.5, np.nan, np.nan, 0.5], low, high, patience=2)
    assert alarm is not None and (alarm.first_step, alarm.step) == (20, 30)
    assert band_alarm(steps, [0.5, np.inf, 0.5, 0.5], low, high, patience=1).step == 20


def test_plot_monitor_draws_four_labelled_panels(corpus):
    cfg, tcfg = small(corpus, monitor_every=10)
    torch.manual_seed(0)
    h = Trainer(GPT(cfg), corpus, tcfg).fit()
    axes = plot_monitor(h, label="run")
    assert len(axes) == 4 and all(ax.get_xlabel() == "training step" and ax.get_ylabel() for ax in axes)
    assert len(axes[3].lines) == 3  # two layers' attention logits and log Z
    plot_monitor(h, axes=axes, label="again")
    assert len(axes[0].lines) == 2


def test_early_stop_waits_its_patience_and_keeps_the_best():
    steps = [25, 50, 75, 100, 125, 150]
    rising = [3.0, 2.5, 2.4, 2.45, 2.5, 2.6]
    assert early_stop(steps, rising, patience=3) == EarlyStop(step=150, best_step=75, best=2.4)
    assert early_stop(steps, rising, patience=4) is None  # never four evaluations without progress
    assert early_stop(steps, [3.0, 2.9, 2.8, 2.7, 2.6, 2.5], patience=1) is None
    # an improvement smaller than min_delta does not reset the wait
    assert early_stop(steps, [3.0, 2.99, 2.98, 2.97, 2.5, 2.4], patience=3, min_delta=0.05).step == 100
    with pytest.raises(ValueError, match="patience"):
        early_stop(steps, rising, patience=0)
    with pytest.raises(ValueError, match="one entry per evaluation"):
        early_stop(steps, rising[:3])
