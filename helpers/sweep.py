"""Named grids of training runs, cached as CSV with a provenance file.

    python -m helpers.sweep ch01_seeds                    # the full grid -> data/sweeps/ch01_seeds.csv
    python -m helpers.sweep ch01_seeds --profile quick    # the small grid -> data/sweeps/ch01_seeds-quick.csv
    python -m helpers.sweep ch01_seeds --jobs 2           # two runs at a time, one CPU thread each

A grid has a ``full`` profile (what the book's cached results come from) and usually a ``quick``
one (a subset a notebook can afford to run live). Each point is a recipe name plus keyword
arguments (seed, steps, ...). Finished points are skipped, so an interrupted sweep resumes where it
stopped. Next to the CSV, a ``.provenance.json`` records the command, git commit, library versions,
device, threads, date and wall time, so every cached number can be traced to the code and machine
that produced it.

``--jobs N`` trains N points at once in separate processes, splitting the CPU threads between them.
Whether that is faster depends on the model: measured on 2 cores with chapter 1's 0.8M-parameter
model (``ch01_seeds --profile quick``), ``--jobs 2`` took 22.0 s and ``--jobs 1`` 22.4 s, because
PyTorch already keeps both cores busy at that size; smaller models, which parallelise worse inside
one run, are where it can pay off, so time both before a long sweep. A run's result depends on its
thread count, which changes the order of floating-point sums: by 1e-5 for chapter 1's run
(2.24227 vs 2.24226), by 0.02 for a 125-step run at peak lr 1e-2. So each row records its threads,
and ``tests/test_sweep_cache.py`` re-trains a row with the count it was cached with.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import __version__, icl, transfer
from .cache import code_version
from .data import DATA_DIR, Corpus, load_corpus
from .recipes import RECIPES
from .rl import overoptimisation_run
from .tasks import FORMATS as ADDITION_FORMATS
from .tasks import addition_corpus, length_corpus, length_scores, multiplication_corpus, sweep_scores
from .train import select_device, train

# chapter 2's model family (width, layers): 3.3k to 595k non-embedding parameters (2.3 decades)
SIZES = [(16, 1), (24, 1), (32, 1), (32, 2), (48, 2), (64, 2), (96, 2), (128, 2), (128, 3)]
# peak learning rates tried at every chapter-2 point: chapter 1's 3e-3 was far from best for short runs
# (a 718-step run of the 57k model: 1.82 at 3e-3, 1.59 at 1e-2, 1.57 at 3e-2)
LRS = (3e-3, 1e-2, 3e-2)
# chapter 6's family (width, layers): one-layer widths 8 to 32, then two layers of 32 and 48
CH06_SIZES = [(8, 1), (12, 1), (16, 1), (20, 1), (24, 1), (28, 1), (32, 1), (32, 2), (48, 2)]
# chapter 9: numbers of training problems at which the answer formats are compared
CH09_TRAIN_SIZES = (250, 1000, 4000)

GRIDS: dict[str, dict[str, list[dict]]] = {
    # seed-to-seed spread of chapter 1's run: grounds the tolerances the chapter asserts
    "ch01_seeds": {
        "full": [{"recipe": "tiny_lm", "seed": s} for s in range(5)],
        "quick": [{"recipe": "tiny_lm", "seed": s, "steps": 100} for s in range(2)],
    },
    # chapter 2: IsoFLOP profiles (C = 6ND, N non-embedding), six or seven sizes per budget, each point at
    # three peak learning rates (chapter 2 keeps the best per point). The first run, at 3e-3 only, put every
    # optimum among the two smallest sizes of its profile, so each profile was extended down by one size.
    "ch02_isoflop": {
        "full": [
            {"recipe": "scaling", "d_model": d, "n_layer": n, "flops": c, "lr": lr}
            for lr in LRS
            for c, sizes in [
                (2.5e11, SIZES[0:6]),
                (5e11, SIZES[0:7]),
                (1e12, SIZES[1:8]),
                (2e12, SIZES[2:9]),
            ]
            for d, n in sizes
        ],
        # a live profile at a smaller budget, one layer and one learning rate (1e-2, the rate most cached runs
        # chose) to fit in half a minute. Sizes stay below the cliff where runs get under ~600 steps (a 40-wide
        # model at 1e11 FLOPs gets 407 and ends 0.5 nats worse), so a parabola in ln N describes the profile
        "quick": [
            {"recipe": "scaling", "d_model": d, "n_layer": 1, "flops": 1e11, "lr": 1e-2} for d in (16, 20, 24, 28, 32)
        ],
    },
    # chapter 2's prediction: the run the chapter predicts from runs with at most a quarter of its compute
    # (the 100k model at 4.5e12 FLOPs, the size and learning rate that fit picks), over five seeds, so that
    # the tolerance on the prediction comes from measured seed-to-seed spread
    "ch02_seeds": {
        "full": [
            {"recipe": "scaling", "d_model": 64, "n_layer": 2, "flops": 4.5e12, "lr": 1e-2, "seed": s} for s in range(5)
        ],
        "quick": [
            {"recipe": "scaling", "d_model": 64, "n_layer": 2, "flops": 1e11, "lr": 1e-2, "seed": s} for s in range(2)
        ],
    },
    # chapter 2: L(N) at fixed data (2,000 steps, 4.1M tokens, about 1.1 epochs) and L(D) at fixed N
    "ch02_sizes": {
        "full": [
            {"recipe": "scaling", "d_model": d, "n_layer": n, "tokens": 4_096_000, "lr": lr}
            for lr in LRS
            for d, n in SIZES
        ],
        "quick": [
            {"recipe": "scaling", "d_model": d, "n_layer": n, "tokens": 512_000, "lr": 1e-2} for d, n in SIZES[:5]
        ],
    },
    # chapter 6: one model family on 4-digit addition (reversed answers), 0.9k-57k non-embedding parameters, five
    # seeds each (three were too few: at 7k parameters they gave exact match 0.00, 0.12 and 0.97, because each
    # answer position is either learned or not); most of the change happens between 3k and 13k parameters, so
    # the one-layer widths are close together there
    "ch06_family": {
        "full": [
            {"recipe": "arithmetic", "data": "addition4-reversed", "d_model": d, "n_layer": n, "steps": 2000, "seed": s}
            for d, n in CH06_SIZES
            for s in range(5)
        ],
        # three sizes across the jump, seed 0: the same points as in the full grid
        "quick": [
            {"recipe": "arithmetic", "data": "addition4-reversed", "d_model": d, "n_layer": 1, "steps": 2000, "seed": 0}
            for d in (16, 24, 32)
        ],
    },
    # chapter 9 (sample efficiency): 3-digit addition in the plain, reversed and scratchpad formats, the same model
    # (two layers of 32), the same 2,000 steps of 128 problems, from 250, 1,000 or 4,000 distinct training
    # problems, two seeds. A probe at 1,000 problems: exact match 0.02 (plain), 0.99 (reversed), 1.00 (scratchpad)
    "ch09_formats": {
        "full": [
            {
                "recipe": "arithmetic",
                "data": f"addition3-{f}-n{n}",
                "d_model": 32,
                "n_layer": 2,
                "steps": 2000,
                "seed": s,
            }
            for n in CH09_TRAIN_SIZES
            for f in ("plain", "reversed", "scratchpad")
            for s in range(2)
        ],
    },
    "ch02_data": {
        "full": [
            {"recipe": "scaling", "d_model": 128, "n_layer": 2, "tokens": t, "lr": lr}
            for lr in LRS
            for t in (256_000, 512_000, 1_024_000, 2_048_000, 4_096_000)
        ],
        "quick": [
            {"recipe": "scaling", "d_model": 64, "n_layer": 2, "tokens": t, "lr": 1e-2} for t in (128_000, 512_000)
        ],
    },
}

FIELDS = [
    "recipe",
    "params",
    "seed",
    "steps",
    "non_embedding",
    "tokens",
    "flops",
    "final_train",
    "final_val",
    "seconds",
    "threads",
    "curve",
    "metrics",
]
INT_FIELDS = ("seed", "steps", "non_embedding", "tokens", "flops")
FLOAT_FIELDS = ("final_train", "final_val", "seconds")


def _grid(name: str, profile: str) -> list[dict]:
    if name not in GRIDS:
        raise ValueError(f"unknown sweep {name!r}; known sweeps: {', '.join(sorted(GRIDS))}")
    if profile not in GRIDS[name]:
        raise ValueError(f"sweep {name!r} has no profile {profile!r}; choose one of {', '.join(GRIDS[name])}")
    return GRIDS[name][profile]


def sweep_path(name: str, profile: str = "full") -> Path:
    """Where the CSV of sweep ``name`` lives: ``data/sweeps/NAME.csv`` (full) or ``NAME-PROFILE.csv``."""
    return DATA_DIR / "sweeps" / (f"{name}.csv" if profile == "full" else f"{name}-{profile}.csv")


def _decode_json(row: dict) -> dict:
    """Turn a row's JSON columns back into objects, in place: ``curve`` (evaluations along the run,
    ``{"step": [...], "val": [...]}``, or None where the sweep kept none) and ``metrics`` (task scores beyond
    the loss, ``{}`` for rows of plain LM sweeps); and add ``point``, the grid point as a dict (``params``
    stays the JSON text, so it can still key a dict of rows)."""
    row["point"] = json.loads(row["params"])
    row["curve"] = json.loads(row["curve"]) if row.get("curve") else None
    row["metrics"] = json.loads(row["metrics"]) if row.get("metrics") else {}
    return row


def load_sweep(name: str, profile: str = "full") -> list[dict]:
    """The rows of a cached sweep, numbers converted back from text. Raises a clear error if missing
    or if a row cannot be read (a damaged file is reported, never half-used)."""
    path = sweep_path(name, profile)
    if not path.exists():
        flag = "" if profile == "full" else f" --profile {profile}"
        raise FileNotFoundError(
            f"no cached sweep {name!r} at data/sweeps/{path.name}; "
            f"create it with `python -m helpers.sweep {name}{flag}`"
        )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    try:
        for row in rows:
            for k in INT_FIELDS:
                row[k] = int(row[k])
            for k in FLOAT_FIELDS:
                row[k] = float(row[k])
            # CPU threads the run used (its last digits depend on it); empty for rows cached before it was kept
            row["threads"] = int(row["threads"]) if row.get("threads") else None
            _decode_json(row)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"data/sweeps/{path.name} is damaged ({err!r}); restore it with `git checkout -- data/sweeps/{path.name}` "
            f"or delete it and rerun `python -m helpers.sweep {name}`"
        ) from None
    return rows


def load_provenance(name: str, profile: str = "full") -> dict:
    """The provenance record written beside a cached sweep (command, commit, versions, device, wall time)."""
    path = sweep_path(name, profile).with_suffix(".provenance.json")
    if not path.exists():
        raise FileNotFoundError(f"no provenance for sweep {name!r} at data/sweeps/{path.name}; rerun the sweep")
    return json.loads(path.read_text())


def describe(name: str, profile: str = "full") -> str:
    """One line on where a cached sweep came from, for a notebook to print beside its results: runs,
    training time summed over runs, device, torch and the commit it was produced at."""
    prov = load_provenance(name, profile)
    return (
        f"cached sweep {name}: {prov['points']} runs, {prov['train_seconds_all_points'] / 60:.0f} min of "
        f"training on {prov['device']}, torch {prov['torch']}, commit {prov['commit'][:8]}"
    )


def _params(point: dict) -> str:
    return json.dumps({k: v for k, v in point.items() if k != "recipe"}, sort_keys=True)


# Where a point's training data comes from: a point may name a builder with "data" (default "kjv", the bundled
# Bible); task chapters register their synthetic corpora here
DATASETS: dict[str, Callable[[], Corpus]] = {"kjv": lambda: load_corpus("kjv")}
# multi-digit addition (helpers.tasks), e.g. "addition5-reversed": 20,000 training and 1,000 test problems
DATASETS.update(
    {f"addition{d}-{f}": functools.partial(addition_corpus, d, f) for d in range(1, 10) for f in ADDITION_FORMATS}
)
# ...and with fewer training problems, for chapter 9's sample efficiency: "addition3-plain-n250"
DATASETS.update(
    {
        f"addition3-{f}-n{n}": functools.partial(addition_corpus, 3, f, n)
        for f in ADDITION_FORMATS
        for n in CH09_TRAIN_SIZES
    }
)
# Scores beyond the loss, computed on the trained model and kept as JSON in the row's "metrics" column,
# keyed by recipe name: EVALUATORS[recipe](model, corpus) -> {"metric": value, ...}
EVALUATORS: dict[str, Callable] = {"arithmetic": sweep_scores}
# Experiments that are not "train a GPT on a corpus" (e.g. a model trained on vectors): RUNNERS[name](**kwargs)
# returns {"metrics": {...}, "seconds": float} and optionally "final_val", "final_train", "steps", "params", "curve"
RUNNERS: dict[str, Callable[..., dict]] = {}

# chapter 7, in-context learning (helpers.icl): induction heads in attention-only models (1 vs 2 layers, two
# seeds), in-context linear regression against its baselines, and few-shot accuracy against the number of
# demonstrations for four model sizes on bursty documents and the largest on non-bursty ones (two seeds each)
EVALUATORS["ch07_few_shot"] = lambda model, corpus: icl.few_shot_curve(model)
DATASETS["ch07_rules"] = lambda: icl.FEW_SHOT_WORLD.corpus()
DATASETS["ch07_rules_nonbursty"] = lambda: icl.FEW_SHOT_WORLD.corpus(bursty=False)
RUNNERS["ch07_induction"] = icl.induction_run
RUNNERS["ch07_regression"] = icl.regression_run
CH07_FEW_SHOT_SIZES = [(8, 1), (16, 1), (32, 2), (64, 2)]  # (d_model, n_layer): about 1k to 100k parameters
GRIDS["ch07_induction"] = {
    "full": [{"recipe": "ch07_induction", "n_layer": n, "steps": 4000, "seed": s} for n in (2, 1) for s in range(2)],
    # the first 1,000 steps of the 2-layer seed-0 run: with a constant learning rate after warmup they are the
    # same steps as the full run's, so the live curve must lie on the cached one
    "quick": [{"recipe": "ch07_induction", "n_layer": 2, "steps": 1000, "seed": 0}],
}
GRIDS["ch07_regression"] = {
    "full": [{"recipe": "ch07_regression", "steps": 3000, "seed": s} for s in range(2)],
    "quick": [{"recipe": "ch07_regression", "steps": 600, "seed": 0}],
}
GRIDS["ch07_few_shot"] = {
    "full": [
        {"recipe": "ch07_few_shot", "data": data, "d_model": d, "n_layer": n, "seed": s}
        for data, sizes in (("ch07_rules", CH07_FEW_SHOT_SIZES), ("ch07_rules_nonbursty", CH07_FEW_SHOT_SIZES[-1:]))
        for d, n in sizes
        for s in range(2)
    ],
    "quick": [{"recipe": "ch07_few_shot", "data": "ch07_rules", "d_model": 32, "n_layer": 2, "seed": 0}],
}


# chapter 9, chain-of-thought: the three answer formats on a harder column task (3-digit x 1-digit
# multiplication), on length generalisation (trained on 3-digit operands written 5 wide, tested on 4 and 5
# digits), across model sizes, and the pretrain-then-fine-tune test of code-like data (helpers.transfer)
CH09_FORMATS = ("plain", "reversed", "scratchpad")
CH09_MUL_SIZES = (1000, 3000)
CH09_SCALE_SIZES = [(16, 1), (16, 2), (64, 2)]  # with ch09_formats' (32, 2): about 3k to 100k parameters
DATASETS.update(
    {f"mul3-{f}-n{n}": functools.partial(multiplication_corpus, 3, f, n) for f in CH09_FORMATS for n in CH09_MUL_SIZES}
)
DATASETS.update({f"addition5-{f}-k3": functools.partial(length_corpus, 5, f, 3) for f in CH09_FORMATS})
EVALUATORS["arithmetic_length"] = length_scores
RUNNERS["ch09_code"] = transfer.code_data_run


def _ch09(data: str, d_model: int = 32, n_layer: int = 2, seed: int = 0, recipe: str = "arithmetic") -> dict:
    return {"recipe": recipe, "data": data, "d_model": d_model, "n_layer": n_layer, "steps": 2000, "seed": seed}


GRIDS["ch09_multiplication"] = {
    "full": [_ch09(f"mul3-{f}-n{n}", seed=s) for n in CH09_MUL_SIZES for f in CH09_FORMATS for s in range(2)],
    "quick": [_ch09("mul3-reversed-n1000")],
}
GRIDS["ch09_length"] = {
    "full": [_ch09(f"addition5-{f}-k3", seed=s, recipe="arithmetic_length") for f in CH09_FORMATS for s in range(2)],
    "quick": [_ch09("addition5-plain-k3", recipe="arithmetic_length")],
}
GRIDS["ch09_scale"] = {
    "full": [
        _ch09(f"addition3-{f}-n1000", d, n, s) for d, n in CH09_SCALE_SIZES for f in CH09_FORMATS for s in range(2)
    ],
    "quick": [_ch09("addition3-reversed-n1000", 16, 1)],
}
GRIDS["ch09_code"] = {
    "full": [
        {"recipe": "ch09_code", "mix": m, "n_train": 1000, "finetune_steps": 500, "seed": s}
        for m in transfer.MIXES
        for s in range(3)
    ],
    "quick": [{"recipe": "ch09_code", "mix": "none", "n_train": 1000, "finetune_steps": 500, "seed": 0}],
}

# chapter 10, learning from human preferences (helpers.rl): reward models trained on 250 to 8,000 labelled pairs
# (three seeds each), each scored by held-out accuracy, best-of-n (exact curve from 8,192 SFT samples) and PPO at
# KL coefficient 0.05; and PPO at seven KL coefficients with the 2,000-pair reward model of seed 0
RUNNERS["ch10_overopt"] = overoptimisation_run
CH10_PAIRS = (250, 500, 1000, 2000, 4000, 8000)
CH10_KL_COEFS = (0.0, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2)
GRIDS["ch10_overopt"] = {
    "full": [{"recipe": "ch10_overopt", "pairs": p, "seed": s, "kl_coef": 0.05} for p in CH10_PAIRS for s in range(3)]
    + [{"recipe": "ch10_overopt", "pairs": 2000, "seed": 0, "kl_coef": k} for k in CH10_KL_COEFS if k != 0.05],
    "quick": [{"recipe": "ch10_overopt", "pairs": 250, "seed": 0, "kl_coef": 0.05}],
}


@functools.lru_cache(maxsize=4)
def _corpus(name: str = "kjv") -> Corpus:
    """The corpus a point trains on, built once per process (tokenizing 4M characters takes seconds)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data {name!r} in a sweep point; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]()


