"""helpers.icl and helpers.ch07: chapter 7's toy worlds, the in-context regression model and baselines, head
scores, and the chapter's runners."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from helpers import ch07, icl, sweep
from helpers.cache import ResultCache
from helpers.model import GPT, GPTConfig, non_embedding_params

# ----------------------------------------------------------------------------- induction worlds


def test_symbol_tokenizer_round_trip_and_errors():
    tok = icl.SymbolTokenizer(5)
    assert tok.decode(tok.encode(["s0", "s4", "s2"])) == "s0 s4 s2"
    with pytest.raises(ValueError, match="s5"):
        tok.encode(["s5"])
    with pytest.raises(ValueError, match="n=1"):
        icl.SymbolTokenizer(1)


def test_repeat_data_segments_recur_and_validate():
    data = icl.RepeatData(vocab_size=50, length=32, docs=100, seed=3)
    x, mask = data.documents(300, seed=1), data.repeat_mask(300, seed=1)
    assert x.shape == mask.shape == (300, 32) and x.max() < 50
    assert 0.2 < mask.mean() < 0.6  # a good share of tokens continue a segment seen before
    for doc, m in zip(x, mask):
        for t in np.flatnonzero(m):  # every marked token follows its predecessor as it did earlier on
            assert any(doc[s - 1] == doc[t - 1] and doc[s] == doc[t] for s in range(1, t - 1))
    assert data.fingerprint() != icl.RepeatData(vocab_size=50, length=32, docs=100, seed=4).fingerprint()
    with pytest.raises(ValueError, match=r"RepeatData\.length="):
        icl.RepeatData(length=12, max_repeat=8)
    with pytest.raises(ValueError, match=r"RepeatData\.max_repeat="):
        icl.RepeatData(min_repeat=6, max_repeat=5)
    with pytest.raises(ValueError, match=r"RepeatData\.filler="):
        icl.RepeatData(filler=1.0)


def test_repeat_corpus_aligns_windows_to_documents():
    data = icl.RepeatData(docs=100)
    corpus = icl.repeat_corpus(data)
    assert corpus.align == data.length and corpus.vocab_size == data.vocab_size
    assert len(corpus.train) == 90 * data.length and len(corpus.val) == 10 * data.length


def test_repeated_tokens_and_icl_score():
    seqs = icl.repeated_tokens(3, 5, vocab_size=9, seed=0)
    assert seqs.shape == (3, 10) and torch.equal(seqs[:, :5], seqs[:, 5:])
    assert icl.icl_score(torch.tensor([3.0, 2.0, 1.0, 0.5]), 1, 3) == pytest.approx(-1.5)
    with pytest.raises(ValueError, match="early"):
        icl.icl_score(torch.zeros(4), 3, 1)


def _small_attention_model(n_layer=2):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=12, context=16, n_layer=n_layer, n_head=2, d_model=16, mlp=False)).eval()


def test_attention_patterns_are_the_models_weights():
    """``attention_patterns`` is ``GPT.attention_weights`` on the CPU (tests/test_model.py checks those are the
    weights the fused attention applies)."""
    model = _small_attention_model()
    idx = torch.randint(0, 12, (3, 10))
    pats = icl.attention_patterns(model, idx)
    assert pats.shape == (2, 3, 2, 10, 10) and pats.device.type == "cpu"
    assert torch.equal(pats, model.attention_weights(idx))


def test_prefix_matching_and_previous_token_scores():
    half, T = 4, 8
    perfect = torch.zeros(1, 1, 2, T, T)
    for t in range(T):
        perfect[0, 0, 0, t, max(0, t - half + 1) if t >= half else 0] = 1.0  # an induction head
        perfect[0, 0, 1, t, max(0, t - 1)] = 1.0  # a previous-token head
    pm = icl.prefix_matching_scores(perfect, half)
    prev = icl.previous_token_scores(perfect)
    assert pm.shape == (1, 2) and pm[0, 0] == 1.0 and pm[0, 1] == 0.0
    assert prev[0, 1] == 1.0 and prev[0, 0] < 1.0
    with pytest.raises(ValueError, match="half"):
        icl.prefix_matching_scores(perfect, 3)


def test_copying_scores_sign():
    """A head whose output projection is negated lowers the logits it raised: its score flips sign."""
    model = _small_attention_model(n_layer=1)
    before = icl.copying_scores(model)
    assert before.shape == (1, 2) and (before.abs() <= 1 + 1e-6).all()
    with torch.no_grad():
        model.blocks[0].attn.proj.weight[:, :8] *= -1
    after = icl.copying_scores(model)
    assert float(after[0, 0]) == pytest.approx(-float(before[0, 0]), abs=1e-5)
    assert float(after[0, 1]) == pytest.approx(float(before[0, 1]), abs=1e-5)


def test_token_losses_and_probe():
    model = _small_attention_model()
    seqs = icl.repeated_tokens(4, 6, vocab_size=12)
    losses = icl.token_losses(model, seqs)
    assert losses.shape == (11,)
    assert abs(losses.mean().item() - math.log(12)) < 0.5  # untrained: near uniform
    probe = icl.RepeatLossProbe(seqs)
    first, second = probe.measure(model)
    assert first == pytest.approx(losses[:5].mean().item()) and second == pytest.approx(losses[6:].mean().item())


def test_head_report_fields():
    model = _small_attention_model()
    with pytest.raises(ValueError):  # probes of 24 tokens do not fit a 16-token context
        icl.head_report(model)
    data, cfg, _ = ch07.induction_configs(2, steps=10)
    report = icl.head_report(GPT(cfg).eval(), n=4)
    assert set(report) == {
        "prefix_matching",
        "previous_token",
        "copying",
        "ablation",
        "induction",
        "induction_distance",
        "position_loss",
        "icl_score",
    }
    assert np.asarray(report["prefix_matching"]).shape == (2, 4)
    assert len(report["position_loss"]) == 2 * icl.PROBE_HALF - 1


def test_induction_and_ablation_scores_on_an_untrained_model():
    """An untrained model attends almost uniformly whatever the tokens: no head is drawn by the repeat, and
    zeroing a head's (tiny) output barely moves the loss."""
    model = _small_attention_model()
    score, dist = icl.induction_scores(model, half=6, n=50)
    assert score.shape == dist.shape == (2, 2)
    assert score.abs().max() < 0.1 and ((dist >= 1) & (dist <= 6)).all()
    abl = icl.ablation_scores(model, icl.repeated_tokens(20, 6, vocab_size=12))
    assert abl.shape == (2, 2) and abl.abs().max() < 0.1


