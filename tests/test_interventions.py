"""Interventions on a running training: the learning-rate fault, the stuck shard and the rollback remedy."""

import pytest
import torch

from helpers.interventions import LRFault, MixtureShift, Rollback, SpikeRollback, StuckShard
from helpers.model import GPTConfig
from helpers.train import TrainConfig, lr_at, train


def small(corpus, steps=60):
    cfg = GPTConfig(vocab_size=corpus.vocab_size, context=32, n_layer=2, n_head=2, d_model=32)
    return cfg, TrainConfig(steps=steps, batch_size=8, lr=3e-3, warmup_steps=2, eval_every=20, progress=False)


def test_lr_fault_scales_its_steps_and_no_others(corpus):
    cfg, tcfg = small(corpus, steps=30)
    result = train(cfg, tcfg, corpus, callbacks=[LRFault(10, 15, 10.0)])
    for step, lr in enumerate(result.history.lr):
        factor = 10.0 if 10 <= step < 15 else 1.0
        assert lr == pytest.approx(lr_at(step, tcfg) * factor, rel=1e-12), step


@pytest.mark.parametrize("args", [(5, 5, 2.0), (-1, 4, 2.0), (0, 4, 0.0), (0.5, 4, 2.0)])
def test_lr_fault_refuses_an_empty_window_or_a_factor_that_is_not_positive(args):
    with pytest.raises(ValueError, match="LRFault"):
        LRFault(*args)


def test_stuck_shard_serves_its_first_batches_in_turn_inside_its_window_only():
    shard = StuckShard(3, 9, batches=2)
    batches = [(torch.full((2, 4), i), torch.full((2, 4), i + 100)) for i in range(12)]
    served = [shard.batch(step, x, y)[0][0, 0].item() for step, (x, y) in enumerate(batches)]
    assert served == [0, 1, 2, 3, 4, 3, 4, 3, 4, 9, 10, 11]


def test_a_stuck_shard_changes_a_run_only_from_its_first_step_and_lowers_its_training_loss(corpus):
    cfg, tcfg = small(corpus, steps=40)
    clean = train(cfg, tcfg, corpus, cache=False).history
    stuck = train(cfg, tcfg, corpus, callbacks=[StuckShard(20, 40, batches=1)]).history
    assert stuck.train_loss[:20] == clean.train_loss[:20]
    # twenty steps on one batch: the run memorises it (training loss falls) and loses ground on held-out text
    assert sum(stuck.train_loss[-5:]) < sum(clean.train_loss[-5:])
    assert stuck.eval_val[-1] > clean.eval_val[-1]


@pytest.mark.parametrize("args", [(5, 5, 2), (-1, 4, 2), (0, 4, 0), (0.5, 4, 2)])
def test_stuck_shard_refuses_bad_settings(args):
    with pytest.raises(ValueError, match="StuckShard"):
        StuckShard(*args)


def test_rollback_changes_nothing_on_a_run_without_spikes(corpus):
    cfg, tcfg = small(corpus)
    remedy = SpikeRollback(every=5, window=10)
    watched = train(cfg, tcfg, corpus, callbacks=[remedy])
    plain = train(cfg, tcfg, corpus, cache=False)
    assert remedy.events == [] and remedy.wasted_steps == 0
    assert watched.history.train_loss == plain.history.train_loss


def test_rollback_undoes_a_provoked_spike(corpus):
    cfg, tcfg = small(corpus)
    fault = LRFault(40, 42, 300.0)
    remedy = SpikeRollback(every=5, window=10)
    faulty = train(cfg, tcfg, corpus, callbacks=[LRFault(40, 42, 300.0)])
    rescued = train(cfg, tcfg, corpus, callbacks=[fault, remedy])
    assert remedy.events, "the 300-fold rate should spike the loss"
    for event in remedy.events:
        assert event.to_step < 40 < event.step and event.step - event.to_step <= 2 * 5 + 2
    assert 0 < remedy.wasted_steps <= max(e.step for e in remedy.events) - min(e.to_step for e in remedy.events)
    assert rescued.history.final_val < faulty.history.final_val - 0.1


def test_wasted_steps_count_each_undone_step_once():
    remedy = SpikeRollback()
    remedy.events = [Rollback(52, 25, 5.0), Rollback(54, 25, 4.0), Rollback(90, 75, 3.0)]
    assert remedy.wasted_steps == (54 - 25) + (90 - 75)


class _Trainer:
    """The parts of a Trainer that SpikeRollback touches."""

    def __init__(self):
        self.model = torch.nn.Linear(2, 2)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.1)
        self.step, self.last_loss = 0, None


def test_a_nan_loss_restores_the_older_snapshot_exactly():
    t, remedy = _Trainer(), SpikeRollback(every=2, window=3)
    saved = {}
    for step in range(1, 7):
        t.model.weight.data += 1.0  # the weights move every step
        t.step, t.last_loss = step, torch.tensor(1.0 + 0.01 * (step % 2))
        remedy.on_step_end(t)
        saved[step] = t.model.weight.detach().clone()
    t.step, t.last_loss = 7, torch.tensor(float("nan"))
    remedy.on_step_end(t)
    assert remedy.events == [Rollback(7, 4, remedy.events[0].loss)]
    assert torch.equal(t.model.weight, saved[4])  # the older of the snapshots at 4 and 6


def test_rollback_refuses_bad_settings():
    with pytest.raises(ValueError, match="every"):
        SpikeRollback(every=0)
    with pytest.raises(ValueError, match="window"):
        SpikeRollback(window=2)


def test_mixture_shift_serves_the_other_sampler_from_its_step_on():
    class Source:
        def __init__(self):
            self.n = 0

        def sample(self):
            self.n += 1
            return torch.full((1, 2), self.n), torch.zeros(1, 2)

    own = (torch.zeros(1, 2), torch.zeros(1, 2))
    shift = MixtureShift(3, Source())
    got = [shift.batch(step, *own)[0][0, 0].item() for step in range(6)]
    assert got == [0, 0, 0, 1, 2, 3]


def test_mixture_shift_refuses_bad_settings():
    with pytest.raises(ValueError, match="whole step"):
        MixtureShift(-1, object())
    with pytest.raises(ValueError, match="batch sampler"):
        MixtureShift(5, object())
