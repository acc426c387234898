"""Best-of-n sampling and over-optimisation: its analytic KL, its exact expected rewards, and Gao et al.'s fits.

- ``best_of_n``: the sampler (draw n responses, keep the one the reward model scores highest);
- ``best_of_n_kl``: KL(best-of-n ‖ base) = log n − (n − 1)/n (Stiennon et al. 2020; Gao et al. 2022);
- ``best_of_n_curve``: exact expected proxy and gold reward of best-of-n from a pool of scored samples;
- ``gao_bon`` / ``gao_rl`` / ``fit_gao`` / ``gao_peak``: Gao et al.'s gold-reward forms d(α − βd)
  (best-of-n) and d(α − β log d) (RL), d = √KL, fitted by least squares, and where they peak.
"""

from __future__ import annotations

import numpy as np
import torch

from ..model import GPT
from .policy import ScalarModel, sample
from .world import PreferenceWorld


def best_of_n_kl(n) -> np.ndarray | float:
    """KL(best-of-n ‖ base) = log n − (n − 1)/n nats (Stiennon et al. 2020; Gao et al. 2022), for n >= 1."""
    arr = np.asarray(n, dtype=float)
    if np.any(arr < 1):
        raise ValueError(f"n={n!r}: best-of-n needs n >= 1")
    out = np.log(arr) - (arr - 1) / arr
    return float(out) if np.ndim(out) == 0 else out


def best_of_n_curve(proxy, gold, ns) -> dict:
    """Expected proxy and gold reward of best-of-n (pick the highest proxy among n samples) for each n in
    ``ns``, computed exactly from a pool of N scored samples: the sample of rank i (ascending proxy) is
    the best of n drawn without replacement with probability C(i−1, n−1)/C(N, n). Returns lists
    ``n``, ``kl`` (analytic), ``proxy``, ``gold``."""
    proxy, gold = np.asarray(proxy, dtype=float), np.asarray(gold, dtype=float)
    if proxy.shape != gold.shape or proxy.ndim != 1 or len(proxy) == 0:
        raise ValueError(f"proxy {proxy.shape} and gold {gold.shape} must be 1-D scores of the same non-empty pool")
    N = len(proxy)
    order = np.argsort(proxy, kind="stable")
    p_sorted, g_sorted = proxy[order], gold[order]
    i = np.arange(1, N + 1)
    out = {"n": [], "kl": [], "proxy": [], "gold": []}
    from scipy.special import gammaln

    for n in ns:
        if not 1 <= n <= N:
            raise ValueError(f"n={n}: must lie in 1..{N}, the size of the pool")
        # log C(i-1, n-1) - log C(N, n), zero weight where i < n
        with np.errstate(invalid="ignore"):
            logw = gammaln(i) - gammaln(n) - gammaln(i - n + 1) - (gammaln(N + 1) - gammaln(n + 1) - gammaln(N - n + 1))
        w = np.where(i >= n, np.exp(np.where(i >= n, logw, 0.0)), 0.0)
        w /= w.sum()
        out["n"].append(int(n))
        out["kl"].append(best_of_n_kl(n))
        out["proxy"].append(float(w @ p_sorted))
        out["gold"].append(float(w @ g_sorted))
    return out


@torch.no_grad()
def best_of_n(policy: GPT, rm: ScalarModel, world: PreferenceWorld, n: int, k: int = 8, seed: int = 0) -> torch.Tensor:
    """The best-of-n sampler: for each of ``k`` requests draw ``n`` responses and keep the one ``rm`` scores
    highest. Returns ``(k, length)`` token ids."""
    if n < 1 or k < 1:
        raise ValueError(f"n={n}, k={k}: both must be at least 1")
    ids = sample(policy, n * k, world.length, seed=seed)
    scores = rm.score(ids.to(next(rm.parameters()).device)).cpu().view(k, n)
    return ids.view(k, n, -1)[torch.arange(k), scores.argmax(1)]


def gao_bon(d, alpha, beta):
    """Gao et al.'s best-of-n form of the gold reward gain: d(α − βd), d = √KL."""
    return d * (alpha - beta * d)


def gao_rl(d, alpha, beta):
    """Gao et al.'s RL form of the gold reward gain: d(α − β log d), d = √KL."""
    return d * (alpha - beta * np.log(np.maximum(d, 1e-12)))


def fit_gao(d, gain, kind: str = "bon") -> tuple[float, float]:
    """Fit (α, β) of ``gao_bon`` (``kind="bon"``) or ``gao_rl`` (``"rl"``) to gold-reward gains over the
    starting policy, ``gain``, at distances ``d`` = √KL (nats^½). Least squares (scipy ``curve_fit``)."""
    from scipy.optimize import curve_fit

    if kind not in ("bon", "rl"):
        raise ValueError(f"kind={kind!r}: choose 'bon' (d(α − βd)) or 'rl' (d(α − β log d))")
    d, gain = np.asarray(d, dtype=float), np.asarray(gain, dtype=float)
    if d.shape != gain.shape or len(d) < 3:
        raise ValueError(f"d {d.shape} and gain {gain.shape}: give the same number (at least 3) of points")
    f = gao_bon if kind == "bon" else gao_rl
    (alpha, beta), _ = curve_fit(f, d, gain, p0=(1.0, 0.1), maxfev=20_000)
    return float(alpha), float(beta)


def gao_peak(alpha: float, beta: float, kind: str = "bon") -> float:
    """The d = √KL at which a fitted Gao curve peaks: α/(2β) for best-of-n, exp(α/β − 1) for RL."""
    if beta <= 0:
        return float("inf")
    return alpha / (2 * beta) if kind == "bon" else float(np.exp(alpha / beta - 1))
