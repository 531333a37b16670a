"""Exchangeable kernels pi(|z|) and the law of the number of ones: a leaf that sampling and theory import.

Two kernels depend on z only through the number k of ones: LIME's (``kernel="lime"``, below) and
the Shapley kernel of KernelSHAP (``kernel="shap"``, Lundberg & Lee, NeurIPS 2017, Theorem 2),

    pi_SHAP(k) = (d - 1) / (C(d, k) k (d - k)),   1 <= k <= d - 1,

infinite at k = 0 and k = d: those two patterns are imposed as constraints (phi_0 = g(0) and
sum_j phi_j = g(1) - g(0)) instead of weighted, so here pi_SHAP(0) = pi_SHAP(d) = 0 and alpha_p,
Sigma and q describe the kernel on 1 <= k <= d - 1. Its pi-weighted law of k is
q_k proportional to 1 / (k (d - k)), the size law that shap and captum sample.

For LIME's kernel:

With z in {0,1}^d holding k ones, ``d_cos(1, z) = 1 - sqrt(k / d)`` (``d_cos(1, 0) = 1``) and

    pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)),      nu = kernel_width,
    alpha_p = E[pi(z) z_1 ... z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d),
    psi(t)  = exp(-(1 - sqrt(1 - t))^2 / (2 nu^2))          (s = number of zeros),
    q_k     = C(d, k) 2^{-d} pi_k / alpha_0                  (the pi-weighted law of k).

Everything is summed in log space from log binomial probabilities (:mod:`limetheory._binomial`),
so nothing under- or overflows: alpha_0 is about exp(-424) for d = 100000, nu = 0.01.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from ._binomial import LOG_HALF, log_half_binom, lse
from .validation import (check_choice, check_int, check_int_array, check_kernel_width, check_real, renamed_keywords,
                         validate_params)

__all__ = ["KERNELS", "MAX_D", "alpha", "alpha_diff", "log_alpha", "log_kernel", "shapley_kernel_log", "weighted_law"]

#: The exchangeable kernels: LIME's exp(-d_cos^2 / (2 nu^2)) and the Shapley kernel of KernelSHAP.
KERNELS = ("lime", "shap")

#: Largest number of superpixels d the kernel computations accept (each needs a few (d+1,) arrays).
MAX_D = 4_000_000

_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
_LOG_HUGE = float(np.log(np.finfo(np.float64).max))


def check_d(d, name: str = "d") -> int:
    """The number of superpixels: an int in 1..MAX_D."""
    return check_int(d, name, 1, MAX_D)


def kernel_log(n_ones, d: int, kernel_width: float) -> np.ndarray:
    """log pi for ``n_ones`` ones out of d (unchecked; see :func:`log_kernel`)."""
    k = np.asarray(n_ones, dtype=np.float64)
    dcos = ((d - k) / d) / (1.0 + np.sqrt(k / d))
    ratio = dcos / kernel_width  # (dcos / nu)^2 / 2, not dcos^2 / (2 nu^2): nu^2 may under/overflow
    with np.errstate(over="ignore"):
        return -0.5 * ratio * ratio


def shapley_kernel_log(n_ones, d: int) -> np.ndarray:
    """log pi_SHAP(k) = log(d - 1) - log C(d, k) - log k - log(d - k) for 1 <= k <= d - 1 (unchecked).

    -inf at k = 0 and k = d: KernelSHAP imposes those patterns as constraints, not as weights.
    """
    k = np.asarray(n_ones, dtype=np.float64)
    inside = (k >= 1) & (k <= d - 1)
    kk = np.where(inside, k, 1.0)
    log_comb = gammaln(d + 1.0) - gammaln(kk + 1.0) - gammaln(d - kk + 1.0)
    with np.errstate(divide="ignore"):
        value = np.log(d - 1.0) - log_comb - np.log(kk) - np.log(np.maximum(d - kk, 1.0))
    return np.where(inside, value, -np.inf)


def exchangeable_log(n_ones, d: int, kernel_width: float, kernel: str = "lime") -> np.ndarray:
    """log pi(k) of ``kernel`` (:data:`KERNELS`) for ``n_ones`` ones out of d (unchecked)."""
    return kernel_log(n_ones, d, kernel_width) if kernel == "lime" else shapley_kernel_log(n_ones, d)


def check_kernel(kernel, kernel_width) -> tuple[str, float]:
    """(kernel, nu): LIME's kernel needs a kernel width > 0; the Shapley kernel has none (nu = nan)."""
    kernel = check_choice(kernel, "kernel", KERNELS)
    if kernel == "lime":
        if kernel_width is None:
            raise TypeError('kernel_width is required for kernel="lime"')
        return kernel, check_kernel_width(kernel_width)
    if kernel_width is not None:
        check_kernel_width(kernel_width)  # ignored by the Shapley kernel, but never a wrong value
    return kernel, float("nan")


