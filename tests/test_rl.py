"""helpers.rl and helpers.ch10: chapter 10's preference world, losses, estimators, trainers, and its cached sweep."""

import json
import math

import numpy as np
import pytest
import torch

from helpers import rl
from helpers.cache import ResultCache
from helpers.claims import twin_check
from helpers.model import GPT

WORLD = rl.PreferenceWorld()


def tiny_lm(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(WORLD.model_config(d_model=16, n_layer=1, n_head=2))


def encode(strings):
    tok = WORLD.tokenizer()
    return torch.tensor([tok.encode(s) for s in strings])


# ----------------------------------------------------------------------------- the world


def test_gold_reward_counts_targets_and_penalises_doubles():
    assert WORLD.gold(["abcdefghabcd", "aaabbbbbbbbb", "bbbbbbbbbbbb"]).tolist() == [2.0, 3 - 2 * 2.0, 0.0]
    assert WORLD.gold(encode(["abababababab"])).tolist() == [6.0]


def test_labeller_noiseless_prefers_higher_gold_and_noise_flips_some():
    a, b = encode(["aaabbbbbbbbb", "abababababab"] * 50), encode(["bbbbbbbbbbbb", "acbbbbbbbbbb"] * 50)
    clean = rl.PreferenceWorld(noise=0)
    chosen, rejected = clean.label_pairs(a, b)
    assert (clean.gold(chosen) >= clean.gold(rejected)).all()
    assert clean.label_ceiling(a, b) == 1.0
    chosen, rejected = rl.PreferenceWorld(noise=2.0).label_pairs(a, b, seed=1)
    flipped = (WORLD.gold(chosen) < WORLD.gold(rejected)).mean()
    assert 0.05 < flipped < 0.45


def test_demonstrations_reach_the_threshold_and_corpora_align():
    demos = WORLD.demonstrations(50, seed=0)
    assert len(demos) == 50 and (WORLD.gold(demos) >= WORLD.demo_threshold).all()
    corpus = WORLD.sft_corpus(200)
    assert corpus.align == WORLD.line_length and corpus.vocab_size == len(WORLD.letters) + 1
    assert WORLD.tokenizer().decode(corpus.train[: 2 * WORLD.line_length])[0] == "\n"


@pytest.mark.parametrize(
    "kwargs, field",
    [({"length": 1}, "length"), ({"target": "z"}, "target"), ({"noise": -1.0}, "noise"), ({"demo_bias": 1.0}, "demo")],
)
def test_world_rejects_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        rl.PreferenceWorld(**kwargs)


# ----------------------------------------------------------------------------- losses against hand-computed values


def test_dpo_loss_matches_hand_computation():
    # margin = 0.5 * ((-3 + 3.5) - (-4 + 3.5)) = 0.5; loss = log(1 + e^-0.5)
    loss, margins = rl.dpo_loss(
        torch.tensor([-3.0]), torch.tensor([-4.0]), torch.tensor([-3.5]), torch.tensor([-3.5]), beta=0.5
    )
    assert margins.item() == pytest.approx(0.5)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-0.5)), rel=1e-6)


def test_dpo_loss_errors():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="beta"):
        rl.dpo_loss(x, x, x, x, beta=0.0)
    with pytest.raises(ValueError, match="shapes"):
        rl.dpo_loss(x, torch.zeros(2), x, x)
    with pytest.raises(ValueError, match="empty"):
        rl.dpo_loss(*(torch.zeros(0),) * 4)
    with pytest.raises(ValueError, match="beta"):
        rl.DPOConfig(beta=-0.1)


def test_ppo_clip_loss_matches_hand_computation():
    # ratios 1.5, 0.5, 1.5, 0.5 with advantages +1, +1, -1, -1 and eps 0.2:
    # min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5; min(-1.5, -1.2) = -1.5; min(-0.5, -0.8) = -0.8
    logp_old = torch.zeros(1, 4)
    logp = torch.log(torch.tensor([[1.5, 0.5, 1.5, 0.5]]))
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    assert rl.ppo_clip_loss(logp, logp_old, adv, clip=0.2).item() == pytest.approx(-(1.2 + 0.5 - 1.5 - 0.8) / 4)
    with pytest.raises(ValueError, match="same shape"):
        rl.ppo_clip_loss(logp, logp_old, adv[:, :3])
    with pytest.raises(ValueError, match="clip"):
        rl.ppo_clip_loss(logp, logp_old, adv, clip=0.0)


def test_bradley_terry_loss_and_errors():
    assert rl.bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0])).item() == pytest.approx(
        math.log1p(math.exp(-1.0))
    )
    with pytest.raises(ValueError, match="same shape"):
        rl.bradley_terry_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="empty"):
        rl.bradley_terry_loss(torch.zeros(0), torch.zeros(0))