def test_induction_run_reports_a_sweep_row():
    out = ch07.induction_run(n_layer=1, steps=40, seed=0, device="cpu")
    m = out.metrics
    assert isinstance(out, sweep.RunOutput) and out.steps == 40 and out.seed == 0
    assert len(m["probe_step"]) == len(m["probe_first"]) == len(m["probe_second"])
    assert out.non_embedding == non_embedding_params(ch07.induction_configs(1)[1])
    assert np.asarray(m["pattern"]).shape == (1, 4, 2 * icl.PROBE_HALF, 2 * icl.PROBE_HALF)
    assert np.asarray(m["induction"]).shape == (1, 4) and isinstance(m["icl_score"], float)


# ----------------------------------------------------------------------------- in-context regression


def _prompts(b=64, k=8, d=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return icl.sample_regression(b, k + 1, d, gen)


def test_least_squares_is_exact_with_enough_examples_and_min_norm_below():
    xs, ys = _prompts(k=8, d=4)
    pred = icl.least_squares(xs[:, :8], ys[:, :8], xs[:, 8])
    assert torch.allclose(pred, ys[:, 8], atol=1e-4)
    # with fewer examples than dimensions: the minimum-norm solution, as numpy computes it
    X, y = xs[0, :2].numpy().astype(float), ys[0, :2].numpy().astype(float)
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    got = icl.least_squares(xs[:1, :2], ys[:1, :2], xs[:1, 8])
    assert got.item() == pytest.approx(float(xs[0, 8].numpy() @ w), rel=1e-4, abs=1e-5)
    assert (icl.least_squares(xs[:, :0], ys[:, :0], xs[:, 8]) == 0).all()


def test_ridge_tends_to_least_squares_and_validates():
    xs, ys = _prompts(k=8, d=4)
    a = icl.ridge(xs[:, :8], ys[:, :8], xs[:, 8], lam=1e-6)
    assert torch.allclose(a, ys[:, 8], atol=1e-3)
    shrunk = icl.ridge(xs[:, :8], ys[:, :8], xs[:, 8], lam=1e3)
    assert shrunk.abs().mean() < 0.1 * ys[:, 8].abs().mean()
    with pytest.raises(ValueError, match="lam"):
        icl.ridge(xs[:, :8], ys[:, :8], xs[:, 8], lam=0)


def test_nearest_neighbours_and_averaging():
    xs = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]])
    ys = torch.tensor([[1.0, 3.0, 10.0]])
    xq = torch.tensor([[0.9, 0.0]])
    assert icl.nearest_neighbours(xs, ys, xq, k=1).item() == 3.0
    assert icl.nearest_neighbours(xs, ys, xq, k=2).item() == 2.0
    assert icl.nearest_neighbours(xs, ys, xq, k=10).item() == pytest.approx(14 / 3)  # all three
    w = (ys[0, :, None] * xs[0]).mean(0)
    assert icl.averaging(xs, ys, xq).item() == pytest.approx(float(w @ xq[0]))
    with pytest.raises(ValueError, match="expected xs"):
        icl.averaging(xs, ys[:, :2], xq)
    with pytest.raises(ValueError, match="k=0"):
        icl.nearest_neighbours(xs, ys, xq, k=0)


