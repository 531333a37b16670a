"""LIME's surrogate: weighted ridge regression with an unpenalised intercept (THEORY.md section 1, step 6).

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

from .validation import check_real

__all__ = ["fit_constrained", "fit_weighted_ridge", "predict_linear", "sandwich_covariance", "sandwich_standard_errors", "weighted_hessian",
           "weighted_r2"]

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
    ridge = check_real(ridge, "ridge", low=0.0)
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


#: H is singular (the samples do not identify every coefficient) when lambda_min(H) <= SINGULAR lambda_max(H).
SINGULAR = 1e-12


def _chunk_rows(d: int) -> int:
    return max(1, _SANDWICH_CHUNK_BYTES // (8 * (d + 1)))  # memory: a few (rows, d + 1) blocks


def _design(z, start: int, rows: int) -> np.ndarray:
    """Rows ``start:start + rows`` of X = [1, z] as float64."""
    block = np.asarray(z[start : start + rows], dtype=np.float64)
    return np.hstack([np.ones((block.shape[0], 1)), block])


def weighted_hessian(z, weights, ridge: float = 1.0) -> np.ndarray:
    """H = sum_i pi_i x_i x_i^T + lambda P, x_i = (1, z_i), P = diag(0, 1, ..., 1): (d + 1, d + 1).

    The curvature of the surrogate's objective; the coefficients are identified when H is
    non-singular (:data:`SINGULAR`). Summed over blocks of samples: O(d^2) work memory.
    """
    z = np.asarray(z)
    w = np.asarray(weights, dtype=np.float64)
    n, d = z.shape
    rows = _chunk_rows(d)
    hessian = np.zeros((d + 1, d + 1))
    for start in range(0, n, rows):
        x = _design(z, start, rows)
        hessian += x.T @ (x * w[start : start + rows, None])
    hessian[np.arange(1, d + 1), np.arange(1, d + 1)] += ridge
    return hessian


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
    rows = _chunk_rows(d)

    def design(start):
        return _design(z, start, rows)

    eigval, eigvec = np.linalg.eigh(weighted_hessian(z, w, ridge))  # small, (d+1)^2, positive semi-definite
    if eigval[0] <= SINGULAR * eigval[-1]:  # e.g. a superpixel never (or always) off: not identified
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


def fit_constrained(z, y, f_zero, f_one, clusters=None):
    """KernelSHAP's fit: least squares of y on z with phi_0 = f(0) and sum_j phi_j = f(1) - f(0) imposed.

    minimise sum_i (y_i - f(0) - z_i^T phi)^2 subject to 1^T phi = Delta = f(1) - f(0), solved (as
    shap does) by eliminating phi_d: regress t_i = y_i - f(0) - z_id Delta on u_i = z_i,1..d-1 - z_id,
    then phi_d = Delta - sum_{j<d} phi_j. This equals Covert & Lee's closed form
    ``phi = A^-1 b - A^-1 1 (1^T A^-1 b - Delta) / (1^T A^-1 1)`` (A = Z^T Z, b = Z^T (y - f(0))).
    The rows z = 0 and z = 1 have u = 0 and t = 0: they carry the constraints, not the fit.

    Its covariance is the sandwich of the reduced regression projected onto the constraint,

        Cov(phi_hat) = T B^-1 (sum_c s_c s_c^T) B^-1 T^T,   B = U^T U,  s_c = sum_{i in c} u_i r_i,
        T = [I_{d-1}; -1^T],

    r the residuals, clusters c the rows drawn together (each row alone by default), scaled by
    n / (n - d + 1) (HC1) or, for clusters, G / (G - 1) (n - 1) / (n - d + 1) (CR1); n counts the
    rows with 0 < |z| < d, G their clusters.

    Parameters
    ----------
    z : (n, d) 0/1;  y : (n,) or (n, k) responses;  f_zero, f_one : (k,) or scalars, f(0) and f(1).
    clusters : (n,) ids of the rows drawn together (e.g. pairs z, 1 - z), or None.

    Returns
    -------
    coef : (k, d);  cov : (k, d, d), ``inf`` where the rows do not identify phi (or leave no
    degrees of freedom).
    """
    z = np.asarray(z, dtype=np.float64)
    y2 = np.asarray(y, dtype=np.float64)
    y2 = y2[:, None] if y2.ndim == 1 else y2
    g0 = np.broadcast_to(np.asarray(f_zero, dtype=np.float64), y2.shape[1:])
    delta = np.broadcast_to(np.asarray(f_one, dtype=np.float64), y2.shape[1:]) - g0
    n, d = z.shape
    k = y2.shape[1]
    if d == 1:
        return delta[:, None].copy(), np.zeros((k, 1, 1))
    u = z[:, :-1] - z[:, -1:]
    t = y2 - g0 - z[:, -1:] * delta
    head = scipy.linalg.lstsq(u, t, lapack_driver="gelsd")[0]  # (d - 1, k)
    coef = np.vstack([head, delta - head.sum(axis=0)]).T
    resid = t - u @ head
    inside = (z.sum(axis=1) > 0) & (z.sum(axis=1) < d)
    m = int(inside.sum())
    eigval, eigvec = np.linalg.eigh(u.T @ u)
    cov = np.full((k, d, d), np.inf)
    if m <= d - 1 or eigval[0] <= 1e-12 * eigval[-1]:
        return coef, cov
    bread = (eigvec / eigval) @ eigvec.T
    ids = np.arange(n) if clusters is None else np.asarray(clusters)
    ids = np.unique(ids[inside], return_inverse=True)[1]  # clusters 0..G-1 of the rows that fit
    groups = int(ids.max()) + 1
    scale = m / (m - d + 1) if clusters is None else groups / max(groups - 1, 1) * (m - 1) / (m - d + 1)
    lift = np.vstack([np.eye(d - 1), -np.ones((1, d - 1))])  # T
    for c in range(k):
        scores = np.zeros((groups, d - 1))
        np.add.at(scores, ids, u[inside] * resid[inside, c, None])
        half = lift @ bread @ scores.T  # (d, G)
        cov[c] = scale * half @ half.T
    return coef, cov
