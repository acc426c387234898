import math

import pytest
import torch

from helpers.doremi import DoReMi, token_losses
from helpers.mixture import load_domains, mixed_corpus
from helpers.model import GPT, GPTConfig
from helpers.train import TrainConfig, Trainer

TINY = GPTConfig(vocab_size=256, context=16, n_layer=1, n_head=2, d_model=16)


def test_token_losses_average_to_the_models_loss():
    torch.manual_seed(0)
    model = GPT(TINY)
    x = torch.randint(256, (3, 16))
    y = torch.randint(256, (3, 16))
    logits, loss = model(x, y)
    per_token = token_losses(logits, y)
    assert per_token.shape == (3, 16)
    assert torch.allclose(per_token.mean(), loss)


def test_the_weight_update_follows_the_reference_rule():
    game = DoReMi(GPT(TINY), sampling=[0.5, 0.5], eta=1.0, smoothing=0.1)
    excess = torch.tensor([[1.0, 3.0], [-2.0, -1.0]])  # row 0 from domain 0, row 1 from domain 1
    game.update(excess, torch.tensor([0, 1]))
    lam = torch.tensor([2.0, 0.0])  # clipped at 0 before the mean
    expected = 0.9 * torch.softmax(torch.log(torch.tensor([0.5, 0.5])) + lam, 0) + 0.1 / 2
    assert torch.allclose(game.alpha, expected)
    game.update(torch.tensor([[0.5, 0.5]]), torch.tensor([0]))  # domain 1 absent: keeps its last excess
    assert game.excess.tolist() == [0.5, 0.0]
    assert len(game.weights) == 2 and math.isclose(sum(game.average), 1.0, abs_tol=1e-6)
    with pytest.raises(ValueError, match="eta"):
        DoReMi(GPT(TINY), sampling=[0.5, 0.5], eta=0)
    with pytest.raises(ValueError, match="positive sampling weight"):
        DoReMi(GPT(TINY), sampling=[1.0, 0.0])
    with pytest.raises(ValueError, match="no steps"):
        _ = DoReMi(GPT(TINY), sampling=[0.5, 0.5]).average


def test_a_proxy_trains_through_the_trainer_and_moves_the_weights_off_uniform():
    parts = load_domains(["kjv", "poems"])
    corpus = mixed_corpus("kjv=0.5,poems=0.5", parts)
    cfg = TrainConfig(steps=20, batch_size=8, warmup_steps=2, eval_every=0, progress=False)
    torch.manual_seed(0)
    reference = GPT(TINY)
    Trainer(reference, mixed_corpus("kjv=0.5,poems=0.5", parts), cfg).fit()  # a reference that learned both
    torch.manual_seed(1)
    proxy = GPT(TINY)
    game = DoReMi(reference, sampling=[0.5, 0.5])
    trainer = Trainer(proxy, corpus, cfg, callbacks=[game])
    trainer.fit()
    assert len(game.weights) == 20 and all(p.requires_grad for p in proxy.parameters())
    assert not any(p.requires_grad for p in reference.parameters())
    assert game.average != [0.5, 0.5] and math.isclose(sum(game.average), 1.0, abs_tol=1e-6)
    assert all(len(w) == 2 for w in game.weights)