def test_regression_errors_normalisation():
    zero = icl.regression_errors(lambda xs, ys, xq: torch.zeros(len(xq)), dim=4, n_points=6, n_prompts=4000)
    assert zero.shape == (6,) and np.allclose(zero, 1.0, atol=0.1)  # E[(w.x)^2] / d = 1
    lsq = icl.regression_errors(icl.least_squares, dim=4, n_points=6, n_prompts=500)
    assert lsq[5] < 1e-6 and lsq[2] > 0.3  # exact once k >= d; about (d - k) / d before
    avg = icl.regression_errors(icl.averaging, dim=4, n_points=6, n_prompts=2000)
    assert (np.diff(avg[1:]) < 0).all() and avg[5] > 0.5


def test_regression_config_validates():
    with pytest.raises(ValueError, match=r"RegressionConfig\.n_points="):
        icl.RegressionConfig(n_points=1)
    with pytest.raises(ValueError, match=r"GPTConfig\.d_model="):
        icl.RegressionConfig(d_model=30, n_head=4)
    with pytest.raises(ValueError, match=r"TrainConfig\.lr="):
        icl.RegressionConfig(lr=0)


def test_curriculum_grows_the_active_dimension():
    cfg = icl.RegressionConfig(dim=4, steps=100, warmup_steps=10, curriculum=80)
    dims = [icl.active_dim(step, cfg) for step in range(100)]
    assert dims[0] == 1 and dims[-1] == 4 and all(b >= a for a, b in zip(dims, dims[1:]))
    assert icl.active_dim(0, icl.RegressionConfig(dim=4)) == 4  # no curriculum: always the full dimension
    xs, _ = icl.sample_regression(3, 5, 4, torch.Generator().manual_seed(0), active=2)
    assert (xs[..., 2:] == 0).all() and (xs[..., :2] != 0).all()
    with pytest.raises(ValueError, match=r"RegressionConfig\.curriculum="):
        icl.RegressionConfig(steps=100, warmup_steps=10, curriculum=200)


def test_regression_transformer_is_causal_and_predict_matches_forward():
    cfg = icl.RegressionConfig(dim=3, n_points=5, n_layer=2, d_model=16, n_head=2)
    torch.manual_seed(0)
    model = icl.RegressionTransformer(cfg).eval()
    xs, ys = _prompts(b=2, k=4, d=3)
    out = model(xs, ys)
    assert out.shape == (2, 5)
    ys2 = ys.clone()
    ys2[:, 2:] += 5.0  # change y_3 onwards: predictions 0..2 must not move
    assert torch.allclose(model(xs, ys2)[:, :3], out[:, :3], atol=1e-6)
    assert not torch.allclose(model(xs, ys2)[:, 3:], out[:, 3:])
    assert torch.allclose(model.predict(xs[:, :3], ys[:, :3], xs[:, 3]), out[:, 3], atol=1e-6)
    with pytest.raises(ValueError, match="up to 5 of 3"):
        model(torch.zeros(1, 6, 3), torch.zeros(1, 6))


def test_train_regression_learns_and_caches(tmp_path):
    cfg = icl.RegressionConfig(
        dim=2, n_points=5, n_layer=1, d_model=16, n_head=2, steps=300, batch_size=32, warmup_steps=10, lr=3e-3
    )
    store = ResultCache(tmp_path)
    res = icl.train_regression(cfg, device="cpu", cache=store, progress=False)
    losses = res.history.train_loss
    assert not res.cached and len(losses) == len(res.history.lr) == 300 and res.history.seconds > 0
    assert np.mean(losses[-50:]) < 0.85 * np.mean(losses[:50])
    again = icl.train_regression(cfg, device="cpu", cache=store, progress=False)
    assert again.cached and again.history.train_loss == losses
    assert torch.equal(again.model.read_out.weight, res.model.read_out.weight)


