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

from .threads import single_blas_thread
from .validation import check_real

__all__ = [
    "cholesky_or_none", "constrained_df", "fit_constrained", "fit_weighted_ridge", "hessian", "predict_linear", "sandwich_covariance",
    "sandwich_df", "sandwich_standard_errors", "weighted_r2",
]

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
    with single_blas_thread():
        return _fit(z, y2, w, ridge)


def _fit(z, y2, w, ridge):
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


def sandwich_standard_errors(z, weights, residuals, ridge: float = 1.0, *, clusters=None, strata=None) -> np.ndarray:
    """Standard errors of the fitted (intercept, coefficients) from one set of LIME samples.

    LIME's responses are not noisy: y_i = f(x(z_i)) is a fixed function of z_i, and the surrogate's
    error comes only from which z_i were drawn. The estimator solves sum_i pi_i x_i (y_i - x_i^T b)
    = lambda P b with x_i = (1, z_i) and P = diag(0, 1, ..., 1), an M-estimator, so with the scores
    s_i = pi_i r_i x_i (residuals r_i = y_i - x_i^T b_hat)

        Cov(b_hat) ~ H^{-1} M H^{-1},  H = sum_i pi_i x_i x_i^T + lambda P,

    (the sandwich) where the "meat" M depends on how the samples were drawn (the design):

    - independent rows (``clusters`` and ``strata`` None): M = c sum_i s_i s_i^T, c = n / (n - d - 1)
      (HC1, heteroskedasticity-consistent);
    - ``clusters`` (rows drawn together, e.g. the pairs (z, 1 - z)): M = c sum_g S_g S_g^T with the
      cluster sums S_g = sum_{i in g} s_i, c = G / (G - 1) (n - 1) / (n - d - 1) (CR1, G clusters);
    - ``strata`` (a fixed share of rows per stratum): the scores are centred within each stratum h
      (label >= 0; -1: not centred), s_i - s_bar_h, each stratum scaled by n_h / (n_h - 1), and
      c = (n - 1) / (n - d - 1): the between-strata part of the spread is not sampling error.

    It estimates the spread of b_hat around the value LIME converges to
    (:func:`limetheory.theory.exact_limit_covariance` gives it exactly for small d). Only the diagonal is
    formed: with the rows a = H^{-1} S, Var(b_j) = sum (a_j)^2, shared by every class; independent
    rows are done over blocks of samples, so the work memory does not grow with n
    (:func:`sandwich_covariance` forms the whole matrix). H^{-1} is applied through a Cholesky
    factorisation, with one BLAS thread (:func:`limetheory.threads.single_blas_thread`).

    Parameters
    ----------
    z : (n, d) 0/1 features;  weights : (n,) pi_i;  residuals : (n,) or (n, k) y - surrogate.
    ridge : lambda >= 0, as in the fit.
    clusters, strata : (n,) integer labels, or None (see above).

    Returns
    -------
    (k, d + 1) standard errors, intercept first; ``inf`` when n <= d + 1 (no degrees of freedom)
    or when the samples do not identify every coefficient (H singular to 1e-12).
    """
    return np.sqrt(_sandwich(z, weights, residuals, ridge, full=False, clusters=clusters, strata=strata))


def sandwich_df(n_rows: int, n_params: int, *, clusters=None, strata=None) -> float:
    """Degrees of freedom of a sandwich variance estimate, for Student's t intervals.

    Independent rows: ``n_rows - n_params`` (the residual degrees of freedom); clusters (rows drawn
    together, e.g. pairs; their labels): ``G - 1`` for G clusters (the usual reference for CR1), the
    independent count when every cluster is one row; strata (labels, -1: none) take one more
    degree of freedom each beyond the first (their means are removed). 0 when nothing is left
    (:meth:`limetheory.Explanation.interval_quantile` is then infinite).
    """
    n_rows, n_params = int(n_rows), int(n_params)
    units = n_rows if clusters is None else int(np.unique(np.asarray(clusters)).size)
    df = n_rows - n_params if units == n_rows else units - 1
    if strata is not None:
        labels = np.asarray(strata)
        df -= max(int(np.unique(labels[labels >= 0]).size) - 1, 0)
    return float(max(df, 0))