def run_point(point: dict, device: str = "auto", cache: bool = False) -> dict:
    """Train one point of a grid and return its CSV row (``curve`` and ``metrics`` as JSON text). ``cache=True``
    goes through the result cache of ``helpers.train.train``; sweeps for the CSV files always train afresh."""
    recipe = point["recipe"]
    kwargs = {k: v for k, v in point.items() if k not in ("recipe", "data")}
    if recipe in RUNNERS:
        out = RUNNERS[recipe](**kwargs, device=device)
        curve = out.get("curve")
        return {
            "recipe": recipe,
            "params": _params(point),
            "seed": kwargs.get("seed", 0),
            "steps": out.get("steps", 0),
            "non_embedding": out.get("params", 0),
            "tokens": 0,
            "flops": 0,
            "final_train": round(out.get("final_train", float("nan")), 5),
            "final_val": round(out.get("final_val", float("nan")), 5),
            "seconds": round(out["seconds"], 1),
            "threads": torch.get_num_threads(),
            "curve": json.dumps(curve) if curve is not None else "",
            "metrics": json.dumps(out["metrics"], sort_keys=True),
        }
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(sorted([*RECIPES, *RUNNERS]))}")
    corpus = _corpus(point.get("data", "kjv"))
    model_cfg, train_cfg = RECIPES[recipe](corpus, **kwargs)
    train_cfg.device, train_cfg.progress = device, False
    result = train(model_cfg, train_cfg, corpus, cache=cache)
    h = result.history
    tokens = train_cfg.steps * h.tokens_per_step
    metrics = EVALUATORS[recipe](result.model, corpus) if recipe in EVALUATORS else None
    return {
        "recipe": recipe,
        "params": _params(point),
        "seed": train_cfg.seed,
        "steps": train_cfg.steps,
        "non_embedding": result.model.param_counts()["non_embedding"],
        "tokens": tokens,
        "flops": h.flops_per_token * tokens,
        "final_train": round(h.eval_train[-1], 5),
        "final_val": round(h.final_val, 5),
        "seconds": round(h.seconds, 1),
        "threads": torch.get_num_threads(),
        "curve": json.dumps({"step": h.eval_step, "val": [round(v, 5) for v in h.eval_val]}),
        "metrics": json.dumps(metrics, sort_keys=True) if metrics is not None else "",
    }


