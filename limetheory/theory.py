"""The limit explanation of image LIME (Garreau & Mardaoui, ICML 2021, Theorem 1).

Stage "theory" of the data flow (THEORY.md section 2)::

    (d, nu) --> alpha_p, sigma, Sigma^{-1};  E[pi f], E[pi z f] --> beta^f

With z uniform on {0,1}^d and the kernel pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)),
d_cos(1, z) = 1 - sqrt(k / d) for a z with k ones (d_cos(1, 0) = 1),

    alpha_p = E[pi(z) z_1 ... z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d),
    psi(t)  = exp(-(1 - sqrt(1 - t))^2 / (2 nu^2)),

and the empirical LIME coefficients (ridge = 0) converge to beta^f = Sigma^{-1} Gamma^f,
Sigma = E[pi Z Z^T], Gamma^f = E[pi Z f], Z = (1, z).

Scale of pi
-----------
Every explanation is invariant to multiplying pi by a constant, but alpha_p and the quantities
built from it span hundreds of orders of magnitude: alpha_0 is about exp(-424) for d = 100000,
nu = 0.01, so c_d (about alpha_0^2) underflows float64, and alpha_d = 2^-d does for d > 1074.
Hence:

* :func:`log_alpha` returns log alpha_p, always representable.
* Functions that return quantities with a scale (:func:`alpha`, :func:`sigma`,
  :func:`sigma_inverse`) take ``log_scale``: they describe the kernel ``pi * exp(-log_scale)``.
  ``log_scale=0`` (default) gives the paper's values; ``log_scale=log_alpha(d, nu, 0)`` gives
  them for pi / alpha_0 (so alpha_0 = 1). They raise ``ValueError`` rather than return a value
  that under- or overflows float64.
* Moments E[pi f], E[pi z f] passed to :func:`limit_explanation` are understood as those of
  ``pi * exp(-log_scale)``; :class:`Moments` carries its ``log_scale`` with it, so
  ``limit_explanation(d, nu, *moments)`` is always consistent.

Numerics
--------
Internally everything is computed for pi / alpha_0, i.e. as expectations under the
pi-weighted law q of the number k of ones, q_k = C(d, k) 2^{-d} pi_k / alpha_0, with
log binomial probabilities from Loader's saddle-point expansion (absolute error ~1e-15 in
the log instead of ~1e-10 with ``gammaln`` at d = 1e5). The differences that cancel are
rewritten as sums of positive terms or as exactly centred sums:

    (alpha_1 - alpha_2) / alpha_0 = E_q[k (d - k)] / (d (d - 1))
    c_d / alpha_0^2               = Var_q(k) / d
    sigma_0 / alpha_0             = E_q[k^2] / d
    T = (alpha_1^2 - alpha_0 alpha_2) / alpha_0^2 = (E_q[s]/d)^2 - E_q[s (s-1)] / (d (d-1))
    sigma_3 = T alpha_0^2 / (alpha_1 - alpha_2),   sigma_2 = sigma_3 + c_d / (alpha_1 - alpha_2).

T vanishes for an exponential (geometric-in-k) kernel and is about 0.05 / (nu^2 d^2) here: for
d = 1e5, nu = 10 it is 1e-13 times alpha_1^2, so the naive difference has no correct digit.
It is computed against the tangent binomial Bin(d, rho) (rho from the tangent of log pi at the
mode of q): with h = q / Bin(d, rho) (up to a constant), eta = h - 1, H = E_rho[h],

    T = -E_rho[eta * ((k/d - rho)^2 - k (d - k) / (d^2 (d - 1)))] / H + (E_rho[eta (k/d - rho)] / H)^2,

whose terms are all of the size of T (log h is a closed-form Taylor remainder <= 0). When q
sits near k = d (small d and nu), T is taken from its form in the number of zeros s = d - k
(two small positive moments, kept in logs); the form with the smaller error bound is used.
Checked against mpmath (50+ digits) for d = 1..100000, nu = 0.01..10: relative error <= 1e-13
(tests/test_theory.py).
"""
from __future__ import annotations

import functools
import numbers
import warnings
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaln, log_expit, logsumexp

from .sampling import SAMPLERS, weighted_samples

__all__ = [
    "Moments",
    "alpha",
    "alpha_diff",
    "exact_limit",
    "exact_limit_covariance",
    "limit_explanation",
    "log_alpha",
    "log_kernel",
    "moments_exact",
    "monte_carlo_limit",
    "monte_carlo_moments",
    "product_limit",
    "ridge_bias",
    "Sigma",
    "sigma",
    "sigma_inverse",
    "sigma_matrix",
    "weighted_law",
]

#: Largest d for which :func:`exact_limit` enumerates {0,1}^d.
MAX_EXACT_D = 24
#: Largest d for which :func:`sigma_inverse` builds the dense (d+1, d+1) matrix.
MAX_DENSE_D = 5000
#: Below this, Sigma / alpha_0 is singular to float64 precision (see ``_check_conditioning``).
_SINGULAR = 1e-300
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
_LOG_HUGE = float(np.log(np.finfo(np.float64).max))
_LOG_2PI = float(np.log(2.0 * np.pi))


# =========================================================================== validation
def _check_d(d, name: str = "d") -> int:
    if isinstance(d, bool) or not isinstance(d, numbers.Integral):
        raise TypeError(f"{name} must be an integer number of superpixels, got {d!r}")
    if d < 1:
        raise ValueError(f"{name} must be >= 1, got {d}")
    return int(d)


def _check_nu(nu, name: str = "nu") -> float:
    if isinstance(nu, bool) or not isinstance(nu, numbers.Real):
        raise TypeError(f"{name} (kernel width) must be a real number, got {nu!r}")
    nu = float(nu)
    if not np.isfinite(nu) or nu <= 0:
        raise ValueError(f"{name} (kernel width) must be finite and > 0, got {nu}")
    return nu


def _check_log_scale(log_scale) -> float:
    if isinstance(log_scale, bool) or not isinstance(log_scale, numbers.Real) or not np.isfinite(log_scale):
        raise ValueError(f"log_scale must be a finite real number, got {log_scale!r}")
    return float(log_scale)


