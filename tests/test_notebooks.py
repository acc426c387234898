"""What every committed chapter notebook must be, checked on its JSON (nothing is executed here).

- **Exercises** are built by the chapter's helpers (``chNN.xxx_exercise``): no notebook cell computes an
  ``expected=`` answer in sight of the student;
- **solutions** (a code cell that starts with ``# solution``) are tagged ``solution`` (so ``make execute`` saves
  them without output, and no committed solution prints "[pass]"), ``hide-cell`` (collapsed in the book) and
  ``nbval-ignore-output``, and collapsed in JupyterLab too (``jupyter.source_hidden``);
- **no widget state**: a saved notebook needs no trust and the book loads no widget JavaScript
  (``tests/execute_notebooks.py`` strips it; ``helpers.progress`` prints bars as text in batch runs);
- **short code cells** (at most ``MAX_CELL_LINES``) and **figures in cells of their own**, with a caption and
  alt text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checkers_keep_their_answers_out_of_sight(path):
    shown = [i for i, c in enumerate(_cells(path)) if c["cell_type"] == "code" and "expected=" in _source(c)]
    assert not shown, f"{path.name}: cells {shown} compute an exercise's expected answer; build it in helpers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_are_hidden_tagged_and_saved_without_output(path):
    solutions = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).startswith("# solution")]
    assert solutions, f"{path.name} has no solution cells"
    for cell in solutions:
        first = _source(cell).splitlines()[0]
        tags = set(cell["metadata"].get("tags", []))
        missing = {"solution", "hide-cell"} - tags
        assert not missing, f"{path.name}: solution {first!r} lacks the tags {missing}"
        assert tags & {"nbval-ignore-output", "nbval-skip"}, f"{path.name}: {first!r} must not be compared by nbval"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden"), f"{path.name}: {first!r} open in JupyterLab"
        assert not cell["outputs"], f"{path.name}: solution {first!r} was saved with its output"
    tagged = [c for c in _cells(path) if "solution" in c["metadata"].get("tags", [])]
    assert len(tagged) == len(solutions), f"{path.name}: a cell tagged solution does not start with '# solution'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_keep_no_widget_state(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"], f"{path.name} saves widget state; re-run `make execute`"
    views = [i for i, c in enumerate(nb["cells"]) for out in c.get("outputs", []) if WIDGET_VIEW in out.get("data", {})]
    assert not views, f"{path.name}: cells {views} save widget views; re-run `make execute`"


def test_the_instructors_page_is_what_the_notebooks_give():
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from instructors import PAGE, page

    assert PAGE.read_text(encoding="utf-8") == page(), (
        "instructors.md is out of date: run `python tests/instructors.py`"
    )


MAX_CELL_LINES = 25  # a code cell holds the few lines a reader should see; longer code lives in helpers/


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short_enough_to_read(path):
    long = {
        i: n
        for i, c in enumerate(_cells(path))
        if c["cell_type"] == "code" and (n := len(_source(c).splitlines())) > MAX_CELL_LINES
    }
    assert not long, (
        f"{path.name}: code cells {long} (index: lines) exceed {MAX_CELL_LINES} lines; move code to helpers"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_alt_text(path):
    """A cell that draws a figure carries ``mystnb.figure.caption`` and ``mystnb.image.alt``, and draws nothing
    else (myst-nb would put every display output of the cell inside the captioned figure)."""
    for i, cell in enumerate(_cells(path)):
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
        if not any("image/png" in o.get("data", {}) for o in outputs):
            continue
        meta = cell["metadata"].get("mystnb", {})
        assert meta.get("image", {}).get("alt"), f"{path.name}: figure cell {i} has no alt text (mystnb.image.alt)"
        assert meta.get("figure", {}).get("caption"), f"{path.name}: figure cell {i} has no caption (mystnb.figure)"
        others = [o for o in outputs if "image/png" not in o.get("data", {})]
        assert not others, f"{path.name}: figure cell {i} also displays a table or text; give the figure its own cell"
