"""Corpora, the train/validation split and the batch sampler.

The course ships its default corpus, the King James Bible (public domain, built from Debian's
``bible-kjv-text`` by ``data/build_kjv.py``), and chapter 4's three other domains (Python source, Python's
documentation, classical Chinese verse; ``data/build_domains.py``), so nothing needs the network.
``download_tinyshakespeare`` is a real downloader for Karpathy's TinyShakespeare with SHA-256
verification; offline it fails with a message pointing back to the bundled corpus.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from .tokenizer import ByteTokenizer, CharTokenizer

DATA_DIR = Path(os.environ.get("COURSE_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))

BUNDLED = {  # name: file under data/, built by the script that PROVENANCE.md names
    "kjv": "corpora/kjv.txt.gz",
    "code": "corpora/code.txt.gz",
    "docs": "corpora/docs.txt.gz",
    "poems": "corpora/poems.txt.gz",
}
BUILDERS = {"kjv": "data/build_kjv.py", "code": "data/build_domains.py", "docs": "data/build_domains.py"}
BUILDERS["poems"] = "data/build_domains.py"

TINYSHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/"
    "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt"
)
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def load_text(name: str = "kjv") -> str:
    """The text of a corpus: a bundled one by name (``"kjv"``) or a path to a UTF-8 file."""
    if name in BUNDLED:
        path = DATA_DIR / BUNDLED[name]
        if not path.exists():
            raise FileNotFoundError(
                f"bundled corpus {name!r} is missing at {path}; restore it with "
                f"`git checkout -- data/{BUNDLED[name]}` or rebuild it with `python {BUILDERS[name]}`"
            )
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    path = Path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no corpus named {name!r}: use one of {sorted(BUNDLED)} or the path of a UTF-8 text file"
        )
    return path.read_text(encoding="utf-8")


def download_tinyshakespeare(
    dest: str | Path | None = None,
    *,
    url: str = TINYSHAKESPEARE_URL,
    sha256: str = TINYSHAKESPEARE_SHA256,
    timeout: float = 30.0,
) -> Path:
    """Download TinyShakespeare (1.1 MB) to ``dest`` (default ``data/downloads/``) and verify it.

    A file already there with the right checksum is reused; one with a wrong checksum is replaced.
    Raises ``ConnectionError`` when offline and ``ValueError`` when the download does not match
    ``sha256``; nothing unverified is ever written to ``dest``.
    """
    dest = Path(dest) if dest is not None else DATA_DIR / "downloads" / "tinyshakespeare.txt"
    if dest.exists() and sha256_bytes(dest.read_bytes()) == sha256:
        return dest
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            blob = resp.read()
    except (urllib.error.URLError, OSError) as err:
        raise ConnectionError(
            f"could not download TinyShakespeare from {url} ({err}). You seem to be offline: "
            "use the bundled corpus instead, load_corpus('kjv'), or copy the file to "
            f"{dest} by hand (its SHA-256 must be {sha256})"
        ) from err
    got = sha256_bytes(blob)
    if got != sha256:
        raise ValueError(
            f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {got}. The file was not "
            "saved; the source may have changed or the transfer was corrupted, so try again later "
            "or use the bundled corpus, load_corpus('kjv')"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(blob)
    os.replace(tmp, dest)
    return dest


@dataclass
class Corpus:
    """A tokenized corpus split into train and validation ids."""

    name: str
    tokenizer: CharTokenizer | ByteTokenizer
    train: torch.Tensor
    val: torch.Tensor
    fingerprint: str  # SHA-256 of the text, tokenizer and split: part of every cache key
    align: int = 1  # training windows start at multiples of this (a synthetic task's fixed line length)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def sampler(self, split: str, context: int, batch_size: int, seed: int = 0) -> BatchSampler:
        """The batch sampler of ``split`` ("train" or "val") that a trainer draws from."""
        if split not in ("train", "val"):
            raise ValueError(f"split={split!r}: choose 'train' or 'val'")
        return BatchSampler(getattr(self, split), context, batch_size, seed=seed, align=self.align)

    def __repr__(self) -> str:
        return (
            f"Corpus({self.name!r}, vocab_size={self.vocab_size}, train={len(self.train):,} tokens, "
            f"val={len(self.val):,} tokens)"
        )


def split_blocks(ids: torch.Tensor, val_every: int = 10, block: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic split: cut ``ids`` into blocks of ``block`` tokens, every ``val_every``-th block
    goes to validation. Interleaving keeps both splits drawn from the whole text."""
    if val_every < 2:
        raise ValueError(f"val_every={val_every}: must be >= 2 so that some blocks remain for training")
    if block < 2:
        raise ValueError(f"block={block}: blocks must hold at least 2 tokens")
    n_blocks = -(-len(ids) // block)
    if n_blocks < val_every:
        raise ValueError(
            f"a corpus of {len(ids)} tokens makes only {n_blocks} blocks of {block}; "
            f"use a smaller block (at most {len(ids) // val_every}) or a longer text"
        )
    chunks = torch.split(ids, block)
    train = [c for i, c in enumerate(chunks) if i % val_every != val_every - 1]
    val = [c for i, c in enumerate(chunks) if i % val_every == val_every - 1]
    return torch.cat(train), torch.cat(val)


def load_corpus(
    name: str = "kjv", tokenizer: str = "char", max_chars: int | None = None, val_every: int = 10, block: int = 4096
) -> Corpus:
    """Load, tokenize and split a corpus. ``tokenizer`` is ``"char"`` or ``"byte"``;
    ``max_chars`` keeps only the start of the text (handy for quick experiments)."""
    text = load_text(name)
    if max_chars is not None:
        if max_chars < 2 * block:
            raise ValueError(f"max_chars={max_chars}: keep at least {2 * block} characters")
        text = text[:max_chars]
    if tokenizer == "char":
        tok = CharTokenizer(text)
    elif tokenizer == "byte":
        tok = ByteTokenizer()
    else:
        raise ValueError(f"tokenizer={tokenizer!r}: choose 'char' or 'byte'")
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    train, val = split_blocks(ids, val_every=val_every, block=block)
    fp = sha256_bytes(f"{tokenizer}|{val_every}|{block}|".encode() + text.encode("utf-8"))
    return Corpus(Path(name).stem if name not in BUNDLED else name, tok, train, val, fp)


def unique_subset(corpus: Corpus, tokens: int, block: int = 4096) -> Corpus:
    """``corpus`` with its training split cut to ``tokens`` unique tokens: evenly spaced blocks of ``block``
    tokens taken across the whole split (the last one trimmed), so that a small subset still samples every
    part of the text; the validation split is kept whole. Training on it for more tokens than ``tokens``
    repeats data: a run of D tokens sees it D / ``tokens`` times (epochs)."""
    n = len(corpus.train)
    if not (isinstance(tokens, int) and block < tokens <= n):
        raise ValueError(
            f"tokens={tokens!r}: a unique subset needs more than one block ({block} tokens) and at most the "
            f"training split's {n:,} tokens"
        )
    chunks = [c for c in torch.split(corpus.train, block) if len(c) == block]  # whole blocks only
    count = -(-tokens // block)
    picks = torch.linspace(0, len(chunks) - 1, count).round().long().unique()
    if len(picks) < count:
        raise ValueError(f"tokens={tokens}: the training split has only {len(chunks)} whole blocks of {block}")
    train = torch.cat([chunks[int(i)] for i in picks])[:tokens]
    fingerprint = sha256_bytes(f"{corpus.fingerprint}|unique {tokens} in blocks of {block}".encode())
    return Corpus(corpus.name, corpus.tokenizer, train, corpus.val, fingerprint, corpus.align)


class BatchSampler:
    """Random windows of ``context + 1`` tokens from ``data``: inputs ``x`` and next-token targets ``y``.

    It owns its random generator, so a run's batches depend only on ``seed`` and can be saved and
    restored with ``state_dict`` / ``load_state_dict`` (that is what makes resuming exact). With
    ``align`` > 1 windows start only at multiples of ``align``: for a stream of fixed-length examples
    every window then starts at the beginning of one, so a position in the window always means the
    same thing (the third digit of the first operand, say).
    """

    def __init__(self, data: torch.Tensor, context: int, batch_size: int, seed: int = 0, align: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be at least 1")
        if not isinstance(align, int) or align < 1:
            raise ValueError(f"align={align!r}: must be a positive integer (1 lets windows start anywhere)")
        if len(data) < context + 2:
            raise ValueError(
                f"the data ({len(data)} tokens) is shorter than one window of context+1={context + 1} "
                "tokens; use a shorter context or more data"
            )
        self.data, self.context, self.batch_size, self.align = data, context, batch_size, align
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(x, y)``, each of shape ``(batch_size, context)``."""
        n_starts = len(self.data) - self.context - 1
        if self.align == 1:
            starts = torch.randint(n_starts, (self.batch_size,), generator=self.gen)
        else:
            starts = torch.randint(-(-n_starts // self.align), (self.batch_size,), generator=self.gen) * self.align
        offsets = torch.arange(self.context + 1)
        window = self.data[starts[:, None] + offsets]
        return window[:, :-1], window[:, 1:]

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
