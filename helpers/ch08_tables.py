"""Chapter 8's tables (Markdown, ``helpers.book.report.md_table``).

- ``task_table``: the seven clusters, their tasks, and one example of each cluster as a model reads it;
- ``score_table``: the tuned models' and their bases' scores per group of runs (a knob's values), mean ± seed
  standard deviation;
- ``task_scores``: one run's exact match per task, base against tuned, held-in tasks first;
- ``one_shot_table``: what a model writes after a demonstration and a question, beside the right answer;
- ``format_table``: how often the structured-generation answers parse, base against tuned;
- ``paper_table``: the published results the chapter echoes beside ours (``our_results``: our side, as text).
"""

from __future__ import annotations

import numpy as np

from .book.report import md_table
from .ch08_results import mean_se, trend, tuning_effect, values
from .instruct import CLUSTERS, InstructionSet, one_shot_prompts
from .instruct.score import prompt_answers

COLUMNS = {  # score -> column title
    "held_in": "held-in",
    "held_in_unseen": "held-in, unseen wording",
    "held_out": "held-out",
    "held_out_own": "held-out, own format",
    "steering": "steering",
    "first_last_own": "first and last, own format",
    "first_last_one_shot": "first and last, 1 demonstration",
    "steering_one_shot": "steering, 1 demonstration",
}


def _show(text: str) -> str:
    return "`" + text.replace("\n", "⏎").replace("`", "'").replace("|", "\\|") + "`"


def task_table(seed: int = 0) -> object:
    """Each cluster, its tasks, and its first task's first test example: the prompt and the response."""
    rows = []
    for cluster, names in CLUSTERS.items():
        others = tuple(c for c in CLUSTERS if c != cluster)
        example = InstructionSet(others, (cluster,), n_test=1, seed=seed).examples("test", names[0])[0]
        rows.append([cluster, ", ".join(names), _show(example.prompt), _show(example.response)])
    return md_table(["cluster", "tasks", "a prompt", "its response"], rows)


def _cell(v: np.ndarray) -> str:
    return f"{v.mean():.2f}" if len(v) == 1 else f"{v.mean():.2f} ± {v.std(ddof=1):.2f}"


def score_table(groups: dict, knob: str, keys=tuple(COLUMNS)[:5], models=("base", "tuned")) -> object:
    """One row per group of ``groups`` (``ch08_results.by``; ``knob`` names what keys them) and model of
    ``models``: each score of ``keys`` as its mean ± seed standard deviation, and the number of seeds."""
    rows = []
    for value, group in groups.items():
        for model in models:
            rows.append([value, model, *(_cell(values(group, k, model)) for k in keys), len(group)])
    return md_table([knob, "model", *(COLUMNS[k] for k in keys), "seeds"], rows)


def task_scores(run) -> object:
    """One run (``ch08_results.Run``): each task's cluster, whether it was tuned on, and the exact match of the base
    and of the tuned model (on the held-in tasks also with the wordings tuning never used)."""
    rows = []
    for name, row in sorted(run.tuned["tasks"].items(), key=lambda kv: kv[0] not in run.tuned["unseen"]):
        held_in = name in run.tuned["unseen"]
        unseen = f"{run.tuned['unseen'][name]:.2f}" if held_in else "–"
        cluster = next(c for c, names in CLUSTERS.items() if name in names)
        base = run.base["tasks"][name]["exact_match"]
        rows.append([name, cluster, "tuned on" if held_in else "held out", f"{base:.2f}", f"{row['exact_match']:.2f}",
                     unseen])  # fmt: skip
    return md_table(["task", "cluster", "", "base", "tuned", "tuned, unseen wording"], rows)


def one_shot_table(model, examples: list) -> object:
    """For each example of ``examples``: its prompt with a demonstration before it (``instruct.one_shot_prompts``
    of all of them), what ``model`` writes after it, greedily, and the right answer."""
    prompts = one_shot_prompts(examples)
    said = prompt_answers(model, prompts)
    rows = [[_show(p), _show(s) if s else "(nothing)", _show(e.answer)] for p, s, e in zip(prompts, said, examples)]
    return md_table(["demonstration, then the question", "the model writes", "right answer"], rows)


