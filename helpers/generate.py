"""Sampling text from a trained model: temperature and top-k."""

from __future__ import annotations

import textwrap

import torch


@torch.no_grad()
def generate(
    model,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    stop: int | None = None,
) -> torch.Tensor:
    """Extend ``idx`` (shape ``(B, T)``) by ``max_new_tokens`` sampled tokens.

    ``temperature`` divides the logits (below 1: safer, above 1: wilder; 0 means greedy);
    ``top_k`` keeps only the k most likely tokens before sampling. Pass a seeded ``generator``
    for reproducible samples. The context is cropped to the model's window as it grows.
    """
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens}: must be >= 0")
    if temperature < 0:
        raise ValueError(f"temperature={temperature}: must be >= 0 (0 means greedy decoding)")
    vocab = model.cfg.vocab_size
    if top_k is not None and not 1 <= top_k <= vocab:
        raise ValueError(f"top_k={top_k}: must lie in 1..vocab_size={vocab}, or be None for no cut")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    idx = idx.to(device)
    done = None  # rows that have produced ``stop``
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.cfg.context :])
        logits = logits[:, -1, :].float()
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k).values[:, -1, None]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1).cpu()
            nxt = torch.multinomial(probs, 1, generator=generator).to(device)
        idx = torch.cat([idx, nxt], dim=1)
        if stop is not None:
            done = nxt[:, 0] == stop if done is None else done | (nxt[:, 0] == stop)
            if bool(done.all()):
                break
    model.train(was_training)
    return idx


def sample_text(
    model,
    tokenizer,
    prompt: str = "\n",
    max_new_tokens: int = 200,
    temperature: float = 0.8,
    top_k: int | None = None,
    seed: int = 0,
    width: int | None = None,
) -> str:
    """Convenience wrapper: encode ``prompt``, sample with a seeded generator, decode the whole string.
    With ``width``, long lines are wrapped at that many characters (for printing in the book)."""
    ids = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long)
    if ids.numel() == 0:
        raise ValueError("prompt is empty: give at least one character to start from")
    gen = torch.Generator().manual_seed(seed)
    out = generate(model, ids, max_new_tokens, temperature=temperature, top_k=top_k, generator=gen)
    text = tokenizer.decode(out[0].tolist())
    if width is not None:
        text = "\n".join(textwrap.fill(line, width) if line else line for line in text.split("\n"))
    return text
