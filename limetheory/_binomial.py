"""Log binomial probabilities to full relative accuracy (Loader's saddle-point expansion).

A private leaf of :mod:`limetheory.kernel`: ``gammaln`` differences lose about 1e-10 in the log at
d = 1e5; the saddle-point form below keeps an absolute error of order 1e-15.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln, logsumexp

LOG_2PI = float(np.log(2.0 * np.pi))
LOG_HALF = float(np.log(0.5))


def stirlerr(n) -> np.ndarray:
    """log(n!) - log(sqrt(2 pi n) (n/e)^n) for integers n >= 1 (Stirling's remainder)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.empty_like(n)
    small = n <= 15
    ns = n[small]
    out[small] = gammaln(ns + 1.0) - (ns + 0.5) * np.log(ns) + ns - 0.5 * LOG_2PI
    nl = n[~small]
    nn = nl * nl
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    out[~small] = (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / nl
    return out


def bd0(x, m) -> np.ndarray:
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


def log_binom_pmf(k, n: int, log_p: float, log_q: float) -> np.ndarray:
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
        stirlerr(np.asarray([n]))[0]
        - stirlerr(km)
        - stirlerr(nk)
        - bd0(km, n * p)
        - bd0(nk, n * q)
        + 0.5 * (np.log(n) - LOG_2PI - np.log(km) - np.log(nk))
    )
    return out


def log_half_binom(n: int) -> np.ndarray:
    """log(C(n, s) 2^{-n}) for s = 0..n."""
    return log_binom_pmf(np.arange(n + 1), n, LOG_HALF, LOG_HALF)


def lse(log_terms: np.ndarray) -> float:
    """log sum exp of ``log_terms`` (-inf for an empty array or all terms -inf)."""
    if not log_terms.size or not np.any(np.isfinite(log_terms)):
        return -np.inf
    return float(logsumexp(log_terms))
