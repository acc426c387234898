"""Scaling-law fits: power laws, the Chinchilla parametric loss, IsoFLOP minima and bootstrap intervals.

Everything Chapter 2 fits to the losses of the tiny models it trains, built on numpy and scipy (no
hand-rolled optimisers). Losses are in nats; ``N`` is a parameter count, ``D`` a number of training
tokens and ``C ≈ 6 N D`` the training compute in FLOPs (see ``helpers.model``). One module per family:

- ``power_laws``: ``fit_power_law``, L = (x_c / x)^α, a straight line in log-log space (Kaplan et al.
  2020), and ``fit_saturating_power_law``, L = E + (x_c / x)^α, a power law on top of an irreducible loss E.
- ``chinchilla``: ``fit_chinchilla``, L(N, D) = E + A / N^α + B / D^β, Hoffmann et al. (2022) approach 3,
  with the compute-optimal allocation it implies (``ChinchillaFit.n_opt`` and friends);
  ``chinchilla_allocation`` evaluates the same allocation for published constants.
- ``frontier``: ``isoflop_minimum`` and ``fit_isoflop_frontier``, Hoffmann's approach 2 (a parabola per
  compute budget, then a power law through the minima), and ``loss_envelope``, approach 1 and Kaplan's
  L(C) frontier (the lowest loss any run reached at each compute budget).
- ``repeated``: ``effective_data``, Muennighoff et al. (2023)'s worth of repeated data as fresh data, and
  ``fit_r_star``, the fit of its constant R* given a law L(D) of fresh data.
- ``mixing``: ``fit_mixing_law``, Ye et al. (2024)'s L_i(r) = c_i + k_i exp(Σ_j t_ij r_j), one domain's loss as a
  function of the training mixture r, and ``best_mixture``, the mixture that minimises fitted laws;
- ``links``: ``fit_accuracy_link``, accuracy as a sigmoid of a task loss or of log compute, between chance and
  a ceiling: the second step of a two-step forecast of task accuracy (OLMo ladders, Llama 3);
- ``intervals``: ``bootstrap``, percentile intervals for any of the fits above, resampling the points.
- ``checks``: the input and result checks every fit applies, and ``ScalingFitError``.

A fit refuses data it cannot fit: malformed input, too few points or distinct values, an optimiser
failing from every start, or a degenerate optimum (an exponent pinned at a bound of its range, a term
that does not change the loss, R² of log L below one half) raise ``ScalingFitError`` naming the cause
and the fix. It is a ``ValueError``; arguments out of range (``delta``, ``ci``, ``c_range``) raise a
plain ``ValueError``.
"""

from .checks import ScalingFitError
from .chinchilla import DEFAULT_GRID, Allocation, ChinchillaFit, chinchilla_allocation, fit_chinchilla
from .frontier import Envelope, IsoflopFrontier, IsoflopMinimum, fit_isoflop_frontier, isoflop_minimum, loss_envelope
from .intervals import BootstrapResult, bootstrap
from .links import AccuracyLinkFit, fit_accuracy_link
from .mixing import MixingLawFit, best_mixture, fit_mixing_law
from .power_laws import PowerLawFit, SaturatingPowerLawFit, fit_power_law, fit_saturating_power_law
from .repeated import RStarFit, effective_data, fit_r_star

__all__ = [
    "ScalingFitError",
    "PowerLawFit",
    "SaturatingPowerLawFit",
    "ChinchillaFit",
    "Allocation",
    "IsoflopMinimum",
    "IsoflopFrontier",
    "Envelope",
    "BootstrapResult",
    "RStarFit",
    "effective_data",
    "fit_r_star",
    "fit_power_law",
    "fit_saturating_power_law",
    "fit_chinchilla",
    "chinchilla_allocation",
    "isoflop_minimum",
    "fit_isoflop_frontier",
    "loss_envelope",
    "bootstrap",
    "DEFAULT_GRID",
    "MixingLawFit",
    "AccuracyLinkFit",
    "fit_accuracy_link",
    "fit_mixing_law",
    "best_mixture",
]
