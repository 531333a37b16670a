"""beta^f and LIME's asymptotic covariance around it, exactly, by enumerating {0,1}^d (d <= MAX_EXACT_D)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .._binomial import log_half_binom
from ..kernel import check_kernel, kernel_log
from ..sampling import DESIGNS, design_for_sampler
from ..validation import check_bool, check_choice, check_int, renamed_keywords
from ._normalized import ILL_CONDITIONED, Normalized, SingularSigma, beta_normalized, interpolation_limit, normalized
from .enumeration import ResponseTable, all_patterns, check_enumerable_d
from .games import one_off_responses
from .shapley_kernel import shapley_kernel_covariance, shapley_kernel_limit
from .moments import enumerated_sums

__all__ = ["exact_design_traces", "exact_limit", "exact_limit_covariance"]


def _checked(f_of_z, d, kernel_width, batch_size, kernel="lime") -> tuple[int, float, int]:
    kernel, kernel_width = check_kernel(kernel, kernel_width)
    d = check_enumerable_d(d)
    batch_size = check_int(batch_size, "batch_size", 1)
    if not callable(f_of_z):
        raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
    return d, kernel_width, batch_size


def _interpolation(f_of_z: Callable, d: int) -> np.ndarray:
    y = one_off_responses(f_of_z, d)  # rows: 1, then 1 - e_j
    beta = interpolation_limit(y[0], y[1:].T if y.ndim == 2 else y[1:])
    return beta


def _exact_limit(f_of_z: Callable, n: Normalized, batch_size: int) -> np.ndarray:
    g0, g, ref, k_out, _ = enumerated_sums(f_of_z, n.d, n.kernel_width, batch_size, center=True)
    beta = beta_normalized(n, g0, g.T)  # (k, d + 1)
    beta[:, 0] += ref
    return beta[0] if k_out == -1 else beta


@renamed_keywords(nu="kernel_width")
def exact_limit(f_of_z: Callable, d: int, kernel_width: float | None = None, *, batch_size: int = 1 << 15,
                kernel: str = "lime") -> np.ndarray:
    """The exact limit explanation beta^f of any f(z), enumerating {0,1}^d (d <= MAX_EXACT_D).

    ``kernel="shap"``: the limit of KernelSHAP instead (the Shapley kernel, its two constraints
    imposed; kernel_width unused): ``(f(0), Shapley value)``, from the closed form of
    :mod:`limetheory.theory.shapley_kernel`. The rest of this docstring is about LIME's kernel.

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
    d, kernel_width, batch_size = _checked(f_of_z, d, kernel_width, batch_size, kernel)
    if kernel == "shap":
        table = ResponseTable.from_function(f_of_z, d, batch_size=batch_size)
        beta = shapley_kernel_limit(table, batch_size)
        return beta if table.values.ndim == 2 else beta[0]
    try:
        n = normalized(d, kernel_width)
    except SingularSigma:  # the kernel sees only z = 1 and the z with one zero
        return _interpolation(f_of_z, d)
    return _exact_limit(f_of_z, n, batch_size)


def _sandwich(n: Normalized, meat: np.ndarray) -> np.ndarray:
    """Sigma_n^{-1} M Sigma_n^{-1} for each (d+1, d+1) M in ``meat`` (k, d+1, d+1)."""
    half = beta_normalized(n, meat[..., 0], meat[..., 1:])  # rows of M Sigma^{-1}
    return beta_normalized(n, half.swapaxes(-1, -2)[..., 0], half.swapaxes(-1, -2)[..., 1:])


