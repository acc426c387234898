"""Chapter 3's room: the stability recipe, its sweep point and the learning-rate sensitivity."""

import json
import math

import pytest

from helpers import sweep
from helpers.ch03 import LRS, VARIANTS, WIDTHS, lr_sensitivity, stability_lm


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