def test_gae_hand_computed():
    rewards, values = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.5, 0.5]])
    adv, ret = rl.gae(rewards, values, gamma=1.0, lam=1.0)  # Monte Carlo: every return is 1
    assert adv.tolist() == [[0.5, 0.5, 0.5]] and ret.tolist() == [[1.0, 1.0, 1.0]]
    adv, _ = rl.gae(rewards, values, gamma=1.0, lam=0.0)  # one-step TD errors
    assert adv.tolist() == [[0.0, 0.0, 0.5]]
    with pytest.raises(ValueError, match="must match"):
        rl.gae(rewards, values[:, :2])


# ----------------------------------------------------------------------------- KL estimators and best-of-n


def test_kl_of_a_policy_with_itself_is_zero():
    lm = tiny_lm()
    ids = rl.sample(lm, 64, WORLD.length, seed=3)
    logp = rl.response_logprobs(lm, ids)
    assert rl.kl_k1(logp, logp).abs().max().item() == 0.0
    assert rl.kl_k3(logp, logp).abs().max().item() == 0.0
    assert rl.evaluate_policy(lm, lm, rl.ScalarModel(lm.cfg), WORLD, n=32)["kl"] == 0.0
    with pytest.raises(ValueError, match="must match"):
        rl.kl_k1(logp, logp[:, :3])


def test_kl_estimators_agree_with_exact_kl_of_one_token():
    # one-token "policies": the exact KL against sampled k1 and k3 estimates
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.3, 0.5])
    exact = float((p * (p / q).log()).sum())
    x = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    logp, logq = p.log()[x][:, None], q.log()[x][:, None]
    assert rl.kl_k1(logp, logq).mean().item() == pytest.approx(exact, abs=0.01)
    assert rl.kl_k3(logp, logq).mean().item() == pytest.approx(exact, abs=0.01)


def test_kl_k3_has_lower_variance_than_k1_and_is_never_negative():
    # the same one-token policies: per sample, k1 = log p/q swings between -0.92 and +0.92 nats (variance
    # 0.51) while k3 = (r - 1) - log r, r = q/p, stays in [0, 0.59] (variance 0.043): same mean, far less noise
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.3, 0.5])
    x = torch.multinomial(p, 100_000, replacement=True, generator=torch.Generator().manual_seed(1))
    logp, logq = p.log()[x][:, None], q.log()[x][:, None]
    k1, k3 = rl.kl_k1(logp, logq), rl.kl_k3(logp, logq)
    assert k3.min().item() >= 0.0 and k1.min().item() < 0.0
    assert k1.var().item() == pytest.approx(0.512, abs=0.01)
    assert k3.var().item() == pytest.approx(0.043, abs=0.003)
    with pytest.raises(ValueError, match="must match"):
        rl.kl_k3(logp, logq[:0])


@pytest.mark.parametrize("n", [2, 4, 16])
def test_best_of_n_kl_matches_a_sampled_estimate(n):
    # base: uniform over M outcomes with distinct rewards; best-of-n picks the highest of n draws, so the
    # outcome of rank i has probability (i/M)^n - ((i-1)/M)^n. Sample best-of-n and estimate the KL.
    M = 100_000
    rng = np.random.default_rng(n)
    draws = rng.integers(1, M + 1, size=(200_000, n)).max(axis=1)  # ranks of best-of-n picks
    log_ratio = np.log(((draws / M) ** n - ((draws - 1) / M) ** n) * M)
    assert log_ratio.mean() == pytest.approx(rl.best_of_n_kl(n), abs=0.02)
    assert rl.best_of_n_kl(1) == 0.0
    with pytest.raises(ValueError, match="n >= 1"):
        rl.best_of_n_kl(0)


def test_best_of_n_curve_matches_simulation():
    rng = np.random.default_rng(0)
    proxy, gold = rng.normal(size=500), rng.normal(size=500)
    gold = gold + proxy
    curve = rl.best_of_n_curve(proxy, gold, [1, 4, 32])
    assert curve["proxy"][0] == pytest.approx(proxy.mean())
    picks = [rng.choice(500, size=4, replace=False) for _ in range(40_000)]
    best = [p[np.argmax(proxy[p])] for p in picks]
    assert curve["gold"][1] == pytest.approx(gold[best].mean(), abs=0.03)
    assert np.all(np.diff(curve["proxy"]) > 0)
    with pytest.raises(ValueError, match="n=600"):
        rl.best_of_n_curve(proxy, gold, [600])
    with pytest.raises(ValueError, match="same non-empty"):
        rl.best_of_n_curve(proxy, gold[:10], [1])