def _check_p(p, d: int, name: str = "p", high: int | None = None) -> np.ndarray:
    high = d if high is None else high
    arr = np.asarray(p)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if not (arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise TypeError(f"{name} must be an integer or an array of integers, got {p!r}")
        arr = arr.astype(np.int64)
    if np.any(arr < 0) or np.any(arr > high):
        raise ValueError(f"{name} must lie in 0..{high} for d = {d}, got {p!r}")
    return arr.astype(np.int64)


# =========================================================================== kernel and binomials
def log_kernel(n_ones, d: int, nu: float) -> np.ndarray:
    """log pi(z) for a z with ``n_ones`` ones out of ``d``.

    ``log pi = -d_cos^2 / (2 nu^2)`` with ``d_cos(1, z) = 1 - sqrt(k/d) = ((d-k)/d) / (1 + sqrt(k/d))``
    (the second form has no cancellation near k = d); ``d_cos(1, 0) = 1`` as in lime.
    """
    k = np.asarray(n_ones, dtype=np.float64)
    dcos = ((d - k) / d) / (1.0 + np.sqrt(k / d))
    return -(dcos**2) / (2.0 * nu * nu)


def _stirlerr(n: np.ndarray) -> np.ndarray:
    """log(n!) - log(sqrt(2 pi n) (n/e)^n) for integers n >= 1 (Stirling's remainder)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.empty_like(n)
    small = n <= 15
    ns = n[small]
    out[small] = gammaln(ns + 1.0) - (ns + 0.5) * np.log(ns) + ns - 0.5 * _LOG_2PI
    nl = n[~small]
    nn = nl * nl
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    out[~small] = (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / nl
    return out


def _bd0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """x log(x / m) + m - x >= 0 without cancellation (series in v = (x-m)/(x+m) near x = m)."""
    x = np.asarray(x, dtype=np.float64)
    m = np.broadcast_to(np.asarray(m, dtype=np.float64), x.shape)
    out = np.empty_like(x)
    near = np.abs(x - m) < 0.1 * (x + m)
    xn, mn = x[near], m[near]
    v = (xn - mn) / (xn + mn)
    s = (xn - mn) * v
    ej = 2.0 * xn * v
    v2 = v * v
    for j in range(1, 40):  # |v| < 0.1: 40 terms is far beyond double precision
        ej = ej * v2
        s = s + ej / (2 * j + 1)
    out[near] = s
    xf, mf = x[~near], m[~near]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[~near] = np.where(xf > 0, xf * np.log(xf / mf), 0.0) + mf - xf
    return out


def _log_binom_pmf(k, n: int, log_p: float, log_q: float) -> np.ndarray:
    """log of C(n, k) p^k q^(n-k) (q = 1 - p) by Loader's saddle-point expansion.

    ``log C(n,k) p^k q^(n-k) = stirlerr(n) - stirlerr(k) - stirlerr(n-k) - bd0(k, np)
    - bd0(n-k, nq) + log(n / (2 pi k (n-k))) / 2`` for 0 < k < n, and n log q, n log p at the
    ends. Absolute error of order 1e-15 times the (small) log-probability itself.
    """
    k = np.asarray(k, dtype=np.float64)
    out = np.empty_like(k)
    if n == 0:
        out[...] = 0.0
        return out
    p, q = np.exp(log_p), np.exp(log_q)
    lo, hi = k == 0, k == n
    out[lo] = n * log_q
    out[hi] = n * log_p
    mid = ~(lo | hi)
    km = k[mid]
    nk = n - km
    out[mid] = (
        _stirlerr(np.asarray([n]))[0]
        - _stirlerr(km)
        - _stirlerr(nk)
        - _bd0(km, n * p)
        - _bd0(nk, n * q)
        + 0.5 * (np.log(n) - _LOG_2PI - np.log(km) - np.log(nk))
    )
    return out


_LOG_HALF = float(np.log(0.5))


def _log_half_binom(n: int) -> np.ndarray:
    """log(C(n, s) 2^{-n}) for s = 0..n."""
    return _log_binom_pmf(np.arange(n + 1), n, _LOG_HALF, _LOG_HALF)


# =========================================================================== alpha_p
def _log_alpha_one(d: int, nu: float, p: int) -> float:
    # alpha_p = 2^{-p} sum_s [C(d-p, s) 2^{-(d-p)}] psi(s/d), s = number of zeros
    n = d - p
    s = np.arange(n + 1)
    return float(logsumexp(_log_half_binom(n) + log_kernel(d - s, d, nu))) + p * _LOG_HALF


def _log_alpha_diff_one(d: int, nu: float, p: int) -> float:
    # alpha_p - alpha_{p+1} = E[pi z_1..z_p (1 - z_{p+1})] = 2^{-d} sum_{s=1}^{d-p} C(d-p-1, s-1) psi(s/d)
    n = d - p - 1
    s = np.arange(1, n + 2)
    return float(logsumexp(_log_half_binom(n) + log_kernel(d - s, d, nu))) + (p + 1) * _LOG_HALF


def log_alpha(d: int, nu: float, p=0):
    """log alpha_p for the kernel of bandwidth ``nu``; ``p`` an integer or an array of integers.

    ``alpha_p = E[pi(z) z_1...z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d)`` (THEORY.md
    section 2), evaluated as a log-sum-exp of log binomial probabilities. Never under- or
    overflows. Cost O(d) per value of p.

    Raises
    ------
    ValueError
        If ``d < 1``, ``nu <= 0`` or some ``p`` is outside ``0..d``.
    """
    d, nu = _check_d(d), _check_nu(nu)
    parr = _check_p(p, d)
    out = np.array([_log_alpha_one(d, nu, int(pi)) for pi in parr.ravel()], dtype=np.float64)
    return float(out[0]) if parr.ndim == 0 else out.reshape(parr.shape)


def _exp_checked(log_values, what: str, hint: str):
    arr = np.asarray(log_values, dtype=np.float64)
    if np.any(arr > _LOG_HUGE) or np.any(arr < _LOG_TINY):
        bad = arr[(arr > _LOG_HUGE) | (arr < _LOG_TINY)].ravel()[0]
        raise ValueError(f"{what} = exp({bad:.6g}) is not representable in float64; {hint}")
    return np.exp(arr)


def alpha(d: int, nu: float, p=0, *, log_scale: float = 0.0):
    """alpha_p * exp(-log_scale): the p-th kernel moment for the kernel pi * exp(-log_scale).

    Parameters
    ----------
    d : int >= 1
        Number of superpixels.
    nu : float > 0
        Kernel width (lime's ``kernel_width``, 0.25 by default).
    p : int or array of ints in 0..d
        ``alpha_p = E[pi(z) z_1 ... z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d)``,
        ``psi(t) = exp(-(1 - sqrt(1 - t))^2 / (2 nu^2))``.
    log_scale : float
        0 (default) gives the paper's alpha_p. Use ``log_scale=log_alpha(d, nu, 0)`` to get
        alpha_p / alpha_0 when alpha_p itself is out of float64's range (large d, small nu).

    Returns
    -------
    float, or an array shaped like ``p``.

    Raises
    ------
    ValueError
        If a value under- or overflows float64 at this ``log_scale`` (use :func:`log_alpha`).
    """
    log_scale = _check_log_scale(log_scale)
    la = np.asarray(log_alpha(d, nu, p)) - log_scale
    out = _exp_checked(la, "alpha_p * exp(-log_scale)", "use log_alpha(), or pass log_scale=log_alpha(d, nu, 0)")
    return float(out) if np.ndim(p) == 0 else out


def alpha_diff(d: int, nu: float, p=0, *, log_scale: float = 0.0):
    """(alpha_p - alpha_{p+1}) * exp(-log_scale), computed as its own positive sum.

    ``alpha_p - alpha_{p+1} = E[pi z_1...z_p (1 - z_{p+1})] = 2^{-d} sum_{s=1}^{d-p} C(d-p-1, s-1) psi(s/d)``
    (no cancellation, unlike subtracting two values of :func:`alpha`). ``p`` in ``0..d-1``.
    """
    d, nu = _check_d(d), _check_nu(nu)
    log_scale = _check_log_scale(log_scale)
    if d < 2 and np.any(np.asarray(p) != 0):
        raise ValueError(f"p must be 0 for d = 1, got {p!r}")
    parr = _check_p(p, d, high=d - 1)
    la = np.array([_log_alpha_diff_one(d, nu, int(pi)) for pi in parr.ravel()]).reshape(parr.shape)
    out = _exp_checked(la - log_scale, "(alpha_p - alpha_{p+1}) * exp(-log_scale)",
                       "pass log_scale=log_alpha(d, nu, 0)")
    return float(out) if parr.ndim == 0 else out


# =========================================================================== the weighted law of k
def _log_weighted_law_zeros(d: int, nu: float) -> tuple[np.ndarray, float]:
    """log q by the number s of zeros (s = 0..d), and log alpha_0."""
    s = np.arange(d + 1)
    log_ps = _log_half_binom(d) + log_kernel(d - s, d, nu)
    log_a0 = float(logsumexp(log_ps))
    return log_ps - log_a0, log_a0


def weighted_law(d: int, nu: float) -> tuple[np.ndarray, float]:
    """The pi-weighted law of the number k of ones: ``q_k = C(d,k) 2^{-d} pi_k / alpha_0``.

    Returns ``(q, log_alpha_0)`` with q of shape (d+1,) indexed by k, summing to 1. Sampling k
    from q and then z uniformly among the vectors with k ones samples z with density
    pi(z) / alpha_0 (relative to the uniform law on {0,1}^d).
    """
    d, nu = _check_d(d), _check_nu(nu)
    log_q, log_a0 = _log_weighted_law_zeros(d, nu)
    q = np.exp(log_q[::-1])
    return q / q.sum(), log_a0


def _lse(log_terms: np.ndarray) -> float:
    return float(logsumexp(log_terms)) if log_terms.size else -np.inf


def _turan_tangent(d: int, nu: float) -> tuple[float, float]:
    """T = m1^2 - m2 against the tangent binomial (module docstring); returns (T, error bound)."""
    c = 2.0 * nu * nu * d

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
    log_w = _log_binom_pmf(k, d, log_rho, log_1mrho)
    w = np.exp(log_w - logsumexp(log_w))
    # log h = log pi(k) - log pi(d xs) - slope (k - d xs): Taylor remainder of 2 sqrt(x)/(2 nu^2)
    sx, sxs = np.sqrt(x), np.sqrt(xs)
    log_h = -((x - xs) ** 2) / (2.0 * nu * nu * (sx + sxs) ** 2 * sxs)
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
class _Normalized:
    """Everything about Sigma for the kernel pi / alpha_0 (all O(1) numbers)."""

    d: int
    nu: float
    log_alpha0: float
    m1: float  # alpha_1 / alpha_0
    d1: float  # (alpha_1 - alpha_2) / alpha_0
    c: float  # c_d / alpha_0^2
    s0: float
    s1: float
    s2: float
    s3: float
    t: float  # (alpha_1^2 - alpha_0 alpha_2) / alpha_0^2


@functools.lru_cache(maxsize=512)
def _normalized(d: int, nu: float) -> _Normalized:
    # Work with the number of zeros s = d - k: q is largest near s = 0 when nu is small, and
    # moments of s are then small positive sums computed to full relative accuracy (in logs).
    log_q, log_a0 = _log_weighted_law_zeros(d, nu)
    s = np.arange(d + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_s = np.log(s)
    log_es = _lse(log_q[1:] + log_s[1:])  # log E_q[s]
    es = float(np.exp(log_es))
    with np.errstate(divide="ignore"):
        var = float(np.exp(_lse(log_q + 2.0 * np.log(np.abs(s - es)))))  # Var_q(k) = Var_q(s)
    mu = d - es  # E_q[k]
    m1 = mu / d
    if d == 1:
        # Sigma = [[a0, a1], [a1, a1]]: c = a1 (a0 - a1), inverse (1/c) [[a1, -a1], [-a1, a0]]
        return _Normalized(d, nu, log_a0, m1, float("nan"), var, m1, -m1, 1.0, 0.0, 0.0)
    log_dd = float(np.log(d * (d - 1.0)))
    log_d1 = _lse(log_q[1:d] + log_s[1:d] + np.log(d - s[1:d])) - log_dd  # E[s (d-s)] / (d (d-1))
    d1 = float(np.exp(log_d1))
    c = var / d
    s0 = (var + mu * mu) / d
    # T = E[s]^2 / d^2 - E[s (s-1)] / (d (d-1)), two positive parts, kept in logs (each may
    # underflow while T / (a1 - a2) does not)
    log_ta = 2.0 * (log_es - np.log(d))
    log_tb = (_lse(log_q[2:] + log_s[2:] + np.log(s[2:] - 1.0)) if d >= 2 else -np.inf) - log_dd
    ta, tb = np.exp(log_ta), np.exp(log_tb)
    err_zero = (ta + tb) * 1e-15
    t_tan, err_tan = _turan_tangent(d, nu)
    if err_tan < err_zero:  # the form with the smaller rounding-error bound
        t = t_tan
        s3 = t / d1
    else:
        t = float(ta - tb)
        s3 = float(np.exp(log_ta - log_d1) - np.exp(log_tb - log_d1))
    return _Normalized(d, nu, log_a0, m1, d1, c, s0, -m1, c / d1 + s3, s3, t)


def _check_conditioning(n: _Normalized) -> None:
    small = n.c if n.d == 1 else min(n.c, n.d1)
    if not small >= _SINGULAR:
        raise ValueError(
            f"Sigma is singular to float64 precision for d = {n.d}, nu = {n.nu:g}: the kernel gives "
            f"the unperturbed image a weight about {1 / max(small, 1e-320):.3g} times that of any other "
            "configuration; use a larger kernel width nu"
        )


def _norm(d, nu) -> _Normalized:
    n = _normalized(_check_d(d), _check_nu(nu))
    _check_conditioning(n)
    return n


# =========================================================================== Sigma and its inverse
class Sigma(NamedTuple):
    """Coefficients of Sigma^{-1} = (1/c_d) [[sigma_0, sigma_1 1^T], [sigma_1 1, M]] (THEORY.md s. 2)."""

    c_d: float
    sigma_0: float
    sigma_1: float
    sigma_2: float
    sigma_3: float


def sigma(d: int, nu: float, *, log_scale: float = 0.0) -> Sigma:
    """(c_d, sigma_0, sigma_1, sigma_2, sigma_3) for the kernel pi * exp(-log_scale).

    ``c_d = (d-1) a0 a2 - d a1^2 + a0 a1``, ``sigma_0 = (d-1) a2 + a1``, ``sigma_1 = -a1``,
    ``sigma_2 = ((d-2) a0 a2 - (d-1) a1^2 + a0 a1) / (a1 - a2)``,
    ``sigma_3 = (a1^2 - a0 a2) / (a1 - a2)`` with ``a_p = alpha_p exp(-log_scale)``; c_d scales
    like exp(-2 log_scale), the sigmas like exp(-log_scale). Evaluated without cancellation (module
    docstring). For d = 1 (a 2 x 2 Sigma) ``sigma_2 = a0`` and ``sigma_3 = 0`` (there is no
    off-diagonal entry).

    Raises
    ------
    ValueError
        If a value is not representable at this ``log_scale`` (pass
        ``log_scale=log_alpha(d, nu, 0)``), or Sigma is singular to float64 precision (d = 1
        with nu < ~0.027).
    """
    n = _norm(d, nu)
    shift = n.log_alpha0 - _check_log_scale(log_scale)
    hint = "pass log_scale=log_alpha(d, nu, 0)"
    out = []
    for value, power in ((n.c, 2), (n.s0, 1), (n.s1, 1), (n.s2, 1), (n.s3, 1)):
        if value == 0.0:
            out.append(0.0)
            continue
        lv = np.log(abs(value)) + power * shift
        out.append(float(np.sign(value) * _exp_checked(lv, "a coefficient of sigma", hint)))
    return Sigma(*out)


def sigma_inverse(d: int, nu: float, *, log_scale: float = 0.0) -> np.ndarray:
    """The dense (d+1, d+1) matrix Sigma^{-1} for the kernel pi * exp(-log_scale).

    ``Sigma^{-1} = (1/c_d) [[sigma_0, sigma_1 1^T], [sigma_1 1, M]]``, M with sigma_2 on the
    diagonal and sigma_3 elsewhere, Sigma = E[pi Z Z^T], Z = (1, z). It scales like exp(log_scale).
    Limited to d <= MAX_DENSE_D (memory); use :func:`sigma` beyond.
    """
    n = _norm(d, nu)
    if n.d > MAX_DENSE_D:
        raise ValueError(f"d must be <= {MAX_DENSE_D} for a dense Sigma^{{-1}}, got {n.d}; use sigma()")
    shift = _check_log_scale(log_scale) - n.log_alpha0
    scale = _exp_checked(np.log(1.0 / n.c) + shift, "the scale 1/c_d of Sigma^{-1}",
                         "pass log_scale=log_alpha(d, nu, 0)")
    m = np.full((n.d + 1, n.d + 1), n.s3)
    np.fill_diagonal(m, n.s2)
    m[0, :] = n.s1
    m[:, 0] = n.s1
    m[0, 0] = n.s0
    return m * float(scale)


def sigma_matrix(d: int, nu: float, *, log_scale: float = 0.0) -> np.ndarray:
    """The dense (d+1, d+1) matrix Sigma = E[pi Z Z^T] for pi * exp(-log_scale) (small d; tests).

    ``Sigma = [[alpha_0, alpha_1 1^T], [alpha_1 1, (alpha_1 - alpha_2) I + alpha_2 1 1^T]]``.
    """
    d, nu = _check_d(d), _check_nu(nu)
    if d > MAX_DENSE_D:
        raise ValueError(f"d must be <= {MAX_DENSE_D}, got {d}")
    a0, a1 = alpha(d, nu, [0, 1], log_scale=log_scale)
    if d == 1:
        return np.array([[a0, a1], [a1, a1]])
    a2 = alpha(d, nu, 2, log_scale=log_scale)
    m = np.full((d + 1, d + 1), a2)
    idx = np.arange(1, d + 1)
    m[idx, idx] = a2 + alpha_diff(d, nu, 1, log_scale=log_scale)
    m[0, :] = a1
    m[:, 0] = a1
    m[0, 0] = a0
    return m


# =========================================================================== limit explanation
def _as_moments(d: int, e_pi_f, e_pi_z_f) -> tuple[np.ndarray, np.ndarray]:
    g0 = np.asarray(e_pi_f, dtype=np.float64)
    g = np.asarray(e_pi_z_f, dtype=np.float64)
    if g0.ndim > 1:
        raise ValueError(f"e_pi_f must be a scalar or a (k,) array, got shape {g0.shape}")
    if g.shape != g0.shape + (d,):
        raise ValueError(
            f"e_pi_z_f must have shape {g0.shape + (d,)} to match e_pi_f {g0.shape} and d = {d}, got {g.shape}"
        )
    if not (np.all(np.isfinite(g0)) and np.all(np.isfinite(g))):
        raise ValueError("e_pi_f and e_pi_z_f must be finite")
    return g0, g


def _rescale(values: np.ndarray, log_factor: float) -> np.ndarray:
    """values * exp(log_factor) without overflow in the factor."""
    with np.errstate(divide="ignore"):
        lv = np.log(np.abs(values)) + log_factor
    if np.any(lv > _LOG_HUGE):
        raise ValueError("the moments are out of float64's range at this log_scale; check log_scale")
    return np.sign(values) * np.exp(lv)


def _beta_normalized(n: _Normalized, g0: np.ndarray, g: np.ndarray) -> np.ndarray:
    """beta = Sigma_n^{-1} (g0, g) for moments of pi / alpha_0; g0 (...,), g (..., d)."""
    s = g.sum(axis=-1)
    if n.d == 1:
        b0 = (n.s0 * g0 + n.s1 * s) / n.c
        b = ((n.s1 * g0)[..., None] + n.s2 * g) / n.c
    else:
        # beta_j = (s1 g0 + s2 g_j + s3 sum_{k != j} g_k) / c = g_j / (a1 - a2) + kappa,
        # since s2 - s3 = c / (a1 - a2); kappa = (s1 g0 + s3 S) / c
        kappa = (n.s1 * g0 + n.s3 * s) / n.c
        b0 = (n.s0 * g0 + n.s1 * s) / n.c
        b = g / n.d1 + kappa[..., None]
    return np.concatenate([np.asarray(b0)[..., None], b], axis=-1)


def limit_explanation(d: int, nu: float, e_pi_f, e_pi_z_f, log_scale: float = 0.0) -> np.ndarray:
    """beta^f = Sigma^{-1} Gamma^f, the limit of LIME's coefficients (ridge = 0), intercept first.

    ``beta_j = (sigma_1 E[pi f] + sigma_2 E[pi z_j f] + sigma_3 sum_{k != j} E[pi z_k f]) / c_d``,
    ``beta_0 = (sigma_0 E[pi f] + sigma_1 sum_k E[pi z_k f]) / c_d`` (THEORY.md section 2).

    Parameters
    ----------
    d, nu : int, float
        Number of superpixels and kernel width.
    e_pi_f : float or (k,) array
        E[pi f(x(z))] (one value per explained class).
    e_pi_z_f : (d,) or (k, d) array
        E[pi z_j f(x(z))].
    log_scale : float
        The moments are those of the kernel ``pi * exp(-log_scale)`` (0: the plain kernel). beta
        does not depend on the scale of pi, only on this being consistent. A :class:`Moments`
        carries its own: ``limit_explanation(d, nu, *moments)``.

    Returns
    -------
    (d+1,) array, or (k, d+1) for (k,) moments: intercept first.

    Notes
    -----
    Evaluated as ``beta_j = g_j / D + kappa`` (``D = (alpha_1 - alpha_2)/alpha_0``, kappa common to
    all j, since sigma_2 - sigma_3 = c_d / (alpha_1 - alpha_2)) on moments normalised by alpha_0:
    the error is a few units of roundoff times the componentwise condition
    ``(|Sigma^{-1}| |Gamma|)_j``. When D or c_d / alpha_0^2 is tiny (small d with small nu:
    the kernel almost only sees the unperturbed image) the moments themselves carry beta only to
    ~1e-16 / D, and a ``RuntimeWarning`` says so.
    """
    n = _norm(d, nu)
    g0, g = _as_moments(n.d, e_pi_f, e_pi_z_f)
    factor = _check_log_scale(log_scale) - n.log_alpha0
    _warn_if_ill_conditioned(n)
    return _beta_normalized(n, _rescale(g0, factor), _rescale(g, factor))


def _warn_if_ill_conditioned(n: _Normalized) -> None:
    small = n.c if n.d == 1 else min(n.c, n.d1)
    if small < 1e-8:
        warnings.warn(
            f"for d = {n.d}, nu = {n.nu:g} the kernel almost only weighs the unperturbed image: "
            f"beta^f is determined by the moments only to about {2.2e-16 / small:.1g} (relative to the "
            "moments); product_limit and the analytic models do not have this problem",
            RuntimeWarning,
            stacklevel=3,
        )


def product_limit(d: int, nu: float, members, absent=()) -> np.ndarray:
    """beta^f for f(z) = prod_{j in E} z_j (the shape detector, THEORY.md section 3).

    With p = |E|, E[pi f] = alpha_p and E[pi z_j f] = alpha_p for j in E, alpha_{p+1} otherwise,
    and THEORY.md's closed form follows. It is evaluated in a form with no 1/c_d amplification:
    by exchangeability ``beta_j = b_out + gap 1[j in E]`` with

        gap   = (alpha_p - alpha_{p+1}) / (alpha_1 - alpha_2)            (two positive sums),
        b_out = Cov_q(h, k) / Var_q(k) - (p/d) gap,    b_in = b_out + gap,
        beta_0 = alpha_p / alpha_0 - (p gap + d b_out) E_q[k] / d,

    where q is the pi-weighted law of the number k of ones (:func:`weighted_law`) and
    h(k) = P(z_E = 1 | k ones) = (k)_p / (d)_p. (For p = d there is no outside and gap = 0.)
    p = 0 (f = 1) and p = 1 (f = z_j, linear) give their exact answers. b_out vanishes for an
    exponential kernel and is small here; its absolute error is ~1e-16 |b_in|.

    Parameters
    ----------
    members : (d,) boolean mask of E, or a sequence of indices in 0..d-1.
    absent : optional mask or indices B disjoint from E, for f(z) = prod_E z_j prod_B (1 - z_j)
        (a shape that only the replacement lights). Then E[pi f] = A(p, r), E[pi z_j f] = A(p, r)
        on E, 0 on B and A(p+1, r) elsewhere, with A(p, r) = 2^{-d} sum_s C(d-p-r, s-r) psi(s/d)
        (s zeros, r of them on B), and beta comes from :func:`limit_explanation`'s formula.
    """
    d, nu = _check_d(d), _check_nu(nu)
    mask = _members_mask(members, d)
    off = _members_mask(absent, d)
    if np.any(mask & off):
        raise ValueError("members and absent must be disjoint")
    if off.any():
        return _product_limit_general(d, nu, mask, off)
    p = int(mask.sum())
    out = np.zeros(d + 1)
    if p <= 1:  # f = 1 or f = z_j: LIME recovers them exactly
        out[0] = 1.0 - p
        out[1:][mask] = 1.0
        return out
    n = _norm(d, nu)
    log_q, log_a0 = _log_weighted_law_zeros(d, nu)  # by number of zeros s
    q = np.exp(log_q)
    s = np.arange(d + 1, dtype=np.float64)
    # 1 - h as a function of s: log h(s) = sum_{t < s} log1p(-p / (d - t)) for s <= d - p, else h = 0
    log_h = np.full(d + 1, -np.inf)
    log_h[: d - p + 1] = np.concatenate([[0.0], np.cumsum(np.log1p(-p / (d - s[: d - p])))])
    h = np.exp(log_h)
    es, eh = float(q @ s), float(q @ h)
    var = float(q @ (s - es) ** 2)
    if eh < 0.5:  # Cov(h, k) = -Cov(h, s), h mostly small
        cov = -float(q @ ((h - eh) * (s - es)))
    else:  # = Cov(1 - h, s), 1 - h mostly small: keep it accurate near s = 0
        x = -np.expm1(log_h)
        cov = float(q @ ((x - float(q @ x)) * (s - es)))
    a_p = float(np.exp(_log_alpha_one(d, nu, p) - log_a0))
    gap = float(np.exp(_log_alpha_diff_one(d, nu, p) - log_a0)) / n.d1 if p < d else 0.0
    b_out = cov / var - (p / d) * gap
    out[1:] = np.where(mask, b_out + gap, b_out)
    out[0] = a_p - (p * gap + d * b_out) * n.m1
    return out


def _log_product_moment(d: int, nu: float, p: int, r: int) -> float:
    """log E[pi z_1..z_p (1 - z_{p+1})..(1 - z_{p+r})] = log 2^{-d} sum_{s=r}^{d-p} C(d-p-r, s-r) psi(s/d)."""
    n = d - p - r
    s = np.arange(r, d - p + 1)
    return float(logsumexp(_log_half_binom(n) + log_kernel(d - s, d, nu))) + (p + r) * _LOG_HALF


def _product_limit_general(d: int, nu: float, mask: np.ndarray, off: np.ndarray) -> np.ndarray:
    n = _norm(d, nu)
    p, r = int(mask.sum()), int(off.sum())
    a_pr = np.exp(_log_product_moment(d, nu, p, r) - n.log_alpha0)
    a_p1r = np.exp(_log_product_moment(d, nu, p + 1, r) - n.log_alpha0) if p + r < d else 0.0
    g = np.where(mask, a_pr, np.where(off, 0.0, a_p1r))
    _warn_if_ill_conditioned(n)
    return _beta_normalized(n, np.asarray(a_pr), g)


def _members_mask(members, d: int) -> np.ndarray:
    arr = np.asarray(members)
    if arr.size == 0:
        return np.zeros(d, dtype=bool)
    if arr.dtype == bool:
        if arr.shape != (d,):
            raise ValueError(f"members must be a boolean mask of shape ({d},), got shape {arr.shape}")
        return arr
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= d):
        raise ValueError(f"members must be indices in 0..{d - 1}, got {members!r}")
    mask = np.zeros(d, dtype=bool)
    mask[arr.astype(np.int64).ravel()] = True
    return mask


def ridge_bias(d: int, nu: float, beta, ridge: float = 1.0) -> np.ndarray:
    """lim_n n (beta_hat_ridge - beta_hat_0) for the coefficients: lime's ridge bias is this over n.

    With an unpenalised intercept, the ridge adds ``ridge * I`` to the centred weighted Gram
    matrix sum_i pi_i (z_i - z_bar)(z_i - z_bar)^T ~ n alpha_0 (D I - T 1 1^T), D = (alpha_1 -
    alpha_2)/alpha_0, T = (alpha_1^2 - alpha_0 alpha_2)/alpha_0^2 (the pi-weighted covariance of z).
    So, to first order in ridge / n,

        beta_hat_ridge - beta_hat_0 ~ -(ridge / (n alpha_0)) (D I - T 1 1^T)^{-1} beta_{1..d},
        (D I - T 1 1^T)^{-1} = (I + (T / c) 1 1^T) / D,  c = D - d T = c_d / alpha_0^2 > 0,

    for the kernel as lime computes it (pi(1) = 1). ``beta`` is the (d+1,) limit explanation
    (intercept first) or its (d,) coefficients; returns (d,).
    """
    n = _norm(d, nu)
    if isinstance(ridge, bool) or not isinstance(ridge, numbers.Real) or not np.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    b = np.asarray(beta, dtype=np.float64)
    if b.shape == (n.d + 1,):
        b = b[1:]
    if b.shape != (n.d,):
        raise ValueError(f"beta must have shape ({n.d + 1},) or ({n.d},), got {b.shape}")
    if n.d == 1:
        solved = b / n.c
    else:
        solved = (b + (n.t / n.c) * b.sum()) / n.d1
    return -float(ridge) * float(np.exp(-n.log_alpha0)) * solved


# =========================================================================== moments: exact and Monte Carlo
class Moments(NamedTuple):
    """E[pi f] and E[pi z f] for the kernel ``pi * exp(-log_scale)``; ``limit_explanation(d, nu, *m)``."""

    e_pi_f: np.ndarray  # () or (k,)
    e_pi_z_f: np.ndarray  # (d,) or (k, d)
    log_scale: float


def _call_f(f_of_z: Callable, z: np.ndarray, k_out: int | None) -> np.ndarray:
    """f_of_z(z) as float64 (m,) or (m, k); ``k_out`` is the previous batch's k (-1: 1-D), if any."""
    y = np.asarray(f_of_z(z), dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[0] != z.shape[0]:
        raise ValueError(f"f_of_z must return an (m,) or (m, k) array for m = {z.shape[0]} rows, got shape {y.shape}")
    if k_out is not None and (y.shape[1] if y.ndim == 2 else -1) != k_out:
        raise ValueError("f_of_z must return arrays of the same shape for every batch")
    if not np.all(np.isfinite(y)):
        raise ValueError("f_of_z returned NaN or infinite values")
    return y


def _enumerate(d: int, start: int, stop: int) -> np.ndarray:
    idx = np.arange(start, stop, dtype=np.int64)
    return ((idx[:, None] >> np.arange(d, dtype=np.int64)) & 1).astype(np.uint8)


def moments_exact(f_of_z: Callable, d: int, nu: float, *, batch_size: int = 1 << 15) -> Moments:
    """E[pi f], E[pi z f] by enumerating all 2^d vectors z (d <= MAX_EXACT_D).

    ``E[pi z_j f] = 2^{-d} sum_z pi(z) z_j f(z)``; ``f_of_z`` takes an (m, d) uint8 0/1 array and
    returns (m,) or (m, k). Returned for the kernel pi / alpha_0 (``log_scale = log alpha_0``),
    i.e. as pi-weighted means.
    """
    d, nu = _check_d(d), _check_nu(nu)
    if d > MAX_EXACT_D:
        raise ValueError(f"d must be <= {MAX_EXACT_D} for exact enumeration, got {d}; use monte_carlo_limit")
    if not callable(f_of_z):
        raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
    log_a0 = _log_alpha_one(d, nu, 0)
    # weight of one z with k ones under pi / alpha_0: 2^{-d} pi_k / alpha_0
    log_w_of_k = d * _LOG_HALF + log_kernel(np.arange(d + 1), d, nu) - log_a0
    w_of_k = np.exp(log_w_of_k)
    g0 = g = None
    k_out = None
    total = 1 << d
    for start in range(0, total, batch_size):
        z = _enumerate(d, start, min(start + batch_size, total))
        y = _call_f(f_of_z, z, k_out)
        k_out = y.shape[1] if y.ndim == 2 else -1
        wy = w_of_k[z.sum(axis=1)][:, None] * (y if y.ndim == 2 else y[:, None])
        part0, part = wy.sum(axis=0), z.T.astype(np.float64) @ wy
        g0 = part0 if g0 is None else g0 + part0
        g = part if g is None else g + part
    if k_out == -1:
        return Moments(g0[0], g[:, 0], log_a0)
    return Moments(g0, g.T, log_a0)


def exact_limit(f_of_z: Callable, d: int, nu: float, *, batch_size: int = 1 << 15) -> np.ndarray:
    """The exact limit explanation beta^f of any f(z), enumerating {0,1}^d (d <= MAX_EXACT_D).

    ``beta^f = Sigma^{-1} E[pi Z f(z)]``; (d+1,) for a scalar f, (k, d+1) for an (m, k) output;
    intercept first. The ground truth any empirical LIME run converges to (ridge = 0).
    """
    m = moments_exact(f_of_z, d, nu, batch_size=batch_size)
    return limit_explanation(d, nu, *m)


def exact_limit_covariance(f_of_z: Callable, d: int, nu: float, *, sampler: str = "bernoulli",
                           batch_size: int = 1 << 15) -> np.ndarray:
    """The exact asymptotic covariance of LIME's estimate around beta^f, by enumerating {0,1}^d.

    Empirical LIME with ridge = 0 solves sum_i pi_i x_i (f(z_i) - x_i^T b) = 0, x = (1, z), over
    i.i.d. z_i ~ Bernoulli(1/2)^d, so sqrt(n) (beta_hat_n - beta^f) -> N(0, V) with the sandwich

        V = H^{-1} M H^{-1},   H = E[pi x x^T] (= Sigma),   M = E[pi^2 (f - x^T beta^f)^2 x x^T].

    So the coefficients' error has covariance ~ V / n: ``sqrt(trace(V[1:, 1:]) / n)`` is the
    root-mean-square of ||beta_hat_n - beta^f||_2, the constant in front of the paper's n^(-1/2)
    rate. V does not change when pi is multiplied by a constant (computed with pi / alpha_0).
    lime's ridge = 1 only adds a bias of order 1/n (:func:`ridge_bias`).

    ``sampler="weighted"``: z drawn from the pi-weighted law with equal weights
    (:func:`limetheory.sampling.weighted_samples`); same H and beta^f, and
    M = alpha_0 E[pi (f - x^T beta^f)^2 x x^T] (for the kernel pi / alpha_0: M = E[pi r^2 x x^T]).

    Cost: two passes over {0,1}^d (beta^f first, then the residuals), so ``f_of_z`` is called twice
    on every z. For an expensive model, evaluate it once on all 2^d patterns and pass a lookup
    (as experiment 3 and notebook 1 do).

    Returns (d+1, d+1) for a scalar f, (k, d+1, d+1) for an (m, k) output; intercept first.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    beta = exact_limit(f_of_z, d, nu, batch_size=batch_size)
    beta2 = np.atleast_2d(beta)  # (k, d + 1)
    log_a0 = _log_alpha_one(d, nu, 0)
    pi_of_k = np.exp(log_kernel(np.arange(d + 1), d, nu) - log_a0)  # pi / alpha_0 by number of ones
    prob = 0.5**d
    hessian = np.zeros((d + 1, d + 1))
    meat = np.zeros((beta2.shape[0], d + 1, d + 1))
    total = 1 << d
    for start in range(0, total, batch_size):
        z = _enumerate(d, start, min(start + batch_size, total))
        x = np.hstack([np.ones((z.shape[0], 1)), z.astype(np.float64)])
        pi = pi_of_k[z.sum(axis=1)]
        y = _call_f(f_of_z, z, None)
        resid = (y if y.ndim == 2 else y[:, None]) - x @ beta2.T  # (m, k)
        hessian += x.T @ (x * (prob * pi)[:, None])
        meat_weight = prob * pi**2 if sampler == "bernoulli" else prob * pi  # law x weight^2
        for k in range(beta2.shape[0]):
            meat[k] += x.T @ (x * (meat_weight * resid[:, k] ** 2)[:, None])
    h_inv = np.linalg.inv(hessian)
    cov = h_inv @ meat @ h_inv
    return cov[0] if np.ndim(beta) == 1 else cov


def monte_carlo_moments(z, weights_or_nu, y) -> Moments:
    """Sample estimates of E[pi f], E[pi z f] from LIME-style samples z ~ Bernoulli(1/2)^d.

    ``E[pi f] ~ mean_i pi_i y_i``, ``E[pi z_j f] ~ mean_i pi_i z_ij y_i``.

    Parameters
    ----------
    z : (n, d) array of 0/1
    weights_or_nu : (n,) array of kernel weights pi_i (returned with log_scale = 0), or the
        kernel width nu (weights computed in log space, returned with log_scale = max log pi_i).
    y : (n,) or (n, k) array of f(x(z_i)).
    """
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"z must be an (n, d) array, got shape {z.shape}")
    if not np.all((z == 0) | (z == 1)):
        raise ValueError("z must hold only 0 and 1")
    n, d = z.shape
    yy = np.asarray(y, dtype=np.float64)
    if yy.ndim not in (1, 2) or yy.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, k), got {yy.shape}")
    if not np.all(np.isfinite(yy)):
        raise ValueError("y must be finite")
    if np.ndim(weights_or_nu) == 0:
        nu = _check_nu(weights_or_nu, "weights_or_nu")
        log_pi = log_kernel(z.sum(axis=1), d, nu)
        log_scale = float(log_pi.max())
        w = np.exp(log_pi - log_scale)
    else:
        w = np.asarray(weights_or_nu, dtype=np.float64)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"weights_or_nu must be a kernel width or ({n},) finite non-negative weights")
        log_scale = 0.0
    y2 = yy if yy.ndim == 2 else yy[:, None]
    wy = w[:, None] * y2
    g0 = wy.mean(axis=0)
    g = (z.T.astype(np.float64) @ wy) / n
    if yy.ndim == 1:
        return Moments(g0[0], g[:, 0], log_scale)
    return Moments(g0, g.T, log_scale)


def _per_sample_spread(nrm: _Normalized, z: np.ndarray, wy: np.ndarray, d: int) -> tuple:
    """(count, mean, M2) over the rows of u_i = Sigma_n^{-1} (wy_i, z_i wy_i), per column of wy.

    Returned as (m, (k, d+1), (k, d+1)); u is formed in blocks of at most 16 MiB.
    """
    rows = max(1, (2 * 2**20) // (d + 1))
    out = None
    for start in range(0, z.shape[0], rows):
        zb = z[start : start + rows].astype(np.float64)
        wyb = wy[start : start + rows]  # (m, k)
        u = _beta_normalized(nrm, wyb.T, wyb.T[..., None] * zb[None])  # (k, m, d + 1)
        mean = u.mean(axis=1)
        part = (u.shape[1], mean, ((u - mean[:, None]) ** 2).sum(axis=1))
        out = _merge_spread(out, part)
    return out


def _merge_spread(a, b):
    """Chan et al.'s pairwise update of (count, mean, sum of squared deviations)."""
    if a is None:
        return b
    (na, ma, m2a), (nb, mb, m2b) = a, b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * (nb / n), m2a + m2b + delta**2 * (na * nb / n)


def monte_carlo_limit(
    f_of_z: Callable,
    d: int,
    nu: float,
    n_samples: int,
    *,
    seed=None,
    method: str = "weighted",
    batch_size: int = 1 << 14,
    return_se: bool = False,
):
    """A Monte-Carlo estimate of beta^f = Sigma^{-1} E[pi Z f] for large d (exact Sigma^{-1}).

    ``method="weighted"`` (default) draws z from the pi-weighted law (k ~ :func:`weighted_law`,
    then k ones at random places), so E[pi Z f] / alpha_0 is a plain mean with no weight variance
    (the better choice for small nu); ``method="bernoulli"`` draws z ~ Bernoulli(1/2)^d as LIME
    does and weights by pi. Error O(n_samples^{-1/2}).

    The responses are centred on f(z = 1) (the unperturbed image) before averaging and the
    constant is added back to the intercept: the limit of a constant c is exactly (c, 0, ..., 0),
    so this changes nothing in expectation but removes f's mean level from the noise of every
    coefficient.

    ``return_se=True`` also returns the estimate's standard errors (same shape): the estimate is
    the mean of the i.i.d. vectors u_i = Sigma^{-1} w_i (1, z_i) (f(z_i) - f(1)), so its standard
    error is their sample standard deviation over sqrt(n_samples) (accumulated batch by batch with
    Chan's pairwise update, in blocks of at most 16 MiB).
    """
    d, nu = _check_d(d), _check_nu(nu)
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if method not in ("weighted", "bernoulli"):
        raise ValueError(f"method must be 'weighted' or 'bernoulli', got {method!r}")
    if not callable(f_of_z):
        raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
    rng = np.random.default_rng(seed)
    log_a0 = _log_alpha_one(d, nu, 0)
    nrm = _norm(d, nu) if return_se else None
    sums0 = sums = spread = None
    y_ref = _call_f(f_of_z, np.ones((1, d), dtype=np.uint8), None)[0]  # f(xi): () or (k,)
    k_out = y_ref.shape[0] if np.ndim(y_ref) == 1 else -1
    for start in range(0, n_samples, batch_size):
        m = min(batch_size, n_samples - start)
        if method == "weighted":
            z = weighted_samples(m, d, nu, rng, first_row_ones=False)
            w = np.ones(m)
        else:
            z = rng.integers(0, 2, size=(m, d), dtype=np.uint8)
            w = np.exp(log_kernel(z.sum(axis=1), d, nu) - log_a0)  # pi / alpha_0
        y = _call_f(f_of_z, z, k_out) - y_ref
        wy = w[:, None] * (y if y.ndim == 2 else y[:, None])
        p0, p = wy.sum(axis=0), z.T.astype(np.float64) @ wy
        sums0 = p0 if sums0 is None else sums0 + p0
        sums = p if sums is None else sums + p
        if return_se:
            spread = _merge_spread(spread if start else None, _per_sample_spread(nrm, z, wy, d))
    g0, g = sums0 / n_samples, (sums / n_samples).T
    if k_out == -1:
        g0, g = g0[0], g[0]
    beta = np.array(limit_explanation(d, nu, g0, g, log_scale=log_a0), dtype=np.float64)
    beta[..., 0] += y_ref
    if not return_se:
        return beta
    count, _, m2 = spread
    se = np.sqrt(m2 / max(count - 1, 1) / count) if count > 1 else np.full(m2.shape, np.inf)
    return beta, (se[0] if k_out == -1 else se)
