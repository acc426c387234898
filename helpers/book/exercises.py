"""Exercise checkers: immediate pass/fail feedback with a hint.

A chapter defines each exercise once with the expected answer (computed by helpers, never typed
in) and a hint; the student's cell calls ``check``:

    ex = Exercise("1.1 perplexity", expected=math.exp(loss), hint="perplexity = e^loss")
    ex.check(my_answer)   # prints a verdict; ex.passed(my_answer) returns it as a bool

``None`` means "not attempted yet" and is reported as such, so a fresh notebook runs top to bottom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Number
from typing import Any


def _close(answer: Any, expected: Any, rtol: float, atol: float) -> bool:
    if isinstance(expected, bool) or not isinstance(expected, Number):
        if isinstance(expected, (list, tuple)) and isinstance(answer, (list, tuple)):
            return len(answer) == len(expected) and all(_close(a, e, rtol, atol) for a, e in zip(answer, expected))
        return answer == expected
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return False
    return math.isfinite(a) and math.isclose(a, float(expected), rel_tol=rtol, abs_tol=atol)


@dataclass
class Exercise:
    """One exercise: its ``name``, the ``expected`` answer, a ``hint`` and the tolerance."""

    name: str
    expected: Any
    hint: str
    rtol: float = 1e-2
    atol: float = 0.0

    def passed(self, answer: Any) -> bool:
        """Whether ``answer`` is right (within the tolerance), without printing anything."""
        return answer is not None and _close(answer, self.expected, self.rtol, self.atol)

    def check(self, answer: Any) -> None:
        """Print the verdict for ``answer``: not attempted (``None``), correct, or a hint to try again."""
        if answer is None:
            print(f"[ ] {self.name}: not attempted yet - replace None with your answer.")
        elif self.passed(answer):
            print(f"[pass] {self.name}: correct.")
        else:
            print(f"[try again] {self.name}: {answer!r} is not right yet. Hint: {self.hint}")
