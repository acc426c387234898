"""Instruction data from chapter 8's tasks: exact splits, a prompt format, and a corpus for the one trainer.

- ``render``: the prompt a model reads (``Task:`` instruction, ``Input:``, ``Answer:``) and the response it
  should write (a space, the answer, a newline that ends it);
- ``InstructionSet``: which clusters train and which are held out, how many examples per task and how many
  of each task's templates training may use; ``examples(split)`` draws them, reproducibly, with no test
  input also in training;
- ``field_split``: the look-up family (``tasks.field_task``) split by key, for tuning on a number of distinct
  instructions at a fixed budget and testing on keys never asked for;
- ``one_shot_prompts``: prompts preceded by a demonstration of the same task, in the same format;
- ``worked_corpus``: every task's examples as plain worked lines, a part for a base model's pretraining, so
  that it meets every task (none of their test inputs) before any tuning;
- ``encode``, ``PackedSampler``, ``InstructionCorpus`` / ``examples_corpus`` / ``instruction_corpus``: the
  examples shuffled into one stream of byte ids, windows that start at an example and pack the next ones
  after it, and targets that are ``IGNORE`` on the prompts (loss on the responses only) unless
  ``train_prompt``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..config import Config, positive_int
from ..data import Corpus, sha256_bytes, split_blocks
from ..tokenizer import ByteTokenizer
from .tasks import CLUSTERS, FIELD_KEYS, TASKS, Task
from .tasks import task as task_named

IGNORE = -100  # a target the loss skips (``torch.nn.functional.cross_entropy``'s ignore_index)
FORMAT_VERSION = 1  # part of every corpus fingerprint: bump it when ``render`` changes


@dataclass(frozen=True)
class Example:
    """One instruction example: its task, the template's index, the input and the answer."""

    task: str
    template: int
    input: str
    answer: str

    @property
    def prompt(self) -> str:
        """What the model reads."""
        return render(task_named(self.task).templates[self.template], self.input)

    @property
    def response(self) -> str:
        """What the model should write after the prompt: the answer and the newline that ends it."""
        return f" {self.answer}\n"


def render(instruction: str, text: str) -> str:
    """The prompt for ``instruction`` applied to ``text``."""
    return f"Task: {instruction}\nInput: {text}\nAnswer:"


