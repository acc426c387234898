"""Character- and byte-level tokenizers: text <-> integer ids, with an exact round trip.

A character tokenizer's vocabulary is the set of characters in its training text, sorted, so
id 0 is usually the newline; a byte tokenizer has the fixed 256-entry vocabulary of UTF-8 bytes
and can encode any text. Both show their vocabulary in a readable form (``vocab()``).
"""

from __future__ import annotations

import torch


class CharTokenizer:
    """One token per character seen in ``text``. Unknown characters raise a clear error."""

    kind = "char"

    def __init__(self, text: str):
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to build its vocabulary from")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Text to a list of ids."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} is not in this tokenizer's vocabulary of "
                f"{self.vocab_size} characters; build the tokenizer from a text that contains it, "
                "or use ByteTokenizer, which encodes any text"
            ) from None

    def decode(self, ids) -> str:
        """A sequence of ids (list or tensor) back to text."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        try:
            return "".join(self.chars[i] for i in ids)
        except IndexError:
            bad = next(i for i in ids if not 0 <= i < self.vocab_size)
            raise ValueError(f"id {bad} is outside the vocabulary (0..{self.vocab_size - 1})") from None

    def vocab(self) -> list[str]:
        """The vocabulary in id order, with invisible characters spelled out (newline as ``\\n``, space as ``␣``)."""
        return ["␣" if c == " " else repr(c)[1:-1] if not c.isprintable() else c for c in self.chars]

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


class ByteTokenizer:
    """UTF-8 bytes as tokens: a fixed vocabulary of 256, any text encodes."""

    kind = "byte"
    vocab_size = 256

    def encode(self, text: str) -> list[int]:
        """Text to a list of byte values."""
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        """Byte values back to text; a sample cut inside a multi-byte character gets U+FFFD."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if any(not 0 <= i < 256 for i in ids):
            raise ValueError("byte ids must lie in 0..255")
        return bytes(ids).decode("utf-8", errors="replace")

    def vocab(self) -> list[str]:
        """The 256 byte values, printable ASCII as itself and the rest as ``\\xNN``."""
        return [chr(b) if 32 < b < 127 else f"\\x{b:02x}" for b in range(256)]

    def __repr__(self) -> str:
        return "ByteTokenizer(vocab_size=256)"
