"""Test-suite policy, applied to every test (unit tests, nbval notebooks, the book build), wherever
pytest is pointed: it sits at the repository root so that `pytest chapters --nbval` obeys it too.

- **No network.** Any attempt to connect to a non-loopback address fails the test that made it.
  Loopback stays open because Jupyter kernels (nbval) talk to pytest over ZMQ on localhost.
- **Fresh training.** ``COURSE_CACHE_DIR`` points at an empty temporary folder, so notebooks run by
  nbval train every model from scratch instead of loading the developer's ``.cache/``: the test
  proves that today's code produces the committed outputs. Each notebook gets a folder of its own,
  set before its kernel starts (kernels inherit the variable): a unit test that trained the same
  model earlier in the session must not turn the notebook's training (and its progress bar) into a
  cache hit.
- **Unattended.** ``COURSE_BATCH=1`` (``helpers.progress``), as ``make execute`` sets it: progress bars
  print their final line as text, as the committed notebooks show them, and a solution cell whose answer
  fails its exercise checker raises, failing the notebook.
- **Notebook outputs** are compared by nbval after the sanitisers in ``tests/sanitize.cfg``
  (see that file for what is replaced and why). Images are not compared byte-for-byte (nbval's
  default); every claim a figure makes is also an ``assert`` in the notebook, so it is checked.

What each layer proves:

- **unit tests** (``tests/``): every helper does what its docstring says, refuses bad input with a clear
  error, honours the device it is given, and never serves a stale cache entry;
- **cached-sweep spot checks** (``tests/test_sweep_cache.py`` and the chapter tests): today's code still
  produces the numbers in ``data/sweeps`` (re-trained with the thread count each row was made with);
- **nbval, strict** (``make test``): on this platform, every committed output is exactly what today's code
  prints; a same-platform regression test of the book. It is not a claim about other machines;
- **the portable run** (``make test-portable``, in CI under another thread count, ATen CPU kernels and MKL
  instruction set): every notebook runs top to bottom and every ``assert`` holds on a configuration unlike
  the one that made the outputs; the printed digits may differ there and are not compared. Notebooks can
  pass it because a live run is checked against its cached twin within a tolerance from the seed spread
  (``helpers.claims.twin_check``), and scientific claims are asserted on the cached families or with
  margins of several seed standard deviations;
- **the book build** (``tests/test_book.py``): the book renders from the committed outputs with warnings
  as errors.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile

import pytest

_real_connect = socket.socket.connect


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise OSError(f"network access is disabled in tests (tried to connect to {address!r})")
    return _real_connect(self, address)


def pytest_configure(config):
    socket.socket.connect = _guarded_connect
    os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="course-test-cache-")
    os.environ["COURSE_BATCH"] = "1"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # before the first cell of each notebook, i.e. before nbval starts its kernel: a fresh result cache
    path = str(getattr(item, "path", ""))
    if path.endswith(".ipynb") and os.environ.get("COURSE_CACHE_NOTEBOOK") != path:
        os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="course-test-cache-")
        os.environ["COURSE_CACHE_NOTEBOOK"] = path


@pytest.fixture
def corpus():
    """A small slice of the bundled corpus, enough for fast training tests."""
    from helpers.data import load_corpus

    return load_corpus("kjv", max_chars=200_000)


@pytest.fixture
def auto_device_unavailable(monkeypatch):
    """``COURSE_DEVICE`` names a device this machine lacks, so ``select_device("auto")`` raises: a trainer
    that ignores the ``device=`` it was given (and falls back to "auto") fails the test that uses this."""
    import torch

    absent = next((d for d in ("cuda", "mps") if not _has_device(torch, d)), None)
    if absent is None:
        pytest.skip("this machine has both cuda and mps; no absent device to point COURSE_DEVICE at")
    monkeypatch.setenv("COURSE_DEVICE", absent)
    return absent


def _has_device(torch, kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