@renamed_keywords(nu="kernel_width")
def log_kernel(n_ones, d: int, kernel_width: float | None, *, kernel: str = "lime") -> np.ndarray:
    """log pi(z) for a z with ``n_ones`` ones out of ``d``.

    ``kernel="lime"``: ``log pi = -(d_cos / nu)^2 / 2`` with ``d_cos(1, z) = 1 - sqrt(k/d) =
    ((d-k)/d) / (1 + sqrt(k/d))`` (the second form has no cancellation near k = d);
    ``d_cos(1, 0) = 1`` as in lime. ``kernel="shap"``: :func:`shapley_kernel_log` (kernel_width unused).
    """
    kernel, kernel_width = check_kernel(kernel, kernel_width)
    d = check_d(d)
    check_int_array(n_ones, "n_ones", 0, d)
    return exchangeable_log(n_ones, d, kernel_width, kernel)


def log_product_moment(d: int, kernel_width: float, p: int, r: int = 0, kernel: str = "lime") -> float:
    """log A(p, r), A(p, r) = E[pi z_1..z_p (1 - z_{p+1})..(1 - z_{p+r})] (unchecked).

    ``A(p, r) = 2^{-d} sum_{s=r}^{d-p} C(d-p-r, s-r) psi(s/d)``: alpha_p = A(p, 0) and
    alpha_p - alpha_{p+1} = A(p, 1), each a sum of positive terms.
    """
    n = d - p - r
    s = np.arange(r, d - p + 1)
    return lse(log_half_binom(n) + exchangeable_log(d - s, d, kernel_width, kernel)) + (p + r) * LOG_HALF


def _log_moments(d: int, kernel_width: float, parr: np.ndarray, r: int, kernel: str = "lime") -> np.ndarray:
    out = [log_product_moment(d, kernel_width, int(p), r, kernel) for p in parr.ravel()]
    return np.array(out, dtype=np.float64).reshape(parr.shape)


@renamed_keywords(nu="kernel_width")
def log_alpha(d: int, kernel_width: float | None, p=0, *, kernel: str = "lime"):
    """log alpha_p for the kernel of width ``kernel_width``; ``p`` an integer or an array of integers.

    ``alpha_p = E[pi(z) z_1...z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d)``
    (docs/theory/limit.md), evaluated as a log-sum-exp of log binomial probabilities. Never under- or
    overflows (-inf only where alpha_p is exactly 0 in float64's exponent range, for absurdly
    small widths). Cost O(d) per value of p. ``kernel="shap"``: the Shapley kernel on
    1 <= k <= d - 1 (module docstring; kernel_width unused).

    Raises
    ------
    ValueError
        If ``d`` is outside 1..MAX_D, ``kernel_width <= 0`` or some ``p`` is outside ``0..d``.
    """
    kernel, kernel_width = check_kernel(kernel, kernel_width)
    d = check_d(d)
    parr = check_int_array(p, "p", 0, d)
    out = _log_moments(d, kernel_width, parr, 0, kernel)
    return float(out) if parr.ndim == 0 else out


def exp_checked(log_values, what: str, hint: str) -> np.ndarray:
    """exp(log_values), or a ValueError naming ``what`` if a value is not representable in float64."""
    arr = np.asarray(log_values, dtype=np.float64)
    bad = (arr > _LOG_HUGE) | (arr < _LOG_TINY)
    if np.any(bad):
        raise ValueError(f"{what} = exp({arr[bad].ravel()[0]:.6g}) is not representable in float64; {hint}")
    return np.exp(arr)


