"""Learning from human preferences (人类偏好对齐) at toy scale: chapter 10's world, reward model, PPO and DPO.

The world, ``PreferenceWorld``, replaces the human labeller by a hidden **gold** reward over short
strings, so that the chapter can measure what real RLHF cannot: the gap between the reward a policy
optimises (the learned *proxy*) and the true one.

- A response is ``length`` letters from ``letters``. Its gold reward counts the ``target`` letter and
  subtracts ``penalty`` for every doubled target (``"aa"``): more ``a`` is better, but not side by side.
  Demonstrations and the policy's own samples seldom double the letter, so a reward model trained on
  them sees few doubled letters and can learn "more ``a`` is better" without the penalty: a hackable
  proxy feature that a policy pushed hard enough will exploit.
- ``pretrain_corpus`` (random strings) and ``sft_corpus`` (strings with a high gold reward, the
  demonstrations) train the policy with ``helpers.train.train``; ``label_pairs`` plays the labeller, a
  Bradley–Terry model on the gold reward with temperature ``noise``.

The methods, each a few lines over ``helpers.model.GPT``:

- ``ScalarModel``: a GPT body with a scalar head (reward model, 奖励模型; or value model, 价值模型);
  ``bradley_terry_loss`` and ``train_reward_model`` (cached), ``preference_accuracy``;
- ``sample``, ``response_logprobs``, ``kl_k1`` / ``kl_k3`` (KL estimators), ``gae`` (generalised advantage
  estimation), ``ppo_clip_loss`` (the clipped surrogate) and ``train_ppo`` (PPO with a per-token KL penalty
  to the SFT policy, cached);
- ``dpo_loss`` and ``train_dpo`` (cached);
- ``best_of_n_kl`` (the analytic KL, log n − (n−1)/n), ``best_of_n_curve`` (exact expected rewards of
  best-of-n from a pool of samples) and ``best_of_n``;
- ``fit_gao``: Gao et al.'s gold-reward forms d(α − βd) (best-of-n) and d(α − β log d) (RL), d = √KL;
- ``overoptimisation_run``: a ``helpers.sweep`` runner (reward model on ``pairs`` pairs, best-of-n and PPO).
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .cache import ResultCache, cached_call, code_version
from .data import Corpus
from .generate import generate
from .model import GPT, GPTConfig
from .tokenizer import CharTokenizer
from .train import TrainConfig, seed_everything, select_device, state_fingerprint, train

# ============================================================================ the world


@dataclass
class PreferenceWorld:
    """Strings of ``length`` letters and a hidden gold reward: +1 per ``target`` letter, −``penalty`` per
    doubled target (overlapping pairs: ``"aaa"`` holds two). Labels come from a Bradley–Terry labeller with
    temperature ``noise`` (0: always prefers the higher gold reward). Invalid values raise ``ValueError``."""

    length: int = 12
    letters: str = "abcdefgh"
    target: str = "a"
    penalty: float = 2.0
    demo_bias: float = 0.125  # the demonstrator writes the target letter with this probability...
    demo_threshold: float = 3.0  # ...and keeps only strings with at least this gold reward
    noise: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValueError(f"PreferenceWorld.{name}={getattr(self, name)!r}: {message}")

        need(isinstance(self.length, int) and self.length >= 2, "length", "a response needs at least 2 letters")
        need(len(set(self.letters)) == len(self.letters) >= 2, "letters", "give at least 2 distinct letters")
        need("\n" not in self.letters, "letters", "the newline starts every response; leave it out")
        need(len(self.target) == 1 and self.target in self.letters, "target", f"pick one of {self.letters!r}")
        need(self.penalty >= 0, "penalty", "must be >= 0 (0: doubled letters cost nothing)")
        need(0 < self.demo_bias < 1, "demo_bias", "must lie in (0, 1)")
        need(self.noise >= 0, "noise", "the labeller's temperature must be >= 0 (0: noiseless labels)")

    @property
    def line_length(self) -> int:
        """Tokens per line: the newline that starts a response, then ``length`` letters."""
        return self.length + 1

    def tokenizer(self) -> CharTokenizer:
        """A character tokenizer over the newline and the letters (id 0 is the newline)."""
        return CharTokenizer("\n" + self.letters)

    def model_config(self, d_model: int = 32, n_layer: int = 2, n_head: int = 4) -> GPTConfig:
        """A GPT that reads a newline and a whole response (context = ``line_length``)."""
        return GPTConfig(
            vocab_size=len(self.letters) + 1, context=self.line_length, n_layer=n_layer, n_head=n_head, d_model=d_model
        )

    def random_strings(self, n: int, seed: int, bias: float | None = None) -> list[str]:
        """``n`` strings of random letters: uniform (what pretraining sees), or with the target letter at
        probability ``bias`` and the others uniform."""
        rng = np.random.default_rng(seed)
        letters = np.array(list(self.letters))
        k = len(letters)
        p = None
        if bias is not None:
            p = np.full(k, (1 - bias) / (k - 1))
            p[self.letters.index(self.target)] = bias
        return ["".join(row) for row in letters[rng.choice(k, (n, self.length), p=p)]]

    def gold(self, strings) -> np.ndarray:
        """The gold reward of each string (a list of strings, or token ids of shape ``(B, length)``)."""
        if isinstance(strings, torch.Tensor):
            strings = self.decode(strings)
        t, tt = self.target, self.target * 2
        doubled = [sum(s[i : i + 2] == tt for i in range(len(s) - 1)) for s in strings]
        return np.array([s.count(t) - self.penalty * d for s, d in zip(strings, doubled)], dtype=float)

    def demonstrations(self, n: int, seed: int) -> list[str]:
        """``n`` demonstrations (the SFT data): strings with the target letter at probability ``demo_bias``,
        kept only when their gold reward reaches ``demo_threshold`` (good answers, written by people)."""
        out, k = [], 0
        while len(out) < n:
            batch = self.random_strings(20_000, seed * 1000 + k, bias=self.demo_bias)
            out += [s for s, g in zip(batch, self.gold(batch)) if g >= self.demo_threshold]
            k += 1
            if k > 50 and not out:
                raise ValueError(f"demo_threshold={self.demo_threshold}: no string reaches it; lower it")
        return out[:n]

    def _corpus(self, name: str, strings: list[str], val: list[str]) -> Corpus:
        tok = self.tokenizer()
        texts = ["".join("\n" + s for s in part) + "\n" for part in (strings, val)]
        fp = hashlib.sha256("\0".join([repr(asdict(self)), name, *texts]).encode()).hexdigest()
        ids = [torch.tensor(tok.encode(t), dtype=torch.long) for t in texts]
        return Corpus(name, tok, ids[0], ids[1], fp, align=self.line_length)

    def pretrain_corpus(self, n: int = 20_000) -> Corpus:
        """Random strings, one per line: pretraining teaches the format and the letters."""
        return self._corpus("ch10-pretrain", self.random_strings(n, self.seed), self.random_strings(n // 10, 99))

    def sft_corpus(self, n: int = 4_000) -> Corpus:
        """Demonstrations (``demonstrations``), one per line: the data of supervised fine-tuning."""
        return self._corpus("ch10-sft", self.demonstrations(n, self.seed + 1), self.demonstrations(n // 10, 98))

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Response token ids ``(B, length)`` to strings (a newline inside a response shows as ``|``)."""
        tok = self.tokenizer()
        return [tok.decode(row).replace("\n", "|") for row in ids.tolist()]

    def label_pairs(self, a: torch.Tensor, b: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The labeller: for each pair of responses ``(a[i], b[i])`` prefer a with probability
        σ((gold(a) − gold(b)) / noise) (Bradley–Terry). Returns ``(chosen, rejected)``."""
        _check_pairs(a, b, "a", "b")
        diff = self.gold(a) - self.gold(b)
        rng = np.random.default_rng(seed)
        if self.noise == 0:
            p = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
        else:
            p = 1 / (1 + np.exp(-diff / self.noise))
        first = torch.from_numpy(rng.random(len(diff)) < p)[:, None]
        return torch.where(first, a, b), torch.where(first, b, a)

    def label_ceiling(self, a: torch.Tensor, b: torch.Tensor) -> float:
        """The best accuracy any reward model can reach on this labeller's noisy labels of these pairs:
        the mean of max(p, 1 − p), p the labeller's probability of preferring ``a``."""
        diff = self.gold(a) - self.gold(b)
        if self.noise == 0:
            return float(np.mean(np.where(diff == 0, 0.5, 1.0)))
        p = 1 / (1 + np.exp(-np.abs(diff) / self.noise))
        return float(p.mean())


def _check_pairs(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same shape")
    if a.shape[0] == 0:
        raise ValueError(f"the preference set is empty ({name_a} has no rows); label at least one pair")


def _prompt(n: int, device=None) -> torch.Tensor:
    return torch.zeros(n, 1, dtype=torch.long, device=device)  # id 0: the newline that starts a response


# ============================================================================ models and log-probabilities


def hidden_states(gpt: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The last LayerNorm's output of ``gpt`` for ``idx``: ``(B, T, d_model)`` (what its head reads)."""
    pos = torch.arange(idx.shape[1], device=idx.device)
    x = gpt.drop(gpt.tok_emb(idx) + gpt.pos_emb(pos))
    for block in gpt.blocks:
        x = block(x)
    return gpt.ln_f(x)


class ScalarModel(nn.Module):
    """A GPT body with a scalar head: one number per position. As a **reward model** its score of a
    response is the number at the last position; as a **value model** each position's number estimates
    the return from there. ``offset`` and ``scale`` (buffers) standardise scores, set by ``normalise``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.body = GPT(cfg)
        self.head = nn.Linear(cfg.d_model, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("offset", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    @classmethod
    def from_lm(cls, lm: GPT) -> ScalarModel:
        """A scalar model whose body starts from ``lm``'s weights (InstructGPT starts its reward model from
        the SFT model)."""
        m = cls(lm.cfg)
        m.body.load_state_dict(lm.state_dict())
        return m

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, T)`` for token ids ``(B, T)``."""
        return (self.head(hidden_states(self.body, idx)).squeeze(-1) - self.offset) / self.scale

    def score(self, responses: torch.Tensor) -> torch.Tensor:
        """The reward of each response ``(B, length)``: the score after the newline and the whole response."""
        seq = torch.cat([_prompt(len(responses), responses.device), responses], dim=1)
        return self(seq)[:, -1]

    @torch.no_grad()
    def normalise(self, responses: torch.Tensor) -> None:
        """Shift and scale scores so that ``responses`` (e.g. SFT samples) score mean 0, std 1."""
        self.offset.zero_(), self.scale.fill_(1.0)
        r = self.score(responses)
        self.offset.fill_(float(r.mean())), self.scale.fill_(float(r.std().clamp_min(1e-6)))


@torch.no_grad()
def sample(policy: GPT, n: int, length: int, seed: int = 0, batch: int = 4096) -> torch.Tensor:
    """``n`` responses ``(n, length)`` sampled from ``policy`` at temperature 1 after the newline prompt."""
    if n < 1:
        raise ValueError(f"n={n}: sample at least one response")
    gen = torch.Generator().manual_seed(seed)
    device = next(policy.parameters()).device
    out = [
        generate(policy, _prompt(min(batch, n - i), device), length, generator=gen)[:, 1:] for i in range(0, n, batch)
    ]
    return torch.cat(out).cpu()


def response_logprobs(model: GPT, responses: torch.Tensor) -> torch.Tensor:
    """Per-token log-probabilities ``(B, length)`` that ``model`` gives ``responses`` after the newline."""
    seq = torch.cat([_prompt(len(responses), responses.device), responses], dim=1)
    logits, _ = model(seq[:, :-1])
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, responses[..., None]).squeeze(-1)


def kl_k1(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """The plain KL estimator: for responses sampled from the policy, log π − log π_ref summed over tokens.
    Unbiased for KL(π ‖ π_ref) but noisy (single samples can be negative). Shapes ``(B, T)`` -> ``(B,)``."""
    if logp.shape != logp_ref.shape:
        raise ValueError(f"logp {tuple(logp.shape)} and logp_ref {tuple(logp_ref.shape)} must match")
    return (logp - logp_ref).sum(-1)


def kl_k3(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """Schulman's low-variance estimator, per token (r − 1) − log r with r = π_ref / π: unbiased and never
    negative. Shapes ``(B, T)`` -> ``(B,)``."""
    if logp.shape != logp_ref.shape:
        raise ValueError(f"logp {tuple(logp.shape)} and logp_ref {tuple(logp_ref.shape)} must match")
    log_r = logp_ref - logp
    return (torch.expm1(log_r) - log_r).sum(-1)


# ============================================================================ reward model


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of −log σ(r_chosen − r_rejected): the reward model's loss on labelled pairs (Christiano et al.
    2017; Ouyang et al. 2022)."""
    _check_pairs(r_chosen, r_rejected, "r_chosen", "r_rejected")
    return -F.logsigmoid(r_chosen - r_rejected).mean()


@torch.no_grad()
def preference_accuracy(rm: ScalarModel, chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    """Share of pairs in which ``rm`` scores the chosen response above the rejected one (ties count half)."""
    _check_pairs(chosen, rejected, "chosen", "rejected")
    d = rm.score(chosen) - rm.score(rejected)
    return float(((d > 0).float() + 0.5 * (d == 0).float()).mean())


@dataclass
class FitResult:
    """A trained model (reward model or policy), its per-step losses, and any curves recorded on the way."""

    model: nn.Module
    losses: list[float]
    seconds: float
    cached: bool
    history: dict = field(default_factory=dict)


def _pairs_fingerprint(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode() + t.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def train_reward_model(
    sft: GPT,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    normalise_on: torch.Tensor | None = None,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> FitResult:
    """Train a ``ScalarModel`` started from ``sft`` on labelled pairs with the Bradley–Terry loss (AdamW,
    ``epochs`` passes in random order). With ``normalise_on`` (e.g. SFT samples) the scores are then
    standardised on those responses. Cached on the pairs, the starting weights and this module's code."""
    _check_pairs(chosen, rejected, "chosen", "rejected")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"epochs={epochs}, batch_size={batch_size}, lr={lr}: all must be positive")
    device = select_device()
    norm = normalise_on if normalise_on is not None else torch.zeros(0, chosen.shape[1], dtype=torch.long)
    what = {
        "reward_model": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed},
        "init": state_fingerprint(sft),
        "pairs": _pairs_fingerprint(chosen, rejected, norm),
        "device": device.type,
    }

    def compute() -> dict:
        seed_everything(seed)
        rm = ScalarModel.from_lm(sft).to(device).train()
        opt = torch.optim.AdamW(rm.parameters(), lr=lr, weight_decay=0.0)
        gen = torch.Generator().manual_seed(seed)
        losses, n = [], len(chosen)
        steps = epochs * max(1, math.ceil(n / batch_size))
        t0 = time.perf_counter()
        bar = tqdm(total=steps, desc="reward model", unit="step", mininterval=0.5, disable=not progress)
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, batch_size):
                j = order[i : i + batch_size]
                loss = bradley_terry_loss(rm.score(chosen[j].to(device)), rm.score(rejected[j].to(device)))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(rm.parameters(), 1.0)
                opt.step()
                losses.append(loss.detach())
                bar.update(1)
        bar.close()
        rm.eval()
        if len(norm):
            rm.normalise(norm.to(device))
        state = {k: v.detach().cpu() for k, v in rm.state_dict().items()}
        return {"state": state, "losses": torch.stack(losses).cpu().tolist(), "seconds": time.perf_counter() - t0}

    payload, hit = cached_call(what, compute, cache, code_version("rl.py"))
    rm = ScalarModel(sft.cfg)
    rm.load_state_dict(payload["state"])
    return FitResult(rm.to(device).eval(), payload["losses"], payload["seconds"], hit)


