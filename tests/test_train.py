import dataclasses
import math

import pytest
import torch

from helpers.model import GPT, GPTConfig
from helpers.train import History, TrainConfig, Trainer, lr_at, make_optimizer, seed_everything, select_device, train


def small(corpus, **kw):
    mc = GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=1, n_head=2, d_model=32)
    tc = TrainConfig(
        **{
            "steps": 40,
            "batch_size": 8,
            "warmup_steps": 5,
            "eval_every": 20,
            "eval_batches": 2,
            "progress": False,
            "device": "cpu",
            **kw,
        }
    )
    return mc, tc


def test_overfits_one_batch(corpus):
    """A model that cannot memorise one batch has a bug in its gradient path."""
    seed_everything(0)
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=2, n_head=2, d_model=48))
    x = corpus.train[: 17 * 4].view(4, 17)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(200):
        _, loss = model(x[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_same_seed_same_result(corpus):
    mc, tc = small(corpus)
    a = train(mc, tc, corpus, cache=False)
    b = train(mc, tc, corpus, cache=False)
    assert a.history.train_loss == b.history.train_loss
    assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    c = train(mc, TrainConfig(**{**tc.__dict__, "seed": 1}), corpus, cache=False)
    assert c.history.train_loss != a.history.train_loss


def test_training_reduces_loss_and_records_history(corpus):
    mc, tc = small(corpus, steps=60)
    h = train(mc, tc, corpus, cache=False).history
    assert len(h.train_loss) == 60 and len(h.lr) == 60
    assert h.eval_step == [20, 40, 60]
    assert h.eval_val[-1] < h.eval_val[0] < math.log(corpus.vocab_size)
    assert h.tokens_per_step == 8 * 16 and h.flops_per_token > 0


def test_resume_equals_uninterrupted(corpus, tmp_path):
    mc, tc = small(corpus, steps=30, eval_every=10)
    seed_everything(0)
    full = Trainer(GPT(mc), corpus, tc)
    full.fit()

    seed_everything(0)
    first = Trainer(GPT(mc), corpus, tc)
    first.fit(stop_at=13, checkpoint=tmp_path / "ckpt.pt")
    seed_everything(123)  # a resumed run must not depend on the state of the fresh process
    second = Trainer(GPT(mc), corpus, tc)
    second.load_checkpoint(tmp_path / "ckpt.pt")
    assert second.step == 13
    second.fit()
    assert second.history.train_loss == full.history.train_loss
    assert second.history.eval_val == full.history.eval_val
    for p, q in zip(full.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(p, q)


def test_checkpoint_for_other_config_is_refused(corpus, tmp_path):
    mc, tc = small(corpus)
    t = Trainer(GPT(mc), corpus, tc)
    t.fit(stop_at=2, checkpoint=tmp_path / "c.pt")
    other = Trainer(GPT(mc), corpus, TrainConfig(**{**tc.__dict__, "lr": 1e-4}))
    with pytest.raises(ValueError, match="another model or training config"):
        other.load_checkpoint(tmp_path / "c.pt")


def test_lr_schedule_warmup_and_cosine_match_the_run():
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))  # non-increasing after warmup
    assert lrs[-1] == pytest.approx(0.1)  # reaches the floor exactly at the run's last step
    assert lr_at(10, cfg) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0}, "lr"),
        ({"warmup_steps": 600}, "warmup_steps"),
        ({"min_lr_ratio": 2}, "min_lr_ratio"),
        ({"weight_decay": -1}, "weight_decay"),
        ({"beta2": 1.0}, "beta2"),
        ({"grad_clip": -1}, "grad_clip"),
        ({"eval_batches": 0}, "eval_batches"),
    ],
)
def test_invalid_train_config(kw, field):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}="):
        TrainConfig(**kw)


