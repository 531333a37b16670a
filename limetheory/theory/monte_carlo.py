"""A Monte-Carlo estimate of beta^f for large d, with its standard errors (exact Sigma^{-1})."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..kernel import check_d, kernel_log
from ..sampling import SAMPLERS, weighted_samples
from ..validation import as_generator, check_bool, check_choice, check_int, check_kernel_width, renamed_keywords
from ._normalized import ILL_CONDITIONED, Normalized, beta_normalized, normalized
from .enumeration import call_f

__all__ = ["monte_carlo_limit"]

#: Largest number of samples monte_carlo_limit accepts (it loops over them batch by batch).
MAX_SAMPLES = 10**10


def _per_sample_spread(nrm: Normalized, z: np.ndarray, wy: np.ndarray, d: int) -> tuple:
    """(count, mean, M2) over the rows of u_i = Sigma_n^{-1} (wy_i, z_i wy_i), per column of wy.

    Returned as (m, (k, d+1), (k, d+1)); u is formed in blocks of at most 16 MiB.
    """
    rows = max(1, (2 * 2**20) // (d + 1))
    out = None
    for start in range(0, z.shape[0], rows):
        zb = z[start : start + rows].astype(np.float64)
        wyb = wy[start : start + rows]  # (m, k)
        u = beta_normalized(nrm, wyb.T, wyb.T[..., None] * zb[None])  # (k, m, d + 1)
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


@renamed_keywords(nu="kernel_width", method="sampler")
def monte_carlo_limit(
    f_of_z: Callable,
    d: int,
    kernel_width: float,
    n_samples: int,
    *,
    seed=None,
    sampler: str = "weighted",
    batch_size: int = 1 << 14,
    return_se: bool = False,
):
    """A Monte-Carlo estimate of beta^f = Sigma^{-1} E[pi Z f] for large d (exact Sigma^{-1}).

    With Z = (1, z), ``c = f(1)`` (the unperturbed image) and i.i.d. z_i,

        beta_hat = Sigma_n^{-1} (1/n) sum_i w_i Z_i (f(z_i) - c) + (c, 0, ..., 0),

    where Sigma_n = Sigma / alpha_0 (closed form, :func:`sigma`) and ``w_i = 1`` for z_i drawn
    from the pi-weighted law (``sampler="weighted"``), ``w_i = pi(z_i) / alpha_0`` for z_i ~
    Bernoulli(1/2)^d (``sampler="bernoulli"``, as LIME draws). Centring on f(1) changes nothing in
    expectation (the limit of a constant c is exactly (c, 0, ..., 0)) but removes f's mean level
    from the noise of every coefficient. Error O(n_samples^{-1/2}).

    Parameters
    ----------
    f_of_z : callable
        Takes an (m, d) uint8 array of 0/1, returns (m,) or (m, k) real values.
    d : int >= 1
        Number of superpixels.
    kernel_width : float > 0
        The kernel width (formerly ``nu``).
    n_samples : int >= 1
        Number of samples z_i.
    seed : None, int or numpy Generator
        The random stream.
    sampler : {"weighted", "bernoulli"}
        How z is drawn (formerly ``method``); "weighted" has no weight variance and is the better
        choice for small kernel widths.
    batch_size : int >= 1
        Samples per call of ``f_of_z``.
    return_se : bool
        Also return the standard errors.

    Returns
    -------
    beta : (d+1,) array, or (k, d+1) for an (m, k) output; intercept first.
    se : same shape, only with ``return_se=True``
        The estimate is the mean of the i.i.d. vectors u_i = Sigma_n^{-1} w_i Z_i (f(z_i) - c), so
        ``se = sd(u) / sqrt(n_samples)`` (sample standard deviation, accumulated batch by batch with
        Chan's pairwise update in blocks of at most 16 MiB); infinite for n_samples = 1.

    Raises
    ------
    ValueError
        For bad arguments, or a kernel width so small for d that Sigma / alpha_0 has a pivot below
        1e-8 (almost every sample is then z = 1 and the estimate would carry no information: use
        :func:`exact_limit`, which handles that case).
    """
    d, kernel_width = check_d(d), check_kernel_width(kernel_width)
    n_samples = check_int(n_samples, "n_samples", 1, MAX_SAMPLES)
    sampler = check_choice(sampler, "sampler", SAMPLERS)
    batch_size = check_int(batch_size, "batch_size", 1)
    return_se = check_bool(return_se, "return_se")
    if not callable(f_of_z):
        raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
    rng = as_generator(seed)
    nrm = normalized(d, kernel_width)
    if nrm.pivot < ILL_CONDITIONED:
        raise ValueError(f"kernel_width = {kernel_width:g} is too small for d = {d} to estimate by Monte Carlo "
                         "(the kernel weighs almost only z = 1); use exact_limit or a larger kernel_width")
    sums0 = sums = spread = None
    y_ref = call_f(f_of_z, np.ones((1, d), dtype=np.uint8), None)[0]  # f(xi): () or (k,)
    k_out = y_ref.shape[0] if np.ndim(y_ref) == 1 else -1
    for start in range(0, n_samples, batch_size):
        m = min(batch_size, n_samples - start)
        if sampler == "weighted":
            z = weighted_samples(m, d, kernel_width, rng, first_row_ones=False)
            w = np.ones(m)
        else:
            z = rng.integers(0, 2, size=(m, d), dtype=np.uint8)
            w = np.exp(kernel_log(z.sum(axis=1), d, kernel_width) - nrm.log_alpha0)  # pi / alpha_0
        y = call_f(f_of_z, z, k_out) - y_ref
        wy = w[:, None] * (y if y.ndim == 2 else y[:, None])
        p0, p = wy.sum(axis=0), z.T.astype(np.float64) @ wy
        sums0 = p0 if sums0 is None else sums0 + p0
        sums = p if sums is None else sums + p
        if return_se:
            spread = _merge_spread(spread, _per_sample_spread(nrm, z, wy, d))
    beta = beta_normalized(nrm, sums0 / n_samples, (sums / n_samples).T)  # (k, d + 1)
    beta[:, 0] += y_ref
    if k_out == -1:
        beta = beta[0]
    if not return_se:
        return beta
    count, _, m2 = spread
    se = np.sqrt(m2 / max(count - 1, 1) / count) if count > 1 else np.full(m2.shape, np.inf)
    return beta, (se[0] if k_out == -1 else se)
