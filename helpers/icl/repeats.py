"""The induction world: documents whose segments recur, probes that repeat, and the losses on them.

``RepeatData`` documents are random tokens built from a few random segments that recur at irregular
places, written in a ``SymbolTokenizer``'s abstract symbols; ``repeat_corpus`` streams them for
``helpers.train.train``. ``repeated_tokens`` makes probes (random tokens, then the same tokens again);
``token_losses`` is a model's loss at every probe position, ``icl_score`` Olsson et al.'s in-context
learning score from it, and ``RepeatLossProbe`` records the loss on both probe halves during training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config
from ..data import Corpus, sha256_bytes
from ..model import GPT


class SymbolTokenizer:
    """A vocabulary of ``n`` abstract symbols, shown as ``s0, s1, ...`` (the tokens carry no meaning)."""

    kind = "symbol"

    def __init__(self, n: int):
        if not (isinstance(n, int) and n >= 2):
            raise ValueError(f"n={n!r}: a vocabulary needs at least 2 symbols")
        self.vocab_size = n

    def encode(self, symbols) -> list[int]:
        """Symbol names (``"s3"``) to ids."""
        ids = [int(s[1:]) if isinstance(s, str) and s[:1] == "s" and s[1:].isdigit() else -1 for s in symbols]
        bad = [s for s, i in zip(symbols, ids) if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a symbol of this vocabulary (s0..s{self.vocab_size - 1})")
        return ids

    def decode(self, ids) -> str:
        """Ids to a space-separated string of symbol names."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return " ".join(f"s{i}" for i in ids)

    def __repr__(self) -> str:
        return f"SymbolTokenizer(vocab_size={self.vocab_size})"


