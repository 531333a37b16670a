"""The limit explanation beta^f = Sigma^{-1} Gamma^f, the shape detector's closed form, lime's ridge bias."""
from __future__ import annotations

import numpy as np

from ..kernel import check_d, log_product_moment, log_weighted_law_zeros
from ..validation import check_kernel_width, check_real, check_ridge, renamed_keywords
from ._normalized import (Normalized, SingularSigma, beta_normalized, interpolation_limit, normalized,
                          warn_if_ill_conditioned)

__all__ = ["limit_explanation", "product_limit", "ridge_bias"]

_LOG_HUGE = float(np.log(np.finfo(np.float64).max))


def _as_moments(d: int, e_pi_f, e_pi_z_f) -> tuple[np.ndarray, np.ndarray]:
    g0, g = np.asarray(e_pi_f), np.asarray(e_pi_z_f)
    for name, arr in (("e_pi_f", g0), ("e_pi_z_f", g)):
        if arr.dtype == bool or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    g0, g = g0.astype(np.float64), g.astype(np.float64)
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


@renamed_keywords(nu="kernel_width")
def limit_explanation(d: int, kernel_width: float, e_pi_f, e_pi_z_f, log_scale: float = 0.0) -> np.ndarray:
    """beta^f = Sigma^{-1} Gamma^f, the limit of LIME's coefficients (ridge = 0), intercept first.

    ``beta_j = (sigma_1 E[pi f] + sigma_2 E[pi z_j f] + sigma_3 sum_{k != j} E[pi z_k f]) / c_d``,
    ``beta_0 = (sigma_0 E[pi f] + sigma_1 sum_k E[pi z_k f]) / c_d`` (docs/theory/limit.md).

    Parameters
    ----------
    d, kernel_width : int, float
        Number of superpixels and kernel width nu.
    e_pi_f : float or (k,) array
        E[pi f(x(z))] (one value per explained class).
    e_pi_z_f : (d,) or (k, d) array
        E[pi z_j f(x(z))].
    log_scale : float
        The moments are those of the kernel ``pi * exp(-log_scale)`` (0: the plain kernel). beta
        does not depend on the scale of pi, only on this being consistent. A :class:`Moments`
        carries its own: ``limit_explanation(d, kernel_width, *moments)``.

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
    ~1e-16 / D, and a ``RuntimeWarning`` says so (:func:`exact_limit` avoids this by centring f
    on f(1)); below 1e-300 Sigma is singular in float64 and a ``ValueError`` names kernel_width.
    """
    n = normalized(d, kernel_width)
    g0, g = _as_moments(n.d, e_pi_f, e_pi_z_f)
    factor = check_real(log_scale, "log_scale") - n.log_alpha0
    warn_if_ill_conditioned(n)
    return beta_normalized(n, _rescale(g0, factor), _rescale(g, factor))


def _product_limit_general(n: Normalized, mask: np.ndarray, off: np.ndarray) -> np.ndarray:
    d, kernel_width = n.d, n.kernel_width
    p, r = int(mask.sum()), int(off.sum())
    a_pr = np.exp(log_product_moment(d, kernel_width, p, r) - n.log_alpha0)
    a_p1r = np.exp(log_product_moment(d, kernel_width, p + 1, r) - n.log_alpha0) if p + r < d else 0.0
    g = np.where(mask, a_pr, np.where(off, 0.0, a_p1r))
    # f(1) = 0 when B is not empty: the moments are those of a function vanishing at z = 1, each a
    # positive sum known to full relative accuracy, so no ill-conditioning warning applies (as for
    # exact_limit's centring; checked against mpmath to 2.3e-13 down to pivots of 1e-300)
    return beta_normalized(n, np.asarray(a_pr), g)


def _members_mask(members, d: int, name: str) -> np.ndarray:
    arr = np.asarray(members)
    if arr.size == 0:
        return np.zeros(d, dtype=bool)
    if arr.dtype == bool:
        if arr.shape != (d,):
            raise ValueError(f"{name} must be a boolean mask of shape ({d},), got shape {arr.shape}")
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be a boolean mask or integer indices, got {members!r}")
    if arr.min() < 0 or arr.max() >= d:
        raise ValueError(f"{name} must be indices in 0..{d - 1}, got {members!r}")
    mask = np.zeros(d, dtype=bool)
    mask[arr.astype(np.int64).ravel()] = True
    return mask


