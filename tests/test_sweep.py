import csv
import json
import math

import pytest

from helpers import sweep
from helpers.model import GPTConfig
from helpers.train import TrainConfig


@pytest.fixture
def tiny_grid(monkeypatch, tmp_path):
    """A two-point grid of a very small recipe, written under a temporary data folder."""

    def micro(corpus, seed=0):
        return (
            GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=1, n_head=2, d_model=16),
            TrainConfig(steps=5, batch_size=4, warmup_steps=1, eval_batches=1, seed=seed),
        )

    monkeypatch.setitem(sweep.EXPERIMENTS, "micro", sweep.lm_experiment(micro))
    monkeypatch.setitem(
        sweep.GRIDS,
        "micro_seeds",
        {"full": [{"recipe": "micro", "seed": s} for s in (0, 1)], "quick": [{"recipe": "micro", "seed": 0}]},
    )
    monkeypatch.setattr(sweep, "DATA_DIR", tmp_path)
    return tmp_path


def test_sweep_writes_csv_and_provenance_and_resumes(tiny_grid, monkeypatch):
    path = sweep.run_sweep("micro_seeds", device="cpu")
    rows = sweep.load_sweep("micro_seeds")
    assert [r["seed"] for r in rows] == [0, 1]
    assert all(r["steps"] == 5 and r["final_val"] > 0 and r["flops"] > 0 for r in rows)
    prov = json.loads(path.with_suffix(".provenance.json").read_text())
    for key in (
        "command",
        "commit",
        "torch",
        "device",
        "date",
        "wall_seconds_this_invocation",
        "code_version",
        "train_seconds_all_points",
        "uncommitted_changes_in_helpers",
    ):
        assert key in prov
    # a second run finds every point done and trains nothing
    monkeypatch.setattr(sweep, "run_point", lambda *a, **k: pytest.fail("finished points must be skipped"))
    sweep.run_sweep("micro_seeds", device="cpu")
    with open(path, newline="") as f:
        assert len(list(csv.DictReader(f))) == 2


def test_sweep_results_are_reproducible(tiny_grid):
    a = sweep.run_point({"recipe": "micro", "seed": 1}, device="cpu")
    b = sweep.run_point({"recipe": "micro", "seed": 1}, device="cpu")
    assert a["final_val"] == b["final_val"]


def test_sweep_errors(tiny_grid):
    with pytest.raises(ValueError, match="unknown sweep 'nope'"):
        sweep.run_sweep("nope")
    with pytest.raises(ValueError, match="no profile 'huge'"):
        sweep.run_sweep("micro_seeds", profile="huge")
    with pytest.raises(ValueError, match="jobs=0"):
        sweep.run_sweep("micro_seeds", jobs=0)
    with pytest.raises(FileNotFoundError, match="python -m helpers.sweep micro_seeds --profile quick"):
        sweep.load_sweep("micro_seeds", profile="quick")


def test_quick_profile_and_parallel_jobs_match_serial(tiny_grid):
    quick = sweep.run_sweep("micro_seeds", profile="quick", device="cpu")
    assert quick.name == "micro_seeds-quick.csv" and len(sweep.load_sweep("micro_seeds", "quick")) == 1
    sweep.run_sweep("micro_seeds", device="cpu", jobs=2)
    rows = {r["seed"]: r for r in sweep.load_sweep("micro_seeds")}
    assert set(rows) == {0, 1}
    prov = json.loads(sweep.sweep_path("micro_seeds").with_suffix(".provenance.json").read_text())
    assert prov["jobs"] == 2 and prov["cpu_threads_per_run"] >= 1


def test_damaged_sweep_file_is_reported(tiny_grid):
    path = sweep.sweep_path("micro_seeds")
    path.parent.mkdir(parents=True)
    path.write_text("recipe,params,seed\nmicro,{},not-a-number\n")
    with pytest.raises(ValueError, match="is damaged"):
        sweep.load_sweep("micro_seeds")


def test_cached_chapter1_sweep_is_complete():
    """The committed sweep the chapter reads holds every point of its grid."""
    rows = sweep.load_sweep("ch01_seeds")
    assert sorted(r["seed"] for r in rows) == [p["seed"] for p in sweep._grid("ch01_seeds", "full")]
    assert len({r["final_val"] for r in rows}) == len(rows)  # seeds really differ
    assert rows[0]["metrics"] == {} and rows[0]["curve"] is None  # written before either column existed


def _row(lr, val, **extra):
    return {
        "recipe": "scaling",
        "params": json.dumps({"d_model": 16, "lr": lr, **extra}, sort_keys=True),
        "final_val": val,
    }


