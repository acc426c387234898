"""helpers.bench: the throughput benchmark runs, reports sensible numbers and compares like with like."""

import math

import pytest
import torch

from helpers import bench
from helpers.model import GPT, flops_per_token, non_embedding_params
from helpers.train import TrainConfig, Trainer, lr_at

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def result():
    """One tiny bench of the smallest config: 6 timed steps per variant in 2 rounds."""
    from helpers.data import load_corpus

    corpus = load_corpus("kjv", max_chars=200_000)
    return bench.run_bench(["d64-l2"], steps=6, repeats=2, warmup=1, device="cpu", corpus=corpus)


def test_model_config_shapes_and_bad_name():
    cfg = bench.model_config("d128-l4", vocab_size=73)
    assert (cfg.d_model, cfg.n_layer, cfg.n_head, cfg.context, cfg.vocab_size) == (128, 4, 4, 64, 73)
    with pytest.raises(ValueError, match=r"unknown bench config 'd999'.*d64-l2, d128-l4, d256-l4"):
        bench.model_config("d999", vocab_size=73)


def test_default_steps_make_evaluation_cost_what_it_costs_in_a_course_run():
    """One evaluation per eval_every steps, as in a default run: the trainer is not charged extra."""
    assert all(shape.steps % TrainConfig.eval_every == 0 for shape in bench.CONFIGS.values())


@pytest.mark.parametrize("name", list(bench.CONFIGS))
def test_reference_gpt_has_the_same_parameters_as_the_helpers_gpt(name):
    cfg = bench.model_config(name, vocab_size=73)
    ref = bench.ReferenceGPT(cfg)
    counts = GPT(cfg).param_counts()
    n_ref = sum(p.numel() for p in ref.parameters())  # parameters() yields the tied matrix once
    assert n_ref == counts["embedding"] + counts["non_embedding"] == counts["total"]
    assert counts["non_embedding"] == non_embedding_params(cfg)
    assert ref.lm_head.weight is ref.wte.weight


def test_reference_gpt_forward_loss_and_causality():
    cfg = bench.model_config("d64-l2", vocab_size=73)
    torch.manual_seed(0)
    ref = bench.ReferenceGPT(cfg)
    idx, targets = torch.randint(73, (2, 2, 16))
    logits, loss = ref(idx, targets)
    assert logits.shape == (2, 16, 73)
    assert abs(loss.item() - math.log(73)) < 0.1  # near-uniform predictions at init
    assert ref(idx)[1] is None
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 73
    assert torch.equal(ref(changed)[0][:, :-1], logits[:, :-1])  # the future does not leak back


