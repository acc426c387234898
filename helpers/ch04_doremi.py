"""Chapter 4, section 4: DoReMi (Xie et al. 2023) on the four domains.

DoReMi's three steps, at the chapter's scale:

1. a **reference** model (the chapter's 64-wide model) trained on the uniform mixture;
2. a **proxy** of the same size trained with the domain-weight game of ``helpers.doremi.DoReMi`` against it
   (η = ``ETA``, smoothing c = ``SMOOTHING``); its weights averaged over the run are DoReMi's mixture;
3. a **main** model ``MAIN_WIDTH`` wide trained on that mixture, against one trained on the uniform mixture.

The main models are scored per domain against **specialists** of their own size (trained on one domain alone):
a domain's *excess loss* is how far a model trained on a mixture lies above the specialist there, and the
worst-domain excess is what DoReMi sets out to lower.

- ``doremi_weights``: steps 1 and 2, returning the game (its weights over the run) and the averaged mixture;
- the experiment ``doremi_lm`` and the grid ``ch04_doremi``: per seed, DoReMi's mixture and the main model
  trained on it; the uniform main model and the specialists over seeds, through ``mix_lm`` at ``MAIN_WIDTH``;
- ``DomainEval``: a trainer callback that records the loss on every domain at each evaluation;
- ``doremi_evidence``, ``worst_excess``, ``steps_to_reach``, ``doremi_table`` and ``paper_table``: the cached
  grid read back.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from . import sweep
from .book.report import md_table
from .ch04 import DOMAINS, EVAL_BATCHES, SEEDS, SINGLES, STEPS, mix_lm, rounded
from .doremi import DoReMi
from .mixture import Mixture, domain_losses, load_domains, mixed_corpus
from .sweep import RunOutput
from .train import train

ETA, SMOOTHING = 1.0, 1e-3  # the reference implementation's step size and its 120M run's smoothing
MAIN_WIDTH = 128  # the main model: 4 times the proxy's non-embedding parameters
PROXY_SEED = 100  # added to the seed of the reference: the proxy starts from other weights


class DomainEval:
    """Trainer callback: at each evaluation, the model's loss on every domain of ``parts`` (``records``)."""

    def __init__(self, parts):
        self.parts, self.steps, self.records = parts, [], []

    def on_eval(self, trainer) -> None:
        self.steps.append(trainer.step)
        self.records.append(domain_losses(trainer.model, self.parts, batches=EVAL_BATCHES // 2))


def doremi_weights(
    seed: int = 0, steps: int = STEPS, device: str = "auto", progress: bool = True, cache=True
) -> tuple[DoReMi, Mixture]:
    """Train the reference on the uniform mixture, then the proxy with DoReMi's game against it, ``steps`` steps
    each; return the game (``weights`` at every step) and the averaged weights as a ``Mixture`` over ``DOMAINS``."""
    parts = load_domains()
    uniform = mixed_corpus(Mixture.uniform(), parts)
    model_cfg, train_cfg = mix_lm(uniform, steps=steps, seed=seed)
    train_cfg = replace(train_cfg, device=device, progress=progress, desc=f"DoReMi reference, seed {seed}")
    reference = train(model_cfg, train_cfg, uniform, cache=cache).model
    game = DoReMi(reference, sampling=Mixture.uniform().weights, eta=ETA, smoothing=SMOOTHING)
    proxy_cfg = replace(train_cfg, seed=seed + PROXY_SEED, desc=f"DoReMi proxy, seed {seed}")
    train(model_cfg, proxy_cfg, uniform, callbacks=[game])
    return game, rounded(dict(zip(DOMAINS, game.average)))


def main_run(mix: Mixture | str, seed: int = 0, steps: int = STEPS, device: str = "auto", progress: bool = True):
    """The main model (``MAIN_WIDTH`` wide) trained on ``mix`` for ``steps``, with every domain's loss at each
    evaluation (every 25 steps): returns the ``TrainResult`` and the ``DomainEval`` that watched it."""
    parts = load_domains()
    corpus = mixed_corpus(mix, parts)
    model_cfg, train_cfg = mix_lm(corpus, d_model=MAIN_WIDTH, steps=steps, seed=seed)
    watch = DomainEval(parts)
    train_cfg = replace(train_cfg, device=device, progress=progress, eval_every=25)
    return train(model_cfg, train_cfg, corpus, callbacks=[watch]), watch


def _experiment(*, device: str = "auto", cache: bool = False, seed: int = 0) -> RunOutput:
    game, mix = doremi_weights(seed, device=device, progress=False, cache=cache)
    result, watch = main_run(mix, seed=seed, device=device, progress=False)
    final = domain_losses(result.model, load_domains(), batches=EVAL_BATCHES)  # the batches mix_lm scores on
    metrics = {
        "mixture": str(mix),
        "weights": [[round(w, 4) for w in game.weights[i]] for i in range(0, len(game.weights), 10)],
        "val": {d: round(v, 5) for d, v in final.items()},
        "curve": {"step": watch.steps, **{d: [round(r[d], 5) for r in watch.records] for d in DOMAINS}},
    }
    return RunOutput.of_training(result, seed, metrics)


sweep.register_experiment("doremi_lm", _experiment)
sweep.register_grid(
    "ch04_doremi",
    full=[{"recipe": "doremi_lm", "seed": s} for s in SEEDS]
    + [{"recipe": "mix_lm", "mix": str(Mixture.uniform()), "d_model": MAIN_WIDTH, "seed": s} for s in SEEDS]
    + [{"recipe": "mix_lm", "mix": m, "d_model": MAIN_WIDTH} for m in SINGLES],
    quick=[{"recipe": "mix_lm", "mix": "kjv=1", "d_model": MAIN_WIDTH, "steps": 60}],
)


# ----------------------------------------------------------------------------- reading the cached grid


def doremi_evidence(rows: list[dict]) -> dict:
    """The ``ch04_doremi`` rows as arrays over ``DOMAINS``: per seed, DoReMi's ``mixtures``, its weight
    ``trajectories`` (every 10 proxy steps) and its main model's ``doremi`` losses and ``curves``; the
    ``uniform`` main models' losses per seed; the ``specialists``' loss on their own domain."""
    doremi = sorted((r for r in rows if r["recipe"] == "doremi_lm"), key=lambda r: r["seed"])
    mixes = [(json.loads(r["params"])["mix"], r) for r in rows if r["recipe"] == "mix_lm"]
    uniform = sorted((r for m, r in mixes if m == str(Mixture.uniform())), key=lambda r: r["seed"])
    specialist = {Mixture.of(m).names[0]: r for m, r in mixes if m in SINGLES}
    return {
        "mixtures": [Mixture.of(r["metrics"]["mixture"]) for r in doremi],
        "trajectories": [np.array(r["metrics"]["weights"]) for r in doremi],
        "doremi": np.array([[r["metrics"]["val"][d] for d in DOMAINS] for r in doremi]),
        "curves": [r["metrics"]["curve"] for r in doremi],
        "uniform": np.array([[r["metrics"]["val"][d] for d in DOMAINS] for r in uniform]),
        "specialists": np.array([specialist[d]["metrics"]["val"][d] for d in DOMAINS]),
    }


def worst_excess(losses, specialists) -> np.ndarray:
    """Each run's largest excess loss over the domains: max over j of (loss_j − specialist_j)."""
    return (np.asarray(losses) - np.asarray(specialists)).max(axis=-1)


def steps_to_reach(curve: dict, target: float) -> int | None:
    """The first evaluation step at which the mean loss over the domains in ``curve`` is at or below ``target``
    (None if it never gets there)."""
    mean = np.mean([curve[d] for d in DOMAINS], axis=0)
    hit = np.flatnonzero(mean <= target)
    return int(curve["step"][hit[0]]) if hit.size else None


def doremi_table(evidence: dict):
    """Per domain: DoReMi's weight (mean over seeds), the main models' losses on the uniform and on DoReMi's
    mixture, the specialist's, and the two excess losses; a last row for the worst domain."""
    weights = np.mean([[m.weight(d) for d in DOMAINS] for m in evidence["mixtures"]], axis=0)
    uni, dor, spec = evidence["uniform"], evidence["doremi"], evidence["specialists"]
    rows = [
        [d, f"{weights[j]:.3f}", f"{uni[:, j].mean():.3f}", f"{dor[:, j].mean():.3f}", f"{spec[j]:.3f}",
         f"{(uni[:, j] - spec[j]).mean():+.3f}", f"{(dor[:, j] - spec[j]).mean():+.3f}"]
        for j, d in enumerate(DOMAINS)
    ]  # fmt: skip
    wu, wd = worst_excess(uni, spec), worst_excess(dor, spec)
    rows.append(["worst domain", "", "", "", "", f"{wu.mean():+.3f} ± {wu.std(ddof=1):.3f}",
                 f"{wd.mean():+.3f} ± {wd.std(ddof=1):.3f}"])  # fmt: skip
    headers = ["domain", "DoReMi weight", "main, uniform", "main, DoReMi", "specialist"]
    return md_table([*headers, "excess, uniform", "excess, DoReMi"], rows)


def paper_table(published: dict, evidence: dict, reach: list):
    """DoReMi's published result beside ours: the update, what the main model gained, and how much sooner it
    reached the default mixture's result."""
    paper, steps = published["doremi"], len(evidence["trajectories"][0]) * 10
    uni, dor = evidence["uniform"].mean(axis=1), evidence["doremi"].mean(axis=1)
    fastest = max(steps / r for r in reach if r) if any(reach) else float("nan")
    rows = [
        ["weight update: step η, smoothing c", f"η = {paper['eta']:g}, c = {paper['smoothing']:g} (its 120M script)",
         f"η = {ETA:g}, c = {SMOOTHING:g}"],
        ["main model vs the default mixture", f"+{paper['few_shot_points']} points of average few-shot accuracy",
         f"{uni.mean() - dor.mean():+.3f} nats/byte mean loss vs uniform (seed sd {uni.std(ddof=1):.3f})"],
        ["reaching the default's result", f"{paper['speedup']}× faster", f"at most {fastest:.1f}× faster"],
    ]  # fmt: skip
    return md_table(["", paper["name"], "ours"], rows)
