"""Throughput benchmark: tokens per second and model FLOPs utilisation of the course's training.

``python -m helpers.bench`` (``--help`` for the options) trains three tiny GPTs (character vocabulary of
the bundled corpus, context 64, batch 32, 4 heads) three ways:

- ``trainer``: ``helpers.train.Trainer`` as a notebook uses it (``TrainConfig`` defaults: evaluation every
  100 steps, the history, a progress bar writing to a discarded stream);
- ``bare``: the same GPT in a bare PyTorch loop doing exactly the trainer's arithmetic (same sampler, seed,
  AdamW groups, schedule and clipping; ``tests/test_bench.py`` checks the weights come out equal), nothing else;
- ``reference``: ``ReferenceGPT``, a lean nanoGPT-style GPT of the same shape and parameter count, in the
  bare loop.

Each variant warms up, then trains one run cut into ``--repeats`` slices; round ``r`` times slice ``r`` of
every variant in a rotating order, so machine-load drifts hit all alike. Throughput is total tokens over
total slice time (a median would drop the trainer's evaluations); helpers/reference is a paired ratio per
round, reported with two standard errors. MFU is ``flops_per_token(cfg, head=True) * tokens/s`` over the
best timed float32 matmul rate measured before and after the configs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import BatchSampler, Corpus, load_corpus
from .model import GPT, GPTConfig, flops_per_token
from .train import TrainConfig, Trainer, lr_at, make_optimizer, seed_everything, select_device

VARIANTS = ("trainer", "bare", "reference")
TRAINER_OVER_BARE_TARGET = 0.95  # the trainer's extras may cost at most 5 %
HELPERS_OVER_REFERENCE_TARGET = 1.0  # the course's GPT should be as fast as a lean one


@dataclass(frozen=True)
class BenchShape:
    """One benchmark model: width, depth and the default number of timed steps per variant."""

    d_model: int
    n_layer: int
    steps: int  # default run length; a multiple of TrainConfig.eval_every (see the module docstring)


# Step counts keep each variant's timed run at roughly 5-25 s on 2 CPU cores and the whole default
# bench at about 3 minutes; the smallest model runs the course's default 600 steps.
CONFIGS: dict[str, BenchShape] = {
    "d64-l2": BenchShape(d_model=64, n_layer=2, steps=600),
    "d128-l4": BenchShape(d_model=128, n_layer=4, steps=200),
    "d256-l4": BenchShape(d_model=256, n_layer=4, steps=100),
}
N_HEAD, CONTEXT, BATCH_SIZE = 4, 64, 32


def model_config(name: str, vocab_size: int) -> GPTConfig:
    """The ``GPTConfig`` of the benchmark model ``name`` (a key of ``CONFIGS``).

    An unknown name raises ``ValueError`` listing the valid ones."""
    if name not in CONFIGS:
        raise ValueError(f"unknown bench config {name!r}: choose from {', '.join(CONFIGS)}")
    shape = CONFIGS[name]
    return GPTConfig(
        vocab_size=vocab_size, context=CONTEXT, n_layer=shape.n_layer, n_head=N_HEAD, d_model=shape.d_model
    )


# ----------------------------------------------------------------------------- timing


def synchronize(device: torch.device) -> None:
    """Wait until ``device`` has finished its queued work (a no-op on the CPU), so that wall-clock
    times measure the work itself and not just its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_peak_flops(
    device: torch.device | str = "cpu", size: int | None = None, repeats: int = 10, inner: int = 5
) -> float:
    """Peak float32 matmul rate of ``device`` in FLOP/s: the best of ``repeats`` timings of
    ``inner`` back-to-back ``size x size`` products (``2 size^3`` FLOPs each).

    ``size`` defaults to 1024 on the CPU and 4096 on accelerators (1024 is too small to keep a
    GPU busy). The result is the denominator of MFU.
    """
    device = torch.device(device)
    size = size or (1024 if device.type == "cpu" else 4096)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    out = torch.empty(size, size, device=device)
    for _ in range(2):  # warm-up: thread pool, library initialisation
        torch.matmul(a, b, out=out)
    best = math.inf
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.matmul(a, b, out=out)
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 * inner / best


