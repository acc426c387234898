import shutil

import pytest
import torch

from helpers import cache as cache_module
from helpers.cache import PACKAGE, ResultCache, cached_call, code_version
from helpers.model import GPTConfig
from helpers.train import TrainConfig, train

WHAT = {"model": {"d": 8}, "data": "abc"}


def test_hit_and_miss(tmp_path):
    c = ResultCache(tmp_path)
    assert c.get(WHAT, "v1") is None and c.status == "miss"
    c.put(WHAT, "v1", {"x": torch.arange(3), "loss": [1.0, 0.5]})
    out = c.get(WHAT, "v1")
    assert c.status == "hit" and torch.equal(out["x"], torch.arange(3)) and out["loss"] == [1.0, 0.5]
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temporary file


def test_stale_entry_is_recomputed(tmp_path):
    c = ResultCache(tmp_path)
    c.put(WHAT, "old-code", {"v": 1})
    with pytest.warns(UserWarning, match="written by other code"):
        assert c.get(WHAT, "new-code") is None
    assert c.status == "stale"
    with pytest.warns(UserWarning, match="written by other code"):
        out = c.get_or_compute(WHAT, lambda: {"v": 2}, version="new-code")
    assert out == {"v": 2} and c.get(WHAT, "new-code") == {"v": 2} and c.status == "hit"


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_entry_is_detected_and_recomputed(tmp_path, damage):
    c = ResultCache(tmp_path)
    path = c.put(WHAT, "v", {"w": torch.ones(100)})
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) - 50])
    elif damage == "flip":
        path.write_bytes(raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a cache entry")
    else:
        path.write_bytes(b"")
    with pytest.warns(UserWarning, match="corrupt"):
        assert c.get(WHAT, "v") is None
    assert c.status == "corrupt"
    with pytest.warns(UserWarning):
        out = c.get_or_compute(WHAT, lambda: {"w": torch.zeros(2)}, version="v")
    assert torch.equal(out["w"], torch.zeros(2))
    assert torch.equal(c.get(WHAT, "v")["w"], torch.zeros(2)) and c.status == "hit"


def test_code_version_is_stable():
    assert code_version() == code_version() and len(code_version()) == 16


def test_train_uses_cache(corpus, tmp_path):
    mc = GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=1, n_head=2, d_model=32)
    tc = TrainConfig(steps=20, batch_size=8, warmup_steps=2, eval_every=10, eval_batches=1, progress=False)
    store = ResultCache(tmp_path)
    a = train(mc, tc, corpus, cache=store)
    assert not a.cached and store.status == "miss"
    b = train(mc, tc, corpus, cache=store)
    assert b.cached and b.history == a.history
    for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(p.cpu(), q.cpu())
    # a different training config is a different entry
    c = train(mc, TrainConfig(**{**tc.__dict__, "seed": 5}), corpus, cache=store)
    assert not c.cached


def test_editing_any_helpers_module_changes_the_code_version(tmp_path):
    """Every module of the package, chapter rooms and book code included, keys the cache: a one-comment
    edit anywhere gives another version, and so a stale entry is never served."""
    src = PACKAGE
    copy = tmp_path / "helpers"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    base = code_version(copy)
    assert base == code_version(src)
    modules = sorted(copy.rglob("*.py"))
    assert len(modules) >= 15
    for path in modules:
        text = path.read_text()
        path.write_text(text + "\n# edited\n")
        assert code_version(copy) != base, f"editing {path.relative_to(copy)} left the cache key unchanged"
        path.write_text(text)
    assert code_version(copy) == base
    (copy / "new_module.py").write_text("X = 1\n")  # a new module counts too
    assert code_version(copy) != base


def test_an_edit_invalidates_a_cached_training_run(corpus, tmp_path, monkeypatch):
    mc = GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=1, n_head=2, d_model=16)
    tc = TrainConfig(steps=3, batch_size=4, warmup_steps=1, eval_every=0, eval_batches=1, progress=False)
    store = ResultCache(tmp_path)
    assert not train(mc, tc, corpus, cache=store).cached
    assert train(mc, tc, corpus, cache=store).cached
    monkeypatch.setattr(cache_module, "code_version", lambda: "edited-code")
    with pytest.warns(UserWarning, match="written by other code"):
        again = train(mc, tc, corpus, cache=store)
    assert not again.cached and store.status == "stale"


def test_cached_call_hits_on_the_second_call_and_can_be_bypassed(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.tensor([len(calls)])}

    store = ResultCache(tmp_path)
    first, hit1 = cached_call({"k": 1}, compute, store, version="v")
    second, hit2 = cached_call({"k": 1}, compute, store, version="v")
    assert (hit1, hit2) == (False, True) and second["x"].item() == first["x"].item() == 1
    fresh, hit3 = cached_call({"k": 1}, compute, cache=False)
    assert not hit3 and fresh["x"].item() == 2 and len(calls) == 2
    # another code version is a different result: recomputed, not reused
    with pytest.warns(UserWarning, match="written by other code"):
        _, hit4 = cached_call({"k": 1}, compute, store, version="w")
    assert not hit4 and len(calls) == 3