def _rng(*parts) -> np.random.Generator:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass(frozen=True)
class InstructionSet(Config):
    """Tasks split by cluster: ``train_clusters`` are tuned on, ``held_out`` only tested, zero-shot.

    ``per_task`` training examples per training task (``tasks`` narrows the training tasks to those named);
    training uses the first ``train_templates`` templates of each task, and every test set draws from all of
    them, so ``split="test"`` on a training task mixes seen and unseen instructions (``"unseen"`` keeps only
    the unseen ones). ``n_test`` test examples per task. Everything is fixed by ``seed``."""

    train_clusters: tuple[str, ...]
    held_out: tuple[str, ...]
    per_task: int = 200
    train_templates: int = 2
    n_test: int = 50
    tasks: tuple[str, ...] | None = None
    seed: int = 0
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def rules(self):
        known = ", ".join(CLUSTERS)
        yield all(c in CLUSTERS for c in self.train_clusters), "train_clusters", f"the clusters are {known}"
        yield all(c in CLUSTERS for c in self.held_out), "held_out", f"the clusters are {known}"
        yield not set(self.train_clusters) & set(self.held_out), "held_out", "must not share a cluster with training"
        yield len(self.held_out) > 0, "held_out", "hold out at least one cluster to test zero-shot"
        yield positive_int(self.per_task), "per_task", "need at least 1 example per training task"
        yield positive_int(self.n_test), "n_test", "need at least 1 test example per task"
        yield positive_int(self.train_templates), "train_templates", "training needs at least 1 template"
        in_training = {t for c in self.train_clusters for t in CLUSTERS[c]}
        yield (
            self.tasks is None or (len(self.tasks) > 0 and set(self.tasks) <= in_training),
            "tasks",
            f"name tasks of the training clusters: {', '.join(sorted(in_training))}",
        )

    @property
    def train_tasks(self) -> tuple[str, ...]:
        """The tasks tuned on."""
        names = tuple(t for c in self.train_clusters for t in CLUSTERS[c])
        return names if self.tasks is None else tuple(t for t in names if t in self.tasks)

    @property
    def held_out_tasks(self) -> tuple[str, ...]:
        """The tasks of the held-out clusters."""
        return tuple(t for c in self.held_out for t in CLUSTERS[c])

    def examples(self, split: str, task: str | None = None) -> list[Example]:
        """``"train"``: every training task's examples, task by task, none with a test input (an input may
        repeat; a smaller ``per_task`` gives the first examples of a larger one). ``"test"``: ``n_test``
        distinct inputs per task of ``task`` (default: every training and held-out task), the same whatever
        the training set; ``"unseen"``: the same inputs, worded only by the templates training never used."""
        if split not in ("train", "test", "unseen"):
            raise ValueError(f"split={split!r}: choose 'train', 'test' or 'unseen'")
        names = (task,) if task is not None else self.train_tasks + self.held_out_tasks
        if split == "train":
            names = self.train_tasks if task is None else names
        out = []
        for name in names:
            out.extend(self._draw(task_named(name), split))
        return out

    def _draw(self, t: Task, split: str) -> list[Example]:
        key = (t.name, split)
        if key in self._cache:
            return self._cache[key]
        if split == "train" and t.name not in self.train_tasks:
            return []
        lo = self.train_templates if split == "unseen" else 0
        hi = min(self.train_templates, len(t.templates)) if split == "train" else len(t.templates)
        if lo >= hi:
            raise ValueError(
                f"task {t.name!r} has {len(t.templates)} templates and training uses {self.train_templates}: "
                "none is left unseen; lower train_templates"
            )
        # the test inputs come first, from their own stream, so they never depend on the training set's size
        test = split != "train"
        avoid = set() if test else {e.input for e in self._draw(t, "test")}
        rng = _rng(t.name, "test" if test else "train", self.seed)
        wording = _rng(t.name, split, self.seed, "templates")  # its own stream: "unseen" keeps test's inputs
        want = self.n_test if test else self.per_task
        got: list[Example] = []
        for _ in range(50 * want):
            if len(got) == want:
                break
            text, answer = t.make(rng)
            template = int(wording.integers(lo, hi))
            if text not in avoid:
                got.append(Example(t.name, template, text, answer))
                if test:  # test inputs are distinct; training may repeat one
                    avoid.add(text)
        if len(got) < want:
            raise ValueError(f"task {t.name!r}: could not draw {want} distinct {split} inputs; ask for fewer")
        self._cache[key] = got
        return got


def encode(examples: list[Example], context: int, train_prompt: bool = False, seed: int = 0):
    """``examples`` in a shuffled order (fixed by ``seed``) as one stream of byte ids, with ``keep``, whether
    each id is a target the loss counts (the responses, or everything with ``train_prompt``), and ``starts``,
    where each example begins. ``ValueError`` when an example does not fit in ``context`` + 1 bytes."""
    tok = ByteTokenizer()
    ids, keep, starts = [], [], []
    for i in np.random.default_rng(seed).permutation(len(examples)):
        e = examples[i]
        p, r = tok.encode(e.prompt), tok.encode(e.response)
        if len(p) + len(r) > context + 1:
            raise ValueError(
                f"an example of task {e.task!r} takes {len(p) + len(r)} bytes; the model's context is {context}: "
                "use a longer context"
            )
        starts.append(len(ids))
        ids += p + r
        keep += [train_prompt] * len(p) + [True] * len(r)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(keep), torch.tensor(starts, dtype=torch.long)


