"""Chapter 8, instruction following: its base model, instruction tuning, zero-shot scoring and grids.

- ``base_config`` and ``PRETRAIN``: the base model's shape (context ``CONTEXT``, which the longest
  instruction example fits) and its pretraining on a mixture of prose, documentation and code;
  ``PRETRAIN_WORKED``, a mixture whose ``worked`` part (``instruct.worked_corpus``) shows the base every task
  as plain worked lines, so that a held-out task is one it has met, though never in the tuning format;
- ``base_model``: that model, pretrained (through the run cache, and once per process);
- ``training_clusters``: the clusters a run tunes on, the first ``n`` of ``CLUSTER_ORDER`` that are not held out;
- ``tune``: instruction tuning of a base with the one trainer, loss on the responses only unless
  ``train_prompt``;
- ``zero_shot``: a model's scores on a dataset's test sets, per task and averaged over the held-in tasks
  (seen and unseen templates) and over the held-out clusters, which it answers zero-shot;
- experiment ``ch08_tune`` (``tuning_run``): pretrain (or reuse) the base, tune it on clusters, score it; grids
  ``ch08_clusters`` (the ``WORKED`` design, ``CLUSTER_COUNTS`` training clusters, ``SEEDS``) and ``ch08_live``
  (the notebook's live run, ``LIVE``, in three seeds) and ``ch08_prompt`` (the loss on the prompts too) and
  ``ch08_sizes`` (widths ``SIZES``, at 6 and 1 clusters and at 6 with 1's examples, ``DIVERSE``) and
  ``ch08_diversity`` (``DIVERSE`` at the width of ``WORKED``);
- exercises ``steering_exercise`` (8.1) and ``template_exercise`` (8.2: a new wording for a task, scored);
- experiment ``ch08_fields`` (``fields_run``): tune the base on the look-up family with a number of distinct
  keys at a fixed budget, and score it on keys it was never asked for (``fields_scores``).
"""

from __future__ import annotations

import functools
from dataclasses import astuple, replace

import numpy as np

from . import sweep
from .book.exercises import Exercise, Experiment
from .instruct import (
    InstructionCorpus,
    InstructionSet,
    WorkedExample,
    examples_corpus,
    field_split,
    instruction_corpus,
    one_shot_prompts,
    render,
    task,
    worked_corpus,
)
from .instruct.score import answers, copied_value, end_choices, exact_match, prompt_answers, scores
from .mixture import Mixture, load_domains, mixed_corpus
from .model import GPT, GPTConfig
from .train import TrainConfig, train

CONTEXT = 192  # bytes: the longest prompt and response of any task (176) fit
PRETRAIN = "kjv=0.6,docs=0.2,code=0.2"  # prose, documentation and code: English words and some structure
PRETRAIN_STEPS = 600
PRETRAIN_WORKED = "kjv=0.2,worked=0.8"  # with every task's worked lines (``instruct.worked_corpus``)
TUNE_STEPS, TUNE_LR = 800, 3e-3
FIELD_BUDGET, FIELD_STEPS = 4800, 1200  # look-up examples per run, whatever the number of keys; tuning steps
# the order in which a run adds training clusters, most instruction-like first (FLAN adds whole clusters)
CLUSTER_ORDER = ("extract", "format", "lists", "strings", "numbers", "classify", "qa")


def base_config(d_model: int = 128, n_layer: int = 4) -> GPTConfig:
    """The base model's shape: a byte-level GPT of width ``d_model`` and depth ``n_layer``, context ``CONTEXT``."""
    return GPTConfig(vocab_size=256, context=CONTEXT, n_layer=n_layer, d_model=d_model, n_head=4)


def pretraining_corpus(mixture: str = PRETRAIN, seed: int = 0):
    """The corpus a base model pretrains on: ``mixture`` of the bundled domains and, if it names it, ``worked``
    (``instruct.worked_corpus`` of ``seed``, which holds no test input of an ``InstructionSet`` of that seed)."""
    names = Mixture.of(mixture).names
    parts = load_domains([n for n in names if n != "worked"])
    if "worked" in names:
        parts["worked"] = worked_corpus(seed=seed)
    return mixed_corpus(mixture, parts)


