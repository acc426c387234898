"""Text domains and mixtures of them: the data side of chapter 4, usable by any run of the trainer.

- ``DOMAINS``: the four bundled real domains (``data/corpora/PROVENANCE.md``): English prose (``kjv``),
  Python source (``code``), technical documentation (``docs``) and classical Chinese verse (``poems``);
- ``load_domains``: each domain as a byte-level ``Corpus``, so that one vocabulary of 256 covers them all;
- ``Mixture``: sampling weights over named domains, a config that checks itself (``"kjv=0.5,code=0.5"``
  parses into one);
- ``MixtureSampler``: the batch sampler of a mixture, each row drawn from a domain chosen with the weights
  (``last_domains`` says which, for a trainer that weighs domains differently, e.g. DoReMi);
- ``mixed_corpus``: a ``MixedCorpus``, which the trainer samples through ``MixtureSampler`` and evaluates on
  the same mixture of the domains' validation splits;
- ``domain_losses``: a model's loss on each domain's validation split, on fixed batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import torch

from .config import Config
from .data import BatchSampler, Corpus, load_corpus, sha256_bytes
from .metrics import mean_loss

DOMAINS = ("kjv", "code", "docs", "poems")
EVAL_SEED = 20_000  # seeds the fixed per-domain evaluation batches, the same for every run


@dataclass(frozen=True)
class Mixture(Config):
    """Sampling weights over named domains; they must be non-negative and sum to 1 (within 1e-6)."""

    names: tuple[str, ...]
    weights: tuple[float, ...]

    def rules(self):
        yield len(self.names) == len(self.weights) and len(self.names) > 0, "weights", "needs one weight per name"
        yield len(set(self.names)) == len(self.names), "names", "must not repeat a domain"
        yield all(w >= 0 for w in self.weights), "weights", "must all be >= 0"
        yield abs(sum(self.weights) - 1) < 1e-6, "weights", f"must sum to 1 (they sum to {sum(self.weights):.6g})"

    @classmethod
    def of(cls, weights: Mapping[str, float] | str) -> Mixture:
        """A mixture from ``{"kjv": 0.5, "code": 0.5}`` or the same as text, ``"kjv=0.5,code=0.5"``."""
        if isinstance(weights, str):
            try:
                pairs = [part.split("=") for part in weights.split(",")]
                weights = {name.strip(): float(value) for name, value in pairs}
            except ValueError as err:
                hint = "write it as name=weight pairs, e.g. 'kjv=0.5,code=0.5'"
                raise ValueError(f"mixture {weights!r}: {hint}") from err
        return cls(tuple(weights), tuple(float(w) for w in weights.values()))

    @classmethod
    def uniform(cls, names=DOMAINS) -> Mixture:
        """Equal weights on ``names``."""
        return cls(tuple(names), tuple(1 / len(names) for _ in names))

    def weight(self, name: str) -> float:
        """The weight of domain ``name`` (0 when the mixture does not name it)."""
        return dict(zip(self.names, self.weights)).get(name, 0.0)

    def __str__(self) -> str:
        return ",".join(f"{n}={w:.4g}" for n, w in zip(self.names, self.weights) if w > 0)


class MixtureSampler:
    """Random windows from several token streams: each row's stream is drawn with probability ``weights``.

    The same interface as ``helpers.data.BatchSampler`` (``sample``, ``state_dict``, ``load_state_dict``);
    ``last_domains`` holds the stream index of each row of the latest batch."""

    def __init__(self, streams: list[torch.Tensor], weights, context: int, batch_size: int, seed: int = 0):
        if len(streams) != len(weights):
            raise ValueError(f"{len(streams)} streams but {len(weights)} weights")
        self.rows = [BatchSampler(s, context, 1) for s in streams]  # checks each stream is long enough
        self.weights = torch.tensor([float(w) for w in weights], dtype=torch.float64)
        if (self.weights < 0).any() or self.weights.sum() <= 0:
            raise ValueError(f"weights {list(weights)}: must be >= 0 with a positive sum")
        self.streams, self.context, self.batch_size = streams, context, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.last_domains = torch.zeros(batch_size, dtype=torch.long)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(x, y)`` of shape ``(batch_size, context)``; sets ``last_domains``."""
        domains = torch.multinomial(self.weights, self.batch_size, replacement=True, generator=self.gen)
        offsets = torch.arange(self.context + 1)
        windows = torch.empty(self.batch_size, self.context + 1, dtype=torch.long)
        for d in domains.unique().tolist():
            rows = (domains == d).nonzero().squeeze(1)
            starts = torch.randint(len(self.streams[d]) - self.context - 1, (len(rows),), generator=self.gen)
            windows[rows] = self.streams[d][starts[:, None] + offsets]
        self.last_domains = domains
        return windows[:, :-1], windows[:, 1:]

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


