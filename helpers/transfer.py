"""Pretrain, then fine-tune: chapter 9's controlled test of whether code-like data helps reasoning.

Fu et al. (2022) and others trace part of large models' step-by-step reasoning to the code in their
pretraining data: programs and their execution spell out intermediate states, which ordinary prose
rarely does. We cannot pretrain on GitHub, but we can run the experiment in miniature. Two otherwise
identical models are pretrained for the same number of steps, one on prose only (the bundled King
James Bible) and one on prose with a share of *execution traces* of short programs mixed in; then both
are fine-tuned on the same small reasoning task and scored. Two kinds of trace are on offer::

    add   add(4071,385): 1+5+0=06 7+8+0=15 0+3+1=04 4+0+0=04 -> 4456
          the column-by-column run of a schoolbook addition routine on random numbers of 1 to 6 digits
    max   max(4,71,3,55): 4 71 71 71 -> 71
          the running maximum of a list: a program with state, but no arithmetic

``helpers.ch09.code_data_run`` does one such pretrain-then-fine-tune run; the grid ``ch09_code`` repeats it
over seeds.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import torch

from .data import Corpus, load_text, split_blocks
from .tasks import SCRATCH_ALPHABET
from .tokenizer import CharTokenizer

PROGRAMS = ("add", "max")
MIXES = ("none", "prose", "prose+add", "prose+max")  # what a model sees before fine-tuning


def add_trace(a: int, b: int) -> str:
    """One execution trace of column addition: every column (least significant first) as
    ``x+y+carry=sum``, then the result, e.g. ``add(47,85): 7+5+0=12 4+8+1=13 -> 132``."""
    if a < 0 or b < 0:
        raise ValueError(f"add_trace({a}, {b}): the routine adds non-negative integers")
    steps, carry = [], 0
    for pos in range(max(len(str(a)), len(str(b)))):
        x, y = (a // 10**pos) % 10, (b // 10**pos) % 10
        steps.append(f"{x}+{y}+{carry}={x + y + carry:02d}")
        carry = int(x + y + carry >= 10)
    return f"add({a},{b}): {' '.join(steps)} -> {a + b}"


def max_trace(xs: list[int]) -> str:
    """One execution trace of a running maximum: the state after each element, then the result, e.g.
    ``max(4,71,3): 4 71 71 -> 71``."""
    if not xs:
        raise ValueError("max_trace([]): the list needs at least one element")
    state, best = [], xs[0]
    for x in xs:
        best = max(best, x)
        state.append(str(best))
    return f"max({','.join(map(str, xs))}): {' '.join(state)} -> {best}"


def program_traces(program: str, chars: int, seed: int = 0) -> str:
    """Lines of ``program`` traces (``"add"`` or ``"max"``) on random inputs, about ``chars`` characters."""
    if program not in PROGRAMS:
        raise ValueError(f"program={program!r}: choose one of {PROGRAMS}")
    rng = np.random.default_rng(seed)

    def number() -> int:  # 1 to 6 digits, each length equally likely
        n = int(rng.integers(1, 7))
        return int(rng.integers(0 if n == 1 else 10 ** (n - 1), 10**n))

    lines, total = [], 0
    while total < chars:
        if program == "add":
            line = add_trace(number(), number())
        else:
            line = max_trace([int(rng.integers(0, 100)) for _ in range(int(rng.integers(2, 8)))])
        lines.append(line + "\n")
        total += len(line) + 1
    return "".join(lines)


@lru_cache(maxsize=1)
def shared_tokenizer() -> CharTokenizer:
    """One character vocabulary for prose, both kinds of trace and the addition task, so that a model
    pretrained on any mix can be fine-tuned on any format without changing its embedding table."""
    return CharTokenizer(load_text("kjv") + SCRATCH_ALPHABET + "()*>,")


def pretraining_corpus(mix: str, chars: int = 1_000_000, share: float = 0.25, seed: int = 0) -> Corpus:
    """A pretraining corpus of ``chars`` characters: ``"prose"`` is the start of the bundled Bible;
    ``"prose+add"`` / ``"prose+max"`` replace a ``share`` of it by blocks of program traces, interleaved with
    the prose in blocks of about 2,000 characters so that every part of training sees both."""
    if mix not in MIXES[1:]:
        raise ValueError(f"mix={mix!r}: choose one of {MIXES[1:]} ('none' means no pretraining)")
    if not 0 < share < 1:
        raise ValueError(f"share={share}: the fraction of traces must lie strictly between 0 and 1")
    prose = load_text("kjv")
    if mix == "prose":
        text = prose[:chars]
    else:
        block = 2_000
        n_blocks = chars // block
        n_code = round(n_blocks * share)
        code = program_traces(mix.split("+")[1], n_code * block, seed=seed)
        parts, p, c = [], 0, 0
        for i in range(n_blocks):
            if i * n_code // n_blocks != (i + 1) * n_code // n_blocks:  # spread trace blocks evenly
                end = code.find("\n", c + block) + 1 or len(code)
                parts.append(code[c:end])
                c = end
            else:
                end = prose.find("\n", p + block) + 1
                parts.append(prose[p:end])
                p = end
        text = "".join(parts)
    tok = shared_tokenizer()
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    train_ids, val_ids = split_blocks(ids)
    fp = hashlib.sha256(f"{mix}|{share}|".encode() + "".join(tok.chars).encode() + text.encode()).hexdigest()
    return Corpus(f"pretrain-{mix}", tok, train_ids, val_ids, fp)
