"""Instruction following (指令跟随) at toy scale: chapter 8's tasks, data and scores.

- ``tasks``: the world (``NAMES``, ``CITIES``, ``WORDS``...), ``Task`` and the 21 ``TASKS`` in 7 ``CLUSTERS``
  (question answering, classification, extraction, structured generation, strings, lists, numbers);
- ``data``: ``render`` (the prompt format), ``InstructionSet`` (clusters trained on and held out, exact
  splits), ``instruction_corpus`` (examples for ``helpers.train.train``, loss on the response only).

Every public name is re-exported here: ``from helpers import instruct; instruct.InstructionSet(...)``.
"""

from .data import IGNORE, Example, InstructionCorpus, InstructionSet, PackedSampler, encode, instruction_corpus, render
from .tasks import BY_NAME, CLUSTERS, TASKS, Task, task

__all__ = [
    "BY_NAME", "CLUSTERS", "IGNORE", "TASKS", "Example", "InstructionCorpus", "InstructionSet",
    "PackedSampler", "Task", "encode", "instruction_corpus", "render", "task",
]  # fmt: skip
