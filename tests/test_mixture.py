import hashlib

import pytest
import torch

from helpers import data
from helpers.mixture import DOMAINS, Mixture, MixtureSampler, domain_losses, load_domains, mixed_corpus
from helpers.model import GPT, GPTConfig
from helpers.train import TrainConfig, Trainer

SHA256 = {  # the checksums recorded in data/corpora/PROVENANCE.md
    "code": "26bddae9311d8fda5c9e222e7e1855e72259135975fe1bda80200bb24120ef98",
    "docs": "02e5f47b3f90246eb83fe6cd10fd355e21e39394b001e76ed68ea533fdef580d",
    "poems": "c88c1bef92c0d94a3182af9b1743e84fe5461e33f171013b81a61fd1550b80bf",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_bundled_domains_match_their_provenance(name):
    path = data.DATA_DIR / "corpora" / f"{name}.txt.gz"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == SHA256[name]
    assert digest in (data.DATA_DIR / "corpora" / "PROVENANCE.md").read_text()


def test_domains_share_the_byte_vocabulary_and_differ_in_kind():
    parts = load_domains()
    assert set(parts) == set(DOMAINS)
    assert {p.vocab_size for p in parts.values()} == {256}
    assert data.load_text("code").startswith("# file: __hello__.py")
    poems = data.load_text("poems")
    assert poems.startswith("《感遇・其一》\n作者：张九龄\n")
    assert len(poems.encode()) / len(poems) > 2.5  # mostly three-byte characters
    assert all(len(p.val) > 4096 for p in parts.values())
    with pytest.raises(ValueError, match="unknown domain"):
        load_domains(["kjv", "klingon"])


def test_mixture_checks_itself_and_parses_text():
    m = Mixture.of("kjv=0.25, code=0.75")
    assert m.names == ("kjv", "code") and m.weight("code") == 0.75 and m.weight("poems") == 0.0
    assert str(m) == "kjv=0.25,code=0.75"
    assert Mixture.uniform().weights == (0.25,) * 4
    with pytest.raises(ValueError, match="sum to 1"):
        Mixture.of({"kjv": 0.5, "code": 0.6})
    with pytest.raises(ValueError, match=">= 0"):
        Mixture.of({"kjv": 1.5, "code": -0.5})
    with pytest.raises(ValueError, match="name=weight"):
        Mixture.of("kjv:0.5,code:0.5")
    with pytest.raises(ValueError, match="repeat"):
        Mixture(("kjv", "kjv"), (0.5, 0.5))


def test_mixture_sampler_draws_rows_with_the_weights_and_resumes():
    streams = [torch.zeros(500, dtype=torch.long), torch.ones(500, dtype=torch.long)]
    s = MixtureSampler(streams, [0.2, 0.8], context=8, batch_size=1000, seed=0)
    x, y = s.sample()
    assert x.shape == y.shape == (1000, 8)
    assert torch.equal(x[:, 0], s.last_domains)  # each row comes from the stream it says
    assert abs(s.last_domains.float().mean().item() - 0.8) < 0.05
    state = s.state_dict()
    nxt = s.sample()
    again = MixtureSampler(streams, [0.2, 0.8], context=8, batch_size=1000, seed=5)
    again.load_state_dict(state)
    assert torch.equal(again.sample()[0], nxt[0])
    with pytest.raises(ValueError, match="positive sum"):
        MixtureSampler(streams, [0.0, 0.0], context=8, batch_size=4)
    with pytest.raises(ValueError, match="shorter than one window"):
        MixtureSampler([torch.zeros(5, dtype=torch.long)], [1.0], context=8, batch_size=4)


def test_mixed_corpus_trains_through_the_trainer_and_is_scored_per_domain():
    parts = load_domains()
    corpus = mixed_corpus("code=0.5,docs=0.5", parts)
    assert set(corpus.parts) == {"code", "docs"}
    assert corpus.fingerprint != mixed_corpus("code=0.4,docs=0.6", parts).fingerprint
    with pytest.raises(ValueError, match="not among the parts"):
        mixed_corpus("code=0.5,poems=0.5", {"code": parts["code"]})
    model = GPT(GPTConfig(vocab_size=256, context=16, n_layer=1, n_head=2, d_model=16))
    trainer = Trainer(model, corpus, TrainConfig(steps=3, batch_size=4, warmup_steps=1, eval_every=0, progress=False))
    trainer.fit()
    assert set(trainer.sampler.last_domains.tolist()) <= {0, 1}
    losses = domain_losses(model, parts, batch_size=4, batches=2)
    assert set(losses) == set(DOMAINS) and all(0 < v < 10 for v in losses.values())
    assert losses == domain_losses(model, parts, batch_size=4, batches=2)  # fixed batches