# ============================================================================ PPO


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float = 1.0, lam: float = 0.95):
    """Generalised advantage estimation (Schulman et al. 2016) over ``(B, T)`` per-token rewards and values
    (the episode ends after the last token, whose next value is 0): δ_t = r_t + γ V_{t+1} − V_t and
    A_t = Σ_k (γλ)^k δ_{t+k}. Returns ``(advantages, returns)``, returns = advantages + values."""
    if rewards.shape != values.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} must match")
    if not (0 <= gamma <= 1 and 0 <= lam <= 1):
        raise ValueError(f"gamma={gamma}, lam={lam}: both must lie in [0, 1]")
    T = rewards.shape[1]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    return adv, adv + values


def ppo_clip_loss(logp: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, clip: float = 0.2):
    """PPO's clipped surrogate (Schulman et al. 2017), as a loss to minimise:
    −mean(min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)) with ρ = exp(logp − logp_old)."""
    if not (logp.shape == logp_old.shape == advantages.shape):
        raise ValueError(
            f"logp {tuple(logp.shape)}, logp_old {tuple(logp_old.shape)} and advantages {tuple(advantages.shape)} "
            "must have the same shape (one entry per token)"
        )
    if clip <= 0:
        raise ValueError(f"clip={clip}: the clip range ε must be positive (0.2 is usual)")
    ratio = torch.exp(logp - logp_old)
    return -torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()


