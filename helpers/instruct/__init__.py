"""Instruction following (指令跟随) at toy scale: chapter 8's tasks, data and scores.

- ``tasks``: the world (``NAMES``, ``CITIES``, ``WORDS``...), ``Task`` and the 21 ``TASKS`` in 7 ``CLUSTERS``
  (question answering, classification, extraction, structured generation, strings, lists, numbers), and
  the look-up family ``field_task`` whose instruction names the field to read;
- ``data``: ``render`` (the prompt format), ``InstructionSet`` (clusters trained on and held out, exact
  splits), ``field_split`` (the look-up family split by key), ``one_shot_prompts`` (a demonstration before
  each prompt), ``examples_corpus`` / ``instruction_corpus``
  (examples for ``helpers.train.train``, loss on the response only), ``worked_text`` / ``worked_corpus`` (every
  task as plain worked lines, for pretraining);
- ``score``: greedy answers, exact match, rank classification and parse rates.

Every public name is re-exported here: ``from helpers import instruct; instruct.InstructionSet(...)``.
"""

from .data import (
    HELD_OUT_FIELDS,
    IGNORE,
    Example,
    InstructionCorpus,
    InstructionSet,
    PackedSampler,
    WorkedExample,
    encode,
    examples_corpus,
    field_split,
    instruction_corpus,
    one_shot_prompts,
    render,
    worked_corpus,
    worked_line,
    worked_text,
)  # fmt: skip
from .tasks import BY_NAME, CLUSTERS, FIELD_KEYS, FIELDS_PER_RECORD, TASKS, Task, field_task, task

__all__ = [
    "BY_NAME", "CLUSTERS", "FIELD_KEYS", "FIELDS_PER_RECORD", "HELD_OUT_FIELDS", "IGNORE", "TASKS", "Example",
    "InstructionCorpus", "InstructionSet", "PackedSampler", "Task", "encode", "examples_corpus", "field_split",
    "field_task", "instruction_corpus", "one_shot_prompts", "render", "task", "worked_corpus", "worked_line",
    "worked_text", "WorkedExample",
]  # fmt: skip