def test_regression_run_returns_model_and_baseline_curves():
    config = dict(dim=2, n_points=4, n_layer=1, d_model=16, n_head=2, steps=20, warmup_steps=2)
    out = ch07.regression_run(device="cpu", **config)
    assert set(out.metrics) == {"model", *icl.BASELINES}
    assert all(len(v) == 4 for v in out.metrics.values())
    assert out.steps == 20 and out.seconds > 0 and math.isnan(out.final_val)
    # Kaplan's N: the blocks and the final LayerNorm, as a GPT of the same shape counts them; not the read-in,
    # positions and read-out (the regression model's embeddings and head)
    cfg = icl.RegressionConfig(**config)
    counts = icl.RegressionTransformer(cfg).param_counts()
    assert out.non_embedding == counts["non_embedding"] == non_embedding_params(cfg.gpt_config())
    assert counts["total"] - counts["non_embedding"] == (2 + 1) * 16 + 16 + 2 * 4 * 16 + 16 + 1


def test_trainers_and_runners_honour_the_device_they_are_given(auto_device_unavailable):
    """COURSE_DEVICE names a device this machine lacks, so anything that falls back to "auto" raises."""
    cfg = icl.RegressionConfig(dim=2, n_points=3, n_layer=1, d_model=8, n_head=2, steps=3, warmup_steps=1)
    with pytest.raises(RuntimeError, match=auto_device_unavailable):
        icl.train_regression(cfg, cache=False, progress=False)
    assert icl.train_regression(cfg, device="cpu", cache=False, progress=False).device.type == "cpu"
    small = dict(dim=2, n_points=3, n_layer=1, d_model=8, n_head=2, steps=3, warmup_steps=1)
    assert ch07.regression_run(device="cpu", **small).device == "cpu"
    assert ch07.induction_run(n_layer=1, steps=3, device="cpu").device == "cpu"
    row = sweep.run_point(
        {"recipe": "ch07_few_shot", "data": "ch07_rules", "d_model": 8, "n_layer": 1, "steps": 3}, device="cpu"
    )
    assert row["device"] == "cpu" and len(json.loads(row["metrics"])["accuracy"]) == ch07.WORLD.pairs


# ----------------------------------------------------------------------------- few-shot rules


def test_rule_world_documents_and_prompts():
    world = icl.RuleWorld(n_symbols=6, n_rules=3, pairs=5, seed=1)
    rng = np.random.default_rng(0)
    doc = world.document(rng)
    assert len(doc) == world.doc_length and doc.endswith(",\n")
    pairs = doc[:-1].split(",")[:-1]
    inputs = [p[0] for p in pairs]
    assert len(set(inputs)) == len(inputs)  # distinct inputs: the query is never a copy
    idx = {c: i for i, c in enumerate(world.letters)}
    consistent = [r for r in range(3) if all(world.table[r, idx[p[0]]] == idx[p[2]] for p in pairs)]
    assert consistent  # a bursty document follows one rule
    texts, answers, rules = world.prompts(k=2, n=10)
    for t, a, r in zip(texts, answers, rules):
        assert len(t) == 2 * 4 + 2 and t.endswith(">")
        assert world.table[r, idx[t[-2]]] == idx[a]
    with pytest.raises(ValueError, match="k=5"):
        world.prompts(k=5, n=1)
    with pytest.raises(ValueError, match=r"RuleWorld\.pairs="):
        icl.RuleWorld(n_symbols=4, pairs=5)


def test_bayes_accuracy_grows_with_demonstrations():
    world = icl.RuleWorld(seed=0)
    acc = [world.bayes_accuracy(k, n=1000) for k in range(4)]
    assert acc[0] < 0.6 and all(b >= a - 0.02 for a, b in zip(acc, acc[1:])) and acc[3] > 0.95
    assert icl.RuleWorld(n_rules=1).bayes_accuracy(0, n=100) == 1.0


def test_rule_corpus_bursty_and_not():
    world = icl.RuleWorld()
    c = world.corpus(docs=50)
    assert c.align == world.doc_length and len(c.train) == 45 * world.doc_length
    assert c.fingerprint != world.corpus(docs=50, bursty=False).fingerprint
    assert c.tokenizer.decode(c.train[: world.doc_length]).endswith("\n")