def sandwich_covariance(z, weights, residuals, ridge: float = 1.0, *, clusters=None, strata=None) -> np.ndarray:
    """The whole sandwich covariance of :func:`sandwich_standard_errors`, one matrix per class.

    Cov(b_hat) ~ c sum_u a_u a_u^T with a_u = H^{-1} S_u (S_u the scores of a row, a cluster's sum or
    a stratum-centred row); its diagonal is the square of :func:`sandwich_standard_errors`. The
    off-diagonal terms give the spread of differences b_i - b_j (Var = C_ii + C_jj - 2 C_ij), which
    :mod:`limetheory.stopping` compares. Work: O(n d^2) per class, memory O(d^2) per class.

    Returns
    -------
    (k, d + 1, d + 1), intercept first; all ``inf`` in the cases where the standard errors are.
    """
    return _sandwich(z, weights, residuals, ridge, full=True, clusters=clusters, strata=strata)


#: H is singular (the samples do not identify every coefficient) when lambda_min(H) <= SINGULAR lambda_max(H).
SINGULAR = 1e-12


def hessian(z, weights, ridge: float) -> np.ndarray:
    """H = sum_i w_i x_i x_i^T + lambda P with x_i = (1, z_i), P = diag(0, 1, ..., 1), over blocks of rows."""
    z = np.asarray(z)
    w = np.asarray(weights, dtype=np.float64)
    n, d = z.shape
    rows = max(1, _SANDWICH_CHUNK_BYTES // (8 * (d + 1)))
    out = np.zeros((d + 1, d + 1))
    for start in range(0, n, rows):
        x = _design_rows(z, start, rows)
        out += x.T @ (x * w[start : start + rows, None])
    out[np.arange(1, d + 1), np.arange(1, d + 1)] += ridge
    return out


def _design_rows(z, start, rows):
    block = z[start : start + rows]
    return np.hstack([np.ones((block.shape[0], 1)), block.astype(np.float64)])


#: H is taken as singular when its reciprocal condition number (1-norm estimate) is below this.
SINGULAR_RCOND = 1e-12


def cholesky_or_none(matrix):
    """``scipy.linalg.cho_factor`` of a symmetric positive semi-definite matrix, or None when it is
    singular to ``SINGULAR_RCOND`` (the factorisation fails, or LAPACK's condition estimate says so)."""
    try:
        factor = scipy.linalg.cho_factor(matrix, lower=False, check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return None
    anorm = np.max(np.sum(np.abs(matrix), axis=0))
    rcond, info = scipy.linalg.lapack.dpocon(factor[0], anorm, uplo="U")
    return factor if info == 0 and rcond > SINGULAR_RCOND else None


def _sandwich(z, weights, residuals, ridge: float, full: bool, clusters=None, strata=None) -> np.ndarray:
    """The design's sandwich variances (k, d + 1), or with ``full`` covariances (k, d + 1, d + 1)."""
    z = np.asarray(z)
    w = np.asarray(weights, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    n, d = z.shape
    shape = (r.shape[1], d + 1, d + 1) if full else (r.shape[1], d + 1)
    if n <= d + 1:
        return np.full(shape, np.inf)
    with single_blas_thread():
        factor = cholesky_or_none(hessian(z, w, ridge))
        if factor is None:  # e.g. a superpixel never (or always) off: not identified
            return np.full(shape, np.inf)
        if clusters is None and strata is None:
            return _independent_rows(z, w, r, factor, full, shape) * (n / (n - d - 1))
        return _grouped_rows(z, w, r, factor, full, shape, clusters, strata) * ((n - 1) / (n - d - 1))


def _accumulate(out, a, full, c=None):
    if full:
        out[c] += a.T @ a
    else:
        out[c] += np.einsum("ij,ij->j", a, a)


def _independent_rows(z, w, r, factor, full, shape):
    n, d = z.shape
    rows = max(1, _SANDWICH_CHUNK_BYTES // (8 * (d + 1)))  # memory: a few (rows, d + 1) blocks
    out = np.zeros(shape)
    for start in range(0, n, rows):
        a = scipy.linalg.cho_solve(factor, _design_rows(z, start, rows).T, check_finite=False).T  # X H^{-1}
        g = w[start : start + rows, None] * r[start : start + rows]  # pi_i r_i, (rows, k)
        if full:
            for c in range(r.shape[1]):
                _accumulate(out, a * g[:, c, None], True, c)
        else:
            out += (g**2).T @ a**2
    return out


def _summing_matrix(group_of, n_groups):
    """Sparse (n_groups, n) 0/1 matrix whose product with a (n, p) array sums its rows by group."""
    import scipy.sparse

    n = group_of.shape[0]
    return scipy.sparse.csr_matrix((np.ones(n), (group_of, np.arange(n))), shape=(n_groups, n))


def _grouped_rows(z, w, r, factor, full, shape, clusters, strata):
    """Scores summed within clusters, then centred within strata (module docstring of the formulas)."""
    n, d = z.shape
    x = _design_rows(z, 0, n)
    if clusters is None:
        cluster_of, n_units = np.arange(n), n
    else:
        _, cluster_of = np.unique(np.asarray(clusters), return_inverse=True)
        n_units = int(cluster_of.max()) + 1
    unit_stratum = np.full(n_units, -1, dtype=np.int64)
    if strata is not None:
        unit_stratum[cluster_of] = np.asarray(strata)
    scale = np.ones(n_units) * (n_units / (n_units - 1) if clusters is not None and n_units > 1 else 1.0)
    centred = unit_stratum >= 0
    if centred.any():
        _, stratum_of = np.unique(unit_stratum[centred], return_inverse=True)
        size = np.bincount(stratum_of)
        scale[centred] = np.where(size[stratum_of] > 1, size[stratum_of] / np.maximum(size[stratum_of] - 1, 1), 1.0)
    to_units = _summing_matrix(cluster_of, n_units)
    if centred.any():
        to_strata = _summing_matrix(stratum_of, size.size)
    out = np.zeros(shape)
    for c in range(r.shape[1]):
        scores = to_units @ (x * (w * r[:, c])[:, None])
        if centred.any():
            sums = to_strata @ scores[centred]
            scores[centred] -= (sums / size[:, None])[stratum_of]
        a = scipy.linalg.cho_solve(factor, (scores * np.sqrt(scale)[:, None]).T, check_finite=False).T
        _accumulate(out, a, full, c)
    return out


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


def fit_constrained(z, y, f_zero, f_one, clusters=None, weights=None, fixed=None):
    """KernelSHAP's fit: least squares of y on z with phi_0 = f(0) and sum_j phi_j = f(1) - f(0) imposed.

    minimise sum_i w_i (y_i - f(0) - z_i^T phi)^2 subject to 1^T phi = Delta = f(1) - f(0), solved (as
    shap does) by eliminating phi_d: regress t_i = y_i - f(0) - z_id Delta on u_i = z_i,1..d-1 - z_id
    with weights w_i (1 by default), then phi_d = Delta - sum_{j<d} phi_j. This equals Covert & Lee's
    closed form ``phi = A^-1 b - A^-1 1 (1^T A^-1 b - Delta) / (1^T A^-1 1)`` (A = Z^T W Z,
    b = Z^T W (y - f(0))). The rows z = 0 and z = 1 have u = 0 and t = 0: they carry the
    constraints, not the fit.

    Its covariance is the sandwich of the reduced regression projected onto the constraint,

        Cov(phi_hat) = T B^-1 (sum_c s_c s_c^T) B^-1 T^T,   B = U^T W U,  s_c = sum_{i in c} w_i u_i r_i,
        T = [I_{d-1}; -1^T],

    r the residuals, clusters c the rows drawn together (each row alone by default), each cluster's
    score divided by 1 - h_c, its leverage h_c = sum_{i in c} w_i u_i^T B^-1 u_i (HC3 for single rows,
    CR3 for clusters; exact for the pairs (z, 1 - z), whose two rows have u and -u): the leave-one-
    cluster-out correction, which keeps the intervals near their level at budgets of a few model
    calls per superpixel, where HC1's n / (n - d + 1) undercovers (results/bench_shapley.md).

    ``fixed`` rows (an enumerated part of the design, ``design="enumerated"``) are no draw: they
    contribute no variance. The sum then runs over the clusters of the drawn rows only, with their
    adjusted scores centred (s_c - s_bar: the drawn rows' scores have a non-zero mean, which the
    fixed part's balances), scaled by G / (G - 1). All rows fixed: the covariance is 0 (an exact fit).

    Parameters
    ----------
    z : (n, d) 0/1;  y : (n,) or (n, k) responses;  f_zero, f_one : (k,) or scalars, f(0) and f(1).
    clusters : (n,) ids of the rows drawn together (e.g. pairs z, 1 - z), or None.
    weights : (n,) non-negative regression weights, or None (all 1).
    fixed : (n,) bools, the rows that were not drawn, or None (every row drawn).

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
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    u = z[:, :-1] - z[:, -1:]
    t = y2 - g0 - z[:, -1:] * delta
    root = np.sqrt(w)[:, None]
    head = scipy.linalg.lstsq(u * root, t * root, lapack_driver="gelsd")[0]  # (d - 1, k)
    coef = np.vstack([head, delta - head.sum(axis=0)]).T
    resid = t - u @ head
    inside = (z.sum(axis=1) > 0) & (z.sum(axis=1) < d) & (w > 0)
    drawn = inside if fixed is None else inside & ~np.asarray(fixed, dtype=bool)
    m = int(inside.sum())
    eigval, eigvec = np.linalg.eigh(u.T @ (u * w[:, None]))
    cov = np.full((k, d, d), np.inf)
    if m <= d - 1 or eigval[0] <= 1e-12 * eigval[-1]:
        return coef, cov
    m_s = int(drawn.sum())
    if m_s == 0:
        return coef, np.zeros((k, d, d))
    bread = (eigvec / eigval) @ eigvec.T
    ids = np.arange(n) if clusters is None else np.asarray(clusters)
    ids = np.unique(ids[drawn], return_inverse=True)[1]  # clusters 0..G-1 of the drawn rows that fit
    groups = int(ids.max()) + 1
    leverage = np.bincount(ids, w[drawn] * np.einsum("ij,jk,ik->i", u[drawn], bread, u[drawn]), groups)
    if np.any(leverage >= 1 - 1e-9):  # a cluster that alone fixes a parameter: no leave-one-out spread
        return coef, cov
    centre = m_s < m  # a fixed part: the drawn scores' mean is not 0
    if centre and groups < 2:
        return coef, cov
    scale = groups / (groups - 1) if centre else 1.0
    lift = np.vstack([np.eye(d - 1), -np.ones((1, d - 1))])  # T
    for c in range(k):
        scores = np.zeros((groups, d - 1))
        np.add.at(scores, ids, u[drawn] * (w[drawn] * resid[drawn, c])[:, None])
        scores /= (1 - leverage)[:, None]
        if centre:
            scores -= scores.mean(axis=0)
        half = lift @ bread @ scores.T  # (d, G)
        cov[c] = scale * half @ half.T
    return coef, cov


def constrained_df(z, clusters=None, fixed=None) -> float:
    """Degrees of freedom of :func:`fit_constrained`'s projected sandwich (:func:`sandwich_df`): its
    drawn rows strictly inside the cube (the others carry the constraints or no variance), their
    clusters, and the d - 1 free parameters."""
    z = np.asarray(z)
    sizes = z.sum(axis=1)
    drawn = (sizes > 0) & (sizes < z.shape[1])
    if fixed is not None:
        drawn &= ~np.asarray(fixed, dtype=bool)
    labels = None if clusters is None else np.asarray(clusters)[drawn]
    return sandwich_df(int(drawn.sum()), z.shape[1] - 1, clusters=labels)
