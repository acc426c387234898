"""Named grids of training runs, cached as CSV with a provenance file.

    python -m helpers.sweep ch01_seeds            # run (or resume) a grid, write data/sweeps/ch01_seeds.csv

A sweep is a list of points; each point is a recipe name plus keyword arguments (seed, steps, ...).
Finished points are skipped, so an interrupted sweep resumes where it stopped. Next to the CSV, a
``.provenance.json`` records the command, git commit, library versions, device, date and wall time,
so every cached number in the book can be traced to the code and machine that produced it.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import __version__
from .cache import code_version
from .data import DATA_DIR, load_corpus
from .recipes import RECIPES
from .train import select_device, train

GRIDS: dict[str, list[dict]] = {
    # seed-to-seed spread of chapter 1's run: grounds the tolerances the chapter asserts
    "ch01_seeds": [{"recipe": "tiny_lm", "seed": s} for s in range(5)],
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
]


def sweep_path(name: str) -> Path:
    """Where the CSV of sweep ``name`` lives (``data/sweeps/NAME.csv``)."""
    return DATA_DIR / "sweeps" / f"{name}.csv"


def load_sweep(name: str) -> list[dict]:
    """The rows of a cached sweep, numbers converted back from text. Raises a clear error if missing."""
    path = sweep_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no cached sweep {name!r} at data/sweeps/{path.name}; create it with `python -m helpers.sweep {name}`"
        )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for k in ("seed", "steps", "non_embedding", "tokens", "flops"):
            row[k] = int(row[k])
        for k in ("final_train", "final_val", "seconds"):
            row[k] = float(row[k])
    return rows


def run_point(point: dict, device: str = "auto") -> dict:
    """Train one point of a grid (without the result cache) and return its CSV row."""
    kwargs = {k: v for k, v in point.items() if k != "recipe"}
    corpus = load_corpus("kjv")
    model_cfg, train_cfg = RECIPES[point["recipe"]](corpus, **kwargs)
    train_cfg.device, train_cfg.progress = device, False
    result = train(model_cfg, train_cfg, corpus, cache=False)
    h = result.history
    tokens = train_cfg.steps * h.tokens_per_step
    return {
        "recipe": point["recipe"],
        "params": json.dumps(kwargs, sort_keys=True),
        "seed": train_cfg.seed,
        "steps": train_cfg.steps,
        "non_embedding": result.model.param_counts()["non_embedding"],
        "tokens": tokens,
        "flops": h.flops_per_token * tokens,
        "final_train": round(h.eval_train[-1], 5),
        "final_val": round(h.final_val, 5),
        "seconds": round(h.seconds, 1),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_sweep(name: str, device: str = "auto") -> Path:
    """Run every unfinished point of grid ``name``, appending rows to its CSV; write provenance."""
    if name not in GRIDS:
        raise ValueError(f"unknown sweep {name!r}; known sweeps: {', '.join(sorted(GRIDS))}")
    path = sweep_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if path.exists():
        with open(path, newline="") as f:
            done = {(r["recipe"], r["params"]) for r in csv.DictReader(f)}
    todo = [
        p
        for p in GRIDS[name]
        if (p["recipe"], json.dumps({k: v for k, v in p.items() if k != "recipe"}, sort_keys=True)) not in done
    ]
    t0 = time.perf_counter()
    for point in tqdm(todo, desc=name, unit="run"):
        row = run_point(point, device)
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
    if not todo:
        print(f"{name}: all {len(GRIDS[name])} points are done; nothing to run")
        return path
    dev = select_device(device)
    prov = {
        "sweep": name,
        "command": " ".join(["python -m helpers.sweep", *sys.argv[1:]]),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes_in_helpers": bool(_git("status", "--porcelain", "--", ".")),
        "helpers_version": __version__,
        "code_version": code_version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": dev.type,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds_this_invocation": round(time.perf_counter() - t0, 1),
        "points": len(GRIDS[name]),
        "train_seconds_all_points": round(sum(r["seconds"] for r in load_sweep(name)), 1),
    }
    path.with_suffix(".provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(GRIDS))
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    args = parser.parse_args(argv)
    print(f"wrote {run_sweep(args.name, args.device).relative_to(DATA_DIR.parent)}")


if __name__ == "__main__":
    main()
