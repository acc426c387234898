"""Chapter 3's cached results, gathered for its claims, and its tables (Markdown, ``helpers.book.report``).

- ``lr_runs``: the rows of the learning-rate sweeps by (width, variant, seed), each sorted by rate;
- ``sensitivities``: each width and variant's learning-rate sensitivity, one per seed;
- ``metric_by_lr``: a monitor metric of each run against the learning rate;
- ``spike_groups``: the rows of the spike sweep by (rate, warmup, ε), and ``spike_summary``, what it found;
- ``fault_summary``: the outcome of the learning-rate fault and its remedy;
- ``repeat_groups`` and ``fit_repeat``: the repeated-data runs by kind, and Muennighoff et al.'s fit to them;
- ``logz_groups``: the runs that provoke output-logit divergence by (variant, rate), and ``logz_table``;
- tables ``sensitivity_table``, ``repeat_table``, ``spike_table``, ``paper_table`` and ``spike_paper_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from IPython.display import Markdown

from .book.report import md_table
from .ch03 import REPEAT_STEPS, REPEAT_TOKENS, WINDOW, lr_sensitivity, unique_tokens_of
from .monitor import early_stop, monitor_series, spikes
from .scaling import effective_data, fit_r_star, fit_saturating_power_law


def lr_runs(*sweeps: Sequence[dict]) -> dict[tuple[int, str, int], list[dict]]:
    """The rows of one or more ``stability_lm`` sweeps (``ch03_lr``, ``ch03_lr_seeds``) grouped by
    (width, variant, seed), each group sorted by learning rate."""
    runs: dict[tuple[int, str, int], list[dict]] = {}
    for rows in sweeps:
        for r in rows:
            p = r["point"]
            runs.setdefault((p["d_model"], p["variant"], r["seed"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["point"]["lr"]) for k, v in sorted(runs.items())}


def sensitivities(runs: Mapping[tuple, list[dict]]) -> dict[tuple[int, str], np.ndarray]:
    """Each (width, variant)'s learning-rate sensitivity (``ch03.lr_sensitivity`` of its final validation
    losses over the rate grid), one value per seed in seed order."""
    out: dict[tuple[int, str], list[float]] = {}
    for (d, v, _), rows in runs.items():
        out.setdefault((d, v), []).append(
            lr_sensitivity([r["final_val"] for r in rows], rows[0]["metrics"]["init_loss"])
        )
    return {k: np.array(v) for k, v in out.items()}


def metric_by_lr(runs: Mapping[tuple, list[dict]], metric: str) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """For each run group, its learning rates and the monitor ``metric`` (a key of the row's metrics, e.g.
    ``attn_logit_max``, or ``final_val``) at each."""

    def value(r):
        return r["final_val"] if metric == "final_val" else r["metrics"][metric]

    return {k: (np.array([r["point"]["lr"] for r in v]), np.array([value(r) for r in v])) for k, v in runs.items()}


def _mean_std(v: np.ndarray) -> str:
    return f"{v[0]:.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f} ({len(v)} seeds)"


def sensitivity_table(
    sens: Mapping[tuple[int, str], np.ndarray], widths: Sequence[int], variants: Sequence[str]
) -> Markdown:
    """Learning-rate sensitivity by width (rows) and variant (columns): mean ± seed std where there are
    several seeds, the single value otherwise."""
    return md_table(["width", *variants], [[d, *[_mean_std(sens[(d, v)]) for v in variants]] for d in widths])


def paper_table(
    published: Mapping,
    sens: Mapping,
    attn: Mapping,
    log_z: Mapping,
    widths: Sequence[int],
    se: float,
    logz: Mapping | None = None,
) -> Markdown:
    """Our results beside Wortsman et al.'s: attention-logit growth without QK-layernorm (``attn``: the
    largest attention logit per run group, from ``metric_by_lr``), output-logit divergence and z-loss
    (``log_z``: the largest |log Z| in the learning-rate grid; ``logz``, optional, the ``logz_groups`` of the
    grid that provokes it), and learning-rate sensitivity of every variant (``sens``; ``se`` the standard error
    of a difference of two variants' means, against which each width's gain over no fix is counted)."""
    w = published["wortsman"]
    lo, top = min(widths), max(widths)
    grow = max(a[-1] for (d, v, _), (_, a) in attn.items() if v in ("neither", "z-loss"))
    held = max(a.max() for (d, v, _), (_, a) in attn.items() if v in ("qk-layernorm", "both"))
    z_max = max(z.max() for _, z in log_z.values())

    def gain(d, v):
        return sens[(d, "neither")].mean() - sens[(d, v)].mean()

    beyond = [d for d in widths if min(gain(d, "qk-layernorm"), gain(d, "both")) > 3 * se]
    sens_row = ", ".join(
        f"{d}: {sens[(d, 'neither')].mean():.2f} → {sens[(d, 'qk-layernorm')].mean():.2f} / "
        f"{sens[(d, 'both')].mean():.2f}"
        for d in widths
    )
    z_only = max(abs(gain(d, "z-loss")) for d in widths) / se
    rows = [
        [
            "attention logits grow at high learning rate without QK-layernorm",
            f"{w['name']}: yes, and QK-layernorm stops it",
            f"yes: largest attention logit up to {grow:,.0f} without it at lr {w['lr_high']:g}, "
            f"at most {held:.0f} with it",
        ],
        [
            "output logits diverge without z-loss",
            f"yes, fixed by z-loss {w['z_loss']:g} · log² Z",
            f"not in our 300-step runs: log Z stays below {z_max:.0f} in magnitude, with or without z-loss"
            + (_provoked(logz) if logz else ""),
        ],
        [
            "QK-layernorm lowers learning-rate sensitivity",
            f"yes, rates {w['lr_low']:g} to {w['lr_high']:g}",
            f"by width, no fix → QK-layernorm / both fixes: {sens_row}; beyond 3 standard errors at width "
            + (", ".join(map(str, beyond)) if beyond else "none")
            + f"; z-loss alone moves it by at most {z_only:.1f} standard errors",
        ],
        [
            "sensitivity without the fix grows with model size",
            "yes",
            f"from {sens[(lo, 'neither')].mean():.2f} (width {lo}) to "
            f"{sens[(top, 'neither')].mean():.2f} (width {top})",
        ],
    ]
    return md_table(["result", "paper", "ours"], rows)


def _provoked(logz: Mapping) -> str:
    bare, fixed = logz[("qk-layernorm", 1.0)]["log_z_final"], logz[("both", 1.0)]["log_z_final"]
    return (
        f"; with weight decay off, 2,000 steps and rate 1, log Z ends at a mean magnitude of {bare.min():.0f} to "
        f"{bare.max():.0f} without z-loss and {fixed.min():.0f} to {fixed.max():.0f} with it, though the runs "
        "fail either way"
    )


def spike_groups(rows: Sequence[dict]) -> dict[tuple[float, int, float], list[dict]]:
    """The rows of ``ch03_spikes`` grouped by (peak rate, warmup steps, Adam's ε), each group in seed order."""
    groups: dict[tuple[float, int, float], list[dict]] = {}
    for r in rows:
        p = r["point"]
        groups.setdefault((p["lr"], p["warmup"], p["adam_eps"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in sorted(groups.items())}


def _finite_mean_std(v: np.ndarray) -> str:
    """``_mean_std`` of the finite values, naming the runs that ended in NaN."""
    ok = v[np.isfinite(v)]
    bad = len(v) - len(ok)
    if not len(ok):
        return f"NaN in all {len(v)} seeds"
    return _mean_std(ok) + (f"; NaN in {bad} of {len(v)} seeds" if bad else "")


def spike_table(groups: Mapping[tuple, list[dict]]) -> Markdown:
    """One row per setting of ``spike_groups``: the loss's overshoot above ln V in the first steps (mean ±
    seed std), the loss spikes and gradient-norm spikes found after the rule's window (summed over seeds),
    how many loss spikes a gradient-norm spike led, and the final validation loss (over the seeds that did not end
    in NaN, which are counted)."""

    def total(rs, key):
        return sum(len(r["metrics"][key]) for r in rs)

    rows = [
        [
            f"{lr:g}",
            warmup,
            "none" if eps == 0 else f"{eps:g}",
            _mean_std(np.array([r["metrics"]["early_overshoot"] for r in rs])),
            total(rs, "loss_spikes"),
            total(rs, "grad_spikes"),
            sum(r["metrics"]["led"] for r in rs),
            _finite_mean_std(np.array([r["final_val"] for r in rs])),
        ]
        for (lr, warmup, eps), rs in groups.items()
    ]
    head = ["peak lr", "warmup", "Adam ε", "early overshoot (nats)", "loss spikes", "grad-norm spikes"]
    return md_table([*head, "led by a grad spike", "final val loss"], rows)


OVERSHOOT = 0.5  # nats above ln V in the first steps: a run's loss "blew up" before it fell


def spike_summary(groups: Mapping[tuple, list[dict]]) -> dict:
    """What the spike sweep (``spike_groups``) found, for the chapter's claims: the number of runs, their loss
    spikes and gradient-norm spikes after the rule's window, the loss spikes a gradient spike led; the runs
    that ended in NaN; per (rate, warmup), the runs (with ε > 0) whose loss overshot ln V by more than
    ``OVERSHOOT`` in the first steps; and among those, whether the gradient norm peaked before, with or
    after the loss."""
    rows = [r for rs in groups.values() for r in rs]
    overshoot: dict[tuple, list[int]] = {}
    order = {"gradient first": 0, "same step": 0, "loss first": 0}
    for (lr, warmup, eps), rs in groups.items():
        if eps == 0:
            continue
        big = [r["metrics"] for r in rs if r["metrics"]["early_overshoot"] > OVERSHOOT]
        n = overshoot.setdefault((lr, warmup), [0, 0])
        n[0], n[1] = n[0] + len(big), n[1] + len(rs)
        for m in big:
            g, loss = m["early_grad_peak_step"], m["early_loss_peak_step"]
            order["gradient first" if g < loss else "same step" if g == loss else "loss first"] += 1
    return {
        "runs": len(rows),
        "loss_spikes": sum(len(r["metrics"]["loss_spikes"]) for r in rows),
        "grad_spikes": sum(len(r["metrics"]["grad_spikes"]) for r in rows),
        "led": sum(r["metrics"]["led"] for r in rows),
        "nan_runs": [r["point"] | {"seed": r["seed"]} for r in rows if not np.isfinite(r["final_val"])],
        "overshoot": {k: tuple(v) for k, v in overshoot.items()},
        "peak_order": order,
    }


def fault_summary(runs: Mapping[str, tuple], fault: Mapping[str, float]) -> dict:
    """The outcome of ``ch03.fault_runs``: the first step after the fault began at which the faulty run's loss,
    and its gradient norm, is a spike (``helpers.monitor.spikes``); each run's final validation loss; the
    rollbacks (how many, the steps from the fault's first step to the first rollback, the steps they undid)."""
    remedy = runs["rollback"][1]
    s = monitor_series(runs["fault"][0].history)

    def first_spike(values):
        found = [int(s["monitor_step"][i]) for i in spikes(values, window=WINDOW)]
        return next((t for t in found if t > fault["start"]), None)

    return {
        "first_loss_spike": first_spike(s["monitor_loss"]),
        "first_grad_spike": first_spike(s["grad_norm"]),
        "final": {name: result.history.final_val for name, (result, _) in runs.items()},
        "rollbacks": len(remedy.events),
        "delay": remedy.events[0].step - fault["start"] if remedy.events else None,
        "wasted": remedy.wasted_steps,
        "to_steps": sorted({e.to_step for e in remedy.events}),
    }


def spike_paper_table(published: Mapping, summary: Mapping, faults: Mapping) -> Markdown:
    """The spike section's results beside PaLM's and Takase et al.'s (``summary``: ``spike_summary``;
    ``faults``: ``fault_summary``)."""
    palm, takase = published["palm_spikes"], published["takase"]
    order, f = summary["peak_order"], faults["final"]
    early = sum(order.values())
    rows = [
        [
            "loss spikes in the middle of a run",
            f"{palm['name']}: about {palm['spikes']} in the largest model, none in the smaller ones",
            f"none in {summary['runs']} runs of a 64-wide model, whatever the rate, warmup or Adam ε",
        ],
        [
            "the gradient norm moves first",
            f"{takase['name']}: spikes follow a sudden growth of the gradient norm",
            f"{summary['grad_spikes']} gradient-norm spikes, {summary['led']} followed by a loss spike; in the "
            f"{early} early blow-ups the gradient norm peaked first in {order['gradient first']}",
        ],
        [
            "roll back and skip the batches",
            f"restart about {palm['rollback_steps']} steps before the spike, skip "
            f"{palm['skipped_low']}–{palm['skipped_high']} batches; the spike did not recur",
            f"after a 10-step learning-rate fault: final loss {f['fault']:.3f} without the remedy, "
            f"{f['rollback']:.3f} with it, {f['clean']:.3f} clean; {faults['wasted']} steps undone",
        ],
    ]
    return md_table(["result", "paper", "ours"], rows)


# ----------------------------------------------------------------------------- repeated data


def repeat_groups(rows: Sequence[dict]) -> dict[str, dict[int, list[dict]]]:
    """The rows of ``ch03_repeat`` by kind: ``"repeated"``, the 300-step runs by epochs (how often the run
    saw its unique data), and ``"fresh"``, the single-epoch runs by their token budget (the one-epoch
    300-step runs included); each group in seed order."""
    out: dict[str, dict[int, list[dict]]] = {"repeated": {}, "fresh": {}}
    for r in rows:
        unique = unique_tokens_of(r["point"]["data"])
        epochs = round(r["tokens"] / unique)
        if r["steps"] == REPEAT_STEPS:
            out["repeated"].setdefault(epochs, []).append(r)
        if epochs == 1:
            out["fresh"].setdefault(r["tokens"], []).append(r)
    return {kind: {k: sorted(v, key=lambda r: r["seed"]) for k, v in sorted(g.items())} for kind, g in out.items()}


def fit_repeat(groups: Mapping[str, Mapping[int, list[dict]]], seeds=None, max_epochs: int | None = None):
    """Muennighoff et al.'s fit on the cached runs of ``seeds`` (all when None): the fresh-data law
    L(D) = E + A D^(−α) (``fit_saturating_power_law``) on the single-epoch runs, then R* (``fit_r_star``)
    on the repeated runs of 2 to ``max_epochs`` epochs (all when None). Returns (law, R* fit)."""

    def keep(rs):
        return [r for r in rs if seeds is None or r["seed"] in seeds]

    fresh = [(d, r["final_val"]) for d, rs in groups["fresh"].items() for r in keep(rs)]
    law = fit_saturating_power_law(*zip(*fresh))
    rep = [
        (REPEAT_TOKENS / e, REPEAT_TOKENS, r["final_val"])
        for e, rs in groups["repeated"].items()
        if e >= 2 and (max_epochs is None or e <= max_epochs)
        for r in keep(rs)
    ]
    return law, fit_r_star(*zip(*rep), law)


def repeat_table(groups: Mapping, law, r_fit, patience: int = 3) -> Markdown:
    """One row per epoch count of the repeated runs: unique tokens, final validation loss (mean ± seed
    std), its excess over one epoch, the loss the fit predicts (``law`` at ``effective_data`` with
    ``r_fit``'s R*), the lowest validation loss on the way, and where ``early_stop`` (``patience``
    evaluations) stops the seed-0 run."""
    base = np.mean([r["final_val"] for r in groups["repeated"][1]])
    rows = []
    for e, rs in groups["repeated"].items():
        final = np.array([r["final_val"] for r in rs])
        lowest = np.array([min(r["curve"]["val"]) for r in rs])
        d_eff = effective_data(REPEAT_TOKENS / e, REPEAT_TOKENS, r_fit.r_star)
        stop = early_stop(rs[0]["curve"]["step"], rs[0]["curve"]["val"], patience=patience)
        rows.append([
            e, f"{REPEAT_TOKENS // e:,}", _mean_std(final), f"{final.mean() - base:+.3f}",
            f"{float(law.predict(d_eff)):.3f}", _mean_std(lowest),
            "never" if stop is None else f"step {stop.step} (best {stop.best:.3f} at {stop.best_step})",
        ])  # fmt: skip
    head = ["epochs", "unique tokens", "final val loss", "vs 1 epoch", "fit predicts", "lowest val loss"]
    return md_table([*head, "early stop, seed 0"], rows)


def repeat_paper_table(published: Mapping, r_stars, penalties: Mapping[int, float], se: float, stops) -> Markdown:
    """The repeated-data results beside Muennighoff et al.'s: ``r_stars`` one fitted R* per seed, ``penalties``
    the mean excess final loss over one epoch by epoch count, ``se`` its standard error, ``stops`` a line on
    what early stopping caught."""
    m = published["muennighoff"]
    free = 1  # the most epochs up to which every epoch count stays within 2 standard errors of one epoch
    for e in sorted(penalties):
        if e > 1 and penalties[e] >= 2 * se:
            break
        free = e
    beyond = [e for e in sorted(penalties) if penalties[e] > 3 * se]
    clear = f"a penalty beyond 3 standard errors from {beyond[0]} epochs" if beyond else "no clear penalty"
    r = np.asarray(r_stars, dtype=float)
    rows = [
        [
            "R*, the repeats after which their value has mostly decayed",
            f"{m['name']}: R*_D ≈ {m['r_star_d']}",
            f"{r.mean():.1f} ± {r.std(ddof=1):.1f} ({len(r)} seeds), fitted on 2 to {max(penalties)} epochs",
        ],
        [
            "repeated data as good as fresh",
            f"up to about {m['epochs_free']} epochs",
            f"within 2 standard errors of one epoch up to {free} epochs",
        ],
        ["returns fade", f"by about {m['epochs_fade']} epochs", f"{clear}; {stops}"],
    ]
    return md_table(["result", "paper", "ours"], rows)


def logz_groups(rows: Sequence[dict]) -> dict[tuple[str, float], dict[str, np.ndarray]]:
    """The ``ch03_logz`` runs by (variant, rate): per seed, the final validation loss (``val``), the output's
    mean |log Z| at the end (``log_z_final``), the largest over the run (``log_z_max``) and the largest attention
    logit over the run (``attn``)."""
    out: dict[tuple[str, float], dict[str, list]] = {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        g = out.setdefault((r["point"]["variant"], r["point"]["lr"]), {"val": [], "log_z_final": [], "log_z_max": []})
        g["val"].append(r["final_val"])
        for name in ("log_z_final", "log_z_max"):
            g[name].append(r["metrics"][name])
        g.setdefault("attn", []).append(r["metrics"]["attn_logit_max"])
    return {k: {m: np.array(v) for m, v in g.items()} for k, g in sorted(out.items(), key=lambda kv: kv[0][::-1])}


def logz_table(groups: Mapping[tuple[str, float], Mapping[str, np.ndarray]]) -> Markdown:
    """One row per (rate, variant) of ``logz_groups``: the range over seeds of the final validation loss, the
    final mean |log Z|, the largest |log Z| and the largest attention logit over the run."""

    def span(v, digits):
        return f"{v.min():,.{digits}f} to {v.max():,.{digits}f}"

    rows = [
        [f"{lr:g}", variant, span(g["val"], 2), span(g["log_z_final"], 1), span(g["log_z_max"], 0), span(g["attn"], 0)]
        for (variant, lr), g in groups.items()
    ]
    heads = ["peak rate", "variant", "final val loss", r"final mean \|log Z\|", r"largest \|log Z\|"]
    heads.append("largest attn logit")
    return md_table(heads, rows)
