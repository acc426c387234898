"""Chapter 3's room: the stability recipe, its sweep point, the learning-rate sensitivity, and the chapter's tables,
figures and exercises (helpers.ch03_tables, helpers.ch03_figures)."""

import json
import math
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers import ch03, ch03_figures, ch03_tables, sweep
from helpers.book.papers import PUBLISHED
from helpers.ch03 import LRS, VARIANTS, WIDTHS, lr_sensitivity, stability_lm
from helpers.model import GPT
from helpers.monitor import monitor_series, spikes
from helpers.scaling import ScalingFitError
from helpers.train import Trainer, seed_everything, train


def test_stability_lm_switches_the_fixes_and_monitors(corpus):
    for variant, (qk_norm, z_loss) in VARIANTS.items():
        model, train = stability_lm(corpus, d_model=32, lr=1e-2, variant=variant, seed=2)
        assert (model.qk_norm, train.z_loss, train.lr, train.seed) == (qk_norm, z_loss, 1e-2, 2)
        assert model.d_model == 32 and model.n_layer == 2 and train.monitor_every == 25
    with pytest.raises(ValueError, match="choose one of neither"):
        stability_lm(corpus, variant="qk")


def test_the_lr_grid_spans_wortsman_range():
    assert LRS[0] == 3e-4 and LRS[-1] == 3e-1 and len(WIDTHS) >= 3
    points = sweep._grid("ch03_lr", "full")
    assert len(points) == len(WIDTHS) * len(VARIANTS) * len(LRS)


def test_the_logz_grid_switches_weight_decay_off_and_keeps_qk_layernorm():
    from helpers.ch03 import LOGZ_RATES, LOGZ_STEPS

    points = sweep._grid("ch03_logz", "full")
    assert len(points) == 3 * len(LOGZ_RATES) * 2
    assert {p["variant"] for p in points} == {"qk-layernorm", "both"} and {p["weight_decay"] for p in points} == {0}
    corpus = sweep.corpus_named("kjv")
    _, train = stability_lm(corpus, **{k: v for k, v in points[0].items() if k != "recipe"})
    assert train.weight_decay == 0 and train.steps == LOGZ_STEPS and train.monitor_every == 25
    assert stability_lm(corpus)[1].weight_decay == 0.1  # every other grid keeps the trainer's default


def test_a_stability_point_reports_what_the_monitor_saw():
    row = sweep.run_point({"recipe": "stability_lm", "d_model": 32, "lr": 3e-2, "variant": "qk-layernorm", "steps": 50})
    m = json.loads(row["metrics"])
    assert m["init_loss"] == pytest.approx(math.log(row_vocab()), rel=1e-9)
    assert len(m["attn_logit_final"]) == 2 and m["attn_logit_max"] >= max(m["attn_logit_final"])
    assert 0 < m["log_z_final"] <= m["log_z_max"] and m["grad_norm_max"] > 0


def row_vocab():
    return sweep.corpus_named("kjv").vocab_size


def test_lr_sensitivity_caps_diverged_runs_at_the_initial_loss():
    assert lr_sensitivity([2.0, 2.0, 2.0], init_loss=4.0) == 0.0
    assert lr_sensitivity([2.0, 2.5, 3.0], init_loss=4.0) == pytest.approx(0.5)
    capped = lr_sensitivity([2.0, 9.0, float("nan")], init_loss=4.0)
    assert capped == pytest.approx((0 + 2 + 2) / 3)
    with pytest.raises(ValueError, match="at least 2"):
        lr_sensitivity([2.0], init_loss=4.0)


# ----------------------------------------------------------------------------- tables, figures, exercises


def _row(d, variant, seed, lr, final, attn=5.0, log_z=6.0):
    point = {"d_model": d, "lr": lr, "variant": variant}
    metrics = {"init_loss": 4.0, "attn_logit_max": attn, "log_z_max": log_z}
    return {"point": point, "seed": seed, "final_val": final, "metrics": metrics}


def test_lr_runs_group_and_sort_and_sensitivities_follow_the_definition():
    rows = [_row(32, "neither", 0, lr, f) for lr, f in ((1e-2, 2.5), (1e-3, 2.0), (1e-1, 9.0))]
    runs = ch03_tables.lr_runs(rows, [_row(32, "neither", 1, 1e-3, 2.0), _row(32, "neither", 1, 1e-2, 2.0)])
    assert [r["point"]["lr"] for r in runs[(32, "neither", 0)]] == [1e-3, 1e-2, 1e-1]
    sens = ch03_tables.sensitivities(runs)[(32, "neither")]
    assert sens.tolist() == pytest.approx([(0 + 0.5 + 2.0) / 3, 0.0])  # the diverged run counts at init_loss 4
    lrs, attn = ch03_tables.metric_by_lr(runs, "attn_logit_max")[(32, "neither", 0)]
    assert lrs.tolist() == [1e-3, 1e-2, 1e-1] and attn.tolist() == [5.0] * 3
    table = ch03_tables.sensitivity_table(ch03_tables.sensitivities(runs), [32], ["neither"]).data
    assert "± 0." in table and "(2 seeds)" in table


