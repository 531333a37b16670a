"""beta^f and LIME's asymptotic covariance around it, exactly, by enumerating {0,1}^d (d <= MAX_EXACT_D)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..kernel import kernel_log
from ..sampling import SAMPLERS
from ..validation import check_choice, check_int, check_kernel_width, renamed_keywords
from ._normalized import ILL_CONDITIONED, Normalized, SingularSigma, beta_normalized, interpolation_limit, normalized
from .enumeration import ResponseTable, all_patterns, check_enumerable_d
from .games import one_off_responses
from .moments import enumerated_sums

__all__ = ["exact_limit", "exact_limit_covariance"]


def _checked(f_of_z, d, kernel_width, batch_size) -> tuple[int, float, int]:
    d, nu = check_enumerable_d(d), check_kernel_width(kernel_width)
    batch_size = check_int(batch_size, "batch_size", 1)
    if not callable(f_of_z):
        raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
    return d, nu, batch_size


def _interpolation(f_of_z: Callable, d: int) -> np.ndarray:
    y = one_off_responses(f_of_z, d)  # rows: 1, then 1 - e_j
    beta = interpolation_limit(y[0], y[1:].T if y.ndim == 2 else y[1:])
    return beta


def _exact_limit(f_of_z: Callable, n: Normalized, batch_size: int) -> np.ndarray:
    g0, g, ref, k_out, _ = enumerated_sums(f_of_z, n.d, n.nu, batch_size, center=True)
    beta = beta_normalized(n, g0, g.T)  # (k, d + 1)
    beta[:, 0] += ref
    return beta[0] if k_out == -1 else beta


@renamed_keywords(nu="kernel_width")
def exact_limit(f_of_z: Callable, d: int, kernel_width: float, *, batch_size: int = 1 << 15) -> np.ndarray:
    """The exact limit explanation beta^f of any f(z), enumerating {0,1}^d (d <= MAX_EXACT_D).

    ``beta^f = Sigma^{-1} E[pi Z f(z)]``; (d+1,) for a scalar f, (k, d+1) for an (m, k) output;
    intercept first. The ground truth any empirical LIME run converges to (ridge = 0).

    f is centred on f(1) (the unperturbed image) before the moments are summed and f(1) is added
    back to the intercept (the limit of a constant c is exactly (c, 0, ..., 0)). The moments of
    f - f(1) are small positive-weight sums known to full relative accuracy, so beta^f stays
    accurate for small kernel widths, where the kernel almost only sees z = 1 and beta^f tends to
    the interpolation of f at z = 1 and the d patterns with one zero (beta_j = f(1) - f(1 - e_j));
    where Sigma / alpha_0 is singular in float64 that interpolation is returned (it is then exact
    to far below float64's precision). Each pattern is passed to ``f_of_z`` once (pass a
    :class:`ResponseTable` to reuse the values).

    Raises
    ------
    ValueError
        If d > MAX_EXACT_D.
    TypeError
        If ``f_of_z`` is not callable or returns non-real values.
    """
    d, nu, batch_size = _checked(f_of_z, d, kernel_width, batch_size)
    try:
        n = normalized(d, nu)
    except SingularSigma:  # the kernel sees only z = 1 and the z with one zero
        return _interpolation(f_of_z, d)
    return _exact_limit(f_of_z, n, batch_size)


def _sandwich(n: Normalized, meat: np.ndarray) -> np.ndarray:
    """Sigma_n^{-1} M Sigma_n^{-1} for each (d+1, d+1) M in ``meat`` (k, d+1, d+1)."""
    half = beta_normalized(n, meat[..., 0], meat[..., 1:])  # rows of M Sigma^{-1}
    return beta_normalized(n, half.swapaxes(-1, -2)[..., 0], half.swapaxes(-1, -2)[..., 1:])


@renamed_keywords(nu="kernel_width")
def exact_limit_covariance(f_of_z: Callable, d: int, kernel_width: float, *, sampler: str = "bernoulli",
                           batch_size: int = 1 << 15) -> np.ndarray:
    """The exact asymptotic covariance V of LIME's estimate around beta^f, by enumerating {0,1}^d.

    Empirical LIME with ridge = 0 solves sum_i w_i x_i (f(z_i) - x_i^T b) = 0, x = (1, z), so
    sqrt(n) (beta_hat_n - beta^f) -> N(0, V) with the sandwich

        V = H^{-1} M H^{-1},   H = E[pi x x^T] = Sigma,   r = f - x^T beta^f,
        M = E[pi^2 r^2 x x^T]                    (sampler="bernoulli": z ~ Bernoulli(1/2)^d, w = pi),
        M = alpha_0 E[pi r^2 x x^T]              (sampler="weighted": z ~ pi / alpha_0, w = 1),

    all computed for the kernel pi / alpha_0 (V does not change when pi is scaled), H^{-1} in the
    closed form of :func:`sigma`. lime's ridge = 1 only adds a bias of order 1/n (:func:`ridge_bias`).

    Parameters
    ----------
    f_of_z : callable
        Takes an (m, d) uint8 array of 0/1 and returns (m,) or (m, k) real values. It is evaluated
        once on every pattern (a :class:`ResponseTable` is built, or used as given).
    d : int in 1..MAX_EXACT_D
        Number of superpixels.
    kernel_width : float > 0
        The kernel width nu (formerly ``nu``).
    sampler : {"bernoulli", "weighted"}
        How LIME draws z (:data:`limetheory.sampling.SAMPLERS`).
    batch_size : int >= 1
        Patterns per call of ``f_of_z``.

    Returns
    -------
    (d+1, d+1) array for a scalar f, (k, d+1, d+1) for an (m, k) output; intercept first.
    ``sqrt(trace(V[1:, 1:]) / n)`` is the root-mean-square of ``||beta_hat_n - beta^f||_2``, the
    constant in front of the paper's n^(-1/2) rate.

    Raises
    ------
    ValueError
        If d > MAX_EXACT_D, or the kernel width is so small for d that Sigma / alpha_0 has a pivot
        below 1e-8 (V then grows like 1 / pivot and cannot be computed to any useful accuracy).
    """
    sampler = check_choice(sampler, "sampler", SAMPLERS)
    d, nu, batch_size = _checked(f_of_z, d, kernel_width, batch_size)
    n = normalized(d, nu)
    if n.pivot < ILL_CONDITIONED:
        raise ValueError(f"kernel_width = {n.nu:g} is too small for d = {d}: LIME's covariance grows like "
                         f"1 / {n.pivot:.2g} and is not computable in float64; use a larger kernel_width")
    table = ResponseTable.from_function(f_of_z, d, batch_size=batch_size)  # f once per pattern
    beta = _exact_limit(table, n, batch_size)
    beta2 = np.atleast_2d(beta)  # (k, d + 1)
    pi_of_k = np.exp(kernel_log(np.arange(d + 1), d, n.nu) - n.log_alpha0)  # pi / alpha_0 by number of ones
    prob = 0.5**d
    meat = np.zeros((beta2.shape[0], d + 1, d + 1))
    values = table.values if table.values.ndim == 2 else table.values[:, None]
    total = 1 << d
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        z = all_patterns(d, start, stop)
        x = np.hstack([np.ones((z.shape[0], 1)), z.astype(np.float64)])
        pi = pi_of_k[z.sum(axis=1)]
        resid = values[start:stop] - x @ beta2.T  # (m, k)
        meat_weight = prob * pi**2 if sampler == "bernoulli" else prob * pi  # law x weight^2
        for k in range(beta2.shape[0]):
            meat[k] += x.T @ (x * (meat_weight * resid[:, k] ** 2)[:, None])
    cov = _sandwich(n, meat)
    return cov[0] if np.ndim(beta) == 1 else cov