@renamed_keywords(nu="kernel_width")
def alpha(d: int, kernel_width: float | None, p=0, *, log_scale: float = 0.0, kernel: str = "lime"):
    """alpha_p * exp(-log_scale): the p-th kernel moment for the kernel pi * exp(-log_scale).

    Parameters
    ----------
    d : int in 1..MAX_D
        Number of superpixels.
    kernel_width : float > 0
        The kernel width nu (lime's ``kernel_width``, 0.25 by default).
    p : int or array of ints in 0..d
        ``alpha_p = E[pi(z) z_1 ... z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d)``,
        ``psi(t) = exp(-(1 - sqrt(1 - t))^2 / (2 nu^2))``.
    log_scale : float
        0 (default) gives the paper's alpha_p. Use ``log_scale=log_alpha(d, kernel_width, 0)`` to get
        alpha_p / alpha_0 when alpha_p itself is out of float64's range (large d, small nu).
    kernel : {"lime", "shap"}
        ``"shap"``: the Shapley kernel on 1 <= k <= d - 1, ``alpha_p = 2^-d sum_k C(d-p, k-p)
        pi_SHAP(k)`` (kernel_width unused; may be None).

    Returns
    -------
    float, or an array shaped like ``p``.

    Raises
    ------
    ValueError
        If a value under- or overflows float64 at this ``log_scale`` (use :func:`log_alpha`).
    """
    log_scale = check_real(log_scale, "log_scale")
    la = np.asarray(log_alpha(d, kernel_width, p, kernel=kernel)) - log_scale
    # the Shapley kernel's alpha_d is exactly 0 (z = 1 is a constraint, not a weighted pattern)
    zero = np.isneginf(la) if kernel == "shap" else np.zeros(la.shape, dtype=bool)
    out = exp_checked(np.where(zero, 0.0, la), "alpha_p * exp(-log_scale)",
                      "use log_alpha(), or pass log_scale=log_alpha(d, kernel_width, 0)")
    out = np.where(zero, 0.0, out)
    return float(out) if np.ndim(p) == 0 else out


@renamed_keywords(nu="kernel_width")
def alpha_diff(d: int, kernel_width: float | None, p=0, *, log_scale: float = 0.0, kernel: str = "lime"):
    """(alpha_p - alpha_{p+1}) * exp(-log_scale), computed as its own positive sum.

    ``alpha_p - alpha_{p+1} = E[pi z_1...z_p (1 - z_{p+1})] = 2^{-d} sum_{s=1}^{d-p} C(d-p-1, s-1) psi(s/d)``
    (no cancellation, unlike subtracting two values of :func:`alpha`). ``p`` in ``0..d-1``.
    """
    kernel, kernel_width = check_kernel(kernel, kernel_width)
    d = check_d(d)
    log_scale = check_real(log_scale, "log_scale")
    parr = check_int_array(p, "p", 0, d - 1)
    la = _log_moments(d, kernel_width, parr, 1, kernel)
    out = exp_checked(la - log_scale, "(alpha_p - alpha_{p+1}) * exp(-log_scale)",
                      "pass log_scale=log_alpha(d, kernel_width, 0)")
    return float(out) if parr.ndim == 0 else out


def log_weighted_law_zeros(d: int, kernel_width: float, kernel: str = "lime") -> tuple[np.ndarray, float]:
    """log q by the number s of zeros (s = 0..d), and log alpha_0 (unchecked)."""
    s = np.arange(d + 1)
    log_ps = log_half_binom(d) + exchangeable_log(d - s, d, kernel_width, kernel)
    log_a0 = lse(log_ps)
    return log_ps - log_a0, log_a0


def check_optional_kernel_width(value, name: str = "kernel_width"):
    """None (the Shapley kernel has no width) or a kernel width (:func:`check_kernel_width`)."""
    return None if value is None else check_kernel_width(value, name)


def _law_arguments(arguments: dict) -> dict:
    """The kernel of :func:`weighted_law` with what it needs: LIME's kernel a width, the Shapley
    kernel's law d >= 2 (it has no mass at k = 0 and k = d)."""
    kernel = check_choice(arguments["kernel"], "kernel", KERNELS)
    if kernel == "lime" and arguments["kernel_width"] is None:
        raise TypeError('kernel_width is required for kernel="lime"')
    d = check_d(arguments["d"], "d") if kernel == "lime" else check_int(arguments["d"], "d", 2, MAX_D)
    return {"kernel": kernel, "d": d}


@renamed_keywords(nu="kernel_width")
@validate_params(_law_arguments, kernel_width=check_optional_kernel_width)
def weighted_law(d: int, kernel_width: float | None, *, kernel: str = "lime") -> tuple[np.ndarray, float]:
    """The pi-weighted law of the number k of ones: ``q_k = C(d,k) 2^{-d} pi_k / alpha_0``.

    ``kernel="shap"`` (kernel_width unused): ``q_k = 1 / (k (d - k) H)`` on 1 <= k <= d - 1, H the
    normaliser (d >= 2), the size law of KernelSHAP.

    Returns ``(q, log_alpha_0)`` with q of shape (d+1,) indexed by k, summing to 1. Sampling k
    from q and then z uniformly among the vectors with k ones samples z with density
    pi(z) / alpha_0 (relative to the uniform law on {0,1}^d). The arguments are checked when a
    user calls it, not when the library does (once per round of ``n_samples="auto"``).
    """
    log_q, log_a0 = log_weighted_law_zeros(d, kernel_width, kernel)
    q = np.exp(log_q[::-1])
    return q / q.sum(), log_a0