class _Oracle(torch.nn.Module):
    """Answers every prompt of a one-rule world correctly, to test the accuracy bookkeeping."""

    def __init__(self, world):
        super().__init__()
        self.world, self.tok = world, world.tokenizer()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.tok.vocab_size)
        for b, row in enumerate(idx):
            q = self.world.letters.index(self.tok.decode(row[-2:-1]))
            answer = self.world.letters[self.world.table[0, q]]
            logits[b, -1, self.tok.encode(answer)[0]] = 1.0
        return logits, None


def test_few_shot_accuracy_with_an_oracle():
    world = icl.RuleWorld(n_rules=1)
    assert icl.few_shot_accuracy(_Oracle(world), world, k=2, n=50) == 1.0
    curve = icl.few_shot_curve(_Oracle(world), world, n=20)
    assert curve["k"] == list(range(world.pairs)) and curve["accuracy"] == [1.0] * world.pairs


def test_few_shot_recipe():
    corpus = ch07.WORLD.corpus(docs=50)
    model, train = ch07.few_shot_recipe(corpus, d_model=32, n_layer=2, steps=200)
    assert model.context == ch07.WORLD.doc_length - 1 and model.n_head == 4
    assert train.steps == 200 and train.warmup_steps == 20
    with pytest.raises(ValueError, match="RuleWorld"):
        ch07.few_shot_recipe(dataclasses.replace(corpus, align=1), 8, 1)


def test_chapter_world_cannot_be_changed():
    """``ch07.WORLD`` is shared by the chapter, its sweeps and its evaluator: it is frozen, its table read-only."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        ch07.WORLD.n_rules = 2
    with pytest.raises(ValueError, match="read-only"):
        ch07.WORLD.table[0, 0] = 1
    other = dataclasses.replace(ch07.WORLD, seed=1)
    assert other.table.shape == ch07.WORLD.table.shape and not np.array_equal(other.table, ch07.WORLD.table)
    assert ch07.WORLD == icl.RuleWorld() and ch07.few_shot_evaluator(_Oracle(icl.RuleWorld(n_rules=1)), None)["k"]


# ----------------------------------------------------------------------------- cached chapter-7 sweeps reproduce
# Each check re-trains the cheapest cached point with the CPU thread count it was cached with (see
# tests/test_sweep_cache.py for why) and compares what the chapter reads from it.


def _cached(name):
    rows = sweep.load_sweep(name)
    for r in rows:
        r["point"] = {"recipe": r["recipe"], **r["point"]}
    return rows


@pytest.fixture
def cached_threads():
    threads = torch.get_num_threads()
    yield lambda row: torch.set_num_threads(row["threads"])
    torch.set_num_threads(threads)


def test_cached_few_shot_point_reproduces(cached_threads):
    row = min(_cached("ch07_few_shot"), key=lambda r: (r["non_embedding"], r["seed"]))
    cached_threads(row)
    fresh = sweep.run_point(row["point"], device="cpu")
    assert abs(fresh["final_val"] - row["final_val"]) < 0.01
    acc = json.loads(fresh["metrics"])["accuracy"]
    assert np.abs(np.array(acc) - np.array(row["metrics"]["accuracy"])).max() < 0.03


def test_cached_induction_run_starts_the_same(cached_threads):
    """With a constant learning rate after its 100-step warmup, the first 1,000 steps of a run are the cached
    run's first 1,000 steps: the probe losses must agree where both were evaluated."""
    row = next(r for r in _cached("ch07_induction") if r["point"]["n_layer"] == 1 and r["seed"] == 0)
    cached_threads(row)
    fresh = ch07.induction_run(n_layer=1, steps=1000, seed=0, device="cpu").metrics
    cached = dict(zip(row["metrics"]["probe_step"], row["metrics"]["probe_second"]))
    common = [(s, v) for s, v in zip(fresh["probe_step"], fresh["probe_second"]) if s in cached]
    assert len(common) >= 3
    assert max(abs(cached[s] - v) for s, v in common) < 0.02


def test_cached_regression_point_reproduces(cached_threads):
    """The full regression runs take minutes each, so this re-trains the cached quick-profile run (the one
    chapter 7 also trains live); the full runs differ from it only in their number of steps."""
    row = sweep.load_sweep("ch07_regression", "quick")[0]
    cached_threads(row)
    fresh = sweep.run_point({"recipe": row["recipe"], **row["point"]}, device="cpu")
    metrics, cached = json.loads(fresh["metrics"]), row["metrics"]
    assert np.abs(np.array(metrics["model"]) - np.array(cached["model"])).max() < 0.02
    assert metrics["least squares"] == cached["least squares"]  # baselines are exact computations
    assert fresh["non_embedding"] == row["non_embedding"]  # the count the CSV holds is the model's