# ----------------------------------------------------------------------------- the lean reference GPT


class ReferenceAttention(nn.Module):
    """Causal multi-head self-attention: one fused qkv projection, PyTorch's fused attention kernel."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, C // n_head)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class ReferenceMLP(nn.Module):
    """Feed-forward network: ``mlp_ratio``-times wider, GELU, back to ``d_model``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)
        self.c_proj = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class ReferenceBlock(nn.Module):
    """Pre-LayerNorm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model)
        self.attn = ReferenceAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.d_model)
        self.mlp = ReferenceMLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ReferenceGPT(nn.Module):
    """A lean GPT with the shape of ``helpers.model.GPT`` for the same ``GPTConfig``, written for
    this benchmark in the nanoGPT style. It reads only the shape fields of ``cfg`` and always has
    biases, tied input/output embeddings and no dropout (the benchmark's settings).

    ``forward(idx, targets=None)`` returns ``(logits, loss)`` like the helpers GPT, so both train
    in the same loop."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.context, cfg.d_model)
        self.h = nn.ModuleList(ReferenceBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or name.startswith("ln_"):
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight"):  # residual projections, GPT-2's scaled init
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))
            else:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits ``(B, T, vocab)`` and the mean cross-entropy (``None`` without targets)."""
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


# ----------------------------------------------------------------------------- the three ways to train


def bench_train_config(steps: int, seed: int = 0, device: str = "cpu") -> TrainConfig:
    """``TrainConfig`` defaults for a run of ``steps`` steps (batch 32, progress bar on); the lr
    warmup is shortened for runs no longer than it, which ``TrainConfig`` would reject."""
    warmup = min(TrainConfig.warmup_steps, steps - 1)
    return TrainConfig(steps=steps, batch_size=BATCH_SIZE, warmup_steps=warmup, seed=seed, device=device, progress=True)


class BareRun:
    """A bare PyTorch training loop doing the trainer's arithmetic and nothing else.

    Same ``BatchSampler`` (seeded by ``cfg.seed``), same AdamW parameter groups (weight decay on
    matrices only), the trainer's warmup + cosine schedule (``lr_at``), gradient clipping at
    ``cfg.grad_clip``. ``advance(n)`` trains ``n`` more steps of the run of ``cfg.steps`` steps.
    """

    def __init__(self, model: nn.Module, corpus: Corpus, cfg: TrainConfig, device: torch.device):
        self.model, self.cfg, self.device = model.to(device), cfg, device
        self.sampler = BatchSampler(corpus.train, model.cfg.context, cfg.batch_size, seed=cfg.seed)
        self.optimizer = make_optimizer(model, cfg)
        self.step = 0

    def advance(self, n: int) -> None:
        """Train ``n`` more steps."""
        cfg, model, opt = self.cfg, self.model, self.optimizer
        model.train()
        for step in range(self.step, self.step + n):
            lr = lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = self.sampler.sample()
            _, loss = model(x.to(self.device), y.to(self.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
        self.step += n


class TrainerRun:
    """``helpers.train.Trainer`` with all its extras, advanced ``n`` steps at a time.

    The progress bar is on but writes to a discarded buffer (see the module docstring)."""

    def __init__(self, model: GPT, corpus: Corpus, cfg: TrainConfig):
        self.trainer = Trainer(model, corpus, cfg)

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self.trainer.step

    def advance(self, n: int) -> None:
        """Train ``n`` more steps with ``Trainer.fit(stop_at=...)``."""
        with contextlib.redirect_stderr(io.StringIO()):
            self.trainer.fit(stop_at=self.trainer.step + n)


def make_run(variant: str, model: nn.Module, corpus: Corpus, cfg: TrainConfig, device: torch.device):
    """A ``TrainerRun`` for ``"trainer"``, a ``BareRun`` for ``"bare"`` and ``"reference"``."""
    if variant == "trainer":
        return TrainerRun(model, corpus, cfg)
    if variant in ("bare", "reference"):
        return BareRun(model, corpus, cfg, device)
    raise ValueError(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")


def build_model(variant: str, cfg: GPTConfig, seed: int = 0) -> nn.Module:
    """The freshly seeded model a variant trains: ``ReferenceGPT`` for ``"reference"``, else ``GPT``."""
    seed_everything(seed)
    return ReferenceGPT(cfg) if variant == "reference" else GPT(cfg)


# ----------------------------------------------------------------------------- one config, all configs


@dataclass
class ConfigResult:
    """Timings of the three variants on one benchmark model."""

    name: str
    cfg: GPTConfig
    n_params: int
    flops_per_token: int  # flops_per_token(cfg, head=True): training FLOPs per token
    steps: int  # timed steps per variant
    slices: list[int]  # steps timed in each round
    seconds: dict[str, list[float]]  # variant -> seconds of each round's slice
    trainer_evals: int  # evaluations the trainer made during its timed run

    @property
    def tokens_per_step(self) -> int:
        return BATCH_SIZE * self.cfg.context

    def tokens_per_s(self, variant: str) -> float:
        """Training throughput of ``variant``: all timed tokens over all timed seconds."""
        return self.steps * self.tokens_per_step / sum(self.seconds[variant])

    def mfu(self, variant: str, peak_flops: float) -> float:
        """Model FLOPs utilisation of ``variant``: achieved training FLOP/s over ``peak_flops``."""
        return self.flops_per_token * self.tokens_per_s(variant) / peak_flops

    @property
    def trainer_over_bare(self) -> float:
        """Throughput of the trainer relative to the bare loop on the same model (1 = no overhead)."""
        return self.tokens_per_s("trainer") / self.tokens_per_s("bare")

    @property
    def helpers_over_reference(self) -> float:
        """Throughput of the helpers GPT relative to the lean reference, both in the bare loop."""
        return self.tokens_per_s("bare") / self.tokens_per_s("reference")

    def round_ratios(self, faster: str, slower: str) -> list[float]:
        """Per-round throughput ratio ``faster / slower`` (paired slices of equal length)."""
        return [s_slow / s_fast for s_fast, s_slow in zip(self.seconds[faster], self.seconds[slower])]

    def ratio_noise(self, faster: str, slower: str) -> float:
        """Two standard errors of the mean of ``round_ratios(faster, slower)``: the uncertainty of the
        ratio that comes from round-to-round noise (0 with a single round, where it is unknown)."""
        ratios = self.round_ratios(faster, slower)
        return 2 * statistics.stdev(ratios) / math.sqrt(len(ratios)) if len(ratios) > 1 else 0.0


def bench_config(
    name: str,
    corpus: Corpus,
    *,
    steps: int | None = None,
    repeats: int = 10,
    warmup: int = 5,
    device: torch.device | str = "auto",
    seed: int = 0,
    log=None,
) -> ConfigResult:
    """Time the three variants on benchmark model ``name`` (see the module docstring for the
    protocol). ``steps`` defaults to ``CONFIGS[name].steps``; ``log`` is an optional callable
    that receives progress messages."""
    mcfg = model_config(name, corpus.vocab_size)
    steps = CONFIGS[name].steps if steps is None else steps
    if repeats < 1 or steps < repeats:
        raise ValueError(
            f"steps={steps}, repeats={repeats}: need repeats >= 1 and steps >= repeats "
            "(every round times at least one step)"
        )
    if warmup < 0:
        raise ValueError(f"warmup={warmup}: must be >= 0")
    device = select_device(device) if isinstance(device, str) else device
    log = log or (lambda message: None)

    runs = {}
    for variant in VARIANTS:
        model = build_model(variant, mcfg, seed)
        if warmup:
            log(f"{name}: warming up {variant} ({warmup} steps)")
            make_run(variant, model, corpus, bench_train_config(warmup, seed, str(device)), device).advance(warmup)
        runs[variant] = make_run(variant, model, corpus, bench_train_config(steps, seed, str(device)), device)

    bounds = [round(steps * r / repeats) for r in range(repeats + 1)]
    slices = [b - a for a, b in zip(bounds, bounds[1:])]
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r, n in enumerate(slices):
        log(f"{name}: round {r + 1}/{repeats} ({n} steps per variant)")
        for variant in VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]:  # rotate the order
            synchronize(device)
            t0 = time.perf_counter()
            runs[variant].advance(n)
            synchronize(device)
            seconds[variant].append(time.perf_counter() - t0)

    return ConfigResult(
        name=name,
        cfg=mcfg,
        n_params=runs["bare"].model.param_counts()["total"],
        flops_per_token=flops_per_token(mcfg, head=True),
        steps=steps,
        slices=slices,
        seconds=seconds,
        trainer_evals=len(runs["trainer"].trainer.history.eval_step),
    )


@dataclass
class BenchReport:
    """Everything ``python -m helpers.bench`` prints."""

    results: list[ConfigResult]
    peak_flops: float
    device: str
    threads: int
    torch_version: str = torch.__version__
    command: str = "python -m helpers.bench"
    corpus: str = "kjv"
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def run_bench(
    names: list[str] | None = None,
    *,
    steps: int | None = None,
    repeats: int = 10,
    warmup: int = 5,
    device: str = "auto",
    seed: int = 0,
    corpus: Corpus | None = None,
    log=None,
) -> BenchReport:
    """Measure the peak matmul rate, then ``bench_config`` every config in ``names`` (default: all
    of ``CONFIGS``) on ``corpus`` (default: the bundled KJV with the char tokenizer)."""
    t0 = time.perf_counter()
    names = list(CONFIGS) if names is None else list(names)
    for name in names:
        model_config(name, 2)  # fail on a bad name before spending any time
    dev = select_device(device)
    corpus = load_corpus("kjv") if corpus is None else corpus
    log = log or (lambda message: None)
    log("measuring the peak matmul rate")
    peak = measure_peak_flops(dev)
    results = [
        bench_config(n, corpus, steps=steps, repeats=repeats, warmup=warmup, device=dev, seed=seed, log=log)
        for n in names
    ]
    log("measuring the peak matmul rate again")
    peak = max(peak, measure_peak_flops(dev))  # the machine may have been busier at the start
    report = BenchReport(
        results=results, peak_flops=peak, device=str(dev), threads=torch.get_num_threads(), corpus=corpus.name
    )
    for res in results:
        if res.steps % TrainConfig.eval_every:
            report.notes.append(
                f"{res.name}: {res.steps} steps is not a multiple of eval_every={TrainConfig.eval_every}; the "
                f"trainer evaluated {res.trainer_evals} times, more often per step than in a course run"
            )
    report.wall_seconds = time.perf_counter() - t0
    return report


# ----------------------------------------------------------------------------- the report


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |" if markdown else "  ".join(padded)

    if markdown:
        rule = "|" + "|".join(("-" * (w + 1) + ":") if i else ":" + "-" * (w + 1) for i, w in enumerate(widths)) + "|"
    else:
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def format_report(report: BenchReport, markdown: bool = False) -> str:
    """The report as text: settings, a table (a Markdown table when ``markdown``) and verdicts."""
    peak = report.peak_flops
    header = [
        "config",
        "params",
        "steps",
        "trainer tok/s",
        "bare tok/s",
        "ref tok/s",
        "MFU trainer",
        "MFU bare",
        "MFU ref",
        "trainer/bare",
        "helpers/ref",
    ]
    rows = []
    for res in report.results:
        noise = res.ratio_noise("bare", "reference")
        rows.append(
            [
                res.name,
                f"{res.n_params:,}",
                str(res.steps),
                *(f"{res.tokens_per_s(v):,.0f}" for v in VARIANTS),
                *(f"{100 * res.mfu(v, peak):.1f}%" for v in VARIANTS),
                f"{res.trainer_over_bare:.3f}",
                f"{res.helpers_over_reference:.3f} ± {noise:.3f}",
            ]
        )
    first = report.results[0] if report.results else None
    settings = [
        f"command: {report.command}",
        f"torch {report.torch_version}, device {report.device}, {report.threads} threads",
        f"peak float32 matmul: {peak / 1e9:,.1f} GFLOP/s (best timed 1024x1024 products on the CPU, "
        "4096x4096 elsewhere; before and after the configs)",
    ]
    if first is not None:
        settings.append(
            f"models: {N_HEAD} heads, context {CONTEXT}, vocab {first.cfg.vocab_size} ({report.corpus} chars), "
            f"batch {BATCH_SIZE} ({first.tokens_per_step} tokens/step); {len(first.slices)} interleaved rounds "
            "per config"
        )
    settings.append(
        f"trainer: Trainer with TrainConfig defaults (eval every {TrainConfig.eval_every} steps and at the end on "
        f"{TrainConfig.eval_batches}+{TrainConfig.eval_batches} batches, history, progress bar to a discarded "
        "stream); bare: same GPT, same sampler/AdamW/schedule/clipping, nothing else; ref: lean nanoGPT-style GPT "
        "in the bare loop"
    )
    settings.append("MFU = flops_per_token(cfg, head=True) x tokens/s / peak")

    verdicts = []
    if report.results:
        tb = [(r.name, r.trainer_over_bare) for r in report.results]
        low = [f"{n} {v:.3f}" for n, v in tb if v < TRAINER_OVER_BARE_TARGET]
        verdicts.append(
            f"trainer/bare >= {TRAINER_OVER_BARE_TARGET}: "
            + ("met for every config" if not low else "NOT met for " + ", ".join(low))
        )
        slow = []
        for r in report.results:
            if r.helpers_over_reference + r.ratio_noise("bare", "reference") < HELPERS_OVER_REFERENCE_TARGET:
                slow.append(f"{r.name} {r.helpers_over_reference:.3f}")
        verdicts.append(
            f"helpers/reference >= {HELPERS_OVER_REFERENCE_TARGET} within noise (ratio + 2 standard errors): "
            + ("met for every config" if not slow else "NOT met for " + ", ".join(slow))
        )
    verdicts.append(f"wall time: {report.wall_seconds:.0f} s")

    table = _table(header, rows, markdown)
    if markdown:
        return "\n".join([*(f"- {s}" for s in settings), "", table, "", *(f"- {v}" for v in verdicts + report.notes)])
    return "\n".join([*settings, "", table, "", *verdicts, *report.notes])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m helpers.bench``; prints the report, returns 0."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="python -m helpers.bench",
        description="Tokens/s and MFU of the course Trainer, a bare loop on the same GPT, and a lean reference GPT.",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per variant and config (default: per config, "
        + ", ".join(f"{n}: {s.steps}" for n, s in CONFIGS.items())
        + ")",
    )
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda or mps")
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=list(CONFIGS),
        default=list(CONFIGS),
        metavar="NAME",
        help=f"subset of the configs ({', '.join(CONFIGS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=10,
        help="interleaved rounds per config (default 10); each times steps/repeats steps of every variant",
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps per variant (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true", help="print the report as Markdown")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    try:
        report = run_bench(
            args.configs,
            steps=args.steps,
            repeats=args.repeats,
            warmup=args.warmup,
            device=args.device,
            seed=args.seed,
            log=log,
        )
    except ValueError as err:
        parser.error(str(err))
    report.command = shlex.join(["python", "-m", "helpers.bench", *argv])
    print(format_report(report, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
