"""Chapter 4, section 2: transfer between domains, read from the cached ``ch04_transfer`` grid.

Two views of one grid (every domain alone, for ``STEPS`` and for ``HALF`` as many steps, and every pair half
and half for ``STEPS``, over ``SEEDS``):

- ``zero_shot``: the loss on domain j of a model trained on domain i alone. Below ln 256 (what a model that
  knows nothing scores on bytes) the model learned something that carries over; above it, what it learned
  misleads it on j (negative transfer);
- ``pair_gains``: what half of a run's data from domain i does for domain j, against a run that sees the same
  j data alone (``HALF`` steps): gain = L_j(j alone, HALF) − L_j(i and j, STEPS), per seed. As a *fraction*
  of what the same extra steps on j's own data gained, L_j(j, HALF) − L_j(j, STEPS): 1 means i's data is
  worth as much as more of j's, 0 means it is worth nothing;
- ``fraction_exercise``: exercise 4.1, the docs' worth to code as a fraction;
- ``transfer_table``: the pair gains with their seed spread and a verdict, ``gain_verdict``: positive or
  negative when the gain is ``K_SEEDS`` seed standard deviations from 0, else none.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np

from .book.exercises import Exercise
from .book.report import md_table
from .ch04 import HALF, PAIRS, STEPS
from .mixture import DOMAINS, Mixture

UNIFORM_LOSS = math.log(256)  # nats per byte of a model that spreads its bets evenly over the 256 bytes
K_SEEDS = 3  # a gain is a finding when it lies this many seed standard deviations from zero


def by_run(rows: list[dict]) -> dict[tuple[str, int], np.ndarray]:
    """The per-domain losses of each (mixture, steps) of the grid: ``(seeds, 4)`` arrays in seed order."""
    out = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["seed"]):
        p = json.loads(r["params"])
        out[(p["mix"], p.get("steps", STEPS))].append([r["metrics"]["val"][d] for d in DOMAINS])
    return {k: np.array(v) for k, v in out.items()}


def zero_shot(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and seed standard deviation ``(4, 4)``: row i trained on domain i alone, column j the loss on j."""
    runs = by_run(rows)
    losses = np.stack([runs[(f"{d}=1", STEPS)] for d in DOMAINS])  # (train domain, seed, eval domain)
    return losses.mean(axis=1), losses.std(axis=1, ddof=1)


def pair_gains(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """For every ordered pair (helper i, target j): the per-seed ``gain`` on j from adding i, its ``fraction``
    of what more of j's own data gained, and the losses behind them."""
    runs = by_run(rows)
    out = {}
    for pair in PAIRS:
        a, b = Mixture.of(pair).names
        for helper, target in ((a, b), (b, a)):
            j = DOMAINS.index(target)
            alone_half, alone_full = runs[(f"{target}=1", HALF)][:, j], runs[(f"{target}=1", STEPS)][:, j]
            mixed = runs[(pair, STEPS)][:, j]
            gain = alone_half - mixed
            out[(helper, target)] = {
                "gain": gain, "fraction": gain.mean() / (alone_half - alone_full).mean(),
                "alone_half": alone_half, "alone_full": alone_full, "mixed": mixed,
            }  # fmt: skip
    return out


def fraction_exercise(gains: dict[tuple[str, str], dict]) -> Exercise:
    """Exercise 4.1: the fraction of the gain from more of its own data that code gets from the docs, from the
    three mean losses of the transfer table; accepted to 0.01."""
    g = gains[("docs", "code")]
    expected = (g["alone_half"].mean() - g["mixed"].mean()) / (g["alone_half"].mean() - g["alone_full"].mean())
    return Exercise(
        "4.1 what the docs are worth to code",
        expected=float(expected),
        atol=0.01,
        hints=(
            "compare what the docs' half of the run gained on code with what 150 more steps of code itself gained",
            "(code alone at 150 steps - half and half) / (code alone at 150 steps - code alone at 300 steps), "
            "each the mean over seeds of the loss on code",
        ),
    )


def gain_verdict(gain: np.ndarray, k: float = K_SEEDS) -> str:
    """ "positive" or "negative" when the mean gain lies ``k`` seed standard deviations from 0, else "none"."""
    mean, sd = float(np.mean(gain)), float(np.std(gain, ddof=1))
    if mean > k * sd:
        return "positive"
    return "negative" if mean < -k * sd else "none"


def transfer_table(gains: dict[tuple[str, str], dict]):
    """The pair gains as a Markdown table, largest first, with seed spread, fraction and verdict."""
    rows = []
    for (helper, target), g in sorted(gains.items(), key=lambda kv: -kv[1]["gain"].mean()):
        gain = f"{g['gain'].mean():+.3f} ± {np.std(g['gain'], ddof=1):.3f}"
        rows.append([
            f"{helper} → {target}", f"{g['alone_half'].mean():.3f}", f"{g['mixed'].mean():.3f}",
            gain, f"{g['fraction']:.2f}", gain_verdict(g["gain"]),
        ])  # fmt: skip
    headers = ["helper → target", f"target alone, {HALF} steps", f"half and half, {STEPS} steps"]
    headers += ["gain (nats/byte, ± seed sd)", "fraction of more own data", "verdict"]
    return md_table(headers, rows)
