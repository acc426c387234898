"""Domain abilities: task suites that a language model pretrained on a mixture is scored on, many ways.

Chapter 5 asks whether a falling pretraining loss means rising abilities. Its models read three domains as
bytes: English prose (``kjv``), Python source (``code``) and an arithmetic stream (``arith``, made here),
lines such as ``7+8=15`` and ``47+85=132``. Four suites of test items probe what they learnt:

    facts   the 100 one-digit sums (``7+8=``): every one occurs in the stream, so this is recall
    sums    200 two-digit sums (``47+85=``) that the stream never contains: the algorithm, not recall
    verse   the last word of 200 verses of the Bible's validation split (``... the heaven and the earth.``)
    code    the last word of 200 lines of the Python validation split (``return self._value``)

Every ``Item`` has a prompt, its one right answer (ending with the line's newline, so that ``1`` cannot pass
for ``15``) and three wrong choices beside it. ``score`` reads a model on a suite in one pass and returns,
per item, the metrics Schaeffer et al. (2024) line up from smooth to sharp:

- ``logp``: log p(answer | prompt), summed over its bytes. At temperature 1 a sample equals the answer
  with probability exp(logp), so exp(logp) is the *pass rate* of sampled answers (``sampled_pass_rate``
  estimates the same by sampling), and -mean(logp) is GPT-4's -E[log pass_rate];
- ``choices``: the log-probability of each of the four choices (the right one first), from which
  ``p_choice`` (the right choice's probability normalised over the four) and the multiple-choice accuracy;
- ``greedy``: whether greedy decoding writes the answer exactly (exact match).

``summary`` averages them over a suite; ``AbilityProbe`` is a trainer callback that records the summaries at
every evaluation, so that a run's checkpoints are scored along the way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .data import Corpus, sha256_bytes, split_blocks
from .generate import generate
from .mixture import domain_losses, load_domains
from .tokenizer import ByteTokenizer

SUITES = ("facts", "sums", "verse", "code")
N_ITEMS = 200  # items per suite (facts has all 100 one-digit sums)
N_CHOICES = 4  # the right answer and three wrong ones: chance is 1 in 4
ARITH_LINES = 200_000  # lines in the arithmetic stream, half with one-digit operands, half with two
CLOZE_PROMPT = 48  # bytes of text before a cloze word
TOK = ByteTokenizer()


@dataclass(frozen=True)
class Item:
    """One test item: ``prompt`` and ``answer`` as text, and ``choices`` (the answer first, then the wrong ones)."""

    prompt: str
    answer: str
    choices: tuple[str, ...]


# ----------------------------------------------------------------------------- the arithmetic stream


def _two_digit_held_out(seed: int = 1) -> list[tuple[int, int]]:
    """The ``N_ITEMS`` two-digit problems (operands 10 to 99) that the arithmetic stream leaves out."""
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a in range(10, 100) for b in range(10, 100)]
    pick = rng.choice(len(pairs), size=N_ITEMS, replace=False)
    return [pairs[i] for i in sorted(pick)]


def arithmetic_text(lines: int = ARITH_LINES, seed: int = 0) -> str:
    """The arithmetic stream: ``lines`` sums ``a+b=c``, one per line, the operands both one-digit (0 to 9) or
    both two-digit (10 to 99) with equal chance, drawn by ``seed``; the ``sums`` suite's problems never occur."""
    rng = np.random.default_rng(seed)
    held = set(_two_digit_held_out())
    out = []
    while len(out) < lines:
        lo, hi = (0, 10) if rng.random() < 0.5 else (10, 100)
        a, b = (int(x) for x in rng.integers(lo, hi, size=2))
        if (a, b) not in held:
            out.append(f"{a}+{b}={a + b}\n")
    return "".join(out)


@lru_cache(maxsize=1)
def arithmetic_domain() -> Corpus:
    """The arithmetic stream as a byte-level ``Corpus`` (split as ``helpers.data.split_blocks``), to mix with
    the bundled domains (``helpers.mixture.mixed_corpus(mix, parts)``)."""
    text = arithmetic_text()
    ids = torch.tensor(TOK.encode(text), dtype=torch.long)
    train, val = split_blocks(ids)
    return Corpus("arith", TOK, train, val, sha256_bytes(b"arith|" + text.encode()))


def domains() -> dict[str, Corpus]:
    """The chapter's three domains by name: ``kjv`` and ``code`` (bundled) and ``arith``."""
    return {**load_domains(("kjv", "code")), "arith": arithmetic_domain()}