class PackedSampler:
    """Windows of ``context + 1`` ids from a stream of examples, each starting where an example starts (so
    one begins every window, and the next follow it, packed); targets the loss does not count are
    ``IGNORE``."""

    def __init__(self, ids, keep, starts, context: int, batch_size: int, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be at least 1")
        self.starts = starts[starts + context + 1 <= len(ids)]
        if len(self.starts) == 0:
            raise ValueError(f"{len(ids)} ids of examples do not fill one window of {context + 1}: add examples")
        self.ids, self.keep, self.context, self.batch_size = ids, keep, context, batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(x, y)``, each ``(batch_size, context)``."""
        s = self.starts[torch.randint(len(self.starts), (self.batch_size,), generator=self.gen)]
        pos = s[:, None] + torch.arange(self.context + 1)
        window, keep = self.ids[pos], self.keep[pos]
        return window[:, :-1], window[:, 1:].masked_fill(~keep[:, 1:], IGNORE)

    def state_dict(self) -> dict:
        """The generator's state, for a checkpoint."""
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from ``state_dict``."""
        self.gen.set_state(state["gen"])


@dataclass(repr=False)
class InstructionCorpus(Corpus):
    """An ``InstructionSet``'s training examples, packed, for the trainer; ``val`` holds the test examples
    of the training tasks (held-in), which the trainer's evaluation reads."""

    keep: dict | None = None  # split -> which ids are counted targets
    starts: dict | None = None  # split -> where each example begins
    dataset: InstructionSet | None = None

    def sampler(self, split: str, context: int, batch_size: int, seed: int = 0) -> PackedSampler:
        """Packed windows of ``split`` ("train" or "val")."""
        if split not in ("train", "val"):
            raise ValueError(f"split={split!r}: choose 'train' or 'val'")
        return PackedSampler(getattr(self, split), self.keep[split], self.starts[split], context, batch_size, seed)


def examples_corpus(train: list[Example], val: list[Example], context: int, train_prompt: bool = False,
                    label: str = "", seed: int = 0) -> InstructionCorpus:  # fmt: skip
    """The ``train`` examples packed (in an order fixed by ``seed``) for ``helpers.train.train``, ``val`` for its
    evaluation; the fingerprint covers both, the format, ``train_prompt`` and ``label`` (what the examples came
    from)."""
    parts = {split: encode(ex, context, train_prompt, seed=seed) for split, ex in (("train", train), ("val", val))}
    ids = {split: p[0] for split, p in parts.items()}
    text = f"{label}|{train_prompt}|format {FORMAT_VERSION}".encode() + ids["train"].numpy().tobytes()
    text += ids["val"].numpy().tobytes()
    return InstructionCorpus(
        "instructions", ByteTokenizer(), ids["train"], ids["val"], sha256_bytes(text),
        keep={k: p[1] for k, p in parts.items()}, starts={k: p[2] for k, p in parts.items()},
    )  # fmt: skip


def instruction_corpus(dataset: InstructionSet, context: int, train_prompt: bool = False) -> InstructionCorpus:
    """``dataset`` as a corpus for ``helpers.train.train``, evaluated on the test examples of its training
    tasks; its fingerprint covers the set, the format and ``train_prompt``, so a cached run is reused only for
    the same data."""
    held_in = [e for t in dataset.train_tasks for e in dataset.examples("test", t)]
    corpus = examples_corpus(dataset.examples("train"), held_in, context, train_prompt, label=repr(dataset),
                             seed=dataset.seed)  # fmt: skip
    return replace(corpus, dataset=dataset)


HELD_OUT_FIELDS = FIELD_KEYS[-8:]  # the look-up keys no training set asks for: its "unseen" instructions


def field_split(n_keys: int, budget: int = 4800, n_test: int = 100, seed: int = 0) -> dict[str, list[Example]]:
    """The look-up family (``tasks.field_task``) split by key. ``"train"``: ``budget`` examples spread evenly
    over the first ``n_keys`` keys that are not in ``HELD_OUT_FIELDS``, so every ``n_keys`` sees as many
    examples; ``"seen"``: ``n_test`` test examples of those keys; ``"unseen"``: ``n_test`` of the held-out keys,
    the same for every ``n_keys``. Every template is used; no test input is also a training input."""
    keys = [k for k in FIELD_KEYS if k not in HELD_OUT_FIELDS]
    if not 1 <= n_keys <= len(keys):
        raise ValueError(f"n_keys={n_keys}: choose 1 to {len(keys)} (the other {len(HELD_OUT_FIELDS)} are held out)")
    if budget < n_keys or n_test < 1:
        raise ValueError(f"budget={budget}, n_test={n_test}: need an example per key and at least 1 test example")
    unseen = _field_examples(HELD_OUT_FIELDS, n_test, (seed, "unseen"))
    seen = _field_examples(keys[:n_keys], n_test, (seed, "seen", n_keys))
    avoid = {e.input for e in unseen + seen}
    return {"train": _field_examples(keys[:n_keys], budget, (seed, "train", n_keys), avoid), "seen": seen,
            "unseen": unseen}  # fmt: skip


def _field_examples(keys, n: int, stream: tuple, avoid=frozenset()) -> list[Example]:
    """``n`` look-up examples cycling through ``keys``, drawn from the random stream named ``stream``."""
    rng, wording = _rng("fields", *stream), _rng("fields", *stream, "templates")
    out: list[Example] = []
    for _ in range(50 * n):
        t = task_named(f"field:{keys[len(out) % len(keys)]}")
        text, answer = t.make(rng)
        if text not in avoid:
            out.append(Example(t.name, int(wording.integers(len(t.templates))), text, answer))
            if len(out) == n:
                return out
    raise ValueError(f"could not draw {n} look-up examples that avoid the test inputs; ask for fewer")


WORKED_TEST_INPUTS = 200  # a worked corpus avoids this many test inputs per task: any n_test up to it


def worked_line(example: Example) -> str:
    """``example`` as a pretraining text might hold it: its instruction, then ``input -> answer``; not the
    tuning format (``render``), though the instruction's words are the same."""
    return f"{task_named(example.task).templates[example.template]}\n{example.input} -> {example.answer}\n\n"


@dataclass(frozen=True)
class WorkedExample(Example):
    """An example asked the way a worked line (``worked_line``) writes it, the base model's own format: the
    instruction, the input and `` ->``; the response is the answer and a newline, as in ``Example``."""

    @property
    def prompt(self) -> str:
        """What the model reads: ``worked_line`` up to the answer."""
        return f"{task_named(self.task).templates[self.template]}\n{self.input} ->"


def one_shot_prompts(examples: list[Example]) -> list[str]:
    """Each example's prompt preceded by one demonstration in the same (tuning) format: the prompt and response
    of the shortest other example of its task in ``examples`` (chapter 7's few-shot prompt with a single
    demonstration, as many as a 192-byte context holds for the short tasks)."""
    shortest: dict[str, list[int]] = {}  # per task, its two shortest examples: a demonstration for any of them
    for i in sorted(range(len(examples)), key=lambda i: len(examples[i].prompt + examples[i].response)):
        pair = shortest.setdefault(examples[i].task, [])
        if len(pair) < 2:
            pair.append(i)
    out = []
    for i, e in enumerate(examples):
        others = [j for j in shortest[e.task] if j != i]
        if not others:
            raise ValueError(f"task {e.task!r} has one example: a demonstration needs another")
        demo = examples[others[0]]
        out.append(demo.prompt + demo.response + e.prompt)
    return out


def worked_text(per_task: int = 3000, seed: int = 0) -> str:
    """``per_task`` worked lines (``worked_line``) of each of the 21 tasks, shuffled, every template used. None of
    their inputs is among the first ``WORKED_TEST_INPUTS`` test inputs of its task in an ``InstructionSet`` of
    the same ``seed``, which are the same whatever clusters a set trains on."""
    if per_task < 1:
        raise ValueError(f"per_task={per_task}: need at least 1 worked example per task")
    tests = InstructionSet(("extract",), tuple(c for c in CLUSTERS if c != "extract"), n_test=WORKED_TEST_INPUTS,
                           seed=seed)  # fmt: skip
    avoid = {(e.task, e.input) for e in tests.examples("test")}
    rng, lines = _rng("worked", seed), []
    for t in TASKS:
        got = 0
        for _ in range(50 * per_task):
            if got == per_task:
                break
            text, answer = t.make(rng)
            if (t.name, text) not in avoid:
                lines.append(worked_line(Example(t.name, int(rng.integers(len(t.templates))), text, answer)))
                got += 1
        if got < per_task:
            raise ValueError(f"task {t.name!r}: could not draw {per_task} worked inputs outside its test set")
    return "".join(lines[i] for i in rng.permutation(len(lines)))


def worked_corpus(per_task: int = 3000, seed: int = 0) -> Corpus:
    """``worked_text`` as a byte-level corpus, split into train and validation as ``helpers.data.split_blocks``:
    a part to mix into a base model's pretraining."""
    tok = ByteTokenizer()
    ids = torch.tensor(tok.encode(worked_text(per_task, seed)), dtype=torch.long)
    train, val = split_blocks(ids)
    return Corpus("worked", tok, train, val, sha256_bytes(f"worked {per_task} {seed}|format {FORMAT_VERSION}".encode()
                                                           + ids.numpy().tobytes()))  # fmt: skip
