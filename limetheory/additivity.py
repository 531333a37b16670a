"""How additive is a model's response to switching superpixels off? (docs/theory/lime_and_ig.md)

LIME's limit beta^f is the pi-weighted least-squares affine function of z fitted to
g(z) = f(x(z)) over z in {0,1}^d (Theorem 1: beta^f = Sigma^{-1} E[pi Z g]). When g is affine in z,
which holds for every model without interactions between superpixels
(f(x) = sum_j h_j(x restricted to J_j), however non-linear each h_j), beta_j = h_j(xi) - h_j(xi_bar),
and integrated gradients summed over J_j give the same number: LIME and the IG sums coincide. What
separates them is the part of g that no affine function of z captures. Its share of g's
pi-weighted variance,

    R = E_pi[(g - beta_0 - z^T beta)^2] / E_pi[(g - E_pi g)^2],      E_pi[.] = E[pi .] / E[pi],

is 0 for an additive response and 1 when no affine function of z explains any of g's variance.
:func:`nonadditive_share_exact` computes it by enumerating {0,1}^d (small d);
:func:`nonadditive_share` estimates it from LIME's own samples, with a standard error.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .validation import check_binary_z
from .sampling import kernel_weights
from .surrogate import fit_weighted_ridge, predict_linear
from .theory import ResponseTable, exact_limit
from .theory.enumeration import all_patterns
from .validation import as_generator, check_int, check_kernel_width, check_real, check_vector

__all__ = ["nonadditive_share_exact", "nonadditive_share"]

def _as_2d(y, name: str = "the model's outputs") -> np.ndarray:
    y = np.asarray(y)
    if np.iscomplexobj(y) or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"{name} must be real numbers, got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"{name} must be (n,) or (n, k), got shape {y.shape}")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} hold NaN or infinite values")
    return y[:, None] if y.ndim == 1 else y


def nonadditive_share_exact(f_of_z: Callable, d: int, kernel_width: float = 0.25, *,
                            chunk: int = 1 << 16) -> np.ndarray:
    """R, the share of g's pi-weighted variance that LIME's limit leaves unexplained, exactly.

    Parameters
    ----------
    f_of_z : callable mapping an (m, d) 0/1 array to (m,) or (m, k) outputs
        (e.g. :func:`limetheory.analytic.response_of_z`), or a
        :class:`~limetheory.theory.ResponseTable`; evaluated once on each of the 2^d patterns.
    d : number of superpixels, 1 <= d <= ``theory.MAX_EXACT_D``.
    kernel_width : nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)).
    chunk : patterns per block of the residual sums (memory).

    Returns
    -------
    (k,) float64 in [0, 1] (0 where g is constant under the kernel): R for each output. The
    residuals g - beta_0 - z^T beta are summed directly (no difference of large sums), so an
    additive response gives R at rounding level, not at the level of g's variance times 1e-16.
    """
    kernel_width = check_kernel_width(kernel_width)
    table = ResponseTable.from_function(f_of_z, d)  # checks d and f; one call per pattern
    chunk = check_int(chunk, "chunk", 1)
    values = table.values[:, None] if table.values.ndim == 1 else table.values
    beta = np.atleast_2d(exact_limit(table, table.d, kernel_width))  # (k, d + 1), intercept first
    sums = np.zeros((3, values.shape[1]))  # sum w, sum w g, sum w r^2
    blocks = range(0, values.shape[0], chunk)
    for start in blocks:
        z = all_patterns(table.d, start, min(start + chunk, values.shape[0]))
        w = kernel_weights(z, kernel_width)
        g = values[start : start + len(z)]
        r = g - predict_linear(z, beta[:, 0], beta[:, 1:])
        sums += [np.full(g.shape[1], w.sum()), w @ g, w @ r**2]
    mean = sums[1] / sums[0]
    spread = np.zeros(values.shape[1])
    for start in blocks:
        z = all_patterns(table.d, start, min(start + chunk, values.shape[0]))
        spread += kernel_weights(z, kernel_width) @ (values[start : start + len(z)] - mean) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, sums[2] / np.where(spread > 0, spread, 1.0), 0.0)


def nonadditive_share(z, y, weights, *, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Estimate R from samples of LIME (z, pi, y), with its standard error, by 2-fold cross-fitting.

    The samples are split at random in two halves; the affine fit (weighted least squares) of each
    half is scored on the other, so that R is not biased low by fitting its own noise (an in-sample
    1 - R^2 is, by about (d + 1) / n). The estimate is the ratio of the pooled out-of-fold sums
    sum_i w_i r_i^2 / sum_i w_i (y_i - y_bar)^2, and its standard error is the delta-method one of a
    ratio of means. The remaining bias is upward, O(d / n) (a fit from n / 2 samples predicts a
    little worse than the limit): R is not understated.

    Parameters
    ----------
    z : (n, d) 0/1 samples; y : (n,) or (n, k) model outputs; weights : (n,) sample weights.
    seed : seed of the split.

    Returns
    -------
    share, se : (k,) arrays.
    """
    if np.ndim(z) != 2:
        raise ValueError(f"z must be an (n, d) array of 0/1, got shape {np.shape(z)}")
    z = check_binary_z(z, np.shape(z)[1]).astype(np.float64)
    y = _as_2d(y, "y (the model's outputs)")
    n, d = z.shape
    w = check_vector(weights, "weights", n) if np.ndim(weights) == 1 and len(weights) == n else None
    if w is None or y.shape[0] != n:
        raise ValueError(f"z, y and weights must have the same number of rows, got {n}, {y.shape[0]}, "
                         f"{np.shape(weights)}")
    if np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights must be >= 0 with at least one > 0 (kernel weights pi(z)), got "
                         f"{int(np.sum(w < 0))} negative of {n}" if np.any(w < 0) else "weights are all zero")
    if n < 2 * (d + 2):
        raise ValueError(f"nonadditive_share needs at least 2 (d + 2) = {2 * (d + 2)} samples, got {n}")
    folds = as_generator(seed).permutation(n) % 2
    resid = np.empty_like(y)
    for k in (0, 1):
        fit, test = folds != k, folds == k
        intercept, coef = fit_weighted_ridge(z[fit], y[fit], w[fit], ridge=0.0)
        resid[test] = y[test] - predict_linear(z[test], intercept, coef)
    wn = w / w.sum()
    a = w[:, None] * resid**2                   # numerator terms
    b = w[:, None] * (y - wn @ y) ** 2          # denominator terms
    a_bar, b_bar = a.mean(axis=0), b.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(b_bar > 0, a_bar / np.where(b_bar > 0, b_bar, 1.0), 0.0)
        # delta method for a ratio of means: Var(a - R b) / (n b_bar^2)
        se = np.where(b_bar > 0, np.std(a - share * b, axis=0, ddof=1) / (np.sqrt(n) * np.where(b_bar > 0, b_bar, 1.0)),
                      0.0)
    return share, se