def test_best_of_n_sampler_returns_the_highest_scoring_response():
    lm = tiny_lm()
    torch.manual_seed(1)
    rm = rl.ScalarModel(lm.cfg)
    torch.nn.init.normal_(rm.head.weight)  # a random scorer: distinct scores for distinct responses
    picks = rl.best_of_n(lm, rm, WORLD, n=4, k=3, seed=2)
    assert picks.shape == (3, WORLD.length)
    # the same 12 draws (the sampler's seed), in 3 requests of 4: each pick is its request's top score
    draws = rl.sample(lm, 12, WORLD.length, seed=2).view(3, 4, -1)
    with torch.no_grad():
        scores = rm.score(draws.reshape(12, -1)).view(3, 4)
    assert torch.equal(picks, draws[torch.arange(3), scores.argmax(1)])
    assert (rm.score(picks) >= scores.max(1).values - 1e-6).all()
    with pytest.raises(ValueError, match="at least 1"):
        rl.best_of_n(lm, rm, WORLD, n=0)


def test_best_of_n_rows_keep_the_highest_proxy_of_each_draw():
    from helpers.book.widgets import best_of_n_rows

    ids = encode(["abababababab", "bbbbbbbbbbbb", "aaabbbbbbbbb"])
    rows = best_of_n_rows(ids, [0.5, -1.0, 2.0], WORLD.gold(ids), WORLD, n=3, k=2)
    assert rows == [["aaabbbbbbbbb", "2.00", "-1.00"]] * 2


def test_fit_gao_recovers_parameters():
    d = np.linspace(0.2, 4, 20)
    assert rl.fit_gao(d, rl.gao_bon(d, 1.5, 0.4), "bon") == pytest.approx((1.5, 0.4), rel=1e-4)
    assert rl.fit_gao(d, rl.gao_rl(d, 1.2, 0.5), "rl") == pytest.approx((1.2, 0.5), rel=1e-4)
    assert rl.gao_peak(1.5, 0.4, "bon") == pytest.approx(1.875)
    with pytest.raises(ValueError, match="kind"):
        rl.fit_gao(d, d, "ppo")
    with pytest.raises(ValueError, match="at least 3"):
        rl.fit_gao(d[:2], d[:2])


# ----------------------------------------------------------------------------- trainers