def test_best_of_keeps_the_lowest_loss_per_point():
    rows = [_row(1e-3, 2.0), _row(1e-2, 1.5), _row(3e-2, 1.7), _row(1e-3, 1.9, flops=2), _row(1e-2, 1.95, flops=2)]
    best = sweep.best_of(rows)
    assert sorted((b["final_val"], b["tried"]) for b in best) == [(1.5, 3), (1.9, 2)]
    with pytest.raises(ValueError, match="was not run over lr"):
        sweep.best_of([{"recipe": "scaling", "params": json.dumps({"d_model": 16}), "final_val": 1.0}])


def test_live_sweep_trains_through_the_result_cache_and_writes_no_csv(tiny_grid, monkeypatch):
    rows = sweep.live_sweep("micro_seeds", profile="full", device="cpu")
    assert [r["seed"] for r in rows] == [0, 1]
    assert isinstance(rows[0]["curve"], dict) and rows[0]["curve"]["step"][-1] == 5
    assert not sweep.sweep_path("micro_seeds").exists()
    assert rows[1]["final_val"] == sweep.run_point({"recipe": "micro", "seed": 1}, device="cpu")["final_val"]
    # the second time every run comes from the cache: nothing is trained
    monkeypatch.setattr("helpers.train.Trainer.fit", lambda self: pytest.fail("a cached run must not train"))
    again = sweep.live_sweep("micro_seeds", profile="full", device="cpu")
    assert [r["final_val"] for r in again] == [r["final_val"] for r in rows]


def test_load_provenance(tiny_grid):
    with pytest.raises(FileNotFoundError, match="no provenance for sweep 'micro_seeds'"):
        sweep.load_provenance("micro_seeds")
    sweep.run_sweep("micro_seeds", profile="quick", device="cpu")
    assert sweep.load_provenance("micro_seeds", "quick")["points"] == 1
    line = sweep.describe("micro_seeds", "quick")
    assert line.startswith("cached sweep micro_seeds: 1 runs,") and "training on cpu" in line and "commit" in line
    # each row carries its grid point decoded, beside the JSON text
    (row,) = sweep.load_sweep("micro_seeds", "quick")
    assert row["point"] == json.loads(row["params"]) and row["point"]["seed"] == row["seed"]


def test_points_can_name_their_data_and_store_task_metrics(tiny_grid, monkeypatch):
    from helpers.data import load_corpus

    monkeypatch.setitem(sweep.DATASETS, "small", lambda: load_corpus("kjv", max_chars=100_000))
    scored = sweep.lm_experiment(
        sweep.EXPERIMENTS["micro"].recipe, evaluator=lambda model, corpus: {"vocab": corpus.vocab_size, "acc": 0.5}
    )
    monkeypatch.setitem(sweep.EXPERIMENTS, "micro", scored)
    monkeypatch.setitem(sweep.GRIDS, "micro_task", {"full": [{"recipe": "micro", "data": "small", "seed": 0}]})
    sweep._built.cache_clear()
    sweep.run_sweep("micro_task", device="cpu")
    (row,) = sweep.load_sweep("micro_task")
    assert row["metrics"]["acc"] == 0.5 and json.loads(row["params"]) == {"data": "small", "seed": 0}
    with pytest.raises(ValueError, match="unknown data 'nope'"):
        sweep.run_point({"recipe": "micro", "data": "nope"}, device="cpu")


def test_an_experiment_can_give_its_points_trainer_callbacks(tiny_grid):
    from helpers.interventions import LRFault

    def micro_fault(corpus, seed=0, factor=1.0):
        return sweep.EXPERIMENTS["micro"].recipe(corpus, seed=seed)

    faulty = sweep.lm_experiment(micro_fault, interventions=lambda corpus, factor=1.0, **_: [LRFault(0, 5, factor)])
    clean, same, hot = (faulty(device="cpu", factor=f) for f in (1.0, 1.0, 30.0))
    assert clean.curve == same.curve and hot.curve != clean.curve


def test_runners_cover_experiments_that_are_not_lm_training(tiny_grid, monkeypatch):
    def runner(width, seed=0, device="auto", cache=False):
        return sweep.RunOutput(
            seed=seed,
            steps=0,
            seconds=0.25,
            non_embedding=width**2,
            final_val=0.125,
            metrics={"err": width / 10 + seed},
        )

    monkeypatch.setitem(sweep.EXPERIMENTS, "toy", runner)
    monkeypatch.setitem(sweep.GRIDS, "toy_grid", {"full": [{"recipe": "toy", "width": w} for w in (2, 4)]})
    sweep.run_sweep("toy_grid", device="cpu")
    rows = sweep.load_sweep("toy_grid")
    assert [r["metrics"]["err"] for r in rows] == [0.2, 0.4] and rows[1]["non_embedding"] == 16
    assert rows[0]["final_val"] == 0.125 and rows[0]["curve"] is None
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        sweep.run_point({"recipe": "nope"})


