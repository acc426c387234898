import hashlib

import pytest
import torch

from helpers import data
from helpers.data import BatchSampler, download_tinyshakespeare, load_corpus, load_text, split_blocks, unique_subset


def test_bundled_corpus_loads_and_matches_provenance():
    text = load_text("kjv")
    assert text.startswith("Genesis 1\nIn the beginning God created the heaven and the earth.")
    assert len(text) > 4_000_000
    # the checksum recorded in data/corpora/PROVENANCE.md
    prov = (data.DATA_DIR / "corpora" / "PROVENANCE.md").read_text()
    digest = hashlib.sha256((data.DATA_DIR / "corpora" / "kjv.txt.gz").read_bytes()).hexdigest()
    assert digest in prov


def test_split_is_deterministic_disjoint_and_complete():
    ids = torch.arange(100_000)
    tr, va = split_blocks(ids, val_every=10, block=1000)
    tr2, va2 = split_blocks(ids, val_every=10, block=1000)
    assert torch.equal(tr, tr2) and torch.equal(va, va2)
    assert len(tr) + len(va) == len(ids)
    assert set(tr.tolist()).isdisjoint(va.tolist())
    assert len(va) == 10_000


def test_split_errors():
    with pytest.raises(ValueError, match="val_every"):
        split_blocks(torch.arange(100), val_every=1)
    with pytest.raises(ValueError, match="smaller block"):
        split_blocks(torch.arange(100), val_every=10, block=50)


def test_load_corpus(corpus):
    assert corpus.vocab_size == corpus.tokenizer.vocab_size
    assert len(corpus.train) > 8 * len(corpus.val) > 0
    other = load_corpus("kjv", max_chars=200_000)
    assert other.fingerprint == corpus.fingerprint
    assert load_corpus("kjv", max_chars=100_000).fingerprint != corpus.fingerprint
    with pytest.raises(ValueError, match="tokenizer"):
        load_corpus("kjv", tokenizer="bpe", max_chars=100_000)
    with pytest.raises(FileNotFoundError, match="no corpus named"):
        load_text("no-such-corpus")


def test_sampler_shapes_targets_and_determinism(corpus):
    s = BatchSampler(corpus.train, context=16, batch_size=4, seed=3)
    x, y = s.sample()
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    state = s.state_dict()
    nxt = s.sample()
    s2 = BatchSampler(corpus.train, context=16, batch_size=4, seed=99)
    s2.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(nxt, s2.sample()))
    with pytest.raises(ValueError, match="shorter than one window"):
        BatchSampler(torch.arange(10), context=16, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(corpus.train, context=16, batch_size=0)


def test_downloader_checksum_failure_saves_nothing(tmp_path):
    src = tmp_path / "fake.txt"
    src.write_text("not shakespeare")
    dest = tmp_path / "out" / "ts.txt"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_tinyshakespeare(dest, url=src.as_uri())
    assert not dest.exists()
    # the right checksum is accepted and the file written
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    assert download_tinyshakespeare(dest, url=src.as_uri(), sha256=good).read_text() == "not shakespeare"


def test_downloader_offline_error_points_to_bundled_corpus(tmp_path):
    with pytest.raises(ConnectionError, match=r"load_corpus\('kjv'\)"):
        download_tinyshakespeare(tmp_path / "ts.txt")  # the test guard blocks the network


def test_network_is_blocked_in_tests():
    import socket

    with pytest.raises(OSError, match="network access is disabled"):
        socket.create_connection(("203.0.113.1", 80), timeout=1)


def test_aligned_windows_start_at_multiples_of_align():
    data = torch.arange(1000)
    x, y = BatchSampler(data, context=20, batch_size=64, seed=1, align=7).sample()
    assert (x[:, 0] % 7 == 0).all() and (y[:, 0] == x[:, 0] + 1).all() and x[:, 0].max() <= 1000 - 21
    # align=1 draws exactly the windows it always did
    a, _ = BatchSampler(data, context=20, batch_size=8, seed=1).sample()
    b, _ = BatchSampler(data, context=20, batch_size=8, seed=1, align=1).sample()
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="align=0"):
        BatchSampler(data, context=20, batch_size=8, align=0)


def test_unique_subset_takes_evenly_spaced_whole_blocks(corpus):
    sub = unique_subset(corpus, 3 * 4096 + 100)
    assert len(sub.train) == 3 * 4096 + 100 and torch.equal(sub.val, corpus.val)
    assert sub.fingerprint != corpus.fingerprint and sub.vocab_size == corpus.vocab_size
    blocks = [b for b in torch.split(corpus.train, 4096) if len(b) == 4096]
    assert torch.equal(sub.train[:4096], blocks[0]) and torch.equal(sub.train[-100:], blocks[-1][:100])
    assert unique_subset(corpus, 3 * 4096 + 100).fingerprint == sub.fingerprint  # deterministic
    assert unique_subset(corpus, 2 * 4096).fingerprint != sub.fingerprint


@pytest.mark.parametrize("tokens", [4096, 10**9, 5000.0])
def test_unique_subset_refuses_sizes_it_cannot_cut(corpus, tokens):
    with pytest.raises(ValueError, match="unique subset"):
        unique_subset(corpus, tokens)


def test_a_corpus_gives_the_trainer_its_samplers(corpus):
    s = corpus.sampler("val", context=16, batch_size=2, seed=1)
    assert torch.equal(s.sample()[0], BatchSampler(corpus.val, context=16, batch_size=2, seed=1).sample()[0])
    with pytest.raises(ValueError, match="split"):
        corpus.sampler("test", context=16, batch_size=2)