def format_table(group: list) -> object:
    """For the runs of one ``group``: each structured-generation task's exact match and parse rate (the share of
    answers in the task's format, right or not), base against tuned, means over seeds."""
    names = [n for n in CLUSTERS["format"] if n in group[0].tuned["tasks"]]
    if not names:
        raise ValueError("these runs neither tuned on nor held out the format cluster: no parse rate to show")
    rows = []
    for name in names:
        cells = []
        for model in ("base", "tuned"):
            for key in ("exact_match", "parses"):
                cells.append(np.mean([r.scores(model)["tasks"][name][key] for r in group]))
        rows.append([name, *(f"{c:.2f}" for c in cells)])
    return md_table(["task", "base: exact", "base: parses", "tuned: exact", "tuned: parses"], rows)


def paper_table(published: dict, rows: dict) -> object:
    """The published results the chapter echoes beside ours: ``rows`` maps each key of ``published`` used here
    (``flan``, ``flan_clusters``, ``flan_size``, ``zhang_instructions``, ``instructgpt_sft``) to our result, as
    text."""
    flan = published["flan"]
    paper = {
        "flan": f"{flan['params'] / 1e9:.0f}B tuned on {flan['datasets']} datasets in {flan['clusters']} clusters; "
        f"zero-shot it beats zero-shot GPT-3 175B on {flan['beats_gpt3'][0]} of {flan['beats_gpt3'][1]} datasets",
        "flan_clusters": "held-out accuracy rises as more clusters are tuned on",
        "flan_size": "instruction tuning hurts held-out tasks in small models and helps in large ones",
        "zhang_instructions": "at a fixed budget, many distinct instructions generalise to unseen ones; few do not",
        "instructgpt_sft": "supervised fine-tuning on demonstrations, the loss on the response",
    }
    what = {
        "flan": "tuned vs base, zero-shot on held-out clusters",
        "flan_clusters": "number of training clusters",
        "flan_size": "model size",
        "zhang_instructions": "diversity of instructions",
        "instructgpt_sft": "loss on the prompt or the response",
    }
    source = {"flan_clusters": "flan", "flan_size": "flan", "instructgpt_sft": "instructgpt"}
    body = [[what[k], f"{published[source.get(k, k)]['name']}: {paper[k]}", ours] for k, ours in rows.items()]
    return md_table(["", "paper", "ours"], body)


def our_results(by_n: dict, losses: dict, widths: dict, diversity: dict) -> dict:
    """Our side of ``paper_table``, as text from the chapter's runs: ``by_n`` the cluster sweep by number of
    training clusters (``ch08_results.by``), ``losses`` the six-cluster runs by what the loss counts
    (``"responses only"``, ``"prompt too"``), ``widths`` the six-cluster runs by width, and ``diversity`` the
    paired differences, many tasks with few examples minus few tasks with many (``ch08_results.paired``), of
    ``held_out`` and ``steering``."""
    most = by_n[max(by_n)]

    def mean(key, model="tuned", group=most):
        return values(group, key, model).mean()

    out_fit, steer_fit = trend(by_n, "held_out"), trend(by_n, "steering")
    size_fit = trend(widths, tuning_effect)
    effects = ", ".join(f"{np.mean([tuning_effect(r) for r in g]):+.2f}" for g in widths.values())
    full = losses["prompt too"]

    def paired(key):
        mean, se = mean_se(diversity[key])
        return f"{mean:+.3f} (standard error {se:.3f})"

    return {
        "flan": f"tuned on {max(by_n)} of 7 clusters: held-out exact match {mean('held_out'):.2f} against the "
        f"base's {mean('held_out', 'base'):.2f}, but steering {mean('steering'):.2f}: a habit, not instruction "
        "following",
        "flan_clusters": f"held-out exact match {out_fit['slope']:+.3f} per doubling of the clusters "
        f"({out_fit['slope'] / out_fit['se']:.1f} standard errors); steering flat ({steer_fit['slope']:+.3f} ± "
        f"{steer_fit['se']:.3f})",
        "flan_size": f"widths {', '.join(map(str, widths))}: tuned (tuning format) minus base (own format) on the "
        f"held-out cluster {effects}; {size_fit['slope']:+.2f} ± {size_fit['se']:.2f} per doubling of the width: "
        "FLAN's small-model side at every width, and no turn toward its large-model side",
        "zhang_instructions": f"900 examples as 18 tasks × 50 or 3 tasks × 300: held-out exact match "
        f"{paired('held_out')}, steering {paired('steering')}",
        "instructgpt_sft": f"with the loss on the prompt too, held-in {mean('held_in', group=full):.2f} against "
        f"{mean('held_in'):.2f} on the responses only; held-out steering {mean('steering', group=full):.2f}",
    }
