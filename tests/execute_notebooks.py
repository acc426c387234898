"""Re-execute chapter notebooks top to bottom in a fresh kernel and save their outputs (``make execute``).

This is how the committed outputs, which nbval later checks and the book renders, are produced.
Like the test suite, it trains every model from scratch (an empty ``COURSE_CACHE_DIR``), so the
saved outputs are what today's code computes, not what an old cache held. It prints each notebook's
wall time, which is the number to compare with the budgets in COURSE.md.

The kernel runs with ``COURSE_BATCH=1`` (``helpers.progress``): progress bars print their final line as
text and a solution that fails its checker raises. The saved notebook keeps no widget state and no widget
views (an explorer's saved output is its one-line text form), so it needs no trust in JupyterLab and the
book loads no widget JavaScript; a solution cell (tag ``solution``) is saved without its output.

    python tests/execute_notebooks.py                      # every notebook under chapters/
    python tests/execute_notebooks.py chapters/01_tiny_lm.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def make_static(nb) -> None:
    """Drop what needs a live kernel or widget state from ``nb`` (in place): the saved widget state, each
    output's widget view (its text form stays), and the outputs of solution cells."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in cell.metadata.get("tags", []):
            cell.outputs = []
            continue
        for out in cell.outputs:
            out.get("data", {}).pop(WIDGET_VIEW, None)


def _machine() -> str:
    """The CPU model and the threads torch uses here, for the record of a run time."""
    import torch

    from helpers.sweep import cpu_model

    return f"{cpu_model() or 'CPU'}, {torch.get_num_threads()} threads"


def execute(path: Path, timeout: int = 900) -> float:
    """Run ``path`` in place and return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        coalesce_streams=True,
        record_timing=False,
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    make_static(nb)
    # the measured run time, which the instructors' page (tests/instructors.py) reports
    nb.metadata["course"] = {**nb.metadata.get("course", {}), "run_seconds": round(seconds), "run_on": _machine()}
    # the kernelspec JupyterLab itself writes for this kernel, so that opening a notebook does not mark it modified
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.notebooks or sorted(
        p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    os.environ["COURSE_BATCH"] = "1"  # kernels inherit it (helpers.progress)
    for path in paths:
        # a fresh, empty result cache per notebook, as nbval gets one (conftest.py): a model another notebook
        # trained must not turn this one's training (and its progress bar) into a cache hit
        os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="course-execute-cache-")
        seconds = execute(path.resolve())
        print(f"{path.relative_to(ROOT) if path.is_absolute() else path}: {seconds:.0f} s", flush=True)
    from instructors import PAGE, page  # the instructors' page reports the run times just measured

    PAGE.write_text(page(), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