def test_cached_sweep_tables_and_figures():
    runs = ch03_tables.lr_runs(sweep.load_sweep("ch03_lr"))
    assert len(runs) == len(WIDTHS) * len(VARIANTS) and all(len(v) == len(LRS) for v in runs.values())
    sens = ch03_tables.sensitivities(runs)
    attn = ch03_tables.metric_by_lr(runs, "attn_logit_max")
    log_z = ch03_tables.metric_by_lr(runs, "log_z_max")
    table = ch03_tables.paper_table(PUBLISHED, sens, attn, log_z, WIDTHS, se=0.04).data
    assert table.count("\n") == 1 + 4 and "Wortsman et al. 2023" in table
    assert "z-loss alone moves it by at most" in table
    seeded = ch03_tables.lr_runs(*(sweep.load_sweep(n) for n in ("ch03_lr", "ch03_lr_seeds", "ch03_lr_zseeds")))
    every = ch03_tables.sensitivities(seeded)
    assert len(every) == len(WIDTHS) * len(VARIANTS) and all(len(v) == 3 for v in every.values())
    figs = [
        ch03_figures.plot_lr_sweep(ch03_tables.metric_by_lr(runs, "final_val"), WIDTHS, list(VARIANTS)),
        ch03_figures.plot_logit_growth(attn, log_z, WIDTHS),
    ]
    assert [len(f.axes) for f in figs] == [3, 2] and all(f.axes[0].get_ylabel() for f in figs)
    for f in figs:
        plt.close(f)


def test_live_monitor_figure_overlays_runs(corpus):
    model, train_cfg = stability_lm(corpus, d_model=32, lr=1e-2, steps=50)
    result = train(model, replace(train_cfg, progress=False), corpus, cache=False)
    fig = ch03_figures.plot_live_monitor({"a": result, "b": result})
    assert len(fig.axes) == 4 and fig.axes[3].get_yscale() == "log"
    plt.close(fig)
    # the same run checked by exercise 3.2: too low a learning rate and too few steps are named
    ex = ch03.fix_exercise()
    ok, report = ex.verify(result)
    assert not ok and "lr >= 0.1" in report
    assert ex.verify("a number") == (False, "expected the result of train(*ch03.stability_lm(corpus, ...), corpus)")


def test_fix_exercise_judges_the_attention_logits(corpus):
    ex = ch03.fix_exercise(min_lr=0.1, min_steps=60)
    runs = {}
    for variant in ("neither", "qk-layernorm"):
        model, train_cfg = stability_lm(corpus, d_model=32, lr=0.3, variant=variant, steps=60)
        runs[variant] = ex.verify(train(model, replace(train_cfg, progress=False), corpus, cache=False))
    assert runs["qk-layernorm"][0] and "the claim holds" in runs["qk-layernorm"][1]
    assert not runs["neither"][0] and "the claim fails" in runs["neither"][1]


def test_sensitivity_exercise_expects_the_cached_value():
    rows = sweep.load_sweep("ch03_lr")
    ex = ch03.sensitivity_exercise(rows, d_model=128, variant="neither")
    mine = ch03_tables.lr_runs(rows)[(128, "neither", 0)]
    value = lr_sensitivity([r["final_val"] for r in mine], mine[0]["metrics"]["init_loss"])
    assert ex.passed(value) and ex.passed(round(value, 3)) and not ex.passed(value * 1.05)
    with pytest.raises(ValueError, match="rerun"):
        ch03.sensitivity_exercise(rows, d_model=999)


def test_stability_explorer_redraws_for_every_control():
    runs = ch03_tables.lr_runs(sweep.load_sweep("ch03_lr"))
    view = ch03_figures.stability_explorer(runs, WIDTHS, LRS)
    assert repr(view).startswith("[stability explorer: interactive")
    (slider, menu), image = view.children[0].children, view.children[1]
    first = image.value
    slider.value = LRS[0]
    after_lr = image.value
    menu.value = "qk-layernorm"
    assert first != after_lr != image.value


# ----------------------------------------------------------------------------- loss spikes


