"""LIME that stops when its answer is settled: ``explain(..., n_samples="auto")``.

Samples are drawn in rounds of growing size n_1 < n_2 < ... <= ``max_samples``; after each round the
surrogate is refitted on all samples so far and the run stops as soon as, for every explained label,
the top-k superpixels are *separated* from the rest. With the sandwich covariance C of the run's
coefficients (:func:`limetheory.surrogate.sandwich_covariance`; se_j^2 = C_jj and
sd_ij^2 = C_ii + C_jj - 2 C_ij the variance of beta_hat_i - beta_hat_j), d superpixels, L labels and

    m = L d (d + 1) / 2,    q_r = Phi^{-1}(1 - a_r / (2 m)),    a_r = (1 - confidence) 6 / (pi^2 r^2),

round r has m simultaneous intervals: beta_hat_j +- q_r se_j for every coefficient and
(beta_hat_i - beta_hat_j) +- q_r sd_ij for every one of the d (d - 1) / 2 pairs of every label. With
the indifference zone

    eps_r = tolerance * max(0, max_j (|beta_hat_j| - q_r se_j)),

it stops when every one of the k largest coefficients i and every other coefficient j satisfy

    beta_hat_i - beta_hat_j - q_r sd_ij  >  -eps_r.

``tolerance=0`` (the default) is the exact rule: every difference of a top-k coefficient and another
one is positive with its interval. All pairs are counted in m, not only the k (d - k) compared,
because which pairs are compared depends on the estimated top set, which is random. The
differences' intervals are narrower than the sum of two coefficient intervals wherever the
coefficients are positively correlated (sd_ij <= se_i + se_j always), which they often are
(a shared interaction in the model's response): there the rule can settle before intervals of
single coefficients separate.

Why this is valid under repeated looks. At round r the m intervals hold simultaneously with
probability at least 1 - a_r (Bonferroni, each interval asymptotically normal), and
sum_r a_r = (1 - confidence) (6 / pi^2) sum_r 1 / r^2 = 1 - confidence. By the union bound, with
probability at least ``confidence`` every interval of every round covers its limit (alpha spending
with a 1/r^2 schedule; the bound needs no maximum number of rounds). On that event, at whatever
round the run stops, with beta_j the limit coefficients:

- |beta_j| >= |beta_hat_j| - q_r se_j for every j, so eps_r <= tolerance * max_j |beta_j| =: eps;
- for i in the settled top-k and j outside it,
  beta_i - beta_j >= beta_hat_i - beta_hat_j - q_r sd_ij > -eps_r >= -eps.

So with probability at least ``confidence`` the settled top-k set is *eps-correct*: every superpixel in
it has a limit coefficient above that of every superpixel outside it minus tolerance * max_j |beta_j|
(the PAC, or indifference-zone, form of top-k identification). With ``tolerance=0`` it is the limit's
top-k set itself. The tolerance is a fraction of the largest limit coefficient, so it does not
depend on the scale of the model's output. The limit is beta^f for ``ridge=0``; lime's ``ridge=1``
shifts it by O(1/n) (:func:`limetheory.theory.ridge_bias`), small against the O(n^-1/2) width of the
intervals. An exact tie at rank k is never separated by the exact rule, so such a run stops at
``max_samples`` with ``settled=False``; with ``tolerance > 0`` it settles once the intervals are
narrower than the indifference zone, on either of the tied superpixels (both are eps-correct).

Round-off. The intervals are about sampling error alone; the model's own rounding is not random:
a response that does not depend on the superpixels beyond round-off (every coefficient ~1e-17 on
responses ~1) still gives coefficients whose differences the intervals call significant. So a
pair also needs ``max(beta_hat_i - beta_hat_j, eps_r) > res``, with ``res`` the float resolution of
the responses (:func:`response_resolution`: the spacing of floating-point numbers at max |y| in
the narrowest type, float32 or float64, that holds every response exactly). A top-k set separated
only by differences below it is not settled, and the run says so (:attr:`RoundsResult.reason`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import norm

from .validation import check_int, check_real, check_tolerance

__all__ = ["StoppingRule", "check_n_samples", "response_resolution", "round_level", "separated", "run_rounds"]


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


def check_n_samples(value, name: str = "n_samples"):
    """How many samples LIME draws, as :func:`limetheory.explain` takes it: an int >= 2, ``"auto"``
    (the default :class:`StoppingRule`) or a :class:`StoppingRule`. Returned unchanged (an int as int)."""
    expected = f"{name} must be an integer >= 2, 'auto' or a StoppingRule"
    if isinstance(value, StoppingRule) or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, str):
        raise ValueError(f"{expected}, got {value!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{expected}, got {type(value).__name__} {value!r}")
    return check_int(value, name, 2)


def round_level(r: int, confidence: float) -> float:
    """a_r = (1 - confidence) 6 / (pi^2 r^2): the error spent at round r (r = 1, 2, ...); sums to 1 - confidence."""
    return (1.0 - confidence) * 6.0 / (math.pi**2 * r**2)


def response_resolution(y) -> float:
    """The float resolution of responses ``y``: ``spacing(max |y|)`` in float32 when every response is
    a float32 number (a model computing in single precision), else in float64."""
    y = np.asarray(y, dtype=np.float64)
    top = float(np.max(np.abs(y))) if y.size else 0.0
    if not np.isfinite(top):
        return np.inf
    if top < np.finfo(np.float32).max and np.array_equal(y.astype(np.float32).astype(np.float64), y):
        return float(np.spacing(np.float32(top)))
    return float(np.spacing(top))


def separated(coef, cov, top_k: int, level: float, tolerance: float = 0.0, resolution: float = 0.0) -> np.ndarray:
    """Per label, whether the ``top_k`` largest coefficients are separated from the others.

    Parameters
    ----------
    coef : (L, d) coefficients;  cov : (L, d, d) their covariance matrices.
    top_k : size of the top set.
    level : the simultaneous error of all m = L d (d + 1) / 2 intervals, of the d coefficients and
        of the d (d - 1) / 2 differences of each label (Bonferroni: each two-sided at level / m).
    tolerance : the indifference zone as a fraction of the largest absolute coefficient (0: exact).
    resolution : the float resolution of the responses (:func:`response_resolution`): a pair whose
        difference and indifference zone are both at most this is never separated.

    Returns
    -------
    (L,) bool: for every i in the top set and j outside it, coef_i - coef_j - q sd_ij > -eps, with
    q = Phi^{-1}(1 - level / (2 m)), sd_ij^2 = C_ii + C_jj - 2 C_ij and
    eps = tolerance * max(0, max_j (|coef_j| - q sqrt(C_jj))) (a lower confidence bound of
    tolerance * max_j |beta_j|). A label with an infinite or NaN covariance is never separated.
    """
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    cov = np.asarray(cov, dtype=float).reshape(coef.shape + coef.shape[-1:])
    n_labels, d = coef.shape
    q = norm.isf(level / (n_labels * d * (d + 1)))
    ok = np.all(np.isfinite(cov), axis=(1, 2))
    cov = np.where(ok[:, None, None], cov, 0.0)
    var = np.diagonal(cov, axis1=1, axis2=2)
    order = np.argsort(-coef, axis=1, kind="stable")
    top, rest = order[:, :top_k], order[:, top_k:]

    def pick(a, idx):
        return np.take_along_axis(a, idx, axis=1)

    cross = np.take_along_axis(pick(cov, top[:, :, None]), rest[:, None, :], axis=2)  # C_ij, (L, k, d - k)
    var_diff = pick(var, top)[:, :, None] + pick(var, rest)[:, None, :] - 2.0 * cross
    gap = pick(coef, top)[:, :, None] - pick(coef, rest)[:, None, :]
    eps = tolerance * np.maximum(0.0, np.max(np.abs(coef) - q * np.sqrt(var), axis=1))
    lower = gap - q * np.sqrt(np.maximum(var_diff, 0.0))
    above_roundoff = np.maximum(gap, eps[:, None, None]) > resolution
    return ok & np.all((lower > -eps[:, None, None]) & above_roundoff, axis=(1, 2))


@dataclass(frozen=True)
class RoundsResult:
    """What :func:`run_rounds` ends with: the last fit, whether it settled, the rounds it took, and
    why it did not settle (None when it did)."""

    fit: object
    settled: bool
    n_rounds: int
    n_samples: int
    reason: str | None = None


def run_rounds(rule: StoppingRule, d: int, draw: Callable, evaluate: Callable, fit: Callable,
               coef_and_cov: Callable, min_samples: int = 2) -> RoundsResult:
    """Draw, evaluate and refit round by round until the top-k set is separated or samples run out.

    Parameters
    ----------
    rule : the stopping rule.
    d : number of superpixels.
    draw : ``draw(m, first) -> (z, weights)``: m new samples (``first``: the first round, whose row 0
        is the unperturbed image).
    evaluate : ``evaluate(z) -> y``: the model's outputs on x(z) for the new rows.
    fit : ``fit(z, y, weights) -> result``: the surrogate on all samples so far.
    coef_and_cov : ``coef_and_cov(result, z, y, weights) -> (coef, cov)``, (L, d) and (L, d, d): the
        coefficients of the fit on all samples so far and their covariance.
    min_samples : the fewest samples a fit needs (ridge 0: d + 1).
    """
    rule.check_for(d, min_samples)
    zs, ys, ws = [], [], []
    total = 0
    result = None
    roundoff = None  # the resolution, in a round where it alone kept the top-k set from settling
    for r, n_r in enumerate(rule.schedule(d, min_samples), start=1):
        z, w = draw(n_r - total, r == 1)
        zs.append(z)
        ws.append(w)
        ys.append(evaluate(z))
        total = n_r
        z_all, y_all, w_all = np.concatenate(zs), np.concatenate(ys), np.concatenate(ws)
        result = fit(z_all, y_all, w_all)
        coef, cov = coef_and_cov(result, z_all, y_all, w_all)
        level, res = round_level(r, rule.confidence), response_resolution(y_all)
        if separated(coef, cov, rule.top_k, level, rule.tolerance, res).all():
            return RoundsResult(result, True, r, total)
        if separated(coef, cov, rule.top_k, level, rule.tolerance).all():
            roundoff = res  # separated, but by differences below the responses' resolution
    if roundoff is not None:
        spread = float(np.max(np.ptp(np.atleast_2d(coef), axis=1)))
        reason = (f"the top-{rule.top_k} set was separated only by differences of coefficients (all within {spread:.3g}) "
                  f"below the float resolution of the model's responses ({roundoff:.3g}): the response does not depend "
                  "on the superpixels beyond round-off")
    else:
        reason = f"the top-{rule.top_k} set was not separated from the rest at max_samples = {rule.max_samples}"
    return RoundsResult(result, False, r, total, reason)
