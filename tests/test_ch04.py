import json

import numpy as np
import pytest

from helpers import ch04, sweep
from helpers.mixture import DOMAINS, Mixture, mixed_corpus


def test_the_grids_hold_the_designed_runs():
    transfer = sweep.GRIDS["ch04_transfer"]["full"]
    assert len(transfer) == (2 * len(ch04.SINGLES) + len(ch04.PAIRS)) * len(ch04.SEEDS) == 42
    assert {p.get("steps", ch04.STEPS) for p in transfer} == {ch04.STEPS, ch04.HALF}
    law = sweep.GRIDS["ch04_law"]["full"]
    assert len(law) == ch04.N_FIT + ch04.N_HELD_OUT + 2 * len(ch04.SEEDS)
    assert not set(ch04.FIT_MIXTURES) & set(ch04.HELD_OUT)
    for text in ch04.FIT_MIXTURES + ch04.HELD_OUT:
        mix = Mixture.of(text)
        assert min(mix.weight(d) for d in DOMAINS) >= ch04.FLOOR - 1e-9
        assert abs(sum(mix.weights) - 1) < 1e-6


def test_the_natural_mixture_follows_the_domains_sizes():
    natural = ch04.natural_mixture()
    assert natural.names == DOMAINS and abs(sum(natural.weights) - 1) < 1e-6
    assert natural.weight("kjv") > 0.5 and natural.weight("poems") < ch04.FLOOR


def test_the_recipe_refuses_a_width_its_heads_cannot_split():
    corpus = mixed_corpus("kjv=1")
    model, train = ch04.mix_lm(corpus, d_model=32, steps=60)
    assert model.vocab_size == 256 and model.n_head == 2 and train.steps == 60
    with pytest.raises(ValueError, match="multiple of 16"):
        ch04.mix_lm(corpus, d_model=40)


def test_a_point_trains_on_its_mixture_and_is_scored_on_every_domain():
    row = sweep.run_point({"recipe": "mix_lm", "mix": "code=0.5,docs=0.5", "steps": 60, "d_model": 32}, device="cpu")
    losses = json.loads(row["metrics"])["val"]
    assert set(losses) == set(DOMAINS) and row["steps"] == 60
    # trained on English-like ASCII text only, the model has never seen the poems' three-byte characters
    assert losses["poems"] > max(losses["code"], losses["docs"]) + 1
    mixes, props, table = ch04.per_domain([{**row, "metrics": {"val": losses}}])
    assert mixes == ["code=0.5,docs=0.5"] and props.tolist() == [[0, 0.5, 0.5, 0]]
    assert np.allclose(table[0], [losses[d] for d in DOMAINS])
