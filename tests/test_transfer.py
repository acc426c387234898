import math

import pytest

from helpers.ch09 import code_data_run
from helpers.tasks import AdditionTask
from helpers.transfer import (
    MIXES,
    add_trace,
    max_trace,
    pretraining_corpus,
    program_traces,
    shared_tokenizer,
)


def test_traces_by_hand():
    assert add_trace(47, 85) == "add(47,85): 7+5+0=12 4+8+1=13 -> 132"
    assert add_trace(4071, 385) == "add(4071,385): 1+5+0=06 7+8+0=15 0+3+1=04 4+0+0=04 -> 4456"
    assert max_trace([4, 71, 3, 55]) == "max(4,71,3,55): 4 71 71 71 -> 71"
    with pytest.raises(ValueError, match="non-negative"):
        add_trace(-1, 2)
    with pytest.raises(ValueError, match="at least one element"):
        max_trace([])


@pytest.mark.parametrize("program", ["add", "max"])
def test_program_traces_are_reproducible_and_correct(program):
    text = program_traces(program, 3000, seed=1)
    assert text == program_traces(program, 3000, seed=1) != program_traces(program, 3000, seed=2)
    assert len(text) >= 3000
    for line in text.splitlines():
        call, result = line.split(" -> ")
        args = [int(x) for x in call[len(program) + 1 : call.index(")")].split(",")]
        assert int(result) == (sum(args) if program == "add" else max(args))
    with pytest.raises(ValueError, match="choose one of"):
        program_traces("sort", 100)


def test_pretraining_mixes_share_one_vocabulary_and_size():
    tok = shared_tokenizer()
    assert set(AdditionTask(3, "scratchpad", n_train=10, n_test=5).alphabet) <= set(tok.chars)
    prose, code = pretraining_corpus("prose", chars=200_000), pretraining_corpus("prose+add", chars=200_000)
    assert prose.tokenizer is code.tokenizer is tok
    assert abs(len(code.train) + len(code.val) - 200_000) < 10_000  # the same budget (blocks end at line ends)
    text = tok.decode(code.train)
    share = sum(len(x) + 1 for x in text.splitlines() if x.startswith("add(")) / len(text)
    assert 0.2 < share < 0.3  # a quarter of the characters are traces
    assert "add(" not in tok.decode(prose.train) and prose.fingerprint != code.fingerprint
    with pytest.raises(ValueError, match="'none' means no pretraining"):
        pretraining_corpus("none")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        pretraining_corpus("prose+max", share=1.0)


def test_code_data_run_pretrains_then_fine_tunes(auto_device_unavailable):
    kw = dict(seed=0, n_train=100, pretrain_steps=20, finetune_steps=20, d_model=16, n_layer=1, device="cpu")
    scratch = code_data_run("none", **kw)
    pre = code_data_run("prose+max", **kw)  # both stages honour device="cpu" (COURSE_DEVICE names an absent one)
    assert scratch.device == pre.device == "cpu"
    assert math.isnan(scratch.metrics["pretrain_val"]) and pre.metrics["pretrain_val"] < 5
    assert scratch.metrics["n"] == pre.metrics["n"] == 1000
    # same seed, same fine-tuning data: only the starting weights differ
    assert scratch.final_val != pre.final_val
    assert set(MIXES) == {"none", "prose", "prose+add", "prose+max"}
    with pytest.raises(ValueError, match="choose one of"):
        code_data_run("code", **kw)
