"""The moments E[pi f] and E[pi z f] that determine beta^f: by enumeration or from LIME's samples."""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .._binomial import LOG_HALF
from ..kernel import kernel_log, log_product_moment
from ..validation import check_int, check_kernel_width, renamed_keywords
from .enumeration import all_patterns, call_f, check_enumerable_d

__all__ = ["Moments", "moments_exact", "monte_carlo_moments"]


class Moments(NamedTuple):
    """E[pi f] and E[pi z f] for the kernel ``pi * exp(-log_scale)``; ``limit_explanation(d, kernel_width, *m)``."""

    e_pi_f: np.ndarray  # () or (k,)
    e_pi_z_f: np.ndarray  # (d,) or (k, d)
    log_scale: float


def enumerated_sums(f_of_z: Callable, d: int, kernel_width: float, batch_size: int, center: bool):
    """Sums over all of {0,1}^d of w(z) (f(z) - c) and w(z) z (f(z) - c), w = 2^-d pi / alpha_0.

    ``c = f(1)`` if ``center`` (the last pattern, evaluated first), else 0. Returns
    ``(g0 (k,), g (d, k), c (k,) or 0, k_out, log_alpha_0)``; ``k_out = -1`` for a 1-D f.
    Each pattern is passed to ``f_of_z`` exactly once.
    """
    log_a0 = log_product_moment(d, kernel_width, 0)
    w_of_k = np.exp(d * LOG_HALF + kernel_log(np.arange(d + 1), d, kernel_width) - log_a0)
    total = 1 << d
    g0 = g = None
    k_out, ref = None, 0.0
    for start in reversed(range(0, total, batch_size)):  # the batch holding z = 1 first
        z = all_patterns(d, start, min(start + batch_size, total))
        y = call_f(f_of_z, z, k_out)
        k_out = y.shape[1] if y.ndim == 2 else -1
        y2 = y if y.ndim == 2 else y[:, None]
        if center and g0 is None:
            ref = y2[-1].copy()  # f(1)
        wy = w_of_k[z.sum(axis=1)][:, None] * (y2 - ref)
        part0, part = wy.sum(axis=0), z.T.astype(np.float64) @ wy
        g0 = part0 if g0 is None else g0 + part0
        g = part if g is None else g + part
    return g0, g, ref, k_out, log_a0


@renamed_keywords(nu="kernel_width")
def moments_exact(f_of_z: Callable, d: int, kernel_width: float, *, batch_size: int = 1 << 15) -> Moments:
    """E[pi f], E[pi z f] by enumerating all 2^d vectors z (d <= MAX_EXACT_D).

    ``E[pi z_j f] = 2^{-d} sum_z pi(z) z_j f(z)``; ``f_of_z`` takes an (m, d) uint8 0/1 array and
    returns (m,) or (m, k). Returned for the kernel pi / alpha_0 (``log_scale = log alpha_0``),
    i.e. as pi-weighted means.
    """
    d, kernel_width = check_enumerable_d(d), check_kernel_width(kernel_width)
    batch_size = check_int(batch_size, "batch_size", 1)
    if not callable(f_of_z):
        raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
    g0, g, _, k_out, log_a0 = enumerated_sums(f_of_z, d, kernel_width, batch_size, center=False)
    if k_out == -1:
        return Moments(g0[0], g[:, 0], log_a0)
    return Moments(g0, g.T, log_a0)


@renamed_keywords(weights_or_nu="weights_or_kernel_width")
def monte_carlo_moments(z, weights_or_kernel_width, y) -> Moments:
    """Sample estimates of E[pi f], E[pi z f] from LIME-style samples z ~ Bernoulli(1/2)^d.

    ``E[pi f] ~ mean_i pi_i y_i``, ``E[pi z_j f] ~ mean_i pi_i z_ij y_i``.

    Parameters
    ----------
    z : (n, d) array of 0/1
    weights_or_kernel_width : (n,) array or float
        The kernel weights pi_i (returned with log_scale = 0), or the kernel width nu (weights
        computed in log space, returned with log_scale = max log pi_i). Formerly ``weights_or_nu``.
    y : (n,) or (n, k) array of f(x(z_i)).

    Returns
    -------
    Moments
        ``(E[pi f], E[pi z f], log_scale)``, for ``limit_explanation(d, kernel_width, *moments)``.
    """
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"z must be an (n, d) array, got shape {z.shape}")
    if not np.all((z == 0) | (z == 1)):
        raise ValueError("z must hold only 0 and 1")
    n, d = z.shape
    yy = np.asarray(y)
    if yy.dtype.kind not in "iuf":
        raise TypeError(f"y must hold real numbers, got dtype {yy.dtype}")
    yy = yy.astype(np.float64)
    if yy.ndim not in (1, 2) or yy.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, k), got {yy.shape}")
    if not np.all(np.isfinite(yy)):
        raise ValueError("y must be finite")
    if np.ndim(weights_or_kernel_width) == 0:
        kernel_width = check_kernel_width(weights_or_kernel_width, "weights_or_kernel_width")
        log_pi = kernel_log(z.sum(axis=1), d, kernel_width)
        log_scale = float(log_pi.max())
        w = np.exp(log_pi - log_scale)
    else:
        w = np.asarray(weights_or_kernel_width)
        if w.dtype.kind not in "iuf" or w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"weights_or_kernel_width must be a kernel width or ({n},) finite non-negative weights")
        w = w.astype(np.float64)
        log_scale = 0.0
    y2 = yy if yy.ndim == 2 else yy[:, None]
    wy = w[:, None] * y2
    g0 = wy.mean(axis=0)
    g = (z.T.astype(np.float64) @ wy) / n
    if yy.ndim == 1:
        return Moments(g0[0], g[:, 0], log_scale)
    return Moments(g0, g.T, log_scale)