def live_sweep(name: str, profile: str = "quick", device: str = "auto") -> list[dict]:
    """Train grid ``name`` (``profile``) here and now, one point after another with a progress bar, and
    return its rows as ``load_sweep`` would. Runs go through the result cache (a second run of a notebook
    trains nothing); nothing is written under ``data/sweeps``, so a live sweep never mixes with a cached one.
    """
    rows = []
    for point in tqdm(_grid(name, profile), desc=f"{name} ({profile}, live)", unit="run"):
        rows.append(_decode_json(run_point(point, device, cache=True)))
    return rows


def best_of(rows: list[dict], over: str = "lr") -> list[dict]:
    """For runs that differ only in the grid key ``over`` (the learning rate by default), keep the one with
    the lowest final validation loss: a per-point tuning of that knob. Each kept row gains ``tried``, the
    number of values compared. Raises if a row lacks ``over``, so an untuned sweep is never passed off as tuned.
    """
    groups: dict[str, list[dict]] = {}
    for row in rows:
        params = json.loads(row["params"])
        if over not in params:
            raise ValueError(f"row {row['params']} has no {over!r}: this sweep was not run over {over}")
        params.pop(over)
        groups.setdefault(json.dumps([row["recipe"], params], sort_keys=True), []).append(row)
    return [{**min(g, key=lambda r: r["final_val"]), "tried": len(g)} for g in groups.values()]


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_sweep(name: str, profile: str = "full", device: str = "auto", jobs: int = 1) -> Path:
    """Run every unfinished point of grid ``name`` (``profile``), appending rows to its CSV as they
    finish; write the provenance file. ``jobs`` > 1 trains that many points at once on the CPU."""
    points = _grid(name, profile)
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: must be at least 1")
    dev = select_device(device)
    if jobs > 1 and dev.type != "cpu":
        raise ValueError(f"jobs={jobs} splits CPU threads between runs; on {dev.type} use jobs=1")
    path = sweep_path(name, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if path.exists():
        done = {(r["recipe"], r["params"]) for r in load_sweep(name, profile)}
    todo = [p for p in points if (p["recipe"], _params(p)) not in done]
    if not todo:
        print(f"{name} ({profile}): all {len(points)} points are done; nothing to run")
        return path
    fields = FIELDS
    if path.exists():
        with open(path, newline="") as f:
            fields = next(csv.reader(f), [])
        # files written by an older helpers.sweep lack the newest trailing columns (threads, curve, metrics);
        # they can still be resumed as long as no new row needs a missing column
        if fields != FIELDS[: len(fields)] or "final_val" not in fields:
            raise ValueError(
                f"data/sweeps/{path.name} has columns {fields}, not the current {FIELDS}: it was written by an "
                f"older helpers.sweep; move it away and rerun `python -m helpers.sweep {name}` to rebuild it"
            )

    def append(row: dict) -> None:
        lost = [k for k in FIELDS if k not in fields and row[k] not in ("", None)]
        if lost:
            raise ValueError(
                f"data/sweeps/{path.name} has no column for {lost}; move it away and rerun "
                f"`python -m helpers.sweep {name}` to rebuild it with the current columns"
            )
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    threads = max(1, torch.get_num_threads() // jobs)
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"{name} ({profile})", unit="run")
    if jobs == 1:
        for point in todo:
            append(run_point(point, device))
            bar.update(1)
    else:
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(threads,)) as pool:
            for future in as_completed([pool.submit(run_point, p, device) for p in todo]):
                append(future.result())
                bar.update(1)
    bar.close()
    prov = {
        "sweep": name,
        "profile": profile,
        "command": " ".join(["python -m helpers.sweep", *sys.argv[1:]]),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes_in_helpers": bool(_git("status", "--porcelain", "--", ".")),
        "helpers_version": __version__,
        "code_version": code_version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": dev.type,
        "jobs": jobs,
        "cpu_threads_per_run": threads if jobs > 1 else torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds_this_invocation": round(time.perf_counter() - t0, 1),
        "points": len(points),
        "train_seconds_all_points": round(sum(r["seconds"] for r in load_sweep(name, profile)), 1),
    }
    path.with_suffix(".provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(GRIDS))
    parser.add_argument("--profile", default="full", help="full (default; what the book caches) or quick")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--jobs", type=int, default=1, help="points trained at once on the CPU (default 1)")
    args = parser.parse_args(argv)
    path = run_sweep(args.name, args.profile, args.device, args.jobs)
    print(f"wrote {path.relative_to(DATA_DIR.parent)}")


if __name__ == "__main__":
    main()