def test_reward_model_learns_a_trivially_separable_preference(tmp_path):
    rng = np.random.default_rng(0)
    letters = list("bcdefgh")
    good = ["a" + "".join(rng.choice(letters, WORLD.length - 1)) for _ in range(300)]  # starts with 'a'
    bad = ["b" + "".join(rng.choice(letters, WORLD.length - 1)) for _ in range(300)]
    c, r = encode(good), encode(bad)
    cfg = rl.RewardModelConfig(epochs=8, lr=3e-3)
    res = rl.train_reward_model(tiny_lm(), c[:200], r[:200], cfg, cache=ResultCache(tmp_path), progress=False)
    assert rl.preference_accuracy(res.model, c[200:], r[200:]) > 0.95
    assert len(res.history.train_loss) == 8 * 4 and not res.cached
    again = rl.train_reward_model(tiny_lm(), c[:200], r[:200], cfg, cache=ResultCache(tmp_path))
    assert again.cached and again.history.train_loss == res.history.train_loss
    with pytest.raises(ValueError, match="empty"):
        rl.train_reward_model(tiny_lm(), c[:0], r[:0], cfg)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: rl.RewardModelConfig(epochs=0), "epochs"),
        (lambda: rl.RewardModelConfig(lr=0.0), "lr"),
        (lambda: rl.RewardModelConfig(grad_clip=-1.0), "grad_clip"),
        (lambda: rl.PPOConfig(grad_clip=-1.0), "grad_clip"),
        (lambda: rl.PPOConfig(lam=1.5), "lam"),
        (lambda: rl.DPOConfig(batch_size=0), "batch_size"),
        (lambda: rl.DPOConfig(grad_clip=-1.0), "grad_clip"),
    ],
)
def test_trainer_configs_reject_bad_values(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def test_ppo_and_dpo_run_and_cache(tmp_path):
    lm = tiny_lm()
    rm = rl.ScalarModel.from_lm(lm)
    cfg = rl.PPOConfig(iterations=2, rollouts=16, minibatch=8)
    res = rl.train_ppo(lm, rm, WORLD, cfg, eval_every=1, cache=ResultCache(tmp_path), progress=False)
    h = res.history
    assert h.records["iteration"] == [0, 1, 2] and h.records["kl"][0] == 0.0
    assert len(h.train_loss) == len(h.records["policy_loss"]) == 2 * cfg.epochs * 2  # iterations x epochs x minibatches
    assert rl.train_ppo(lm, rm, WORLD, cfg, eval_every=1, cache=ResultCache(tmp_path), progress=False).cached
    c, r = rl.sample(lm, 16, WORLD.length, seed=1), rl.sample(lm, 16, WORLD.length, seed=2)
    dpo = rl.train_dpo(lm, c, r, rl.DPOConfig(epochs=1, batch_size=8), cache=ResultCache(tmp_path), progress=False)
    assert len(dpo.history.train_loss) == 2 and len(dpo.history.records["train_accuracy"]) == 1
    assert rl.implicit_reward_accuracy(dpo.model, lm, c, r) > 0.5
    with pytest.raises(ValueError, match="kl_coef"):
        rl.PPOConfig(kl_coef=-1.0)
    with pytest.raises(ValueError, match="minibatch"):
        rl.PPOConfig(rollouts=8, minibatch=16)


# ----------------------------------------------------------------------------- the cached sweep stays honest


def test_trainers_honour_the_device_they_are_given(auto_device_unavailable, tmp_path):
    # COURSE_DEVICE names a device this machine lacks, so "auto" fails; device="cpu" must reach every trainer
    lm = tiny_lm()
    c, r = rl.sample(lm, 16, WORLD.length, seed=1), rl.sample(lm, 16, WORLD.length, seed=2)
    cache = ResultCache(tmp_path)
    rm = rl.train_reward_model(lm, c, r, rl.RewardModelConfig(epochs=1), device="cpu", cache=cache, progress=False)
    ppo_cfg = rl.PPOConfig(iterations=1, rollouts=16, minibatch=8)
    ppo = rl.train_ppo(lm, rm.model, WORLD, ppo_cfg, device="cpu", cache=cache, progress=False)
    dpo_cfg = rl.DPOConfig(epochs=1, batch_size=8)
    dpo = rl.train_dpo(lm, c, r, dpo_cfg, device="cpu", cache=cache, progress=False)
    for result in (rm, ppo, dpo):
        assert result.device.type == "cpu" and next(result.model.parameters()).device.type == "cpu"
    with pytest.raises(RuntimeError, match=auto_device_unavailable):
        rl.train_dpo(lm, c, r, dpo_cfg, cache=False, progress=False)  # "auto" goes to COURSE_DEVICE


def test_cached_ch10_point_reproduces(auto_device_unavailable):
    """Re-run the cheapest cached point (250 pairs, seed 0) with the thread count it was cached with: the
    reward model's held-out accuracy, the best-of-n curve and the PPO curve must agree within the seed spread.
    COURSE_DEVICE names an absent device, so the run also proves that ``device="cpu"`` reaches every stage
    (pretraining and SFT, the reward model, PPO) and is the device reported."""
    from helpers.sweep import load_sweep, run_point

    rows = [
        r for r in load_sweep("ch10_overopt") if json.loads(r["params"]) == {"pairs": 250, "seed": 0, "kl_coef": 0.05}
    ]
    assert len(rows) == 1
    row = rows[0]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(row["threads"])
        fresh = run_point({"recipe": row["recipe"], **json.loads(row["params"])}, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert fresh["device"] == "cpu"
    new, old = json.loads(fresh["metrics"]), row["metrics"]
    # Tolerances from the spread of the point's three cached seeds (3 standard deviations, as the chapter's
    # twin checks), since another CPU moves a run as another seed does. The seeds share one SFT model, so at
    # n = 1 (the SFT samples themselves) they do not spread at all; the floor there, 0.15, is twice the
    # largest change a change of CPU made (0.075: an AMD EPYC machine vs the one that cached the sweep).
    seeds = [
        r["metrics"]
        for r in load_sweep("ch10_overopt")
        if json.loads(r["params"]) in [{"pairs": 250, "seed": s, "kl_coef": 0.05} for s in range(3)]
    ]
    assert len(seeds) == 3
    twin_check("reward model accuracy", new["accuracy"], old["accuracy"], [s["accuracy"] for s in seeds], floor=0.01)
    twin_check("best-of-n gold", new["bon"]["gold"], old["bon"]["gold"], [s["bon"]["gold"] for s in seeds], floor=0.15)
    ppo_seeds = [s["ppo"]["gold"][-1] for s in seeds]
    twin_check("PPO final gold", new["ppo"]["gold"][-1], old["ppo"]["gold"][-1], ppo_seeds, floor=0.3)
