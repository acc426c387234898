"""Chapter 4: data mixing, on four real domains (``helpers.mixture.DOMAINS``).

- ``mix_lm``: the chapter's model, a 2-layer 64-wide byte-level GPT, and its training on one mixture;
- the experiment ``mix_lm`` trains it on the mixture a point names and keeps its loss on every domain's
  validation split (``metrics["val"]``), whatever the mixture;
- the grid ``ch04_transfer``: every domain alone (for ``STEPS`` and for half as many) and every pair half
  and half, ``SEEDS`` each: the transfer between domains (``transfer_table``);
- the grid ``ch04_law``: proxies on ``FIT_MIXTURES`` (to fit Ye et al.'s mixing law) and ``HELD_OUT``
  mixtures (to test its predictions), and the uniform and natural mixtures over ``SEEDS``;
- ``domain_table``: the four domains at a glance; ``rounded``: a mixture to 3 decimals; ``natural_mixture``: the
  proportions of the domains' sizes;
  ``law_mixtures``: the fitted and held-out sets;
- ``per_domain``: a grid's per-domain losses as arrays, one row per run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import combinations

import numpy as np

from . import sweep
from .book.report import md_table
from .data import Corpus, load_text
from .mixture import DOMAINS, Mixture, domain_losses, load_domains, mixed_corpus
from .model import GPTConfig
from .sweep import RunOutput
from .train import TrainConfig, train

WIDTH, STEPS, SEEDS = 64, 300, (0, 1, 2)
HALF = STEPS // 2  # a single domain for half the steps: the same data of it that a half-and-half pair sees
FLOOR = 0.04  # every proxy mixture gives each domain at least this share, so every law sees every domain
CEILING = 1 - (len(DOMAINS) - 1) * FLOOR  # so the largest share a proxy mixture can give a domain
N_FIT, N_HELD_OUT = 20, 8
EVAL_BATCHES = 8  # fixed validation batches of 32 x 64 bytes per domain


def mix_lm(corpus: Corpus, d_model: int = WIDTH, steps: int = STEPS, seed: int = 0) -> tuple[GPTConfig, TrainConfig]:
    """A 2-layer byte-level GPT ``d_model`` wide (heads 16 wide, context 64), trained ``steps`` steps of 32 x 64
    bytes at peak rate 3e-3 (warmup 15 steps, then cosine), evaluated every 50 steps on its own mixture."""
    if d_model % 16:
        raise ValueError(f"d_model={d_model}: the heads are 16 wide, so the width must be a multiple of 16")
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=2, n_head=d_model // 16, d_model=d_model)
    train_cfg = TrainConfig(
        steps=steps, batch_size=32, lr=3e-3, warmup_steps=15, eval_every=50, seed=seed,
        desc=f"{d_model}-wide GPT on {corpus.mixture}, seed {seed}",
    )  # fmt: skip
    return model, train_cfg


def run_mixture(
    mix: str, d_model: int = WIDTH, steps: int = STEPS, seed: int = 0, device: str = "auto", cache=True, progress=True
):
    """Train the chapter's model on mixture ``mix`` (``"kjv=0.5,code=0.5"``) through ``helpers.train.train``;
    returns the ``TrainResult`` and its loss on each domain's validation split (nats per byte)."""
    parts = load_domains()
    corpus = mixed_corpus(mix, parts)
    model_cfg, train_cfg = mix_lm(corpus, d_model=d_model, steps=steps, seed=seed)
    train_cfg = replace(train_cfg, device=device, progress=progress)
    result = train(model_cfg, train_cfg, corpus, cache=cache)
    return result, domain_losses(result.model, parts, batches=EVAL_BATCHES)


def _experiment(*, device: str = "auto", cache: bool = False, mix: str, **point) -> RunOutput:
    result, losses = run_mixture(mix, device=device, cache=cache, progress=False, **point)
    return RunOutput.of_training(result, point.get("seed", 0), {"val": {n: round(v, 5) for n, v in losses.items()}})