@dataclass
class PPOConfig:
    """PPO with a per-token KL penalty to the SFT policy. Invalid values raise ``ValueError``."""

    kl_coef: float = 0.05  # β of r − β log(π/π_SFT)
    iterations: int = 80  # rounds of sampling, then updating
    rollouts: int = 128  # responses sampled per iteration
    epochs: int = 2  # passes over each round's rollouts
    minibatch: int = 64
    lr: float = 3e-4
    clip: float = 0.2
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValueError(f"PPOConfig.{name}={getattr(self, name)!r}: {message}")

        need(self.kl_coef >= 0, "kl_coef", "the KL coefficient must be >= 0 (0: no leash)")
        for name in ("iterations", "rollouts", "epochs", "minibatch"):
            need(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, name, "must be a positive integer")
        need(self.minibatch <= self.rollouts, "minibatch", f"must be <= rollouts={self.rollouts}")
        need(self.lr > 0, "lr", "the learning rate must be positive")
        need(self.clip > 0, "clip", "the clip range must be positive (0.2 is usual)")


@torch.no_grad()
def evaluate_policy(policy: GPT, sft: GPT, rm: ScalarModel, world: PreferenceWorld, n: int = 512, seed: int = 1):
    """Mean proxy reward, gold reward and KL(π ‖ π_SFT) (k1 estimate, nats) of ``n`` fresh samples."""
    ids = sample(policy, n, world.length, seed=seed).to(next(policy.parameters()).device)
    kl = kl_k1(response_logprobs(policy, ids), response_logprobs(sft, ids))
    return {
        "proxy": float(rm.score(ids).mean()),
        "gold": float(world.gold(ids.cpu()).mean()),
        "kl": float(kl.mean()),
    }