def test_spike_lm_sets_warmup_eps_and_a_monitor_at_every_step(corpus):
    model, tcfg = ch03.spike_lm(corpus, lr=1e-1, warmup=0, adam_eps=0.0, seed=1)
    assert (tcfg.lr, tcfg.warmup_steps, tcfg.adam_eps, tcfg.seed, tcfg.monitor_every) == (1e-1, 0, 0.0, 1, 1)
    assert model.d_model == 64 and not model.qk_norm and tcfg.z_loss == 0
    assert len(sweep._grid("ch03_spikes", "full")) == 3 * len(ch03.SPIKE_RATES) * len(ch03.SPIKE_WARMUPS) * len(
        ch03.SPIKE_EPS
    )


def test_led_spikes_counts_loss_spikes_a_gradient_spike_preceded():
    assert ch03.led_spikes([10, 50, 90], [8, 50, 84], lead=5) == 1  # 8 leads 10; 50 is coincident; 84 is too early
    assert ch03.led_spikes([], [3]) == 0


def test_no_warmup_at_a_high_rate_overshoots_the_initial_loss():
    rows = {
        w: json.loads(sweep.run_point({"recipe": "spike_lm", "lr": 1e-1, "warmup": w, "steps": 60})["metrics"])
        for w in (0, 15)
    }
    assert rows[0]["early_overshoot"] > 1.0 > 0.1 > rows[15]["early_overshoot"]
    for m in rows.values():
        assert m["init_loss"] == pytest.approx(math.log(row_vocab()))
        assert 0 <= m["led"] <= len(m["loss_spikes"]) and 0 <= m["coincident"] <= len(m["loss_spikes"])


def test_fault_runs_spike_and_the_rollback_rescues(corpus):
    runs = ch03.fault_runs(corpus, lr=3e-3, fault={"start": 40, "stop": 42, "factor": 300.0}, steps=80)
    assert list(runs) == ["clean", "fault", "rollback"]
    (clean, _), (faulty, none), (rescued, remedy) = runs.values()
    assert none is None and remedy.events and all(e.to_step < 40 < e.step for e in remedy.events)
    assert clean.history.final_val < rescued.history.final_val + 0.05 < faulty.history.final_val
    assert len(clean.history.records["monitor_step"]) == 80  # monitored at every step
    fault = {"start": 40, "stop": 42, "factor": 300.0}
    found = ch03_tables.fault_summary(runs, fault)
    assert found["final"]["fault"] == faulty.history.final_val and found["rollbacks"] == len(remedy.events)
    assert found["delay"] == remedy.events[0].step - 40 and found["wasted"] == remedy.wasted_steps
    assert 40 < found["first_loss_spike"] <= remedy.events[0].step
    fig = ch03_figures.plot_fault(runs, fault, zoom=(30, 60))
    assert [len(ax.get_lines()) for ax in fig.axes] == [3, 3 + len(remedy.events), 3 + len(remedy.events)]
    plt.close(fig)
    early = ch03_figures.plot_early_spike({"clean": clean}, steps=20, init_loss=4.3)
    assert max(early.axes[0].get_lines()[0].get_xdata()) == 20
    plt.close(early)


def test_spike_tables_count_what_the_cached_sweep_found():
    groups = ch03_tables.spike_groups(sweep.load_sweep("ch03_spikes"))
    assert len(groups) == 18 and all([r["seed"] for r in rs] == [0, 1, 2] for rs in groups.values())
    found = ch03_tables.spike_summary(groups)
    rows = [r for rs in groups.values() for r in rs]
    assert found["runs"] == 54 and found["grad_spikes"] == sum(len(r["metrics"]["grad_spikes"]) for r in rows)
    assert sum(found["peak_order"].values()) == sum(n for n, _ in found["overshoot"].values())
    assert all(of == 6 for _, of in found["overshoot"].values())  # two eps > 0, three seeds
    table = ch03_tables.spike_table(groups).data
    assert len(table.splitlines()) == 2 + 18 and "NaN in" in table
    faults = {"final": {"clean": 2.0, "fault": 3.0, "rollback": 2.1}, "wasted": 7}
    paper = ch03_tables.spike_paper_table(PUBLISHED, found, faults).data
    assert "PaLM" in paper and "Takase" in paper and "3.000 without the remedy" in paper


@pytest.mark.parametrize("seed", [0, 1])
def test_zero_gradient_entries_predict_whether_adam_without_eps_goes_nan(corpus, seed):
    # which seed meets an exact zero depends on the machine's arithmetic; the consequence does not
    zeros = ch03.zero_gradient_entries(corpus, seed)
    assert all(isinstance(n, int) and n > 0 for n in zeros.values())
    model_cfg, train_cfg = ch03.spike_lm(corpus, adam_eps=0.0, seed=seed)
    seed_everything(seed)
    trainer = Trainer(GPT(model_cfg), corpus, replace(train_cfg, device="cpu", progress=False))
    trainer.fit(stop_at=2)
    finite = all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert finite == (not zeros), zeros