KINDS = {"kjv": "English prose", "code": "Python source", "docs": "technical documentation"}
KINDS["poems"] = "classical Chinese verse"


def domain_table():
    """The four domains: what they are, their size in characters and bytes, and a line of each."""
    rows = []
    for name in DOMAINS:
        text = load_text(name)
        n_bytes = len(text.encode("utf-8"))
        line = next(x for x in text.splitlines()[12:] if len(x.strip()) > 10).strip()[:40]
        sizes = [f"{len(text):,}", f"{n_bytes:,}", f"{n_bytes / len(text):.2f}", f"{len(set(text)):,}"]
        rows.append([name, KINDS[name], *sizes, f"`{line}`"])
    headers = ["domain", "kind", "characters", "bytes (UTF-8)", "bytes per character", "distinct characters"]
    return md_table([*headers, "a line of it"], rows)


def natural_mixture() -> Mixture:
    """The domains in proportion to their sizes in bytes: what concatenating the four texts would give."""
    sizes = {name: len(load_text(name).encode("utf-8")) for name in DOMAINS}
    total = sum(sizes.values())
    return rounded({n: s / total for n, s in sizes.items()})


def rounded(weights) -> Mixture:
    """A ``Mixture`` from ``weights`` (a mapping of domain to share, in order) with every share to 3 decimals,
    the last taking what rounding leaves so that they still sum to 1."""
    names = list(weights)
    out = {n: round(float(weights[n]), 3) for n in names[:-1]}
    out[names[-1]] = round(1 - sum(out.values()), 3)
    return Mixture.of(out)


def law_mixtures(n: int, seed: int) -> list[str]:
    """``n`` mixtures of the four domains drawn from a flat Dirichlet, each share at least ``FLOOR``."""
    rng = np.random.default_rng(seed)
    draws = FLOOR + (1 - FLOOR * len(DOMAINS)) * rng.dirichlet(np.ones(len(DOMAINS)), size=n)
    return [str(rounded(dict(zip(DOMAINS, row)))) for row in draws]


FIT_MIXTURES = law_mixtures(N_FIT, seed=4)
HELD_OUT = law_mixtures(N_HELD_OUT, seed=5)
SINGLES = [f"{d}=1" for d in DOMAINS]
PAIRS = [f"{a}=0.5,{b}=0.5" for a, b in combinations(DOMAINS, 2)]


def per_domain(rows: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A grid's runs as (mixture text, proportions ``(runs, 4)``, per-domain losses ``(runs, 4)``)."""
    mixes = [json.loads(r["params"])["mix"] for r in rows]
    props = np.array([[Mixture.of(m).weight(d) for d in DOMAINS] for m in mixes])
    losses = np.array([[r["metrics"]["val"][d] for d in DOMAINS] for r in rows])
    return mixes, props, losses


sweep.register_experiment("mix_lm", _experiment)
sweep.register_grid(
    "ch04_transfer",
    full=[{"recipe": "mix_lm", "mix": m, "steps": n, "seed": s} for s in SEEDS for m in SINGLES for n in (STEPS, HALF)]
    + [{"recipe": "mix_lm", "mix": m, "seed": s} for s in SEEDS for m in PAIRS],
    quick=[{"recipe": "mix_lm", "mix": "kjv=1", "steps": 60}],
)
sweep.register_grid(
    "ch04_law",
    full=[{"recipe": "mix_lm", "mix": m} for m in FIT_MIXTURES + HELD_OUT]
    + [{"recipe": "mix_lm", "mix": str(m), "seed": s} for m in (Mixture.uniform(), natural_mixture()) for s in SEEDS],
    quick=[{"recipe": "mix_lm", "mix": str(Mixture.uniform()), "steps": 60}],
)

# section 3's grid, the law's pick, is computed from the cached ch04_law rows by helpers.ch04_law; section 4's,
# DoReMi's, is registered by helpers.ch04_doremi
from . import ch04_doremi, ch04_law  # noqa: E402, F401
