"""Synthetic tasks with exact answers: the toy worlds in which chapters 6 and 9 watch abilities appear.

``AdditionTask`` writes multi-digit addition problems as text, one per line, zero-padded to a fixed
width so that every answer has the same number of digits::

    plain       047+385=0432      the answer as we write it, most significant digit first
    reversed    047+385=2340      the answer's digits in reverse (least significant first)
    scratchpad  047+385=7+5+0=12;4+8+1=13;0+3+1=04:0432
                                  each column, least significant first, as "digit + digit + carry
                                  in = two-digit column sum" (its first digit is the carry out),
                                  then the plain answer after a colon

The model writes everything after the ``=``: the *target*; the *answer* is the sum in the format's
digit order (the last ``answer_len`` characters of the target), and that is what ``evaluate`` scores.

A language model trained on a stream of such lines (``task.corpus()``, usable with
``helpers.train.train``; every training window starts at the start of a line) is then asked each
test prompt and scored digit by digit (``evaluate``). The train and test problems are fixed by
``seed`` and never overlap.

Carries make addition hard: ``999+001`` carries through every column, ``123+456`` through none. With
uniformly random operands most problems carry once or twice, so a test set rarely probes long carry
chains; ``balance_carries`` (the default) samples the number of carries uniformly instead, as Lee et
al. (2023) do for their training sets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .config import Config, positive_int
from .data import Corpus
from .generate import generate
from .metrics import answer_logprob, digit_accuracy, edit_distance
from .tokenizer import CharTokenizer

FORMATS = ("plain", "reversed", "scratchpad")
ALPHABET = "\n+0123456789="  # every character a plain or reversed addition line can contain
SCRATCH_ALPHABET = ALPHABET + ":;"  # ...and a scratchpad line


@dataclass(frozen=True)
class AdditionTask(Config):
    """Addition of two ``digits``-digit numbers in answer format ``fmt``, with ``n_train`` training and
    ``n_test`` test problems drawn (without overlap) by ``seed``. Invalid values raise ``ValueError``.

    ``operand_digits=m`` (at most ``digits``) draws shorter problems written at the same width: the larger
    operand has exactly ``m`` digits and the leading columns are zero padding. A model trained on
    ``m = 3`` and tested on ``m = 4, 5`` at width 5 measures length generalisation with nothing but the
    digits changed (chapter 9)."""

    digits: int = 3
    fmt: str = "plain"
    n_train: int = 20_000
    n_test: int = 1_000
    balance_carries: bool = True
    seed: int = 0
    operand_digits: int | None = None
    _split: dict = field(default=None, init=False, repr=False, compare=False)

    def rules(self):
        yield isinstance(self.digits, int) and 1 <= self.digits <= 9, "digits", "use 1 to 9 digits per operand"
        yield self.fmt in FORMATS, "fmt", f"choose one of {FORMATS}"
        yield positive_int(self.n_train), "n_train", "need at least 1 training problem"
        yield positive_int(self.n_test), "n_test", "need at least 1 test problem"
        yield (
            self.operand_digits is None
            or (
                self.short_operands and isinstance(self.operand_digits, int) and 1 <= self.operand_digits <= self.digits
            ),
            "operand_digits",
            f"use 1 to digits={self.digits}, or None for full-width operands"
            if self.short_operands
            else "not supported by this task; leave it None",
        )
        space = self._space()
        yield (
            self.n_train + self.n_test <= space // 2,
            "n_train",
            f"n_train + n_test = {self.n_train + self.n_test:,} is more than half of the {space:,} distinct "
            f"{self.digits}-digit problems; ask for fewer problems or more digits",
        )

    def _space(self) -> int:
        """How many distinct problems there are to draw from (an upper bound)."""
        return 10 ** (2 * (self.operand_digits or self.digits))

    # ------------------------------------------------------------------ text

    @property
    def answer_len(self) -> int:
        """Characters in every answer: ``digits + 1`` (room for the final carry)."""
        return self.digits + 1

    def prompt(self, a: int, b: int) -> str:
        """The question as the model sees it, e.g. ``'047+385='``."""
        return f"{a:0{self.digits}d}+{b:0{self.digits}d}="

    @property
    def target_len(self) -> int:
        """Characters the model writes after the prompt: the answer, plus the scratchpad if there is one."""
        return self.answer_len + (9 * self.digits if self.fmt == "scratchpad" else 0)

    @property
    def alphabet(self) -> str:
        """Every character a line of this task can contain (the tokenizer's vocabulary)."""
        return SCRATCH_ALPHABET if self.fmt == "scratchpad" else ALPHABET

    def value(self, a: int, b: int) -> int:
        """The true result of the problem: ``a + b``."""
        return a + b

    def column(self, a: int, b: int, pos: int, carry: int) -> tuple[str, int]:
        """Column ``pos`` (0 = units) as the scratchpad writes it, given the carry coming in, and the carry
        going out: ``x+y+c=ss``, whose first digit is the carry out."""
        x, y = (a // 10**pos) % 10, (b // 10**pos) % 10
        return f"{x}+{y}+{carry}={x + y + carry:02d}", int(x + y + carry >= 10)

    def _columns(self, a: int, b: int) -> list[tuple[str, int]]:
        steps, carry = [], 0
        for pos in range(self.digits):  # least significant column first
            text, carry = self.column(a, b, pos, carry)
            steps.append((text, carry))
        return steps

    def answer(self, a: int, b: int) -> str:
        """The answer in this task's digit order, e.g. ``'0432'`` (plain, scratchpad) or ``'2340'`` (reversed)."""
        s = f"{self.value(a, b):0{self.answer_len}d}"
        return s[::-1] if self.fmt == "reversed" else s

    def target(self, a: int, b: int) -> str:
        """Everything the model should write after the prompt: the scratchpad (if any), then the answer."""
        if self.fmt != "scratchpad":
            return self.answer(a, b)
        return ";".join(text for text, _ in self._columns(a, b)) + ":" + self.answer(a, b)

    def carries(self, a: int, b: int) -> int:
        """How many of the ``digits`` columns pass a carry (or, for subtraction, a borrow) on."""
        return sum(carry > 0 for _, carry in self._columns(a, b))

    def line(self, a: int, b: int) -> str:
        """One training example: prompt, target and a newline."""
        return self.prompt(a, b) + self.target(a, b) + "\n"

    # ------------------------------------------------------------------ problems

    def _sample(self, rng: np.random.Generator) -> tuple[int, int]:
        if self.operand_digits is None:
            return self._draw(rng, self.digits)
        while True:  # the larger operand must have exactly operand_digits digits
            a, b = self._draw(rng, self.operand_digits)
            if max(a, b) >= 10 ** (self.operand_digits - 1):
                return a, b

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[int, int]:
        if not self.balance_carries:
            return int(rng.integers(10**n)), int(rng.integers(10**n))
        carries = set(rng.choice(n, size=int(rng.integers(n + 1)), replace=False).tolist())
        a = b = 0
        carry_in = 0
        for pos in range(n):  # least significant column first
            carry_out = pos in carries
            # all digit pairs whose column sum (with the incoming carry) carries exactly when wanted
            pairs = [(x, y) for x in range(10) for y in range(10) if (x + y + carry_in >= 10) == carry_out]
            x, y = pairs[int(rng.integers(len(pairs)))]
            a, b = a + x * 10**pos, b + y * 10**pos
            carry_in = int(carry_out)
        return a, b

    def problems(self, split: str = "train") -> list[tuple[int, int]]:
        """The ``(a, b)`` pairs of ``split`` ("train" or "test"): fixed by ``seed``, disjoint between splits."""
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}: choose 'train' or 'test'")
        if self._split is None:
            rng = np.random.default_rng(self.seed)
            seen: set[tuple[int, int]] = set()
            ordered = []
            while len(ordered) < self.n_train + self.n_test:
                p = self._sample(rng)
                if p not in seen:
                    seen.add(p)
                    ordered.append(p)
            # a frozen task computes its split once and keeps it (the split is a function of the fields)
            object.__setattr__(self, "_split", {"train": ordered[: self.n_train], "test": ordered[self.n_train :]})
        return self._split[split]

    def text(self, split: str = "train") -> str:
        """All problems of ``split`` as lines of text."""
        return "".join(self.line(a, b) for a, b in self.problems(split))

    def corpus(self, tokenizer: CharTokenizer | None = None) -> Corpus:
        """A ``Corpus`` for ``helpers.train.train``: the training lines as the train stream, the test lines as
        the validation stream, a character tokenizer over the task's alphabet (or ``tokenizer``, e.g. that of
        a model pretrained on other text, which must know every character), and ``task`` set to ``self``."""
        tok = _tokenizer(self, tokenizer)
        # the fingerprint (part of every result-cache key) hashes the data itself, so a change to how lines
        # are written can never be answered from a cache filled by the old format
        texts = {split: self.text(split) for split in ("train", "test")}
        vocab = self.alphabet if tokenizer is None else "".join(tok.chars)
        fp = hashlib.sha256("\0".join([vocab, texts["train"], texts["test"]]).encode()).hexdigest()
        ids = {s: torch.tensor(tok.encode(texts[s]), dtype=torch.long) for s in ("train", "test")}
        # every line has the same length, and training windows start at the start of a line
        name = f"{self.name}-{self.digits}-{self.fmt}"
        return TaskCorpus(name, tok, ids["train"], ids["test"], fp, align=len(self.line(0, 0)), task=self)

    name = "addition"
    short_operands = True  # whether operand_digits is supported


def _tokenizer(task: AdditionTask, tokenizer: CharTokenizer | None) -> CharTokenizer:
    if tokenizer is None:
        return CharTokenizer(task.alphabet)
    missing = sorted(set(task.alphabet) - set(tokenizer.chars))
    if missing:
        raise ValueError(
            f"the tokenizer has no token for {missing} used by {task.name} lines; build it from a text that "
            "contains the task's alphabet (task.alphabet)"
        )
    return tokenizer


@dataclass(frozen=True)
class MultiplicationTask(AdditionTask):
    """A harder column task: a ``digits``-digit number times a one-digit number, in the same three formats::

        plain       047*8=0376
        reversed    047*8=6730
        scratchpad  047*8=7*8+0=56;4*8+5=37;0*8+3=03:0376

    Each scratchpad column is "digit * multiplier + carry in = two-digit column value"; unlike addition,
    the carry can be anything from 0 to 8, and each column needs the multiplication table. Problems are
    drawn uniformly, with multipliers 2 to 9 (``balance_carries`` does not apply); ``operand_digits`` is
    not supported."""

    name = "multiplication"

    short_operands = False

    def _space(self) -> int:
        return 8 * 10**self.digits

    def prompt(self, a: int, b: int) -> str:
        """The question, e.g. ``'047*8='``."""
        return f"{a:0{self.digits}d}*{b}="

    @property
    def alphabet(self) -> str:
        """Every character a line can contain (the scratchpad writes ``+`` for the carry)."""
        return "\n*+0123456789=" + (":;" if self.fmt == "scratchpad" else "")

    def value(self, a: int, b: int) -> int:
        """The true result: ``a * b``."""
        return a * b

    def column(self, a: int, b: int, pos: int, carry: int) -> tuple[str, int]:
        """Column ``pos`` as ``x*b+c=vv`` and its carry out (0 to 8)."""
        x = (a // 10**pos) % 10
        return f"{x}*{b}+{carry}={x * b + carry:02d}", (x * b + carry) // 10

    def _sample(self, rng: np.random.Generator) -> tuple[int, int]:
        return int(rng.integers(10**self.digits)), int(rng.integers(2, 10))  # x0 and x1 would be trivial


@dataclass(frozen=True)
class SubtractionTask(AdditionTask):
    """``a - b`` with ``a >= b``, both ``digits`` digits wide, in the same three formats (chapter 9's exercise)::

        plain       385-047=338
        reversed    385-047=833
        scratchpad  385-047=5-7-0=18;8-4-1=03;3-0-0=03:338

    Each scratchpad column is "digit - digit - borrow in = borrow out, result digit": ``5-7-0=18`` means
    5 - 7 needs a borrow (1) and leaves 15 - 7 = 8. Answers have ``digits`` digits; problems are drawn
    uniformly (``balance_carries`` does not apply)."""

    name = "subtraction"

    short_operands = False

    def _space(self) -> int:
        return 10 ** (2 * self.digits) // 2

    @property
    def answer_len(self) -> int:
        """Characters in every answer: ``digits`` (a difference of non-negative numbers never grows)."""
        return self.digits

    @property
    def alphabet(self) -> str:
        """Every character a line can contain."""
        return "\n-0123456789=" + (":;" if self.fmt == "scratchpad" else "")

    def prompt(self, a: int, b: int) -> str:
        """The question, e.g. ``'385-047='``."""
        return f"{a:0{self.digits}d}-{b:0{self.digits}d}="

    def value(self, a: int, b: int) -> int:
        """The true result: ``a - b``."""
        return a - b

    def column(self, a: int, b: int, pos: int, carry: int) -> tuple[str, int]:
        """Column ``pos`` as ``x-y-b=od`` (borrow out, result digit), with ``carry`` the borrow coming in."""
        x, y = (a // 10**pos) % 10, (b // 10**pos) % 10
        out = int(x - y - carry < 0)
        return f"{x}-{y}-{carry}={out}{x - y - carry + 10 * out}", out

    def _sample(self, rng: np.random.Generator) -> tuple[int, int]:
        a, b = int(rng.integers(10**self.digits)), int(rng.integers(10**self.digits))
        return max(a, b), min(a, b)


@dataclass(repr=False)
class TaskCorpus(Corpus):
    """A ``Corpus`` generated by a task, which it keeps so that evaluators can score models on it."""

    task: AdditionTask | None = None


def addition_corpus(digits: int, fmt: str, n_train: int = 20_000) -> TaskCorpus:
    """The corpus of ``AdditionTask(digits, fmt, n_train)`` with the default test size and seed (what sweeps
    train on). Problems are drawn in one fixed order, the first ``n_train`` for training and the next ``n_test``
    for testing, so smaller training sets are subsets of larger ones, and each test set is a fresh draw from
    the same distribution."""
    return AdditionTask(digits=digits, fmt=fmt, n_train=n_train).corpus()


def multiplication_corpus(digits: int, fmt: str, n_train: int = 3_000) -> TaskCorpus:
    """The corpus of ``MultiplicationTask(digits, fmt, n_train)`` with the default test size and seed."""
    return MultiplicationTask(digits=digits, fmt=fmt, n_train=n_train).corpus()


def length_corpus(digits: int, fmt: str, operand_digits: int, n_train: int = 4_000) -> TaskCorpus:
    """The corpus of ``AdditionTask(digits, fmt, n_train, operand_digits=...)``: short problems written wide,
    for length generalisation (``length_scores``)."""
    return AdditionTask(digits=digits, fmt=fmt, n_train=n_train, operand_digits=operand_digits).corpus()


@torch.no_grad()
def evaluate(
    model,
    task: AdditionTask,
    split: str = "test",
    limit: int | None = None,
    batch_size: int = 1000,
    tokenizer: CharTokenizer | None = None,
) -> dict:
    """Score ``model`` on the problems of ``split`` (the first ``limit`` of them) by greedy decoding.

    Returns the mean of four metrics over problems (Schaeffer et al. 2023 contrast them):
    ``exact_match`` (every answer digit right), ``digit_accuracy`` (fraction of answer digits right),
    ``edit_distance`` (token edit distance between the model's answer and the truth) and ``logprob``
    (log-probability, in nats, of the whole correct target given the prompt: for a scratchpad, of the
    correct working and answer together); plus ``per_position``
    (accuracy of each answer position, in the order the model writes them), ``correct_counts`` (how
    many problems got 0, 1, ..., L digits right), ``n`` and the model's ``answers`` (strings). Pass the
    ``tokenizer`` of the corpus the model was trained on if it was not the task's own.
    """
    tok = _tokenizer(task, tokenizer)
    problems = task.problems(split)[:limit]
    if not problems:
        raise ValueError(f"limit={limit}: no problems left to score")
    # each prompt starts the sequence, as one starts every training window (``Corpus.align``)
    prompts = torch.tensor([tok.encode(task.prompt(a, b)) for a, b in problems])
    targets = torch.tensor([tok.encode(task.target(a, b)) for a, b in problems])
    device = next(model.parameters()).device
    out, logp = [], []
    for i in range(0, len(problems), batch_size):
        p, t = prompts[i : i + batch_size].to(device), targets[i : i + batch_size].to(device)
        out.append(generate(model, p, task.target_len, temperature=0)[:, p.shape[1] :].cpu())
        logp.append(answer_logprob(model, p, t).cpu())
    written, logp = torch.cat(out), torch.cat(logp)
    # the answer is the end of the target; a scratchpad before it is the model's working
    pred, truth = written[:, -task.answer_len :], targets[:, -task.answer_len :]
    right = pred == truth
    answers = [tok.decode(row) for row in pred]
    return {
        "exact_match": float(right.all(dim=1).float().mean()),
        "digit_accuracy": float(digit_accuracy(pred, truth).mean()),
        "edit_distance": float(np.mean([edit_distance(p, t) for p, t in zip(pred.tolist(), truth.tolist())])),
        "logprob": float(logp.mean()),
        "per_position": right.float().mean(dim=0).tolist(),
        "correct_counts": torch.bincount(right.sum(dim=1), minlength=task.answer_len + 1).tolist(),
        "n": len(problems),
        "answers": answers,
    }


def sweep_scores(model, corpus: TaskCorpus) -> dict:
    """``evaluate`` on the task behind ``corpus`` (its test split), without the answers themselves: what a
    cached sweep keeps of each trained model (the evaluator of ``helpers.ch06``'s ``arithmetic`` experiment)."""
    if getattr(corpus, "task", None) is None:
        raise ValueError(f"corpus {corpus.name!r} was not made by a task; build it with AdditionTask(...).corpus()")
    scores = evaluate(model, corpus.task, tokenizer=corpus.tokenizer)
    return _compact(scores)


def _compact(scores: dict) -> dict:
    scores = dict(scores)
    scores.pop("answers")
    return {k: [round(x, 4) for x in v] if k == "per_position" else v for k, v in scores.items()}


def length_scores(model, corpus: TaskCorpus, extra: int = 2, n_test: int = 500) -> dict:
    """Length generalisation: ``sweep_scores`` on the corpus's own test split (its operand length ``k``) and,
    under ``"k+1"``, ``"k+2"``, ..., on ``n_test`` problems whose larger operand has ``k + 1``, ``k + 2``, ...
    digits, written at the same width. Such problems can never appear in training."""
    task = corpus.task
    k = task.operand_digits or task.digits
    if k + extra > task.digits:
        raise ValueError(
            f"operand_digits={k} leaves no room for {extra} longer lengths at width digits={task.digits}; "
            f"train with operand_digits <= {task.digits - extra}"
        )
    out = {"k": sweep_scores(model, corpus)}
    for j in range(1, extra + 1):
        longer = replace(task, operand_digits=k + j, n_train=1, n_test=n_test, seed=task.seed + 100 + j)
        out[f"k+{j}"] = _compact(evaluate(model, longer, tokenizer=corpus.tokenizer))
    return out


def answer_with_working(model, task: AdditionTask, a: int, b: int, tokenizer: CharTokenizer | None = None) -> dict:
    """Ask ``model`` the problem ``a`` op ``b`` of ``task`` by greedy decoding and return the ``prompt``, what it
    ``wrote`` (scratchpad and answer), its ``answer`` read as an integer in plain digit order, the ``truth``
    and whether it is ``correct``; for the chapter's type-a-problem cell."""
    limit = 10**task.digits
    if not (0 <= a < limit and 0 <= b < (10 if task.name == "multiplication" else limit)):
        raise ValueError(
            f"({a}, {b}): this task takes operands below {limit:,}"
            + (" and a one-digit multiplier" if task.name == "multiplication" else "")
        )
    if task.name == "subtraction" and a < b:
        raise ValueError(f"({a}, {b}): subtraction problems need a >= b, so that the difference is not negative")
    tok = tokenizer or CharTokenizer(task.alphabet)
    prompt = task.prompt(a, b)
    ids = torch.tensor([tok.encode(prompt)], device=next(model.parameters()).device)
    wrote = tok.decode(generate(model, ids, task.target_len, temperature=0)[0, ids.shape[1] :])
    digits = wrote[-task.answer_len :]
    plain = digits[::-1] if task.fmt == "reversed" else digits
    truth = task.value(a, b)
    value = int(plain) if plain.isdigit() else None
    return {"prompt": prompt, "wrote": wrote, "answer": value, "truth": truth, "correct": value == truth}