def test_sweeps_written_by_older_code_resume_only_when_no_column_would_be_lost(tiny_grid):
    path = sweep.sweep_path("micro_seeds")
    path.parent.mkdir(parents=True)
    first = sweep.run_point({"recipe": "micro", "seed": 0}, device="cpu")

    def write_legacy(fields):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerow(first)

    write_legacy(sweep.FIELDS[:-1])  # as chapter 2's sweeps were written, before the metrics column
    sweep.run_sweep("micro_seeds", device="cpu")
    rows = sweep.load_sweep("micro_seeds")
    assert [r["seed"] for r in rows] == [0, 1] and rows[1]["threads"] >= 1 and rows[1]["metrics"] == {}
    # a new row would lose its thread count and curve in chapter 1's older layout: refused, not dropped
    write_legacy(sweep.FIELDS[: sweep.FIELDS.index("threads")])
    with pytest.raises(ValueError, match=r"no column for \['threads', 'curve'\]"):
        sweep.run_sweep("micro_seeds", device="cpu")
    # a file whose columns are not an earlier layout of ours is refused, not appended to
    path.write_text("seed,recipe,params,final_val\n")
    with pytest.raises(ValueError, match="older helpers.sweep"):
        sweep.run_sweep("micro_seeds", device="cpu")


def test_provenance_records_the_device_the_runs_used(tiny_grid, auto_device_unavailable):
    """Asked for cpu while COURSE_DEVICE names an absent device, every run trains on the cpu and says so."""
    row = sweep.run_point({"recipe": "micro", "seed": 0}, device="cpu")
    assert row["device"] == "cpu"
    path = sweep.run_sweep("micro_seeds", profile="quick", device="cpu")
    assert json.loads(path.with_suffix(".provenance.json").read_text())["device"] == "cpu"


def test_a_runner_that_ignores_its_device_is_caught(tiny_grid, monkeypatch):
    def sloppy(*, device, cache, seed=0):
        return sweep.RunOutput(seed=seed, steps=1, seconds=0.0, device="cuda")  # ran elsewhere than asked

    monkeypatch.setitem(sweep.EXPERIMENTS, "sloppy", sloppy)
    monkeypatch.setitem(sweep.GRIDS, "sloppy_grid", {"full": [{"recipe": "sloppy", "seed": 0}]})
    with pytest.raises(RuntimeError, match="ignores the device it is given"):
        sweep.run_sweep("sloppy_grid", device="cpu")


def test_run_outputs_are_checked():
    out = sweep.RunOutput(seed=0, steps=10, seconds=1.0, non_embedding=100, metrics={"a": 1})
    assert math.isnan(out.final_val) and out.device == "cpu"
    with pytest.raises(ValueError, match="RunOutput.non_embedding=-1"):
        sweep.RunOutput(seed=0, steps=10, seconds=1.0, non_embedding=-1)
    with pytest.raises(ValueError, match="RunOutput.steps=1.5"):
        sweep.RunOutput(seed=0, steps=1.5, seconds=1.0)
    with pytest.raises(ValueError, match="RunOutput.device='gpu'"):
        sweep.RunOutput(seed=0, steps=1, seconds=1.0, device="gpu")
    with pytest.raises(ValueError, match="RunOutput.metrics"):
        sweep.RunOutput(seed=0, steps=1, seconds=1.0, metrics=[1, 2])


def test_an_experiment_must_return_a_run_output(tiny_grid, monkeypatch):
    monkeypatch.setitem(sweep.EXPERIMENTS, "dicty", lambda **kw: {"final_val": 1.0})
    with pytest.raises(TypeError, match="not a helpers.sweep.RunOutput"):
        sweep.run_point({"recipe": "dicty"}, device="cpu")


def test_grids_are_found_in_their_chapter_room():
    assert sweep._grid("ch01_seeds", "quick")[0]["recipe"] == "tiny_lm"
    with pytest.raises(ValueError, match="names no experiment"):
        sweep.register_grid("bad_grid", full=[{"seed": 0}])


def test_the_command_line_lists_every_chapter_grid():
    # `python -m helpers.sweep` runs this file as __main__: the rooms must still fill the registries it reads
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "helpers.sweep", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert all(name in out for name in ("ch01_seeds", "ch02_isoflop", "ch07_regression", "ch10_overopt"))


def test_cpu_model_names_the_processor_where_it_can():
    from helpers.sweep import cpu_model

    name = cpu_model()
    assert isinstance(name, str) and "\n" not in name