def _sum_choices(a: int, b: int, offsets: tuple[int, ...], rng: np.random.Generator) -> tuple[str, ...]:
    s = a + b
    wrong = [s + d for d in offsets if s + d >= 0]
    wrong += [s + max(offsets) + k for k in range(1, N_CHOICES - len(wrong))]  # near 0, more above instead
    pick = rng.choice(len(wrong), size=N_CHOICES - 1, replace=False)
    return tuple(f"{v}\n" for v in [s, *(wrong[i] for i in sorted(pick))])


def arithmetic_items(suite: str, seed: int = 2) -> list[Item]:
    """``facts`` (the 100 one-digit sums; wrong choices 1 or 2 away, or 3 above
    a sum below 2) or ``sums`` (the held-out two-digit
    sums; wrong choices 1 or 10 away), each prompt preceded by a newline as a line of the stream is."""
    rng = np.random.default_rng(seed)
    if suite == "facts":
        problems, offsets = [(a, b) for a in range(10) for b in range(10)], (-2, -1, 1, 2)
    elif suite == "sums":
        problems, offsets = _two_digit_held_out(), (-10, -1, 1, 10)
    else:
        raise ValueError(f"suite={suite!r}: the arithmetic suites are 'facts' and 'sums'")
    out = []
    for a, b in problems:
        choices = _sum_choices(a, b, offsets, rng)
        out.append(Item(f"\n{a}+{b}=", choices[0], choices))
    return out


# ----------------------------------------------------------------------------- cloze suites from real text

_LAST_WORD = re.compile(r"(\w{3,12})(\W{0,2})$")


def cloze_items(corpus: Corpus, n: int = N_ITEMS, seed: int = 3) -> list[Item]:
    """``n`` items from the validation split of ``corpus`` (a byte-level domain): a line's last word of 3 to 12
    letters, with what ends the line, after the ``CLOZE_PROMPT`` bytes before it; the wrong choices are other
    line-final words of the same length from the training split, with the same ending."""
    val = TOK.decode(corpus.val.tolist())
    pool = defaultdict(set)
    for line in TOK.decode(corpus.train[:400_000].tolist()).splitlines():
        m = _LAST_WORD.search(line)
        if m:
            pool[len(m.group(1))].add(m.group(1))
    pool = {k: sorted(v) for k, v in pool.items()}
    candidates, pos = [], 0
    for line in val.splitlines(keepends=True):
        m = _LAST_WORD.search(line.rstrip("\n"))
        start = pos + (m.start(1) if m else 0)
        if m and start >= CLOZE_PROMPT and len(pool.get(len(m.group(1)), ())) > N_CHOICES and line.endswith("\n"):
            candidates.append((start, m.group(1), m.group(2)))
        pos += len(line)
    if len(candidates) < n:
        raise ValueError(f"{corpus.name!r} has {len(candidates)} usable lines in its validation split, not {n}")
    rng = np.random.default_rng(seed)
    out = []
    for i in sorted(rng.choice(len(candidates), size=n, replace=False)):
        start, word, end = candidates[i]
        others = [w for w in pool[len(word)] if w != word]
        wrong = [others[j] for j in rng.choice(len(others), size=N_CHOICES - 1, replace=False)]
        choices = tuple(w + end + "\n" for w in [word, *wrong])
        out.append(Item(val[start - CLOZE_PROMPT : start], choices[0], choices))
    return out


@lru_cache(maxsize=1)
def suites() -> dict[str, list[Item]]:
    """The four suites by name (``SUITES``), built once per process."""
    parts = domains()
    return {
        "facts": arithmetic_items("facts"),
        "sums": arithmetic_items("sums"),
        "verse": cloze_items(parts["kjv"]),
        "code": cloze_items(parts["code"]),
    }


# ----------------------------------------------------------------------------- scoring