# ----------------------------------------------------------------------------- repeated data


def test_the_repeat_grid_holds_its_token_budget_and_shrinks_the_unique_data():
    points = sweep._grid("ch03_repeat", "full")
    assert len(points) == 3 * (len(ch03.EPOCHS) + len(ch03.FRESH_STEPS))
    for p in points:
        unique = len(sweep.corpus_named(p["data"]).train)
        seen = p.get("steps", ch03.REPEAT_STEPS) * ch03.TOKENS_PER_STEP
        assert seen / unique in (ch03.EPOCHS if "steps" not in p else (1,))
    assert ch03.unique_tokens_of(ch03.unique_data_name(2400)) == 2400
    with pytest.raises(ValueError, match="unique_data_name"):
        ch03.unique_tokens_of("kjv")
    model, tcfg = ch03.repeat_lm(sweep.corpus_named(ch03.unique_data_name(2400)), seed=2)
    assert (model.d_model, tcfg.lr, tcfg.steps, tcfg.seed, tcfg.monitor_every, tcfg.eval_every) == (
        64, 3e-3, 300, 2, 0, 25
    )  # fmt: skip


def test_repeat_tables_fit_and_figure_from_the_cached_sweep():
    groups = ch03_tables.repeat_groups(sweep.load_sweep("ch03_repeat"))
    assert list(groups["repeated"]) == list(ch03.EPOCHS)
    assert list(groups["fresh"]) == [s * ch03.TOKENS_PER_STEP for s in (*ch03.FRESH_STEPS, ch03.REPEAT_STEPS)]
    assert all(len(rs) == 3 for g in groups.values() for rs in g.values())
    law, r_fit = ch03_tables.fit_repeat(groups)
    assert law.n_points == 15 and r_fit.n_points == 3 * (len(ch03.EPOCHS) - 1) and r_fit.r_star > 1
    narrow = ch03_tables.fit_repeat(groups, seeds=[0], max_epochs=64)[1]
    assert narrow.n_points == 6  # 2 to 64 epochs of one seed
    with pytest.raises(ScalingFitError, match="top of its range"):  # seed 0 to 32 epochs: no cost to fit
        ch03_tables.fit_repeat(groups, seeds=[0], max_epochs=32)
    table = ch03_tables.repeat_table(groups, law, r_fit).data
    assert len(table.splitlines()) == 2 + len(ch03.EPOCHS) and "never" in table
    paper = ch03_tables.repeat_paper_table(PUBLISHED, [30.0, 31.0], {1: 0.0, 2: 0.01, 4: 0.5}, 0.1, "x").data
    assert "15.4" in paper and "up to 2 epochs" in paper and "from 4 epochs" in paper
    fig = ch03_figures.plot_repeat(groups, law, r_fit.r_star)
    assert len(fig.axes[1].get_lines()) >= len(ch03.EPOCHS) + 1  # a curve per epoch count and a stop marker
    plt.close(fig)


def test_quietest_threshold_is_the_first_on_the_grid_that_flags_nothing():
    rng = np.random.default_rng(0)
    loss = 2.0 + 0.01 * rng.standard_normal(300)
    k = ch03.quietest_threshold(loss)
    assert k in ch03.ALARM_GRID and k > ch03.ALARM_GRID[0]
    below = ch03.ALARM_GRID[ch03.ALARM_GRID.index(k) - 1]
    assert len(spikes(loss, window=30, threshold=below, min_rise=0.0)) > 0
    assert len(spikes(loss, window=30, threshold=k, min_rise=0.0)) == 0
    with pytest.raises(ValueError, match="not a clean run"):
        ch03.quietest_threshold(np.r_[loss[:100], 50.0, loss[100:]])


def test_alarm_exercise_expects_the_quietest_threshold_of_the_run(corpus):
    model_cfg, tcfg = ch03.spike_lm(corpus, lr=3e-3, steps=80)
    result = train(model_cfg, replace(tcfg, progress=False), corpus)
    ex = ch03.alarm_exercise(result)
    k = ch03.quietest_threshold(monitor_series(result.history)["monitor_loss"])
    assert ex.passed(k) and not ex.passed(k + 1.0) and ex.name.startswith("3.4")


def test_logz_groups_and_table_from_the_cached_grid():
    groups = ch03_tables.logz_groups(sweep.load_sweep("ch03_logz"))
    assert set(groups) == {(v, lr) for v in ("qk-layernorm", "both") for lr in ch03.LOGZ_RATES}
    for g in groups.values():
        assert set(g) == {"val", "log_z_final", "log_z_max", "attn"} and all(len(a) == 3 for a in g.values())
    text = ch03_tables.logz_table(groups).data
    assert text.count("\n") == 1 + len(groups) and r"\|log Z\|" in text
