"""The preference world: short strings, a hidden gold reward, a demonstrator and a Bradley–Terry labeller.

``PreferenceWorld`` replaces the human labeller by a hidden **gold** reward over short strings, so that a
policy's true reward can be measured next to the learned *proxy* it optimises. A response is ``length``
letters from ``letters``; its gold reward counts the ``target`` letter and subtracts ``penalty`` for every
doubled target (``"aa"``). Demonstrations and SFT samples seldom double the letter, so a reward model
trained on them can learn "more ``a`` is better" without the penalty: a proxy feature a policy pushed hard
enough will exploit.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..config import Config
from ..data import Corpus
from ..model import GPTConfig
from ..tokenizer import CharTokenizer
from .pairs import check_pairs


@dataclass(frozen=True)
class PreferenceWorld(Config):
    """Strings of ``length`` letters and a hidden gold reward: +1 per ``target`` letter, −``penalty`` per
    doubled target (overlapping pairs: ``"aaa"`` holds two). Labels come from a Bradley–Terry labeller with
    temperature ``noise`` (0: always prefers the higher gold reward). Invalid values raise ``ValueError``."""

    length: int = 12
    letters: str = "abcdefgh"
    target: str = "a"
    penalty: float = 2.0
    demo_bias: float = 0.125  # the demonstrator writes the target letter with this probability...
    demo_threshold: float = 3.0  # ...and keeps only strings with at least this gold reward
    noise: float = 1.0
    seed: int = 0

    def rules(self):
        yield isinstance(self.length, int) and self.length >= 2, "length", "a response needs at least 2 letters"
        yield len(set(self.letters)) == len(self.letters) >= 2, "letters", "give at least 2 distinct letters"
        yield "\n" not in self.letters, "letters", "the newline starts every response; leave it out"
        yield len(self.target) == 1 and self.target in self.letters, "target", f"pick one of {self.letters!r}"
        yield self.penalty >= 0, "penalty", "must be >= 0 (0: doubled letters cost nothing)"
        yield 0 < self.demo_bias < 1, "demo_bias", "must lie in (0, 1)"
        yield self.noise >= 0, "noise", "the labeller's temperature must be >= 0 (0: noiseless labels)"

    @property
    def line_length(self) -> int:
        """Tokens per line: the newline that starts a response, then ``length`` letters."""
        return self.length + 1

    def tokenizer(self) -> CharTokenizer:
        """A character tokenizer over the newline and the letters (id 0 is the newline)."""
        return CharTokenizer("\n" + self.letters)

    def model_config(self, d_model: int = 32, n_layer: int = 2, n_head: int = 4) -> GPTConfig:
        """A GPT that reads a newline and a whole response (context = ``line_length``)."""
        return GPTConfig(
            vocab_size=len(self.letters) + 1, context=self.line_length, n_layer=n_layer, n_head=n_head, d_model=d_model
        )

    def random_strings(self, n: int, seed: int, bias: float | None = None) -> list[str]:
        """``n`` strings of random letters: uniform (what pretraining sees), or with the target letter at
        probability ``bias`` and the others uniform."""
        rng = np.random.default_rng(seed)
        letters = np.array(list(self.letters))
        k = len(letters)
        p = None
        if bias is not None:
            p = np.full(k, (1 - bias) / (k - 1))
            p[self.letters.index(self.target)] = bias
        return ["".join(row) for row in letters[rng.choice(k, (n, self.length), p=p)]]

    def gold(self, strings) -> np.ndarray:
        """The gold reward of each string (a list of strings, or token ids of shape ``(B, length)``)."""
        if isinstance(strings, torch.Tensor):
            strings = self.decode(strings)
        t, tt = self.target, self.target * 2
        doubled = [sum(s[i : i + 2] == tt for i in range(len(s) - 1)) for s in strings]
        return np.array([s.count(t) - self.penalty * d for s, d in zip(strings, doubled)], dtype=float)

    def demonstrations(self, n: int, seed: int) -> list[str]:
        """``n`` demonstrations (the SFT data): strings with the target letter at probability ``demo_bias``,
        kept only when their gold reward reaches ``demo_threshold`` (good answers, written by people)."""
        out, k = [], 0
        while len(out) < n:
            batch = self.random_strings(20_000, seed * 1000 + k, bias=self.demo_bias)
            out += [s for s, g in zip(batch, self.gold(batch)) if g >= self.demo_threshold]
            k += 1
            if k > 50 and not out:
                raise ValueError(f"demo_threshold={self.demo_threshold}: no string reaches it; lower it")
        return out[:n]

    def _corpus(self, name: str, strings: list[str], val: list[str]) -> Corpus:
        tok = self.tokenizer()
        texts = ["".join("\n" + s for s in part) + "\n" for part in (strings, val)]
        fp = hashlib.sha256("\0".join([repr(asdict(self)), name, *texts]).encode()).hexdigest()
        ids = [torch.tensor(tok.encode(t), dtype=torch.long) for t in texts]
        return Corpus(name, tok, ids[0], ids[1], fp, align=self.line_length)

    def pretrain_corpus(self, n: int = 20_000) -> Corpus:
        """Random strings, one per line: pretraining teaches the format and the letters."""
        return self._corpus("ch10-pretrain", self.random_strings(n, self.seed), self.random_strings(n // 10, 99))

    def sft_corpus(self, n: int = 4_000) -> Corpus:
        """Demonstrations (``demonstrations``), one per line: the data of supervised fine-tuning."""
        return self._corpus("ch10-sft", self.demonstrations(n, self.seed + 1), self.demonstrations(n // 10, 98))

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Response token ids ``(B, length)`` to strings (a newline inside a response shows as ``|``)."""
        tok = self.tokenizer()
        return [tok.decode(row).replace("\n", "|") for row in ids.tolist()]

    def label_pairs(self, a: torch.Tensor, b: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The labeller: for each pair of responses ``(a[i], b[i])`` prefer a with probability
        σ((gold(a) − gold(b)) / noise) (Bradley–Terry). Returns ``(chosen, rejected)``."""
        check_pairs(a, b, "a", "b")
        diff = self.gold(a) - self.gold(b)
        rng = np.random.default_rng(seed)
        if self.noise == 0:
            p = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
        else:
            p = 1 / (1 + np.exp(-diff / self.noise))
        first = torch.from_numpy(rng.random(len(diff)) < p)[:, None]
        return torch.where(first, a, b), torch.where(first, b, a)

    def label_ceiling(self, a: torch.Tensor, b: torch.Tensor) -> float:
        """The best accuracy any reward model can reach on this labeller's noisy labels of these pairs:
        the mean of max(p, 1 − p), p the labeller's probability of preferring ``a``."""
        diff = self.gold(a) - self.gold(b)
        if self.noise == 0:
            return float(np.mean(np.where(diff == 0, 0.5, 1.0)))
        p = 1 / (1 + np.exp(-np.abs(diff) / self.noise))
        return float(p.mean())