def test_bare_loop_does_the_trainers_arithmetic(corpus):
    """Same sampler, optimizer, schedule and clipping: after 5 steps the weights are identical."""
    cfg = bench.model_config("d64-l2", corpus.vocab_size)
    tcfg = bench.bench_train_config(5, seed=3, device="cpu")
    bare = bench.BareRun(bench.build_model("bare", cfg, seed=3), corpus, tcfg, CPU)
    bare.advance(2)
    bare.advance(3)
    assert bare.step == 5
    assert bare.optimizer.param_groups[0]["lr"] == lr_at(4, tcfg)
    trainer_model = bench.build_model("trainer", cfg, seed=3)
    Trainer(trainer_model, corpus, TrainConfig(**{**tcfg.__dict__, "progress": False})).fit()
    for p, q in zip(bare.model.parameters(), trainer_model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_trainer_run_advances_in_slices_and_evaluates_at_the_end(corpus):
    cfg = bench.model_config("d64-l2", corpus.vocab_size)
    run = bench.make_run("trainer", bench.build_model("trainer", cfg), corpus, bench.bench_train_config(4), CPU)
    run.advance(1)
    run.advance(3)
    assert run.step == 4
    assert run.trainer.history.eval_step == [4]
    with pytest.raises(ValueError, match="unknown variant"):
        bench.make_run("fast", None, corpus, bench.bench_train_config(4), CPU)


def test_bench_train_config_keeps_defaults_and_accepts_short_runs():
    tcfg = bench.bench_train_config(3)
    assert (tcfg.steps, tcfg.warmup_steps, tcfg.batch_size, tcfg.progress) == (3, 2, 32, True)
    assert (tcfg.eval_every, tcfg.eval_batches) == (TrainConfig.eval_every, TrainConfig.eval_batches)
    assert bench.bench_train_config(600).warmup_steps == TrainConfig.warmup_steps


def test_measure_peak_flops_is_positive():
    bench.synchronize(CPU)  # a no-op on the CPU, but it must accept the device
    assert bench.measure_peak_flops("cpu", size=128, repeats=2, inner=2) > 1e6


def test_bench_result_structure_and_sanity(result):
    assert result.device == "cpu" and result.threads >= 1 and result.peak_flops > 0
    (res,) = result.results
    assert res.name == "d64-l2" and res.steps == 6 and res.slices == [3, 3]
    assert set(res.seconds) == set(bench.VARIANTS)
    assert all(len(s) == 2 and min(s) > 0 for s in res.seconds.values())
    assert res.tokens_per_step == 32 * 64
    assert res.flops_per_token == flops_per_token(res.cfg, head=True)
    assert res.n_params == GPT(res.cfg).param_counts()["total"]
    assert res.trainer_evals == 1  # a 6-step run evaluates once, at its end
    for variant in bench.VARIANTS:
        assert res.tokens_per_s(variant) > 0
        assert 0 < res.mfu(variant, result.peak_flops) <= 1
    assert res.trainer_over_bare > 0 and res.helpers_over_reference > 0
    ratios = res.round_ratios("bare", "reference")
    assert len(ratios) == 2
    assert res.ratio_noise("bare", "reference") == pytest.approx(2 * abs(ratios[0] - ratios[1]) / 2)
    # 6 steps is not a multiple of eval_every, and the report says so
    assert any("not a multiple of eval_every" in note for note in result.notes)


def test_ratio_noise_is_two_standard_errors_of_the_round_ratios(result):
    res = result.results[0]
    fake = bench.ConfigResult(
        name=res.name,
        cfg=res.cfg,
        n_params=res.n_params,
        flops_per_token=res.flops_per_token,
        steps=4,
        slices=[1] * 4,
        seconds={"bare": [1.0] * 4, "reference": [0.9, 1.1, 0.9, 1.1]},
        trainer_evals=1,
    )
    assert fake.round_ratios("bare", "reference") == [0.9, 1.1, 0.9, 1.1]
    sd = math.sqrt(4 * 0.1**2 / 3)  # sample standard deviation
    assert fake.ratio_noise("bare", "reference") == pytest.approx(2 * sd / 2)
    single = bench.ConfigResult(**{**fake.__dict__, "slices": [1], "seconds": {"bare": [1.0], "reference": [2.0]}})
    assert single.ratio_noise("bare", "reference") == 0.0


def test_format_report_plain_and_markdown(result):
    plain = bench.format_report(result)
    assert "torch " in plain and "peak float32 matmul" in plain and "d64-l2" in plain
    assert "trainer/bare >= 0.95" in plain and "helpers/reference >= 1.0" in plain
    md = bench.format_report(result, markdown=True)
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 3  # header, alignment row, one config
    assert len({line.count("|") for line in table}) == 1


def test_bench_config_rejects_bad_arguments(corpus):
    with pytest.raises(ValueError, match="unknown bench config"):
        bench.bench_config("huge", corpus)
    with pytest.raises(ValueError, match="steps >= repeats"):
        bench.bench_config("d64-l2", corpus, steps=2, repeats=3)
    with pytest.raises(ValueError, match="warmup"):
        bench.bench_config("d64-l2", corpus, steps=2, repeats=1, warmup=-1)
    with pytest.raises(ValueError, match="unknown bench config 'nope'"):
        bench.run_bench(["nope"], corpus=corpus)


def test_main_prints_a_markdown_report(capsys, monkeypatch, corpus):
    monkeypatch.setattr(bench, "load_corpus", lambda name: corpus)
    assert (
        bench.main(["--configs", "d64-l2", "--steps", "2", "--repeats", "1", "--warmup", "0", "--markdown", "--quiet"])
        == 0
    )
    out = capsys.readouterr().out
    assert "python -m helpers.bench --configs d64-l2 --steps 2" in out
    assert "| d64-l2" in out


def test_main_rejects_a_bad_config_name(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--configs", "d64-l2", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
