"""Chapter 9's result gathering, tables and figures (helpers.ch09_tables, helpers.ch09_figures), on its cached
sweeps and on small hand-made rows whose answers are known."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import ch09_figures, ch09_tables
from helpers.book.papers import PUBLISHED
from helpers.sweep import load_sweep
from helpers.tasks import FORMATS


def _row(data, seed, em, **extra):
    return {"seed": seed, "point": {"data": data}, "metrics": {"exact_match": em}, **extra}


def test_grid_orders_sizes_and_seeds_and_names_a_gap():
    rows = [_row(f"add-{f}-n{n}", s, n / 1000 + s / 10) for f in FORMATS for n in (250, 1000) for s in (1, 0)]
    em = ch09_tables.grid(rows, "add", (250, 1000))
    assert em["plain"].tolist() == [[0.25, 0.35], [1.0, 1.1]]
    assert [r["seed"] for r in ch09_tables.runs_of(rows, "add-plain-n250")] == [0, 1]
    with pytest.raises(ValueError, match="rerun"):
        ch09_tables.grid(rows, "add", (250, 4000))


def test_column_accuracy_turns_written_order_into_units_first():
    assert ch09_tables.column_accuracy("plain", [1, 2, 3]).tolist() == [3, 2, 1]
    assert ch09_tables.column_accuracy("reversed", [1, 2, 3]).tolist() == [1, 2, 3]


def test_welch_gap_is_the_difference_in_standard_errors():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0])
    assert ch09_tables.welch_gap(a, b) == pytest.approx(1 / np.sqrt(2 / 3))  # variances 1: SE sqrt(1/3 + 1/3)


def test_tables_and_figures_on_the_cached_sweeps():
    formats_rows, mul_rows = load_sweep("ch09_formats"), load_sweep("ch09_multiplication")
    add_em = ch09_tables.grid(formats_rows, "addition3", (250, 1000, 4000))
    mul_em = ch09_tables.grid(mul_rows, "mul3", (1000, 3000))
    assert add_em["plain"].shape == (3, 2) and mul_em["scratchpad"].shape == (2, 2)
    assert ch09_tables.formats_table(add_em, (250, 1000, 4000), mul_em, (1000, 3000)).data.count("\n") == 1 + 5
    runs = ch09_tables.length_runs(load_sweep("ch09_length"))
    assert set(runs) == set(FORMATS) and all(len(v) == 2 for v in runs.values())
    assert ch09_tables.length_table(runs).data.count("\n") == 1 + 6
    scale_rows = load_sweep("ch09_scale") + [r for r in formats_rows if r["point"]["data"].endswith("-n1000")]
    sizes, scale_em = ch09_tables.scale_grid(scale_rows)
    assert sizes == sorted(sizes) and scale_em["plain"].shape == (len(sizes), 2)
    assert ch09_tables.scale_table(sizes, scale_em).data.count("\n") == 1 + len(sizes)
    mixes = {"none": "no pretraining", "prose": "prose", "prose+add": "add", "prose+max": "max"}
    code = ch09_tables.code_arrays(load_sweep("ch09_code"), mixes)
    assert np.isnan(code["pretrain_val"]["none"]).all() and (code["final_val"]["prose"] > 0).all()
    assert "—" in ch09_tables.code_table(code, mixes).data
    em_len = {f: np.zeros((2, 3)) for f in FORMATS}
    formats = dict(add_em=add_em, mul_em=mul_em, i250=0, i1000=1, margin250=0.6)
    scale = dict(sizes=sizes, gain_plain=np.zeros(len(sizes)), peak=1)
    table = ch09_tables.paper_table(PUBLISHED, formats, scale, code["digit_accuracy"], em_len).data
    assert table.count("\n") == 1 + 6 and "+0.60" in table
    figs = [
        ch09_figures.plot_formats(add_em, (250, 1000, 4000), mul_em, (1000, 3000)),
        ch09_figures.plot_length(runs),
        ch09_figures.plot_scale(sizes, scale_em),
        ch09_figures.plot_code(code["digit_accuracy"], code["final_val"]),
    ]
    assert [len(f.axes) for f in figs] == [2, 3, 2, 2]
    assert all(f.axes[0].get_ylabel() for f in figs)
    for f in figs:
        plt.close(f)
