"""Scoring a model on instruction examples: its greedy answers, exact match per task, and format following.

- ``answers`` / ``prompt_answers``: each example's prompt (or any prompt) decoded greedily until a newline (or
  ``max_new`` bytes), batched by prompt length so that no prompt is padded, each batch stopping once every row
  has ended;
- ``exact_match``: the fraction of a task's examples answered exactly (surrounding spaces ignored);
- ``end_choices``: for list tasks, how often the answer is the list's first word and how often its last;
- ``copied_value``: for the look-up family, how often the answer is some value of the record (right or not);
- ``option_choices``: for a classification task, the option the model finds likeliest as the whole response
  (rank classification, as FLAN and T0 score such tasks), which reads the model's preference even when it
  would not generate an option;
- ``scores``: exact match per task for a list of examples, with the parse rate of structured-generation
  tasks and the rank-classification accuracy of classification tasks.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from ..generate import generate
from ..metrics import answer_logprob
from ..tokenizer import ByteTokenizer
from .data import Example
from .tasks import task

NEWLINE = ord("\n")  # ends every response


def answers(model, examples: list[Example], max_new: int = 32, batch: int = 256) -> list[str]:
    """The model's greedy answer to each example (``prompt_answers`` of their prompts)."""
    return prompt_answers(model, [e.prompt for e in examples], max_new, batch)


@torch.no_grad()
def prompt_answers(model, texts: list[str], max_new: int = 32, batch: int = 256) -> list[str]:
    """The model's greedy answer to each prompt of ``texts``, without the prompt and the ending newline: at most
    ``max_new`` bytes, and no more than the context leaves after the prompt."""
    tok = ByteTokenizer()
    prompts = [tok.encode(t) for t in texts]
    if any(len(p) >= model.cfg.context for p in prompts):
        longest = max(len(p) for p in prompts)
        raise ValueError(f"a prompt of {longest} bytes leaves no room to answer in the context {model.cfg.context}")
    by_len = defaultdict(list)
    for i, p in enumerate(prompts):
        by_len[len(p)].append(i)
    out: list[str] = [""] * len(texts)
    for length, idx in by_len.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k : k + batch]
            new = min(max_new, model.cfg.context - length)
            seq = generate(model, torch.tensor([prompts[i] for i in chunk]), new, temperature=0, stop=NEWLINE)
            seq = seq[:, length:]
            for i, row in zip(chunk, seq.tolist()):
                text = tok.decode(row)
                out[i] = text.split("\n", 1)[0].strip()
    return out


def exact_match(said: list[str], examples: list[Example]) -> float:
    """The fraction of ``examples`` whose answer equals what the model ``said``."""
    if len(said) != len(examples) or not examples:
        raise ValueError(f"need one answer per example, and some examples; got {len(said)} and {len(examples)}")
    return sum(s == e.answer for s, e in zip(said, examples)) / len(examples)


@torch.no_grad()
def option_choices(model, examples: list[Example]) -> list[str]:
    """Per example of a classification task, the option whose response (`` option`` and the newline) has the
    highest log-probability after the prompt (``ValueError`` for a task without options)."""
    tok = ByteTokenizer()
    best = [("", float("-inf"))] * len(examples)
    groups = defaultdict(list)
    for i, e in enumerate(examples):
        if not task(e.task).options:
            raise ValueError(f"task {e.task!r} has no options to rank")
        groups[(e.task, len(tok.encode(e.prompt)))].append(i)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    for (name, _), idx in groups.items():
        prompt = torch.tensor([tok.encode(examples[i].prompt) for i in idx], device=device)
        for option in task(name).options:
            answer = torch.tensor([tok.encode(f" {option}\n")] * len(idx), device=device)
            for i, lp in zip(idx, answer_logprob(model, prompt, answer).tolist()):
                if lp > best[i][1]:
                    best[i] = (option, lp)
    model.train(was_training)
    return [b[0] for b in best]


def copied_value(said: list[str], examples: list[Example]) -> float:
    """For look-up examples (``tasks.field_task``): the fraction of answers that are one of the record's
    values, right or wrong; a model that copies one at random is right ``1 / FIELDS_PER_RECORD`` of the time."""
    if len(said) != len(examples) or not examples:
        raise ValueError(f"need one answer per example, and some examples; got {len(said)} and {len(examples)}")
    values = [{f.split(": ", 1)[1] for f in e.input.split("; ")} for e in examples]
    return sum(s in v for s, v in zip(said, values)) / len(examples)


def end_choices(said: list[str], examples: list[Example]) -> dict[str, float]:
    """For examples whose input is a list of words split by spaces: the fraction of answers that are the list's
    ``"first"`` word and the fraction that are its ``"last"``, whatever the instruction asked for."""
    if len(said) != len(examples) or not examples:
        raise ValueError(f"need one answer per example, and some examples; got {len(said)} and {len(examples)}")
    words = [e.input.split() for e in examples]
    return {end: sum(s == w[i] for s, w in zip(said, words)) / len(examples) for end, i in (("first", 0), ("last", -1))}


def scores(model, examples: list[Example], max_new: int = 32) -> dict[str, dict[str, float]]:
    """Per task: ``exact_match``; for a structured-generation task ``parses`` (the fraction of answers in the
    task's format, right or wrong); for a classification task ``option_accuracy`` (``option_choices``)."""
    said = answers(model, examples, max_new)
    groups = defaultdict(list)
    for s, e in zip(said, examples):
        groups[e.task].append((s, e))
    out = {}
    for name, pairs in groups.items():
        s, e = [p[0] for p in pairs], [p[1] for p in pairs]
        row, t = {"exact_match": exact_match(s, e)}, task(name)
        if t.pattern is not None:
            row["parses"] = sum(t.parses(x) for x in s) / len(s)
        if t.options:
            row["option_accuracy"] = exact_match(option_choices(model, e), e)
        out[name] = row
    return out