def _teacher_forced(model, prompts: list[str], answers: list[str], batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For each (prompt, answer) pair: log p(answer | prompt), summed over its bytes, and whether every byte of
    the answer is the model's most likely next byte given the prompt and the answer so far, which is exactly
    when greedy decoding writes the answer. Batched by the pair's lengths, so that nothing is padded."""
    enc = [(TOK.encode(p), TOK.encode(a)) for p, a in zip(prompts, answers)]
    groups = defaultdict(list)
    for i, (p, a) in enumerate(enc):
        if len(p) + len(a) > model.cfg.context + 1:
            raise ValueError(f"prompt and answer of {len(p) + len(a)} bytes exceed the context {model.cfg.context}")
        groups[(len(p), len(a))].append(i)
    logp, greedy = np.empty(len(enc)), np.empty(len(enc), dtype=bool)
    device = next(model.parameters()).device
    for (_, n), idx in groups.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k : k + batch]
            seq = torch.tensor([enc[i][0] + enc[i][1] for i in chunk], device=device)
            logits, _ = model(seq[:, :-1])
            logits, target = logits[:, -n:].float(), seq[:, -n:]
            lp = torch.log_softmax(logits, dim=-1).gather(-1, target[..., None]).squeeze(-1)
            logp[chunk] = lp.sum(dim=1).double().cpu().numpy()
            greedy[chunk] = (logits.argmax(dim=-1) == target).all(dim=1).cpu().numpy()
    return logp, greedy


@torch.no_grad()
def score(model, items: list[Item]) -> dict[str, np.ndarray]:
    """Per item: ``logp`` (of the answer, nats), ``choices`` (``(n, 4)`` log-probabilities, the right one first)
    and ``greedy`` (whether greedy decoding writes the answer exactly). The model is put back in the mode it
    was in."""
    was = model.training
    model.eval()
    prompts = [it.prompt for it in items for _ in it.choices]
    answers = [c for it in items for c in it.choices]
    logp, greedy = _teacher_forced(model, prompts, answers)
    model.train(was)
    choices = logp.reshape(len(items), N_CHOICES)
    return {"logp": choices[:, 0].copy(), "choices": choices, "greedy": greedy.reshape(len(items), N_CHOICES)[:, 0]}


def p_choice(choices: np.ndarray) -> np.ndarray:
    """The right choice's probability normalised over the choices (column 0 is the right one)."""
    c = np.asarray(choices, dtype=float)
    c = c - c.max(axis=1, keepdims=True)
    return np.exp(c[:, 0]) / np.exp(c).sum(axis=1)


def summary(scored: dict[str, np.ndarray], items: list[Item]) -> dict[str, float]:
    """A suite's scores averaged over its items: ``logp`` (= E[log pass rate]), ``task_loss`` (-logp per
    byte of the answer, nats), ``pass_rate`` (E[exp logp]), ``p_choice``, ``mc_accuracy`` (the right choice
    likeliest) and ``exact_match`` (greedy)."""
    logp, choices = scored["logp"], scored["choices"]
    n_bytes = np.array([len(TOK.encode(it.answer)) for it in items])
    return {
        "logp": round(float(logp.mean()), 4),
        "task_loss": round(float((-logp / n_bytes).mean()), 4),
        "pass_rate": round(float(np.exp(logp).mean()), 5),
        "p_choice": round(float(p_choice(choices).mean()), 4),
        "mc_accuracy": round(float((choices.argmax(axis=1) == 0).mean()), 4),
        "exact_match": round(float(scored["greedy"].mean()), 4),
    }


@torch.no_grad()
def sampled_pass_rate(model, items: list[Item], samples: int = 20, seed: int = 0) -> np.ndarray:
    """Per item, the fraction of ``samples`` answers sampled at temperature 1 that equal the answer exactly:
    a Monte Carlo estimate of exp(logp)."""
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    out = np.zeros(len(items))
    for i, it in enumerate(items):
        p = torch.tensor([TOK.encode(it.prompt)] * samples, device=device)
        n = len(TOK.encode(it.answer))
        written = generate(model, p, n, temperature=1.0, generator=gen)[:, p.shape[1] :].cpu()
        out[i] = (written == torch.tensor(TOK.encode(it.answer))).all(dim=1).float().mean().item()
    return out


class AbilityProbe:
    """Trainer callback: at every evaluation, score the model on ``suites`` (name -> items) and on each of
    ``parts``' validation splits (``helpers.mixture.domain_losses``), and append
    ``{"step", "domains": {name: loss}, "suites": {name: summary}}`` to ``history.records["abilities"]``."""

    def __init__(self, suites: dict[str, list[Item]], parts: dict[str, Corpus], batches: int = 4):
        self.suites, self.parts, self.batches = suites, parts, batches

    def on_eval(self, trainer) -> None:
        """Score the current model and record it."""
        model = trainer.model
        losses = domain_losses(model, self.parts, batches=self.batches)
        row = {
            "step": trainer.step,
            "domains": {k: round(v, 5) for k, v in losses.items()},
            "suites": {name: summary(score(model, items), items) for name, items in self.suites.items()},
        }
        trainer.history.records.setdefault("abilities", []).append(row)