@dataclass(frozen=True)
class RepeatData(Config):
    """Documents of random tokens built from a few random segments that recur. Each document draws
    ``segments`` segments of random tokens, with lengths in ``[min_repeat, max_repeat]``, and writes
    ``length`` tokens: at each step either one fresh random token (probability ``filler``) or a whole
    segment picked at random. A segment comes back at irregular distances and no position or offset
    predicts where, so the one rule that predicts a recurring segment is *find the earlier occurrence of
    the current token and copy what came after it*: induction."""

    vocab_size: int = 64
    length: int = 32
    min_repeat: int = 3
    max_repeat: int = 8
    segments: int = 3
    filler: float = 0.3
    docs: int = 20_000
    seed: int = 0

    def rules(self):
        yield self.vocab_size >= 2, "vocab_size", "needs at least 2 tokens"
        yield self.min_repeat >= 2, "min_repeat", "a segment needs at least 2 tokens for one to predict the next"
        yield self.max_repeat >= self.min_repeat, "max_repeat", f"must be >= min_repeat={self.min_repeat}"
        yield (
            self.length >= 2 * self.max_repeat,
            "length",
            f"a document must hold two copies of the longest segment ({2 * self.max_repeat} tokens)",
        )
        yield self.segments >= 1, "segments", "a document needs at least one segment to repeat"
        yield 0 <= self.filler < 1, "filler", "the chance of a fresh random token must lie in [0, 1)"
        yield self.docs >= 20, "docs", "use at least 20 documents (a tenth goes to validation)"

    def documents(self, n: int, seed: int) -> np.ndarray:
        """``n`` documents, shape ``(n, length)``; ``repeat_mask`` says which tokens an induction head predicts."""
        return self._make(n, seed)[0]

    def repeat_mask(self, n: int, seed: int) -> np.ndarray:
        """Boolean ``(n, length)``: True where a token is predictable from the earlier copy of its segment."""
        return self._make(n, seed)[1]

    def _make(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = np.zeros((n, self.length), dtype=np.int64)
        mask = np.zeros((n, self.length), dtype=bool)
        for i in range(n):
            pool = [
                rng.integers(0, self.vocab_size, rng.integers(self.min_repeat, self.max_repeat + 1))
                for _ in range(self.segments)
            ]
            seen, t = set(), 0
            while t < self.length:
                if rng.random() < self.filler:
                    x[i, t] = rng.integers(self.vocab_size)
                    t += 1
                    continue
                j = int(rng.integers(self.segments))
                seg = pool[j][: self.length - t]
                x[i, t : t + len(seg)] = seg
                if j in seen:  # every token of a recurring segment after its first is predictable
                    mask[i, t + 1 : t + len(seg)] = True
                seen.add(j)
                t += len(seg)
        return x, mask

    def fingerprint(self) -> str:
        """SHA-256 of every field: the corpus part of a training run's cache key."""
        return sha256_bytes(repr(sorted(asdict(self).items())).encode())


def repeat_corpus(data: RepeatData) -> Corpus:
    """A token-stream ``Corpus`` of ``data.docs`` concatenated documents (90% train, 10% validation) for
    ``helpers.train.train``. Training windows start at document starts (``Corpus.align``), one document
    per window when the model's context is ``data.length - 1``."""
    n_val = data.docs // 10
    train = torch.from_numpy(data.documents(data.docs - n_val, data.seed).reshape(-1))
    val = torch.from_numpy(data.documents(n_val, data.seed + 1).reshape(-1))
    # the fingerprint hashes the documents themselves, so a change to how they are generated never reuses a
    # cached run trained on the old ones
    fp = sha256_bytes(data.fingerprint().encode() + train.numpy().tobytes() + val.numpy().tobytes())
    return Corpus("repeats", SymbolTokenizer(data.vocab_size), train, val, fp, align=data.length)


def repeated_tokens(n: int, half: int, vocab_size: int, seed: int = 0) -> torch.Tensor:
    """Probe sequences: ``half`` uniformly random tokens followed by the same ``half`` tokens again,
    shape ``(n, 2 * half)``. In the second half every token after the first is predictable by induction."""
    if half < 2:
        raise ValueError(f"half={half}: use at least 2 tokens per half")
    gen = torch.Generator().manual_seed(seed)
    first = torch.randint(0, vocab_size, (n, half), generator=gen)
    return torch.cat([first, first], dim=1)


@torch.no_grad()
def token_losses(model: GPT, seqs: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy (nats) at every position, averaged over sequences: shape ``(T - 1,)``;
    entry ``t`` is the loss of predicting token ``t + 1`` from tokens ``0..t``."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, _ = model(seqs[:, :-1].to(device))
    loss = F.cross_entropy(logits.transpose(1, 2), seqs[:, 1:].to(device), reduction="none")
    model.train(was)
    return loss.mean(0).cpu()


def icl_score(losses: torch.Tensor, early: int, late: int) -> float:
    """Olsson et al.'s in-context-learning score: loss at a late position minus loss at an early one
    (per-position losses from ``token_losses``; position ``t`` predicts token ``t + 1``). Negative means
    the model predicts better with more context."""
    if not 0 <= early < late < len(losses):
        raise ValueError(f"need 0 <= early={early} < late={late} < {len(losses)} positions")
    return float(losses[late] - losses[early])


class RepeatLossProbe:
    """Training callback (``on_eval``): the loss on the first and on the second half of fixed
    ``repeated_tokens`` probes, recorded at every evaluation, so a run shows *when* it learns to use
    the repeat. ``rows`` holds ``(step, loss_first_half, loss_second_half)``."""

    def __init__(self, seqs: torch.Tensor):
        self.seqs = seqs
        self.half = seqs.shape[1] // 2
        self.rows: list[tuple[int, float, float]] = []

    def measure(self, model: GPT) -> tuple[float, float]:
        """Mean loss predicting the first half (after its first token) and the second half (after its first)."""
        loss = token_losses(model, self.seqs)
        h = self.half
        return float(loss[: h - 1].mean()), float(loss[h:].mean())

    def on_eval(self, trainer) -> None:
        """Record ``measure`` at the trainer's current step."""
        self.rows.append((trainer.step, *self.measure(trainer.model)))