@dataclass
class MixedCorpus(Corpus):
    """A ``Corpus`` made of domains sampled with a ``Mixture``: ``parts`` maps each name to its corpus.
    ``train`` and ``val`` hold the parts' splits end to end (for sizes); the trainer samples through
    ``sampler``, which draws from the parts with the mixture's weights."""

    parts: dict[str, Corpus] = field(default_factory=dict)
    mixture: Mixture | None = None

    def sampler(self, split: str, context: int, batch_size: int, seed: int = 0) -> MixtureSampler:
        """Batches of ``split`` ("train" or "val") drawn from the domains with the mixture's weights."""
        names = [n for n in self.mixture.names if self.mixture.weight(n) > 0]
        streams = [getattr(self.parts[n], split) for n in names]
        return MixtureSampler(streams, [self.mixture.weight(n) for n in names], context, batch_size, seed)


@lru_cache(maxsize=8)
def _domain(name: str) -> Corpus:
    return load_corpus(name, tokenizer="byte")


def load_domains(names=DOMAINS) -> dict[str, Corpus]:
    """Each named bundled domain as a byte-level corpus (train/validation split as ``load_corpus``)."""
    unknown = [n for n in names if n not in DOMAINS]
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}: the bundled domains are {', '.join(DOMAINS)}")
    return {n: _domain(n) for n in names}


def mixed_corpus(mixture: Mixture | Mapping[str, float] | str, parts: Mapping[str, Corpus] | None = None):
    """The corpus that samples ``parts`` (default: the bundled domains the mixture names) with ``mixture``."""
    mix = mixture if isinstance(mixture, Mixture) else Mixture.of(mixture)
    parts = dict(parts) if parts is not None else load_domains(mix.names)
    missing = [n for n in mix.names if n not in parts]
    if missing:
        raise ValueError(f"mixture {mix} names {missing}, which are not among the parts {sorted(parts)}")
    used = {n: parts[n] for n in mix.names if mix.weight(n) > 0}
    first = next(iter(used.values()))
    if any(p.vocab_size != first.vocab_size for p in used.values()):
        raise ValueError("the domains of a mixture must share one tokenizer; load them all with tokenizer='byte'")
    fingerprint = sha256_bytes(f"mixture {mix}|".encode() + "|".join(p.fingerprint for p in used.values()).encode())
    return MixedCorpus(
        name=f"mixture({mix})",
        tokenizer=first.tokenizer,
        train=torch.cat([p.train for p in used.values()]),
        val=torch.cat([p.val for p in used.values()]),
        fingerprint=fingerprint,
        parts=used,
        mixture=mix,
    )


@torch.no_grad()
def domain_losses(model, parts: Mapping[str, Corpus], batch_size: int = 32, batches: int = 4) -> dict[str, float]:
    """Mean loss (nats per token) of ``model`` on each domain's validation split: the same ``batches``
    fixed batches of ``batch_size`` windows for every model, so that runs compare on identical text."""
    context = model.cfg.context
    out = {}
    for name, part in parts.items():
        fixed = [BatchSampler(part.val, context, batch_size, seed=EVAL_SEED + i).sample() for i in range(batches)]
        was = model.training
        model.eval()
        out[name] = mean_loss(model, fixed)
        model.train(was)
    return out