@renamed_keywords(nu="kernel_width")
def exact_limit_covariance(f_of_z: Callable, d: int, kernel_width: float | None = None, *, design: str | None = None,
                           sampler: str | None = None, batch_size: int = 1 << 15, kernel: str = "lime",
                           paired: bool = False) -> np.ndarray:
    """The exact asymptotic covariance V of LIME's estimate around beta^f under a sampling design, by enumeration.

    Empirical LIME with ridge = 0 solves sum_i w_i x_i (f(z_i) - x_i^T b) = 0, x = (1, z), so for n
    model calls sqrt(n) (beta_hat_n - beta^f) -> N(0, V) with the sandwich V = H^{-1} M H^{-1},
    H = E[pi x x^T] = Sigma, and with the scores g(z) = pi(z) r(z) x(z), r = f - x^T beta^f::

        M_iid        = E[g g^T]                           (z ~ Bernoulli(1/2)^d, w = pi),
        M_paired     = E[g g^T] + E[g(z) g(1 - z)^T]      (pairs (z, 1 - z), two calls each),
        M_stratified = E[g g^T] - sum_k P(k) m_k m_k^T,  m_k = E[g | |z| = k]
                                                          (proportional allocation by k = |z|),
        M_weighted   = alpha_0 E[pi r^2 x x^T]            (z ~ pi / alpha_0, w = 1),

    expectations under Bernoulli(1/2)^d (the theory page on designs, docs/theory/designs.md, derives
    them), all computed for the kernel pi / alpha_0 (V does not change when pi is scaled), H^{-1} in
    the closed form of :func:`sigma`. lime's ridge = 1 only adds a bias of order 1/n (:func:`ridge_bias`).

    Parameters
    ----------
    f_of_z : callable
        Takes an (m, d) uint8 array of 0/1 and returns (m,) or (m, k) real values. It is evaluated
        once on every pattern (a :class:`ResponseTable` is built, or used as given).
    d : int in 1..MAX_EXACT_D
        Number of superpixels.
    kernel_width : float > 0
        The kernel width (formerly ``nu``).
    design : {"iid", "paired", "stratified", "weighted"}
        How LIME draws z (:data:`limetheory.sampling.DESIGNS`); default "iid" (lime's).
    sampler : {"bernoulli", "weighted"}
        The former name of ``design`` ("bernoulli" is "iid"); deprecated.
    batch_size : int >= 1
        Patterns per call of ``f_of_z``.
    kernel : {"lime", "shap"}
        ``"shap"``: KernelSHAP's covariance (z from the Shapley kernel's law, equal weights, both
        constraints imposed; kernel_width and sampler unused): ``V = P M P / D^2``, M = E[r^2 z z^T],
        P = I - 1 1^T / d (:mod:`limetheory.theory.shapley_kernel`); the intercept's row and column
        are 0 (f(0) is known exactly).
    paired : bool
        Only with ``kernel="shap"``: samples drawn in pairs z, 1 - z (the covariance per sample).

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
    kernel = check_choice(kernel, "kernel", ("lime", "shap"))
    if check_bool(paired, "paired") and kernel != "shap":
        raise ValueError('paired=True applies to kernel="shap" only')
    if kernel == "shap":
        _checked(f_of_z, d, kernel_width, batch_size, kernel)
        table = ResponseTable.from_function(f_of_z, d, batch_size=batch_size)
        cov = shapley_kernel_covariance(table, paired, batch_size)
        return cov if table.values.ndim == 2 else cov[0]
    design = check_choice(design_for_sampler(design, sampler), "design", DESIGNS)
    return _exact_covariances(f_of_z, d, kernel_width, (design,), batch_size)[design]


def exact_design_traces(f_of_z: Callable, d: int, kernel_width: float, *, batch_size: int = 1 << 15) -> dict:
    """{design: trace of V's coefficient block} for every design, from one enumeration of f.

    The per-call variance of each design (:func:`exact_limit_covariance`), summed over f's outputs:
    n T_best / T_D calls of design D give the error of n calls of the best. Pass
    ``design_choice.choose_design(traces, "exact")`` to ``explain(..., design=...)`` to use the best
    without a pilot.
    """
    covs = _exact_covariances(f_of_z, d, kernel_width, DESIGNS, batch_size)
    return {name: float(np.trace(c.reshape(-1, *c.shape[-2:])[:, 1:, 1:], axis1=1, axis2=2).sum())
            for name, c in covs.items()}


def _exact_covariances(f_of_z: Callable, d: int, kernel_width: float, designs, batch_size: int) -> dict:
    d, kernel_width, batch_size = _checked(f_of_z, d, kernel_width, batch_size)
    n = normalized(d, kernel_width)
    if n.pivot < ILL_CONDITIONED:
        raise ValueError(f"kernel_width = {n.kernel_width:g} is too small for d = {d}: LIME's covariance grows like "
                         f"1 / {n.pivot:.2g} and is not computable in float64; use a larger kernel_width")
    table = ResponseTable.from_function(f_of_z, d, batch_size=batch_size)  # f once per pattern
    beta = _exact_limit(table, n, batch_size)
    meats = _design_meats(table, n, np.atleast_2d(beta), designs, batch_size)
    return {name: (lambda cov: cov[0] if np.ndim(beta) == 1 else cov)(_sandwich(n, meat)) for name, meat in meats.items()}


def _design_meats(table: ResponseTable, n: Normalized, beta2: np.ndarray, designs, batch_size: int) -> dict:
    """The meat M of every design in ``designs`` (see :func:`exact_limit_covariance`), (k, d+1, d+1) each."""
    d = n.d
    pi_of_k = np.exp(kernel_log(np.arange(d + 1), d, n.kernel_width) - n.log_alpha0)  # pi / alpha_0 by number of ones
    prob = 0.5**d
    n_out = beta2.shape[0]
    values = table.values if table.values.ndim == 2 else table.values[:, None]
    total = 1 << d
    shape = (n_out, d + 1, d + 1)
    second = np.zeros(shape)  # E[g g^T]
    weighted = np.zeros(shape)  # E[pi r^2 x x^T]
    cross = np.zeros(shape)  # E[g(z) g(1 - z)^T]
    by_k = np.zeros((n_out, d + 1, d + 1))  # row k: sum over |z| = k of P(z) g(z)

    def scores(z, y):
        x = np.hstack([np.ones((z.shape[0], 1)), z.astype(np.float64)])
        k = z.sum(axis=1, dtype=np.int64)
        return x, k, pi_of_k[k], y - x @ beta2.T  # (m, d+1), (m,), (m,), (m, n_out)

    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        z = all_patterns(d, start, stop)
        x, k, pi, resid = scores(z, values[start:stop])
        if "paired" in designs:  # the complements 1 - z are patterns total - 1 - i
            xc, _, pic, residc = scores(1 - z, values[total - stop : total - start][::-1])
        onehot = np.zeros((z.shape[0], d + 1))
        onehot[np.arange(z.shape[0]), k] = 1.0
        for c in range(n_out):
            g = x * (pi * resid[:, c])[:, None]
            second[c] += prob * (g.T @ g)
            if "weighted" in designs:
                weighted[c] += x.T @ (x * (prob * pi * resid[:, c] ** 2)[:, None])
            if "paired" in designs:
                cross[c] += prob * (g.T @ (xc * (pic * residc[:, c])[:, None]))
            if "stratified" in designs:
                by_k[c] += prob * (onehot.T @ g)
    out = {}
    for name in designs:
        if name == "iid":
            out[name] = second
        elif name == "weighted":
            out[name] = weighted
        elif name == "paired":
            out[name] = second + 0.5 * (cross + cross.swapaxes(1, 2))  # symmetric up to rounding
        else:
            p_k = np.exp(log_half_binom(d))
            between = np.einsum("ckp,ckq->cpq", by_k / p_k[None, :, None], by_k)
            out[name] = second - between
    return out
