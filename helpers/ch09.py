"""Chapter 9, chain-of-thought and code data: its corpora, experiments and cached grids.

- datasets: 3-digit addition from 250, 1,000 or 4,000 training problems (``addition3-{fmt}-n{n}``), 3-digit x
  1-digit multiplication (``mul3-{fmt}-n{n}``) and 3-digit operands written 5 wide (``addition5-{fmt}-k3``);
- experiments: ``arithmetic_length`` (chapter 6's recipe, scored on longer operands by ``tasks.length_scores``)
  and ``ch09_code`` (``code_data_run``: pretrain on prose with or without program traces, then fine-tune);
- grids: ``ch09_formats`` (sample efficiency of the three answer formats), ``ch09_multiplication``,
  ``ch09_length`` (length generalisation), ``ch09_scale`` (the formats across model sizes), ``ch09_code``;
- the chapter's exercises (``scratchpad_exercise`` ... ``subtraction_formats_exercise``), answers computed here.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from . import sweep
from .book.exercises import Exercise, Experiment
from .ch06 import arithmetic
from .tasks import (
    AdditionTask,
    SubtractionTask,
    addition_corpus,
    evaluate,
    length_corpus,
    length_scores,
    multiplication_corpus,
)
from .train import train
from .transfer import MIXES, pretraining_corpus, shared_tokenizer

# numbers of training problems at which the answer formats are compared
CH09_TRAIN_SIZES = (250, 1000, 4000)
CH09_FORMATS = ("plain", "reversed", "scratchpad")
CH09_MUL_SIZES = (1000, 3000)
CH09_SCALE_SIZES = [(16, 1), (16, 2), (64, 2)]  # with ch09_formats' (32, 2): about 3k to 100k parameters


for _f in CH09_FORMATS:
    for _n in CH09_TRAIN_SIZES:
        sweep.register_dataset(f"addition3-{_f}-n{_n}", functools.partial(addition_corpus, 3, _f, _n))
    for _n in CH09_MUL_SIZES:
        sweep.register_dataset(f"mul3-{_f}-n{_n}", functools.partial(multiplication_corpus, 3, _f, _n))
    sweep.register_dataset(f"addition5-{_f}-k3", functools.partial(length_corpus, 5, _f, 3))


def code_data_run(
    mix: str,
    seed: int = 0,
    fmt: str = "reversed",
    n_train: int = 1000,
    pretrain_steps: int = 2000,
    finetune_steps: int = 500,
    d_model: int = 32,
    n_layer: int = 2,
    device: str = "auto",
    cache: bool = False,
    progress: bool = False,
) -> sweep.RunOutput:
    """Pretrain a model on ``mix`` (``"none"`` skips pretraining) for ``pretrain_steps``, then fine-tune it
    on ``n_train`` 3-digit addition problems in format ``fmt`` with chapter 6's recipe (``ch06.arithmetic``,
    ``finetune_steps``: by default a quarter of a from-scratch run, so that a head start shows), and score it
    on the 1,000 test problems. Both stages share ``seed``. The return
    value is a ``helpers.sweep.RunOutput``, with the fine-tuned model in ``extras["model"]``."""
    if mix not in MIXES:
        raise ValueError(f"mix={mix!r}: choose one of {MIXES}")
    task = AdditionTask(3, fmt, n_train=n_train)
    tok = shared_tokenizer()
    task_corpus = task.corpus(tokenizer=tok)
    model_cfg, ft_cfg = arithmetic(task_corpus, d_model, n_layer, steps=finetune_steps, seed=seed)
    ft_cfg = replace(ft_cfg, device=device, progress=progress)
    seconds, pre_val, init = 0.0, float("nan"), None
    if mix != "none":
        corpus = pretraining_corpus(mix)
        _, pre_cfg = arithmetic(task_corpus, d_model, n_layer, steps=pretrain_steps, seed=seed)
        pre = train(model_cfg, replace(pre_cfg, device=device, progress=progress), corpus, cache=cache)
        init, pre_val, seconds = pre.model, pre.history.final_val, pre.history.seconds
    result = train(model_cfg, ft_cfg, task_corpus, init=init, cache=cache)
    scores = evaluate(result.model, task, tokenizer=tok)
    scores.pop("answers")
    h = result.history
    return sweep.RunOutput(
        seed=seed,
        steps=finetune_steps,
        seconds=seconds + h.seconds,
        non_embedding=result.model.param_counts()["non_embedding"],
        final_train=h.eval_train[-1],
        final_val=h.final_val,
        curve={"step": h.eval_step, "val": [round(v, 5) for v in h.eval_val]},
        metrics={**scores, "pretrain_val": pre_val},
        device=result.device.type,
        extras={"model": result.model},
    )


sweep.register_experiment("arithmetic_length", sweep.lm_experiment(arithmetic, evaluator=length_scores))
sweep.register_experiment("ch09_code", code_data_run)


def _ch09(data: str, d_model: int = 32, n_layer: int = 2, seed: int = 0, recipe: str = "arithmetic") -> dict:
    return {"recipe": recipe, "data": data, "d_model": d_model, "n_layer": n_layer, "steps": 2000, "seed": seed}


# sample efficiency: 3-digit addition in the plain, reversed and scratchpad formats, the same model (two layers
# of 32), the same 2,000 steps of 128 problems, from 250, 1,000 or 4,000 distinct training problems, two seeds
GRIDS = {
    "ch09_formats": {
        "full": [
            {
                "recipe": "arithmetic",
                "data": f"addition3-{f}-n{n}",
                "d_model": 32,
                "n_layer": 2,
                "steps": 2000,
                "seed": s,
            }
            for n in CH09_TRAIN_SIZES
            for f in ("plain", "reversed", "scratchpad")
            for s in range(2)
        ]
    }
}
GRIDS["ch09_multiplication"] = {
    "full": [_ch09(f"mul3-{f}-n{n}", seed=s) for n in CH09_MUL_SIZES for f in CH09_FORMATS for s in range(2)],
    "quick": [_ch09("mul3-reversed-n1000")],
}
GRIDS["ch09_length"] = {
    "full": [_ch09(f"addition5-{f}-k3", seed=s, recipe="arithmetic_length") for f in CH09_FORMATS for s in range(2)],
    "quick": [_ch09("addition5-plain-k3", recipe="arithmetic_length")],
}
GRIDS["ch09_scale"] = {
    "full": [
        _ch09(f"addition3-{f}-n1000", d, n, s) for d, n in CH09_SCALE_SIZES for f in CH09_FORMATS for s in range(2)
    ],
    "quick": [_ch09("addition3-reversed-n1000", 16, 1)],
}
GRIDS["ch09_code"] = {
    "full": [
        {"recipe": "ch09_code", "mix": m, "n_train": 1000, "finetune_steps": 500, "seed": s}
        for m in MIXES
        for s in range(3)
    ],
    "quick": [{"recipe": "ch09_code", "mix": "none", "n_train": 1000, "finetune_steps": 500, "seed": 0}],
}

for _name, _profiles in GRIDS.items():
    sweep.register_grid(_name, **_profiles)


# ----------------------------------------------------------------------------- exercises


def scratchpad_exercise(task: AdditionTask, a: int = 385, b: int = 47) -> Exercise:
    """Exercise 9.1: the scratchpad target ``task`` (3-digit, scratchpad format) writes for ``a + b``."""
    return Exercise(
        f"9.1 the scratchpad for {a}+{b:03d}",
        expected=task.target(a, b),
        hints=(
            "work column by column from the units, carrying as you go, exactly as the chapter's example line does",
            "the units column is 5+7+0=12, so the tens column gets a carry of 1; the line ends with :0432",
        ),
    )


def subtraction_design_exercise(n: int = 200) -> Experiment:
    """Exercise 9.2: the student's ``my_target(a, b)`` must write the same subtraction scratchpad as
    ``helpers.tasks.SubtractionTask`` on ``n`` problems (every one of them)."""
    reference = SubtractionTask(digits=3, fmt="scratchpad", n_train=n, n_test=100)

    def verify(fn):
        if not callable(fn):
            return False, "pass your function itself: ex2.check(my_target)"
        problems = reference.problems("train")
        wrong = [(a, b) for a, b in problems if fn(a, b) != reference.target(a, b)]
        if not wrong:
            return True, f"your format agrees with SubtractionTask on all {len(problems)} problems"
        a, b = wrong[0]
        return False, (f"{len(problems) - len(wrong)} of {len(problems)} agree; for {a}-{b:03d} you wrote {fn(a, b)!r}")

    return Experiment(
        "9.2 a subtraction scratchpad",
        verify=verify,
        hints=(
            "compare your output with the example line for 385-047 character by character",
            "loop over the columns from the units up; a column borrows when x - y - borrow_in < 0, "
            "and then its digit is x - y - borrow_in + 10",
        ),
    )


def scale_peak_exercise(sizes, scale_em: dict) -> Exercise:
    """Exercise 9.3: the model size at which the scratchpad's mean exact-match benefit over the reversed
    format (``scale_em[fmt]``: sizes x seeds) is largest."""
    gain = (scale_em["scratchpad"] - scale_em["reversed"]).mean(axis=1)
    return Exercise(
        "9.3 where the scratchpad helps most",
        expected=sizes[int(np.argmax(gain))],
        hints=(
            "compute the benefit at each size, averaged over seeds, then find where it peaks",
            "average scale_em['scratchpad'] - scale_em['reversed'] over seeds (axis=1) and take the argmax",
        ),
    )


SUBTRACTION_MARGIN = 0.3  # exact match: two seeds measured 0.49 and 0.53 for scratchpad minus plain (250 problems)


def subtraction_formats_exercise(n_train: int = 250) -> Experiment:
    """Exercise 9.5 (an experiment): the student trains the chapter's recipe on 3-digit subtraction from
    ``n_train`` problems in the plain and in the scratchpad format (``{"plain": result, "scratchpad":
    result}``); the checker scores both on the test problems and verifies the claim that the scratchpad's
    exact match is higher by more than ``SUBTRACTION_MARGIN``."""

    def verify(results):
        if not isinstance(results, dict) or set(results) != {"plain", "scratchpad"}:
            return False, 'expected {"plain": train(...), "scratchpad": train(...)}'
        em = {
            fmt: evaluate(res.model, SubtractionTask(digits=3, fmt=fmt, n_train=n_train))["exact_match"]
            for fmt, res in results.items()
        }
        gap = em["scratchpad"] - em["plain"]
        report = f"exact match: plain {em['plain']:.3f}, scratchpad {em['scratchpad']:.3f} (gap {gap:+.3f})"
        holds = gap > SUBTRACTION_MARGIN
        return holds, report + (f"; the claim (gap > {SUBTRACTION_MARGIN}) " + ("holds" if holds else "fails"))

    return Experiment(
        "9.5 the scratchpad on subtraction",
        verify=verify,
        hints=(
            "build each format's task and corpus as the chapter does for addition, and train each with arithmetic()",
            "SubtractionTask(digits=3, fmt=fmt, n_train=250), then train(*arithmetic(corpus, d_model=32, "
            "n_layer=2, steps=2000), corpus)",
        ),
    )
