"""Sigma for the kernel pi / alpha_0: O(1) numbers computed without cancellation (package docstring).

Everything is an expectation under the pi-weighted law q of the number of ones
(:func:`limetheory.kernel.weighted_law`), kept in logs where it is a small positive sum:

    (alpha_1 - alpha_2) / alpha_0 = E_q[k (d - k)] / (d (d - 1))
    c_d / alpha_0^2               = Var_q(k) / d
    sigma_0 / alpha_0             = E_q[k^2] / d
    T = (alpha_1^2 - alpha_0 alpha_2) / alpha_0^2 = (E_q[s]/d)^2 - E_q[s (s-1)] / (d (d-1))
    sigma_3 = T alpha_0^2 / (alpha_1 - alpha_2),   sigma_2 = sigma_3 + c_d / (alpha_1 - alpha_2).
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import log_expit, logsumexp

from .._binomial import log_binom_pmf, lse
from ..kernel import check_d, check_kernel, log_weighted_law_zeros

#: Below this, Sigma / alpha_0 is singular to float64 precision.
SINGULAR = 1e-300
#: Below this, beta^f is determined by generic moments only to about 1e-16 / pivot (a warning).
ILL_CONDITIONED = 1e-8


def _turan_tangent(d: int, kernel_width: float) -> tuple[float, float]:
    """T = m1^2 - m2 against the tangent binomial (package docstring); returns (T, error bound)."""
    c = 2.0 * kernel_width * kernel_width * d

    def g(y):  # logit(x) - slope of log pi in k at x = k/d, x = expit(y); increasing in y
        return y - (np.sqrt(1.0 + np.exp(-y)) - 1.0) / c

    lo, hi = -40.0, 40.0
    while g(hi) <= 0:
        hi *= 2
    y = brentq(g, lo, hi, xtol=1e-15)
    xs = float(np.exp(log_expit(y)))
    slope = (1.0 / np.sqrt(xs) - 1.0) / c  # d/dk log pi at k = d xs: the tilt logit(rho)
    log_rho, log_1mrho = float(log_expit(slope)), float(log_expit(-slope))
    rho = float(np.exp(log_rho))
    k = np.arange(d + 1, dtype=np.float64)
    x = k / d
    log_w = log_binom_pmf(k, d, log_rho, log_1mrho)
    w = np.exp(log_w - logsumexp(log_w))
    # log h = log pi(k) - log pi(d xs) - slope (k - d xs): Taylor remainder of 2 sqrt(x)/(2 nu^2)
    sx, sxs = np.sqrt(x), np.sqrt(xs)
    log_h = -((x - xs) ** 2) / (2.0 * kernel_width * kernel_width * (sx + sxs) ** 2 * sxs)
    eta = np.expm1(log_h)
    hh = float(w @ np.exp(log_h))
    phi1 = x - rho
    bracket = phi1 * phi1 - k * (d - k) / (d * d * (d - 1.0))
    a1 = float(w @ (eta * phi1))
    terms = w * eta * bracket
    t = -float(terms.sum()) / hh + (a1 / hh) ** 2
    err = (float(np.abs(terms).sum()) / hh + (a1 / hh) ** 2) * 1.1e-16 * 8
    return t, err


@dataclass(frozen=True)
class Normalized:
    """Everything about Sigma for the kernel pi / alpha_0 (all O(1) numbers)."""

    d: int
    kernel_width: float
    log_alpha0: float
    m1: float  # alpha_1 / alpha_0
    d1: float  # (alpha_1 - alpha_2) / alpha_0
    c: float  # c_d / alpha_0^2
    s0: float
    s1: float
    s2: float
    s3: float
    t: float  # (alpha_1^2 - alpha_0 alpha_2) / alpha_0^2

    @property
    def pivot(self) -> float:
        """The smallest of c_d / alpha_0^2 and (alpha_1 - alpha_2) / alpha_0: how close Sigma is to singular."""
        return self.c if self.d == 1 else min(self.c, self.d1)


class SingularSigma(ValueError):
    """Sigma / alpha_0 is singular to float64 precision: the kernel weight of any z with a zero,
    relative to z = 1, is below ~1e-290 (so beta^f is the interpolation at z = 1 and the z with one zero)."""


def _singular(d: int, kernel_width: float, pivot: float) -> ValueError:
    ratio = f"about {1 / pivot:.3g}" if pivot > 0 else "more than 1e300"
    return SingularSigma(
        f"Sigma is singular to float64 precision for d = {d}, kernel_width = {kernel_width:g}: the kernel gives "
        f"the unperturbed image a weight {ratio} times that of any other configuration; use a "
        "larger kernel_width"
    )


@functools.lru_cache(maxsize=512)
def _normalized(d: int, kernel_width: float, kernel: str = "lime") -> Normalized:
    # Work with the number of zeros s = d - k: q is largest near s = 0 when nu is small, and
    # moments of s are then small positive sums computed to full relative accuracy (in logs).
    log_q, log_a0 = log_weighted_law_zeros(d, kernel_width, kernel)
    s = np.arange(d + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_s = np.log(s)
        log_es = lse(log_q[1:] + log_s[1:])  # log E_q[s]
        es = float(np.exp(log_es))
        var = float(np.exp(lse(log_q + 2.0 * np.log(np.abs(s - es)))))  # Var_q(k) = Var_q(s)
    mu = d - es  # E_q[k]
    m1 = mu / d
    if d == 1:
        # Sigma = [[a0, a1], [a1, a1]]: c = a1 (a0 - a1), inverse (1/c) [[a1, -a1], [-a1, a0]]
        if not var >= SINGULAR:
            raise _singular(d, kernel_width, var)
        return Normalized(d, kernel_width, log_a0, m1, float("nan"), var, m1, -m1, 1.0, 0.0, 0.0)
    log_dd = float(np.log(d * (d - 1.0)))
    log_d1 = lse(log_q[1:d] + log_s[1:d] + np.log(d - s[1:d])) - log_dd  # E[s (d-s)] / (d (d-1))
    d1 = float(np.exp(log_d1))
    c = var / d
    if not min(c, d1) >= SINGULAR:
        raise _singular(d, kernel_width, min(c, d1))
    s0 = (var + mu * mu) / d
    # T = E[s]^2 / d^2 - E[s (s-1)] / (d (d-1)), two positive parts, kept in logs (each may
    # underflow while T / (a1 - a2) does not)
    log_ta = 2.0 * (log_es - np.log(d))
    log_tb = lse(log_q[2:] + log_s[2:] + np.log(s[2:] - 1.0)) - log_dd
    ta, tb = np.exp(log_ta), np.exp(log_tb)
    err_zero = (ta + tb) * 1e-15
    # the tangent form is for LIME's kernel; the Shapley kernel's q is symmetric about d/2, T is
    # not small against its parts there
    t_tan, err_tan = _turan_tangent(d, kernel_width) if kernel == "lime" else (0.0, np.inf)
    if err_tan < err_zero:  # the form with the smaller rounding-error bound
        t = t_tan
        s3 = t / d1
    else:
        t = float(ta - tb)
        s3 = float(np.exp(log_ta - log_d1) - np.exp(log_tb - log_d1))
    return Normalized(d, kernel_width, log_a0, m1, d1, c, s0, -m1, c / d1 + s3, s3, t)


def normalized(d, kernel_width, kernel: str = "lime") -> Normalized:
    """Checked :class:`Normalized` for (d, kernel_width) and an exchangeable ``kernel`` ("lime" or
    "shap": the Shapley kernel on 1 <= k <= d - 1, no width); ValueError if Sigma is singular in float64
    (always for the Shapley kernel with d <= 2: its patterns then all have one and the same k)."""
    kernel, kernel_width = check_kernel(kernel, kernel_width)
    return _normalized(check_d(d), 0.0 if kernel == "shap" else kernel_width, kernel)  # nan is no cache key


def warn_if_ill_conditioned(n: Normalized, stacklevel: int = 4) -> None:
    """RuntimeWarning when generic moments determine beta^f only to ~1e-16 / pivot."""
    if n.pivot < ILL_CONDITIONED:
        warnings.warn(
            f"for d = {n.d}, kernel_width = {n.kernel_width:g} the kernel almost only weighs the unperturbed image: "
            f"beta^f is determined by the moments only to about {2.2e-16 / n.pivot:.1g} (relative to the "
            "moments); product_limit, exact_limit and the analytic models do not have this problem",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


def interpolation_limit(f_one: np.ndarray, f_minus: np.ndarray) -> np.ndarray:
    """beta^f when the kernel sees only z = 1 and the d patterns 1 - e_j (Sigma singular in float64).

    ``beta_j = f(1) - f(1 - e_j)``, ``beta_0 = f(1) - sum_j beta_j``: the weighted least squares
    fits these d + 1 points exactly; the patterns with two or more zeros move beta by a relative
    ``pi(two zeros) / pi(one zero) <= C pi(one zero)^3`` (d_cos is convex in the number of zeros),
    below 1e-800 wherever :func:`normalized` reports Sigma singular. ``f_one`` (...,), ``f_minus`` (..., d).
    """
    b = f_one[..., None] - f_minus
    return np.concatenate([(f_one - b.sum(axis=-1))[..., None], b], axis=-1)


def beta_normalized(n: Normalized, g0: np.ndarray, g: np.ndarray) -> np.ndarray:
    """beta = Sigma_n^{-1} (g0, g) for moments of pi / alpha_0; g0 (...,), g (..., d).

    ``beta_j = g_j / D + kappa``, ``kappa = (sigma_1 g0 + sigma_3 S) / c``, ``S = sum_k g_k``
    (since sigma_2 - sigma_3 = c / D, D = (alpha_1 - alpha_2) / alpha_0), and
    ``beta_0 = (sigma_0 g0 + sigma_1 S) / c``, all for the kernel pi / alpha_0.
    """
    s = g.sum(axis=-1)
    b0 = (n.s0 * g0 + n.s1 * s) / n.c
    if n.d == 1:
        b = ((n.s1 * g0)[..., None] + n.s2 * g) / n.c
    else:
        kappa = (n.s1 * g0 + n.s3 * s) / n.c
        b = g / n.d1 + kappa[..., None]
    return np.concatenate([np.asarray(b0)[..., None], b], axis=-1)
