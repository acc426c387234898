"""Named grids of training runs, cached as CSV with a provenance file: the generic sweep runner.

    python -m helpers.sweep ch01_seeds                    # the full grid -> data/sweeps/ch01_seeds.csv
    python -m helpers.sweep ch01_seeds --profile quick    # the small grid -> data/sweeps/ch01_seeds-quick.csv
    python -m helpers.sweep ch01_seeds --jobs 2           # two runs at a time, one CPU thread each

This module knows no chapter. Each chapter's room (``helpers.chNN``) registers what its sweeps need:

- ``register_grid(name, full=[...], quick=[...])``: the points of a grid, each a dict naming its experiment
  under ``"recipe"`` plus keyword arguments (seed, size, steps, ...). ``full`` is what the book caches;
  ``quick`` a subset a notebook can afford to run live. A grid's name starts with its chapter's module name
  (``ch07_induction`` lives in ``helpers.ch07``), which is imported on first use;
- ``register_experiment(name, run)``: how to run a point, ``run(*, device, cache, **point) -> RunOutput``.
  ``lm_experiment(recipe, evaluator)`` builds one for the common case: train a GPT from a recipe (a function
  ``corpus, **point -> (GPTConfig, TrainConfig)``) on the point's dataset, optionally scored by an evaluator;
- ``register_dataset(name, builder)``: a corpus a point can name with ``"data"`` (default ``"kjv"``).

Finished points are skipped, so an interrupted sweep resumes where it stopped. Next to the CSV, a
``.provenance.json`` records the command, git commit, library versions, the device the runs actually used,
threads, date and wall time. ``--jobs N`` trains N points at once in separate processes, splitting the CPU
threads between them. A run's last digits depend on its thread count (the order of floating-point sums), so
each row records its threads and ``tests/test_sweep_cache.py`` re-trains a row with the count it was cached with.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import __version__
from .cache import code_version
from .config import Config
from .data import DATA_DIR, Corpus, load_corpus
from .progress import progress_bar
from .train import select_device, train

# ----------------------------------------------------------------------------- the registries

GRIDS: dict[str, dict[str, list[dict]]] = {}  # name -> profile -> points
EXPERIMENTS: dict[str, Callable[..., RunOutput]] = {}  # a point's "recipe" -> how to run it
DATASETS: dict[str, Callable[[], Corpus]] = {"kjv": lambda: load_corpus("kjv")}  # a point's "data" -> corpus


def register_grid(name: str, full: list[dict], quick: list[dict] | None = None) -> None:
    """Register grid ``name`` with its ``full`` profile (and a ``quick`` one, if given)."""
    for point in [*full, *(quick or [])]:
        if "recipe" not in point:
            raise ValueError(f'grid {name!r}: point {point} names no experiment; add "recipe": NAME')
    GRIDS[name] = {"full": full, **({"quick": quick} if quick is not None else {})}


def register_experiment(name: str, run: Callable[..., RunOutput]) -> None:
    """Register how to run a point whose ``"recipe"`` is ``name``: ``run(*, device, cache, **point)``."""
    EXPERIMENTS[name] = run


def register_dataset(name: str, builder: Callable[[], Corpus]) -> None:
    """Register a corpus that points can name with ``"data": name``; built once per process."""
    DATASETS[name] = builder


def _chapter_modules() -> list[str]:
    """The chapter rooms of the package: every ``helpers.chNN`` module."""
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name[:2] == "ch" and m.name[2:].isdigit())


def _load(name: str) -> None:
    """Import the chapter room that registers ``name`` (its prefix before ``_``), or every room if the name
    has no room of its own (an experiment or dataset shared between chapters)."""
    room = name.split("_")[0]
    rooms = [room] if room in _chapter_modules() else _chapter_modules()
    for module in rooms:
        importlib.import_module(f"{__package__}.{module}")


def _grid(name: str, profile: str) -> list[dict]:
    if name not in GRIDS:
        _load(name)
    if name not in GRIDS:
        raise ValueError(f"unknown sweep {name!r}; known sweeps: {', '.join(sorted(known_grids()))}")
    if profile not in GRIDS[name]:
        raise ValueError(f"sweep {name!r} has no profile {profile!r}; choose one of {', '.join(GRIDS[name])}")
    return GRIDS[name][profile]


def known_grids() -> list[str]:
    """Every grid of every chapter room (imports them all)."""
    for module in _chapter_modules():
        importlib.import_module(f"{__package__}.{module}")
    return sorted(GRIDS)


# ----------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunOutput(Config):
    """What one run of an experiment reports; ``run_point`` turns it into a CSV row. ``non_embedding`` is
    Kaplan's non-embedding parameter count of the trained model (0 for an experiment without one);
    ``device`` the device type the run actually used; ``curve`` evaluations along the run
    (``{"step": [...], "val": [...]}``) and ``metrics`` scores beyond the loss, both JSON-serialisable."""

    seed: int
    steps: int
    seconds: float
    non_embedding: int = 0
    final_train: float = math.nan
    final_val: float = math.nan
    tokens: int = 0
    flops: float = 0
    curve: dict | None = None
    metrics: dict | None = None
    device: str = "cpu"
    extras: dict = field(default_factory=dict, compare=False)  # e.g. the trained model; never written

    def rules(self):
        for name in ("seed", "steps", "non_embedding", "tokens"):
            value = getattr(self, name)
            yield isinstance(value, int) and not isinstance(value, bool) and value >= 0, name, "must be an int >= 0"
        yield self.seconds >= 0, "seconds", "a run cannot take negative time"
        yield self.device in ("cpu", "cuda", "mps"), "device", "report the device type the run used"
        for name in ("curve", "metrics"):
            value = getattr(self, name)
            yield value is None or isinstance(value, dict), name, "must be a dict (JSON) or None"

    @classmethod
    def of_training(cls, result, seed: int, metrics: dict | None = None, steps: int | None = None) -> RunOutput:
        """The report of a language-model run: a ``helpers.train.TrainResult``, the seed it was trained with and
        its ``metrics``; ``steps`` (default: the steps its history recorded), tokens, compute, final losses and
        the validation curve come from its history and configuration."""
        h = result.history
        steps = len(h.train_loss) if steps is None else steps
        tokens = steps * h.tokens_per_step
        return cls(
            seed=seed, steps=steps, seconds=h.seconds, non_embedding=result.model.param_counts()["non_embedding"],
            final_train=h.eval_train[-1], final_val=h.final_val, tokens=tokens, flops=h.flops_per_token * tokens,
            curve={"step": h.eval_step, "val": [round(v, 5) for v in h.eval_val]}, metrics=metrics,
            device=result.device.type,
        )  # fmt: skip


def corpus_named(name: str = "kjv") -> Corpus:
    """The corpus registered as ``name``, built once per process (tokenizing 4M characters takes seconds)."""
    if name not in DATASETS:
        _load(name)
    if name not in DATASETS:
        raise ValueError(f"unknown data {name!r} in a sweep point; known: {', '.join(sorted(DATASETS))}")
    return _built(name)


@functools.lru_cache(maxsize=4)
def _built(name: str) -> Corpus:
    return DATASETS[name]()


def lm_experiment(
    recipe: Callable,
    evaluator: Callable | None = None,
    observer: Callable | None = None,
    interventions: Callable | None = None,
) -> Callable[..., RunOutput]:
    """An experiment that trains a GPT: ``recipe(corpus, **point) -> (GPTConfig, TrainConfig)`` on the corpus
    the point names with ``"data"``, through ``helpers.train.train``; ``evaluator(model, corpus) -> dict``
    (optional) scores the trained model and ``observer(result, corpus) -> dict`` (optional) reads the whole
    ``TrainResult``, history included; what they return is kept as the row's ``metrics``.
    ``interventions(corpus, **point) -> list`` (optional) gives the point's trainer callbacks
    (``helpers.interventions``), for grids of faulty runs."""

    def run(*, device: str = "auto", cache: bool = False, data: str = "kjv", **point) -> RunOutput:
        corpus = corpus_named(data)
        model_cfg, train_cfg = recipe(corpus, **point)
        train_cfg = replace(train_cfg, device=device, progress=False)
        callbacks = interventions(corpus, **point) if interventions is not None else []
        result = train(model_cfg, train_cfg, corpus, cache=cache, callbacks=callbacks)
        metrics = evaluator(result.model, corpus) if evaluator is not None else None
        if observer is not None:
            metrics = {**(metrics or {}), **observer(result, corpus)}
        return RunOutput.of_training(result, train_cfg.seed, metrics, steps=train_cfg.steps)

    run.recipe = recipe  # the recipe stays reachable, e.g. for a notebook that shows its configs
    return run


def run_point(point: dict, device: str = "auto", cache: bool = False) -> dict:
    """Run one point of a grid and return its CSV row (``curve`` and ``metrics`` as JSON text, and the device
    type used under ``device``, which the CSV does not keep). ``cache=True`` goes through the result cache;
    sweeps for the CSV files always train afresh."""
    name = point["recipe"]
    if name not in EXPERIMENTS:
        _load(name)
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(EXPERIMENTS))}")
    out = EXPERIMENTS[name](device=device, cache=cache, **{k: v for k, v in point.items() if k != "recipe"})
    if not isinstance(out, RunOutput):
        raise TypeError(f"experiment {name!r} returned {type(out).__name__}, not a helpers.sweep.RunOutput")
    return {
        "recipe": name,
        "params": _params(point),
        "seed": out.seed,
        "steps": out.steps,
        "non_embedding": out.non_embedding,
        "tokens": out.tokens,
        "flops": out.flops,
        "final_train": round(out.final_train, 5),
        "final_val": round(out.final_val, 5),
        "seconds": round(out.seconds, 1),
        "threads": torch.get_num_threads(),
        "curve": json.dumps(out.curve) if out.curve is not None else "",
        "metrics": json.dumps(out.metrics, sort_keys=True) if out.metrics is not None else "",
        "device": out.device,
    }


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one): runs move a little between CPUs."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def live_sweep(name: str, profile: str = "quick", device: str = "auto") -> list[dict]:
    """Train grid ``name`` (``profile``) here and now, one point after another with a progress bar, and
    return its rows as ``load_sweep`` would. Runs go through the result cache (a second run of a notebook
    trains nothing); nothing is written under ``data/sweeps``, so a live sweep never mixes with a cached one.
    """
    rows = []
    for point in progress_bar(_grid(name, profile), desc=f"{name} ({profile}, live)", unit="run"):
        rows.append(_decode_json(run_point(point, device, cache=True)))
    return rows


# ----------------------------------------------------------------------------- the cached files

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
        if row["device"] != dev.type:
            raise RuntimeError(
                f"experiment {row['recipe']!r} was asked to run on {dev.type} but ran on {row['device']}: its "
                "runner ignores the device it is given; pass device= through to every trainer it calls"
            )
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
    bar = progress_bar(total=len(todo), desc=f"{name} ({profile})", unit="run")
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
        "device": dev.type,  # every run of this invocation reported using it (checked in append)
        "jobs": jobs,
        "cpu_threads_per_run": threads if jobs > 1 else torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds_this_invocation": round(time.perf_counter() - t0, 1),
        "points": len(points),
        "train_seconds_all_points": round(sum(r["seconds"] for r in load_sweep(name, profile)), 1),
    }
    path.with_suffix(".provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return path


def main(argv=None) -> None:
    """The command line: ``python -m helpers.sweep NAME [--profile P] [--device D] [--jobs N]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=known_grids())
    parser.add_argument("--profile", default="full", help="full (default; what the book caches) or quick")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--jobs", type=int, default=1, help="points trained at once on the CPU (default 1)")
    args = parser.parse_args(argv)
    path = run_sweep(args.name, args.profile, args.device, args.jobs)
    print(f"wrote {path.relative_to(DATA_DIR.parent)}")


if __name__ == "__main__":
    # run as a script this file is ``__main__``, while the chapter rooms register into ``helpers.sweep``:
    # call that module's ``main`` so the registries the command line reads are the ones the rooms fill
    from helpers.sweep import main as _main

    _main()
