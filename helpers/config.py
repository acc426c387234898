"""One way for a configuration dataclass to check itself.

A config subclasses ``Config`` and lists its rules in ``rules()``, a generator of
``(ok, field, message)``. ``__post_init__`` walks them in order and raises ``ValueError`` for the first
rule that fails, naming the class, the field, its value and the fix::

    @dataclass(frozen=True)
    class Shape(Config):
        width: int = 8

        def rules(self):
            yield self.width >= 1, "width", "must be at least 1"

Rules are checked lazily, so a later rule may assume the earlier ones hold (divide by a field that an
earlier rule proved positive). Configs are frozen: change one with ``dataclasses.replace``, which checks
the new values again, so a config can never be edited into an invalid state after it was checked.
"""

from __future__ import annotations

from collections.abc import Iterator


class Config:
    """Base of every configuration dataclass: validation by ``rules()`` at construction."""

    def __post_init__(self) -> None:
        for ok, name, message in self.rules():
            if not ok:
                raise ValueError(f"{type(self).__name__}.{name}={getattr(self, name)!r}: {message}")

    def rules(self) -> Iterator[tuple[bool, str, str]]:
        """``(ok, field, message)`` for each rule the values must obey; override in a subclass."""
        yield from ()


def positive_int(value) -> bool:
    """True for an ``int`` (not a ``bool``) of at least 1: the usual rule for counts."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