@functools.lru_cache(maxsize=4)
def _pretrained(d_model: int, n_layer: int, seed: int, steps: int, device: str, mixture: str, progress: bool) -> GPT:
    cfg = TrainConfig(steps=steps, lr=3e-3, warmup_steps=min(30, steps // 10), seed=seed, device=device,
                      progress=progress, desc="base model")  # fmt: skip
    return train(base_config(d_model, n_layer), cfg, pretraining_corpus(mixture, seed)).model


def base_model(d_model: int = 128, n_layer: int = 4, seed: int = 0, pretrain_steps: int = PRETRAIN_STEPS,
               device: str = "auto", pretrain: str = PRETRAIN, progress: bool = False) -> GPT:  # fmt: skip
    """The base model pretrained on the mixture ``pretrain`` (``pretraining_corpus``) for ``pretrain_steps``: from
    the run cache if it holds it, and trained once per process (callers must not change it: ``tune`` copies
    it); ``progress`` shows the pretraining's progress bar."""
    return _pretrained(d_model, n_layer, seed, pretrain_steps, device, pretrain, progress)


def training_clusters(held_out: tuple[str, ...], n: int) -> tuple[str, ...]:
    """The first ``n`` clusters of ``CLUSTER_ORDER`` that are not ``held_out`` (``ValueError`` past the end)."""
    rest = tuple(c for c in CLUSTER_ORDER if c not in held_out)
    if not 1 <= n <= len(rest):
        raise ValueError(f"n={n}: with {', '.join(held_out)} held out, 1 to {len(rest)} clusters can train")
    return rest[:n]


def tune(base: GPT, corpus: InstructionCorpus, steps: int = TUNE_STEPS, lr: float = TUNE_LR, *, seed: int = 0,
         device: str = "auto", cache: bool = True, progress: bool = True):  # fmt: skip
    """Instruction-tune a copy of ``base`` on ``corpus`` (``instruct.instruction_corpus`` or ``examples_corpus``)
    for ``steps`` (peak ``lr``); the ``helpers.train.TrainResult``, whose validation loss is on the corpus's
    validation examples."""
    cfg = TrainConfig(steps=steps, lr=lr, warmup_steps=min(30, steps // 10), eval_every=0, seed=seed,
                      device=device, progress=progress, desc="instruction tuning")  # fmt: skip
    return train(base.cfg, cfg, corpus, init=base, cache=cache)


def _mean(rows: dict, names, key: str = "exact_match") -> float:
    values = [rows[n][key] for n in names if key in rows[n]]
    return float(np.mean(values)) if values else float("nan")


def steering(ends: dict[str, dict[str, float]]) -> float:
    """How far the instruction moves the answer between the list's two ends, from ``ends[task][end]`` (the
    fraction of ``task``'s answers that are the list's ``end`` word, ``instruct.end_choices``) for the tasks
    ``first`` and ``last``: the mean of how much more often each end is given when it is asked for than when
    the other is. 1 follows the instruction every time; 0 answers the same whatever is asked (a model that
    always gives the first word scores 0, however often that is right)."""
    first, last = ends["first"], ends["last"]
    return (first["first"] - last["first"] + last["last"] - first["last"]) / 2


def zero_shot(model: GPT, dataset: InstructionSet) -> dict:
    """``model`` scored on ``dataset``: ``"tasks"`` the per-task scores on the test sets (``instruct.scores``),
    ``"unseen"`` the held-in tasks' exact match on templates training never used, ``"own"`` the held-out tasks'
    exact match asked in the base's own format (``instruct.WorkedExample``); the means ``held_in``,
    ``held_in_unseen``, ``held_out`` and ``held_out_own`` (exact match), ``held_out_options`` (rank
    classification of the held-out classification tasks, if any) and ``held_out_parses`` (format tasks held
    out, if any); and when ``first`` and ``last`` are held out, ``"ends"`` (``instruct.end_choices`` of each)
    and their ``steering``, and the same with one demonstration in the tuning format before each prompt
    (``instruct.one_shot_prompts``): ``"one_shot"`` (exact match of each), ``"ends_one_shot"`` and
    ``steering_one_shot`` (not on ``sort``: its longer prompts, so lengthened, can leave no room in the
    context for the answer)."""
    tasks = scores(model, dataset.examples("test"))
    unseen = scores(model, dataset.examples("unseen"))
    held_in, held_out = dataset.train_tasks, dataset.held_out_tasks
    own = {}
    for name in held_out:
        examples = dataset.examples("test", name)
        own[name] = exact_match(answers(model, [WorkedExample(*astuple(e)) for e in examples]), examples)
    out = {
        "tasks": tasks,
        "unseen": {n: unseen[n]["exact_match"] for n in held_in},
        "own": own,
        "held_in": _mean(tasks, held_in),
        "held_in_unseen": _mean(unseen, held_in),
        "held_out": _mean(tasks, held_out),
        "held_out_own": float(np.mean(list(own.values()))),
        "held_out_options": _mean(tasks, held_out, "option_accuracy"),
        "held_out_parses": _mean(tasks, held_out, "parses"),
    }
    if {"first", "last"} <= set(held_out):
        lists = {n: dataset.examples("test", n) for n in ("first", "last")}
        out["ends"] = {n: end_choices(answers(model, ex), ex) for n, ex in lists.items()}
        out["steering"] = steering(out["ends"])
        shown = {n: prompt_answers(model, one_shot_prompts(ex)) for n, ex in lists.items()}
        out["one_shot"] = {n: exact_match(said, lists[n]) for n, said in shown.items()}
        out["ends_one_shot"] = {n: end_choices(said, lists[n]) for n, said in shown.items()}
        out["steering_one_shot"] = steering(out["ends_one_shot"])
    return out


def _tuned_run(corpus: InstructionCorpus, score, seed: int, steps: int, device: str, cache: bool, base: dict,
               lr: float = TUNE_LR, progress: bool = False):  # fmt: skip
    """Tune the base that ``base`` names (``base_model``'s keywords) with ``seed`` on ``corpus`` for ``steps`` at
    peak ``lr``; the ``RunOutput`` whose metrics are ``score(tuned model)``, with ``score(base)`` under
    ``"base"``, and the tuned model and the base in ``extras["model"]`` and ``extras["base"]``. ``progress`` shows
    the training's progress bars."""
    start = base_model(seed=seed, device=device, progress=progress, **base)
    result = tune(start, corpus, steps, lr, seed=seed, device=device, cache=cache, progress=progress)
    metrics = {**score(result.model), "base": score(start)}
    out = sweep.RunOutput.of_training(result, seed, metrics, steps=steps)
    return replace(out, extras={"model": result.model, "base": start})


def tuning_run(held_out: str = "qa", clusters: int = 6, seed: int = 0, per_task: int = 300, templates: int = 2,
               n_test: int = 50, train_prompt: bool = False, steps: int = TUNE_STEPS, tune_lr: float = TUNE_LR,
               device: str = "auto", cache: bool = False, progress: bool = False,
               **base) -> sweep.RunOutput:  # fmt: skip
    """Tune the base (``base``: ``base_model``'s keywords; pretrained with ``seed``) on the first ``clusters``
    training clusters (``held_out`` is a ``+``-joined list of held-out clusters), ``per_task`` examples per task
    worded by ``templates`` templates, for ``steps`` at peak ``tune_lr``; test ``n_test`` per task, and score
    tuned and base zero-shot (``zero_shot``). ``extras`` holds the tuned ``model``, the ``base`` and the
    ``dataset``; ``progress`` shows the training's progress bars."""
    out = tuple(held_out.split("+"))
    dataset = InstructionSet(training_clusters(out, clusters), out, per_task=per_task, train_templates=templates,
                             n_test=n_test, seed=seed)  # fmt: skip
    corpus = instruction_corpus(dataset, CONTEXT, train_prompt=train_prompt)
    out = _tuned_run(corpus, lambda m: zero_shot(m, dataset), seed, steps, device, cache, base, tune_lr, progress)
    return replace(out, extras={**out.extras, "dataset": dataset})


def fields_scores(model: GPT, split: dict) -> dict:
    """``model`` on a ``instruct.field_split``: exact match on the ``seen`` and ``unseen`` keys, and on the
    unseen ones how often it answers with some value of the record (``copied``)."""
    said = {name: answers(model, split[name], max_new=8) for name in ("seen", "unseen")}
    return {
        "seen": exact_match(said["seen"], split["seen"]),
        "unseen": exact_match(said["unseen"], split["unseen"]),
        "copied": copied_value(said["unseen"], split["unseen"]),
    }


def fields_run(n_keys: int = 16, seed: int = 0, budget: int = FIELD_BUDGET, steps: int = FIELD_STEPS,
               n_test: int = 100, device: str = "auto", cache: bool = False, **base) -> sweep.RunOutput:  # fmt: skip
    """Tune the base (``base``: ``base_model``'s keywords; pretrained with ``seed``) on ``budget`` look-up
    examples over ``n_keys`` distinct keys (``instruct.field_split``) and score tuned and base on seen and
    unseen keys (``fields_scores``)."""
    split = field_split(n_keys, budget, n_test, seed)
    corpus = examples_corpus(split["train"], split["seen"], CONTEXT, label=f"fields {n_keys} {budget} {seed}",
                             seed=seed)  # fmt: skip
    return _tuned_run(corpus, lambda m: fields_scores(m, split), seed, steps, device, cache, base)


# FLAN's design at toy size: a base that met every task as worked lines, tuned gently on whole clusters, the
# `lists` cluster held out (its `first` and `last` tasks measure ``steering``)
WORKED = {"held_out": "lists", "pretrain": PRETRAIN_WORKED, "pretrain_steps": 2000, "steps": 600, "tune_lr": 3e-4}
# the chapter's live run: a smaller base, shorter training, fewer test examples (about 2 minutes on 2 cores)
LIVE = {**WORKED, "clusters": 6, "d_model": 64, "pretrain_steps": 600, "steps": 300, "tune_lr": 1e-3, "n_test": 20}
CLUSTER_COUNTS, SEEDS = (6, 3, 1), (0, 1)

sweep.register_experiment("ch08_tune", tuning_run)
sweep.register_grid(
    "ch08_clusters",  # both seeds' bases are pretrained first, by the first two runs
    full=[{"recipe": "ch08_tune", "clusters": n, "seed": s, **WORKED} for n in CLUSTER_COUNTS for s in SEEDS],
    quick=[{"recipe": "ch08_tune", **LIVE, "seed": 0}],
)
sweep.register_grid("ch08_live", full=[{"recipe": "ch08_tune", **LIVE, "seed": s} for s in (0, 1, 2)])
# the loss on the prompts too, on every cluster but the held-out one
PROMPT_POINT = {"recipe": "ch08_tune", "clusters": 6, **WORKED, "train_prompt": True}
sweep.register_grid("ch08_prompt", full=[{**PROMPT_POINT, "seed": s} for s in SEEDS])
# the same design at two more widths (four layers each; WORKED's 128 is in ch08_clusters), at 6 and 1 training
# clusters, and at 6 clusters with the examples of 1 (DIVERSE: many tasks with few examples each, Zhang et al.)
SIZES, DIVERSE = (64, 96), {"clusters": 6, "per_task": 50}
sweep.register_grid(
    "ch08_sizes",  # a width's two bases are pretrained first, by its first two runs
    full=[
        {"recipe": "ch08_tune", **WORKED, "d_model": d, **point, "seed": s}
        for d in SIZES
        for point in ({"clusters": 6}, {"clusters": 1}, DIVERSE)
        for s in SEEDS
    ],
)
# the DIVERSE point at WORKED's width, 128 (its 6- and 1-cluster runs are in ch08_clusters, on the same bases)
sweep.register_grid("ch08_diversity", full=[{"recipe": "ch08_tune", **WORKED, **DIVERSE, "seed": s} for s in SEEDS])
sweep.register_experiment("ch08_fields", fields_run)


# ----------------------------------------------------------------------------- the chapter's exercises


def steering_exercise(scores: dict) -> Exercise:
    """Exercise 8.1: the ``steering`` of a model from its ``scores`` (``zero_shot``), given the shares in
    ``scores["ends"]`` that the notebook prints."""
    return Exercise(
        "8.1 steering",
        expected=steering(scores["ends"]),
        hints=(
            "how much more often is the first word given when the first is asked for than when the last is? and the "
            "last word?",
            "the mean of (first|asked first − first|asked last) and (last|asked last − last|asked first)",
        ),
        atol=0.006,
    )


def template_score(model: GPT, dataset: InstructionSet, name: str, template: str) -> float:
    """``model``'s exact match on task ``name``'s test inputs in ``dataset``, every one asked with ``template``
    (an instruction the task may not have)."""
    examples = dataset.examples("test", name)
    return exact_match(prompt_answers(model, [render(template, e.input) for e in examples]), examples)


def template_exercise(
    model: GPT, dataset: InstructionSet, name: str = "city", margin: float | None = None
) -> Experiment:
    """Exercise 8.2: write a new instruction for the held-in task ``name``. The checker asks ``model`` every test
    input of ``dataset`` with it and passes when its exact match comes within ``margin`` of the mean over the
    task's own templates (or beats it); by default two binomial standard errors of that mean over the task's
    test items (at least 0.05), the noise of a score on so few items, which another machine's run moves by as
    much. It refuses a template the task already has, an empty one or one longer than a line."""
    own = [template_score(model, dataset, name, t) for t in task(name).templates]
    target = float(np.mean(own))
    if margin is None:
        margin = max(0.05, 2 * float(np.sqrt(target * (1 - target) / len(dataset.examples("test", name)))))

    def verify(template) -> tuple[bool, str]:
        if not isinstance(template, str) or not template.strip() or "\n" in template or len(template) > 60:
            return False, f"{template!r} is not an instruction: write one line of at most 60 characters"
        if template.strip() in task(name).templates:
            return False, f"{template!r} is one of the task's own templates: the exercise asks for a new wording"
        got = template_score(model, dataset, name, template.strip())
        verdict = "as well understood as the task's own wordings" if got >= target - margin else "not understood"
        return got >= target - margin, (
            f"exact match {got:.2f} with your wording, {target:.2f} on average with the task's own "
            f"{len(own)} ({', '.join(f'{x:.2f}' for x in own)}), so at least {target - margin:.2f} passes: {verdict}"
        )

    return Experiment(
        f"8.2 a new wording for {name}",
        verify=verify,
        hints=(
            "the model learnt the task from a few wordings: which words of them carry the request?",
            f"stay close to a wording it was tuned on, such as {task(name).templates[0]!r}: change a word or two",
        ),
    )