def train_ppo(
    sft: GPT,
    rm: ScalarModel,
    world: PreferenceWorld,
    cfg: PPOConfig,
    *,
    eval_every: int = 5,
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> FitResult:
    """Fine-tune a copy of ``sft`` with PPO to maximise ``rm``'s reward minus ``cfg.kl_coef`` times the
    per-token log-ratio to ``sft`` (InstructGPT's objective without the pretraining term). A value model
    (``ScalarModel`` from ``sft``) learns the returns; advantages come from ``gae`` and are whitened.
    ``history`` holds the iteration, proxy reward, gold reward and KL of fresh samples every ``eval_every``
    iterations. Cached on the configs, the starting weights, the reward model and this module's code."""
    device = select_device()
    what = {
        "ppo": asdict(cfg),
        "world": asdict(world),
        "init": state_fingerprint(sft),
        "rm": state_fingerprint(rm),
        "eval_every": eval_every,
        "device": device.type,
    }

    def compute() -> dict:
        seed_everything(cfg.seed)
        ref = copy.deepcopy(sft).to(device).eval()
        policy = copy.deepcopy(sft).to(device)
        value = ScalarModel.from_lm(sft).to(device)
        opt = torch.optim.Adam([*policy.parameters(), *value.parameters()], lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        history = {"iteration": [], "proxy": [], "gold": [], "kl": []}
        losses = []

        def record(it: int) -> None:
            for k, v in evaluate_policy(policy, ref, rm, world, seed=10_000 + it).items():
                history[k].append(round(v, 5))
            history["iteration"].append(it)

        t0 = time.perf_counter()
        record(0)
        for it in tqdm(range(1, cfg.iterations + 1), desc="PPO", unit="it", mininterval=0.5, disable=not progress):
            with torch.no_grad():
                policy.eval()
                ids = sample(policy, cfg.rollouts, world.length, seed=int(torch.randint(1 << 30, (1,), generator=gen)))
                ids = ids.to(device)
                logp_old = response_logprobs(policy, ids)
                logp_ref = response_logprobs(ref, ids)
                seq = torch.cat([_prompt(len(ids), device), ids], dim=1)
                values = value(seq[:, :-1])
                rewards = -cfg.kl_coef * (logp_old - logp_ref)
                rewards[:, -1] += rm.score(ids)
                adv, returns = gae(rewards, values, cfg.gamma, cfg.lam)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy.train()
            for _ in range(cfg.epochs):
                order = torch.randperm(cfg.rollouts, generator=gen)
                for i in range(0, cfg.rollouts, cfg.minibatch):
                    j = order[i : i + cfg.minibatch].to(device)
                    logp = response_logprobs(policy, ids[j])
                    pg = ppo_clip_loss(logp, logp_old[j], adv[j], cfg.clip)
                    vf = F.mse_loss(value(seq[j, :-1]), returns[j])
                    loss = pg + cfg.vf_coef * vf
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_([*policy.parameters(), *value.parameters()], 1.0)
                    opt.step()
                    losses.append(pg.detach())
            if it % eval_every == 0 or it == cfg.iterations:
                policy.eval()
                record(it)
        state = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
        return {
            "state": state,
            "losses": torch.stack(losses).cpu().tolist(),
            "seconds": time.perf_counter() - t0,
            "history": history,
        }

    payload, hit = cached_call(what, compute, cache, code_version("rl.py"))
    policy = GPT(sft.cfg)
    policy.load_state_dict(payload["state"])
    return FitResult(policy.to(device).eval(), payload["losses"], payload["seconds"], hit, payload["history"])


# ============================================================================ DPO


def dpo_loss(
    logp_chosen: torch.Tensor,
    logp_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DPO's loss (Rafailov et al. 2023) from sequence log-probabilities ``(B,)`` under the policy and the
    reference: mean of −log σ(β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]). Returns
    ``(loss, margins)``, the margins being the implicit reward differences β[...] per pair."""
    if beta <= 0:
        raise ValueError(f"beta={beta}: DPO's β must be positive (0.1 to 0.5 is typical)")
    shapes = {tuple(t.shape) for t in (logp_chosen, logp_rejected, ref_chosen, ref_rejected)}
    if len(shapes) != 1:
        raise ValueError(
            f"logp_chosen, logp_rejected, ref_chosen and ref_rejected have shapes {sorted(shapes)}: "
            "give one sequence log-probability per pair in each"
        )
    if logp_chosen.numel() == 0:
        raise ValueError("the preference set is empty; give at least one pair")
    margins = beta * ((logp_chosen - ref_chosen) - (logp_rejected - ref_rejected))
    return -F.logsigmoid(margins).mean(), margins


@dataclass
class DPOConfig:
    """DPO on labelled pairs. Invalid values raise ``ValueError``."""

    beta: float = 0.1
    epochs: int = 2
    batch_size: int = 64
    lr: float = 3e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.beta <= 0:
            raise ValueError(f"DPOConfig.beta={self.beta!r}: DPO's β must be positive (0.1 to 0.5 is typical)")
        for name in ("epochs", "batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"DPOConfig.{name}={getattr(self, name)!r}: must be a positive integer")
        if self.lr <= 0:
            raise ValueError(f"DPOConfig.lr={self.lr!r}: the learning rate must be positive")


def train_dpo(
    sft: GPT,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    cfg: DPOConfig,
    *,
    cache: bool | ResultCache = True,
    progress: bool = True,
) -> FitResult:
    """Fine-tune a copy of ``sft`` (also the reference) with ``dpo_loss`` on the pairs: no reward model,
    no sampling. ``history`` holds the training accuracy of the implicit reward per epoch. Cached."""
    _check_pairs(chosen, rejected, "chosen", "rejected")
    device = select_device()
    what = {
        "dpo": asdict(cfg),
        "init": state_fingerprint(sft),
        "pairs": _pairs_fingerprint(chosen, rejected),
        "device": device.type,
    }

    def compute() -> dict:
        seed_everything(cfg.seed)
        ref = copy.deepcopy(sft).to(device).eval()
        policy = copy.deepcopy(sft).to(device).train()
        c, r = chosen.to(device), rejected.to(device)
        with torch.no_grad():
            ref_c, ref_r = response_logprobs(ref, c).sum(-1), response_logprobs(ref, r).sum(-1)
        opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=0.0)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses, acc, n = [], [], len(c)
        steps = cfg.epochs * math.ceil(n / cfg.batch_size)
        t0 = time.perf_counter()
        bar = tqdm(total=steps, desc="DPO", unit="step", mininterval=0.5, disable=not progress)
        for _ in range(cfg.epochs):
            order = torch.randperm(n, generator=gen).to(device)
            right = 0.0
            for i in range(0, n, cfg.batch_size):
                j = order[i : i + cfg.batch_size]
                lc, lr_ = response_logprobs(policy, c[j]).sum(-1), response_logprobs(policy, r[j]).sum(-1)
                loss, margins = dpo_loss(lc, lr_, ref_c[j], ref_r[j], cfg.beta)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                opt.step()
                losses.append(loss.detach())
                right += float((margins > 0).sum())
                bar.update(1)
            acc.append(round(right / n, 5))
        bar.close()
        state = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
        return {
            "state": state,
            "losses": torch.stack(losses).cpu().tolist(),
            "seconds": time.perf_counter() - t0,
            "history": {"train_accuracy": acc},
        }

    payload, hit = cached_call(what, compute, cache, code_version("rl.py"))
    policy = GPT(sft.cfg)
    policy.load_state_dict(payload["state"])
    return FitResult(policy.to(device).eval(), payload["losses"], payload["seconds"], hit, payload["history"])


@torch.no_grad()
def implicit_reward_accuracy(policy: GPT, ref: GPT, chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    """Share of pairs in which DPO's implicit reward log π/π_ref ranks the chosen response first."""
    _check_pairs(chosen, rejected, "chosen", "rejected")

    def implicit(ids):
        return response_logprobs(policy, ids).sum(-1) - response_logprobs(ref, ids).sum(-1)

    d = implicit(chosen) - implicit(rejected)
    return float(((d > 0).float() + 0.5 * (d == 0).float()).mean())


# ============================================================================ best-of-n and over-optimisation


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


# ============================================================================ the pipeline and the sweep runner

SFT_STEPS, PRETRAIN_STEPS = 300, 600
TEST_SEED, NORM_SEED, POOL_SEED = 7, 8, 9  # held-out pairs, the responses that standardise rewards, the best-of-n pool
BON_NS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]


def pretrain_and_sft(world: PreferenceWorld, d_model: int = 32, n_layer: int = 2, progress: bool = True):
    """Stage 0 and 1: pretrain a GPT on random strings, then fine-tune it on demonstrations (SFT). Both runs
    go through ``helpers.train.train`` (cached). Returns ``(pretrained, sft)`` models."""
    cfg = world.model_config(d_model, n_layer)
    pre_cfg = TrainConfig(
        steps=PRETRAIN_STEPS, batch_size=64, lr=3e-3, warmup_steps=30, eval_every=0, progress=progress
    )
    pre = train(cfg, pre_cfg, world.pretrain_corpus())
    sft_cfg = TrainConfig(steps=SFT_STEPS, batch_size=64, lr=1e-3, warmup_steps=20, eval_every=0, progress=progress)
    sft = train(cfg, sft_cfg, world.sft_corpus(), init=pre.model)
    return pre.model, sft.model


def preference_data(world: PreferenceWorld, sft: GPT, n_pairs: int, seed: int = 0):
    """``n_pairs`` pairs of SFT samples labelled by the world's labeller: ``(chosen, rejected)``."""
    ids = sample(sft, 2 * n_pairs, world.length, seed=seed)
    return world.label_pairs(ids[:n_pairs], ids[n_pairs:], seed=seed)


def overoptimisation_run(
    pairs: int, seed: int = 0, kl_coef: float = 0.05, iterations: int = 80, pool: int = 8192, device: str = "auto"
) -> dict:
    """A ``helpers.sweep`` runner: the chapter's pipeline with a reward model trained on ``pairs`` labelled pairs
    (drawn and trained with ``seed``), then best-of-n from a pool of ``pool`` SFT samples and PPO at ``kl_coef``.
    Returns as metrics the reward model's held-out accuracy (and the labels' ceiling), the best-of-n curve and
    the PPO curve (proxy, gold, KL every 5 iterations)."""
    t0 = time.perf_counter()
    world = PreferenceWorld()
    _, sft = pretrain_and_sft(world, progress=False)
    test_c, test_r = preference_data(world, sft, 2000, seed=TEST_SEED)
    norm = sample(sft, 2000, world.length, seed=NORM_SEED)
    chosen, rejected = preference_data(world, sft, pairs, seed=100 + seed)
    rm = train_reward_model(sft, chosen, rejected, normalise_on=norm, seed=seed, cache=False, progress=False).model
    ids = sample(sft, pool, world.length, seed=POOL_SEED)
    with torch.no_grad():
        bon = best_of_n_curve(rm.score(ids).numpy(), world.gold(ids), BON_NS)
    ppo = train_ppo(
        sft, rm, world, PPOConfig(kl_coef=kl_coef, iterations=iterations, seed=seed), cache=False, progress=False
    )
    return {
        "metrics": {
            "accuracy": round(preference_accuracy(rm, test_c, test_r), 5),
            "ceiling": round(world.label_ceiling(test_c, test_r), 5),
            "bon": {k: [round(v, 5) for v in vals] for k, vals in bon.items()},
            "ppo": ppo.history,
        },
        "seconds": time.perf_counter() - t0,
        "steps": iterations,
        "final_val": ppo.history["gold"][-1],
    }


# ============================================================================ the widget


def best_of_n_rows(ids: torch.Tensor, proxy, gold, world: PreferenceWorld, n: int, k: int = 5, seed: int = 0) -> list:
    """``k`` best-of-n picks from a scored pool (``ids``, ``proxy``, ``gold``): each draws ``n`` pool members
    at random and keeps the highest proxy. Rows ``[response, proxy, gold]`` (rounded to 2 decimals)."""
    proxy, gold = np.asarray(proxy), np.asarray(gold)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(k):
        draw = rng.choice(len(proxy), size=n, replace=False)
        best = draw[np.argmax(proxy[draw])]
        rows.append([world.decode(ids[best : best + 1])[0], f"{proxy[best]:.2f}", f"{gold[best]:.2f}"])
    return rows


def plot_best_of_n(curve: dict, n: int | None = None, ax=None):
    """Proxy and gold reward of best-of-n against d = √KL (``best_of_n_curve``'s output), n marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    d = np.sqrt(curve["kl"])
    ax.plot(d, curve["proxy"], "o-", label="proxy reward (reward model, standardised)")
    ax.plot(d, curve["gold"], "s-", label="gold reward (hidden)")
    if n is not None:
        i = curve["n"].index(n)
        ax.axvline(d[i], color="0.5", ls=":", lw=1)
        ax.set_title(f"best-of-{n}: KL = {curve['kl'][i]:.2f} nats")
    ax.set_xlabel("d = √KL(best-of-n ‖ SFT)  (nats$^{1/2}$)")
    ax.set_ylabel("mean reward")
    ax.legend()
    return ax


def best_of_n_explorer(ids: torch.Tensor, proxy, gold, world: PreferenceWorld, curve: dict):
    """A slider over n (the values of ``curve["n"]``): redraws ``plot_best_of_n`` with n marked (a PNG in an
    ``Image`` widget) and a table of five best-of-n picks with their proxy and gold rewards (``HTML``)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .widgets import _html_table, figure_png

    slider = widgets.SelectionSlider(options=curve["n"], value=curve["n"][4], description="n", continuous_update=False)
    image, table = widgets.Image(format="png"), widgets.HTML()

    def redraw(change=None) -> None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        plot_best_of_n(curve, slider.value, ax)
        image.value = figure_png(fig)
        table.value = _html_table(
            ["best-of-n pick", "proxy", "gold"], best_of_n_rows(ids, proxy, gold, world, slider.value)
        )

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, image, table])
