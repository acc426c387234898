import pytest
import torch

from helpers.model import GPT, GPTConfig, flops_per_token, non_embedding_params


def test_forward_shapes_and_loss():
    cfg = GPTConfig(vocab_size=11, context=8, n_layer=1, n_head=2, d_model=16)
    model = GPT(cfg)
    idx = torch.randint(0, 11, (3, 8))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 8, 11)
    # an untrained model predicts roughly uniformly: loss close to ln(vocab)
    assert abs(loss.item() - torch.log(torch.tensor(11.0)).item()) < 0.3
    assert model(idx)[1] is None


@pytest.mark.parametrize("qk_norm", [False, True])
def test_causal_masking(qk_norm):
    """Logits at position t must not change when tokens after t change."""
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=20, context=16, n_layer=2, n_head=4, d_model=32, qk_norm=qk_norm)
    model = GPT(cfg).eval()
    a = torch.randint(0, 20, (2, 16))
    b = a.clone()
    t = 9
    b[:, t + 1 :] = torch.randint(0, 20, (2, 16 - t - 1))
    la, lb = model(a)[0], model(b)[0]
    assert torch.allclose(la[:, : t + 1], lb[:, : t + 1], atol=1e-6)
    assert not torch.allclose(la[:, t + 1 :], lb[:, t + 1 :])


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"tie_weights": False},
        {"bias": False},
        {"qk_norm": True},
        {"n_layer": 3, "d_model": 48, "n_head": 3, "mlp_ratio": 2},
        {"bias": False, "qk_norm": True, "tie_weights": False},
        {"mlp": False},
        {"mlp": False, "bias": False, "n_layer": 1},
    ],
)
def test_param_count_formula(kw):
    cfg = GPTConfig(vocab_size=37, context=24, **kw)
    counts = GPT(cfg).param_counts()
    assert counts["non_embedding"] == non_embedding_params(cfg)
    emb = (1 if cfg.tie_weights else 2) * cfg.vocab_size * cfg.d_model + cfg.context * cfg.d_model
    assert counts["embedding"] == emb
    assert counts["total"] == sum(p.numel() for p in GPT(cfg).parameters())
    # Kaplan's approximation N ~ 12 n_layer d^2 is the leading term (4 n_layer d^2 without the MLPs)
    leading = 2 * cfg.n_layer * cfg.d_model**2 * (2 + (cfg.mlp_ratio if cfg.mlp else 0))
    assert abs(counts["non_embedding"] / leading - 1) < 0.15


def test_tied_weights_share_storage():
    m = GPT(GPTConfig(vocab_size=10, tie_weights=True))
    assert m.head.weight.data_ptr() == m.tok_emb.weight.data_ptr()
    m2 = GPT(GPTConfig(vocab_size=10, tie_weights=False))
    assert m2.head.weight.data_ptr() != m2.tok_emb.weight.data_ptr()


def test_flops_per_token():
    cfg = GPTConfig(vocab_size=50, context=32, n_layer=2, d_model=64)
    n = non_embedding_params(cfg)
    assert flops_per_token(cfg, attention=False) == 6 * n
    assert flops_per_token(cfg) == 6 * n + 6 * 2 * 32 * 64
    assert flops_per_token(cfg, head=True) == 6 * n + 6 * 2 * 32 * 64 + 6 * 64 * 50


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"d_model": 30, "n_head": 4}, "d_model"),
        ({"context": 0}, "context"),
        ({"vocab_size": 1}, "vocab_size"),
        ({"n_layer": 0}, "n_layer"),
        ({"n_head": 0}, "n_head"),
        ({"dropout": 1.0}, "dropout"),
        ({"mlp_ratio": 0}, "mlp_ratio"),
        ({"d_model": 64.0}, "d_model"),
        ({"mlp": "no"}, "mlp"),
    ],
)
def test_invalid_config_names_field(kw, field):
    with pytest.raises(ValueError, match=rf"GPTConfig\.{field}="):
        GPTConfig(**kw)


def test_divisibility_error_suggests_fix():
    with pytest.raises(ValueError, match="divisible by n_head=4"):
        GPTConfig(d_model=30, n_head=4)


def test_too_long_input_is_a_clear_error():
    model = GPT(GPTConfig(vocab_size=5, context=4))
    with pytest.raises(ValueError, match="longer than the model's context=4"):
        model(torch.zeros(1, 5, dtype=torch.long))


def test_attention_only_blocks_have_no_mlp():
    """mlp=False leaves attention-only layers (Olsson et al.'s models); the default keeps the MLP."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=12, context=8, n_layer=2, mlp=False))
    assert all(b.mlp is None and b.ln2 is None for b in model.blocks)
    assert not any("mlp" in name for name, _ in model.named_parameters())
    idx = torch.randint(0, 12, (2, 8))
    assert model(idx)[0].shape == (2, 8, 12)
    assert all(isinstance(b.mlp, torch.nn.Module) for b in GPT(GPTConfig(vocab_size=12)).blocks)


# ----------------------------------------------------------------------------- what the model exposes to others


def _recombined(attn, h, weights):
    """``proj`` applied to the heads' outputs computed from explicit attention ``weights``."""
    B, T, C = h.shape
    _, _, v = attn.heads(h)
    return attn.proj((weights @ v).transpose(1, 2).reshape(B, T, C))


@pytest.mark.parametrize("kw", [{"mlp": False}, {"qk_norm": True}])
def test_attention_weights_are_the_ones_the_fused_path_applies(kw):
    """Rows sum to 1, nothing is attended in the future, and every layer's fused attention output equals its
    explicit weights applied to the values: ``attention_weights`` reports what ``forward`` computes."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=12, context=16, n_layer=2, n_head=2, d_model=16, **kw)).train()
    idx = torch.randint(0, 12, (3, 10))
    weights = model.attention_weights(idx)
    assert weights.shape == (2, 3, 2, 10, 10) and model.training  # computed in eval mode, mode restored
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 2, 10), atol=1e-6)
    assert (weights.triu(1) == 0).all()
    model.eval()
    with torch.no_grad():
        x = model.embed(idx)
        for block, w in zip(model.blocks, weights):
            h = block.ln1(x)
            assert torch.allclose(_recombined(block.attn, h, w), block.attn(h), atol=1e-6)
            x = block(x)


def test_head_ablation_and_ov_weights():
    """``ablated(h)`` removes exactly head h's output; ``ov_weights(h)`` are the matrices that output goes through."""
    torch.manual_seed(0)
    attn = GPT(GPTConfig(vocab_size=12, context=8, n_layer=1, n_head=2, d_model=16)).blocks[0].attn.eval()
    h = torch.randn(2, 8, 16)
    with torch.no_grad():
        w = attn.weights(h)
        full = attn(h)
        keep = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)  # head 0 zeroed
        with attn.ablated(0):
            assert torch.allclose(attn(h), _recombined(attn, h, w * keep), atol=1e-6)
        assert torch.equal(attn(h), full)  # the ablation ends with the block
        W_V, W_O = attn.ov_weights(1)
        assert W_V.shape == (8, 16) and W_O.shape == (16, 8)
        v1 = h @ W_V.T + attn.qkv.bias[32 + 8 : 32 + 16]
        head1 = (w[:, 1] @ v1) @ W_O.T  # head 1's share of the output, before the projection's bias
        with attn.ablated(0):
            assert torch.allclose(attn(h), head1 + attn.proj.bias, atol=1e-6)
    with pytest.raises(ValueError, match="head=2"):
        attn.ov_weights(2)
