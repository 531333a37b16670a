"""LIME's surrogate: weighted ridge regression with an unpenalised intercept (docs/theory/lime_algorithm.md, step 6).

For every explained class k, with weights pi_i and responses y_ik:

    minimise_{b0, b}  sum_i pi_i (y_ik - b0 - b^T z_i)^2 + lambda ||b||^2

Solved for all classes at once by weighted centring (z_bar, y_bar are pi-weighted means):

    b  = (Zc^T diag(pi) Zc + lambda I)^{-1} Zc^T diag(pi) Yc,     b0 = y_bar - z_bar^T b

which is what scikit-learn's ``Ridge(alpha=lambda, fit_intercept=True).fit(z, y, sample_weight=pi)``
computes. ``lambda = 0`` (weighted least squares) is solved by a least-squares factorisation of
sqrt(pi) Zc instead of the normal equations, which keeps its accuracy when Zc is ill-conditioned.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["fit_weighted_ridge", "predict_linear", "sandwich_covariance", "sandwich_standard_errors", "weighted_r2"]

#: Work memory of :func:`sandwich_standard_errors` and :func:`sandwich_covariance` per block of samples (bytes).
_SANDWICH_CHUNK_BYTES = 4 * 2**20


def _weighted_centre(z, y, weights):
    w = weights / weights.sum()
    z_bar = w @ z
    y_bar = w @ y
    return z - z_bar, y - y_bar, z_bar, y_bar


def fit_weighted_ridge(z, y, weights, ridge: float = 1.0):
    """Weighted ridge with unpenalised intercept for every column of ``y``.

    Parameters
    ----------
    z : (n, d) array of interpretable features (0/1).
    y : (n,) or (n, k) responses.
    weights : (n,) non-negative sample weights pi_i (not all zero).
    ridge : lambda >= 0. ``ridge=0`` is weighted least squares and needs n >= d + 1.

    Returns
    -------
    intercept : (k,) array;  coef : (k, d) array.
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    y2 = y[:, None] if y.ndim == 1 else y
    w = np.asarray(weights, dtype=np.float64)
    zc, yc, z_bar, y_bar = _weighted_centre(z, y2, w)
    d = z.shape[1]
    if ridge > 0:
        zw = zc * w[:, None]
        gram = zc.T @ zw
        gram[np.diag_indices(d)] += ridge
        coef = scipy.linalg.solve(gram, zw.T @ yc, assume_a="pos")
    else:
        sw = np.sqrt(w)[:, None]
        coef = scipy.linalg.lstsq(zc * sw, yc * sw, lapack_driver="gelsd")[0]
    intercept = y_bar - z_bar @ coef
    constant = np.ptp(y2, axis=0) == 0  # exact solution: b = 0, b0 = the constant (no rounding)
    coef[:, constant] = 0.0
    intercept[constant] = y2[0, constant]
    return intercept, coef.T


def sandwich_standard_errors(z, weights, residuals, ridge: float = 1.0) -> np.ndarray:
    """Standard errors of the fitted (intercept, coefficients) from one set of LIME samples.

    LIME's responses are not noisy: y_i = f(x(z_i)) is a fixed function of z_i, and the surrogate's
    error comes only from which z_i were drawn. The estimator solves sum_i pi_i x_i (y_i - x_i^T b)
    = lambda P b with x_i = (1, z_i) and P = diag(0, 1, ..., 1), an M-estimator of i.i.d. samples, so

        Cov(b_hat) ~ H^{-1} (sum_i pi_i^2 r_i^2 x_i x_i^T) H^{-1},  H = sum_i pi_i x_i x_i^T + lambda P,

    (the sandwich, heteroskedasticity-consistent covariance), with the residuals r_i = y_i - x_i^T
    b_hat, scaled by n / (n - d - 1) (HC1). It estimates the spread of b_hat around the value LIME
    converges to (:func:`limetheory.theory.exact_limit_covariance` gives it exactly for small d).
    Only the diagonal is formed: with A = X H^{-1}, Var(b_j) = sum_i (pi_i r_i)^2 A_ij^2, shared by
    every class and computed over blocks of samples, so the work memory does not grow with n
    (:func:`sandwich_covariance` forms the whole matrix).

    Parameters
    ----------
    z : (n, d) 0/1 features;  weights : (n,) pi_i;  residuals : (n,) or (n, k) y - surrogate.
    ridge : lambda >= 0, as in the fit.

    Returns
    -------
    (k, d + 1) standard errors, intercept first; ``inf`` when n <= d + 1 (no degrees of freedom)
    or when the samples do not identify every coefficient (H singular to 1e-12).
    """
    return np.sqrt(_sandwich(z, weights, residuals, ridge, full=False))


