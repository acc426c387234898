"""Progress bars, and how a notebook knows that a machine rather than a person is running it.

In a notebook a person runs, ``progress_bar`` is a live tqdm widget. When a notebook is executed to be
saved or tested (``make execute``, nbval: both set ``COURSE_BATCH=1``), the bar draws nothing while it
runs and prints its final line once, as text, when it closes: a saved notebook then holds no widget
state, needs no trust to show its bars in JupyterLab, and the rendered book carries no widget JavaScript.
"""

from __future__ import annotations

import io
import os

from tqdm.auto import tqdm as _live_bar
from tqdm.std import tqdm as _text_bar

BATCH_ENV = "COURSE_BATCH"


def batch_run() -> bool:
    """Whether this process runs a notebook unattended (``COURSE_BATCH=1``: ``make execute``, nbval)."""
    return os.environ.get(BATCH_ENV, "") not in ("", "0")


class FinalLineBar(_text_bar):
    """A text tqdm bar that stays silent while it runs and prints its final state once, on ``close``."""

    def __init__(self, *args, **kwargs):
        kwargs.pop("mininterval", None)
        kwargs.pop("file", None)
        super().__init__(*args, file=io.StringIO(), mininterval=float("inf"), ascii=False, **kwargs)

    def close(self):
        if self.disable:
            return
        line = self.format_meter(**self.format_dict)
        super().close()
        print(line, flush=True)


def progress_bar(*args, **kwargs):
    """A tqdm progress bar (same arguments as ``tqdm``): a live widget, or a ``FinalLineBar`` in a batch run."""
    return (FinalLineBar if batch_run() else _live_bar)(*args, **kwargs)
