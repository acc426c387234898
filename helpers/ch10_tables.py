"""Chapter 10's cached results, gathered for its claims, and its tables (Markdown, ``helpers.book.report``).

- ``cached_point``: one point of sweep ``ch10_overopt``;
- ``newline_share``: how often a policy cuts its responses short with a newline;
- ``bon_fit``: Gao et al.'s best-of-n form fitted to a reward model's mean curve, with its peaks;
  ``rl_points``: every PPO evaluation as (d, gold gain), and each run's final rewards;
- tables ``policy_table`` (SFT, PPO and DPO side by side), ``bon_table``, ``bon_fit_table``, ``paper_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from IPython.display import Markdown

from .book.report import md_table
from .model import GPT
from .rl import PreferenceWorld, fit_gao, gao_peak, sample


def cached_point(rows: Sequence[dict], pairs: int, seed: int = 0, kl_coef: float = 0.05) -> dict:
    """The metrics of the point of sweep ``ch10_overopt`` (``rows``) with a reward model on ``pairs``
    labelled pairs of seed ``seed`` and PPO at ``kl_coef``. Raises ``KeyError`` naming the point if absent."""
    want = {"pairs": pairs, "seed": seed, "kl_coef": kl_coef}
    for r in rows:
        if r["point"] == want:
            return r["metrics"]
    raise KeyError(f"sweep ch10_overopt has no point {want}; rerun `python -m helpers.sweep ch10_overopt`")


def newline_share(model: GPT, world: PreferenceWorld, n: int = 2000, seed: int = 1) -> tuple[float, list[str]]:
    """The share of ``n`` sampled responses with a newline (token 0, shown as |) inside them, and the first
    four of those responses."""
    ids = sample(model, n, world.length, seed=seed)
    cut = (ids == 0).any(1)
    return float(cut.float().mean()), world.decode(ids[cut][:4])


def policy_table(sft_eval: Mapping, rm_acc: float, ppo: Mapping, dpo_eval: Sequence, dpo_acc: Sequence) -> Markdown:
    """Proxy reward, gold reward, KL to SFT and held-out pair accuracy of the SFT policy (``sft_eval``),
    each PPO run (``ppo``: KL coefficient -> result; accuracy is the reward model's ``rm_acc``) and each
    DPO seed (``dpo_eval``, with its implicit reward's accuracy ``dpo_acc``)."""
    rows = [["SFT", sft_eval["proxy"], sft_eval["gold"], 0.0, rm_acc]]
    for kl, res in ppo.items():
        h = res.history.records
        rows.append([f"PPO, β_KL = {kl}", h["proxy"][-1], h["gold"][-1], h["kl"][-1], rm_acc])
    for s, (e, a) in enumerate(zip(dpo_eval, dpo_acc)):
        rows.append([f"DPO, β = 0.1, seed {s}", e["proxy"], e["gold"], e["kl"], a])
    return md_table(
        ["policy", "proxy reward", "gold reward", "KL to SFT (nats)", "held-out pair accuracy"],
        # round(p, 1) + 0.0 prints -0.04 as +0.0, not -0.0
        [[n, f"{round(p, 1) + 0.0:+.1f}", f"{g:.1f}", f"{k:.1f}", f"{a:.2f}"] for n, p, g, k, a in rows],
    )


def bon_table(bon: Mapping) -> Markdown:
    """The best-of-n curve (``rl.best_of_n_curve``): KL, proxy and gold reward at each n."""
    rows = [
        [n, f"{k:.2f}", f"{p:+.2f}", f"{g:.2f}"] for n, k, p, g in zip(bon["n"], bon["kl"], bon["proxy"], bon["gold"])
    ]
    return md_table(["n", "KL (nats)", "proxy reward", "gold reward"], rows)


def bon_fit(curves: Sequence[Mapping]) -> dict:
    """Gao et al.'s best-of-n form d(α − βd) fitted to the mean over seeds of ``curves`` (one reward model's
    best-of-n curves, one per seed): the distances ``d`` = √KL, the mean gold ``gain`` over SFT and mean
    ``proxy``, the fit's ``alpha``, ``beta`` and peak ``peak_d``, the n at which the mean gain peaks
    (``peak_n``) and each seed's peak n (``seed_peaks``)."""
    ns = curves[0]["n"]
    d = np.sqrt(curves[0]["kl"])
    gain = np.mean([np.array(c["gold"]) - c["gold"][0] for c in curves], axis=0)
    alpha, beta = fit_gao(d, gain, "bon")
    return {
        "d": d,
        "gain": gain,
        "proxy": np.mean([c["proxy"] for c in curves], axis=0),
        "alpha": alpha,
        "beta": beta,
        "peak_d": gao_peak(alpha, beta, "bon"),
        "peak_n": ns[int(np.argmax(gain))],
        "seed_peaks": [ns[int(np.argmax(c["gold"]))] for c in curves],
    }


def bon_fit_table(fits: Mapping[int, Mapping]) -> Markdown:
    """One row per number of labelled pairs in ``fits`` (pairs -> ``bon_fit``): α, β, the fitted peak d,
    the mean curve's peak n and each seed's."""
    rows = [
        [f"{p:,}", f"{f['alpha']:.2f}", f"{f['beta']:.2f}", f"{f['peak_d']:.2f}", f["peak_n"]]
        + [", ".join(map(str, f["seed_peaks"]))]
        for p, f in fits.items()
    ]
    return md_table(["pairs", "α", "β", "fitted peak d", "peak n (mean curve)", "peak n per seed"], rows)


def rl_points(runs: Mapping[float, Mapping]) -> tuple[list, list, list]:
    """From PPO runs (``runs``: KL coefficient -> the run's evaluation curves), every evaluation after the
    first as a distance d = √KL and a gold reward gain over the start, and each run's final
    [coefficient, proxy, gold, KL]."""
    ds, gains, finals = [], [], []
    for k, h in runs.items():
        d = np.sqrt(np.maximum(h["kl"], 0))
        ds += list(d[1:])
        gains += list(np.array(h["gold"][1:]) - h["gold"][0])
        finals.append([k, h["proxy"][-1], h["gold"][-1], h["kl"][-1]])
    return ds, gains, finals


def paper_table(published: Mapping, ours: Mapping) -> Markdown:
    """The chapter's results beside the papers' (``PUBLISHED``). ``ours`` holds ``acc_by`` (pairs -> reward
    model accuracies), ``ceiling``, ``leash_gold`` and ``gold_sft``, ``finals`` (``rl_points``),
    ``dpo_eval``, ``bon_peak_n``, ``peak_d`` (pairs -> fitted best-of-n peak) and ``alpha_rl``, ``beta_rl``."""
    g, o = published, ours
    acc_by, peak_d = o["acc_by"], o["peak_d"]
    lo, hi = min(acc_by), max(acc_by)
    best_coef = max(o["finals"], key=lambda f: f[2])[0]
    rows = [
        [
            "reward model",
            f"Bradley–Terry, {g['christiano_bt']['rule']} ({g['christiano_bt']['name']})",
            f"same loss; held-out accuracy {np.mean(acc_by[lo]):.2f} ({lo:,} pairs) to "
            f"{np.mean(acc_by[hi]):.2f} ({hi:,} pairs), ceiling {o['ceiling']:.2f}",
        ],
        [
            "KL coefficient",
            f"β_KL = {g['instructgpt']['kl_coef']} ({g['instructgpt']['name']})",
            f"β_KL = 0.05 (gold {o['leash_gold']:.1f} vs SFT {o['gold_sft']:.1f}); best in sweep: {best_coef}",
        ],
        ["PPO clip", f"ε = {g['ppo']['clip']} ({g['ppo']['name']})", "ε = 0.2"],
        [
            "DPO β",
            f"{g['dpo']['beta_low']} to {g['dpo']['beta_high']} ({g['dpo']['name']})",
            f"β = 0.1: gold {np.mean([e['gold'] for e in o['dpo_eval']]):.1f}, "
            f"KL {np.mean([e['kl'] for e in o['dpo_eval']]):.1f} nats",
        ],
        [
            "best-of-n gold",
            f"{g['gao']['bon']}, peaks ({g['gao']['name']})",
            f"peaks at n = {o['bon_peak_n']}; fitted peak d {peak_d[lo]:.2f} ({lo:,}) to {peak_d[hi]:.2f} ({hi:,})",
        ],
        ["RL gold", f"{g['gao']['rl']}, peaks", f"α = {o['alpha_rl']:.2f}, β = {o['beta_rl']:.2f}"],
    ]
    return md_table(["", "paper", "ours"], rows)