@renamed_keywords(nu="kernel_width")
def product_limit(d: int, kernel_width: float, members, absent=()) -> np.ndarray:
    """beta^f for f(z) = prod_{j in E} z_j (the shape detector, docs/theory/closed_forms.md, *Shape detectors*).

    With p = |E|, E[pi f] = alpha_p and E[pi z_j f] = alpha_p for j in E, alpha_{p+1} otherwise,
    and the closed form of docs/theory/closed_forms.md follows. It is evaluated in a form with no 1/c_d amplification:
    by exchangeability ``beta_j = b_out + gap 1[j in E]`` with

        gap   = (alpha_p - alpha_{p+1}) / (alpha_1 - alpha_2)            (two positive sums),
        b_out = Cov_q(h, k) / Var_q(k) - (p/d) gap,    b_in = b_out + gap,
        beta_0 = alpha_p / alpha_0 - (p gap + d b_out) E_q[k] / d,

    where q is the pi-weighted law of the number k of ones (:func:`weighted_law`) and
    h(k) = P(z_E = 1 | k ones) = (k)_p / (d)_p. (For p = d there is no outside and gap = 0.)
    p = 0 (f = 1) and p = 1 (f = z_j, linear) give their exact answers. b_out vanishes for an
    exponential kernel and is small here; its absolute error is ~1e-16 |b_in|. Where Sigma / alpha_0
    is singular in float64 (tiny kernel widths), beta^f is the interpolation at z = 1 and the z
    with one zero (``beta_j = f(1) - f(1 - e_j)``), exact to far below float64's precision.

    Parameters
    ----------
    members : (d,) boolean mask of E, or a sequence of indices in 0..d-1.
    absent : optional mask or indices B disjoint from E, for f(z) = prod_E z_j prod_B (1 - z_j)
        (a shape that only the replacement lights). Then E[pi f] = A(p, r), E[pi z_j f] = A(p, r)
        on E, 0 on B and A(p+1, r) elsewhere, with A(p, r) = 2^{-d} sum_s C(d-p-r, s-r) psi(s/d)
        (s zeros, r of them on B), and beta comes from :func:`limit_explanation`'s formula.
    """
    d, kernel_width = check_d(d), check_kernel_width(kernel_width)
    mask = _members_mask(members, d, "members")
    off = _members_mask(absent, d, "absent")
    if np.any(mask & off):
        raise ValueError("members and absent must be disjoint")
    p = int(mask.sum())
    if not off.any() and p <= 1:  # f = 1 or f = z_j: LIME recovers them exactly
        out = np.zeros(d + 1)
        out[0] = 1.0 - p
        out[1:][mask] = 1.0
        return out
    try:
        n = normalized(d, kernel_width)
    except SingularSigma:  # f(1) and f(1 - e_j) determine beta^f
        f_minus = np.where(off, off.sum() == 1, np.where(mask, 0.0, 1.0 * (not off.any())))
        return interpolation_limit(np.asarray(float(not off.any())), f_minus.astype(np.float64))
    if off.any():
        return _product_limit_general(n, mask, off)
    log_q, log_a0 = log_weighted_law_zeros(d, kernel_width)  # by number of zeros s
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
    a_p = float(np.exp(log_product_moment(d, kernel_width, p) - log_a0))
    gap = float(np.exp(log_product_moment(d, kernel_width, p, 1) - log_a0)) / n.d1 if p < d else 0.0
    b_out = cov / var - (p / d) * gap
    out = np.empty(d + 1)
    out[1:] = np.where(mask, b_out + gap, b_out)
    out[0] = a_p - (p * gap + d * b_out) * n.m1
    return out


@renamed_keywords(nu="kernel_width")
def ridge_bias(d: int, kernel_width: float, beta, ridge: float = 1.0) -> np.ndarray:
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
    n = normalized(d, kernel_width)
    ridge = check_ridge(ridge)
    b = np.asarray(beta, dtype=np.float64)
    if b.shape == (n.d + 1,):
        b = b[1:]
    if b.shape != (n.d,):
        raise ValueError(f"beta must have shape ({n.d + 1},) or ({n.d},), got {b.shape}")
    if n.d == 1:
        solved = b / n.c
    else:
        solved = (b + (n.t / n.c) * b.sum()) / n.d1
    return -ridge * float(np.exp(-n.log_alpha0)) * solved
