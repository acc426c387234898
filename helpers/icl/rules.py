"""Few-shot prompting on hidden rules (Brown et al. 2020; Chan et al. 2022).

``RuleWorld`` is a family of hidden rules on letters; ``RuleWorld.corpus`` writes documents of
``input>output`` pairs, *bursty* (one rule per document, so the demonstrations say which rule the query
follows) or not (a fresh rule per pair, so they say nothing); ``RuleWorld.bayes_accuracy`` is the best any
learner can do. ``few_shot_accuracy`` prompts a trained LM with k demonstrations and ``few_shot_curve``
does so for every k.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
import torch

from ..config import Config
from ..data import Corpus, sha256_bytes
from ..model import GPT
from ..tokenizer import CharTokenizer


@dataclass(frozen=True)
class RuleWorld(Config):
    """A family of ``n_rules`` hidden rules, each a random map from ``n_symbols`` letters to letters
    (drawn once from ``seed``). A document picks a rule and lists ``pairs`` examples ``a>c,`` with distinct
    inputs, so the query of a prompt is never a copy of an earlier demonstration: the demonstrations can
    only help by telling the model *which* rule is in force. ``bursty=False`` draws a fresh rule for every
    pair (Chan et al.'s non-bursty control: the same pairs, but nothing in a document to learn from)."""

    n_symbols: int = 8
    n_rules: int = 6
    pairs: int = 7
    seed: int = 0

    def rules(self):
        yield 2 <= self.n_symbols <= 26, "n_symbols", "use 2 to 26 letters"
        yield self.n_rules >= 1, "n_rules", "needs at least one rule"
        yield 1 <= self.pairs <= self.n_symbols, "pairs", f"inputs are distinct, so at most n_symbols={self.n_symbols}"

    @cached_property
    def table(self) -> np.ndarray:
        """``table[r, x]``: the output of rule ``r`` for letter ``x`` (read-only, drawn from ``seed``)."""
        table = np.random.default_rng(self.seed).integers(0, self.n_symbols, (self.n_rules, self.n_symbols))
        table.flags.writeable = False
        return table

    @property
    def letters(self) -> str:
        """The world's ``n_symbols`` letters, from ``a``."""
        return "abcdefghijklmnopqrstuvwxyz"[: self.n_symbols]

    @property
    def doc_length(self) -> int:
        """Characters per document: ``pairs`` examples of 4 characters (``a>c,``) and a newline."""
        return 4 * self.pairs + 1

    @property
    def alphabet(self) -> str:
        """Every character a document uses: the letters, '>', ',' and the newline that ends a document."""
        return self.letters + ">,\n"

    def tokenizer(self) -> CharTokenizer:
        """A character tokenizer over ``alphabet`` (the same ids for every world with these letters)."""
        return CharTokenizer(self.alphabet)

    def document(self, rng: np.random.Generator, bursty: bool = True) -> str:
        """One document: ``pairs`` examples of one rule (or of a fresh rule each, if not ``bursty``)."""
        xs = rng.permutation(self.n_symbols)[: self.pairs]
        rules = np.full(self.pairs, rng.integers(self.n_rules)) if bursty else rng.integers(0, self.n_rules, self.pairs)
        return "".join(f"{self.letters[x]}>{self.letters[self.table[r, x]]}," for x, r in zip(xs, rules)) + "\n"

    def prompts(self, k: int, n: int, seed: int = 1) -> tuple[list[str], list[str], list[int]]:
        """``n`` k-shot prompts (k demonstrations of one rule, then a fresh query ``x>``, as at the start of a
        document), the correct answers and the rules used."""
        if not 0 <= k < self.pairs:
            raise ValueError(f"k={k}: prompts hold 0 to pairs-1={self.pairs - 1} demonstrations")
        rng = np.random.default_rng([seed, k])
        texts, answers, rules = [], [], []
        for _ in range(n):
            r = int(rng.integers(self.n_rules))
            xs = rng.permutation(self.n_symbols)[: k + 1]
            demos = "".join(f"{self.letters[x]}>{self.letters[self.table[r, x]]}," for x in xs[:k])
            texts.append(f"{demos}{self.letters[xs[k]]}>")
            answers.append(self.letters[self.table[r, xs[k]]])
            rules.append(r)
        return texts, answers, rules

    def bayes_accuracy(self, k: int, n: int = 4000, seed: int = 1) -> float:
        """Accuracy of the Bayes-optimal learner on ``prompts(k, n, seed)``: it knows the rule table and
        the uniform prior over rules, keeps the rules consistent with the demonstrations and answers the
        output most of them give (ties split evenly). Nothing can do better on the same prompts."""
        texts, answers, _ = self.prompts(k, n, seed)
        idx = {c: i for i, c in enumerate(self.letters)}
        total = 0.0
        for text, answer in zip(texts, answers):
            demos = [(idx[p[0]], idx[p[2]]) for p in text.split(",")[:-1]]
            q = idx[text.split(",")[-1][0]]
            alive = [r for r in range(self.n_rules) if all(self.table[r, x] == y for x, y in demos)]
            votes = np.bincount(self.table[alive, q], minlength=self.n_symbols)
            best = np.flatnonzero(votes == votes.max())
            total += (idx[answer] in best) / len(best)
        return total / n

    def corpus(self, docs: int = 20_000, bursty: bool = True, seed: int = 0) -> Corpus:
        """A character ``Corpus`` of ``docs`` documents (90% train, 10% validation) for ``helpers.train.train``;
        training windows start at document starts (``Corpus.align``), as prompts do."""
        rng = np.random.default_rng(seed)
        text = "".join(self.document(rng, bursty) for _ in range(docs))
        tok = self.tokenizer()
        ids = torch.tensor(tok.encode(text), dtype=torch.long)
        cut = (docs * 9 // 10) * self.doc_length
        name = "rules" if bursty else "rules-nonbursty"
        fp = sha256_bytes(f"{sorted(asdict(self).items())}|{docs}|{bursty}|{seed}|{text}".encode())
        return Corpus(name, tok, ids[:cut], ids[cut:], fp, align=self.doc_length)


@torch.no_grad()
def few_shot_accuracy(model: GPT, world: RuleWorld, k: int, n: int = 500, seed: int = 1) -> float:
    """Fraction of ``world.prompts(k, n, seed)`` whose answer is the model's most likely next letter."""
    texts, answers, _ = world.prompts(k, n, seed)
    tok = world.tokenizer()
    letters = torch.tensor(tok.encode(world.letters))
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for length in sorted({len(t) for t in texts}):  # every k-shot prompt has the same length; group anyway
        batch = [i for i, t in enumerate(texts) if len(t) == length]
        idx = torch.tensor([tok.encode(texts[i]) for i in batch], device=device)
        logits = model(idx)[0][:, -1, letters.to(device)]
        guess = logits.argmax(-1).cpu()
        correct += sum(world.letters[g] == answers[i] for g, i in zip(guess.tolist(), batch))
    model.train(was)
    return correct / n


def few_shot_curve(model: GPT, world: RuleWorld, n: int = 500, seed: int = 1) -> dict:
    """Accuracy of ``model`` for every number of demonstrations k = 0 .. pairs - 1, as a sweep evaluator's
    dict: ``{"k": [...], "accuracy": [...]}``."""
    ks = list(range(world.pairs))
    return {"k": ks, "accuracy": [few_shot_accuracy(model, world, k, n, seed) for k in ks]}
