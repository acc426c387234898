"""Chapter 5, section 6: an ability that decays while the loss keeps falling, and the early stop that catches it.

The ``ch05_decay`` runs train on ``helpers.ch05.MIX`` and, from step ``SHIFT``, on ``SHIFTED``, which holds no
arithmetic. ``decay_curves`` reads them as arrays over checkpoints; ``stop_on_domain`` applies patience-based
early stopping (``helpers.monitor.early_stop``) to the arithmetic domain's validation loss, and ``decay_report``
says, per seed, what the stop keeps of the ability and what it costs on the mixture the run ends on.
"""

from __future__ import annotations

import numpy as np

from .ch05 import SHIFT, SHIFTED
from .mixture import Mixture
from .monitor import EarlyStop, early_stop

PATIENCE = 3  # evaluations without a new best before the run stops


def decay_curves(rows: list[dict]) -> dict:
    """The ``ch05_decay`` rows (one per seed, in seed order) as arrays ``(seeds, checkpoints)``: ``facts`` and
    ``sums`` exact match, ``facts_mc`` (multiple choice), the ``arith``, ``kjv`` and ``code`` validation losses,
    and ``text``, the loss on ``SHIFTED``'s mixture of kjv and code; with their ``steps``."""
    rows = sorted(rows, key=lambda r: r["seed"])
    cps = [r["metrics"]["checkpoints"] for r in rows]
    steps = np.array([c["step"] for c in cps[0]])
    if any([c["step"] for c in cp] != list(steps) for cp in cps):
        raise ValueError("the decay runs were evaluated at different steps; rerun the ch05_decay sweep")
    get = lambda f: np.array([[f(c) for c in cp] for cp in cps])  # noqa: E731
    mix = Mixture.of(SHIFTED)
    out = {
        "steps": steps,
        "facts": get(lambda c: c["suites"]["facts"]["exact_match"]),
        "facts_mc": get(lambda c: c["suites"]["facts"]["mc_accuracy"]),
        "sums": get(lambda c: c["suites"]["sums"]["exact_match"]),
        **{d: get(lambda c, d=d: c["domains"][d]) for d in ("arith", "kjv", "code")},
    }
    out["text"] = mix.weight("kjv") * out["kjv"] + mix.weight("code") * out["code"]
    return out


def stop_on_domain(steps, domain_loss, patience: int = PATIENCE) -> EarlyStop | None:
    """Early stopping on one domain's validation loss: the run stops after ``patience`` evaluations without a new
    best and keeps the best checkpoint (``helpers.monitor.early_stop``); None when it never stops."""
    return early_stop(steps, domain_loss, patience=patience)


def decay_report(decay: dict, patience: int = PATIENCE) -> list[dict]:
    """Per seed: the ability's peak (step and exact match) and its end value, where the stop on the arithmetic
    loss fires and which checkpoint it keeps, the ability there, and the cost: the loss on the new mixture at the
    kept checkpoint minus the loss at the end of the run; and the loss on the new mixture at the shift and at the
    end."""
    steps = list(decay["steps"])
    out = []
    for i, facts in enumerate(decay["facts"]):
        stop = stop_on_domain(decay["steps"], decay["arith"][i], patience)
        kept = steps.index(stop.best_step) if stop else len(steps) - 1
        peak = int(np.argmax(facts))
        out.append(
            {
                "seed": i,
                "peak_step": steps[peak],
                "peak": float(facts[peak]),
                "end": float(facts[-1]),
                "stop": stop,
                "kept": float(facts[kept]),
                "cost": float(decay["text"][i][kept] - decay["text"][i][-1]),
                "text_at_shift": float(decay["text"][i][steps.index(SHIFT)]),
                "text_end": float(decay["text"][i][-1]),
            }
        )
    return out
