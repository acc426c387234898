"""A result cache for training runs: re-running a cell that trains a model is instant.

Each entry is one file named after a hash of *what* was computed (model config, training config,
data fingerprint). The file records the full key, including the *code version* (a hash of every
module of the ``helpers`` package, so that no edit anywhere can serve a stale result), and a SHA-256
of its payload. On lookup:

- **hit**: the file exists, its key matches and its checksum is right -> the payload is returned;
- **miss**: no file;
- **stale**: the file's key differs from the requested one (in practice: the code changed since it
  was written) -> it is reported and recomputed;
- **corrupt**: the header or the payload cannot be read, or the checksum fails -> reported and
  recomputed.

Writes are atomic (write to a temporary file, then ``os.replace``), so an interrupted run never
leaves a half-written entry behind. Payloads are loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

FORMAT = 1
PACKAGE = Path(__file__).resolve().parent


def default_dir() -> Path:
    """``$COURSE_CACHE_DIR`` if set, else ``.cache/runs`` at the repository root."""
    env = os.environ.get("COURSE_CACHE_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / ".cache" / "runs"


def code_version(package: Path = PACKAGE) -> str:
    """Hash of the source of every module in the ``helpers`` package (first 16 hex digits), paths
    included. Any result may depend on any module (the loss on ``metrics``, a rollout on ``generate``, a
    world on its chapter module), so the whole package keys the cache: editing any file invalidates it."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def key_hash(key: dict) -> str:
    """Stable hash of a JSON-serialisable key (first 24 hex digits)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


class ResultCache:
    """Files under ``root``, one per key. ``status`` is set by each ``get`` for tests and messages."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_dir()
        self.status = None  # 'hit' | 'miss' | 'stale' | 'corrupt' after a get()

    def path(self, what: dict) -> Path:
        return self.root / f"{key_hash(what)}.run"

    def get(self, what: dict, version: str) -> dict | None:
        """The payload stored for ``what`` at code ``version``, or ``None`` (miss, stale or corrupt)."""
        path = self.path(what)
        if not path.exists():
            self.status = "miss"
            return None
        try:
            with open(path, "rb") as f:
                header = json.loads(f.readline())
                blob = f.read()
            if header.get("format") != FORMAT or hashlib.sha256(blob).hexdigest() != header["sha256"]:
                raise ValueError("checksum or format mismatch")
            payload = torch.load(io.BytesIO(blob), weights_only=True)
        except Exception as err:  # any unreadable entry is corrupt
            self.status = "corrupt"
            warnings.warn(f"cache entry {path.name} is corrupt ({err}); recomputing it", stacklevel=2)
            return None
        if header.get("what") != json.loads(json.dumps(what)) or header.get("version") != version:
            self.status = "stale"
            warnings.warn(
                f"cache entry {path.name} was written by other code (version {header.get('version')}, "
                f"now {version}); recomputing it",
                stacklevel=2,
            )
            return None
        self.status = "hit"
        return payload

    def put(self, what: dict, version: str, payload: dict) -> Path:
        """Store ``payload`` (tensors, numbers, strings, lists, dicts) atomically."""
        buf = io.BytesIO()
        torch.save(payload, buf)
        blob = buf.getvalue()
        header = {"format": FORMAT, "what": what, "version": version, "sha256": hashlib.sha256(blob).hexdigest()}
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(what)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(header, sort_keys=True).encode() + b"\n")
                f.write(blob)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def get_or_compute(self, what: dict, compute: Callable[[], dict], version: str | None = None) -> dict:
        """Return the cached payload for ``what``, computing and storing it on a miss/stale/corrupt."""
        version = version or code_version()
        payload = self.get(what, version)
        if payload is None:
            payload = compute()
            self.put(what, version, payload)
        return payload


def cached_call(
    what: dict, compute: Callable[[], dict], cache: bool | ResultCache = True, version: str | None = None
) -> tuple[dict, bool]:
    """``compute()``'s payload for ``what``, through a ``ResultCache`` unless ``cache`` is False, and whether
    it was a cache hit. ``cache`` may be a ``ResultCache`` to use; True means the default one."""
    if cache is False:
        return compute(), False
    store = cache if isinstance(cache, ResultCache) else ResultCache()
    payload = store.get_or_compute(what, compute, version)
    return payload, store.status == "hit"
