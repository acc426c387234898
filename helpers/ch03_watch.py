"""Chapter 3, section 4: watching a big run with small ones.

- ``ladder_lm``: chapter 3's 2-layer character GPT with 16-wide heads, trained 300 steps at 3e-3 and
  evaluated every 10 steps, so that runs of every width share one schedule and one set of evaluation steps;
- the grid ``ch03_ladder``: the ladder (``LADDER`` widths, seeds 0-2), the target run (``TARGET`` width,
  ``CLEAN_SEEDS``) and the target with a data-loader fault (``StuckShard(**STUCK)``, seeds 0-2);
- ``ladder_curves``: a grid's validation curves as arrays; ``predict_band``: the target's whole validation
  curve predicted from the ladder before it is trained (at each evaluation step a straight line in ln N through
  the ladder's losses, extrapolated to the target's N) with a band ``BAND_K`` uncertainties wide, the
  uncertainty measured on the ladder itself (``Band``);
- ``watch_live``: the live pair, a clean target run and its faulty copy, sharing their first steps through a
  checkpoint; ``check``: a run against the band (``Watched``: its alarm and largest |z|); ``watch_cached``:
  the cached evidence, every target run checked; ``watch_table`` and ``paper_table``: its tables;
  ``band_exercise``: exercise 3.5, the narrowest band that stays quiet on the clean runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from IPython.display import Markdown

from . import sweep
from .book.exercises import Exercise
from .book.report import md_table
from .data import Corpus
from .interventions import StuckShard
from .model import GPT, GPTConfig
from .monitor import Alarm, band_alarm
from .train import History, TrainConfig, Trainer, seed_everything

LADDER = (48, 64, 80, 96)  # the small runs' widths (57k to 224k non-embedding parameters)
TARGET = 128  # the run they watch: 1.8 times the largest rung's parameters
SEEDS = (0, 1, 2)
CLEAN_SEEDS = (0, 1, 2, 3, 4)  # clean target runs, on which the band must raise no alarm
STUCK = {"start": 150, "stop": 300, "batches": 4}  # from mid-run on, the loader serves 4 batches (8,192 tokens)
BAND_K = 3.0  # the band is this many uncertainties wide on each side of the prediction
SMOOTH = 2  # the uncertainty at a step is the largest within this many evaluations either side
PATIENCE = 2  # evaluations in a row outside the band that raise the alarm (``helpers.monitor.band_alarm``)
FAULTS = ("clean", "stuck")


def ladder_lm(corpus: Corpus, d_model: int = 64, seed: int = 0, fault: str = "clean") -> tuple[GPTConfig, TrainConfig]:
    """A 2-layer, ``d_model``-wide character GPT (heads 16 wide, context 64) trained 300 steps of 32 x 64
    tokens at peak rate 3e-3 (warmup 15 steps, then cosine), evaluated every 10 steps, not monitored.
    ``fault`` ("clean" or "stuck") names the run's data fault, which the ``ch03_ladder`` experiment injects."""
    if fault not in FAULTS:
        raise ValueError(f"fault={fault!r}: choose one of {', '.join(FAULTS)}")
    if d_model % 16:
        raise ValueError(f"d_model={d_model}: the ladder's heads are 16 wide, so the width must be a multiple of 16")
    model = GPTConfig(vocab_size=corpus.vocab_size, context=64, n_layer=2, n_head=d_model // 16, d_model=d_model)
    train_cfg = TrainConfig(
        steps=300, batch_size=32, lr=3e-3, warmup_steps=15, eval_every=10, seed=seed,
        desc=f"{d_model}-wide GPT, seed {seed}" + (", stuck loader" if fault == "stuck" else ""),
    )  # fmt: skip
    return model, train_cfg


def _interventions(corpus: Corpus, fault: str = "clean", **_) -> list:
    return [StuckShard(**STUCK)] if fault == "stuck" else []


sweep.register_experiment("ladder_lm", sweep.lm_experiment(ladder_lm, interventions=_interventions))
sweep.register_grid(
    "ch03_ladder",
    full=[{"recipe": "ladder_lm", "d_model": d, "seed": s} for s in SEEDS for d in LADDER]
    + [{"recipe": "ladder_lm", "d_model": TARGET, "seed": s} for s in CLEAN_SEEDS]
    + [{"recipe": "ladder_lm", "d_model": TARGET, "seed": s, "fault": "stuck"} for s in SEEDS],
    quick=[{"recipe": "ladder_lm", "d_model": d} for d in (48, 64)],
)


def _fault(row: dict) -> str:
    return row["point"].get("fault", "clean")


def ladder_curves(rows, widths, seeds, fault: str = "clean") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The validation curves of the ``ch03_ladder`` rows of ``widths`` x ``seeds`` with data fault ``fault``:
    (evaluation steps, non-embedding parameters per width, losses indexed [seed, width, step])."""
    found = {(r["point"]["d_model"], r["seed"]): r for r in rows if _fault(r) == fault}
    missing = [(w, s) for w in widths for s in seeds if (w, s) not in found]
    if missing:
        raise ValueError(f"ch03_ladder has no {fault} run for (width, seed) {missing}; rerun its sweep")
    steps = np.asarray(found[widths[0], seeds[0]]["curve"]["step"])
    n = np.array([found[w, seeds[0]]["non_embedding"] for w in widths], dtype=float)
    losses = np.array([[found[w, s]["curve"]["val"] for w in widths] for s in seeds], dtype=float)
    return steps, n, losses


def extrapolate(n, losses, n_target: float) -> np.ndarray:
    """At each evaluation step, the straight line in ln N through ``losses`` ([width, step], one row per
    entry of ``n``) evaluated at ``n_target``: the predicted loss curve of a model of ``n_target`` parameters."""
    n, losses = np.asarray(n, dtype=float), np.asarray(losses, dtype=float)
    if len(n) < 2 or losses.shape[0] != len(n):
        raise ValueError(f"need a curve for each of 2+ widths; got {len(n)} widths, {losses.shape[0]} curves")
    slope, intercept = np.polyfit(np.log(n), losses, 1)
    return intercept + slope * np.log(n_target)


def _running_max(x: np.ndarray, reach: int) -> np.ndarray:
    padded = np.pad(x, reach, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1)


@dataclass(frozen=True)
class Band:
    """A predicted loss curve with its band: ``centre`` (the mean over seeds of the per-seed predictions), and
    two measured uncertainties per evaluation step: ``seed_sd``, the spread of those predictions over seeds,
    and ``backtest``, the error of the same extrapolation when it predicted the ladder's top rung from the
    rungs below. The band is ``centre ± k × uncertainty``, the uncertainty being the two combined in
    quadrature and taken as the largest within ``SMOOTH`` evaluations either side."""

    step: np.ndarray
    centre: np.ndarray
    seed_sd: np.ndarray
    backtest: np.ndarray
    k: float = BAND_K

    @property
    def sigma(self) -> np.ndarray:
        """The uncertainty of the prediction at each evaluation step."""
        return _running_max(np.hypot(self.seed_sd, self.backtest), SMOOTH)

    @property
    def low(self) -> np.ndarray:
        """The band's lower edge at each evaluation step."""
        return self.centre - self.k * self.sigma

    @property
    def high(self) -> np.ndarray:
        """The band's upper edge at each evaluation step."""
        return self.centre + self.k * self.sigma

    def z(self, values) -> np.ndarray:
        """How many uncertainties a curve (at the band's steps) lies from the centre, signed."""
        return (np.asarray(values, dtype=float) - self.centre) / self.sigma


def predict_band(steps, n, losses, n_target: float, k: float = BAND_K) -> Band:
    """The ``Band`` of a ``n_target``-parameter run predicted from ladder curves ``losses`` ([seed, width,
    step], widths ascending with parameters ``n``; ``ladder_curves``' output). Needs 2+ seeds and 3+ widths."""
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 3 or losses.shape[0] < 2 or losses.shape[1] < 3:
        raise ValueError(f"need curves [seed, width, step] for 2+ seeds and 3+ widths; got shape {losses.shape}")
    if not np.all(np.isfinite(losses)):
        raise ValueError("a ladder curve holds a non-finite loss: a diverged rung cannot anchor a prediction")
    per_seed = np.array([extrapolate(n, seed_curves, n_target) for seed_curves in losses])
    mean = losses.mean(axis=0)
    backtest = extrapolate(n[:-1], mean[:-1], n[-1]) - mean[-1]
    return Band(np.asarray(steps), per_seed.mean(axis=0), per_seed.std(axis=0, ddof=1), np.abs(backtest), k)


def watch_live(corpus: Corpus, seed: int = 0, d_model: int = TARGET) -> dict[str, History]:
    """The target run (``d_model`` wide) trained live, clean and with the stuck loader: both share one run up
    to the fault's first step (saved to a checkpoint and resumed), so the pair costs one and a half runs.
    Returns the two histories, "clean" and "stuck"."""
    model_cfg, train_cfg = ladder_lm(corpus, d_model=d_model, seed=seed)
    seed_everything(seed)
    trainer = Trainer(GPT(model_cfg), corpus, train_cfg)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shared.pt"
        trainer.fit(stop_at=STUCK["start"], checkpoint=path)
        histories = {"clean": trainer.fit()}
        stuck_cfg = ladder_lm(corpus, d_model=d_model, seed=seed, fault="stuck")[1]
        faulty = Trainer(GPT(model_cfg), corpus, stuck_cfg, callbacks=[StuckShard(**STUCK)])
        faulty.load_checkpoint(path)
        histories["stuck"] = faulty.fit()
    return histories


# ----------------------------------------------------------------------------- checking runs against the band


@dataclass(frozen=True)
class Watched:
    """One target run checked against a ``Band``: its validation curve (``step``, ``val``), the ``Alarm`` the
    band check raised (None: it stayed inside), its largest |z|, and its per-step training loss when known."""

    label: str
    seed: int
    step: np.ndarray
    val: np.ndarray
    alarm: Alarm | None
    max_abs_z: float
    train_loss: tuple = ()

    @property
    def delay(self) -> int | None:
        """Steps from the stuck loader's first step to the alarm (None without an alarm)."""
        return None if self.alarm is None else self.alarm.step - STUCK["start"]


def check(band: Band, label: str, seed: int, step, val, train_loss=(), patience: int = PATIENCE) -> Watched:
    """Check a validation curve at the band's evaluation steps with ``band_alarm`` (``patience`` evaluations)."""
    step, val = np.asarray(step), np.asarray(val, dtype=float)
    if not np.array_equal(step, band.step):
        raise ValueError(
            f"{label}: evaluated at steps {step[:3]}... but the band is at {band.step[:3]}...; "
            "train the run with the ladder's recipe (ladder_lm), which evaluates every 10 steps"
        )
    alarm = band_alarm(step, val, band.low, band.high, patience=patience)
    z = band.z(val)
    z = float(np.where(np.isfinite(z), np.abs(z), np.inf).max())  # a diverged evaluation is infinitely far
    return Watched(label, seed, step, val, alarm, z, tuple(train_loss))


def watch_cached(rows) -> dict:
    """The section's cached evidence from the ``ch03_ladder`` rows: the ladder's curves (``ladder``: steps, N,
    losses), the target's ``band`` predicted from them, and every cached target run checked against it
    (``clean`` and ``stuck``, lists of ``Watched``); ``target_n`` is the target's non-embedding parameters."""
    ladder = ladder_curves(rows, LADDER, SEEDS)
    target_n = next(r["non_embedding"] for r in rows if r["point"]["d_model"] == TARGET)
    band = predict_band(*ladder, target_n)
    out = {"ladder": ladder, "band": band, "target_n": target_n}
    for fault, seeds in (("clean", CLEAN_SEEDS), ("stuck", SEEDS)):
        steps, _, curves = ladder_curves(rows, (TARGET,), seeds, fault=fault)
        out[fault] = [check(band, fault, s, steps, c[0]) for s, c in zip(seeds, curves)]
    return out


def watch_table(watched: dict) -> Markdown:
    """One row per cached target run: its seed, whether it was clean or stuck, its largest |z| against the band,
    where the alarm fired and the delay after the fault's first step."""
    lines = []
    for w in (*watched["clean"], *watched["stuck"]):
        fired = "none" if w.alarm is None else f"step {w.alarm.step} (first outside: {w.alarm.first_step})"
        delay = "" if w.delay is None or w.label == "clean" else f"{w.delay}"
        lines.append([w.label, w.seed, f"{w.val[-1]:.3f}", f"{w.max_abs_z:.1f}", fired, delay])
    header = ["run", "seed", "final val loss", "largest abs(z)", "alarm", "steps after the fault"]
    return md_table(header, lines)


def paper_table(published, watched: dict) -> Markdown:
    """Section 4 beside the GPT-4 report: what was predicted from how much smaller runs, and how it came out."""
    ref, band = published["gpt4_loss"], watched["band"]
    steps, n, _ = watched["ladder"]
    clean = np.array([w.val[-1] for w in watched["clean"]])
    ratio = watched["target_n"] / n
    stuck = [w.delay for w in watched["stuck"]]
    ours = (
        f"the whole validation curve of a run with {ratio[-1]:.1f} to {ratio[0]:.0f} times the ladder's compute; "
        f"final loss predicted {band.centre[-1]:.3f} ± {band.k * band.sigma[-1]:.3f}, measured "
        f"{clean.mean():.3f} ± {clean.std(ddof=1):.3f} (mean ± sd of {len(clean)} seeds)"
    )
    monitor = (
        f"{sum(w.alarm is not None for w in watched['clean'])} alarms on {len(clean)} clean seeds; a stuck loader "
        f"caught {min(stuck)} to {max(stuck)} steps after it began"
    )
    rows = [
        [
            ref["name"],
            f"final loss, by {ref['form']} fitted on runs using up to {ref['compute_ratio']:,} times less compute",
            ours,
        ],
        ["(monitoring with the band)", "no published number", monitor],
    ]
    return md_table(["source", "paper", "ours"], rows)


BAND_GRID = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)  # band widths k (in uncertainties) that exercise 3.5 tries


def quietest_band(watched: dict, grid=BAND_GRID) -> float:
    """The narrowest band width k on ``grid`` at which no clean cached target run raises an alarm."""
    for k in grid:
        band = replace(watched["band"], k=k)
        if all(check(band, w.label, w.seed, w.step, w.val).alarm is None for w in watched["clean"]):
            return k
    raise ValueError(f"every band width on {grid} raises a false alarm; try wider bands")


def band_exercise(watched: dict) -> Exercise:
    """Exercise 3.5 (compute): the narrowest band width on ``BAND_GRID`` that raises no false alarm on the five
    clean cached target runs (``quietest_band``); the answer must be that grid value."""
    return Exercise(
        "3.5 the band's width",
        expected=quietest_band(watched),
        atol=0.01,
        hints=(
            "dataclasses.replace(watched['band'], k=k) is the same prediction with a band k uncertainties wide",
            "ch03_watch.check(band, w.label, w.seed, w.step, w.val).alarm is None for every w in "
            "watched['clean'] at the answer, and for no smaller k on ch03_watch.BAND_GRID",
        ),
    )
