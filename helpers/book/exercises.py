"""Exercise checkers: immediate pass/fail feedback, a hint that guides, and a second hint on request.

A chapter's helpers module builds each exercise from the notebook's results, so the expected answer is
computed out of sight (never in the notebook's cell, never typed in); the student's cell only checks:

    ex1 = ch01.perplexity_exercise(final_val)
    answer = None          # the student replaces None
    ex1.check(answer)      # prints a verdict; ex1.hint() prints a more specific hint

``None`` means "not attempted yet", so a fresh notebook runs top to bottom. A number is accepted when it
is as precise as what the notebook prints: an answer typed as ``4.3`` is right for anything that rounds
to 4.3 (within half a unit of its last digit), provided it keeps at least ``coarsest`` relative precision
(``4`` for 4.35 does not), or when it lies within ``rtol``/``atol`` of the exact value. Sequences are
compared element by element, everything else by equality.

In a batch run (``COURSE_BATCH=1``: ``make execute``, nbval; see ``helpers.progress``) a wrong attempted
answer raises ``AssertionError``: a solution cell whose answer fails its checker fails the notebook.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

import numpy as np

from ..progress import batch_run


def resolution(x: float) -> float:
    """Half a unit in the last significant digit of ``x`` as Python writes it (``4.3`` -> 0.05, ``2e12`` ->
    5e11, ``7`` -> 0.5): the rounding an answer typed that way implies."""
    if x == 0 or not math.isfinite(x):
        return 0.0
    mantissa, exponent = f"{abs(x):.15e}".split("e")
    decimals = len(mantissa.rstrip("0").split(".")[1]) if "." in mantissa.rstrip("0") else 0
    return 0.5 * 10.0 ** (int(exponent) - decimals)


def _verdict(answer: Any, expected: Any, rtol: float, atol: float, coarsest: float) -> str:
    """ "" when ``answer`` is right, else a short reason ("wrong", "coarse", "shape", "type")."""
    if isinstance(expected, (list, tuple)):
        if not isinstance(answer, (list, tuple)) or len(answer) != len(expected):
            return "shape"
        reasons = [_verdict(a, e, rtol, atol, coarsest) for a, e in zip(answer, expected)]
        return next((r for r in reasons if r), "")
    if isinstance(expected, (bool, np.bool_)):
        return "" if isinstance(answer, (bool, np.bool_)) and bool(answer) == bool(expected) else "wrong"
    if not isinstance(expected, Number):
        return "" if answer == expected else "wrong"
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, Number):
        return "type"
    a, e = float(answer), float(expected)
    if not math.isfinite(a):
        return "wrong"
    err = abs(a - e)
    if err <= max(rtol * abs(e), atol) * (1 + 1e-9):
        return ""
    half = resolution(a) if isinstance(answer, float) else 0.0
    if err <= half * (1 + 1e-9):
        return "" if half <= coarsest * abs(e) else "coarse"
    return "wrong"


def handle(name: str) -> str:
    """The variable the chapters bind an exercise to: exercise k of a chapter ("1.3 ...") is ``ex3``."""
    match = re.match(r"\d+\.(\d+)", name)
    return f"ex{match.group(1)}" if match else "the exercise"


def _try_again(name: str, why: str, hint: str) -> None:
    """Report a wrong answer: raise ``AssertionError`` in a batch run, else print why and the first hint."""
    if batch_run():
        raise AssertionError(f"exercise {name}: {why}")
    print(f"[try again] {name}: {why}")
    print(f"  Hint: {hint}")
    print(f"  Still stuck? {handle(name)}.hint() gives a more specific hint.")


_REASONS = {
    "wrong": "is not right yet",
    "coarse": "is too rounded to tell: give as many digits as the notebook prints",
    "shape": "has the wrong form: see what the exercise asks for (how many values?)",
    "type": "should be a number",
}


@dataclass
class Exercise:
    """One exercise: its ``name`` ("1.1 perplexity"), the ``expected`` answer (not shown), two ``hints`` (a
    direction, not the formula; then a more specific one, on request) and the tolerances."""

    name: str
    expected: Any = field(repr=False)
    hints: tuple[str, str] = field(repr=False)
    rtol: float = 0.0
    atol: float = 0.0
    coarsest: float = 0.02

    def __post_init__(self):
        if len(self.hints) != 2 or not all(isinstance(h, str) and h for h in self.hints):
            raise ValueError(f"exercise {self.name}: hints must be two non-empty strings (first, second)")

    def _reason(self, answer: Any) -> str:
        return _verdict(answer, self.expected, self.rtol, self.atol, self.coarsest)

    def passed(self, answer: Any) -> bool:
        """Whether ``answer`` is right, without printing anything (``None`` is not)."""
        return answer is not None and not self._reason(answer)

    def check(self, answer: Any) -> None:
        """Print the verdict for ``answer``: not attempted, correct, or why not with the first hint (use
        ``passed`` for a bool). In a batch run a wrong answer raises ``AssertionError``."""
        if answer is None:
            print(f"[ ] {self.name}: not attempted yet - replace None with your answer and run the cell.")
            return
        reason = self._reason(answer)
        if not reason:
            print(f"[pass] {self.name}: correct.")
            return
        _try_again(self.name, f"{answer!r} {_REASONS[reason]}.", self.hints[0])

    def hint(self) -> None:
        """Print the second, more specific hint."""
        print(f"{self.name}, second hint: {self.hints[1]}")


@dataclass
class Experiment:
    """An exercise whose answer is something the student built or ran (a trained model, a function), not a
    number: ``verify(result)`` inspects it and returns ``(passed, report)``, where ``report`` says what was
    measured and whether the claim holds on it. ``hints`` as for ``Exercise``."""

    name: str
    verify: Any = field(repr=False)
    hints: tuple[str, str] = field(repr=False)

    def check(self, result: Any) -> None:
        """Print the verdict for the student's ``result`` (``None``: not attempted yet). In a batch run a
        failing result raises ``AssertionError``."""
        if result is None:
            print(f"[ ] {self.name}: not attempted yet - replace None with your answer and run the cell.")
            return
        ok, report = self.verify(result)
        if ok:
            print(f"[pass] {self.name}: {report}")
            return
        _try_again(self.name, report, self.hints[0])

    def hint(self) -> None:
        """Print the second, more specific hint."""
        print(f"{self.name}, second hint: {self.hints[1]}")
