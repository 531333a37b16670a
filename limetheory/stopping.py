"""LIME that stops when its answer is settled: ``explain(..., n_samples="auto")``.

Samples are drawn in rounds of growing size n_1 < n_2 < ... <= ``max_samples``; after each round the
surrogate is refitted on all samples so far and the run stops as soon as, for every explained label,
the top-k superpixels are *separated* from the rest: with simultaneous intervals

    beta_hat_j +- q_r se_j,     q_r = Phi^{-1}(1 - a_r / (2 d L)),     a_r = (1 - confidence) 6 / (pi^2 r^2),

(se_j: the sandwich standard errors of the run, d superpixels, L labels) and an indifference zone

    eps_r = tolerance * max(0, max_j (|beta_hat_j| - q_r se_j)),

every one of the k largest coefficients i and every other coefficient j satisfy

    beta_hat_i - q_r se_i  >  beta_hat_j + q_r se_j - eps_r.

``tolerance=0`` (the default) is the exact rule: every top-k lower end above every other upper end.

Why this is valid under repeated looks. At round r the d L intervals hold simultaneously with
probability at least 1 - a_r (Bonferroni, each interval asymptotically normal), and
sum_r a_r = (1 - confidence) (6 / pi^2) sum_r 1 / r^2 = 1 - confidence. By the union bound, with
probability at least ``confidence`` every interval of every round covers its coefficient's limit
beta_j (alpha spending with a 1/r^2 schedule; the bound needs no maximum number of rounds). On that
event, at whatever round the run stops:

- |beta_j| >= |beta_hat_j| - q_r se_j for every j, so eps_r <= tolerance * max_j |beta_j| =: eps;
- for i in the settled top-k and j outside it,
  beta_i >= beta_hat_i - q_r se_i > beta_hat_j + q_r se_j - eps_r >= beta_j - eps.

So with probability at least ``confidence`` the settled top-k set is *eps-correct*: every superpixel in
it has a limit coefficient above that of every superpixel outside it minus tolerance * max_j |beta_j|
(the PAC, or indifference-zone, form of top-k identification). With ``tolerance=0`` it is the limit's
top-k set itself. The tolerance is a fraction of the largest limit coefficient, so it does not
depend on the scale of the model's output. The limit is beta^f for ``ridge=0``; lime's ``ridge=1``
shifts it by O(1/n) (:func:`limetheory.theory.ridge_bias`), small against the O(n^-1/2) width of the
intervals. An exact tie at rank k is never separated by the exact rule, so such a run stops at
``max_samples`` with ``settled=False``; with ``tolerance > 0`` it settles once the intervals are
narrower than the indifference zone, on either of the tied superpixels (both are eps-correct).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import norm

from .validation import check_int, check_real, check_tolerance

__all__ = ["StoppingRule", "round_level", "separated", "run_rounds"]


@dataclass(frozen=True)
class StoppingRule:
    """When ``n_samples="auto"`` stops.

    Parameters
    ----------
    top_k : the number of top superpixels whose set must be settled (1 <= top_k < d).
    confidence : probability that a settled top-k set is the limit's, under repeated looks.
    max_samples : the most samples drawn; the run stops there settled or not.
    initial : samples of the first round (default: 10 (d + 1), lime's rule of thumb of ~10 per
        superpixel, at most ``max_samples``).
    growth : each round multiplies the total number of samples by this factor (> 1).
    tolerance : the indifference zone, a fraction of the largest absolute limit coefficient
        (0 <= tolerance < 1): a settled top-k set may hold a superpixel whose limit coefficient is
        below an outsider's by at most tolerance * max_j |beta_j|. 0 (default): the exact rule.
    """

    top_k: int = 5
    confidence: float = 0.95
    max_samples: int = 20000
    initial: int | None = None
    growth: float = 1.5
    tolerance: float = 0.0

    def __post_init__(self):
        check_int(self.top_k, "top_k", 1)
        check_real(self.confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
        check_int(self.max_samples, "max_samples", 2)
        if self.initial is not None:
            check_int(self.initial, "initial", 2)
        check_real(self.growth, "growth", low=1.0, low_open=True, high=100.0)
        check_tolerance(self.tolerance)

    def check_for(self, d: int, min_samples: int) -> None:
        """Refuse settings that cannot work for d superpixels (before any model call)."""
        if self.top_k >= d:
            raise ValueError(f"top_k must be < the number of superpixels d = {d}, got {self.top_k}")
        if self.max_samples < min_samples:
            raise ValueError(f"max_samples must be >= {min_samples} for these settings, got {self.max_samples}")

    def schedule(self, d: int, min_samples: int = 2) -> tuple[int, ...]:
        """Cumulative sample sizes n_1 < n_2 < ... of the rounds, the last equal to ``max_samples``."""
        first = 10 * (d + 1) if self.initial is None else self.initial
        n = min(max(first, min_samples), self.max_samples)
        sizes = [n]
        while sizes[-1] < self.max_samples:
            sizes.append(min(self.max_samples, max(sizes[-1] + 1, math.ceil(sizes[-1] * self.growth))))
        return tuple(sizes)


def round_level(r: int, confidence: float) -> float:
    """a_r = (1 - confidence) 6 / (pi^2 r^2): the error spent at round r (r = 1, 2, ...); sums to 1 - confidence."""
    return (1.0 - confidence) * 6.0 / (math.pi**2 * r**2)


def separated(coef, se, top_k: int, level: float, tolerance: float = 0.0) -> np.ndarray:
    """Per label, whether the ``top_k`` largest coefficients are separated from the others.

    Parameters
    ----------
    coef, se : (L, d) coefficients and their standard errors.
    top_k : size of the top set.
    level : the simultaneous error of all L d intervals (Bonferroni: each two-sided at level / (L d)).
    tolerance : the indifference zone as a fraction of the largest absolute coefficient (0: exact).

    Returns
    -------
    (L,) bool: min over the top set of (coef - q se) > max over the rest of (coef + q se) - eps,
    q = Phi^{-1}(1 - level / (2 L d)), eps = tolerance * max(0, max_j (|coef_j| - q se_j)) (a lower
    confidence bound of tolerance * max_j |beta_j|). Infinite or NaN standard errors never separate.
    """
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    se = np.atleast_2d(np.asarray(se, dtype=float))
    n_labels, d = coef.shape
    q = norm.isf(level / (2.0 * n_labels * d))
    order = np.argsort(-coef, axis=1, kind="stable")
    rows = np.arange(n_labels)[:, None]
    top, rest = order[:, :top_k], order[:, top_k:]
    lower = coef[rows, top] - q * se[rows, top]
    upper = coef[rows, rest] + q * se[rows, rest]
    ok = np.all(np.isfinite(se), axis=1)
    with np.errstate(invalid="ignore"):  # inf se: eps is -inf or NaN there, and ok is False
        eps = tolerance * np.maximum(0.0, np.max(np.abs(coef) - q * se, axis=1))
    return ok & (lower.min(axis=1) > upper.max(axis=1) - eps)


@dataclass(frozen=True)
class RoundsResult:
    """What :func:`run_rounds` ends with: the last fit, whether it settled, the rounds it took."""

    fit: object
    settled: bool
    n_rounds: int
    n_samples: int


def run_rounds(rule: StoppingRule, d: int, draw: Callable, evaluate: Callable, fit: Callable,
               coef_and_se: Callable, min_samples: int = 2) -> RoundsResult:
    """Draw, evaluate and refit round by round until the top-k set is separated or samples run out.

    Parameters
    ----------
    rule : the stopping rule.
    d : number of superpixels.
    draw : ``draw(m, first) -> (z, weights)``: m new samples (``first``: the first round, whose row 0
        is the unperturbed image).
    evaluate : ``evaluate(z) -> y``: the model's outputs on x(z) for the new rows.
    fit : ``fit(z, y, weights) -> result``: the surrogate on all samples so far.
    coef_and_se : ``coef_and_se(result) -> (coef, se)``, each (L, d).
    min_samples : the fewest samples a fit needs (ridge 0: d + 1).
    """
    rule.check_for(d, min_samples)
    zs, ys, ws = [], [], []
    total = 0
    result = None
    for r, n_r in enumerate(rule.schedule(d, min_samples), start=1):
        z, w = draw(n_r - total, r == 1)
        zs.append(z)
        ws.append(w)
        ys.append(evaluate(z))
        total = n_r
        result = fit(np.concatenate(zs), np.concatenate(ys), np.concatenate(ws))
        coef, se = coef_and_se(result)
        if separated(coef, se, rule.top_k, round_level(r, rule.confidence), rule.tolerance).all():
            return RoundsResult(result, True, r, total)
    return RoundsResult(result, False, r, total)