def sandwich_covariance(z, weights, residuals, ridge: float = 1.0) -> np.ndarray:
    """The whole sandwich covariance of :func:`sandwich_standard_errors`, one matrix per class.

    Cov(b_hat) ~ (n / (n - d - 1)) sum_i (pi_i r_i)^2 a_i a_i^T with a_i = H^{-1} x_i (the i-th row of
    A = X H^{-1}); its diagonal is the square of :func:`sandwich_standard_errors`. The off-diagonal
    terms give the spread of differences b_i - b_j (Var = C_ii + C_jj - 2 C_ij), which
    :mod:`limetheory.stopping` compares. Work: O(n d^2) per class, memory O(d^2) per class.

    Returns
    -------
    (k, d + 1, d + 1), intercept first; all ``inf`` in the cases where the standard errors are.
    """
    return _sandwich(z, weights, residuals, ridge, full=True)


def _sandwich(z, weights, residuals, ridge: float, full: bool) -> np.ndarray:
    """HC1 sandwich variances (k, d + 1), or with ``full`` covariances (k, d + 1, d + 1)."""
    z = np.asarray(z)
    w = np.asarray(weights, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    n, d = z.shape
    shape = (r.shape[1], d + 1, d + 1) if full else (r.shape[1], d + 1)
    if n <= d + 1:
        return np.full(shape, np.inf)
    rows = max(1, _SANDWICH_CHUNK_BYTES // (8 * (d + 1)))  # memory: a few (rows, d + 1) blocks

    def design(start):
        return np.hstack([np.ones((min(rows, n - start), 1)), z[start : start + rows].astype(np.float64)])

    hessian = np.zeros((d + 1, d + 1))
    for start in range(0, n, rows):
        x = design(start)
        hessian += x.T @ (x * w[start : start + rows, None])
    hessian[np.arange(1, d + 1), np.arange(1, d + 1)] += ridge
    eigval, eigvec = np.linalg.eigh(hessian)  # H is small, (d+1)^2, and positive semi-definite
    if eigval[0] <= 1e-12 * eigval[-1]:  # e.g. a superpixel never (or always) off: not identified
        return np.full(shape, np.inf)
    h_inv = (eigvec / eigval) @ eigvec.T
    out = np.zeros(shape)
    for start in range(0, n, rows):
        a = design(start) @ h_inv  # rows of X H^{-1}
        g = w[start : start + rows, None] * r[start : start + rows]  # pi_i r_i, (rows, k)
        if full:
            for c in range(r.shape[1]):
                ga = a * g[:, c, None]
                out[c] += ga.T @ ga
        else:
            out += (g**2).T @ a**2
    return out * (n / (n - d - 1))


def predict_linear(z, intercept, coef) -> np.ndarray:
    """Surrogate predictions b0 + z b for every class: (n, k)."""
    return np.asarray(z, dtype=np.float64) @ np.asarray(coef).T + np.asarray(intercept)


def weighted_r2(z, y, weights, intercept, coef) -> np.ndarray:
    """Weighted coefficient of determination per class (scikit-learn's ``score`` with sample_weight).

    R^2 = 1 - sum_i pi_i (y_i - yhat_i)^2 / sum_i pi_i (y_i - y_bar)^2; 1.0 where y is constant
    and fitted exactly (0.0 where constant and not).
    """
    y = np.asarray(y, dtype=np.float64)
    y2 = y[:, None] if y.ndim == 1 else y
    w = np.asarray(weights, dtype=np.float64)
    resid = y2 - predict_linear(z, intercept, coef)
    y_bar = (w @ y2) / w.sum()
    num = w @ resid**2
    den = np.where(np.ptp(y2, axis=0) == 0, 0.0, w @ (y2 - y_bar) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - num / den
    return np.where(den > 0, r2, np.where(num > 0, 0.0, 1.0))