def test_select_device(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert select_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="choose 'auto'"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available on this machine"):
            select_device("cuda")


def test_vocab_mismatch_is_clear(corpus):
    mc, tc = small(corpus)
    with pytest.raises(ValueError, match="vocab_size=corpus.vocab_size"):
        train(GPTConfig(vocab_size=5, context=16, n_layer=1, n_head=2, d_model=32), tc, corpus)


def test_history_plot_and_round_trip(corpus):
    import matplotlib

    matplotlib.use("Agg")
    mc, tc = small(corpus)
    h = train(mc, tc, corpus, cache=False).history
    import matplotlib.pyplot as plt

    fig, (ax, ax_lr) = plt.subplots(1, 2)
    assert h.plot(ax, label="tiny") is ax
    assert ax.get_xlabel() == "training step" and "nats" in ax.get_ylabel()
    assert len(ax.lines) == 2
    h.plot_lr(ax_lr)
    assert ax_lr.get_ylabel() == "learning rate" and len(ax_lr.lines[0].get_xdata()) == len(h.lr)
    plt.close(fig)
    assert History.from_dict(h.to_dict()) == h


def test_callbacks_are_called(corpus):
    calls = {"step": 0, "eval": 0}

    class Counter:
        def on_step_end(self, trainer):
            calls["step"] += 1
            assert trainer.last_loss.dim() == 0 and trainer.last_loss.item() > 0

        def on_eval(self, trainer):
            calls["eval"] += 1

    mc, tc = small(corpus)
    r = train(mc, tc, corpus, callbacks=[Counter()])
    assert calls == {"step": 40, "eval": 2} and not r.cached


def test_make_optimizer_decays_matrices_only():
    model = GPT(GPTConfig(vocab_size=10, context=8, n_layer=1, n_head=2, d_model=16))
    opt = make_optimizer(model, TrainConfig(weight_decay=0.3, lr=0.01))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.3 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == model.param_counts()["total"]


def test_fine_tuning_starts_from_init_and_keys_the_cache(corpus, tmp_path):
    from helpers.cache import ResultCache
    from helpers.train import state_fingerprint

    mc, tc = small(corpus)
    store = ResultCache(tmp_path)
    base = train(mc, tc, corpus, cache=store).model
    before = state_fingerprint(base)
    ft = train(mc, small(corpus, steps=10, lr=1e-4)[1], corpus, init=base, cache=store)
    assert state_fingerprint(base) == before, "init must not be changed by fine-tuning"
    scratch = train(mc, small(corpus, steps=10, lr=1e-4)[1], corpus, cache=store)
    assert not scratch.cached, "a run from scratch must not reuse the fine-tuned run"
    assert ft.history.eval_val[-1] < scratch.history.eval_val[-1], "fine-tuning starts from the trained weights"
    again = train(mc, small(corpus, steps=10, lr=1e-4)[1], corpus, init=base, cache=store)
    assert again.cached and state_fingerprint(again.model) == state_fingerprint(ft.model)
    other = GPT(mc)
    assert state_fingerprint(other) != before
    with pytest.raises(ValueError, match="model_cfg=init.cfg"):
        train(GPTConfig(**{**mc.to_dict(), "d_model": 16}), tc, corpus, init=base)


def test_train_honours_the_device_it_is_given(corpus, auto_device_unavailable):
    """COURSE_DEVICE names an absent device, so only a trainer that uses TrainConfig.device="cpu" can run."""
    mc, tc = small(corpus, steps=6, eval_every=0)
    result = train(mc, tc, corpus, cache=False)
    assert result.device.type == "cpu" and next(result.model.parameters()).device.type == "cpu"
    with pytest.raises(RuntimeError, match="not available on this machine"):
        train(mc, dataclasses.replace(tc, device="auto"), corpus, cache=False)


def test_configs_are_frozen_and_rechecked_on_replace():
    cfg = TrainConfig(steps=10, warmup_steps=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 0
    with pytest.raises(ValueError, match="TrainConfig.steps=0: train for at least 1 step"):
        dataclasses.replace(cfg, steps=0)
    assert dataclasses.replace(cfg, desc="reward model").result_key() == cfg.result_key()
